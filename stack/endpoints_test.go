package stack_test

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/rules"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime/fake"
	"github.com/llmmon/llmmon/stack/spec"
	"github.com/llmmon/llmmon/templates"
)

// secretFile is the path of one of the stack's secret files.
func secretFile(s *spec.Spec, name string) string { return filepath.Join(s.DataDir, "secrets", name) }

// TestStatusReadsTheCredentialsOnce: status reads each secret file once, however many of the
// stack's APIs it then asks (its components, targets, alerts, blind services).
func TestStatusReadsTheCredentialsOnce(t *testing.T) {
	s := statusSpec(t)
	creds, err := stack.EnsureCredentials(s)
	if err != nil {
		t.Fatal(err)
	}
	reads := stack.CountSecretReads(t)
	rt := fake.New()
	addPrometheus(rt, true)
	h := &promStandin{wantPW: creds.APIPassword, stackLabel: "unit"}
	st, err := statusEngine(rt, h).Status(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Targets) != 1 || st.Targets[0].Target != "qwen" || st.TargetsError != "" || st.AlertsError != "" {
		t.Fatalf("targets %v, errors %q %q: status did not read its Prometheus", st.Targets, st.TargetsError, st.AlertsError)
	}
	if len(h.authed) < 3 {
		t.Fatalf("Prometheus was asked %v with the credentials; want its config, targets and alerts at least", h.authed)
	}
	got := reads()
	if got[secretFile(s, "llmmon-password")] != 1 {
		t.Errorf("the password file was read %d times, want once: %v", got[secretFile(s, "llmmon-password")], got)
	}
	for f, n := range got {
		if n != 1 {
			t.Errorf("%s read %d times, want once", f, n)
		}
	}
}

// scrapeLater answers like a healthy stack whose Prometheus reports target "qwen" scraped only
// from the fifth time it is asked for its targets (up's health check asks once, the wait of
// add-target the others), and serves vLLM's metrics on the target's address.
type scrapeLater struct {
	healthyStack
	mu    sync.Mutex
	polls int
}

func (h *scrapeLater) RoundTrip(r *http.Request) (*http.Response, error) {
	reply := func(body string) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}, nil
	}
	switch {
	case r.URL.Host == "127.0.0.1:8000":
		return reply("# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=\"qwen\"} 0\n")
	case r.URL.Path == "/api/v1/targets":
		h.mu.Lock()
		h.polls++
		health := "unknown"
		if h.polls >= 5 {
			health = "up"
		}
		h.mu.Unlock()
		return reply(`{"status":"success","data":{"activeTargets":[{"labels":{"job":"node"},"health":"up"},{"labels":{"job":"vllm","target":"qwen"},"health":"` + health + `","lastError":""}]}}`)
	}
	return h.healthyStack.RoundTrip(r)
}

func (h *scrapeLater) reset() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.polls
	h.polls = 0
	return n
}

// TestAddTargetWaitReadsTheCredentialsOnce: add-target reads each secret file once for up and
// once for its wait for the first scrape, not once per poll.
func TestAddTargetWaitReadsTheCredentialsOnce(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "llmmon.yaml")
	if err := os.WriteFile(file, []byte("name: unit\ndata_dir: "+filepath.Join(dir, "data")+"\ngpu: off\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _, err := spec.Load(file, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	rt := fake.New()
	for _, c := range []string{"prometheus", "alertmanager", "grafana", "node-exporter"} {
		rt.AddImage(s.Image(c))
	}
	h := &scrapeLater{}
	e := stack.New(render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS},
		stack.WithRuntime(rt), stack.WithHTTPClient(&http.Client{Transport: h}),
		stack.WithGPUDetector(func() (bool, string) { return false, "none" }))
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	h.reset()
	reads := stack.CountSecretReads(t)
	var waits []string
	progress := func(ev stack.Event) {
		if ev.Action == "wait" {
			waits = append(waits, ev.Detail)
		}
	}
	res, err := e.AddTarget(t.Context(), file, s, spec.Target{Name: "qwen", URL: "http://127.0.0.1:8000"}, stack.AddTargetOptions{Wait: 10 * time.Second, Up: stack.UpOptions{Progress: progress}})
	if err != nil {
		t.Fatal(err)
	}
	if len(waits) == 0 || waits[len(waits)-1] != "waiting (up to 10s) for Prometheus' first scrape of qwen" {
		t.Errorf("the wait for the first scrape is not told: %q", waits)
	}
	if !res.Running || !res.Scraped || res.Engine != "vllm" {
		t.Fatalf("result %+v", res)
	}
	polls := h.reset()
	if polls < 5 {
		t.Fatalf("Prometheus was asked for its targets %d times; the test wants several polls", polls)
	}
	got := reads()
	if n := got[secretFile(s, "llmmon-password")]; n != 2 {
		t.Errorf("the password file was read %d times over %d requests for the targets, want twice (up, and the wait): %v", n, polls, got)
	}
	for f, n := range got {
		if n > 2 {
			t.Errorf("%s read %d times", f, n)
		}
	}
}

// TestDashboardsWithoutGrafanaPassword: import-dashboard and remove-dashboard only read the
// Grafana admin password: without it they never create one; the running Grafana gets the file
// and reads it by itself, and the result says so.
func TestDashboardsWithoutGrafanaPassword(t *testing.T) {
	e, _, s, g := grafanaSetup(t)
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	pwFile := secretFile(s, "grafana-admin-password")
	if err := os.Remove(pwFile); err != nil {
		t.Fatal(err)
	}
	before := len(g.seen())
	res, err := e.ImportDashboard(t.Context(), s, writeDashboard(t, communityDashboard), stack.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Running || res.Loaded || !strings.Contains(res.Note, "no Grafana admin password") {
		t.Errorf("import: %+v", res)
	}
	if _, err := os.Stat(pwFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("import-dashboard created %s: %v", pwFile, err)
	}
	rm, err := e.RemoveDashboard(t.Context(), s, "community-vllm")
	if err != nil {
		t.Fatal(err)
	}
	if !rm.Running || rm.Removed || !strings.Contains(rm.Note, "no Grafana admin password") {
		t.Errorf("remove: %+v", rm)
	}
	if _, err := os.Stat(pwFile); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("remove-dashboard created %s: %v", pwFile, err)
	}
	if seen := g.seen()[before:]; len(seen) != 0 {
		t.Errorf("Grafana's admin API was asked without a password: %v", seen)
	}
}

// deadlines records how long each request to the stack may take (its context's deadline).
type deadlines struct {
	next http.RoundTripper
	mu   sync.Mutex
	left map[string]time.Duration
}

func (d *deadlines) RoundTrip(r *http.Request) (*http.Response, error) {
	dl, ok := r.Context().Deadline()
	d.mu.Lock()
	if ok {
		d.left[r.Method+" "+r.URL.Path] = time.Until(dl)
	} else {
		d.left[r.Method+" "+r.URL.Path] = -1
	}
	d.mu.Unlock()
	return d.next.RoundTrip(r)
}

// TestCallTimeouts: every call to the stack carries a deadline, the client has none of its own:
// 3 s per call, except Grafana's provisioning reload, which answers once every dashboard is
// stored (60 s).
func TestCallTimeouts(t *testing.T) {
	g := &fakeGrafana{}
	d := &deadlines{next: g, left: map[string]time.Duration{}}
	e, rt, s, _ := setup(t, "", stack.WithHTTPClient(&http.Client{Transport: d}))
	g.rt = rt
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ImportDashboard(t.Context(), s, writeDashboard(t, communityDashboard), stack.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	for call, left := range d.left {
		max := 3 * time.Second
		if call == "POST /api/admin/provisioning/dashboards/reload" {
			max = time.Minute
			if left < 50*time.Second {
				t.Errorf("%s: %s to go, want about a minute", call, left)
			}
		}
		if left <= 0 || left > max {
			t.Errorf("%s: deadline in %s, want at most %s", call, left, max)
		}
	}
	for _, call := range []string{"POST /api/admin/provisioning/dashboards/reload", "GET /api/dashboards/uid/community-vllm", "GET /-/ready"} {
		if _, ok := d.left[call]; !ok {
			t.Errorf("no %s among %v", call, d.left)
		}
	}
}
