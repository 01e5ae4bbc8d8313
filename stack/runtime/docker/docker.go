// Package docker implements runtime.Runtime on top of the Docker Engine API. It is the only
// package of llmmon that imports the Docker client.
//
// It targets API version 1.41 (Docker 20.10) and newer: the client, github.com/moby/moby/client,
// negotiates the API version with the daemon (it speaks 1.40 and newer, client.MinAPIVersion),
// and no request uses a feature newer than 1.41.
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

	"github.com/moby/moby/api/types/system"
	"github.com/moby/moby/client"

	"github.com/llmmon/llmmon/stack/runtime"
)

// API is the subset of the Docker client (*client.Client, from github.com/moby/moby/client)
// that Docker uses. It exists so that tests can substitute a fake and check the requests built
// from a runtime.ContainerSpec.
type API interface {
	DaemonHost() string
	Close() error

	Ping(ctx context.Context, options client.PingOptions) (client.PingResult, error)
	Info(ctx context.Context, options client.InfoOptions) (client.SystemInfoResult, error)

	ContainerList(ctx context.Context, options client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(ctx context.Context, containerID string, options client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerCreate(ctx context.Context, options client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, containerID string, options client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerRestart(ctx context.Context, containerID string, options client.ContainerRestartOptions) (client.ContainerRestartResult, error)
	ContainerStop(ctx context.Context, containerID string, options client.ContainerStopOptions) (client.ContainerStopResult, error)
	ContainerRemove(ctx context.Context, containerID string, options client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerLogs(ctx context.Context, containerID string, options client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	ExecCreate(ctx context.Context, containerID string, options client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecAttach(ctx context.Context, execID string, options client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspect(ctx context.Context, execID string, options client.ExecInspectOptions) (client.ExecInspectResult, error)
	CopyToContainer(ctx context.Context, containerID string, options client.CopyToContainerOptions) (client.CopyToContainerResult, error)
	ContainerStatPath(ctx context.Context, containerID string, options client.ContainerStatPathOptions) (client.ContainerStatPathResult, error)

	NetworkList(ctx context.Context, options client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, networkID string, options client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)

	VolumeCreate(ctx context.Context, options client.VolumeCreateOptions) (client.VolumeCreateResult, error)
	VolumeInspect(ctx context.Context, volumeID string, options client.VolumeInspectOptions) (client.VolumeInspectResult, error)
	VolumeList(ctx context.Context, options client.VolumeListOptions) (client.VolumeListResult, error)
	VolumeRemove(ctx context.Context, volumeID string, options client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)

	ImageInspect(ctx context.Context, imageID string, inspectOpts ...client.ImageInspectOption) (client.ImageInspectResult, error)
	ImagePull(ctx context.Context, refStr string, options client.ImagePullOptions) (client.ImagePullResponse, error)
	ImageRemove(ctx context.Context, imageID string, options client.ImageRemoveOptions) (client.ImageRemoveResult, error)
	ImageList(ctx context.Context, options client.ImageListOptions) (client.ImageListResult, error)
	ImageBuild(ctx context.Context, buildContext io.Reader, options client.ImageBuildOptions) (client.ImageBuildResult, error)
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
	return newDocker(ctx, client.FromEnv)
}

// NewWithHost is New with the daemon address set explicitly (for example
// "unix:///var/run/docker.sock" or "tcp://127.0.0.1:2375"), overriding DOCKER_HOST.
func NewWithHost(ctx context.Context, host string) (*Docker, error) {
	return newDocker(ctx, client.FromEnv, client.WithHost(host))
}

func newDocker(ctx context.Context, opts ...client.Opt) (*Docker, error) {
	// The client negotiates the API version by default (DOCKER_API_VERSION, read by FromEnv,
	// fixes it instead). It speaks API 1.40 (client.MinAPIVersion) and newer.
	c, err := client.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("create docker client: %w", err)
	}
	// Negotiate now, within the caller's deadline. A daemon that does not answer is not an
	// error here: the client negotiates again on its first request and every method then
	// reports runtime.ErrDaemonUnreachable.
	_, _ = c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	return NewWithClient(c), nil
}

// NewWithClient returns a Docker using api, which is normally a *client.Client
// (github.com/moby/moby/client).
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

// Ping checks that the daemon answers and returns whether it has an NVIDIA runtime.
func (d *Docker) Ping(ctx context.Context) (runtime.Info, error) {
	// Negotiating (a no-op once done) makes a daemon older than the client's minimum API
	// version fail here, with the client's message, rather than on some later request.
	if _, err := d.api.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return runtime.Info{}, d.wrap(err, "ping docker daemon")
	}
	info, err := d.api.Info(ctx, client.InfoOptions{})
	if err != nil {
		return runtime.Info{}, d.wrap(err, "query docker daemon info")
	}
	return runtime.Info{NvidiaRuntime: hasNvidia(info.Info)}, nil
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
