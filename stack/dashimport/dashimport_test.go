package dashimport_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/dashimport"
)

var validUID = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`)

func fixture(t *testing.T, parts ...string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(append([]string{testenv.Fixtures(t)}, parts...)...))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func isLLMMonDatasource(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 2 && m["type"] == "prometheus" && m["uid"] == "llmmon-prometheus"
}

// isGrafanaBuiltin: Grafana's own datasources, which Resolve must leave alone. Server-side
// expressions (__expr__, used by one alert query of the TGI dashboard) are one of them.
func isGrafanaBuiltin(v any) bool {
	switch t := v.(type) {
	case string:
		return t == "-- Grafana --" || t == "-- Dashboard --" || t == "-- Mixed --"
	case map[string]any:
		switch t["type"] {
		case "grafana", "__expr__":
			return true
		case "datasource":
			return t["uid"] == "grafana" || t["uid"] == "-- Dashboard --" || t["uid"] == "-- Mixed --"
		}
	}
	return false
}

// datasources returns every "datasource" value anywhere in v.
func datasources(v any) []any {
	var out []any
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if k == "datasource" {
				out = append(out, x)
				continue
			}
			out = append(out, datasources(x)...)
		}
	case []any:
		for _, x := range t {
			out = append(out, datasources(x)...)
		}
	}
	return out
}

func TestResolvePublishedDashboards(t *testing.T) {
	for _, tc := range []struct {
		file, title, uid string
		dsVars           []string // template variables of type datasource
		builtins         int      // Grafana built-in datasource references left alone
	}{
		// vLLM's example: panels use {"uid":"${DS_PROMETHEUS}"}, a datasource variable named
		// DS_PROMETHEUS (it has no __inputs).
		{"vllm-grafana.json", "vLLM", "b281712d-8bff-41ef-9f3f-71ad43c05e9b", []string{"DS_PROMETHEUS"}, 1},
		{"vllm-k8s-grafana-dashboard.json", "vLLM Fleet - Qwen3 235B (40 Replicas)", "vllm-fleet-qwen3-235b", []string{"DS_PROMETHEUS"}, 1},
		// NVIDIA's: string references "$datasource" to a datasource variable (Grafana 6 era).
		{"nvidia-dcgm-exporter.json", "NVIDIA DCGM Exporter Dashboard", "Oxed_c6Wz", []string{"datasource"}, 1},
		{"node-exporter-full.json", "Node Exporter Full", "rYdddlPWk", []string{"ds_prometheus"}, 1},
		// TGI's: an __inputs datasource whose name has spaces; one server-side expression.
		{"tgi-grafana.json", "Text Generation Inference", "RHSk7EL4kdqsd", nil, 2},
		// LMDeploy's copies vLLM's, uid included.
		{"lmdeploy-grafana.json", "LMDeploy", "b281712d-8bff-41ef-9f3f-71ad43c05e9b", []string{"DS_PROMETHEUS"}, 1},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := fixture(t, "dashboards", tc.file)
			r, err := dashimport.Resolve(data, dashimport.Options{FolderUID: "llmmon-imported"})
			if err != nil {
				t.Fatal(err)
			}
			for _, bad := range []string{"${DS_", "$DS_"} {
				if bytes.Contains(r.Dashboard, []byte(bad)) {
					t.Errorf("%q left in the resolved dashboard", bad)
				}
			}
			if r.Title != tc.title || r.UID != tc.uid || !validUID.MatchString(r.UID) {
				t.Errorf("title %q uid %q, want %q %q", r.Title, r.UID, tc.title, tc.uid)
			}
			var d map[string]any
			if err := json.Unmarshal(r.Dashboard, &d); err != nil {
				t.Fatal(err)
			}
			if d["uid"] != r.UID || d["title"] != tc.title {
				t.Errorf("JSON uid %v title %v", d["uid"], d["title"])
			}
			if id, ok := d["id"]; !ok || id != nil {
				t.Errorf("id = %v, want null", id)
			}
			for _, k := range []string{"__inputs", "__requires", "__elements"} {
				if _, ok := d[k]; ok {
					t.Errorf("%s kept", k)
				}
			}
			ours, builtins := 0, 0
			for _, ds := range datasources(d) {
				switch {
				case isLLMMonDatasource(ds):
					ours++
				case isGrafanaBuiltin(ds):
					builtins++
				default:
					t.Errorf("datasource %v is neither llmmon's nor a Grafana built-in", ds)
				}
			}
			if ours == 0 || builtins != tc.builtins {
				t.Errorf("%d references to llmmon's datasource, %d built-in (want %d)", ours, builtins, tc.builtins)
			}
			if r.Replaced < ours {
				t.Errorf("Replaced = %d, fewer than the %d rewritten references", r.Replaced, ours)
			}
			var vars []string
			for _, v := range d["templating"].(map[string]any)["list"].([]any) {
				v := v.(map[string]any)
				if v["type"] != "datasource" {
					continue
				}
				vars = append(vars, v["name"].(string))
				want := map[string]any{"text": "Prometheus (llmmon)", "value": "llmmon-prometheus"}
				if !reflect.DeepEqual(v["current"], want) {
					t.Errorf("variable %v current = %v", v["name"], v["current"])
				}
			}
			if !reflect.DeepEqual(vars, tc.dsVars) {
				t.Errorf("datasource variables %v, want %v", vars, tc.dsVars)
			}

			// Every query parses: none of these published dashboards has a broken one.
			if len(r.Queries) == 0 {
				t.Error("no queries found")
			}
			if len(r.ParseErrors) != 0 {
				t.Errorf("%d queries do not parse:\n%s", len(r.ParseErrors), strings.Join(r.ParseErrors, "\n"))
			}

			// Deterministic and stable.
			r2, err := dashimport.Resolve(data, dashimport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Dashboard, r2.Dashboard) || r2.UID != r.UID {
				t.Error("two runs differ")
			}
			// Idempotent: resolving the result changes nothing.
			r3, err := dashimport.Resolve(r.Dashboard, dashimport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(r.Dashboard, r3.Dashboard) || r3.Replaced != 0 {
				t.Errorf("resolving the result again rewrote %d things", r3.Replaced)
			}
		})
	}
}

// A dashboard as Grafana's "Export for sharing externally" writes it, with what the published
// ones above lack: a constant input, a library panel, mixed and dashboard datasources, a
// placeholder outside a datasource field, a name-form datasource and no uid.
const exported = `{
  "__inputs": [
    {"name": "DS_PROM", "label": "Prom", "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"},
    {"name": "VAR_JOB", "type": "constant", "label": "job", "value": "vllm", "description": ""}
  ],
  "__elements": {
    "lib1": {"name": "Lib", "uid": "lib1", "kind": 1, "model": {"type": "stat", "title": "From library",
      "datasource": {"type": "prometheus", "uid": "${DS_PROM}"},
      "targets": [{"refId": "A", "expr": "sum(vllm:num_requests_running{job=\"${VAR_JOB}\"})"}]}}
  },
  "__requires": [{"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}],
  "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "name": "Annotations & Alerts"}]},
  "id": 12345678901234567890,
  "links": [{"title": "Explore", "url": "/explore?ds=$DS_PROM&x=${DS_PROM:text}&y=${__from}"}],
  "panels": [
    {"id": 1, "type": "timeseries", "title": "Mixed <p99>", "datasource": {"type": "datasource", "uid": "-- Mixed --"},
     "targets": [
       {"refId": "A", "datasource": "Prometheus", "expr": "histogram_quantile(0.99, sum by (le) (rate(vllm:e2e_request_latency_seconds_bucket[$__rate_interval])))"},
       {"refId": "B", "datasource": {"type": "prometheus", "uid": "${DS_PROM}"}, "expr": "sum(rate(vllm:request_success_total{job=\"$VAR_JOB\"}[5m])) > $threshold"}
     ]},
    {"id": 2, "type": "timeseries", "title": "Reuse", "datasource": {"type": "datasource", "uid": "-- Dashboard --"}, "targets": [{"refId": "A", "panelId": 1}]},
    {"id": 3, "gridPos": {"h": 4, "w": 6, "x": 0, "y": 8}, "libraryPanel": {"uid": "lib1", "name": "Lib"}},
    {"id": 4, "type": "row", "title": "Row", "datasource": null, "collapsed": true, "panels": [
      {"id": 5, "type": "timeseries", "title": "Broken", "datasource": "${DS_PROM}", "targets": [{"refId": "A", "expr": "sum(rate(foo[5m])"}]},
      {"id": 6, "type": "timeseries", "title": "Templated", "targets": [{"refId": "A", "expr": "rate(${metric}_total[5m]) or {__name__=~\"vllm:.*\"}"}]}
    ]}
  ],
  "templating": {"list": [
    {"name": "job", "type": "constant", "query": "${VAR_JOB}", "hide": 2},
    {"name": "instance", "type": "query", "datasource": {"type": "prometheus", "uid": "${DS_PROM}"}, "query": {"query": "label_values(up{job=\"$job\"}, instance)", "refId": "A"}}
  ]},
  "title": "Exported & shared",
  "unknownField": {"kept": true},
  "version": 7
}`

func TestResolveExport(t *testing.T) {
	r, err := dashimport.Resolve([]byte(exported), dashimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("Exported & shared"))
	if want := "imp-" + hex.EncodeToString(sum[:])[:12]; r.UID != want {
		t.Errorf("uid %q, want %q", r.UID, want)
	}
	s := string(r.Dashboard)
	for _, bad := range []string{"${DS_", "$DS_", "VAR_JOB", "__inputs", "__elements", "__requires", "libraryPanel", `\u003c`, `\u0026`} {
		if strings.Contains(s, bad) {
			t.Errorf("%q in the resolved dashboard", bad)
		}
	}
	for _, want := range []string{`"Mixed <p99>"`, `"id": null`, `"unknownField": {`, `"version": 7`,
		`"url": "/explore?ds=llmmon-prometheus&x=llmmon-prometheus&y=${__from}"`, `"query": "vllm"`,
		`job=\"vllm\"`, `"title": "From library"`} {
		if !strings.Contains(s, want) {
			t.Errorf("%s not in the resolved dashboard", want)
		}
	}
	var d struct {
		Panels []struct {
			ID         int            `json:"id"`
			Datasource any            `json:"datasource"`
			GridPos    map[string]any `json:"gridPos"`
			Targets    []struct {
				Datasource any `json:"datasource"`
			} `json:"targets"`
			Panels []struct {
				Datasource any `json:"datasource"`
			} `json:"panels"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(r.Dashboard, &d); err != nil {
		t.Fatal(err)
	}
	if !isGrafanaBuiltin(d.Panels[0].Datasource) || !isLLMMonDatasource(d.Panels[0].Targets[0].Datasource) || !isLLMMonDatasource(d.Panels[0].Targets[1].Datasource) {
		t.Errorf("mixed panel: %v %v %v", d.Panels[0].Datasource, d.Panels[0].Targets[0].Datasource, d.Panels[0].Targets[1].Datasource)
	}
	if !isGrafanaBuiltin(d.Panels[1].Datasource) {
		t.Errorf("-- Dashboard -- rewritten: %v", d.Panels[1].Datasource)
	}
	if p := d.Panels[2]; p.ID != 3 || p.GridPos["y"] != float64(8) || !isLLMMonDatasource(p.Datasource) {
		t.Errorf("library panel not inlined in place: %+v", p)
	}
	if !isLLMMonDatasource(d.Panels[3].Datasource) || !isLLMMonDatasource(d.Panels[3].Panels[0].Datasource) {
		t.Errorf("row: %v, %v", d.Panels[3].Datasource, d.Panels[3].Panels[0].Datasource)
	}
	if len(r.ParseErrors) != 1 || !strings.HasPrefix(r.ParseErrors[0], `panel "Broken" (id 5) query A: `) {
		t.Errorf("ParseErrors = %q", r.ParseErrors)
	}
	// The variable query, the library panel's, both of the mixed panel's, the broken one and the templated one.
	if len(r.Queries) != 6 {
		t.Errorf("%d queries: %+v", len(r.Queries), r.Queries)
	}

	// Names built from variables, regular expressions on __name__ and numbers given by
	// variables ($threshold) are not metrics; the broken query is skipped.
	got := dashimport.MissingMetrics(r, map[string]bool{"vllm:num_requests_running": true})
	want := []dashimport.PanelMetrics{
		{Panel: "Mixed <p99>", Metrics: []string{"vllm:e2e_request_latency_seconds_bucket", "vllm:request_success_total"}},
		{Panel: "variable instance", Metrics: []string{"up"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MissingMetrics = %+v, want %+v", got, want)
	}

	// Grafana's API form {"dashboard":…,"meta":…} is accepted.
	wrapped, _ := json.Marshal(map[string]any{"dashboard": json.RawMessage(exported), "meta": map[string]any{"folderUid": "x"}})
	if r2, err := dashimport.Resolve(wrapped, dashimport.Options{}); err != nil || !bytes.Equal(r2.Dashboard, r.Dashboard) {
		t.Errorf("wrapped: %v", err)
	}
}

func TestResolveUIDAndErrors(t *testing.T) {
	long := `{"title": "T", "uid": "a very/long uid with spaces and . dots that goes on and on", "panels": []}`
	r, err := dashimport.Resolve([]byte(long), dashimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.UID != "a-very-long-uid-with-spaces-and-dots-tha" || !validUID.MatchString(r.UID) {
		t.Errorf("uid %q", r.UID)
	}
	for in, want := range map[string]string{
		`[1, 2]`:                   "want a JSON object, got an array",
		`{"panels": []}`:           "no title",
		`<html>`:                   "not JSON",
		`{"title": "a"} {"b": 1}`:  "data after the dashboard",
		`{"title": "a", "uid": 1}`: "",
	} {
		_, err := dashimport.Resolve([]byte(in), dashimport.Options{})
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", in, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", in, err, want)
		}
	}
	if _, err := dashimport.Resolve([]byte(`{"title":"a"}`), dashimport.Options{FolderUID: "not a uid"}); err == nil {
		t.Error("invalid folder uid accepted")
	}
}

// ---------------------------------------------------------------- Fetch

// setGrafanaCom points GrafanaComURL at u for the test.
func setGrafanaCom(t *testing.T, u string) {
	old := dashimport.GrafanaComURL
	dashimport.GrafanaComURL = u
	t.Cleanup(func() { dashimport.GrafanaComURL = old })
}

func TestFetch(t *testing.T) {
	ctx := context.Background()
	vllm := fixture(t, "dashboards", "vllm-grafana.json")
	dcgm := fixture(t, "dashboards", "nvidia-dcgm-exporter.json")

	t.Run("file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "d.json")
		if err := os.WriteFile(p, vllm, 0o600); err != nil {
			t.Fatal(err)
		}
		data, origin, err := dashimport.Fetch(ctx, nil, p)
		if err != nil || !bytes.Equal(data, vllm) || origin != p {
			t.Fatalf("%v %q", err, origin)
		}
		bad := filepath.Join(t.TempDir(), "page.json")
		_ = os.WriteFile(bad, []byte("<!DOCTYPE html><html>"), 0o600)
		if _, _, err := dashimport.Fetch(ctx, nil, bad); err == nil || !strings.Contains(err.Error(), "not JSON") || !strings.Contains(err.Error(), "<!DOCTYPE html>") {
			t.Errorf("non-JSON file: %v", err)
		}
		if _, _, err := dashimport.Fetch(ctx, nil, filepath.Join(t.TempDir(), "absent.json")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("absent file: %v", err)
		}
	})

	t.Run("url", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/vllm.json":
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(vllm)
			case "/page":
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = io.WriteString(w, "<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>")
			default:
				http.NotFound(w, r)
			}
		}))
		defer srv.Close()
		data, origin, err := dashimport.Fetch(ctx, srv.Client(), srv.URL+"/vllm.json")
		if err != nil || !bytes.Equal(data, vllm) || origin != srv.URL+"/vllm.json" {
			t.Fatalf("%v %q", err, origin)
		}
		_, _, err = dashimport.Fetch(ctx, srv.Client(), srv.URL+"/page")
		if err == nil || !strings.Contains(err.Error(), "text/html") || !strings.Contains(err.Error(), `<!DOCTYPE html>\n<html>`) {
			t.Errorf("HTML page: %v", err)
		}
		_, _, err = dashimport.Fetch(ctx, srv.Client(), srv.URL+"/absent")
		if err == nil || !strings.Contains(err.Error(), "404") {
			t.Errorf("404: %v", err)
		}
	})

	t.Run("grafana.com", func(t *testing.T) {
		var paths []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			paths = append(paths, r.URL.Path)
			w.Header().Set("Content-Type", "application/json")
			switch r.URL.Path {
			case "/api/dashboards/12239/revisions/latest/download":
				_, _ = w.Write(dcgm)
			case "/api/dashboards/12239/revisions/3/download":
				_, _ = w.Write(vllm)
			default:
				w.WriteHeader(404)
				_, _ = io.WriteString(w, `{"code":"NotFound","message":"Dashboard not found"}`)
			}
		}))
		defer srv.Close()
		setGrafanaCom(t, srv.URL)
		for src, want := range map[string][]byte{
			"12239": dcgm, "12239@3": vllm, "12239:3": vllm,
			"https://grafana.com/grafana/dashboards/12239-nvidia-dcgm-exporter-dashboard/": dcgm,
		} {
			data, origin, err := dashimport.Fetch(ctx, srv.Client(), src)
			if err != nil || !bytes.Equal(data, want) || !strings.HasPrefix(origin, srv.URL+"/api/dashboards/12239/revisions/") {
				t.Errorf("%s: %v %q", src, err, origin)
			}
		}
		_, _, err := dashimport.Fetch(ctx, srv.Client(), "99999999")
		if err == nil || errors.Is(err, dashimport.ErrOffline) || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "Dashboard not found") {
			t.Errorf("unknown ID: %v", err)
		}
		// A file named like an ID is a file.
		dir := t.TempDir()
		t.Chdir(dir)
		_ = os.WriteFile("12239", vllm, 0o600)
		paths = nil
		if data, _, err := dashimport.Fetch(ctx, srv.Client(), "12239"); err != nil || !bytes.Equal(data, vllm) || len(paths) != 0 {
			t.Errorf("file 12239: %v, requests %v", err, paths)
		}
	})

	t.Run("offline", func(t *testing.T) {
		blocked := make(chan struct{})
		slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-blocked:
			case <-r.Context().Done():
			}
		}))
		defer slow.Close()
		defer close(blocked)
		for name, tc := range map[string]struct {
			base, host string
			client     *http.Client
		}{
			"refused": {"http://127.0.0.1:1", "127.0.0.1:1", nil},
			"dns":     {"http://grafana.invalid", "grafana.invalid", nil},
			"timeout": {slow.URL, strings.TrimPrefix(slow.URL, "http://"), &http.Client{Timeout: 200 * time.Millisecond}},
		} {
			setGrafanaCom(t, tc.base)
			_, _, err := dashimport.Fetch(ctx, tc.client, "12239")
			if !errors.Is(err, dashimport.ErrOffline) {
				t.Errorf("%s: %v does not wrap ErrOffline", name, err)
				continue
			}
			want := "cannot reach " + tc.host + " to download dashboard 12239; download " + tc.base +
				"/api/dashboards/12239/revisions/latest/download on a machine with internet access and run: llmmon import-dashboard ./12239.json"
			if err.Error() != want {
				t.Errorf("%s:\n got %s\nwant %s", name, err, want)
			}
		}
		// The by-hand hint names the revision asked for.
		setGrafanaCom(t, "http://127.0.0.1:1")
		if _, _, err := dashimport.Fetch(ctx, nil, "12239@3"); !errors.Is(err, dashimport.ErrOffline) || !strings.Contains(err.Error(), "/api/dashboards/12239/revisions/3/download ") {
			t.Errorf("revision: %v", err)
		}
	})
}

// ---------------------------------------------------------------- MissingMetrics

// exposed returns the metric names of a text exposition, as Prometheus would store them.
func exposed(t *testing.T, data []byte) map[string]bool {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for name, mf := range mfs {
		have[name] = true
		switch mf.GetType().String() {
		case "HISTOGRAM", "GAUGE_HISTOGRAM":
			have[name+"_bucket"], have[name+"_sum"], have[name+"_count"] = true, true, true
		case "SUMMARY":
			have[name+"_sum"], have[name+"_count"] = true, true
		}
	}
	return have
}

func TestMissingMetrics(t *testing.T) {
	have := exposed(t, fixture(t, "metrics", "vllm.prom"))
	if !have["vllm:num_requests_running"] || !have["vllm:e2e_request_latency_seconds_bucket"] {
		t.Fatalf("exposition parsed wrong: %v", have)
	}

	// vLLM's single-server example dashboard uses only metrics the captured server exposes.
	r, err := dashimport.Resolve(fixture(t, "dashboards", "vllm-grafana.json"), dashimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dashimport.MissingMetrics(r, have); len(got) != 0 {
		t.Errorf("vllm-grafana.json: %+v", got)
	}

	// vLLM's fleet example dashboard uses V1 names (kv_cache_usage_perc, inter_token_latency,
	// prefix_cache_*) and counters without _total, absent from this mid-2025 capture. `up` is
	// Prometheus' own series, never in an exposition.
	r, err = dashimport.Resolve(fixture(t, "dashboards", "vllm-k8s-grafana-dashboard.json"), dashimport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got := dashimport.MissingMetrics(r, have)
	want := []dashimport.PanelMetrics{
		{"Avg KV Cache Usage", []string{"vllm:kv_cache_usage_perc"}},
		{"Generation Tokens/s", []string{"vllm:generation_tokens"}},
		{"Inter-Token Latency (TPOT/ITL)", []string{"vllm:inter_token_latency_seconds_bucket", "vllm:inter_token_latency_seconds_count", "vllm:inter_token_latency_seconds_sum"}},
		{"KV Cache Usage (per pod)", []string{"vllm:kv_cache_usage_perc"}},
		{"Preemption Rate", []string{"vllm:num_preemptions"}},
		{"Prefix Cache Hit Rate", []string{"vllm:prefix_cache_hits", "vllm:prefix_cache_queries"}},
		{"Replicas Up", []string{"up"}},
		{"Request Rate", []string{"vllm:request_success"}},
		{"Request Rate by Finish Reason", []string{"vllm:request_success"}},
		{"Token Throughput (Fleet)", []string{"vllm:generation_tokens", "vllm:prompt_tokens"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("MissingMetrics =\n%+v\nwant\n%+v", got, want)
	}
	if again := dashimport.MissingMetrics(r, have); !reflect.DeepEqual(again, got) {
		t.Error("not deterministic")
	}
	// Panels (and the variable) that use vllm:num_requests_running are not reported.
	reported := map[string]bool{}
	for _, pm := range got {
		reported[pm.Panel] = true
	}
	using := 0
	for _, q := range r.Queries {
		if strings.Contains(q.Expr, "vllm:num_requests_running") {
			using++
			if reported[q.PanelTitle] || (q.PanelTitle == "" && reported["variable model_name"]) {
				t.Errorf("panel %q (%s) reported", q.PanelTitle, q.Expr)
			}
		}
	}
	if using < 2 {
		t.Errorf("%d queries use vllm:num_requests_running; the fixture changed?", using)
	}
}
