package stack

import (
	"strings"
	"sync"
	"time"

	"github.com/llmmon/llmmon/stack/runtime"
)

// Event is one thing the engine does or waits for, for the command line to show. It is the one
// progress stream of up (and of add-target's up): steps, waits, and pull progress.
type Event struct {
	Component string `json:"component,omitempty"`
	// Action is "pull", "build", "create", "recreate", "reload", "start", "remove", "healthy",
	// or "wait" (Detail says for what).
	Action string `json:"action"`
	Detail string `json:"detail,omitempty"`
	// Pull progress, on "pull" events after the first: the image's bytes and layers so far.
	Pull *PullProgress `json:"pull,omitempty"`
}

// PullProgress is how far the pull of one image has come.
type PullProgress struct {
	Image      string `json:"image"`
	Current    int64  `json:"bytes"`       // bytes downloaded so far, over the layers whose size is known
	Total      int64  `json:"total_bytes"` // the known layers' size
	LayersDone int    `json:"layers_done"`
	Layers     int    `json:"layers"`
	Done       bool   `json:"done"`
}

// pullEvents turns the runtime's per-layer pull messages of one image into Events: one each time
// a layer finishes, and at most one every interval while bytes arrive.
type pullEvents struct {
	emit      func(Event)
	component string
	interval  time.Duration
	mu        sync.Mutex
	layers    map[string]*layerState
	last      time.Time
	now       func() time.Time
}

type layerState struct {
	cur, total int64
	done       bool
}

func newPullEvents(component string, emit func(Event)) *pullEvents {
	return &pullEvents{emit: emit, component: component, interval: 200 * time.Millisecond, layers: map[string]*layerState{}, now: time.Now}
}

// add takes one message of the pull of image.
func (p *pullEvents) add(ev runtime.PullEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	important := false
	if ev.ID != "" && ev.ID != ev.Image && !strings.HasPrefix(ev.Status, "Pulling from") {
		l := p.layers[ev.ID]
		if l == nil {
			l = &layerState{}
			p.layers[ev.ID] = l
			important = true
		}
		switch {
		case ev.Status == "Pull complete" || ev.Status == "Already exists" || ev.Status == "Download complete" && ev.Total == 0:
			if !l.done {
				l.done, important = true, true
			}
			if l.total > 0 {
				l.cur = l.total
			}
		case strings.HasPrefix(ev.Status, "Downloading") && ev.Total > 0:
			l.cur, l.total = ev.Current, ev.Total
		}
	}
	done := strings.HasPrefix(ev.Status, "Status:") || strings.HasPrefix(ev.Status, "Digest:")
	if len(p.layers) == 0 && !done || !important && !done && p.now().Sub(p.last) < p.interval {
		return // nothing to count yet (the step's own event said the pull began), or too soon
	}
	p.last = p.now()
	pp := &PullProgress{Image: ev.Image, Layers: len(p.layers), Done: done}
	for _, l := range p.layers {
		pp.Current += l.cur
		pp.Total += l.total
		if l.done {
			pp.LayersDone++
		}
	}
	if done {
		pp.LayersDone = pp.Layers
	}
	p.emit(Event{Component: p.component, Action: "pull", Detail: ev.Image, Pull: pp})
}

// syncProgress makes the progress callback safe for the parallel steps (images are pulled side
// by side): it is called one event at a time.
func syncProgress(fn func(Event)) func(Event) {
	if fn == nil {
		return nil
	}
	var mu sync.Mutex
	return func(ev Event) {
		mu.Lock()
		defer mu.Unlock()
		fn(ev)
	}
}
