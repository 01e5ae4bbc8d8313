package stack_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/runtime/fake"
)

// TestInterruptedCopyIsRecreatedNotStarted: a run stops after creating Grafana but before its
// files are in (the copy fails, as when llmmon is killed there), on a data directory with
// history; the next up recreates the half-made container instead of starting it, and the
// container that runs holds every file, the password included.
func TestInterruptedCopyIsRecreatedNotStarted(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	s.Images.Grafana = "grafana/grafana:12.9.9"
	rt.AddImage(s.Images.Grafana)
	rt.FailCall("copy llmmon-unit-grafana:/", errors.New("killed"))
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err == nil {
		t.Fatal("up with a failing copy succeeded")
	}
	half, _ := rt.Container("llmmon-unit-grafana")
	if half.State != "created" {
		t.Fatalf("the interrupted run left grafana %s", half.State)
	}
	rt.ClearFailures()
	res, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := res.Plan.For("grafana"); st.Op != stack.OpRecreate || !strings.Contains(st.Cause, "never started") {
		t.Fatalf("plan for grafana: %v", res.Plan)
	}
	g, _ := rt.Container("llmmon-unit-grafana")
	if g.ID == half.ID || !g.Running {
		t.Fatalf("grafana %s running=%v (half-made one was %s)", g.ID, g.Running, half.ID)
	}
	files := rt.Copied(g.ID)
	if _, ok := files["/etc/grafana/secrets/admin-password"]; !ok {
		t.Fatal("the running grafana has no password file")
	}
	if _, ok := files["/etc/grafana/.llmmon-files"]; !ok {
		t.Fatal("the running grafana has no marker")
	}
}

// TestMarkerNotStateFileDecides: the files a container holds are read back from it, so a
// container whose files were replaced behind llmmon's back (or a lost data directory) is
// refilled and reloaded, and a no-op up after that does nothing.
func TestMarkerNotStateFileDecides(t *testing.T) {
	e, rt, s, h := setup(t, "")
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	p, _ := rt.Container("llmmon-unit-prometheus")
	// An interrupted reload: the copy got only part of the files; the marker is stale.
	if err := rt.CopyFiles(t.Context(), p.ID, "/", []runtime.FileEntry{{Path: "etc/prometheus/.llmmon-files", Link: "files-stale"}}); err != nil {
		t.Fatal(err)
	}
	res, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ComponentActions["prometheus"] != "reload" || len(h.reloads) != 1 {
		t.Fatalf("actions %v reloads %v", res.ComponentActions, h.reloads)
	}
	rt.ResetCalls()
	if res, err = e.Up(t.Context(), s, stack.UpOptions{}); err != nil || res.Changed || len(rt.Actions()) != 0 {
		t.Fatalf("no-op up: err %v changed %v actions %v", err, res.Changed, rt.Actions())
	}
}

// TestLookAlikesAreNeverTouched: a container carrying only the stack's project label is neither
// removed by up nor by down; a label-less container with one of llmmon's names stops up in the
// preflight, which names it and changes nothing.
func TestLookAlikesAreNeverTouched(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	labelsOnly := rt.AddContainer(fake.Container{Container: runtime.Container{Name: "someone-elses", Image: "busybox", Running: true,
		Labels: map[string]string{runtime.LabelProject: "unit"}}})
	nameOnly := rt.AddContainer(fake.Container{Container: runtime.Container{Name: "llmmon-unit-grafana", Image: "nginx", Running: true}})
	_, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err == nil || !errors.Is(err, stack.ErrPreflight) || !strings.Contains(err.Error(), "llmmon-unit-grafana") || !strings.Contains(err.Error(), "docker rename") {
		t.Fatalf("up with a name in the way: %v", err)
	}
	for _, a := range rt.Actions() {
		t.Errorf("preflight did %q", a)
	}
	if err := rt.RemoveContainer(t.Context(), nameOnly); err != nil {
		t.Fatal(err)
	}
	res, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "someone-elses") && strings.Contains(n, "left alone") }) {
		t.Errorf("notes do not mention the look-alike: %v", res.Notes)
	}
	if _, err := e.Down(t.Context(), s, stack.DownOptions{Volumes: true}); err != nil {
		t.Fatal(err)
	}
	if c, ok := rt.Container(labelsOnly); !ok || !c.Running {
		t.Fatal("the look-alike with the project label was touched")
	}
}

// TestPortChangeToTakenPortChangesNothing: moving a running Grafana to a port that another
// program holds fails in the preflight; the running Grafana stays.
func TestPortChangeToTakenPortChangesNothing(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := rt.Container("llmmon-unit-grafana")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s.Grafana.Port = l.Addr().(*net.TCPAddr).Port
	rt.ResetCalls()
	_, err = e.Up(t.Context(), s, stack.UpOptions{})
	if err == nil || !strings.Contains(err.Error(), "grafana.port") || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v", err)
	}
	if a := rt.Actions(); len(a) != 0 {
		t.Fatalf("a failed preflight changed: %v", a)
	}
	if after, _ := rt.Container("llmmon-unit-grafana"); after.ID != before.ID || !after.Running {
		t.Fatal("the running grafana was touched")
	}
}

// TestDryRunChangesNothing: --dry-run plans and checks on a fresh data directory and writes and
// changes nothing, not even the password file.
func TestDryRunChangesNothing(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	s.DataDir = filepath.Join(t.TempDir(), "fresh")
	res, err := e.Up(t.Context(), s, stack.UpOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Plan.String(); strings.Count(got, "create ") != 4 {
		t.Fatalf("plan:\n%s", got)
	}
	if a := rt.Actions(); len(a) != 0 {
		t.Fatalf("dry run did %v", a)
	}
	if _, err := os.Stat(s.DataDir); !os.IsNotExist(err) {
		t.Fatalf("dry run created the data directory: %v", err)
	}
}

// TestSecondUpWaitsOrFails: while one up holds the stack's lock, another fails at once with
// --no-wait, or waits (saying for whom) and then converges.
func TestSecondUpWaitsOrFails(t *testing.T) {
	e, rt, s, _ := setup(t, "")
	gate := make(chan struct{})
	started := make(chan struct{})
	var once sync.Once
	slow := stack.UpOptions{Progress: func(ev stack.Event) {
		if ev.Action == "create" {
			once.Do(func() { close(started); <-gate })
		}
	}}
	first := make(chan error, 1)
	go func() { _, err := e.Up(t.Context(), s, slow); first <- err }()
	<-started
	if _, err := e.Up(t.Context(), s, stack.UpOptions{NoWait: true}); !errors.Is(err, stack.ErrLocked) || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Fatalf("second up with NoWait: %v", err)
	}
	var waited string
	waiting := make(chan struct{})
	second := make(chan error, 1)
	go func() {
		_, err := e.Up(t.Context(), s, stack.UpOptions{Progress: func(ev stack.Event) {
			if ev.Action == "wait" && strings.Contains(ev.Detail, "is changing this stack") && waited == "" {
				waited = ev.Detail
				close(waiting)
			}
		}})
		second <- err
	}()
	select {
	case <-waiting:
	case <-time.After(30 * time.Second):
		t.Fatal("the second up did not say it waits")
	}
	close(gate)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if err := <-second; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(waited, "llmmon up") {
		t.Errorf("the waiting run was told %q", waited)
	}
	if n := len(rt.Containers()); n != 4 {
		t.Fatalf("%d containers", n)
	}
}
