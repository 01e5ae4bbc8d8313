package stack

import (
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack/runtime"
)

// TestPullEvents: Docker's per-layer messages of one pull become the image's bytes and layers
// so far: an event when a layer appears or finishes, at most one per interval while bytes
// arrive, and a last one when the pull is done.
func TestPullEvents(t *testing.T) {
	var got []PullProgress
	p := newPullEvents("prometheus", func(ev Event) {
		if ev.Action != "pull" || ev.Component != "prometheus" || ev.Pull == nil {
			t.Fatalf("event %+v", ev)
		}
		got = append(got, *ev.Pull)
	})
	now := time.Unix(0, 0)
	p.now = func() time.Time { return now }
	img := "prom/prometheus:v3.15.0"
	for _, ev := range []struct {
		after time.Duration
		ev    runtime.PullEvent
	}{
		{0, runtime.PullEvent{Image: img, ID: "v3.15.0", Status: "Pulling from prom/prometheus"}},
		{0, runtime.PullEvent{Image: img, ID: "a", Status: "Pulling fs layer"}},
		{0, runtime.PullEvent{Image: img, ID: "b", Status: "Pulling fs layer"}},
		{10 * time.Millisecond, runtime.PullEvent{Image: img, ID: "a", Status: "Downloading", Current: 10, Total: 100}},
		{10 * time.Millisecond, runtime.PullEvent{Image: img, ID: "b", Status: "Downloading", Current: 5, Total: 50}}, // too soon
		{300 * time.Millisecond, runtime.PullEvent{Image: img, ID: "a", Status: "Downloading", Current: 60, Total: 100}},
		{10 * time.Millisecond, runtime.PullEvent{Image: img, ID: "a", Status: "Pull complete"}},
		{10 * time.Millisecond, runtime.PullEvent{Image: img, ID: "b", Status: "Pull complete"}},
		{10 * time.Millisecond, runtime.PullEvent{Image: img, Status: "Digest: sha256:0123"}},
	} {
		now = now.Add(ev.after)
		p.add(ev.ev)
	}
	want := []PullProgress{
		{Image: img, Layers: 1},
		{Image: img, Layers: 2},
		{Image: img, Layers: 2, Current: 65, Total: 150},
		{Image: img, Layers: 2, LayersDone: 1, Current: 105, Total: 150},
		{Image: img, Layers: 2, LayersDone: 2, Current: 150, Total: 150},
		{Image: img, Layers: 2, LayersDone: 2, Current: 150, Total: 150, Done: true},
	}
	if len(got) != len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
