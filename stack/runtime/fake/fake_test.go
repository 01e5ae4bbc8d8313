package fake

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack/runtime"
)

func lbl(project string) map[string]string {
	return map[string]string{runtime.LabelProject: project}
}

func spec(name string, port int) runtime.ContainerSpec {
	s := runtime.ContainerSpec{Name: name, Image: "img:" + name, Labels: lbl("p"), Network: "llmmon"}
	if port != 0 {
		s.Ports = []runtime.Port{{HostIP: "127.0.0.1", HostPort: port, ContainerPort: port}}
	}
	return s
}

func TestLifecycleAndCallLog(t *testing.T) {
	ctx := context.Background()
	r := New()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	r.SetClock(func() time.Time { return t0 })
	r.AddImage("img:prometheus", "img:grafana")
	if _, err := r.EnsureNetwork(ctx, "llmmon", lbl("p")); err != nil {
		t.Fatal(err)
	}
	pid, err := r.CreateContainer(ctx, spec("prometheus", 9090))
	if err != nil {
		t.Fatal(err)
	}
	gid, err := r.CreateContainer(ctx, spec("grafana", 3000))
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
		list[1].Name != "prometheus" || list[1].State != "running" || !list[1].Running || !list[1].StartedAt.Equal(t0) {
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
	want := []string{
		"ensure network llmmon", "create prometheus", "create grafana", "start prometheus",
		"list containers p", "list containers q", "inspect prometheus", "remove grafana", "remove " + gid, "inspect " + gid,
	}
	if got := r.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("calls =\n%q\nwant\n%q", got, want)
	}
	wantActions := []string{"ensure network llmmon", "create prometheus", "create grafana", "start prometheus", "remove grafana", "remove " + gid}
	if got := r.Actions(); !reflect.DeepEqual(got, wantActions) {
		t.Errorf("actions = %q", got)
	}
	r.ResetCalls()
	if len(r.Calls()) != 0 {
		t.Error("ResetCalls kept calls")
	}
}

func TestCreateChecks(t *testing.T) {
	ctx := context.Background()
	r := New()
	r.AddImage("img:a")
	if _, err := r.CreateContainer(ctx, spec("a", 0)); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("missing network: %v", err)
	}
	s := spec("a", 0)
	s.Network = ""
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

func TestPorts(t *testing.T) {
	ctx := context.Background()
	r := New()
	r.AddImage("img:a", "img:b", "img:c")
	r.EnsureNetwork(ctx, "llmmon", lbl("p"))
	a, _ := r.CreateContainer(ctx, spec("a", 9090))
	b, _ := r.CreateContainer(ctx, spec("b", 9090))
	c, _ := r.CreateContainer(ctx, spec("c", 3000))
	if err := r.StartContainer(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(ctx, b); !errors.Is(err, runtime.ErrPortInUse) {
		t.Errorf("same port: %v", err)
	}
	r.BlockPort("", 3000)
	if err := r.StartContainer(ctx, c); !errors.Is(err, runtime.ErrPortInUse) {
		t.Errorf("blocked port: %v", err)
	}
	r.UnblockPort("", 3000)
	if err := r.StartContainer(ctx, c); err != nil {
		t.Errorf("unblocked port: %v", err)
	}
	if err := r.SetState(a, "exited", 137, 0); err != nil {
		t.Fatal(err)
	}
	if err := r.StartContainer(ctx, b); err != nil {
		t.Errorf("port freed by exit: %v", err)
	}
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	r := New()
	boom := errors.New("boom")
	r.FailOnce(MethodPing, boom)
	if _, err := r.Ping(ctx); err != boom {
		t.Errorf("first ping: %v", err)
	}
	if _, err := r.Ping(ctx); err != nil {
		t.Errorf("second ping: %v", err)
	}
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
	if _, err := r.ListContainers(ctx, "p"); !errors.Is(err, runtime.ErrDaemonUnreachable) {
		t.Errorf("unreachable: %v", err)
	}
	r.SetUnreachable(false)
	if _, err := r.ListContainers(ctx, "p"); err != nil {
		t.Errorf("reachable again: %v", err)
	}
}

func TestForeignObjects(t *testing.T) {
	ctx := context.Background()
	r := New()
	r.AddNetwork("llmmon", nil)
	r.AddVolume("data", map[string]string{"other": "x"})
	if _, err := r.EnsureNetwork(ctx, "llmmon", lbl("p")); err == nil || !strings.Contains(err.Error(), "not created by llmmon") {
		t.Errorf("ensure foreign network: %v", err)
	}
	if err := r.EnsureVolume(ctx, "data", lbl("p")); err == nil {
		t.Error("adopted a foreign volume")
	}
	if err := r.RemoveVolume(ctx, "data"); err == nil {
		t.Error("removed a foreign volume")
	}
	if err := r.RemoveNetworks(ctx, "p"); err != nil {
		t.Error(err)
	}
	if len(r.Networks()) != 1 || len(r.Volumes()) != 1 {
		t.Errorf("foreign objects touched: %+v %+v", r.Networks(), r.Volumes())
	}

	id1, err := r.EnsureNetwork(ctx, "ours", lbl("p"))
	if err != nil {
		t.Fatal(err)
	}
	if id2, err := r.EnsureNetwork(ctx, "ours", lbl("p")); err != nil || id2 != id1 {
		t.Errorf("not idempotent: %s %s %v", id1, id2, err)
	}
	if _, err := r.EnsureNetwork(ctx, "ours", lbl("q")); err == nil {
		t.Error("another project adopted the network")
	}
	if err := r.EnsureVolume(ctx, "v", lbl("p")); err != nil {
		t.Fatal(err)
	}
	if vs, _ := r.ListVolumes(ctx, "p"); len(vs) != 1 || vs[0].Name != "v" {
		t.Errorf("volumes = %+v", vs)
	}
	if err := r.RemoveVolume(ctx, "v"); err != nil {
		t.Error(err)
	}
	if err := r.RemoveVolume(ctx, "v"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("missing volume: %v", err)
	}
	if err := r.RemoveNetworks(ctx, "p"); err != nil || len(r.Networks()) != 1 {
		t.Errorf("remove networks: %v %+v", err, r.Networks())
	}
}

func TestLogsExecRunOncePullBuild(t *testing.T) {
	ctx := context.Background()
	r := New()
	r.AddImage("img:a", "helper")
	s := spec("a", 0)
	s.Network = ""
	id, _ := r.CreateContainer(ctx, s)
	r.SetLogs(id, "1\n2\n3\n")
	if got, _ := r.Logs(ctx, id, 2); got != "2\n3\n" {
		t.Errorf("logs = %q", got)
	}
	if _, _, err := r.Exec(ctx, id, []string{"true"}); err == nil {
		t.Error("exec in a stopped container")
	}
	r.StartContainer(ctx, id)
	r.SetExec(func(c Container, cmd []string) (string, int, error) {
		return c.Name + ":" + strings.Join(cmd, " "), 1, nil
	})
	if out, code, err := r.Exec(ctx, id, []string{"kill", "-HUP", "1"}); out != "a:kill -HUP 1" || code != 1 || err != nil {
		t.Errorf("exec = %q %d %v", out, code, err)
	}

	r.SetRunOnce(func(spec runtime.ContainerSpec) (string, int) { return "denied\n", 2 })
	out, err := r.RunOnce(ctx, runtime.ContainerSpec{Name: "chown", Image: "helper", Labels: lbl("p")})
	if err == nil || !strings.Contains(err.Error(), "denied") || out != "denied\n" {
		t.Errorf("run once = %q %v", out, err)
	}
	if _, ok := r.Container("chown"); ok {
		t.Error("helper left behind")
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
	if !reflect.DeepEqual(r.Images(), []string{"helper", "img:a", "prom/prometheus", "relay:1"}) {
		t.Errorf("images = %v", r.Images())
	}
	if err := r.Close(); err != nil || !r.Closed() {
		t.Error("close")
	}
}
