// Package docker implements runtime.Runtime on top of the Docker Engine API. It is the only
// package of llmmon that imports the Docker client.
//
// It targets API version 1.41 (Docker 20.10) and newer: the client negotiates the API version
// with the daemon and no request uses a feature newer than 1.41.
//
// Every network, volume and container it creates must carry runtime.LabelProject, and it only
// ever lists, adopts or removes objects that carry that label, so that it never touches anything
// llmmon did not create.
package docker

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/api/types/build"
	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/api/types/network"
	"github.com/docker/docker/api/types/system"
	"github.com/docker/docker/api/types/volume"
	"github.com/docker/docker/client"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/llmmon/llmmon/stack/runtime"
)

// API is the subset of the Docker client (*client.Client) that Docker uses. It exists so that
// tests can substitute a fake and check the requests built from a runtime.ContainerSpec.
type API interface {
	DaemonHost() string
	Close() error

	Ping(ctx context.Context) (types.Ping, error)
	Info(ctx context.Context) (system.Info, error)

	ContainerList(ctx context.Context, options container.ListOptions) ([]container.Summary, error)
	ContainerInspect(ctx context.Context, containerID string) (container.InspectResponse, error)
	ContainerCreate(ctx context.Context, config *container.Config, hostConfig *container.HostConfig, networkingConfig *network.NetworkingConfig, platform *ocispec.Platform, containerName string) (container.CreateResponse, error)
	ContainerStart(ctx context.Context, containerID string, options container.StartOptions) error
	ContainerStop(ctx context.Context, containerID string, options container.StopOptions) error
	ContainerRemove(ctx context.Context, containerID string, options container.RemoveOptions) error
	ContainerLogs(ctx context.Context, containerID string, options container.LogsOptions) (io.ReadCloser, error)
	ContainerExecCreate(ctx context.Context, containerID string, options container.ExecOptions) (container.ExecCreateResponse, error)
	ContainerExecAttach(ctx context.Context, execID string, options container.ExecAttachOptions) (types.HijackedResponse, error)
	ContainerExecInspect(ctx context.Context, execID string) (container.ExecInspect, error)
	CopyToContainer(ctx context.Context, containerID, dstPath string, content io.Reader, options container.CopyToContainerOptions) error
	ContainerStatPath(ctx context.Context, containerID, path string) (container.PathStat, error)

	NetworkList(ctx context.Context, options network.ListOptions) ([]network.Summary, error)
	NetworkRemove(ctx context.Context, networkID string) error

	VolumeCreate(ctx context.Context, options volume.CreateOptions) (volume.Volume, error)
	VolumeInspect(ctx context.Context, volumeID string) (volume.Volume, error)
	VolumeList(ctx context.Context, options volume.ListOptions) (volume.ListResponse, error)
	VolumeRemove(ctx context.Context, volumeID string, force bool) error

	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImagePull(ctx context.Context, refStr string, options image.PullOptions) (io.ReadCloser, error)
	ImageRemove(ctx context.Context, imageID string, options image.RemoveOptions) ([]image.DeleteResponse, error)
	ImageList(ctx context.Context, options image.ListOptions) ([]image.Summary, error)
	ImageBuild(ctx context.Context, buildContext io.Reader, options build.ImageBuildOptions) (build.ImageBuildResponse, error)
}

var _ API = (*client.Client)(nil)

// DefaultStopTimeout is the grace period given to a container that was created without a
// StopTimeout before it is killed.
const DefaultStopTimeout = 10 * time.Second

// Docker is a runtime.Runtime backed by one Docker Engine API client. It is safe for concurrent
// use.
type Docker struct {
	api  API
	host string
	// execPoll is how often execAs re-inspects an exec whose output has ended but which is still
	// reported as running.
	execPoll time.Duration
}

var _ runtime.Runtime = (*Docker)(nil)

// New returns a Docker talking to the daemon configured by the environment (DOCKER_HOST,
// DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, DOCKER_API_VERSION; the local socket by default).
// It negotiates the API version using ctx but does not fail when the daemon does not answer:
// call Ping to check it.
func New(ctx context.Context) (*Docker, error) {
	return newDocker(ctx, client.FromEnv, client.WithAPIVersionNegotiation())
}

// NewWithHost is New with the daemon address set explicitly (for example
// "unix:///var/run/docker.sock" or "tcp://127.0.0.1:2375"), overriding DOCKER_HOST.
func NewWithHost(ctx context.Context, host string) (*Docker, error) {
	return newDocker(ctx, client.FromEnv, client.WithHost(host), client.WithAPIVersionNegotiation())
}

func newDocker(ctx context.Context, opts ...client.Opt) (*Docker, error) {
	c, err := client.NewClientWithOpts(opts...)
	if err != nil {
		return nil, fmt.Errorf("create docker client: %w", err)
	}
	// Negotiate now, within the caller's deadline. A daemon that does not answer is not an
	// error here: the client negotiates again on its first request and every method then
	// reports runtime.ErrDaemonUnreachable.
	c.NegotiateAPIVersion(ctx)
	return NewWithClient(c), nil
}

// NewWithClient returns a Docker using api, which is normally a *client.Client.
func NewWithClient(api API) *Docker {
	return &Docker{api: api, host: api.DaemonHost(), execPoll: 50 * time.Millisecond}
}

// Close releases the client's connections.
func (d *Docker) Close() error {
	if err := d.api.Close(); err != nil {
		return fmt.Errorf("close docker client: %w", err)
	}
	return nil
}

// Ping checks that the daemon answers and returns its API version and whether it has an NVIDIA
// runtime.
func (d *Docker) Ping(ctx context.Context) (runtime.Info, error) {
	ping, err := d.api.Ping(ctx)
	if err != nil {
		return runtime.Info{}, d.wrap(err, "ping docker daemon")
	}
	info, err := d.api.Info(ctx)
	if err != nil {
		return runtime.Info{}, d.wrap(err, "query docker daemon info")
	}
	return runtime.Info{
		APIVersion:    ping.APIVersion,
		NvidiaRuntime: hasNvidia(info),
	}, nil
}

// hasNvidia reports whether the daemon knows an nvidia runtime, or (Docker 25+) one of its CDI
// spec directories holds an NVIDIA spec. The CDI check only sees local directories, which is
// what they are when the daemon runs on this machine.
func hasNvidia(info system.Info) bool {
	if _, ok := info.Runtimes["nvidia"]; ok {
		return true
	}
	if info.DefaultRuntime == "nvidia" {
		return true
	}
	for _, dir := range info.CDISpecDirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if strings.Contains(strings.ToLower(e.Name()), "nvidia") {
				return true
			}
		}
	}
	return false
}
