package stack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/spec"
)

// Event is one step of progress, for the command line to show.
type Event struct {
	Component string
	Action    string // "pull", "create", "recreate", "reload", "start", "remove", "unchanged", "healthy", "skip"
	Detail    string
}

// UpOptions control Up.
type UpOptions struct {
	// HealthTimeout bounds the wait for every component to become healthy (default 3m).
	HealthTimeout time.Duration
	// Progress receives events; it may be nil.
	Progress func(Event)
	// Pull receives pull progress; it may be nil.
	Pull func(runtime.PullEvent)
}

// UpResult says what up did and where things are.
type UpResult struct {
	URLs             map[string]string
	PasswordFile     string
	Notes            []string
	Changed          bool
	Elapsed          time.Duration
	ComponentActions map[string]string
}

// ErrPreflight wraps every problem found before anything is changed.
var ErrPreflight = errors.New("preflight failed")

func (e *Engine) emit(o UpOptions, ev Event) {
	if o.Progress != nil {
		o.Progress(ev)
	}
	e.log.Debug("up", "component", ev.Component, "action", ev.Action, "detail", ev.Detail)
}

// desired is one component's container as it should be.
type desired struct {
	c         render.Component
	spec      runtime.ContainerSpec
	hash      string
	files     []runtime.FileEntry
	filesHash string
}

func volumeName(s *spec.Spec, v string) string { return s.Name + "_" + v }

func containerName(s *spec.Spec, c string) string { return "llmmon-" + s.Name + "-" + c }

func splitUser(u string) (int, int) {
	a, b, _ := strings.Cut(u, ":")
	uid, _ := strconv.Atoi(a)
	gid, _ := strconv.Atoi(b)
	return uid, gid
}

func (e *Engine) plan(s *spec.Spec, r *Rendered, grafanaPW string) []desired {
	var out []desired
	for _, c := range render.Components(s, render.Options{GPU: r.GPU, RelayImage: e.relayImage()}) {
		uid, gid := splitUser(c.User)
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
		d := desired{c: c}
		var files []runtime.FileEntry
		if c.ConfigPrefix != "" {
			under := r.Bundle.Under(c.ConfigPrefix)
			paths := make([]string, 0, len(under))
			for p := range under {
				paths = append(paths, p)
			}
			sort.Strings(paths)
			dirs := map[string]bool{}
			for _, p := range paths {
				for dir := filepath.Dir(p); dir != "." && !dirs[dir]; dir = filepath.Dir(dir) {
					dirs[dir] = true
				}
			}
			dl := make([]string, 0, len(dirs))
			for dd := range dirs {
				dl = append(dl, dd)
			}
			sort.Strings(dl)
			for _, dd := range dl {
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
			if c.Name == "grafana" {
				imp := importedFiles(s)
				ips := make([]string, 0, len(imp))
				for p := range imp {
					ips = append(ips, p)
				}
				sort.Strings(ips)
				for _, p := range ips {
					files = append(files, runtime.FileEntry{Path: p, Data: imp[p], Mode: 0o644, UID: uid, GID: gid})
				}
				files = append(files, runtime.FileEntry{Path: "secrets", Dir: true, Mode: 0o700, UID: uid, GID: gid},
					runtime.FileEntry{Path: "secrets/admin-password", Data: []byte(grafanaPW), Mode: 0o400, UID: uid, GID: gid})
			}
		}
		d.files = files
		h := sha256.New()
		for _, f := range files {
			fmt.Fprintf(h, "%s %o %d %d\n", f.Path, f.Mode, f.UID, len(f.Data))
			h.Write(f.Data)
		}
		d.filesHash = hex.EncodeToString(h.Sum(nil))[:16]
		specJSON, _ := json.Marshal(cs)
		ch := sha256.Sum256(specJSON)
		d.hash = hex.EncodeToString(ch[:])[:16]
		cs.Labels = map[string]string{
			runtime.LabelProject:    s.Name,
			runtime.LabelComponent:  c.Name,
			runtime.LabelConfigHash: d.hash,
			runtime.LabelVersion:    e.version,
			runtime.LabelManaged:    "true",
		}
		d.spec = cs
		out = append(out, d)
	}
	return out
}

// state is what llmmon remembers between runs: the hash of the files each container last got.
type state struct {
	Files map[string]string `json:"files"`
}

func statePath(s *spec.Spec) string { return filepath.Join(s.DataDir, "state.json") }

func loadState(s *spec.Spec) state {
	st := state{Files: map[string]string{}}
	if b, err := os.ReadFile(statePath(s)); err == nil {
		_ = json.Unmarshal(b, &st)
	}
	if st.Files == nil {
		st.Files = map[string]string{}
	}
	return st
}

func saveState(s *spec.Spec, st state) error {
	b, _ := json.MarshalIndent(st, "", "  ")
	return render.WriteFileAtomic(statePath(s), b, 0o600)
}

// Up converges the stack to the spec: it renders and checks the files, runs a preflight that
// changes nothing, then creates, recreates, reloads or removes only what differs, and waits
// until every component is healthy.
func (e *Engine) Up(ctx context.Context, s *spec.Spec, o UpOptions) (*UpResult, error) {
	start := time.Now()
	if e.rt == nil {
		return nil, errors.New("no container runtime configured")
	}
	if o.HealthTimeout == 0 {
		o.HealthTimeout = 3 * time.Minute
	}
	creds, err := EnsureCredentials(s)
	if err != nil {
		return nil, err
	}
	r, err := e.Render(ctx, s, RenderOptions{Credentials: creds})
	if err != nil {
		return nil, err
	}
	res := &UpResult{Notes: r.Notes, URLs: map[string]string{}, ComponentActions: map[string]string{}}
	info, err := e.rt.Ping(ctx)
	if err != nil {
		return nil, err
	}
	if s.GPU == "on" && s.DCGMExporterAddress == "" && !info.NvidiaRuntime {
		return nil, fmt.Errorf("%w: gpu: on, but the Docker daemon has no NVIDIA runtime; install the NVIDIA Container Toolkit (nvidia-ctk runtime configure --runtime=docker) or set gpu: auto", ErrPreflight)
	}
	if r.GPU && !info.NvidiaRuntime && s.GPU == "auto" {
		r.GPU = false
		res.Notes = append(res.Notes, "dcgm-exporter skipped: an NVIDIA GPU is present but Docker has no NVIDIA runtime (install the NVIDIA Container Toolkit)")
	}
	pw, pwFile, err := grafanaPassword(s)
	if err != nil {
		return nil, err
	}
	res.PasswordFile = pwFile
	want := e.plan(s, r, pw)
	observed, err := e.rt.ListContainers(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	byComp := map[string][]runtime.Container{}
	for _, c := range observed {
		byComp[c.Labels[runtime.LabelComponent]] = append(byComp[c.Labels[runtime.LabelComponent]], c)
	}
	// Preflight: nothing is changed until every check passes.
	var problems []string
	for _, d := range want {
		cur := byComp[d.c.Name]
		keep := len(cur) == 1 && cur[0].Labels[runtime.LabelConfigHash] == d.hash && cur[0].Running
		if !keep {
			if held := len(cur) > 0 && cur[0].Running; !held {
				if err := portFree(d.c.Addr); err != nil {
					problems = append(problems, fmt.Sprintf("%s: port %s is already in use by another program; stop it, or choose another port in the spec (%s)", d.c.Name, d.c.Addr, portField(d.c.Name)))
				}
			}
			ok, err := e.rt.ImagePresent(ctx, d.c.Image)
			if err != nil {
				return nil, err
			}
			if !ok && d.c.Name == "relay" {
				e.emit(o, Event{Component: d.c.Name, Action: "build", Detail: d.c.Image})
				if err := e.buildRelayImage(ctx, d.c.Image); err != nil {
					problems = append(problems, fmt.Sprintf("relay: %v", err))
				}
			} else if !ok {
				e.emit(o, Event{Component: d.c.Name, Action: "pull", Detail: d.c.Image})
				if err := e.rt.PullImage(ctx, d.c.Image, o.Pull); err != nil {
					problems = append(problems, fmt.Sprintf("%s: cannot pull image %s (%v); if Docker Hub is unreachable from here, set images.mirror in the spec (e.g. docker.m.daocloud.io), or images.%s to an image you can reach", d.c.Name, d.c.Image, shortErr(err), strings.ReplaceAll(d.c.Name, "-", "_")))
				}
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w, nothing was changed:\n  %s", ErrPreflight, strings.Join(problems, "\n  "))
	}
	st := loadState(s)
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	// Keep a copy of the generated files where users can read them.
	if err := r.Bundle.Write(filepath.Join(s.DataDir, "generated")); err != nil {
		return nil, err
	}
	wantNames := map[string]bool{}
	for _, d := range want {
		wantNames[d.c.Name] = true
	}
	// Components no longer in the spec, and duplicates left by an interrupted run, go first.
	for comp, cs := range byComp {
		for i, c := range cs {
			if !wantNames[comp] || i > 0 {
				e.emit(o, Event{Component: comp, Action: "remove", Detail: "no longer in the spec"})
				if err := e.rt.RemoveContainer(ctx, c.ID); err != nil {
					return nil, err
				}
				res.Changed = true
				delete(st.Files, comp)
			}
		}
	}
	for _, d := range want {
		cur := byComp[d.c.Name]
		action, err := e.converge(ctx, s, d, cur, st)
		if err != nil {
			return nil, err
		}
		if d.c.Name == "relay" && len(cur) > 0 && cur[0].Image != d.c.Image && strings.HasPrefix(cur[0].Image, RelayImageRepo+":") {
			// The relay image of the llmmon this one replaced is of no more use.
			if err := e.rt.RemoveImage(ctx, cur[0].Image); err != nil {
				e.log.Debug("cannot remove the previous relay image", "image", cur[0].Image, "error", err)
			}
		}
		res.ComponentActions[d.c.Name] = action
		if action != "unchanged" {
			res.Changed = true
		}
		st.Files[d.c.Name] = d.filesHash
		if err := saveState(s, st); err != nil {
			return nil, err
		}
		e.emit(o, Event{Component: d.c.Name, Action: action, Detail: d.c.Image})
	}
	if err := e.waitHealthy(ctx, s, want, pw, o); err != nil {
		return nil, err
	}
	for _, d := range want {
		if d.c.Published {
			res.URLs[d.c.Name] = "http://" + publicAddr(s, d.c.Addr)
		}
	}
	res.Elapsed = time.Since(start)
	return res, nil
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

func portField(component string) string {
	switch component {
	case "node-exporter":
		return "internal_ports.node_exporter"
	case "dcgm-exporter":
		return "internal_ports.dcgm_exporter"
	case "relay":
		return "internal_ports.relay"
	}
	return component + ".port"
}

func portFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// converge brings one component to its desired state and returns what it did.
func (e *Engine) converge(ctx context.Context, s *spec.Spec, d desired, cur []runtime.Container, st state) (string, error) {
	if len(cur) > 0 && cur[0].Labels[runtime.LabelConfigHash] == d.hash {
		c := cur[0]
		action := "unchanged"
		if st.Files[d.c.Name] != d.filesHash {
			if err := e.copyConfig(ctx, c.ID, d); err != nil {
				return "", err
			}
			action = "reload"
			if d.c.Reload == "" && c.Running {
				// Grafana reads its datasource only at start: restart it (data stays in its volume).
				if err := e.rt.RemoveContainer(ctx, c.ID); err != nil {
					return "", err
				}
				return "recreate", e.create(ctx, d)
			}
			if c.Running {
				if err := e.reload(ctx, s, d); err != nil {
					// A component that does not answer yet (a run of llmmon was killed just after
					// starting it) or refuses the reload is recreated instead; its data stays in
					// its volume and the new files are read at start.
					e.log.Debug("reload failed, recreating", "component", d.c.Name, "error", err)
					if err := e.rt.RemoveContainer(ctx, c.ID); err != nil {
						return "", err
					}
					return "recreate", e.create(ctx, d)
				}
			}
		}
		if !c.Running {
			if err := e.rt.StartContainer(ctx, c.ID); err != nil {
				return "", e.startErr(d, err)
			}
			return "start", nil
		}
		return action, nil
	}
	action := "create"
	if len(cur) > 0 {
		action = "recreate"
		if err := e.rt.RemoveContainer(ctx, cur[0].ID); err != nil {
			return "", err
		}
	}
	return action, e.create(ctx, d)
}

func (e *Engine) create(ctx context.Context, d desired) error {
	for _, m := range d.spec.Mounts {
		if m.Volume {
			if err := e.rt.EnsureVolume(ctx, m.Source, map[string]string{runtime.LabelProject: d.spec.Labels[runtime.LabelProject], runtime.LabelComponent: d.c.Name, runtime.LabelManaged: "true"}); err != nil {
				return err
			}
		}
	}
	id, err := e.rt.CreateContainer(ctx, d.spec)
	if err != nil {
		return err
	}
	if d.c.DataPath != "" {
		// The volume's root gets the uid the image runs as (Prometheus 65534, Grafana 472), so a
		// "permission denied" on the data directory never reaches the user.
		uid, gid := splitUser(d.c.User)
		rel := strings.TrimPrefix(d.c.DataPath, "/")
		if err := e.rt.CopyFiles(ctx, id, "/", []runtime.FileEntry{{Path: rel, Dir: true, Mode: 0o755, UID: uid, GID: gid}}); err != nil {
			return fmt.Errorf("set ownership of %s's data volume: %w", d.c.Name, err)
		}
	}
	if err := e.copyConfig(ctx, id, d); err != nil {
		return err
	}
	if err := e.rt.StartContainer(ctx, id); err != nil {
		return e.startErr(d, err)
	}
	return nil
}

func (e *Engine) startErr(d desired, err error) error {
	if errors.Is(err, runtime.ErrPortInUse) {
		return fmt.Errorf("%s: port %s is already in use; stop whatever holds it or change %s in the spec: %w", d.c.Name, d.c.Addr, portField(d.c.Name), err)
	}
	return fmt.Errorf("start %s: %w", d.c.Name, err)
}

func (e *Engine) copyConfig(ctx context.Context, id string, d desired) error {
	if len(d.files) == 0 {
		return nil
	}
	// Copied from / so that the configuration directory is created when the image lacks it;
	// missing parents are created root-owned by Docker, the directory itself gets the
	// component's uid.
	base := strings.TrimPrefix(d.c.ConfigPath, "/")
	uid, gid := splitUser(d.c.User)
	entries := []runtime.FileEntry{{Path: base, Dir: true, Mode: 0o755, UID: uid, GID: gid}}
	for _, f := range d.files {
		f.Path = base + "/" + f.Path
		entries = append(entries, f)
	}
	if err := e.rt.CopyFiles(ctx, id, "/", entries); err != nil {
		return fmt.Errorf("copy configuration into %s: %w", d.c.Name, err)
	}
	return nil
}
