// Package fake is an in-memory runtime.Runtime for unit tests of the engine. It keeps
// containers (with their specs and states), volumes and the set of present images (it has no
// networks: llmmon's containers use host networking), applies the same ownership rules as the
// Docker runtime (objects without runtime.LabelProject are never adopted or removed), lets tests
// inject failures per method or per call or play an unreachable daemon, and records every call
// in order as a short string; Actions returns those that may change state, so that tests can
// assert on what happened:
//
//	"ping"
//	"list containers <project>"    "inspect <name>"         "create <name>"
//	"start <name>"                 "remove <name>"          "logs <name>"
//	"remove networks <project>"    "ensure volume <name>"   "inspect volume <name>"
//	"list volumes <project>"       "remove volume <name>"   "image present <ref>"
//	"pull <ref>"                   "build <tag>"            "remove image <ref>"
//	"list images <repo>"           "copy <name>:<dir>"      "read <name>:<path>"
//	"remove files <name> <path...>" "close"
//
// Containers are named in calls by their spec's Name (their id when unknown). A call is recorded
// even when it fails.
package fake

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/llmmon/llmmon/stack/runtime"
)

// Method names accepted by Fail.
const (
	MethodPing             = "Ping"
	MethodListContainers   = "ListContainers"
	MethodInspectContainer = "InspectContainer"
	MethodCreateContainer  = "CreateContainer"
	MethodStartContainer   = "StartContainer"
	MethodRestartContainer = "RestartContainer"
	MethodRemoveContainer  = "RemoveContainer"
	MethodLogs             = "Logs"
	MethodRemoveNetworks   = "RemoveNetworks"
	MethodEnsureVolume     = "EnsureVolume"
	MethodListVolumes      = "ListVolumes"
	MethodRemoveVolume     = "RemoveVolume"
	MethodImagePresent     = "ImagePresent"
	MethodPullImage        = "PullImage"
	MethodBuildImage       = "BuildImage"
	MethodRemoveImage      = "RemoveImage"
	MethodCopyFiles        = "CopyFiles"
	MethodReadLink         = "ReadLink"
	MethodInspectVolume    = "InspectVolume"
	MethodRemoveFiles      = "RemoveFiles"
	MethodListImages       = "ListImages"
	MethodClose            = "Close"
)

// readOnly lists the call prefixes that Actions leaves out.
var readOnly = []string{"ping", "list containers ", "inspect ", "logs ", "list volumes ", "image present ", "read ", "inspect volume ", "list images "}

// Container is the fake's record of one container.
type Container struct {
	runtime.Container
	// Spec is the spec the container was created from (zero for containers added with
	// AddContainer without one).
	Spec runtime.ContainerSpec
	// Logs is what Logs returns (its last n lines).
	Logs string
}

// Runtime is an in-memory runtime.Runtime. The zero value is not usable: call New. It is safe
// for concurrent use.
type Runtime struct {
	mu sync.Mutex

	info        runtime.Info
	unreachable bool
	nextID      int

	containers map[string]*Container // by id
	volumes    map[string]*runtime.Volume
	images     map[string]bool
	imgLabels  map[string]map[string]string // labels of built or labelled images
	missing    map[string]bool              // refs that cannot be pulled
	built      map[string]map[string][]byte
	copied     map[string]map[string]runtime.FileEntry // container id -> dir/path -> entry

	failures   map[string]error // by method
	callErrors map[string]error // by exact call string

	calls []string
}

var _ runtime.Runtime = (*Runtime)(nil)

// New returns an empty fake runtime whose daemon answers and has no NVIDIA runtime.
func New() *Runtime {
	return &Runtime{
		containers: map[string]*Container{},
		volumes:    map[string]*runtime.Volume{},
		images:     map[string]bool{},
		imgLabels:  map[string]map[string]string{},
		missing:    map[string]bool{},
		built:      map[string]map[string][]byte{},
		failures:   map[string]error{},
		callErrors: map[string]error{},
	}
}

// ---- configuration and inspection helpers for tests ----

// SetInfo sets what Ping returns.
func (r *Runtime) SetInfo(info runtime.Info) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.info = info
}

// SetUnreachable makes every method (but Close) fail with runtime.ErrDaemonUnreachable while on.
func (r *Runtime) SetUnreachable(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.unreachable = on
}

// Fail makes every later call of method (one of the Method constants) return err, until
// ClearFailures.
func (r *Runtime) Fail(method string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures[method] = err
}

// FailCall makes every later call recorded as call (for example "start grafana") return err,
// until ClearFailures.
func (r *Runtime) FailCall(call string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.callErrors[call] = err
}

// ClearFailures removes every injected failure.
func (r *Runtime) ClearFailures() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = map[string]error{}
	r.callErrors = map[string]error{}
}

// Actions returns the calls so far that may change state, in order: every call but ping, list,
// inspect, logs, read and image-present calls.
func (r *Runtime) Actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		if !slices.ContainsFunc(readOnly, func(p string) bool { return c == p || strings.HasPrefix(c, p) }) {
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls forgets the calls recorded so far.
func (r *Runtime) ResetCalls() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = nil
}

// AddImage makes refs present locally.
func (r *Runtime) AddImage(refs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range refs {
		r.images[ref] = true
	}
}

// AddLabeledImage makes ref present locally with labels (as BuildImage does).
func (r *Runtime) AddLabeledImage(ref string, labels map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.images[ref] = true
	r.imgLabels[ref] = maps.Clone(labels)
}

// DropImage makes ref absent locally (test setup).
func (r *Runtime) DropImage(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.images, ref)
}

// SetUnpullable makes PullImage of ref fail with runtime.ErrImageNotFound.
func (r *Runtime) SetUnpullable(ref string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.missing[ref] = true
}

// Images returns the present images, sorted.
func (r *Runtime) Images() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Sorted(maps.Keys(r.images))
}

// Built returns the build context BuildImage last received for tag.
func (r *Runtime) Built(tag string) (map[string][]byte, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	files, ok := r.built[tag]
	return files, ok
}

// AddContainer adds a container as if created outside the engine (for example a leftover from an
// earlier version, or a foreign one without labels). An empty ID or State is filled in
// ("created"; Running implies "running"). It returns the id.
func (r *Runtime) AddContainer(c Container) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.ID == "" {
		c.ID = r.newID()
	}
	if c.Name == "" {
		c.Name = c.Spec.Name
	}
	if c.Image == "" {
		c.Image = c.Spec.Image
	}
	if c.Labels == nil {
		c.Labels = maps.Clone(c.Spec.Labels)
	}
	switch {
	case c.State == "" && c.Running:
		c.State = "running"
	case c.State == "":
		c.State = "created"
	}
	r.containers[c.ID] = &c
	return c.ID
}

// Container returns the fake's record of a container by id or name.
func (r *Runtime) Container(idOrName string) (Container, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.find(idOrName)
	if c == nil {
		return Container{}, false
	}
	return *c, true
}

// Containers returns every container, whatever its labels, sorted by name.
func (r *Runtime) Containers() []Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Container, 0, len(r.containers))
	for _, c := range r.containers {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Volumes returns every volume, whatever its labels, sorted by name.
func (r *Runtime) Volumes() []runtime.Volume {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]runtime.Volume, 0, len(r.volumes))
	for _, v := range r.volumes {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ---- internals (r.mu held) ----

func (r *Runtime) newID() string {
	r.nextID++
	return fmt.Sprintf("fake%06d", r.nextID)
}

func (r *Runtime) find(idOrName string) *Container {
	if c, ok := r.containers[idOrName]; ok {
		return c
	}
	for _, c := range r.containers {
		if c.Name == idOrName && idOrName != "" {
			return c
		}
	}
	return nil
}

// nameOf names a container in calls: its name, or the given id when unknown.
func (r *Runtime) nameOf(idOrName string) string {
	if c := r.find(idOrName); c != nil && c.Name != "" {
		return c.Name
	}
	return idOrName
}

// begin records call and returns the error injected for it, if any.
func (r *Runtime) begin(method, call string) error {
	r.calls = append(r.calls, call)
	if r.unreachable && method != MethodClose {
		return fmt.Errorf("fake daemon: %w", runtime.ErrDaemonUnreachable)
	}
	if err, ok := r.failures[method]; ok {
		return err
	}
	if err, ok := r.callErrors[call]; ok {
		return err
	}
	return nil
}

func requireProject(kind, name string, labels map[string]string) error {
	if labels[runtime.LabelProject] == "" {
		return fmt.Errorf("%s %q: refusing to create it without the %s label", kind, name, runtime.LabelProject)
	}
	return nil
}

func checkOwned(kind, name string, have map[string]string, want string) error {
	got := have[runtime.LabelProject]
	if got == "" {
		return fmt.Errorf("%s %q exists but was not created by llmmon (it has no %s label)", kind, name, runtime.LabelProject)
	}
	if want != "" && got != want {
		return fmt.Errorf("%s %q belongs to llmmon stack %q, not %q", kind, name, got, want)
	}
	return nil
}

func tail(s string, n int) string {
	if n <= 0 || s == "" {
		return s
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "")
}

// ---- runtime.Runtime ----

// Ping returns the configured Info.
func (r *Runtime) Ping(ctx context.Context) (runtime.Info, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodPing, "ping"); err != nil {
		return runtime.Info{}, err
	}
	return r.info, ctx.Err()
}

// ListContainers returns the containers carrying LabelProject=project, sorted by name.
func (r *Runtime) ListContainers(ctx context.Context, project string) ([]runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodListContainers, "list containers "+project); err != nil {
		return nil, err
	}
	var out []runtime.Container
	for _, c := range r.containers {
		if c.Labels[runtime.LabelProject] == project {
			cc := c.Container
			cc.Labels = maps.Clone(c.Labels)
			out = append(out, cc)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, ctx.Err()
}

// InspectContainer returns a container by id or name.
func (r *Runtime) InspectContainer(ctx context.Context, id string) (runtime.Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodInspectContainer, "inspect "+r.nameOf(id)); err != nil {
		return runtime.Container{}, err
	}
	c := r.find(id)
	if c == nil {
		return runtime.Container{}, fmt.Errorf("inspect container %s: %w", id, runtime.ErrNotFound)
	}
	cc := c.Container
	cc.Labels = maps.Clone(c.Labels)
	return cc, ctx.Err()
}

// CreateContainer records a created container. Like the Docker runtime it needs LabelProject,
// a present image, an existing network (other than "host", "bridge" or none) and a free name.
func (r *Runtime) CreateContainer(ctx context.Context, spec runtime.ContainerSpec) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := spec.Name
	if name == "" {
		name = spec.Image
	}
	if err := r.begin(MethodCreateContainer, "create "+name); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return r.create(spec)
}

func (r *Runtime) create(spec runtime.ContainerSpec) (string, error) {
	if err := requireProject("container", spec.Name, spec.Labels); err != nil {
		return "", err
	}
	if !r.images[spec.Image] {
		return "", fmt.Errorf("create container %s: no such image %s: %w", spec.Name, spec.Image, runtime.ErrImageNotFound)
	}
	switch spec.Network {
	case "", "host", "bridge":
	default:
		// The fake has no networks of its own (llmmon creates none).
		return "", fmt.Errorf("create container %s: network %s: %w", spec.Name, spec.Network, runtime.ErrNotFound)
	}
	for _, m := range spec.Mounts {
		if m.Volume && r.volumes[m.Source] == nil {
			// Docker would create an unlabelled volume; llmmon must create volumes first.
			return "", fmt.Errorf("create container %s: volume %s does not exist (the fake does not create volumes implicitly)", spec.Name, m.Source)
		}
	}
	if spec.Name != "" && r.find(spec.Name) != nil {
		return "", fmt.Errorf("create container %s: the name is already in use", spec.Name)
	}
	id := r.newID()
	r.containers[id] = &Container{
		Container: runtime.Container{
			ID:     id,
			Name:   spec.Name,
			Image:  spec.Image,
			Labels: maps.Clone(spec.Labels),
			State:  "created",
		},
		Spec: spec,
	}
	return id, nil
}

// StartContainer marks a container running. It never fails with runtime.ErrPortInUse by itself:
// inject that with FailCall("start <name>", ...).
func (r *Runtime) StartContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodStartContainer, "start "+r.nameOf(id)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := r.find(id)
	if c == nil {
		return fmt.Errorf("start container %s: %w", id, runtime.ErrNotFound)
	}
	if !c.Running {
		c.State, c.Running, c.ExitCode, c.StartedAt = "running", true, 0, time.Now()
	}
	return nil
}

// RestartContainer marks a container running again, with a new start time and one more restart.
func (r *Runtime) RestartContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodRestartContainer, "restart "+r.nameOf(id)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := r.find(id)
	if c == nil {
		return fmt.Errorf("restart container %s: %w", id, runtime.ErrNotFound)
	}
	c.State, c.Running, c.ExitCode, c.StartedAt = "running", true, 0, time.Now()
	c.RestartCount++
	return nil
}

// RemoveContainer deletes a container; a missing one is not an error.
func (r *Runtime) RemoveContainer(ctx context.Context, id string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodRemoveContainer, "remove "+r.nameOf(id)); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if c := r.find(id); c != nil {
		delete(r.containers, c.ID)
	}
	return nil
}

// Logs returns the last n lines (all when n <= 0) of the container's Logs (set with AddContainer).
func (r *Runtime) Logs(ctx context.Context, id string, n int) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodLogs, "logs "+r.nameOf(id)); err != nil {
		return "", err
	}
	c := r.find(id)
	if c == nil {
		return "", fmt.Errorf("logs of container %s: %w", id, runtime.ErrNotFound)
	}
	return tail(c.Logs, n), ctx.Err()
}

// RemoveNetworks records the call: the fake has no networks to remove.
func (r *Runtime) RemoveNetworks(ctx context.Context, project string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodRemoveNetworks, "remove networks "+project); err != nil {
		return err
	}
	return ctx.Err()
}

// EnsureVolume creates the volume when missing. A volume of that name without llmmon's project
// label (or of another project) is an error.
func (r *Runtime) EnsureVolume(ctx context.Context, name string, labels map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodEnsureVolume, "ensure volume "+name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := requireProject("volume", name, labels); err != nil {
		return err
	}
	if v := r.volumes[name]; v != nil {
		return checkOwned("volume", name, v.Labels, labels[runtime.LabelProject])
	}
	r.volumes[name] = &runtime.Volume{Name: name, Labels: maps.Clone(labels)}
	return nil
}

// InspectVolume returns a volume by name, whoever created it.
func (r *Runtime) InspectVolume(ctx context.Context, name string) (runtime.Volume, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodInspectVolume, "inspect volume "+name); err != nil {
		return runtime.Volume{}, err
	}
	v := r.volumes[name]
	if v == nil {
		return runtime.Volume{}, fmt.Errorf("inspect volume %s: %w", name, runtime.ErrNotFound)
	}
	return runtime.Volume{Name: v.Name, Labels: maps.Clone(v.Labels)}, ctx.Err()
}

// ListVolumes returns the volumes carrying LabelProject=project, sorted by name.
func (r *Runtime) ListVolumes(ctx context.Context, project string) ([]runtime.Volume, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodListVolumes, "list volumes "+project); err != nil {
		return nil, err
	}
	var out []runtime.Volume
	for _, v := range r.volumes {
		if v.Labels[runtime.LabelProject] == project {
			out = append(out, runtime.Volume{Name: v.Name, Labels: maps.Clone(v.Labels)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, ctx.Err()
}

// RemoveVolume removes a volume carrying llmmon's project label; a missing one is
// runtime.ErrNotFound and one in use by a container is an error.
func (r *Runtime) RemoveVolume(ctx context.Context, name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodRemoveVolume, "remove volume "+name); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	v := r.volumes[name]
	if v == nil {
		return fmt.Errorf("remove volume %s: %w", name, runtime.ErrNotFound)
	}
	if err := checkOwned("volume", name, v.Labels, ""); err != nil {
		return err
	}
	for _, c := range r.containers {
		for _, m := range c.Spec.Mounts {
			if m.Volume && m.Source == name {
				return fmt.Errorf("remove volume %s: it is in use by container %s", name, c.Name)
			}
		}
	}
	delete(r.volumes, name)
	return nil
}

// ImagePresent reports whether ref was added, pulled or built.
func (r *Runtime) ImagePresent(ctx context.Context, ref string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodImagePresent, "image present "+ref); err != nil {
		return false, err
	}
	return r.images[ref], ctx.Err()
}

// PullImage makes ref present, reporting two events ("Pulling fs layer", "Pull complete") for one
// layer, unless ref was marked with SetUnpullable.
func (r *Runtime) PullImage(ctx context.Context, ref string, fn func(runtime.PullEvent)) error {
	r.mu.Lock()
	if err := r.begin(MethodPullImage, "pull "+ref); err != nil {
		r.mu.Unlock()
		return err
	}
	if r.missing[ref] {
		r.mu.Unlock()
		return fmt.Errorf("pull image %s: %w", ref, runtime.ErrImageNotFound)
	}
	r.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if fn != nil {
		fn(runtime.PullEvent{Image: ref, ID: "layer0", Status: "Pulling fs layer"})
		fn(runtime.PullEvent{Image: ref, ID: "layer0", Status: "Pull complete", Current: 1, Total: 1})
	}
	r.mu.Lock()
	r.images[ref] = true
	r.mu.Unlock()
	return nil
}

// CopyFiles records the entries per container; Copied returns them.
func (r *Runtime) CopyFiles(ctx context.Context, id, dir string, files []runtime.FileEntry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.containers[id]
	name := id
	if ok {
		name = c.Spec.Name
	}
	if err := r.begin(MethodCopyFiles, "copy "+name+":"+dir); err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("copy files to %s: %w", id, runtime.ErrNotFound)
	}
	if r.copied == nil {
		r.copied = map[string]map[string]runtime.FileEntry{}
	}
	if r.copied[id] == nil {
		r.copied[id] = map[string]runtime.FileEntry{}
	}
	for _, f := range files {
		r.copied[id][strings.TrimSuffix(dir, "/")+"/"+f.Path] = f
	}
	return nil
}

// ReadLink returns the target of a link CopyFiles wrote into the container, resolved to an
// absolute path as Docker does.
func (r *Runtime) ReadLink(ctx context.Context, id, p string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.find(id)
	if err := r.begin(MethodReadLink, "read "+r.nameOf(id)+":"+p); err != nil {
		return "", err
	}
	if c == nil {
		return "", fmt.Errorf("stat %s:%s: %w", id, p, runtime.ErrNotFound)
	}
	f, ok := r.copied[c.ID][p]
	if !ok || f.Link == "" {
		return "", fmt.Errorf("stat %s:%s: %w", id, p, runtime.ErrNotFound)
	}
	if path.IsAbs(f.Link) {
		return f.Link, ctx.Err()
	}
	return path.Join(path.Dir(p), f.Link), ctx.Err()
}

// Copied returns what CopyFiles wrote into a container, by absolute path.
func (r *Runtime) Copied(id string) map[string]runtime.FileEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]runtime.FileEntry{}
	for k, v := range r.copied[id] {
		out[k] = v
	}
	return out
}

// BuildImage records the build context and makes tag present. The context must include
// "Dockerfile".
func (r *Runtime) BuildImage(ctx context.Context, tag string, files map[string][]byte, labels map[string]string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodBuildImage, "build "+tag); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, ok := files["Dockerfile"]; !ok {
		return errors.New("build image " + tag + ": the build context has no Dockerfile")
	}
	copied := make(map[string][]byte, len(files))
	for k, v := range files {
		copied[k] = slices.Clone(v)
	}
	r.built[tag] = copied
	r.images[tag] = true
	r.imgLabels[tag] = maps.Clone(labels)
	return nil
}

// Close records the call; the fake keeps working afterwards.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.begin(MethodClose, "close")
}

// RemoveImage forgets an image that no container uses.
func (r *Runtime) RemoveImage(ctx context.Context, ref string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodRemoveImage, "remove image "+ref); err != nil {
		return err
	}
	for _, c := range r.containers {
		if c.Image == ref {
			return nil
		}
	}
	delete(r.images, ref)
	delete(r.built, ref)
	delete(r.imgLabels, ref)
	return nil
}

// ListImages returns the present images of repository repo carrying every label in labels,
// one per tag (the fake gives each reference its own image), sorted.
func (r *Runtime) ListImages(ctx context.Context, repo string, labels map[string]string) ([]runtime.Image, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodListImages, "list images "+repo); err != nil {
		return nil, err
	}
	var out []runtime.Image
	for _, ref := range slices.Sorted(maps.Keys(r.images)) {
		if rp, _, ok := strings.Cut(ref, ":"); !ok || rp != repo {
			continue
		}
		have := r.imgLabels[ref]
		match := true
		for k, v := range labels {
			if got, ok := have[k]; !ok || got != v {
				match = false
			}
		}
		if match {
			out = append(out, runtime.Image{ID: "sha256:" + ref, Tags: []string{ref}, Labels: maps.Clone(have)})
		}
	}
	return out, ctx.Err()
}

// RemoveFiles deletes what CopyFiles wrote at those absolute paths; the container must be
// running, as for Docker's exec. Inject runtime.ErrNoRemove with Fail to play an image without rm.
func (r *Runtime) RemoveFiles(ctx context.Context, id string, paths []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.begin(MethodRemoveFiles, strings.TrimSpace("remove files "+r.nameOf(id)+" "+strings.Join(paths, " "))); err != nil {
		return err
	}
	c := r.find(id)
	if c == nil {
		return fmt.Errorf("remove files in container %s: %w", id, runtime.ErrNotFound)
	}
	if !c.Running {
		return fmt.Errorf("remove files in container %s: container is not running", c.Name)
	}
	for _, p := range paths {
		delete(r.copied[c.ID], p)
	}
	return ctx.Err()
}
