package stack_test

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/rules"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/runtime/fake"
	"github.com/llmmon/llmmon/stack/spec"
	"github.com/llmmon/llmmon/templates"
)

// promStandin plays whatever answers on Prometheus' port 9090 for status: with wantPW set it is
// the stack's own (it wants the stack's basic auth); stackLabel is the external label its
// configuration carries. Every request is recorded.
type promStandin struct {
	mu         sync.Mutex
	wantPW     string // "" : no auth at all (a foreign, open Prometheus)
	refuseAll  bool   // another stack's: it refuses our credentials
	stackLabel string
	paths      []string
	authed     []string // the paths asked with credentials
}

func (p *promStandin) RoundTrip(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paths = append(p.paths, r.URL.Host+r.URL.Path)
	if r.Header.Get("Authorization") != "" {
		p.authed = append(p.authed, r.URL.Host+r.URL.Path)
	}
	reply := func(code int, body string) (*http.Response, error) {
		return &http.Response{StatusCode: code, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}, nil
	}
	if !strings.HasSuffix(r.URL.Host, ":9090") {
		return nil, errors.New("connection refused")
	}
	user, pass, _ := r.BasicAuth()
	if p.refuseAll || (p.wantPW != "" && (user != stack.APIUser || pass != p.wantPW)) {
		return reply(401, "Unauthorized\n")
	}
	switch r.URL.Path {
	case "/api/v1/status/config":
		return reply(200, `{"status":"success","data":{"yaml":"global:\n  external_labels:\n    stack: `+p.stackLabel+`\n"}}`)
	case "/-/ready":
		return reply(200, "ready")
	case "/api/v1/targets":
		return reply(200, `{"status":"success","data":{"activeTargets":[{"labels":{"job":"vllm","target":"qwen","instance":"127.0.0.1:8000"},"health":"up","lastError":""}]}}`)
	case "/api/v1/alerts":
		return reply(200, `{"status":"success","data":{"alerts":[]}}`)
	}
	return reply(404, "not found")
}

func (p *promStandin) apiCalls() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, x := range p.paths {
		if strings.Contains(x, "/api/") {
			out = append(out, x)
		}
	}
	return out
}

func statusSpec(t *testing.T) *spec.Spec {
	t.Helper()
	text := "name: unit\ngpu: off\nhost: false\ntargets:\n  - {name: qwen, engine: vllm, url: 'http://127.0.0.1:8000'}\n"
	s, _, err := spec.LoadBytes("unit.yaml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	s.DataDir = filepath.Join(t.TempDir(), "data")
	return s
}

// snapshot lists every file and directory below dir with its mode and content.
func snapshot(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		info, _ := d.Info()
		b, _ := os.ReadFile(p)
		out = append(out, p+" "+info.Mode().String()+" "+string(b))
		return nil
	})
	sort.Strings(out)
	return out
}

func statusEngine(rt runtime.Runtime, h http.RoundTripper) *stack.Engine {
	return stack.New(render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS},
		stack.WithRuntime(rt), stack.WithHTTPClient(&http.Client{Transport: h}))
}

func addPrometheus(rt *fake.Runtime, running bool) {
	rt.AddContainer(fake.Container{Container: runtime.Container{
		Name: "llmmon-unit-prometheus", Image: "prom/prometheus", Running: running, StartedAt: time.Now(),
		State:  map[bool]string{true: "running", false: "exited"}[running],
		Labels: map[string]string{runtime.LabelProject: "unit", runtime.LabelComponent: "prometheus", runtime.LabelManaged: "true"},
	}})
}

// TestStatusPrometheusDown: with the stack's Prometheus stopped, status reads no targets or
// alerts from whatever answers on its port, says why, is unhealthy, and changes no file.
func TestStatusPrometheusDown(t *testing.T) {
	s := statusSpec(t)
	if _, err := stack.EnsureCredentials(s); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, s.DataDir)
	rt := fake.New()
	addPrometheus(rt, false)
	// Something answers on 9090 (another stack's Prometheus, with no auth): it must not be read.
	h := &promStandin{stackLabel: "unit"}
	st, err := statusEngine(rt, h).Status(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(st.AlertsError, "cannot read alerts: Prometheus is down") || !strings.HasPrefix(st.TargetsError, "cannot read targets: Prometheus is down") {
		t.Errorf("alerts error %q, targets error %q", st.AlertsError, st.TargetsError)
	}
	if st.Healthy || len(st.Targets) != 0 || len(st.Alerts) != 0 {
		t.Errorf("healthy %v, targets %v, alerts %v: want unhealthy and nothing read", st.Healthy, st.Targets, st.Alerts)
	}
	if calls := h.apiCalls(); len(calls) != 0 {
		t.Errorf("status queried a Prometheus that is not the stack's: %v", calls)
	}
	if after := snapshot(t, s.DataDir); strings.Join(after, "\n") != strings.Join(before, "\n") {
		t.Errorf("status changed the data directory:\nbefore %q\nafter  %q", before, after)
	}
}

// TestStatusWithoutCredentials: a stack never started by this llmmon has no credentials;
// status says so and creates none (nor the Grafana password).
func TestStatusWithoutCredentials(t *testing.T) {
	s := statusSpec(t)
	rt := fake.New()
	addPrometheus(rt, true)
	h := &promStandin{stackLabel: "unit"}
	st, err := statusEngine(rt, h).Status(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	var prom stack.ComponentStatus
	for _, c := range st.Components {
		if c.Component == "prometheus" {
			prom = c
		}
	}
	if !strings.Contains(prom.Health, "no credentials") || !strings.Contains(prom.Health, "run llmmon up") {
		t.Errorf("prometheus health %q, want it to say there are no credentials", prom.Health)
	}
	if !strings.Contains(st.AlertsError, "Prometheus is down") || st.Healthy {
		t.Errorf("alerts error %q, healthy %v", st.AlertsError, st.Healthy)
	}
	if _, err := os.Stat(s.DataDir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("status created the data directory: %v %q", err, snapshot(t, s.DataDir))
	}
	if calls := h.apiCalls(); len(calls) != 0 {
		t.Errorf("status queried Prometheus without credentials: %v", calls)
	}
}

// TestStatusForeignPrometheus: the stack's Prometheus container runs, but what answers on its
// port is another's: one that refuses the stack's credentials, or an open one of another stack.
// Status names it and lists none of its targets; its own Prometheus is read.
func TestStatusForeignPrometheus(t *testing.T) {
	s := statusSpec(t)
	creds, err := stack.EnsureCredentials(s)
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range map[string]*promStandin{
		"refuses the credentials":     {refuseAll: true, stackLabel: "unit"},
		"open, of another stack":      {stackLabel: "demo"},
		"the stack's own, with auth":  {wantPW: creds.APIPassword, stackLabel: "unit"},
		"another's password, refused": {wantPW: "not-" + creds.APIPassword, stackLabel: "unit"},
	} {
		t.Run(name, func(t *testing.T) {
			rt := fake.New()
			addPrometheus(rt, true)
			st, err := statusEngine(rt, h).Status(t.Context(), s)
			if err != nil {
				t.Fatal(err)
			}
			var prom stack.ComponentStatus
			for _, c := range st.Components {
				if c.Component == "prometheus" {
					prom = c
				}
			}
			own := h.wantPW == creds.APIPassword
			foreign := strings.Contains(prom.Health, "port 127.0.0.1:9090 answers, but not as stack unit's Prometheus (another stack or program holds it)")
			if foreign == own {
				t.Errorf("prometheus health %q (own %v)", prom.Health, own)
			}
			if own {
				if len(st.Targets) != 1 || st.Targets[0].Target != "qwen" || st.TargetsError != "" || st.AlertsError != "" {
					t.Errorf("own Prometheus: targets %v, errors %q %q", st.Targets, st.TargetsError, st.AlertsError)
				}
				return
			}
			if len(st.Targets) != 0 || !strings.Contains(st.TargetsError, "cannot read targets: Prometheus is down") || st.Healthy {
				t.Errorf("foreign Prometheus: targets %v, error %q, healthy %v", st.Targets, st.TargetsError, st.Healthy)
			}
		})
	}
}

// TestStatusAsksAStrangerWithoutCredentials: with the stack's Prometheus container missing,
// status asks whatever holds its port who it is, and never with the stack's credentials.
func TestStatusAsksAStrangerWithoutCredentials(t *testing.T) {
	s := statusSpec(t)
	if _, err := stack.EnsureCredentials(s); err != nil {
		t.Fatal(err)
	}
	h := &promStandin{stackLabel: "demo"}
	st, err := statusEngine(fake.New(), h).Status(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.paths) == 0 {
		t.Fatal("the port was not asked who holds it")
	}
	if len(h.authed) != 0 {
		t.Errorf("credentials sent to a process that is not the stack's: %v", h.authed)
	}
	for _, c := range st.Components {
		if c.Component == "prometheus" && !strings.Contains(c.Health, "127.0.0.1:9090") {
			t.Errorf("prometheus: %q does not name who holds its port", c.Health)
		}
	}
}

// TestTargetList: the spec's targets joined with Prometheus' by name: scraped ones with their
// health and job, the others "not scraped yet"; "unknown" for all, and why, when Prometheus
// cannot be read.
func TestTargetList(t *testing.T) {
	s := statusSpec(t)
	s.Targets = append(s.Targets, spec.Target{Name: "embed", Engine: "sglang", URL: "http://127.0.0.1:30000"})
	creds, err := stack.EnsureCredentials(s)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := statusEngine(fake.New(), &promStandin{wantPW: creds.APIPassword, stackLabel: "unit"}).TargetList(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Name != "embed" || rows[0].Health != "not scraped yet" || rows[1].Name != "qwen" || rows[1].Health != "up" || rows[1].Engine != "vllm" {
		t.Errorf("rows %+v", rows)
	}
	rows, err = statusEngine(fake.New(), &promStandin{refuseAll: true}).TargetList(t.Context(), s)
	if err == nil || len(rows) != 2 || rows[0].Health != "unknown" || rows[1].Health != "unknown" {
		t.Errorf("Prometheus refusing: %+v, %v", rows, err)
	}
}
