package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/spec"
)

// UpOptions control Up.
type UpOptions struct {
	// DryRun plans and runs the preflight checks, then stops: nothing is pulled, written or
	// changed. The plan is in UpResult.Plan.
	DryRun bool
	// NoWait fails at once with ErrLocked when another llmmon is changing the stack, instead of
	// waiting for it.
	NoWait bool
	// HealthTimeout bounds the wait for every component to become healthy (default 3m).
	HealthTimeout time.Duration
	// Progress receives the steps, the waits and the pulls' progress, one at a time; it may be
	// nil.
	Progress func(Event)
}

// UpResult says what up did and where things are.
type UpResult struct {
	URLs             map[string]string
	PasswordFile     string
	Notes            []string
	Changed          bool
	Elapsed          time.Duration
	ComponentActions map[string]string
	// Plan is what up planned (and, unless DryRun, did).
	Plan Steps
}

// ErrPreflight wraps every problem found before anything is changed.
var ErrPreflight = errors.New("preflight failed")

func (e *Engine) emit(o UpOptions, ev Event) {
	if o.Progress != nil {
		o.Progress(ev)
	}
	e.log.Debug("up", "component", ev.Component, "action", ev.Action, "detail", ev.Detail)
}

// pullProgress is the runtime's pull callback for one image: nil when no one listens.
func (e *Engine) pullProgress(o UpOptions, component string) func(runtime.PullEvent) {
	if o.Progress == nil {
		return nil
	}
	return newPullEvents(component, o.Progress).add
}

func volumeName(s *spec.Spec, v string) string { return s.Name + "_" + v }

func containerName(s *spec.Spec, c string) string { return "llmmon-" + s.Name + "-" + c }

func splitUser(u string) (int, int) {
	a, b, _ := strings.Cut(u, ":")
	uid, _ := strconv.Atoi(a)
	gid, _ := strconv.Atoi(b)
	return uid, gid
}

// markerFile is written last into each component's configuration folder: a symbolic link to
// markerPrefix + the hash of the files copied before it, so the files a container really holds
// are read back by the next run with a stat, not a read.
const (
	markerFile   = ".llmmon-files"
	markerPrefix = "files-"
)

// desiredState returns every component's container as the spec wants it.
func (e *Engine) desiredState(s *spec.Spec, r *Rendered, grafanaPW string) []Desired {
	var out []Desired
	for _, c := range render.Components(s, render.Options{GPU: r.GPU, GPUExporter: r.GPUExporter, RelayImage: e.relayImage(s, r.GPUExporter)}) {
		cs := runtime.ContainerSpec{
			Name:        containerName(s, c.Name),
			Image:       c.Image,
			Cmd:         c.Args,
			Env:         c.Env,
			User:        c.User,
			Network:     "host",
			PidHost:     c.PidHost,
			GPUs:        c.GPUs,
			CapAdd:      c.CapAdd,
			Restart:     "unless-stopped",
			StopTimeout: 20 * time.Second,
		}
		if c.DataVolume != "" {
			cs.Mounts = append(cs.Mounts, runtime.Mount{Source: volumeName(s, c.DataVolume), Target: c.DataPath, Volume: true})
		}
		for _, m := range c.HostMounts {
			cs.Mounts = append(cs.Mounts, runtime.Mount{Source: m[0], Target: m[1], ReadOnly: true})
		}
		if c.DockerSocket {
			cs.Mounts = append(cs.Mounts, runtime.Mount{Source: render.DockerSocket, Target: render.DockerSocket, ReadOnly: true})
			if gid, ok := socketGroup(render.DockerSocket); ok {
				cs.GroupAdd = []string{gid}
			}
		}
		d := Desired{Component: c, Files: componentFiles(s, r.Bundle, c, grafanaPW)}
		h := sha256.New()
		for _, f := range d.Files {
			fmt.Fprintf(h, "%s %o %d %d\n", f.Path, f.Mode, f.UID, len(f.Data))
			h.Write(f.Data)
		}
		d.FilesHash = hex.EncodeToString(h.Sum(nil))[:16]
		specJSON, _ := json.Marshal(cs)
		ch := sha256.Sum256(specJSON)
		d.ConfigHash = hex.EncodeToString(ch[:])[:16]
		cs.Labels = map[string]string{
			runtime.LabelProject:    s.Name,
			runtime.LabelComponent:  c.Name,
			runtime.LabelConfigHash: d.ConfigHash,
			runtime.LabelVersion:    e.version,
			runtime.LabelManaged:    "true",
			runtime.LabelListen:     c.Addr,
		}
		d.Spec = cs
		out = append(out, d)
	}
	return out
}

// componentFiles returns the files copied into a component's configuration folder: its part of
// the bundle, and for Grafana the imported dashboards and the admin password.
func componentFiles(s *spec.Spec, b *render.Bundle, c render.Component, grafanaPW string) []runtime.FileEntry {
	if c.ConfigPrefix == "" {
		return nil
	}
	uid, gid := splitUser(c.User)
	under := b.Under(c.ConfigPrefix)
	paths := slices.Sorted(maps.Keys(under))
	dirs := map[string]bool{}
	for _, p := range paths {
		for dir := filepath.Dir(p); dir != "." && !dirs[dir]; dir = filepath.Dir(dir) {
			dirs[dir] = true
		}
	}
	var files []runtime.FileEntry
	for _, dd := range slices.Sorted(maps.Keys(dirs)) {
		files = append(files, runtime.FileEntry{Path: dd, Dir: true, Mode: 0o755, UID: uid, GID: gid})
	}
	for _, p := range paths {
		f := under[p]
		mode := int64(0o644)
		if f.Mode == 0o600 {
			mode = 0o400
		}
		files = append(files, runtime.FileEntry{Path: p, Data: f.Data, Mode: mode, UID: uid, GID: gid})
	}
	if c.Imports {
		imp := importedFiles(s)
		for _, p := range slices.Sorted(maps.Keys(imp)) {
			files = append(files, runtime.FileEntry{Path: p, Data: imp[p], Mode: 0o644, UID: uid, GID: gid})
		}
	}
	if c.AdminSecret != "" {
		files = append(files, runtime.FileEntry{Path: filepath.Dir(c.AdminSecret), Dir: true, Mode: 0o700, UID: uid, GID: gid},
			runtime.FileEntry{Path: c.AdminSecret, Data: []byte(grafanaPW), Mode: 0o400, UID: uid, GID: gid})
	}
	return files
}

// observe reads what is really there: the stack's own containers (with the files hash their
// marker holds) and which of the wanted images are present. Containers that carry the stack's
// project label without llmmon's full set of labels are not the stack's: they are returned
// apart, and never touched.
func (e *Engine) observe(ctx context.Context, s *spec.Spec, want []Desired) (Observed, []runtime.Container, error) {
	obs := Observed{Images: map[string]bool{}}
	list, err := e.rt.ListContainers(ctx, s.Name)
	if err != nil {
		return obs, nil, err
	}
	configPath := map[string]string{}
	for _, d := range want {
		configPath[d.Component.Name] = d.Component.ConfigPath
	}
	var foreign []runtime.Container
	for _, c := range list {
		if !owned(c) {
			foreign = append(foreign, c)
			continue
		}
		obs.Containers = append(obs.Containers, ObservedContainer{Container: c})
	}
	g, gctx := errgroup.WithContext(ctx)
	for i := range obs.Containers {
		c := &obs.Containers[i]
		dir := configPath[c.Component()]
		if dir == "" {
			continue
		}
		g.Go(func() error {
			target, err := e.rt.ReadLink(gctx, c.ID, dir+"/"+markerFile)
			switch {
			case err == nil:
				c.Files = strings.TrimPrefix(path.Base(target), markerPrefix)
			case errors.Is(err, runtime.ErrNotFound):
			default:
				return err
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return obs, nil, err
	}
	// Only the images of containers the plan creates matter: ask for those alone (a plan that
	// assumes every image present names them).
	obs.Images = map[string]bool{}
	for _, d := range want {
		obs.Images[d.Spec.Image] = true
	}
	var mu sync.Mutex
	g, gctx = errgroup.WithContext(ctx)
	for _, st := range Plan(want, obs) {
		if st.Op != OpCreate && st.Op != OpRecreate {
			continue
		}
		g.Go(func() error {
			ok, err := e.rt.ImagePresent(gctx, st.Image)
			mu.Lock()
			obs.Images[st.Image] = ok
			mu.Unlock()
			return err
		})
	}
	return obs, foreign, g.Wait()
}

// owned reports whether a container carries llmmon's full set of labels with a component llmmon
// knows: only such a container is ever changed or removed.
func owned(c runtime.Container) bool {
	return c.Labels[runtime.LabelManaged] == "true" && c.Labels[runtime.LabelConfigHash] != "" &&
		slices.Contains(render.AllComponents, c.Labels[runtime.LabelComponent])
}

// Up converges the stack to the spec: it takes the stack's lock, renders and checks the files,
// observes what is really there, plans, runs a preflight of the whole plan that changes nothing,
// then runs the plan (independent steps in parallel) and waits until every component is
// healthy.
func (e *Engine) Up(ctx context.Context, s *spec.Spec, o UpOptions) (*UpResult, error) {
	start := time.Now()
	if e.rt == nil {
		return nil, errors.New("no container runtime configured")
	}
	if o.HealthTimeout == 0 {
		o.HealthTimeout = 3 * time.Minute
	}
	o.Progress = syncProgress(o.Progress)
	info, err := e.rt.Ping(ctx)
	if err != nil {
		return nil, err
	}
	// The lock comes before the credentials: they are generated under it, so two first runs at
	// once cannot make two different passwords. A dry run takes no lock and writes nothing.
	var creds *Credentials
	if !o.DryRun {
		lock, err := lockStack(ctx, s, "up", o.NoWait, func(holder string) {
			e.emit(o, Event{Action: "wait", Detail: holder + " is changing this stack; waiting for it (--no-wait fails at once instead)"})
		})
		if err != nil {
			return nil, err
		}
		defer lock.release()
		if creds, err = EnsureCredentials(s); err != nil {
			return nil, err
		}
	}
	r, err := e.Render(ctx, s, RenderOptions{Credentials: creds, NvidiaRuntime: &info.NvidiaRuntime})
	if err != nil {
		return nil, err
	}
	res := &UpResult{Notes: r.Notes, URLs: map[string]string{}, ComponentActions: map[string]string{}}
	if s.GPU == "on" && s.DCGMExporterAddress == "" && !info.NvidiaRuntime {
		return nil, fmt.Errorf("%w: gpu: on, but the Docker daemon has no NVIDIA runtime; install the NVIDIA Container Toolkit (nvidia-ctk runtime configure --runtime=docker) or set gpu: auto", ErrPreflight)
	}
	pw, pwFile, err := e.grafanaPasswordFor(s, o.DryRun)
	if err != nil {
		return nil, err
	}
	res.PasswordFile = pwFile
	want := e.desiredState(s, r, pw)
	obs, foreign, err := e.observe(ctx, s, want)
	if err != nil {
		return nil, err
	}
	for _, c := range foreign {
		res.Notes = append(res.Notes, fmt.Sprintf("container %s carries the label %s=%s but not llmmon's other labels; it is not part of the stack and was left alone", c.Name, runtime.LabelProject, s.Name))
	}
	steps := Plan(want, obs)
	res.Plan = steps
	// Preflight: nothing is changed until every check passes.
	if problems := e.preflight(ctx, s, want, obs, steps); len(problems) > 0 {
		return res, fmt.Errorf("%w, nothing was changed:\n  %s", ErrPreflight, strings.Join(problems, "\n  "))
	}
	if o.DryRun {
		res.Elapsed = time.Since(start)
		return res, nil
	}
	if problems := e.fetchImages(ctx, steps, o); len(problems) > 0 {
		return res, fmt.Errorf("%w, nothing was changed:\n  %s", ErrPreflight, strings.Join(problems, "\n  "))
	}
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// Keep a copy of the generated files where users can read them.
	if err := r.Bundle.Write(filepath.Join(s.DataDir, "generated")); err != nil {
		return nil, err
	}
	_ = os.Remove(filepath.Join(s.DataDir, "state.json")) // kept by earlier versions; the containers are the state now
	ep := e.newEndpoints(s, creds, pw)
	if err := e.execute(ctx, want, steps, obs, ep, o, res); err != nil {
		return res, err
	}
	if err := e.waitHealthy(ctx, s, want, ep, o); err != nil {
		return res, err
	}
	for _, d := range want {
		if d.Component.Published {
			res.URLs[d.Component.Name] = "http://" + publicAddr(s, d.Component.Addr)
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// grafanaPasswordFor is grafanaPassword, except that a dry run never writes the file: it plans
// with a placeholder when there is none yet.
func (e *Engine) grafanaPasswordFor(s *spec.Spec, dryRun bool) (string, string, error) {
	if !dryRun {
		return grafanaPassword(s)
	}
	pw, file, err := readGrafanaPassword(s)
	if err == nil && pw == "" {
		pw = "(generated by up)"
	}
	return pw, file, err
}

// preflight checks, without changing anything, that every step of the plan can be done: every
// port a step will bind is free (or held by the container the step replaces), no container or
// volume that llmmon did not create holds a name a step will create.
func (e *Engine) preflight(ctx context.Context, s *spec.Spec, want []Desired, obs Observed, steps Steps) []string {
	var problems []string
	ours := map[string]bool{}
	released := map[string]bool{} // addresses the plan frees: containers it removes or replaces
	for _, c := range obs.Containers {
		ours[c.ID] = true
	}
	for _, st := range steps {
		if st.Op == OpRemove || st.Op == OpRecreate {
			for _, c := range obs.Containers {
				if c.ID == st.Container && c.Running {
					released[listenAddr(c, want)] = true
				}
			}
		}
	}
	for _, d := range want {
		st, ok := steps.For(d.Component.Name)
		if !ok || (st.Op != OpCreate && st.Op != OpRecreate) {
			continue
		}
		c := d.Component
		if !released[c.Addr] {
			if err := portFree(c.Addr); err != nil {
				problems = append(problems, fmt.Sprintf("%s: port %s is already in use by another program; stop it, or choose another port in the spec (%s)", c.Name, c.Addr, c.PortField))
			}
		}
		if st.Op == OpCreate {
			if other, err := e.rt.InspectContainer(ctx, d.Spec.Name); err == nil && !ours[other.ID] {
				problems = append(problems, fmt.Sprintf("%s: a container named %s that llmmon did not create is in the way (id %.12s, image %s); rename it (docker rename %s %s-old) or remove it, or give this stack another name (name: in the spec)", c.Name, d.Spec.Name, other.ID, other.Image, d.Spec.Name, d.Spec.Name))
			} else if err != nil && !errors.Is(err, runtime.ErrNotFound) {
				problems = append(problems, fmt.Sprintf("%s: %v", c.Name, err))
			}
		}
		for _, m := range d.Spec.Mounts {
			if !m.Volume {
				continue
			}
			v, err := e.rt.InspectVolume(ctx, m.Source)
			switch {
			case err == nil && v.Labels[runtime.LabelProject] != s.Name:
				problems = append(problems, fmt.Sprintf("%s: a volume named %s that llmmon did not create for stack %q is in the way; llmmon never adopts data it did not create: rename the stack (name: in the spec), or remove the volume if its data is not needed (docker volume rm %s)", c.Name, m.Source, s.Name, m.Source))
			case err != nil && !errors.Is(err, runtime.ErrNotFound):
				problems = append(problems, fmt.Sprintf("%s: %v", c.Name, err))
			}
		}
	}
	return problems
}

// listenAddr is the address a container of the stack listens on: its label, or, for one made by
// an llmmon that did not label it, the address its component wants.
func listenAddr(c ObservedContainer, want []Desired) string {
	if a := c.Labels[runtime.LabelListen]; a != "" {
		return a
	}
	for _, d := range want {
		if d.Component.Name == c.Component() {
			return d.Component.Addr
		}
	}
	return ""
}

// fetchImages pulls and builds the images the plan needs, in parallel; failures are preflight
// problems (no container has been touched yet).
func (e *Engine) fetchImages(ctx context.Context, steps Steps, o UpOptions) []string {
	var mu sync.Mutex
	var problems []string
	var wg sync.WaitGroup
	for _, st := range steps {
		if st.Op != OpPull && st.Op != OpBuild {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.emit(o, Event{Component: st.Component, Action: string(st.Op), Detail: st.Image})
			var msg string
			if st.Op == OpBuild {
				if err := e.buildRelayImage(ctx, st.Image); err != nil {
					msg = fmt.Sprintf("%s: %v", st.Component, err)
				}
			} else if err := e.rt.PullImage(ctx, st.Image, e.pullProgress(o, st.Component)); err != nil {
				msg = fmt.Sprintf("%s: cannot pull image %s (%v); if Docker Hub is unreachable from here, set images.mirror in the spec (e.g. docker.m.daocloud.io), or images.%s to an image you can reach", st.Component, st.Image, shortErr(err), strings.ReplaceAll(st.Component, "-", "_"))
			}
			if msg != "" {
				mu.Lock()
				problems = append(problems, msg)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Strings(problems)
	return problems
}

// execute runs the plan: removals first, then every component's step in parallel.
func (e *Engine) execute(ctx context.Context, want []Desired, steps Steps, obs Observed, ep endpoints, o UpOptions, res *UpResult) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, st := range steps {
		if st.Op != OpRemove {
			continue
		}
		g.Go(func() error {
			e.emit(o, Event{Component: st.Component, Action: "remove", Detail: st.Cause})
			return e.rt.RemoveContainer(gctx, st.Container)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	// Components whose readiness takes longest once started (Prometheus waits on its own
	// service discovery) go first, alone, so that the daemon serves them at full speed; the
	// others follow in parallel once they answer (or after firstWaveWait).
	var first, rest []Desired
	for _, d := range want {
		if d.Component.StartFirst {
			first = append(first, d)
		} else {
			rest = append(rest, d)
		}
	}
	var mu sync.Mutex
	for _, wave := range [][]Desired{first, rest} {
		g, gctx = errgroup.WithContext(ctx)
		for _, d := range wave {
			st, ok := steps.For(d.Component.Name)
			if !ok {
				mu.Lock()
				res.ComponentActions[d.Component.Name] = "unchanged"
				mu.Unlock()
				continue
			}
			g.Go(func() error {
				action, err := e.run(gctx, ep, d, st)
				if err != nil {
					return err
				}
				if d.Component.BuiltLocally && st.Op == OpRecreate {
					// The relay images of the llmmon binaries this one replaced are of no more use.
					if err := e.removeStaleRelayImages(gctx, d.Spec.Image); err != nil {
						e.log.Debug("cannot remove the previous relay images", "error", err)
					}
				}
				mu.Lock()
				res.ComponentActions[d.Component.Name] = action
				mu.Unlock()
				e.emit(o, Event{Component: d.Component.Name, Action: action, Detail: st.Cause})
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return err
		}
		if len(wave) > 0 && wave[0].Component.StartFirst {
			e.awaitStarted(ctx, ep, wave, steps)
		}
	}
	res.Changed = len(steps) > 0
	return nil
}

// firstWaveWait bounds how long the other components wait for the first ones to answer.
const firstWaveWait = 2 * time.Second

// awaitStarted waits, at most firstWaveWait, until the components of the first wave that were
// started answer their readiness path: starting the others meanwhile would slow them down on a
// small host (the daemon and their own start compete for its cores), and what they wait for
// afterwards (Prometheus: its discovery) runs while the others start.
func (e *Engine) awaitStarted(ctx context.Context, ep endpoints, wave []Desired, steps Steps) {
	ctx, cancel := context.WithTimeout(ctx, firstWaveWait)
	defer cancel()
	for _, d := range wave {
		if _, ok := steps.For(d.Component.Name); !ok {
			continue
		}
		p := ep.of(d.Component.Name)
		for ctx.Err() == nil {
			if code, _, err := p.get(ctx, d.Component.Health); err == nil && code == http.StatusOK {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(25 * time.Millisecond):
			}
		}
	}
}

// run carries out one component's step and returns what was done.
func (e *Engine) run(ctx context.Context, ep endpoints, d Desired, st Step) (string, error) {
	switch st.Op {
	case OpCreate:
		return "create", e.create(ctx, d)
	case OpRecreate:
		if err := e.rt.RemoveContainer(ctx, st.Container); err != nil {
			return "", err
		}
		return "recreate", e.create(ctx, d)
	case OpStart:
		if err := e.rt.StartContainer(ctx, st.Container); err != nil {
			return "", e.startErr(d, err)
		}
		return "start", nil
	case OpReload:
		if err := e.copyConfig(ctx, st.Container, d); err != nil {
			return "", err
		}
		if !st.Running {
			if err := e.rt.StartContainer(ctx, st.Container); err != nil {
				return "", e.startErr(d, err)
			}
			return "start", nil
		}
		if err := e.reload(ctx, ep, d); err != nil {
			// A component that does not answer yet (a run of llmmon was killed just after
			// starting it) or refuses the reload is recreated instead; its data stays in its
			// volume and the new files are read at start.
			e.log.Debug("reload failed, recreating", "component", d.Component.Name, "error", err)
			if err := e.rt.RemoveContainer(ctx, st.Container); err != nil {
				return "", err
			}
			return "recreate", e.create(ctx, d)
		}
		return "reload", nil
	}
	return "", fmt.Errorf("%s: unknown step %q", d.Component.Name, st.Op)
}

func publicAddr(s *spec.Spec, addr string) string {
	if s.Bind == "0.0.0.0" {
		_, port, _ := net.SplitHostPort(addr)
		if h, err := os.Hostname(); err == nil {
			return net.JoinHostPort(h, port)
		}
	}
	return addr
}

func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

func (e *Engine) create(ctx context.Context, d Desired) error {
	for _, m := range d.Spec.Mounts {
		if m.Volume {
			if err := e.rt.EnsureVolume(ctx, m.Source, map[string]string{runtime.LabelProject: d.Spec.Labels[runtime.LabelProject], runtime.LabelComponent: d.Component.Name, runtime.LabelManaged: "true"}); err != nil {
				return err
			}
		}
	}
	id, err := e.rt.CreateContainer(ctx, d.Spec)
	if err != nil {
		return err
	}
	var dataDir []runtime.FileEntry
	if d.Component.DataPath != "" {
		// The volume's root gets the uid the image runs as (Prometheus 65534, Grafana 472), so a
		// "permission denied" on the data directory never reaches the user. It goes in the same
		// copy as the configuration: one request to the daemon.
		uid, gid := splitUser(d.Component.User)
		dataDir = append(dataDir, runtime.FileEntry{Path: strings.TrimPrefix(d.Component.DataPath, "/"), Dir: true, Mode: 0o755, UID: uid, GID: gid})
	}
	if err := e.copyConfig(ctx, id, d, dataDir...); err != nil {
		return err
	}
	if err := e.rt.StartContainer(ctx, id); err != nil {
		return e.startErr(d, err)
	}
	return nil
}

func (e *Engine) startErr(d Desired, err error) error {
	if errors.Is(err, runtime.ErrPortInUse) {
		return fmt.Errorf("%s: port %s is already in use; stop whatever holds it or change %s in the spec: %w", d.Component.Name, d.Component.Addr, d.Component.PortField, err)
	}
	return fmt.Errorf("start %s: %w", d.Component.Name, err)
}

// copyConfig copies a component's files into its container, after the entries of first (paths
// relative to /), and the marker last.
func (e *Engine) copyConfig(ctx context.Context, id string, d Desired, first ...runtime.FileEntry) error {
	if len(d.Files) == 0 {
		if len(first) == 0 {
			return nil
		}
		if err := e.rt.CopyFiles(ctx, id, "/", first); err != nil {
			return fmt.Errorf("set ownership of %s's data volume: %w", d.Component.Name, err)
		}
		return nil
	}
	// Copied from / so that the configuration directory is created when the image lacks it;
	// missing parents are created root-owned by Docker, the directory itself gets the
	// component's uid.
	base := strings.TrimPrefix(d.Component.ConfigPath, "/")
	uid, gid := splitUser(d.Component.User)
	entries := append(first, runtime.FileEntry{Path: base, Dir: true, Mode: 0o755, UID: uid, GID: gid})
	for _, f := range d.Files {
		f.Path = base + "/" + f.Path
		entries = append(entries, f)
	}
	// The marker goes last: it is there with this hash only when every file before it is.
	entries = append(entries, runtime.FileEntry{Path: base + "/" + markerFile, Link: markerPrefix + d.FilesHash, Mode: 0o777, UID: uid, GID: gid})
	if err := e.rt.CopyFiles(ctx, id, "/", entries); err != nil {
		return fmt.Errorf("copy configuration into %s: %w", d.Component.Name, err)
	}
	return nil
}
