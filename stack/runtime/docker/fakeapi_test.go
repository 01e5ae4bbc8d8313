package docker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"sync"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/stdcopy"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// createReq is one recorded ContainerCreate request.
type createReq struct {
	Config  *container.Config
	Host    *container.HostConfig
	Network *network.NetworkingConfig
	Name    string
}

// fakeAPI implements API. Each method calls the matching function field when set, and
// otherwise returns errUnexpected; every call is recorded in calls.
type fakeAPI struct {
	mu    sync.Mutex
	calls []string

	creates []createReq
	stops   []container.StopOptions
	removes []container.RemoveOptions
	lists   []container.ListOptions
	logs    []container.LogsOptions
	builds  []build.ImageBuildOptions
	netOpts []network.ListOptions
	volOpts []volume.ListOptions
	buildCx [][]byte

	ping          func() (types.Ping, error)
	info          func() (system.Info, error)
	list          func(container.ListOptions) ([]container.Summary, error)
	inspect       func(id string) (container.InspectResponse, error)
	create        func(createReq) (container.CreateResponse, error)
	start         func(id string) error
	stop          func(id string) error
	remove        func(id string) error
	containerLogs func(id string) (io.ReadCloser, error)
	execCreate    func(id string, o container.ExecOptions) (container.ExecCreateResponse, error)
	execAttach    func(id string) (types.HijackedResponse, error)
	execInspect   func(id string) (container.ExecInspect, error)
	networkList   func(network.ListOptions) ([]network.Summary, error)
	networkRemove func(id string) error
	volumeCreate  func(volume.CreateOptions) (volume.Volume, error)
	volumeInspect func(name string) (volume.Volume, error)
	volumeList    func(volume.ListOptions) (volume.ListResponse, error)
	volumeRemove  func(name string, force bool) error
	imageInspect  func(ref string) (image.InspectResponse, error)
	imagePull     func(ref string) (io.ReadCloser, error)
	imageBuild    func(o build.ImageBuildOptions) (build.ImageBuildResponse, error)
	imageList     func(o image.ListOptions) ([]image.Summary, error)
}

var errUnexpected = fmt.Errorf("unexpected call")

var _ API = (*fakeAPI)(nil)

func (f *fakeAPI) record(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, fmt.Sprintf(format, args...))
}

func (f *fakeAPI) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeAPI) DaemonHost() string { return "unix:///fake.sock" }
func (f *fakeAPI) Close() error       { f.record("close"); return nil }

func (f *fakeAPI) Ping(context.Context) (types.Ping, error) {
	f.record("ping")
	if f.ping == nil {
		return types.Ping{}, errUnexpected
	}
	return f.ping()
}

func (f *fakeAPI) Info(context.Context) (system.Info, error) {
	f.record("info")
	if f.info == nil {
		return system.Info{}, errUnexpected
	}
	return f.info()
}

func (f *fakeAPI) ContainerList(_ context.Context, o container.ListOptions) ([]container.Summary, error) {
	f.record("container list")
	f.lists = append(f.lists, o)
	if f.list == nil {
		return nil, errUnexpected
	}
	return f.list(o)
}

func (f *fakeAPI) ContainerInspect(_ context.Context, id string) (container.InspectResponse, error) {
	f.record("container inspect %s", id)
	if f.inspect == nil {
		return container.InspectResponse{}, errUnexpected
	}
	return f.inspect(id)
}

func (f *fakeAPI) ContainerCreate(_ context.Context, c *container.Config, h *container.HostConfig, n *network.NetworkingConfig, _ *ocispec.Platform, name string) (container.CreateResponse, error) {
	f.record("container create %s", name)
	r := createReq{Config: c, Host: h, Network: n, Name: name}
	f.creates = append(f.creates, r)
	if f.create == nil {
		return container.CreateResponse{ID: "id-" + name}, nil
	}
	return f.create(r)
}

func (f *fakeAPI) ContainerStart(_ context.Context, id string, _ container.StartOptions) error {
	f.record("container start %s", id)
	if f.start == nil {
		return nil
	}
	return f.start(id)
}

func (f *fakeAPI) ContainerStop(_ context.Context, id string, o container.StopOptions) error {
	f.record("container stop %s", id)
	f.stops = append(f.stops, o)
	if f.stop == nil {
		return nil
	}
	return f.stop(id)
}

func (f *fakeAPI) ContainerRemove(_ context.Context, id string, o container.RemoveOptions) error {
	f.record("container remove %s", id)
	f.removes = append(f.removes, o)
	if f.remove == nil {
		return nil
	}
	return f.remove(id)
}

func (f *fakeAPI) ContainerLogs(_ context.Context, id string, o container.LogsOptions) (io.ReadCloser, error) {
	f.record("container logs %s", id)
	f.logs = append(f.logs, o)
	if f.containerLogs == nil {
		return nil, errUnexpected
	}
	return f.containerLogs(id)
}

func (f *fakeAPI) ContainerExecCreate(_ context.Context, id string, o container.ExecOptions) (container.ExecCreateResponse, error) {
	f.record("exec create %s", id)
	if f.execCreate == nil {
		return container.ExecCreateResponse{}, errUnexpected
	}
	return f.execCreate(id, o)
}

func (f *fakeAPI) ContainerExecAttach(_ context.Context, id string, _ container.ExecAttachOptions) (types.HijackedResponse, error) {
	f.record("exec attach %s", id)
	if f.execAttach == nil {
		return types.HijackedResponse{}, errUnexpected
	}
	return f.execAttach(id)
}

func (f *fakeAPI) ContainerExecInspect(_ context.Context, id string) (container.ExecInspect, error) {
	f.record("exec inspect %s", id)
	if f.execInspect == nil {
		return container.ExecInspect{}, errUnexpected
	}
	return f.execInspect(id)
}

func (f *fakeAPI) NetworkList(_ context.Context, o network.ListOptions) ([]network.Summary, error) {
	f.record("network list")
	f.netOpts = append(f.netOpts, o)
	if f.networkList == nil {
		return nil, errUnexpected
	}
	return f.networkList(o)
}

func (f *fakeAPI) NetworkRemove(_ context.Context, id string) error {
	f.record("network remove %s", id)
	if f.networkRemove == nil {
		return errUnexpected
	}
	return f.networkRemove(id)
}

func (f *fakeAPI) VolumeCreate(_ context.Context, o volume.CreateOptions) (volume.Volume, error) {
	f.record("volume create %s", o.Name)
	if f.volumeCreate == nil {
		return volume.Volume{}, errUnexpected
	}
	return f.volumeCreate(o)
}

func (f *fakeAPI) VolumeInspect(_ context.Context, name string) (volume.Volume, error) {
	f.record("volume inspect %s", name)
	if f.volumeInspect == nil {
		return volume.Volume{}, errUnexpected
	}
	return f.volumeInspect(name)
}

func (f *fakeAPI) VolumeList(_ context.Context, o volume.ListOptions) (volume.ListResponse, error) {
	f.record("volume list")
	f.volOpts = append(f.volOpts, o)
	if f.volumeList == nil {
		return volume.ListResponse{}, errUnexpected
	}
	return f.volumeList(o)
}

func (f *fakeAPI) VolumeRemove(_ context.Context, name string, force bool) error {
	f.record("volume remove %s force=%v", name, force)
	if f.volumeRemove == nil {
		return errUnexpected
	}
	return f.volumeRemove(name, force)
}

func (f *fakeAPI) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	f.record("image inspect %s", ref)
	if f.imageInspect == nil {
		return image.InspectResponse{}, errUnexpected
	}
	return f.imageInspect(ref)
}

func (f *fakeAPI) ImagePull(_ context.Context, ref string, _ image.PullOptions) (io.ReadCloser, error) {
	f.record("image pull %s", ref)
	if f.imagePull == nil {
		return nil, errUnexpected
	}
	return f.imagePull(ref)
}

func (f *fakeAPI) ImageRemove(_ context.Context, ref string, _ image.RemoveOptions) ([]image.DeleteResponse, error) {
	f.record("image remove %s", ref)
	return nil, errUnexpected
}

func (f *fakeAPI) ImageList(_ context.Context, o image.ListOptions) ([]image.Summary, error) {
	f.record("image list")
	if f.imageList == nil {
		return nil, errUnexpected
	}
	return f.imageList(o)
}

func (f *fakeAPI) ImageBuild(_ context.Context, r io.Reader, o build.ImageBuildOptions) (build.ImageBuildResponse, error) {
	f.record("image build %v", o.Tags)
	b, err := io.ReadAll(r)
	if err != nil {
		return build.ImageBuildResponse{}, err
	}
	f.builds = append(f.builds, o)
	f.buildCx = append(f.buildCx, b)
	if f.imageBuild == nil {
		return build.ImageBuildResponse{}, errUnexpected
	}
	return f.imageBuild(o)
}

// multiplexed returns a stdcopy-framed stream of the given stdout and stderr chunks, in order:
// chunks at even indexes go to stdout, odd ones to stderr.
func multiplexed(chunks ...string) []byte {
	var buf bytes.Buffer
	out := stdcopy.NewStdWriter(&buf, stdcopy.Stdout)
	errw := stdcopy.NewStdWriter(&buf, stdcopy.Stderr)
	for i, c := range chunks {
		if i%2 == 0 {
			_, _ = out.Write([]byte(c))
		} else {
			_, _ = errw.Write([]byte(c))
		}
	}
	return buf.Bytes()
}

// hijacked returns a HijackedResponse that reads data.
func hijacked(data []byte) types.HijackedResponse {
	c1, c2 := net.Pipe()
	_ = c2.Close()
	return types.HijackedResponse{Conn: c1, Reader: bufio.NewReader(bytes.NewReader(data))}
}

func (f *fakeAPI) CopyToContainer(_ context.Context, id, dst string, content io.Reader, _ container.CopyToContainerOptions) error {
	f.record("copy %s %s", id, dst)
	_, err := io.Copy(io.Discard, content)
	return err
}

func (f *fakeAPI) ContainerStatPath(_ context.Context, id, path string) (container.PathStat, error) {
	f.record("stat %s %s", id, path)
	return container.PathStat{}, errUnexpected
}
