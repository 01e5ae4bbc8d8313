package fake

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack/runtime"
)

func lbl(project string) map[string]string {
	return map[string]string{runtime.LabelProject: project}
}

// spec is a container of project "p" on host networking, as the engine makes them.
func spec(name string) runtime.ContainerSpec {
	return runtime.ContainerSpec{Name: name, Image: "img:" + name, Labels: lbl("p"), Network: "host"}
}

func TestLifecycleAndActions(t *testing.T) {
	ctx := context.Background()
	r := New()
	r.AddImage("img:prometheus", "img:grafana")
	pid, err := r.CreateContainer(ctx, spec("prometheus"))
	if err != nil {
		t.Fatal(err)
	}
	gid, err := r.CreateContainer(ctx, spec("grafana"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(ctx, pid); err != nil {
		t.Fatal(err)
	}
	list, err := r.ListContainers(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "grafana" || list[0].State != "created" || list[0].Running ||
		list[1].Name != "prometheus" || list[1].State != "running" || !list[1].Running || list[1].StartedAt.IsZero() {
		t.Fatalf("list = %+v", list)
	}
	if other, _ := r.ListContainers(ctx, "q"); len(other) != 0 {
		t.Errorf("other project sees %+v", other)
	}
	if _, err := r.InspectContainer(ctx, "prometheus"); err != nil {
		t.Errorf("inspect by name: %v", err)
	}
	if err := r.RemoveContainer(ctx, gid); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveContainer(ctx, gid); err != nil {
		t.Errorf("removing a missing container: %v", err)
	}
	if _, err := r.InspectContainer(ctx, gid); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("inspect removed: %v", err)
	}
	// Actions leaves out the calls that read only (list, inspect).
	want := []string{"create prometheus", "create grafana", "start prometheus", "remove grafana", "remove " + gid}
	if got := r.Actions(); !reflect.DeepEqual(got, want) {
		t.Errorf("actions =\n%q\nwant\n%q", got, want)
	}
	r.ResetCalls()
	if len(r.Actions()) != 0 {
		t.Error("ResetCalls kept calls")
	}
}

func TestCreateChecks(t *testing.T) {
	ctx := context.Background()
	r := New()
	r.AddImage("img:a")
	s := spec("a")
	s.Network = "llmmon"
	if _, err := r.CreateContainer(ctx, s); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("missing network: %v", err)
	}
	s.Network = "host"
	s.Labels = nil
	if _, err := r.CreateContainer(ctx, s); err == nil {
		t.Error("created without the project label")
	}
	s.Labels = lbl("p")
	s.Image = "img:none"
	if _, err := r.CreateContainer(ctx, s); !errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("missing image: %v", err)
	}
	s.Image = "img:a"
	s.Mounts = []runtime.Mount{{Source: "data", Target: "/data", Volume: true}}
	if _, err := r.CreateContainer(ctx, s); err == nil {
		t.Error("created with a missing volume")
	}
	s.Mounts = nil
	if _, err := r.CreateContainer(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateContainer(ctx, s); err == nil {
		t.Error("created a duplicate name")
	}
	c, ok := r.Container("a")
	if !ok || !reflect.DeepEqual(c.Spec, s) {
		t.Errorf("container = %+v", c)
	}
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	r := New()
	boom := errors.New("boom")
	r.Fail(MethodImagePresent, boom)
	for range 2 {
		if _, err := r.ImagePresent(ctx, "x"); err != boom {
			t.Errorf("image present: %v", err)
		}
	}
	r.FailCall("pull b", boom)
	if err := r.PullImage(ctx, "a", nil); err != nil {
		t.Errorf("pull a: %v", err)
	}
	if err := r.PullImage(ctx, "b", nil); err != boom {
		t.Errorf("pull b: %v", err)
	}
	r.ClearFailures()
	if _, err := r.ImagePresent(ctx, "x"); err != nil {
		t.Errorf("after clear: %v", err)
	}
	r.SetUnreachable(true)
	if _, err := r.Ping(ctx); !errors.Is(err, runtime.ErrDaemonUnreachable) {
		t.Errorf("unreachable ping: %v", err)
	}
	if _, err := r.ListContainers(ctx, "p"); !errors.Is(err, runtime.ErrDaemonUnreachable) {
		t.Errorf("unreachable: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("close of an unreachable daemon: %v", err)
	}
	r.SetUnreachable(false)
	if _, err := r.ListContainers(ctx, "p"); err != nil {
		t.Errorf("reachable again: %v", err)
	}
}

func TestVolumeOwnership(t *testing.T) {
	ctx := context.Background()
	r := New()
	if err := r.EnsureVolume(ctx, "v", nil); err == nil {
		t.Error("created a volume without the project label")
	}
	if err := r.EnsureVolume(ctx, "v", lbl("p")); err != nil {
		t.Fatal(err)
	}
	if err := r.EnsureVolume(ctx, "v", lbl("p")); err != nil {
		t.Errorf("not idempotent: %v", err)
	}
	if err := r.EnsureVolume(ctx, "v", lbl("q")); err == nil || !strings.Contains(err.Error(), `belongs to llmmon stack "p"`) {
		t.Errorf("another project adopted the volume: %v", err)
	}
	if vs, _ := r.ListVolumes(ctx, "p"); len(vs) != 1 || vs[0].Name != "v" {
		t.Errorf("volumes = %+v", vs)
	}
	if vs, _ := r.ListVolumes(ctx, "q"); len(vs) != 0 {
		t.Errorf("other project sees %+v", vs)
	}
	r.AddImage("img:a")
	s := spec("a")
	s.Mounts = []runtime.Mount{{Source: "v", Target: "/data", Volume: true}}
	id, err := r.CreateContainer(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveVolume(ctx, "v"); err == nil {
		t.Error("removed a volume in use")
	}
	if err := r.RemoveContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveVolume(ctx, "v"); err != nil {
		t.Error(err)
	}
	if err := r.RemoveVolume(ctx, "v"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("missing volume: %v", err)
	}
	if err := r.RemoveNetworks(ctx, "p"); err != nil {
		t.Errorf("remove networks: %v", err)
	}
}

func TestLogsPullBuild(t *testing.T) {
	ctx := context.Background()
	r := New()
	id := r.AddContainer(Container{Container: runtime.Container{Name: "a", Labels: lbl("p")}, Logs: "1\n2\n3\n"})
	if got, _ := r.Logs(ctx, id, 2); got != "2\n3\n" {
		t.Errorf("logs = %q", got)
	}
	if got, _ := r.Logs(ctx, "a", 0); got != "1\n2\n3\n" {
		t.Errorf("all logs = %q", got)
	}

	var evs []runtime.PullEvent
	if err := r.PullImage(ctx, "prom/prometheus", func(e runtime.PullEvent) { evs = append(evs, e) }); err != nil || len(evs) != 2 {
		t.Errorf("pull: %v %+v", err, evs)
	}
	if ok, _ := r.ImagePresent(ctx, "prom/prometheus"); !ok {
		t.Error("pulled image absent")
	}
	r.SetUnpullable("nope")
	if err := r.PullImage(ctx, "nope", nil); !errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("unpullable: %v", err)
	}

	if err := r.BuildImage(ctx, "relay:1", map[string][]byte{"x": nil}, nil); err == nil {
		t.Error("built without a Dockerfile")
	}
	files := map[string][]byte{"Dockerfile": []byte("FROM scratch")}
	if err := r.BuildImage(ctx, "relay:1", files, nil); err != nil {
		t.Fatal(err)
	}
	if got, ok := r.Built("relay:1"); !ok || string(got["Dockerfile"]) != "FROM scratch" {
		t.Errorf("built = %v", got)
	}
	if !reflect.DeepEqual(r.Images(), []string{"prom/prometheus", "relay:1"}) {
		t.Errorf("images = %v", r.Images())
	}
	if err := r.Close(); err != nil {
		t.Error("close")
	}
}
