package cmd

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack"
)

// Progress modes: --progress=auto picks tty on a terminal and plain elsewhere.
const (
	progressAuto  = "auto"
	progressTTY   = "tty"
	progressPlain = "plain"
	progressJSON  = "json"
)

var progressModes = []string{progressAuto, progressTTY, progressPlain, progressJSON}

// progress returns the renderer of the engine's events that --progress and --quiet ask for, on
// stderr (stdout keeps the command's result), and a func that ends it (a TTY renderer leaves its
// last bars on screen).
func (a *app) progress() (func(stack.Event), func()) {
	w := a.streams.ErrOut
	if a.flags.quiet {
		return func(stack.Event) {}, func() {}
	}
	mode := a.flags.progress
	if mode == progressAuto {
		mode = progressPlain
		if isTerminal(w) {
			mode = progressTTY
		}
	}
	switch mode {
	case progressJSON:
		enc := json.NewEncoder(w)
		return func(ev stack.Event) { _ = enc.Encode(ev) }, func() {}
	case progressTTY:
		r := &ttyProgress{w: w, bars: map[string]*stack.PullProgress{}}
		return r.event, r.end
	default:
		r := &plainProgress{w: w, last: map[string]time.Time{}, now: time.Now}
		return r.event, func() {}
	}
}

// stepLine is how a step or a wait is written, in every mode but json.
func stepLine(ev stack.Event) string {
	if ev.Action == "wait" {
		return ev.Detail
	}
	return fmt.Sprintf(" %-9s %-14s %s", ev.Action, ev.Component, ev.Detail)
}

// plainProgress writes one line per step, for logs and CI: a pull says when it starts, how far
// it is every 5 s, and when it is done.
type plainProgress struct {
	w    io.Writer
	last map[string]time.Time
	now  func() time.Time
}

func (p *plainProgress) event(ev stack.Event) {
	if ev.Pull == nil {
		fmt.Fprintln(p.w, stepLine(ev))
		return
	}
	pp := ev.Pull
	switch {
	case pp.Done:
		fmt.Fprintf(p.w, "   pulled %s (%d layers, %s)\n", pp.Image, pp.Layers, mib(pp.Total))
	case p.now().Sub(p.last[pp.Image]) >= 5*time.Second:
		p.last[pp.Image] = p.now()
		fmt.Fprintf(p.w, "   pulling %s: %d/%d layers, %s of %s\n", pp.Image, pp.LayersDone, pp.Layers, mib(pp.Current), mib(pp.Total))
	}
}

// ttyProgress keeps one progress bar per image being pulled at the bottom of the terminal,
// redrawn in place; step lines are printed above the bars.
type ttyProgress struct {
	w     io.Writer
	order []string
	bars  map[string]*stack.PullProgress
	drawn int // bar lines on screen below the last step line
}

func (p *ttyProgress) event(ev stack.Event) {
	p.clear()
	if ev.Pull != nil {
		if p.bars[ev.Pull.Image] == nil {
			p.order = append(p.order, ev.Pull.Image)
		}
		pp := *ev.Pull
		p.bars[ev.Pull.Image] = &pp
	} else {
		fmt.Fprintln(p.w, stepLine(ev))
	}
	p.draw()
}

// clear moves the cursor up over the bars and erases them.
func (p *ttyProgress) clear() {
	for ; p.drawn > 0; p.drawn-- {
		fmt.Fprint(p.w, "\x1b[1A\x1b[2K")
	}
}

// draw prints a bar per image; finished pulls are printed once and leave the redrawn block.
func (p *ttyProgress) draw() {
	var keep []string
	for _, img := range p.order {
		pp := p.bars[img]
		if pp.Done {
			fmt.Fprintf(p.w, "   pulled %s (%d layers, %s)\n", img, pp.Layers, mib(pp.Total))
			delete(p.bars, img)
			continue
		}
		keep = append(keep, img)
	}
	p.order = keep
	for _, img := range p.order {
		fmt.Fprintln(p.w, bar(p.bars[img]))
		p.drawn++
	}
}

func (p *ttyProgress) end() { p.drawn = 0 }

// bar is one image's pull: a 25-character bar of the bytes, the bytes and the layers.
func bar(pp *stack.PullProgress) string {
	pct := 0
	if pp.Total > 0 {
		pct = int(pp.Current * 100 / pp.Total)
	}
	return fmt.Sprintf("   pull %-40s [%-25s] %3d%% %s/%s, %d/%d layers", pp.Image, strings.Repeat("#", pct/4), pct, mib(pp.Current), mib(pp.Total), pp.LayersDone, pp.Layers)
}

func mib(n int64) string { return fmt.Sprintf("%.0fMB", float64(n)/(1<<20)) }

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
