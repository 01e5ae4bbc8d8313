package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path"
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

// importedFiles returns the imported dashboards as bundle-relative files for Grafana: the bytes
// of DATA_DIR/dashboards/imported/*.json, which are the bytes import-dashboard copied into the
// running Grafana, so that `up` finds nothing changed after an import.
func importedFiles(s *spec.Spec) map[string][]byte {
	out := map[string][]byte{}
	paths, _ := filepath.Glob(filepath.Join(ImportedDir(s), "*.json"))
	sort.Strings(paths)
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			out[importedBundlePath(filepath.Base(p))] = b
		}
	}
	return out
}

// importedBundlePath is an imported file's path below Grafana's configuration folder.
func importedBundlePath(name string) string { return "dashboards/" + render.ImportedDir + "/" + name }

// importedContainerPath is an imported file's absolute path in the Grafana container.
func importedContainerPath(name string) string {
	return path.Join(render.GrafanaDashDir, render.ImportedDir, name)
}

// grafanaUID and grafanaGID are the owner Grafana's files are copied with (Grafana runs as 472:0).
const grafanaUID, grafanaGID = 472, 0

// ImportOptions control ImportDashboard.
type ImportOptions struct {
	// Progress is told what the import waits for (fetching a URL); it may be nil.
	Progress func(Event)
}

// ImportResult says what ImportDashboard did.
type ImportResult struct {
	UID, Title, File string
	Replaced         int
	// Running: a running Grafana got the file. Loaded: it serves the dashboard now (after a
	// provisioning reload); when Running but not Loaded, Note says when it will.
	Running, Loaded bool
	Note            string
	Missing         []dashimport.PanelMetrics
	ParseErrors     []string
	// SchemaNotes: the dashboard is on an older Grafana schema, which Grafana migrates when it
	// loads it.
	SchemaNotes []string
	Origin      string
}

// ImportDashboard fetches a dashboard (file, URL or grafana.com ID; at most dashimport.MaxSize
// bytes), binds every datasource reference to llmmon's datasource, gives it a stable uid and
// keeps it in DATA_DIR/dashboards/imported, from which every `up` provisions it. When the stack
// runs, it copies the file into Grafana's provisioning folder and has Grafana reload its
// dashboard provisioning, so the dashboard appears at once without a Grafana restart. The file
// is the only path: it is not also pushed through Grafana's dashboard API, which would give
// Grafana two sources for one uid. It reports the panels whose metrics no target exposes.
func (e *Engine) ImportDashboard(ctx context.Context, s *spec.Spec, source string, o ImportOptions) (*ImportResult, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	data, origin, err := dashimport.Fetch(ctx, client, source, dashimport.OnFetch(func(url string, timeout time.Duration) {
		if o.Progress != nil {
			o.Progress(Event{Action: "wait", Detail: fmt.Sprintf("fetching %s (waiting up to %s)", url, timeout)})
		}
	}))
	if errors.Is(err, dashimport.ErrTooLarge) {
		return nil, fmt.Errorf("%w: %w", spec.ErrInvalid, err)
	}
	if err != nil {
		return nil, err
	}
	r, err := dashimport.Resolve(data, dashimport.Options{FolderUID: "llmmon-imported", DatasourceUID: render.DatasourceUID})
	if err != nil {
		return nil, err
	}
	res := &ImportResult{UID: r.UID, Title: r.Title, Replaced: r.Replaced, ParseErrors: r.ParseErrors, SchemaNotes: r.SchemaNotes, Origin: origin}
	builtin, err := e.builtinDashboards(s)
	if err != nil {
		return nil, err
	}
	if title, ok := builtin[r.UID]; ok {
		return nil, fmt.Errorf("%w: the dashboard's uid %s is the uid of llmmon's own dashboard %q; set another \"uid\" in the JSON", spec.ErrInvalid, r.UID, title)
	}
	dir := ImportedDir(s)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	name := r.UID + ".json"
	res.File = filepath.Join(dir, name)
	if old, err := os.ReadFile(res.File); err == nil {
		var d struct {
			Title string `json:"title"`
		}
		if json.Unmarshal(old, &d) == nil && d.Title != r.Title {
			return nil, fmt.Errorf("%w: the imported dashboard %q already uses uid %s; remove it first (llmmon remove-dashboard %s), or set another uid in the JSON", spec.ErrInvalid, d.Title, r.UID, r.UID)
		}
	}
	if err := render.WriteFileAtomic(res.File, r.Dashboard, 0o644); err != nil {
		return nil, err
	}
	g, err := e.runningGrafana(ctx, s)
	if err != nil || g == nil {
		return res, err
	}
	res.Running = true
	// Read only: a missing Grafana password or stack credentials are never created here.
	ep, credErr := e.endpointsFor(s)
	entry := runtime.FileEntry{Path: strings.TrimPrefix(importedContainerPath(name), "/"), Data: r.Dashboard, Mode: 0o644, UID: grafanaUID, GID: grafanaGID}
	if err := e.rt.CopyFiles(ctx, g.ID, "/", []runtime.FileEntry{entry}); err != nil {
		return nil, fmt.Errorf("the dashboard is saved in %s, but copying it into Grafana failed (the next `llmmon up` copies it): %w", res.File, err)
	}
	if res.Loaded, res.Note, err = reloadDashboards(ctx, ep.grafana(), r.UID, true); err != nil {
		return nil, fmt.Errorf("the dashboard is saved in %s and copied into Grafana, but %w", res.File, err)
	}
	if credErr == nil {
		if have, err := ep.prom().MetricNames(ctx); err == nil {
			res.Missing = dashimport.MissingMetrics(r, have)
		}
	}
	return res, nil
}

// runningGrafana returns the stack's running Grafana container, or nil when Docker does not
// answer or Grafana does not run.
func (e *Engine) runningGrafana(ctx context.Context, s *spec.Spec) (*runtime.Container, error) {
	if e.rt == nil {
		return nil, nil
	}
	if _, err := e.rt.Ping(ctx); err != nil {
		return nil, nil
	}
	cs, err := e.rt.ListContainers(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.Labels[runtime.LabelComponent] == "grafana" && c.Running {
			return &c, nil
		}
	}
	return nil, nil
}

// reloadDashboards has Grafana reload its dashboard provisioning and checks that it serves
// (want) or no longer serves (!want) the dashboard uid. A Grafana without the reload API, or one
// whose admin password llmmon does not have, picks the change up by itself within its
// providers' interval: ok is false and note says so.
func reloadDashboards(ctx context.Context, g grafanaAPI, uid string, want bool) (ok bool, note string, err error) {
	if g.password == "" {
		return false, "llmmon has no Grafana admin password (neither grafana.admin_password in the spec nor DATA_DIR/secrets/grafana-admin-password), so it cannot ask Grafana to reload; Grafana reads the change by itself within 10 s", nil
	}
	if err := g.ReloadProvisioning(ctx, "dashboards"); errors.Is(err, ErrNoProvisioningReload) {
		return false, "this Grafana has no provisioning reload API; it reads the change by itself within 10 s", nil
	} else if err != nil {
		return false, "", err
	}
	has, err := g.HasDashboard(ctx, uid)
	if err != nil {
		return false, "", err
	}
	if has != want {
		if want {
			return false, "", fmt.Errorf("grafana did not load it after a reload; `llmmon logs grafana` says why")
		}
		return false, "", fmt.Errorf("grafana still serves it after a reload; `llmmon logs grafana` says why")
	}
	return true, "", nil
}

// builtinDashboards returns llmmon's own dashboards, uid -> title.
func (e *Engine) builtinDashboards(s *spec.Spec) (map[string]string, error) {
	// Only the dashboards are read: placeholder credentials do (nothing is written or run).
	placeholder := render.Credentials{APIPassword: "unused", APIPasswordHash: "unused", RelayToken: "unused"}
	b, err := render.Render(s, e.assets, render.Options{GPU: true, Credentials: placeholder})
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for p, f := range b.Under("grafana/dashboards/" + render.DashboardFolder + "/") {
		if !strings.HasSuffix(p, ".json") {
			continue
		}
		var d struct{ UID, Title string }
		if json.Unmarshal(f.Data, &d) == nil && d.UID != "" {
			out[d.UID] = d.Title
		}
	}
	return out, nil
}

// ImportedDashboard is one dashboard kept in DATA_DIR/dashboards/imported.
type ImportedDashboard struct {
	UID   string `json:"uid"`
	Title string `json:"title"`
	File  string `json:"file"`
	Size  int64  `json:"size"`
}

// Dashboards lists the imported dashboards, sorted by title then uid. A file that is not a
// dashboard is listed with an empty uid and title.
func (e *Engine) Dashboards(s *spec.Spec) ([]ImportedDashboard, error) {
	paths, err := filepath.Glob(filepath.Join(ImportedDir(s), "*.json"))
	if err != nil {
		return nil, err
	}
	var out []ImportedDashboard
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		d := ImportedDashboard{File: p, Size: st.Size()}
		if b, err := os.ReadFile(p); err == nil {
			var m struct{ UID, Title string }
			if json.Unmarshal(b, &m) == nil {
				d.UID, d.Title = m.UID, m.Title
			}
		}
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Title != out[j].Title {
			return out[i].Title < out[j].Title
		}
		return out[i].UID < out[j].UID
	})
	return out, nil
}

// RemoveResult says what RemoveDashboard did.
type RemoveResult struct {
	ImportedDashboard
	// Running: the running Grafana's copy was deleted; Removed: Grafana no longer serves the
	// dashboard. When Running but not Removed, Note says when it will stop.
	Running, Removed bool
	Note             string
}

// RemoveDashboard removes an imported dashboard, named by its uid, its title or its file (the
// base name, with or without .json, or the path), from DATA_DIR and, when the stack runs, from
// Grafana: its file is deleted in the container and Grafana reloads its dashboard provisioning
// (the imported dashboards' provider has disableDeletion: false, so a dashboard whose file is
// gone is deleted). An unknown name, or one of llmmon's own dashboards, is spec.ErrInvalid with
// the list of imported dashboards.
func (e *Engine) RemoveDashboard(ctx context.Context, s *spec.Spec, name string) (*RemoveResult, error) {
	list, err := e.Dashboards(s)
	if err != nil {
		return nil, err
	}
	d, err := pickDashboard(list, name)
	if err != nil {
		if builtin, berr := e.builtinDashboards(s); berr == nil {
			for uid, title := range builtin {
				if name == uid || name == title {
					return nil, fmt.Errorf("%w: %q is one of llmmon's own dashboards, which come with llmmon and cannot be removed; %s", spec.ErrInvalid, name, importedList(list))
				}
			}
		}
		return nil, err
	}
	res := &RemoveResult{ImportedDashboard: d}
	if err := os.Remove(d.File); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove %s: %w", d.File, err)
	}
	g, err := e.runningGrafana(ctx, s)
	if err != nil || g == nil {
		return res, err
	}
	if err := e.rt.RemoveFiles(ctx, g.ID, []string{importedContainerPath(filepath.Base(d.File))}); errors.Is(err, runtime.ErrNoRemove) {
		res.Note = "the Grafana image has no rm command, so its copy stays until Grafana is recreated (llmmon down && llmmon up)"
		return res, nil
	} else if err != nil {
		return nil, fmt.Errorf("%s is removed from %s, but deleting Grafana's copy failed (llmmon down && llmmon up removes it): %w", d.Title, ImportedDir(s), err)
	}
	res.Running = true
	if d.UID == "" {
		return res, nil
	}
	ep, _ := e.endpointsFor(s) // read only; Grafana's password is all it needs
	if res.Removed, res.Note, err = reloadDashboards(ctx, ep.grafana(), d.UID, false); err != nil {
		return nil, fmt.Errorf("%s is removed from %s and from Grafana's files, but %w", d.Title, ImportedDir(s), err)
	}
	return res, nil
}

// pickDashboard finds name among the imported dashboards: a uid, a file (base name with or
// without .json, or the path) or a title, in that order of precedence.
func pickDashboard(list []ImportedDashboard, name string) (ImportedDashboard, error) {
	match := func(f func(ImportedDashboard) bool) []ImportedDashboard {
		var out []ImportedDashboard
		for _, d := range list {
			if f(d) {
				out = append(out, d)
			}
		}
		return out
	}
	abs, _ := filepath.Abs(name)
	for _, f := range []func(ImportedDashboard) bool{
		func(d ImportedDashboard) bool { return d.UID != "" && d.UID == name },
		func(d ImportedDashboard) bool {
			base := filepath.Base(d.File)
			return name == base || name+".json" == base || abs == d.File
		},
		func(d ImportedDashboard) bool { return d.Title != "" && d.Title == name },
	} {
		switch m := match(f); len(m) {
		case 0:
			continue
		case 1:
			return m[0], nil
		default:
			uids := make([]string, len(m))
			for i, d := range m {
				uids[i] = d.UID
			}
			return ImportedDashboard{}, fmt.Errorf("%w: %d imported dashboards are called %q (uids %s); name one by its uid", spec.ErrInvalid, len(m), name, strings.Join(uids, ", "))
		}
	}
	return ImportedDashboard{}, fmt.Errorf("%w: no imported dashboard has the uid, title or file %q; %s", spec.ErrInvalid, name, importedList(list))
}

// importedList names the imported dashboards for an error message.
func importedList(list []ImportedDashboard) string {
	if len(list) == 0 {
		return "no dashboard is imported (llmmon import-dashboard adds one)"
	}
	lines := make([]string, len(list))
	for i, d := range list {
		lines[i] = fmt.Sprintf("  %s  %q  (%s)", d.UID, d.Title, filepath.Base(d.File))
	}
	return "the imported dashboards are (llmmon dashboards lists them):\n" + strings.Join(lines, "\n")
}
