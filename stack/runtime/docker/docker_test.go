package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"

	"github.com/llmmon/llmmon/stack/runtime"
)

func notFound(what string) error {
	return fmt.Errorf("Error response from daemon: No such %s: %w", what, cerrdefs.ErrNotFound)
}

func labels(project string) map[string]string {
	return map[string]string{runtime.LabelProject: project, runtime.LabelManaged: "true"}
}

func body(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

// projectFilterWant is the filter that selects project's objects, as the client sends it.
func projectFilterWant(project string) client.Filters {
	return client.Filters{"label": {runtime.LabelProject + "=" + project: true}}
}

func TestCreateContainerMapsSpec(t *testing.T) {
	api := &fakeAPI{}
	d := NewWithClient(api)
	spec := runtime.ContainerSpec{
		Name:   "llmmon-prometheus",
		Image:  "prom/prometheus:v3.0.0",
		Cmd:    []string{"--config.file=/etc/prometheus/prometheus.yml"},
		Env:    []string{"A=1"},
		User:   "65534:65534",
		Labels: map[string]string{runtime.LabelProject: "p", runtime.LabelComponent: "prometheus"},
		Mounts: []runtime.Mount{
			{Source: "/etc/llmmon/prometheus.yml", Target: "/etc/prometheus/prometheus.yml", ReadOnly: true},
			{Source: "llmmon-prometheus-data", Target: "/prometheus", Volume: true},
		},
		Network:     "llmmon",
		GPUs:        true,
		CapAdd:      []string{"SYS_ADMIN"},
		PidHost:     true,
		Restart:     "unless-stopped",
		StopTimeout: 1500 * time.Millisecond,
	}
	id, err := d.CreateContainer(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if id != "id-llmmon-prometheus" {
		t.Errorf("id = %q", id)
	}
	if len(api.creates) != 1 {
		t.Fatalf("creates = %d", len(api.creates))
	}
	r := api.creates[0]
	if r.Name != "llmmon-prometheus" || r.Image != "" || r.Platform != nil {
		t.Errorf("name = %q, image option %q, platform %v", r.Name, r.Image, r.Platform)
	}
	c, h := r.Config, r.Host
	if c.Image != spec.Image || !reflect.DeepEqual([]string(c.Cmd), spec.Cmd) ||
		len(c.Entrypoint) != 0 || !reflect.DeepEqual(c.Env, spec.Env) ||
		c.User != spec.User || !reflect.DeepEqual(c.Labels, spec.Labels) {
		t.Errorf("config = %+v", c)
	}
	if c.StopTimeout == nil || *c.StopTimeout != 2 {
		t.Errorf("stop timeout = %v, want 2 (rounded up)", c.StopTimeout)
	}
	if c.Tty {
		t.Error("tty set")
	}
	if h.RestartPolicy.Name != container.RestartPolicyUnlessStopped {
		t.Errorf("restart = %+v", h.RestartPolicy)
	}
	wantGPU := []container.DeviceRequest{{Driver: "nvidia", Count: -1, Capabilities: [][]string{{"gpu", "utility"}}}}
	if !reflect.DeepEqual(h.DeviceRequests, wantGPU) {
		t.Errorf("device requests = %+v", h.DeviceRequests)
	}
	wantMounts := []mount.Mount{
		{Type: mount.TypeBind, Source: "/etc/llmmon/prometheus.yml", Target: "/etc/prometheus/prometheus.yml", ReadOnly: true},
		{Type: mount.TypeVolume, Source: "llmmon-prometheus-data", Target: "/prometheus"},
	}
	if !reflect.DeepEqual(h.Mounts, wantMounts) {
		t.Errorf("mounts = %+v", h.Mounts)
	}
	if len(h.Binds) != 0 {
		t.Errorf("binds = %v", h.Binds)
	}
	if !reflect.DeepEqual([]string(h.CapAdd), []string{"SYS_ADMIN"}) || h.PidMode != "host" {
		t.Errorf("host config = cap %v pid %q", h.CapAdd, h.PidMode)
	}
	if h.NetworkMode != "llmmon" || r.Network != nil {
		t.Errorf("network mode = %q, networking config = %+v", h.NetworkMode, r.Network)
	}
}

func TestCreateContainerHostNetwork(t *testing.T) {
	api := &fakeAPI{}
	d := NewWithClient(api)
	_, err := d.CreateContainer(context.Background(), runtime.ContainerSpec{
		Name:    "llmmon-node-exporter",
		Image:   "prom/node-exporter",
		Labels:  labels("p"),
		Network: "host",
	})
	if err != nil {
		t.Fatal(err)
	}
	r := api.creates[0]
	if r.Host.NetworkMode != "host" {
		t.Errorf("network mode = %q", r.Host.NetworkMode)
	}
	if r.Network != nil {
		t.Errorf("networking config = %+v, want none", r.Network)
	}
	if r.Config.StopTimeout != nil {
		t.Errorf("stop timeout = %v, want unset", *r.Config.StopTimeout)
	}
	if r.Host.RestartPolicy.Name != "" || r.Host.DeviceRequests != nil {
		t.Errorf("restart %+v, devices %+v", r.Host.RestartPolicy, r.Host.DeviceRequests)
	}
}

func TestCreateContainerErrors(t *testing.T) {
	ctx := context.Background()
	api := &fakeAPI{}
	d := NewWithClient(api)
	if _, err := d.CreateContainer(ctx, runtime.ContainerSpec{Name: "x", Image: "i"}); err == nil {
		t.Error("created a container without the project label")
	}
	if len(api.creates) != 0 {
		t.Error("create request sent for a spec without the project label")
	}

	api.create = func(createReq) (client.ContainerCreateResult, error) {
		return client.ContainerCreateResult{}, notFound("image: prom/prometheus:v9")
	}
	_, err := d.CreateContainer(ctx, runtime.ContainerSpec{Name: "x", Image: "prom/prometheus:v9", Labels: labels("p")})
	if !errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("missing image: %v", err)
	}
	api.create = func(createReq) (client.ContainerCreateResult, error) {
		return client.ContainerCreateResult{}, fmt.Errorf("network llmmon not found: %w", cerrdefs.ErrNotFound)
	}
	_, err = d.CreateContainer(ctx, runtime.ContainerSpec{Name: "x", Image: "i", Labels: labels("p"), Network: "llmmon"})
	if !errors.Is(err, runtime.ErrNotFound) || errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("missing network: %v", err)
	}
}

func TestListContainersFiltersByProject(t *testing.T) {
	started := "2025-01-02T03:04:05.123456789Z"
	api := &fakeAPI{
		list: func(client.ContainerListOptions) ([]container.Summary, error) {
			return []container.Summary{{ID: "b"}, {ID: "a"}, {ID: "gone"}}, nil
		},
		inspect: func(id string) (container.InspectResponse, error) {
			if id == "gone" {
				return container.InspectResponse{}, notFound("container: gone")
			}
			return container.InspectResponse{
				ID: id, Name: "/llmmon-" + id, Image: "sha256:" + id, RestartCount: 3,
				State:  &container.State{Status: "running", Running: true, StartedAt: started, ExitCode: 0},
				Config: &container.Config{Image: "img:" + id, Labels: labels("p")},
			}, nil
		},
	}
	d := NewWithClient(api)
	got, err := d.ListContainers(context.Background(), "p")
	if err != nil {
		t.Fatal(err)
	}
	o := api.lists[0]
	if !o.All || !reflect.DeepEqual(o.Filters, projectFilterWant("p")) {
		t.Errorf("list options = %+v", o)
	}
	if len(got) != 2 || got[0].Name != "llmmon-a" || got[1].Name != "llmmon-b" {
		t.Fatalf("containers = %+v", got)
	}
	want := runtime.Container{
		ID: "a", Name: "llmmon-a", Image: "img:a", Labels: labels("p"),
		State: "running", Running: true, RestartCount: 3,
		StartedAt: time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC),
	}
	if !reflect.DeepEqual(got[0], want) {
		t.Errorf("container = %+v\nwant %+v", got[0], want)
	}
}

func TestInspectNotFound(t *testing.T) {
	api := &fakeAPI{inspect: func(id string) (container.InspectResponse, error) {
		return container.InspectResponse{}, notFound("container: " + id)
	}}
	_, err := NewWithClient(api).InspectContainer(context.Background(), "nope")
	if !errors.Is(err, runtime.ErrNotFound) {
		t.Fatalf("err = %v", err)
	}
	if !strings.HasPrefix(err.Error(), "inspect container nope: ") {
		t.Errorf("message = %q", err)
	}
}

func TestStartPortInUse(t *testing.T) {
	for _, msg := range []string{
		"driver failed programming external connectivity on endpoint x: Bind for 0.0.0.0:9090 failed: port is already allocated",
		"driver failed programming external connectivity on endpoint x: Error starting userland proxy: listen tcp4 127.0.0.1:9090: bind: address already in use",
	} {
		api := &fakeAPI{start: func(string) error { return errors.New(msg) }}
		err := NewWithClient(api).StartContainer(context.Background(), "c1")
		if !errors.Is(err, runtime.ErrPortInUse) || !strings.Contains(err.Error(), msg) {
			t.Errorf("err = %v", err)
		}
	}
	api := &fakeAPI{start: func(string) error { return errors.New("oci runtime error") }}
	if err := NewWithClient(api).StartContainer(context.Background(), "c1"); err == nil || errors.Is(err, runtime.ErrPortInUse) {
		t.Errorf("err = %v", err)
	}
}

func TestRemoveContainer(t *testing.T) {
	ctx := context.Background()
	seven := 7
	for _, tc := range []struct {
		name      string
		stopAfter *int
		want      int
	}{
		{"default grace", nil, 10},
		{"spec grace", &seven, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &fakeAPI{inspect: func(id string) (container.InspectResponse, error) {
				return container.InspectResponse{
					ID:     id,
					Config: &container.Config{StopTimeout: tc.stopAfter},
				}, nil
			}}
			if err := NewWithClient(api).RemoveContainer(ctx, "c1"); err != nil {
				t.Fatal(err)
			}
			if len(api.stops) != 1 || api.stops[0].Timeout == nil || *api.stops[0].Timeout != tc.want {
				t.Errorf("stops = %+v", api.stops)
			}
			if len(api.removes) != 1 || api.removes[0] != (client.ContainerRemoveOptions{Force: true}) {
				t.Errorf("removes = %+v", api.removes)
			}
			want := []string{"container inspect c1", "container stop c1", "container remove c1"}
			if !reflect.DeepEqual(api.Calls(), want) {
				t.Errorf("calls = %v", api.Calls())
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		api := &fakeAPI{inspect: func(id string) (container.InspectResponse, error) {
			return container.InspectResponse{}, notFound("container: " + id)
		}}
		if err := NewWithClient(api).RemoveContainer(ctx, "c1"); err != nil {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("vanishes while stopping", func(t *testing.T) {
		api := &fakeAPI{
			inspect: func(id string) (container.InspectResponse, error) { return container.InspectResponse{}, nil },
			stop:    func(id string) error { return notFound("container: " + id) },
			remove:  func(id string) error { return notFound("container: " + id) },
		}
		if err := NewWithClient(api).RemoveContainer(ctx, "c1"); err != nil {
			t.Errorf("err = %v", err)
		}
	})
}

func TestLogsDemultiplexes(t *testing.T) {
	stream := multiplexed("out 1\n", "err 1\n", "out 2\n")
	api := &fakeAPI{
		inspect: func(id string) (container.InspectResponse, error) {
			return container.InspectResponse{Config: &container.Config{}}, nil
		},
		containerLogs: func(string) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(stream)), nil },
	}
	d := NewWithClient(api)
	got, err := d.Logs(context.Background(), "c1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if got != "out 1\nerr 1\nout 2\n" {
		t.Errorf("logs = %q", got)
	}
	if o := api.logs[0]; !o.ShowStdout || !o.ShowStderr || o.Tail != "3" || o.Follow {
		t.Errorf("options = %+v", o)
	}
	if _, err := d.Logs(context.Background(), "c1", 0); err != nil {
		t.Fatal(err)
	}
	if api.logs[1].Tail != "all" {
		t.Errorf("tail = %q", api.logs[1].Tail)
	}

	// With a TTY the stream is raw.
	api.inspect = func(string) (container.InspectResponse, error) {
		return container.InspectResponse{Config: &container.Config{Tty: true}}, nil
	}
	api.containerLogs = func(string) (io.ReadCloser, error) { return body("raw\r\n"), nil }
	if got, err := d.Logs(context.Background(), "c1", 5); err != nil || got != "raw\r\n" {
		t.Errorf("tty logs = %q, %v", got, err)
	}
}

// TestExecAsWaitsForTheExit: execAs (RemoveFiles' exec) returns the demultiplexed output and
// the exit code, re-inspecting an exec whose output has ended but which is still running.
func TestExecAsWaitsForTheExit(t *testing.T) {
	inspects := 0
	api := &fakeAPI{
		execCreate: func(id string, o client.ExecCreateOptions) (client.ExecCreateResult, error) {
			if !reflect.DeepEqual(o.Cmd, []string{"kill", "-HUP", "1"}) || o.User != "0:0" || !o.AttachStdout || !o.AttachStderr || o.TTY || o.AttachStdin {
				t.Errorf("exec options = %+v", o)
			}
			return client.ExecCreateResult{ID: "e1"}, nil
		},
		execAttach: func(string) (client.HijackedResponse, error) {
			return hijacked(multiplexed("reloaded\n", "warn\n")), nil
		},
		execInspect: func(string) (client.ExecInspectResult, error) {
			inspects++
			return client.ExecInspectResult{Running: inspects < 2, ExitCode: 2}, nil
		},
	}
	d := NewWithClient(api)
	d.execPoll = time.Millisecond
	out, code, err := d.execAs(context.Background(), "c1", "0:0", []string{"kill", "-HUP", "1"})
	if err != nil {
		t.Fatal(err)
	}
	if out != "reloaded\nwarn\n" || code != 2 || inspects != 2 {
		t.Errorf("out %q code %d inspects %d", out, code, inspects)
	}
}

func TestRemoveNetworks(t *testing.T) {
	api := &fakeAPI{
		networkList: func(client.NetworkListOptions) ([]network.Summary, error) {
			return []network.Summary{
				{Network: network.Network{ID: "n1", Name: "a", Labels: labels("p")}},
				{Network: network.Network{ID: "n2", Name: "b", Labels: labels("p")}},
			}, nil
		},
		networkRemove: func(id string) error {
			if id == "n1" {
				return notFound("network")
			}
			return nil
		},
	}
	if err := NewWithClient(api).RemoveNetworks(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(api.netOpts[0].Filters, projectFilterWant("p")) {
		t.Errorf("filters = %v", api.netOpts[0].Filters)
	}
	want := []string{"network list", "network remove n1", "network remove n2"}
	if !reflect.DeepEqual(api.Calls(), want) {
		t.Errorf("calls = %v", api.Calls())
	}
}

func TestVolumes(t *testing.T) {
	ctx := context.Background()
	vols := map[string]volume.Volume{
		"ours":    {Name: "ours", Labels: labels("p")},
		"foreign": {Name: "foreign"},
	}
	var created []client.VolumeCreateOptions
	api := &fakeAPI{
		volumeInspect: func(name string) (volume.Volume, error) {
			if v, ok := vols[name]; ok {
				return v, nil
			}
			return volume.Volume{}, notFound("volume")
		},
		volumeCreate: func(o client.VolumeCreateOptions) (volume.Volume, error) {
			created = append(created, o)
			return volume.Volume{Name: o.Name, Labels: o.Labels}, nil
		},
		volumeRemove: func(string, bool) error { return nil },
		volumeList: func(client.VolumeListOptions) ([]volume.Volume, error) {
			return []volume.Volume{{Name: "z", Labels: labels("p")}, {Name: "ours", Labels: labels("p")}}, nil
		},
	}
	d := NewWithClient(api)
	if err := d.EnsureVolume(ctx, "ours", labels("p")); err != nil {
		t.Error(err)
	}
	if err := d.EnsureVolume(ctx, "new", labels("p")); err != nil {
		t.Error(err)
	}
	if len(created) != 1 || created[0].Name != "new" || created[0].Driver != "local" || !reflect.DeepEqual(created[0].Labels, labels("p")) {
		t.Errorf("created = %+v", created)
	}
	if err := d.EnsureVolume(ctx, "foreign", labels("p")); err == nil || !strings.Contains(err.Error(), "not created by llmmon") {
		t.Errorf("foreign ensure: %v", err)
	}
	if err := d.EnsureVolume(ctx, "ours", labels("q")); err == nil {
		t.Error("adopted another project's volume")
	}
	if err := d.RemoveVolume(ctx, "foreign"); err == nil {
		t.Error("removed a foreign volume")
	}
	if err := d.RemoveVolume(ctx, "missing"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	if err := d.RemoveVolume(ctx, "ours"); err != nil {
		t.Error(err)
	}
	for _, c := range api.Calls() {
		if strings.HasPrefix(c, "volume remove") && c != "volume remove ours force=false" {
			t.Errorf("unexpected %q", c)
		}
	}
	list, err := d.ListVolumes(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "ours" || list[1].Name != "z" {
		t.Errorf("list = %+v", list)
	}
	if !reflect.DeepEqual(api.volOpts[0].Filters, projectFilterWant("p")) {
		t.Errorf("filters = %v", api.volOpts[0].Filters)
	}
}

func TestPullImage(t *testing.T) {
	ctx := context.Background()
	stream := `{"status":"Pulling from prom/prometheus","id":"v3"}
{"status":"Downloading","progressDetail":{"current":10,"total":100},"id":"abc"}
{"status":"Pull complete","id":"abc"}
{"status":"Status: Downloaded newer image for prom/prometheus:v3"}
`
	api := &fakeAPI{imagePull: func(string) (io.ReadCloser, error) { return body(stream), nil }}
	d := NewWithClient(api)
	var evs []runtime.PullEvent
	if err := d.PullImage(ctx, "prom/prometheus:v3", func(e runtime.PullEvent) { evs = append(evs, e) }); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 {
		t.Fatalf("events = %+v", evs)
	}
	if want := (runtime.PullEvent{Image: "prom/prometheus:v3", ID: "abc", Status: "Downloading", Current: 10, Total: 100}); evs[1] != want {
		t.Errorf("event = %+v", evs[1])
	}
	if err := d.PullImage(ctx, "prom/prometheus:v3", nil); err != nil {
		t.Errorf("nil callback: %v", err)
	}

	api.imagePull = func(string) (io.ReadCloser, error) {
		return body(`{"status":"Pulling"}` + "\n" + `{"errorDetail":{"message":"unexpected EOF"},"error":"unexpected EOF"}`), nil
	}
	err := d.PullImage(ctx, "x", nil)
	if err == nil || !strings.Contains(err.Error(), "unexpected EOF") || errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("stream error: %v", err)
	}

	api.imagePull = func(string) (io.ReadCloser, error) {
		return nil, fmt.Errorf("Error response from daemon: manifest for prom/prometheus:v9 not found: manifest unknown: %w", cerrdefs.ErrNotFound)
	}
	if err := d.PullImage(ctx, "prom/prometheus:v9", nil); !errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("missing image: %v", err)
	}
	api.imagePull = func(string) (io.ReadCloser, error) {
		return nil, errors.New("Error response from daemon: pull access denied for nope/nope, repository does not exist or may require 'docker login'")
	}
	if err := d.PullImage(ctx, "nope/nope", nil); !errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("missing repository: %v", err)
	}
}

func TestImagePresent(t *testing.T) {
	api := &fakeAPI{imageInspect: func(ref string) (image.InspectResponse, error) {
		if ref == "here" {
			return image.InspectResponse{ID: "sha256:1"}, nil
		}
		return image.InspectResponse{}, notFound("image")
	}}
	d := NewWithClient(api)
	if ok, err := d.ImagePresent(context.Background(), "here"); !ok || err != nil {
		t.Errorf("here: %v %v", ok, err)
	}
	if ok, err := d.ImagePresent(context.Background(), "gone"); ok || err != nil {
		t.Errorf("gone: %v %v", ok, err)
	}
}

func TestBuildImage(t *testing.T) {
	ctx := context.Background()
	api := &fakeAPI{imageBuild: func(client.ImageBuildOptions) (client.ImageBuildResult, error) {
		return client.ImageBuildResult{Body: body(`{"stream":"Step 1/2 : FROM scratch\n"}` + "\n" + `{"aux":{"ID":"sha256:1"}}` + "\n")}, nil
	}}
	d := NewWithClient(api)
	files := map[string][]byte{"Dockerfile": []byte("FROM scratch\nCOPY bin/relay /relay\n"), "bin/relay": []byte("ELF")}
	if err := d.BuildImage(ctx, "llmmon-relay:1", files, labels("p")); err != nil {
		t.Fatal(err)
	}
	o := api.builds[0]
	if !reflect.DeepEqual(o.Tags, []string{"llmmon-relay:1"}) || !o.Remove || !o.ForceRemove ||
		!reflect.DeepEqual(o.Labels, labels("p")) || o.Dockerfile != "Dockerfile" || o.Version != build.BuilderV1 {
		t.Errorf("options = %+v", o)
	}
	tr := tar.NewReader(bytes.NewReader(api.buildCx[0]))
	got := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Mode != 0o755 {
			t.Errorf("%s: mode %o", h.Name, h.Mode)
		}
		b, _ := io.ReadAll(tr)
		got[h.Name] = string(b)
	}
	want := map[string]string{"Dockerfile": string(files["Dockerfile"]), "bin/": "", "bin/relay": "ELF"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tar = %v", got)
	}

	api.imageBuild = func(client.ImageBuildOptions) (client.ImageBuildResult, error) {
		return client.ImageBuildResult{Body: body(`{"stream":"Step 1/2 : FROM scratch\n"}` + "\n" +
			`{"errorDetail":{"message":"COPY failed: file not found in build context"},"error":"COPY failed: file not found in build context"}` + "\n")}, nil
	}
	err := d.BuildImage(ctx, "llmmon-relay:1", files, labels("p"))
	if err == nil || !strings.Contains(err.Error(), "COPY failed") || !strings.Contains(err.Error(), "Step 1/2") {
		t.Errorf("err = %v", err)
	}
	if err := d.BuildImage(ctx, "t", map[string][]byte{"x": nil}, nil); err == nil {
		t.Error("built without a Dockerfile")
	}
	if err := d.BuildImage(ctx, "t", map[string][]byte{"Dockerfile": nil, "../x": nil}, nil); err == nil {
		t.Error("accepted a path outside the context")
	}
}

func TestPing(t *testing.T) {
	api := &fakeAPI{
		ping: func() (client.PingResult, error) { return client.PingResult{APIVersion: "1.41"}, nil },
		info: func() (system.Info, error) {
			return system.Info{ServerVersion: "20.10.24", Runtimes: map[string]system.RuntimeWithStatus{"runc": {}, "nvidia": {}}}, nil
		},
	}
	info, err := NewWithClient(api).Ping(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info != (runtime.Info{NvidiaRuntime: true}) {
		t.Errorf("info = %+v", info)
	}
	api.info = func() (system.Info, error) {
		return system.Info{ServerVersion: "20.10.24", Runtimes: map[string]system.RuntimeWithStatus{"runc": {}}}, nil
	}
	if info, _ := NewWithClient(api).Ping(context.Background()); info.NvidiaRuntime {
		t.Error("nvidia runtime reported without one")
	}
}

func TestHasNvidiaCDI(t *testing.T) {
	dir := t.TempDir()
	if hasNvidia(system.Info{CDISpecDirs: []string{dir, filepath.Join(dir, "missing")}}) {
		t.Error("empty CDI dir reported nvidia")
	}
	writeFile(t, filepath.Join(dir, "nvidia.yaml"), "cdiVersion: 0.5.0\n")
	if !hasNvidia(system.Info{CDISpecDirs: []string{dir}}) {
		t.Error("nvidia CDI spec not seen")
	}
}

// TestUnreachableDaemon uses a real client on a socket that does not exist: no daemon needed.
func TestUnreachableDaemon(t *testing.T) {
	ctx := context.Background()
	host := "unix://" + filepath.Join(t.TempDir(), "nonexistent.sock")
	d, err := NewWithHost(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	checkUnreachable(t, host, d)
}

// TestPermissionDenied: a daemon socket the user may not open gives the docker-group advice. The
// client reports that with a message of its own, without the system error: no daemon needed.
func TestPermissionDenied(t *testing.T) {
	ctx := context.Background()
	const host = "unix:///var/run/docker.sock"
	denied := func(context.Context, string, string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: "unix", Err: os.NewSyscallError("connect", syscall.EACCES)}
	}
	d, err := newDocker(ctx, client.WithHost(host), client.WithDialContext(denied))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	_, err = d.Ping(ctx)
	if !errors.Is(err, runtime.ErrDaemonUnreachable) {
		t.Fatalf("ping: %v", err)
	}
	want := "permission denied on the Docker daemon socket at " + host + ": add your user to the docker group " +
		"(`sudo usermod -aG docker $USER`, then log in again), or set DOCKER_HOST"
	if err.Error() != want {
		t.Errorf("message = %q\nwant      %q", err, want)
	}
}

// TestDaemonTooOld: the client speaks API 1.40 and newer (client.MinAPIVersion); Ping reports an
// older daemon with the client's message instead of failing later on some request. Docker 20.10
// (API 1.41) is tested for real by the integration tests.
func TestDaemonTooOld(t *testing.T) {
	for _, tc := range []struct {
		version string
		ok      bool
	}{{"1.39", false}, {"1.40", true}, {"1.41", true}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Api-Version", tc.version)
			if strings.HasSuffix(r.URL.Path, "/info") {
				_, _ = io.WriteString(w, `{"ServerVersion":"test"}`)
			}
		}))
		d, err := NewWithHost(context.Background(), "tcp://"+srv.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Ping(context.Background())
		d.Close()
		srv.Close()
		switch {
		case tc.ok && err != nil:
			t.Errorf("API %s: %v", tc.version, err)
		case !tc.ok && (err == nil || !strings.Contains(err.Error(), "minimum supported API version is "+client.MinAPIVersion)):
			t.Errorf("API %s: %v", tc.version, err)
		case !tc.ok:
			t.Log(err)
		}
	}
}

// checkUnreachable checks that the methods of d report an unreachable daemon at host.
func checkUnreachable(t *testing.T, host string, d *Docker) {
	t.Helper()
	ctx := context.Background()
	_, err := d.Ping(ctx)
	if !errors.Is(err, runtime.ErrDaemonUnreachable) {
		t.Fatalf("ping: %v", err)
	}
	want := "cannot reach the Docker daemon at " + host + ": is it running? (start it with `sudo systemctl start docker`, or set DOCKER_HOST)"
	if err.Error() != want {
		t.Errorf("message = %q\nwant      %q", err, want)
	}
	if _, err := d.ListContainers(ctx, "p"); !errors.Is(err, runtime.ErrDaemonUnreachable) {
		t.Errorf("list: %v", err)
	}
	if err := d.RemoveContainer(ctx, "x"); !errors.Is(err, runtime.ErrDaemonUnreachable) {
		t.Errorf("remove: %v", err)
	}
	if _, err := d.ImagePresent(ctx, "x"); !errors.Is(err, runtime.ErrDaemonUnreachable) {
		t.Errorf("image present: %v", err)
	}
	if err := d.PullImage(ctx, "x", nil); !errors.Is(err, runtime.ErrDaemonUnreachable) || errors.Is(err, runtime.ErrImageNotFound) {
		t.Errorf("pull: %v", err)
	}
	if err := d.RemoveNetworks(ctx, "p"); !errors.Is(err, runtime.ErrDaemonUnreachable) {
		t.Errorf("remove networks: %v", err)
	}
	if err := d.EnsureVolume(ctx, "v", labels("p")); !errors.Is(err, runtime.ErrDaemonUnreachable) {
		t.Errorf("ensure volume: %v", err)
	}
}
