package stack_test

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/rules"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/runtime/fake"
	"github.com/llmmon/llmmon/stack/spec"
	"github.com/llmmon/llmmon/templates"
)

// healthyStack answers every health and reload request the way a healthy stack does, and
// records the reloads.
type healthyStack struct {
	mu      sync.Mutex
	reloads []string
}

func (h *healthyStack) RoundTrip(r *http.Request) (*http.Response, error) {
	body := "{}"
	switch {
	case strings.HasSuffix(r.URL.Path, "/-/reload"):
		h.mu.Lock()
		h.reloads = append(h.reloads, r.URL.Host)
		h.mu.Unlock()
	case r.URL.Path == "/api/v1/rules":
		body = `{"data":{"groups":[{}]}}`
	case r.URL.Path == "/api/v1/alertmanagers":
		body = `{"data":{"activeAlertmanagers":[{}]}}`
	case r.URL.Path == "/api/v1/targets":
		body = `{"data":{"activeTargets":[{"labels":{"job":"node"},"health":"up"}]}}`
	case r.URL.Path == "/api/v2/status":
		body = `{"config":{}}`
	}
	return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader(body)), Header: http.Header{}}, nil
}

func setup(t *testing.T, extra string, opts ...stack.Option) (*stack.Engine, *fake.Runtime, *spec.Spec, *healthyStack) {
	t.Helper()
	text := "name: unit\ndata_dir: " + t.TempDir() + "\ngpu: off\n" + extra
	s, _, err := spec.LoadBytes("unit.yaml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	rt := fake.New()
	for _, c := range []string{"prometheus", "alertmanager", "grafana", "node-exporter"} {
		rt.AddImage(s.Image(c))
	}
	h := &healthyStack{}
	opts = append([]stack.Option{stack.WithRuntime(rt), stack.WithHTTPClient(&http.Client{Transport: h}),
		stack.WithGPUDetector(func() (bool, string) { return false, "none" })}, opts...)
	e := stack.New(render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS}, opts...)
	return e, rt, s, h
}

func TestUpCreatesThenChangesNothing(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	res, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Changed || len(rt.Containers()) != 4 {
		t.Fatalf("changed=%v containers=%d", res.Changed, len(rt.Containers()))
	}
	for _, c := range rt.Containers() {
		l := c.Spec.Labels
		if l[runtime.LabelProject] != "unit" || l[runtime.LabelConfigHash] == "" || c.Spec.Restart != "unless-stopped" {
			t.Errorf("%s: labels %v restart %q", c.Spec.Name, l, c.Spec.Restart)
		}
	}
	rt.ResetCalls()
	res, err = e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || len(rt.Actions()) != 0 {
		t.Fatalf("second up changed something: %v", rt.Actions())
	}
}

// TestDataVolumesGetTheImagesUID: the data volume's root is given the uid each image runs as.
func TestDataVolumesGetTheImagesUID(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"prometheus": 65534, "alertmanager": 65534, "grafana": 472}
	for comp, uid := range want {
		c, ok := rt.Container("llmmon-unit-" + comp)
		if !ok {
			t.Fatalf("no %s", comp)
		}
		var dataPath string
		for _, m := range c.Spec.Mounts {
			if m.Volume {
				dataPath = m.Target
			}
		}
		entry, ok := rt.Copied(c.ID)[strings.TrimSuffix("/", "/")+"/"+strings.TrimPrefix(dataPath, "/")]
		if !ok || !entry.Dir || entry.UID != uid {
			t.Errorf("%s: data dir %s entry %+v, want uid %d", comp, dataPath, entry, uid)
		}
	}
	// Secrets and the Grafana password are copied read-only for their owner only.
	g, _ := rt.Container("llmmon-unit-grafana")
	if f := rt.Copied(g.ID)["/etc/grafana/secrets/admin-password"]; f.Mode != 0o400 || f.UID != 472 || len(f.Data) < 16 {
		t.Errorf("grafana password file: mode %o uid %d len %d", f.Mode, f.UID, len(f.Data))
	}
}

func TestRuleChangeReloadsWithoutRecreate(t *testing.T) {
	e, rt, s, h := setup(t, "")
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := rt.Container("llmmon-unit-prometheus")
	s.Alerts.Thresholds.CPUPercent = 42
	rt.ResetCalls()
	res, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after, _ := rt.Container("llmmon-unit-prometheus")
	if after.ID != before.ID || res.ComponentActions["prometheus"] != "reload" {
		t.Fatalf("prometheus: %s, id %s -> %s; calls %v", res.ComponentActions["prometheus"], before.ID, after.ID, rt.Actions())
	}
	if len(h.reloads) != 1 {
		t.Fatalf("reloads: %v", h.reloads)
	}
	for _, a := range rt.Actions() {
		if strings.HasPrefix(a, "create") || strings.HasPrefix(a, "remove") {
			t.Errorf("unexpected %q", a)
		}
	}
}

func TestImageChangeRecreatesOnlyThatComponent(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Images.Prometheus = "prom/prometheus:v3.15.1"
	rt.AddImage(s.Images.Prometheus)
	rt.ResetCalls()
	res, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for comp, a := range res.ComponentActions {
		if (comp == "prometheus") != (a == "recreate") {
			t.Errorf("%s: %s", comp, a)
		}
	}
	if vs := rt.Volumes(); len(vs) != 3 {
		t.Fatalf("volumes: %v", vs)
	}
}

func TestRemovedComponentIsRemoved(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	off := false
	s.Host = &off
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := rt.Container("llmmon-unit-node-exporter"); ok {
		t.Fatal("node-exporter still there after host: false")
	}
}

func TestPreflightChangesNothing(t *testing.T) {
	e, rt, s, _ := setup(t, "images:\n  grafana: example.invalid/grafana:1.0\n")
	rt.DropImage("example.invalid/grafana:1.0")
	rt.SetUnpullable("example.invalid/grafana:1.0")
	_, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "images.mirror") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v", err)
	}
	for _, a := range rt.Actions() {
		if !strings.HasPrefix(a, "pull") {
			t.Errorf("preflight did %q", a)
		}
	}
	if _, err := filepath.Glob(filepath.Join(s.DataDir, "*")); err != nil {
		t.Fatal(err)
	}
}

func TestDownKeepsVolumesUnlessAsked(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Down(t.Context(), s, stack.DownOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(rt.Containers()) != 0 || len(rt.Volumes()) != 3 {
		t.Fatalf("containers %d volumes %d", len(rt.Containers()), len(rt.Volumes()))
	}
	if _, err := e.Down(t.Context(), s, stack.DownOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
	if len(rt.Volumes()) != 0 {
		t.Fatalf("volumes left: %v", rt.Volumes())
	}
}

// TestPullEventsComeOneAtATime: images are pulled side by side, but the progress callback, pull
// progress included, is called one event at a time (a printer keeps state without a lock; go
// test -race).
func TestPullEventsComeOneAtATime(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	for _, c := range []string{"prometheus", "alertmanager", "grafana", "node-exporter"} {
		rt.DropImage(s.Image(c))
	}
	var events []string // no lock: the engine serialises the callbacks
	busy := false
	enter := func(what string) {
		if busy {
			t.Errorf("%s while another callback runs", what)
		}
		busy = true
		events = append(events, what)
		busy = false
	}
	_, err := e.Up(t.Context(), s, stack.UpOptions{
		Progress: func(ev stack.Event) {
			if ev.Pull != nil {
				enter(fmt.Sprintf("pull %s %d/%d layers", ev.Pull.Image, ev.Pull.LayersDone, ev.Pull.Layers))
				return
			}
			enter(ev.Component + " " + ev.Action)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	pulls := 0
	for _, ev := range events {
		if strings.HasPrefix(ev, "pull ") {
			pulls++
		}
	}
	if pulls != 8 {
		t.Errorf("%d pull progress events, want 2 for each of 4 images (a layer seen, a layer done): %v", pulls, events)
	}
}
