package stack_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/dashimport"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/runtime/fake"
	"github.com/llmmon/llmmon/stack/spec"
)

// fakeGrafana plays Grafana's provisioning for the engine's HTTP client: on a dashboards reload
// it loads the uids of the imported files that the fake runtime holds in the Grafana container
// (what real Grafana reads from its disk), and /api/dashboards/uid/X answers from that. Any
// other request is answered by healthyStack.
type fakeGrafana struct {
	healthyStack
	rt *fake.Runtime

	mu       sync.Mutex
	loaded   map[string]bool
	requests []string
	status   int // when set, the reload's answer
}

const importedInContainer = "/etc/grafana/dashboards/imported/"

func (g *fakeGrafana) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.Path, "/api/admin/") && !strings.HasPrefix(r.URL.Path, "/api/dashboards/") {
		return g.healthyStack.RoundTrip(r)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	answer := func(code int, body string) (*http.Response, error) {
		return &http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}, nil
	}
	g.requests = append(g.requests, r.Method+" "+r.URL.Path)
	if user, pw, _ := r.BasicAuth(); user != "admin" || len(pw) < 16 {
		return answer(401, `{"message":"invalid username or password"}`)
	}
	switch {
	case r.Method == "POST" && r.URL.Path == "/api/admin/provisioning/dashboards/reload":
		if g.status != 0 {
			return answer(g.status, `{"message":"Not found"}`)
		}
		g.loaded = map[string]bool{}
		for _, c := range g.rt.Containers() {
			if c.Spec.Labels[runtime.LabelComponent] != "grafana" {
				continue
			}
			for p := range g.rt.Copied(c.ID) {
				if strings.HasPrefix(p, importedInContainer) && strings.HasSuffix(p, ".json") {
					g.loaded[strings.TrimSuffix(path.Base(p), ".json")] = true
				}
			}
		}
		return answer(200, `{"message":"Dashboards config reloaded"}`)
	case r.Method == "POST" && r.URL.Path == "/api/admin/provisioning/datasources/reload":
		return answer(200, `{"message":"Datasources config reloaded"}`)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api/dashboards/uid/"):
		if g.loaded[strings.TrimPrefix(r.URL.Path, "/api/dashboards/uid/")] {
			return answer(200, `{"dashboard":{}}`)
		}
		return answer(404, `{"message":"Dashboard not found"}`)
	}
	return answer(404, `{"message":"Not found"}`)
}

func (g *fakeGrafana) seen() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.requests...)
}

// grafanaSetup is setup with fakeGrafana answering Grafana's API.
func grafanaSetup(t *testing.T) (*stack.Engine, *fake.Runtime, *spec.Spec, *fakeGrafana) {
	t.Helper()
	g := &fakeGrafana{}
	e, rt, s, _ := setup(t, "", stack.WithHTTPClient(&http.Client{Transport: g}))
	g.rt = rt
	return e, rt, s, g
}

const communityDashboard = `{
  "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus"}],
  "uid": "community-vllm", "title": "Community vLLM",
  "panels": [{"title": "Running", "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
    "targets": [{"expr": "vllm:num_requests_running"}]}]
}`

func writeDashboard(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "dash.json")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// import-dashboard saves the file, copies the same bytes into the running Grafana and has it
// reload its provisioning (no API push); the next up finds nothing to recreate.
func TestImportDashboardProvisionsByFileAndReloads(t *testing.T) {
	e, rt, s, g := grafanaSetup(t)
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	before := findContainer(t, rt, "grafana")
	res, err := e.ImportDashboard(t.Context(), s, writeDashboard(t, communityDashboard), stack.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Running || !res.Loaded || res.UID != "community-vllm" || res.Replaced == 0 {
		t.Fatalf("result %+v", res)
	}
	saved, err := os.ReadFile(filepath.Join(stack.ImportedDir(s), "community-vllm.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := rt.Copied(before.ID)[importedInContainer+"community-vllm.json"]
	if string(f.Data) != string(saved) || f.Mode != 0o644 || f.UID != 472 || f.GID != 0 {
		t.Errorf("copied into grafana: mode %o uid %d, same bytes %v", f.Mode, f.UID, string(f.Data) == string(saved))
	}
	if got := strings.Join(g.seen(), "; "); got != "POST /api/admin/provisioning/dashboards/reload; GET /api/dashboards/uid/community-vllm" {
		t.Errorf("grafana requests: %s", got)
	}
	up, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := findContainer(t, rt, "grafana")
	if after.ID != before.ID || up.ComponentActions["grafana"] == "recreate" {
		t.Errorf("grafana %s after the import's up (id %s -> %s)", up.ComponentActions["grafana"], before.ID, after.ID)
	}
	if f := rt.Copied(after.ID)[importedInContainer+"community-vllm.json"]; string(f.Data) != string(saved) {
		t.Error("up copied other bytes than the import")
	}
}

func TestImportDashboardWithoutAStack(t *testing.T) {
	e, rt, s, g := grafanaSetup(t)
	res, err := e.ImportDashboard(t.Context(), s, writeDashboard(t, communityDashboard), stack.ImportOptions{})
	if err != nil || res.Running || res.Loaded {
		t.Fatalf("%+v %v", res, err)
	}
	if _, err := os.Stat(res.File); err != nil {
		t.Error(err)
	}
	if len(g.seen()) != 0 || len(rt.Actions()) != 0 {
		t.Errorf("grafana %v, runtime %v", g.seen(), rt.Actions())
	}
}

// A Grafana without the reload API (404) still gets the file and reads it by itself; any other
// refusal is an error that says the file is kept.
func TestImportDashboardReloadAnswers(t *testing.T) {
	e, _, s, g := grafanaSetup(t)
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	g.status = 404
	res, err := e.ImportDashboard(t.Context(), s, writeDashboard(t, communityDashboard), stack.ImportOptions{})
	if err != nil || !res.Running || res.Loaded || !strings.Contains(res.Note, "within 10 s") {
		t.Errorf("404: %+v %v", res, err)
	}
	g.status = 500
	_, err = e.ImportDashboard(t.Context(), s, writeDashboard(t, communityDashboard), stack.ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "is saved in") || !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("500: %v", err)
	}
}

// A dashboard over the cap is bad input, refused before anything is written.
func TestImportDashboardTooLarge(t *testing.T) {
	e, _, s, _ := grafanaSetup(t)
	p := filepath.Join(t.TempDir(), "huge.json")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(dashimport.MaxSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = e.ImportDashboard(t.Context(), s, p, stack.ImportOptions{})
	if !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), "over the 10 MiB cap") {
		t.Errorf("got %v", err)
	}
	if _, err := os.Stat(stack.ImportedDir(s)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("something was written: %v", err)
	}
}

func TestImportDashboardRefusesABuiltinUID(t *testing.T) {
	e, _, s, _ := grafanaSetup(t)
	_, err := e.ImportDashboard(t.Context(), s, writeDashboard(t, `{"uid":"llmmon-gpu","title":"My GPUs","panels":[]}`), stack.ImportOptions{})
	if !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), "llmmon's own dashboard") {
		t.Errorf("got %v", err)
	}
}

func TestRemoveDashboard(t *testing.T) {
	e, rt, s, g := grafanaSetup(t)
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ImportDashboard(t.Context(), s, writeDashboard(t, communityDashboard), stack.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ImportDashboard(t.Context(), s, writeDashboard(t, `{"uid":"other","title":"Other","panels":[]}`), stack.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := e.Dashboards(s)
	if err != nil || len(list) != 2 || list[0].Title != "Community vLLM" || list[1].UID != "other" || list[0].Size == 0 {
		t.Fatalf("dashboards: %+v %v", list, err)
	}

	// Unknown, and built-in: bad input that lists the imported dashboards.
	for name, want := range map[string]string{"nope": "no imported dashboard has the uid, title or file \"nope\"", "llmmon-gpu": "one of llmmon's own dashboards"} {
		_, err := e.RemoveDashboard(t.Context(), s, name)
		if !errors.Is(err, spec.ErrInvalid) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `community-vllm  "Community vLLM"  (community-vllm.json)`) {
			t.Errorf("%s: %v", name, err)
		}
	}

	grafana := findContainer(t, rt, "grafana")
	rt.ResetCalls()
	res, err := e.RemoveDashboard(t.Context(), s, "Community vLLM")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Running || !res.Removed || res.UID != "community-vllm" {
		t.Errorf("result %+v", res)
	}
	if _, err := os.Stat(res.File); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the file is still in DATA_DIR: %v", err)
	}
	if _, ok := rt.Copied(grafana.ID)[importedInContainer+"community-vllm.json"]; ok {
		t.Error("the file is still in the Grafana container")
	}
	if got := strings.Join(rt.Actions(), "; "); got != "remove files llmmon-unit-grafana "+importedInContainer+"community-vllm.json" {
		t.Errorf("runtime actions: %s", got)
	}
	if seen := g.seen(); seen[len(seen)-2] != "POST /api/admin/provisioning/dashboards/reload" {
		t.Errorf("grafana requests %v", seen)
	}
	// By file name, with an image that has no rm: removed from DATA_DIR, Grafana's copy stays
	// until it is recreated, and that is said.
	rt.Fail(fake.MethodRemoveFiles, fmt.Errorf("remove: %w", runtime.ErrNoRemove))
	res, err = e.RemoveDashboard(t.Context(), s, "other.json")
	if err != nil || res.Removed || !strings.Contains(res.Note, "llmmon down && llmmon up") {
		t.Errorf("no rm: %+v %v", res, err)
	}
	if list, _ := e.Dashboards(s); len(list) != 0 {
		t.Errorf("left: %+v", list)
	}
}
