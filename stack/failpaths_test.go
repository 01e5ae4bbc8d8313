package stack_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/runtime"
)

// refuseReloads answers like a healthy stack, except that while on it refuses every reload
// (HTTP 500, as Prometheus answers a configuration it cannot load).
type refuseReloads struct {
	healthyStack
	on       atomic.Bool
	refusals atomic.Int32
}

func (r *refuseReloads) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.on.Load() && strings.HasSuffix(req.URL.Path, "/-/reload") {
		r.refusals.Add(1)
		return &http.Response{StatusCode: 500, Body: io.NopCloser(strings.NewReader("failed to reload config")), Header: http.Header{}}, nil
	}
	return r.healthyStack.RoundTrip(req)
}

// TestFailedReloadRecreates: when a component refuses to reload its new files, up recreates it
// (its data volume stays) instead of failing, leaves the other components alone, and the next up
// finds nothing to do.
func TestFailedReloadRecreates(t *testing.T) {
	h := &refuseReloads{}
	e, rt, s, _ := setup(t, "", stack.WithHTTPClient(&http.Client{Transport: h}))
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, c := range rt.Containers() {
		before[c.Name] = c.ID
	}
	volumes := rt.Volumes()
	s.Alerts.Thresholds.CPUPercent = 42 // a rule change: prometheus reloads
	h.on.Store(true)
	rt.ResetCalls()
	res, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatalf("up with a refused reload: %v", err)
	}
	if st, _ := res.Plan.For("prometheus"); st.Op != stack.OpReload || h.refusals.Load() != 1 {
		t.Fatalf("planned %v, %d refused reloads", st, h.refusals.Load())
	}
	if a := res.ComponentActions["prometheus"]; a != "recreate" {
		t.Fatalf("prometheus: %q, want recreate; actions %v", a, rt.Actions())
	}
	p, _ := rt.Container("llmmon-unit-prometheus")
	if p.ID == before[p.Name] || !p.Running {
		t.Fatalf("prometheus %s running=%v (was %s)", p.ID, p.Running, before[p.Name])
	}
	for _, c := range rt.Containers() {
		if c.Name != p.Name && (c.ID != before[c.Name] || !c.Running) {
			t.Errorf("%s was touched: %s -> %s running=%v", c.Name, before[c.Name], c.ID, c.Running)
		}
	}
	for _, a := range rt.Actions() {
		if !strings.Contains(a, "prometheus") || strings.HasPrefix(a, "remove volume") {
			t.Errorf("unexpected %q", a)
		}
	}
	if got := rt.Volumes(); len(got) != len(volumes) {
		t.Errorf("volumes %v, were %v", got, volumes)
	}
	// The recreated container holds the new files: nothing left to do.
	rt.ResetCalls()
	if res, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil || res.Changed || len(rt.Actions()) != 0 {
		t.Fatalf("next up: err %v changed %v actions %v", err, res.Changed, rt.Actions())
	}
}

// TestPortTakenAtStart: a port taken between the preflight and the start (here, by the time the
// recreated grafana starts) fails up with a message naming the port and the spec field; nothing
// but that component was changed, the half-made container is kept (and recreated by the next
// up), and no volume is removed.
func TestPortTakenAtStart(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, c := range rt.Containers() {
		before[c.Name] = c.ID
	}
	g, _ := rt.Container("llmmon-unit-grafana")
	addr := g.Labels[runtime.LabelListen]
	s.Images.Grafana = "grafana/grafana:12.9.9"
	rt.AddImage(s.Images.Grafana)
	rt.FailCall("start llmmon-unit-grafana", fmt.Errorf("start container 0123456789ab: listen tcp4 %s: bind: address already in use: %w", addr, runtime.ErrPortInUse))
	rt.ResetCalls()
	_, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err == nil || !errors.Is(err, runtime.ErrPortInUse) {
		t.Fatalf("up with grafana's port taken: %v", err)
	}
	want := "grafana: port " + addr + " is already in use; stop whatever holds it or change grafana.port in the spec"
	if addr == "" || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message %q\nwant it to start with %q", err, want)
	}
	for _, a := range rt.Actions() {
		if !strings.Contains(a, "grafana") || strings.HasPrefix(a, "remove volume") {
			t.Errorf("unexpected %q", a)
		}
	}
	for _, c := range rt.Containers() {
		if c.Name != g.Name && (c.ID != before[c.Name] || !c.Running) {
			t.Errorf("%s was touched: %s -> %s running=%v", c.Name, before[c.Name], c.ID, c.Running)
		}
	}
	half, ok := rt.Container(g.Name)
	if !ok || half.State != "created" || half.Image != s.Images.Grafana {
		t.Fatalf("grafana after the failed start: %+v", half)
	}
	if n := len(rt.Volumes()); n != 3 {
		t.Errorf("%d volumes", n)
	}
	// Once the port is free, up replaces the never-started container.
	rt.ClearFailures()
	res, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if now, _ := rt.Container(g.Name); res.ComponentActions["grafana"] != "recreate" || now.ID == half.ID || !now.Running {
		t.Fatalf("grafana: %s, %+v", res.ComponentActions["grafana"], now)
	}
}

// TestUnreachableDaemon: with no daemon, up, status and down fail at once with the runtime's
// own message (the Docker runtime's tells the user how to start the daemon or set DOCKER_HOST),
// unwrapped by the engine, and change nothing: up does not even create the data directory.
func TestUnreachableDaemon(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	rt.SetUnreachable(true)
	_, pingErr := rt.Ping(t.Context())
	if pingErr == nil {
		t.Fatal("the fake daemon answers")
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, runtime.ErrDaemonUnreachable) || err.Error() != pingErr.Error() {
			t.Errorf("%s: %v\nwant the runtime's message %q", what, err, pingErr)
		}
	}
	rt.ResetCalls()
	_, err := e.Up(t.Context(), s, stack.UpOptions{})
	check("up", err)
	_, err = e.Status(t.Context(), s)
	check("status", err)
	_, err = e.Down(t.Context(), s, stack.DownOptions{Volumes: true})
	check("down", err)
	fresh := *s
	fresh.DataDir = filepath.Join(t.TempDir(), "fresh")
	_, err = e.Up(t.Context(), &fresh, stack.UpOptions{})
	check("up on a fresh data directory", err)
	if files, _ := filepath.Glob(fresh.DataDir); len(files) != 0 {
		t.Errorf("up without a daemon created %v", files)
	}
	if a := rt.Actions(); len(a) != 0 {
		t.Errorf("actions without a daemon: %v", a)
	}
	rt.SetUnreachable(false)
	if n := len(rt.Containers()); n != 4 {
		t.Errorf("%d containers", n)
	}
	for _, c := range rt.Containers() {
		if !c.Running {
			t.Errorf("%s stopped", c.Name)
		}
	}
}

// TestRefusedPullKeepsTheRunningStack: an image that cannot be pulled stops up before any
// container is touched, with a message naming the image and what to do about it.
func TestRefusedPullKeepsTheRunningStack(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := rt.Container("llmmon-unit-grafana")
	s.Images.Grafana = "example.invalid/grafana:1.0"
	rt.SetUnpullable(s.Images.Grafana)
	rt.ResetCalls()
	_, err := e.Up(t.Context(), s, stack.UpOptions{})
	if !errors.Is(err, stack.ErrPreflight) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{"nothing was changed", "grafana: cannot pull image example.invalid/grafana:1.0", "images.mirror", "images.grafana"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if a := rt.Actions(); len(a) != 1 || a[0] != "pull example.invalid/grafana:1.0" {
		t.Errorf("actions: %v", a)
	}
	if after, _ := rt.Container(before.Name); after.ID != before.ID || !after.Running || after.Image == s.Images.Grafana {
		t.Errorf("grafana was touched: %+v", after)
	}
}
