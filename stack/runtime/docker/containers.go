package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/client"

	"github.com/llmmon/llmmon/stack/runtime"
)

// projectFilter selects the objects carrying LabelProject=project.
func projectFilter(project string) client.Filters {
	return make(client.Filters).Add("label", runtime.LabelProject+"="+project)
}

// requireProject rejects labels without LabelProject: an object created without it could never
// be found (or removed) again.
func requireProject(kind, name string, labels map[string]string) error {
	if labels[runtime.LabelProject] == "" {
		return fmt.Errorf("%s %q: refusing to create it without the %s label", kind, name, runtime.LabelProject)
	}
	return nil
}

// ListContainers returns every container, running or not, carrying LabelProject=project, sorted
// by name.
func (d *Docker) ListContainers(ctx context.Context, project string) ([]runtime.Container, error) {
	list, err := d.api.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: projectFilter(project)})
	if err != nil {
		return nil, d.wrap(err, "list containers of project %s", project)
	}
	out := make([]runtime.Container, 0, len(list.Items))
	for _, s := range list.Items {
		// The list lacks the start time, restart count and exit code: inspect each one.
		c, err := d.InspectContainer(ctx, s.ID)
		if errors.Is(err, runtime.ErrNotFound) {
			continue // removed since it was listed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// InspectContainer returns one container by id or name.
func (d *Docker) InspectContainer(ctx context.Context, id string) (runtime.Container, error) {
	resp, err := d.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return runtime.Container{}, d.wrap(err, "inspect container %s", short(id))
	}
	return fromInspect(resp.Container), nil
}

func fromInspect(resp container.InspectResponse) runtime.Container {
	c := runtime.Container{
		ID:           resp.ID,
		Name:         strings.TrimPrefix(resp.Name, "/"),
		RestartCount: resp.RestartCount,
	}
	if s := resp.State; s != nil {
		c.State = string(s.Status)
		c.Running = s.Running
		c.ExitCode = s.ExitCode
		if t, err := time.Parse(time.RFC3339Nano, s.StartedAt); err == nil && t.Year() > 1 {
			c.StartedAt = t
		}
	}
	if cfg := resp.Config; cfg != nil {
		c.Image = cfg.Image
		c.Labels = cfg.Labels
	}
	return c
}

// CreateContainer creates (does not start) a container from spec and returns its id. The spec
// must carry LabelProject.
func (d *Docker) CreateContainer(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	if err := requireProject("container", spec.Name, spec.Labels); err != nil {
		return "", err
	}
	what := fmt.Sprintf("create container %s", displayName(spec))
	cfg, host := toCreateRequest(spec)
	resp, err := d.api.ContainerCreate(ctx, client.ContainerCreateOptions{Config: cfg, HostConfig: host, Name: spec.Name})
	if err != nil {
		if cerrdefs.IsNotFound(err) && strings.Contains(strings.ToLower(err.Error()), "no such image") {
			return "", fmt.Errorf("%s: %w: %w", what, runtime.ErrImageNotFound, err)
		}
		return "", d.wrap(err, "%s", what)
	}
	return resp.ID, nil
}

// short abbreviates a full container id to the 12 characters Docker shows; names and short ids
// are returned unchanged.
func short(id string) string {
	if len(id) == 64 && strings.Trim(id, "0123456789abcdef") == "" {
		return id[:12]
	}
	return id
}

func displayName(spec runtime.ContainerSpec) string {
	if spec.Name != "" {
		return spec.Name
	}
	return "from image " + spec.Image
}

// toCreateRequest maps a ContainerSpec onto the bodies of a container create request (the
// networking body is not needed: NetworkMode names the one network a container joins, "host"
// for host networking).
func toCreateRequest(spec runtime.ContainerSpec) (*container.Config, *container.HostConfig) {
	cfg := &container.Config{
		Image:  spec.Image,
		Cmd:    spec.Cmd,
		Env:    spec.Env,
		User:   spec.User,
		Labels: spec.Labels,
	}
	if spec.StopTimeout > 0 {
		secs := int(math.Ceil(spec.StopTimeout.Seconds()))
		cfg.StopTimeout = &secs
	}
	host := &container.HostConfig{
		CapAdd:        spec.CapAdd,
		GroupAdd:      spec.GroupAdd,
		RestartPolicy: container.RestartPolicy{Name: container.RestartPolicyMode(spec.Restart)},
	}
	if spec.PidHost {
		host.PidMode = "host"
	}
	for _, m := range spec.Mounts {
		mt := mount.Mount{Type: mount.TypeBind, Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
		if m.Volume {
			mt.Type = mount.TypeVolume
		}
		host.Mounts = append(host.Mounts, mt)
	}
	if spec.GPUs {
		host.DeviceRequests = []container.DeviceRequest{{
			Driver:       "nvidia",
			Count:        -1,
			Capabilities: [][]string{{"gpu", "utility"}},
		}}
	}
	if spec.Network != "" {
		host.NetworkMode = container.NetworkMode(spec.Network)
	}
	return cfg, host
}

// StartContainer starts a created or stopped container. A host port that is already taken is
// reported as runtime.ErrPortInUse.
func (d *Docker) StartContainer(ctx context.Context, id string) error {
	_, err := d.api.ContainerStart(ctx, id, client.ContainerStartOptions{})
	if err != nil && isPortInUse(err) {
		return fmt.Errorf("start container %s: %w: %w", short(id), runtime.ErrPortInUse, err)
	}
	return d.wrap(err, "start container %s", short(id))
}

// RestartContainer stops a container (10 s grace) and starts it again; a stopped one is started.
func (d *Docker) RestartContainer(ctx context.Context, id string) error {
	timeout := 10
	_, err := d.api.ContainerRestart(ctx, id, client.ContainerRestartOptions{Timeout: &timeout})
	return d.wrap(err, "restart container %s", short(id))
}

// RemoveContainer stops the container with the grace period it was created with (StopTimeout,
// DefaultStopTimeout when unset), then removes it, keeping its volumes. A missing container is
// not an error.
func (d *Docker) RemoveContainer(ctx context.Context, id string) error {
	resp, err := d.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return d.wrap(err, "inspect container %s", short(id))
	}
	grace := int(DefaultStopTimeout / time.Second)
	if cfg := resp.Container.Config; cfg != nil && cfg.StopTimeout != nil {
		grace = *cfg.StopTimeout
	}
	if _, err := d.api.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &grace}); err != nil && !cerrdefs.IsNotFound(err) {
		return d.wrap(err, "stop container %s", short(id))
	}
	_, err = d.api.ContainerRemove(ctx, id, client.ContainerRemoveOptions{RemoveVolumes: false, Force: true})
	if err != nil && !cerrdefs.IsNotFound(err) {
		return d.wrap(err, "remove container %s", short(id))
	}
	return nil
}

// Logs returns the last n lines (all when n <= 0) of the container's stdout and stderr.
func (d *Docker) Logs(ctx context.Context, id string, n int) (string, error) {
	resp, err := d.api.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return "", d.wrap(err, "inspect container %s", short(id))
	}
	tty := resp.Container.Config != nil && resp.Container.Config.Tty
	tail := "all"
	if n > 0 {
		tail = strconv.Itoa(n)
	}
	rc, err := d.api.ContainerLogs(ctx, id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: tail})
	if err != nil {
		return "", d.wrap(err, "read logs of container %s", short(id))
	}
	defer rc.Close()
	out, err := readStream(rc, tty)
	if err != nil {
		return out, d.wrap(err, "read logs of container %s", short(id))
	}
	return out, nil
}

// readStream reads a log or attach stream to the end: raw when the container has a TTY,
// otherwise demultiplexed into one combined text.
func readStream(r io.Reader, tty bool) (string, error) {
	var buf bytes.Buffer
	var err error
	if tty {
		_, err = io.Copy(&buf, r)
	} else {
		_, err = stdcopy.StdCopy(&buf, &buf, r)
	}
	return buf.String(), err
}

// execAs runs cmd in the running container as user ("" is the container's own user) and returns
// its combined stdout and stderr and its exit code. RemoveFiles uses it.
func (d *Docker) execAs(ctx context.Context, id, user string, cmd []string) (string, int, error) {
	what := fmt.Sprintf("exec %q in container %s", strings.Join(cmd, " "), short(id))
	created, err := d.api.ExecCreate(ctx, id, client.ExecCreateOptions{
		User:         user,
		Cmd:          cmd,
		AttachStdout: true,
		AttachStderr: true,
	})
	if err != nil {
		return "", 0, d.wrap(err, "%s", what)
	}
	att, err := d.api.ExecAttach(ctx, created.ID, client.ExecAttachOptions{})
	if err != nil {
		return "", 0, d.wrap(err, "%s", what)
	}
	out, err := readStream(att.Reader, false)
	att.Close()
	if err != nil {
		return out, 0, d.wrap(err, "%s: read output", what)
	}
	// The output ends when the process does, but the daemon may record the exit an instant
	// later.
	for {
		ins, err := d.api.ExecInspect(ctx, created.ID, client.ExecInspectOptions{})
		if err != nil {
			return out, 0, d.wrap(err, "%s: inspect", what)
		}
		if !ins.Running {
			return out, ins.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return out, 0, fmt.Errorf("%s: %w", what, ctx.Err())
		case <-time.After(d.execPoll):
		}
	}
}
