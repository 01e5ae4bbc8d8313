package stack

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
)

// Op is the kind of one step of a plan.
type Op string

// The operations a plan is made of.
const (
	OpPull     Op = "pull"     // pull an image that is not present
	OpBuild    Op = "build"    // build an image llmmon makes itself (the relay)
	OpCreate   Op = "create"   // create, fill and start a container that does not exist
	OpRecreate Op = "recreate" // remove a container and create it anew (its data volume stays)
	OpReload   Op = "reload"   // copy changed files into a container, then reload (or start) it
	OpStart    Op = "start"    // start a stopped container that is as it should be
	OpRemove   Op = "remove"   // remove a container that is not wanted (its volume stays)
)

// Step is one operation of a plan, with the reason for it.
type Step struct {
	Op        Op
	Component string
	// Image is the image a pull, build, create or recreate needs.
	Image string
	// Container is the id of the existing container a step acts on (recreate, reload, start,
	// remove).
	Container string
	// Running says whether that container runs now (a reload of a stopped one starts it).
	Running bool
	// Cause says why, in words for the user.
	Cause string
}

func (s Step) String() string {
	subject := s.Component
	if s.Op == OpPull || s.Op == OpBuild {
		subject = s.Image
	}
	return fmt.Sprintf("%s %s: %s", s.Op, subject, s.Cause)
}

// Steps is a plan: what up will do, in order. Image steps come first, then removals, then one
// step per component; the steps of different components are independent of each other.
type Steps []Step

func (p Steps) String() string {
	if len(p) == 0 {
		return "nothing to do\n"
	}
	var b strings.Builder
	for _, s := range p {
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// For returns the step of a component that changes its container, if any.
func (p Steps) For(component string) (Step, bool) {
	for _, s := range p {
		if s.Component == component && s.Op != OpPull && s.Op != OpBuild && s.Op != OpRemove {
			return s, true
		}
	}
	return Step{}, false
}

// Desired is one component's container as the spec wants it.
type Desired struct {
	Component render.Component
	Spec      runtime.ContainerSpec
	// ConfigHash covers everything that needs a new container (image, flags, mounts, ...);
	// FilesHash covers the files copied into it, which a reload can change in place.
	ConfigHash string
	FilesHash  string
	Files      []runtime.FileEntry
}

// Observed is what is really there before up changes anything.
type Observed struct {
	// Containers are the stack's containers: those with the stack's project label, llmmon's
	// managed label and a known component label.
	Containers []ObservedContainer
	// Images says which of the desired images are present locally.
	Images map[string]bool
}

// ObservedContainer is one container and the files hash found in its marker file.
type ObservedContainer struct {
	runtime.Container
	// Files is the hash the marker file in its configuration folder holds: the files it was
	// last given completely. "" when there is no marker (the files were never all copied).
	Files string
}

// Component returns the component a container belongs to.
func (c ObservedContainer) Component() string { return c.Labels[runtime.LabelComponent] }

// Plan returns the steps that take the observed state to the desired one. It is pure: it looks
// at nothing but its arguments.
func Plan(want []Desired, obs Observed) Steps {
	var images, removes, steps Steps
	byComp := map[string][]ObservedContainer{}
	for _, c := range obs.Containers {
		byComp[c.Component()] = append(byComp[c.Component()], c)
	}
	wanted := map[string]bool{}
	needImage := map[string]render.Component{}
	for _, d := range want {
		name := d.Component.Name
		wanted[name] = true
		cur := byComp[name]
		keep := pickContainer(cur, d.ConfigHash)
		for i, c := range cur {
			if i != keep {
				removes = append(removes, Step{Op: OpRemove, Component: name, Container: c.ID, Running: c.Running, Cause: "a duplicate left by an interrupted run"})
			}
		}
		var st Step
		if keep < 0 {
			st = Step{Op: OpCreate, Component: name, Image: d.Spec.Image, Cause: "it does not exist"}
		} else {
			st = stepFor(d, cur[keep])
		}
		if st.Op == "" {
			continue
		}
		if (st.Op == OpCreate || st.Op == OpRecreate) && !obs.Images[d.Spec.Image] {
			needImage[d.Spec.Image] = d.Component
		}
		steps = append(steps, st)
	}
	for comp, cs := range byComp {
		if wanted[comp] {
			continue
		}
		for _, c := range cs {
			removes = append(removes, Step{Op: OpRemove, Component: comp, Container: c.ID, Running: c.Running, Cause: "no longer in the spec"})
		}
	}
	for img, c := range needImage {
		if c.BuiltLocally {
			images = append(images, Step{Op: OpBuild, Component: c.Name, Image: img, Cause: "llmmon builds it from its own binary"})
		} else {
			images = append(images, Step{Op: OpPull, Component: c.Name, Image: img, Cause: "not present locally"})
		}
	}
	sort.Slice(images, func(i, j int) bool { return images[i].Image < images[j].Image })
	sort.Slice(removes, func(i, j int) bool {
		if removes[i].Component != removes[j].Component {
			return removes[i].Component < removes[j].Component
		}
		return removes[i].Container < removes[j].Container
	})
	return slices.Concat(images, removes, steps)
}

// pickContainer chooses the container to keep among a component's: one that is as desired
// and runs, else one that runs, else the first; -1 when there is none.
func pickContainer(cs []ObservedContainer, hash string) int {
	if len(cs) == 0 {
		return -1
	}
	best, score := 0, -1
	for i, c := range cs {
		sc := 0
		if c.Labels[runtime.LabelConfigHash] == hash {
			sc += 2
		}
		if c.Running {
			sc++
		}
		if sc > score {
			best, score = i, sc
		}
	}
	return best
}

// stepFor returns what one existing container needs, or a zero Step when it is as desired.
func stepFor(d Desired, c ObservedContainer) Step {
	st := Step{Component: d.Component.Name, Container: c.ID, Running: c.Running, Image: d.Spec.Image}
	switch {
	case c.State == "created":
		// Created by a run that stopped before it was filled and started: its files may be
		// missing, so it is never started as it is.
		st.Op, st.Cause = OpRecreate, "created but never started (an earlier run was interrupted)"
	case c.Labels[runtime.LabelConfigHash] != d.ConfigHash:
		st.Op, st.Cause = OpRecreate, recreateCause(d, c)
	case len(d.Files) > 0 && c.Files != d.FilesHash:
		cause := "its files changed"
		if c.Files == "" {
			cause = "its files were never completely copied"
		}
		if len(d.Component.Reload) == 0 && c.Running {
			st.Op, st.Cause = OpRecreate, cause+" and it cannot reload them"
		} else {
			st.Op, st.Cause = OpReload, cause
		}
	case !c.Running && c.State != "restarting":
		st.Op, st.Cause = OpStart, fmt.Sprintf("it is %s (exit code %d)", c.State, c.ExitCode)
	}
	return st
}

func recreateCause(d Desired, c ObservedContainer) string {
	var why []string
	if c.Image != d.Spec.Image {
		why = append(why, fmt.Sprintf("image %s → %s", c.Image, d.Spec.Image))
	}
	if old, now := c.Labels[runtime.LabelListen], d.Spec.Labels[runtime.LabelListen]; old != "" && old != now {
		why = append(why, fmt.Sprintf("address %s → %s", old, now))
	}
	if len(why) == 0 {
		return "its settings changed"
	}
	return strings.Join(why, ", ")
}
