package cmd

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack"
)

// events is an up's progress: a step, a pull in three stages, a wait, a health.
var events = []stack.Event{
	{Component: "prometheus", Action: "pull", Detail: "prom/prometheus:v3.15.0"},
	{Component: "prometheus", Action: "pull", Detail: "prom/prometheus:v3.15.0", Pull: &stack.PullProgress{Image: "prom/prometheus:v3.15.0", Layers: 2, Current: 1 << 20, Total: 100 << 20}},
	{Component: "prometheus", Action: "pull", Detail: "prom/prometheus:v3.15.0", Pull: &stack.PullProgress{Image: "prom/prometheus:v3.15.0", Layers: 2, LayersDone: 1, Current: 60 << 20, Total: 100 << 20}},
	{Component: "prometheus", Action: "pull", Detail: "prom/prometheus:v3.15.0", Pull: &stack.PullProgress{Image: "prom/prometheus:v3.15.0", Layers: 2, LayersDone: 2, Current: 100 << 20, Total: 100 << 20, Done: true}},
	{Action: "wait", Detail: "waiting (up to 3m0s) for prometheus to answer and be ready"},
	{Component: "prometheus", Action: "healthy"},
}

func renderEvents(t *testing.T, mode string, quiet bool) string {
	t.Helper()
	var out bytes.Buffer
	a := &app{streams: IOStreams{ErrOut: &out}, flags: &globalFlags{progress: mode, quiet: quiet}}
	progress, done := a.progress()
	for _, ev := range events {
		progress(ev)
	}
	done()
	return out.String()
}

func TestProgressModes(t *testing.T) {
	plain := renderEvents(t, progressPlain, false)
	for _, want := range []string{" pull      prometheus     prom/prometheus:v3.15.0\n", "   pulling prom/prometheus:v3.15.0: 0/2 layers, 1MB of 100MB\n",
		"   pulled prom/prometheus:v3.15.0 (2 layers, 100MB)\n", "waiting (up to 3m0s) for prometheus to answer and be ready\n", " healthy   prometheus"} {
		if !strings.Contains(plain, want) {
			t.Errorf("plain: no %q in\n%s", want, plain)
		}
	}
	if strings.Contains(plain, "\x1b") || strings.Count(plain, "pulling") != 1 {
		t.Errorf("plain: escape codes or a line per pull message (at most one each 5 s):\n%s", plain)
	}
	if got := renderEvents(t, progressAuto, false); got != plain {
		t.Errorf("auto, not on a terminal, is not plain:\n%s", got)
	}

	tty := renderEvents(t, progressTTY, false)
	if !strings.Contains(tty, "[###############          ]  60% 60MB/100MB, 1/2 layers") || !strings.Contains(tty, "\x1b[1A\x1b[2K") ||
		!strings.Contains(tty, "   pulled prom/prometheus:v3.15.0 (2 layers, 100MB)\n") {
		t.Errorf("tty: no redrawn bar with bytes and layers:\n%q", tty)
	}

	lines := strings.Split(strings.TrimSpace(renderEvents(t, progressJSON, false)), "\n")
	if len(lines) != len(events) {
		t.Fatalf("json: %d lines for %d events", len(lines), len(events))
	}
	var ev stack.Event
	if err := json.Unmarshal([]byte(lines[2]), &ev); err != nil || ev.Pull == nil || ev.Pull.LayersDone != 1 || ev.Pull.Current != 60<<20 {
		t.Errorf("json: %s decodes to %+v (%v)", lines[2], ev, err)
	}

	if q := renderEvents(t, progressTTY, true); q != "" {
		t.Errorf("quiet printed %q", q)
	}
}

func TestPlainPullEveryFiveSeconds(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(0, 0)
	p := &plainProgress{w: &out, last: map[string]time.Time{}, now: func() time.Time { return now }}
	for i := 0; i < 12; i++ {
		p.event(stack.Event{Action: "pull", Pull: &stack.PullProgress{Image: "img", Layers: 1, Current: int64(i), Total: 12}})
		now = now.Add(time.Second)
	}
	if n := strings.Count(out.String(), "pulling img"); n != 3 {
		t.Errorf("%d lines in 12 s, want 3:\n%s", n, out.String())
	}
}

func TestProgressFlagIsChecked(t *testing.T) {
	code, _, errOut := runCLI(t, "version", "--progress", "fancy")
	if code != ExitBadInput || !strings.Contains(errOut, `--progress "fancy": use auto, tty, plain, json`) {
		t.Errorf("exit %d, %s", code, errOut)
	}
}
