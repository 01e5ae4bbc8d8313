package docker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"sync"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/api/types/volume"
	"github.com/moby/moby/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// createReq is one recorded ContainerCreate request.
type createReq struct {
	Config   *container.Config
	Host     *container.HostConfig
	Network  *network.NetworkingConfig
	Platform *ocispec.Platform
	Image    string // the options' Image, which must stay empty: Config.Image names it
	Name     string
}

// fakeAPI implements API. Each method calls the matching function field when set, and
// otherwise returns errUnexpected; every call is recorded in calls.
type fakeAPI struct {
	mu    sync.Mutex
	calls []string

	creates []createReq
	stops   []client.ContainerStopOptions
	removes []client.ContainerRemoveOptions
	lists   []client.ContainerListOptions
	logs    []client.ContainerLogsOptions
	builds  []client.ImageBuildOptions
	netOpts []client.NetworkListOptions
	volOpts []client.VolumeListOptions
	buildCx [][]byte

	ping          func() (client.PingResult, error)
	info          func() (system.Info, error)
	list          func(client.ContainerListOptions) ([]container.Summary, error)
	inspect       func(id string) (container.InspectResponse, error)
	create        func(createReq) (client.ContainerCreateResult, error)
	start         func(id string) error
	stop          func(id string) error
	remove        func(id string) error
	containerLogs func(id string) (io.ReadCloser, error)
	execCreate    func(id string, o client.ExecCreateOptions) (client.ExecCreateResult, error)
	execAttach    func(id string) (client.HijackedResponse, error)
	execInspect   func(id string) (client.ExecInspectResult, error)
	networkList   func(client.NetworkListOptions) ([]network.Summary, error)
	networkRemove func(id string) error
	volumeCreate  func(client.VolumeCreateOptions) (volume.Volume, error)
	volumeInspect func(name string) (volume.Volume, error)
	volumeList    func(client.VolumeListOptions) ([]volume.Volume, error)
	volumeRemove  func(name string, force bool) error
	imageInspect  func(ref string) (image.InspectResponse, error)
	imagePull     func(ref string) (io.ReadCloser, error)
	imageBuild    func(o client.ImageBuildOptions) (client.ImageBuildResult, error)
	imageList     func(o client.ImageListOptions) ([]image.Summary, error)
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

func (f *fakeAPI) Ping(context.Context, client.PingOptions) (client.PingResult, error) {
	f.record("ping")
	if f.ping == nil {
		return client.PingResult{}, errUnexpected
	}
	return f.ping()
}

func (f *fakeAPI) Info(context.Context, client.InfoOptions) (client.SystemInfoResult, error) {
	f.record("info")
	if f.info == nil {
		return client.SystemInfoResult{}, errUnexpected
	}
	info, err := f.info()
	return client.SystemInfoResult{Info: info}, err
}

func (f *fakeAPI) ContainerList(_ context.Context, o client.ContainerListOptions) (client.ContainerListResult, error) {
	f.record("container list")
	f.lists = append(f.lists, o)
	if f.list == nil {
		return client.ContainerListResult{}, errUnexpected
	}
	items, err := f.list(o)
	return client.ContainerListResult{Items: items}, err
}

func (f *fakeAPI) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	f.record("container inspect %s", id)
	if f.inspect == nil {
		return client.ContainerInspectResult{}, errUnexpected
	}
	c, err := f.inspect(id)
	return client.ContainerInspectResult{Container: c}, err
}

func (f *fakeAPI) ContainerCreate(_ context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error) {
	f.record("container create %s", o.Name)
	r := createReq{Config: o.Config, Host: o.HostConfig, Network: o.NetworkingConfig, Platform: o.Platform, Image: o.Image, Name: o.Name}
	f.creates = append(f.creates, r)
	if f.create == nil {
		return client.ContainerCreateResult{ID: "id-" + o.Name}, nil
	}
	return f.create(r)
}

func (f *fakeAPI) ContainerStart(_ context.Context, id string, _ client.ContainerStartOptions) (client.ContainerStartResult, error) {
	f.record("container start %s", id)
	if f.start == nil {
		return client.ContainerStartResult{}, nil
	}
	return client.ContainerStartResult{}, f.start(id)
}

func (f *fakeAPI) ContainerRestart(_ context.Context, id string, _ client.ContainerRestartOptions) (client.ContainerRestartResult, error) {
	f.record("container restart %s", id)
	return client.ContainerRestartResult{}, nil
}

func (f *fakeAPI) ContainerStop(_ context.Context, id string, o client.ContainerStopOptions) (client.ContainerStopResult, error) {
	f.record("container stop %s", id)
	f.stops = append(f.stops, o)
	if f.stop == nil {
		return client.ContainerStopResult{}, nil
	}
	return client.ContainerStopResult{}, f.stop(id)
}

func (f *fakeAPI) ContainerRemove(_ context.Context, id string, o client.ContainerRemoveOptions) (client.ContainerRemoveResult, error) {
	f.record("container remove %s", id)
	f.removes = append(f.removes, o)
	if f.remove == nil {
		return client.ContainerRemoveResult{}, nil
	}
	return client.ContainerRemoveResult{}, f.remove(id)
}

func (f *fakeAPI) ContainerLogs(_ context.Context, id string, o client.ContainerLogsOptions) (client.ContainerLogsResult, error) {
	f.record("container logs %s", id)
	f.logs = append(f.logs, o)
	if f.containerLogs == nil {
		return nil, errUnexpected
	}
	rc, err := f.containerLogs(id)
	if err != nil {
		return nil, err
	}
	return rc, nil
}

func (f *fakeAPI) ExecCreate(_ context.Context, id string, o client.ExecCreateOptions) (client.ExecCreateResult, error) {
	f.record("exec create %s", id)
	if f.execCreate == nil {
		return client.ExecCreateResult{}, errUnexpected
	}
	return f.execCreate(id, o)
}

func (f *fakeAPI) ExecAttach(_ context.Context, id string, _ client.ExecAttachOptions) (client.ExecAttachResult, error) {
	f.record("exec attach %s", id)
	if f.execAttach == nil {
		return client.ExecAttachResult{}, errUnexpected
	}
	h, err := f.execAttach(id)
	return client.ExecAttachResult{HijackedResponse: h}, err
}

func (f *fakeAPI) ExecInspect(_ context.Context, id string, _ client.ExecInspectOptions) (client.ExecInspectResult, error) {
	f.record("exec inspect %s", id)
	if f.execInspect == nil {
		return client.ExecInspectResult{}, errUnexpected
	}
	return f.execInspect(id)
}

func (f *fakeAPI) NetworkList(_ context.Context, o client.NetworkListOptions) (client.NetworkListResult, error) {
	f.record("network list")
	f.netOpts = append(f.netOpts, o)
	if f.networkList == nil {
		return client.NetworkListResult{}, errUnexpected
	}
	items, err := f.networkList(o)
	return client.NetworkListResult{Items: items}, err
}

func (f *fakeAPI) NetworkRemove(_ context.Context, id string, _ client.NetworkRemoveOptions) (client.NetworkRemoveResult, error) {
	f.record("network remove %s", id)
	if f.networkRemove == nil {
		return client.NetworkRemoveResult{}, errUnexpected
	}
	return client.NetworkRemoveResult{}, f.networkRemove(id)
}

func (f *fakeAPI) VolumeCreate(_ context.Context, o client.VolumeCreateOptions) (client.VolumeCreateResult, error) {
	f.record("volume create %s", o.Name)
	if f.volumeCreate == nil {
		return client.VolumeCreateResult{}, errUnexpected
	}
	v, err := f.volumeCreate(o)
	return client.VolumeCreateResult{Volume: v}, err
}

func (f *fakeAPI) VolumeInspect(_ context.Context, name string, _ client.VolumeInspectOptions) (client.VolumeInspectResult, error) {
	f.record("volume inspect %s", name)
	if f.volumeInspect == nil {
		return client.VolumeInspectResult{}, errUnexpected
	}
	v, err := f.volumeInspect(name)
	return client.VolumeInspectResult{Volume: v}, err
}

func (f *fakeAPI) VolumeList(_ context.Context, o client.VolumeListOptions) (client.VolumeListResult, error) {
	f.record("volume list")
	f.volOpts = append(f.volOpts, o)
	if f.volumeList == nil {
		return client.VolumeListResult{}, errUnexpected
	}
	items, err := f.volumeList(o)
	return client.VolumeListResult{Items: items}, err
}

func (f *fakeAPI) VolumeRemove(_ context.Context, name string, o client.VolumeRemoveOptions) (client.VolumeRemoveResult, error) {
	f.record("volume remove %s force=%v", name, o.Force)
	if f.volumeRemove == nil {
		return client.VolumeRemoveResult{}, errUnexpected
	}
	return client.VolumeRemoveResult{}, f.volumeRemove(name, o.Force)
}

func (f *fakeAPI) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (client.ImageInspectResult, error) {
	f.record("image inspect %s", ref)
	if f.imageInspect == nil {
		return client.ImageInspectResult{}, errUnexpected
	}
	im, err := f.imageInspect(ref)
	return client.ImageInspectResult{InspectResponse: im}, err
}

func (f *fakeAPI) ImagePull(_ context.Context, ref string, _ client.ImagePullOptions) (client.ImagePullResponse, error) {
	f.record("image pull %s", ref)
	if f.imagePull == nil {
		return nil, errUnexpected
	}
	rc, err := f.imagePull(ref)
	if err != nil {
		return nil, err
	}
	return pullStream{rc}, nil
}

// pullStream is the client's pull response over a recorded stream.
type pullStream struct{ io.ReadCloser }

func (p pullStream) JSONMessages(context.Context) iter.Seq2[jsonstream.Message, error] {
	return func(yield func(jsonstream.Message, error) bool) {
		defer p.Close()
		dec := json.NewDecoder(p)
		for {
			var m jsonstream.Message
			if err := dec.Decode(&m); err != nil {
				if !errors.Is(err, io.EOF) {
					yield(m, err)
				}
				return
			}
			if !yield(m, nil) {
				return
			}
		}
	}
}

func (p pullStream) Wait(ctx context.Context) error {
	for m, err := range p.JSONMessages(ctx) {
		if err != nil {
			return err
		}
		if m.Error != nil {
			return m.Error
		}
	}
	return nil
}

func (f *fakeAPI) ImageRemove(_ context.Context, ref string, _ client.ImageRemoveOptions) (client.ImageRemoveResult, error) {
	f.record("image remove %s", ref)
	return client.ImageRemoveResult{}, errUnexpected
}

func (f *fakeAPI) ImageList(_ context.Context, o client.ImageListOptions) (client.ImageListResult, error) {
	f.record("image list")
	if f.imageList == nil {
		return client.ImageListResult{}, errUnexpected
	}
	items, err := f.imageList(o)
	return client.ImageListResult{Items: items}, err
}

func (f *fakeAPI) ImageBuild(_ context.Context, r io.Reader, o client.ImageBuildOptions) (client.ImageBuildResult, error) {
	f.record("image build %v", o.Tags)
	b, err := io.ReadAll(r)
	if err != nil {
		return client.ImageBuildResult{}, err
	}
	f.builds = append(f.builds, o)
	f.buildCx = append(f.buildCx, b)
	if f.imageBuild == nil {
		return client.ImageBuildResult{}, errUnexpected
	}
	return f.imageBuild(o)
}

// multiplexed returns a stdcopy-framed stream of the given stdout and stderr chunks, in order:
// chunks at even indexes go to stdout, odd ones to stderr. Each frame is an 8-byte header (the
// stream, three zero bytes, the big-endian payload length) and the payload.
func multiplexed(chunks ...string) []byte {
	var buf bytes.Buffer
	for i, c := range chunks {
		if c == "" {
			continue
		}
		stream := stdcopy.Stdout
		if i%2 == 1 {
			stream = stdcopy.Stderr
		}
		hdr := [8]byte{byte(stream)}
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(c)))
		buf.Write(hdr[:])
		buf.WriteString(c)
	}
	return buf.Bytes()
}

// hijacked returns a HijackedResponse that reads data.
func hijacked(data []byte) client.HijackedResponse {
	c1, c2 := net.Pipe()
	_ = c2.Close()
	return client.HijackedResponse{Conn: c1, Reader: bufio.NewReader(bytes.NewReader(data))}
}

func (f *fakeAPI) CopyToContainer(_ context.Context, id string, o client.CopyToContainerOptions) (client.CopyToContainerResult, error) {
	f.record("copy %s %s", id, o.DestinationPath)
	_, err := io.Copy(io.Discard, o.Content)
	return client.CopyToContainerResult{}, err
}

func (f *fakeAPI) ContainerStatPath(_ context.Context, id string, o client.ContainerStatPathOptions) (client.ContainerStatPathResult, error) {
	f.record("stat %s %s", id, o.Path)
	return client.ContainerStatPathResult{}, errUnexpected
}
