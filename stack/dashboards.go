package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/dashimport"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/spec"
)

// ImportedDir is where imported dashboards are kept (below the data directory); `up` copies
// them into Grafana's provisioning folder, so they survive restarts and upgrades.
func ImportedDir(s *spec.Spec) string {
	return filepath.Join(s.DataDir, "dashboards", render.ImportedDir)
}

// importedFiles returns the imported dashboards as bundle-relative files for Grafana.
func importedFiles(s *spec.Spec) map[string][]byte {
	out := map[string][]byte{}
	paths, _ := filepath.Glob(filepath.Join(ImportedDir(s), "*.json"))
	sort.Strings(paths)
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			out["dashboards/"+render.ImportedDir+"/"+filepath.Base(p)] = b
		}
	}
	return out
}

// ImportOptions control ImportDashboard.
type ImportOptions struct {
	// Folder is the Grafana folder title (default "Imported").
	Folder string
}

// ImportResult says what ImportDashboard did.
type ImportResult struct {
	UID, Title, File string
	Replaced         int
	Pushed           bool // sent to the running Grafana through its API
	Missing          []dashimport.PanelMetrics
	ParseErrors      []string
	Origin           string
}

// ImportDashboard fetches a dashboard (file, URL or grafana.com ID), binds every datasource
// reference to llmmon's datasource, gives it a stable uid, keeps it in the data directory (so it
// survives restarts and `up`) and, when the stack runs, copies it into Grafana and pushes it
// through Grafana's HTTP API at once. It reports the panels whose metrics no target exposes.
func (e *Engine) ImportDashboard(ctx context.Context, s *spec.Spec, source string, o ImportOptions) (*ImportResult, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	data, origin, err := dashimport.Fetch(ctx, client, source)
	if err != nil {
		return nil, err
	}
	r, err := dashimport.Resolve(data, dashimport.Options{FolderUID: "llmmon-imported", DatasourceUID: render.DatasourceUID})
	if err != nil {
		return nil, err
	}
	res := &ImportResult{UID: r.UID, Title: r.Title, Replaced: r.Replaced, ParseErrors: r.ParseErrors, Origin: origin}
	dir := ImportedDir(s)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	res.File = filepath.Join(dir, r.UID+".json")
	if old, err := os.ReadFile(res.File); err == nil {
		var d struct {
			Title string `json:"title"`
		}
		if json.Unmarshal(old, &d) == nil && d.Title != r.Title {
			return nil, fmt.Errorf("%w: the imported dashboard %q already uses uid %s; remove %s first, or set another uid in the JSON", spec.ErrInvalid, d.Title, r.UID, res.File)
		}
	}
	if err := render.WriteFileAtomic(res.File, r.Dashboard, 0o644); err != nil {
		return nil, err
	}
	if e.rt == nil {
		return res, nil
	}
	if _, err := e.rt.Ping(ctx); err != nil {
		return res, nil
	}
	cs, err := e.rt.ListContainers(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.Labels[runtime.LabelComponent] != "grafana" || !c.Running {
			continue
		}
		uid, gid := 472, 0
		if err := e.rt.CopyFiles(ctx, c.ID, "/", []runtime.FileEntry{{Path: strings.TrimPrefix(render.GrafanaDashDir, "/") + "/" + render.ImportedDir + "/" + r.UID + ".json", Data: r.Dashboard, Mode: 0o644, UID: uid, GID: gid}}); err != nil {
			return nil, err
		}
		pw, _, err := grafanaPassword(s)
		if err != nil {
			return nil, err
		}
		folder := o.Folder
		if folder == "" {
			folder = "Imported"
		}
		if err := dashimport.Push(ctx, e.http, render.GrafanaURL(s), s.Grafana.AdminUser, pw, r, "llmmon-imported", folder); err != nil {
			return nil, fmt.Errorf("the dashboard is saved in %s, but Grafana refused it: %w", res.File, err)
		}
		res.Pushed = true
	}
	if have, err := e.metricNames(ctx, s); err == nil {
		res.Missing = dashimport.MissingMetrics(r, have)
	}
	return res, nil
}

// metricNames returns the metric names the running Prometheus has.
func (e *Engine) metricNames(ctx context.Context, s *spec.Spec) (map[string]bool, error) {
	ep, err := endpointsFor(s)
	if err != nil {
		return nil, err
	}
	code, b, err := e.get(ctx, ep.prom(), "/api/v1/label/__name__/values")
	if err != nil || code != http.StatusOK {
		return nil, fmt.Errorf("prometheus does not answer")
	}
	var r struct {
		Data []string `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, n := range r.Data {
		out[n] = true
	}
	return out, nil
}
