package remediate

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type fakeDocker struct {
	mu       sync.Mutex
	names    map[string]string // what a reference resolves to
	restarts []string
}

func (f *fakeDocker) ContainerName(_ context.Context, ref string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.names[ref]
	if !ok {
		return "", fmt.Errorf("no container is named %s", ref)
	}
	return n, nil
}

func (f *fakeDocker) Restart(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.restarts = append(f.restarts, name)
	return nil
}

func (f *fakeDocker) count() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.restarts) }

type fakeAM struct {
	mu     sync.Mutex
	alerts []PostableAlert
}

func (f *fakeAM) PostAlerts(_ context.Context, as []PostableAlert) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.alerts = append(f.alerts, as...)
	return nil
}

func (f *fakeAM) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, a := range f.alerts {
		n := a.Labels["alertname"]
		if r := a.Labels["reason"]; r != "" {
			n += "/" + r
		}
		out = append(out, n)
	}
	return out
}

// world is an agent with a fake Docker, Alertmanager, clock and service health.
type world struct {
	t       *testing.T
	cfg     *Config
	docker  *fakeDocker
	am      *fakeAM
	mu      sync.Mutex
	clock   time.Time
	healthy func(restarts int) bool
	agent   *Agent
	cancel  context.CancelFunc
	done    chan struct{}
}

func newWorld(t *testing.T, tgt Target, state string) *world {
	t.Helper()
	if state == "" {
		state = filepath.Join(t.TempDir(), "state.json")
	}
	w := &world{t: t, docker: &fakeDocker{names: map[string]string{"chat-model": "chat-model"}}, am: &fakeAM{},
		clock: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), healthy: func(int) bool { return false }}
	w.cfg = &Config{StateFile: state, Targets: []Target{tgt}}
	w.start()
	return w
}

func (w *world) now() time.Time { w.mu.Lock(); defer w.mu.Unlock(); return w.clock }

func (w *world) advance(d time.Duration) { w.mu.Lock(); w.clock = w.clock.Add(d); w.mu.Unlock() }

func (w *world) start() {
	a, err := New(w.cfg, w.docker, w.am,
		WithClock(w.now, func(ctx context.Context, d time.Duration) error { w.advance(d); return ctx.Err() }),
		WithHealth(func(context.Context, string) bool { return w.healthy(w.docker.count()) }),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		w.t.Fatal(err)
	}
	w.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	w.cancel, w.done = cancel, make(chan struct{})
	go func() { a.Run(ctx); close(w.done) }()
	w.t.Cleanup(w.stop)
}

func (w *world) stop() {
	if w.cancel != nil {
		w.cancel()
		<-w.done
		w.cancel = nil
	}
}

// fire sends one firing alert and waits until the agent has decided on it.
func (w *world) fire(alert string, startsAt time.Time) int {
	w.t.Helper()
	before := len(w.agent.Actions())
	n, err := w.agent.Receive([]WebhookAlert{{Status: "firing", Labels: map[string]string{"alertname": alert, "target": "chat"}, StartsAt: startsAt}})
	if err != nil {
		w.t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); n > 0 && len(w.agent.Actions()) < before+n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			w.t.Fatal("the agent decided nothing in 5 s")
		}
	}
	return n
}

func (w *world) results() string {
	var rs []string
	for _, a := range w.agent.Actions() {
		rs = append(rs, a.Result)
	}
	return strings.Join(rs, " ")
}

func chatTarget() Target {
	return Target{Name: "chat", Alerts: []string{"LLMServiceDown"}, Container: "chat-model", Health: "http://h/metrics",
		MaxActions: 2, Window: time.Hour, Cooldown: time.Minute, Recheck: 30 * time.Second}
}

func TestRestartThenHealthy(t *testing.T) {
	w := newWorld(t, chatTarget(), "")
	w.healthy = func(restarts int) bool { return restarts > 0 }
	t0 := w.now()
	if n := w.fire("LLMServiceDown", t0); n != 1 {
		t.Fatalf("queued %d, want 1", n)
	}
	if w.docker.count() != 1 || w.results() != ResultHealthy {
		t.Fatalf("restarts %d, results %q; want one restart, healthy", w.docker.count(), w.results())
	}
	// The resolution is posted when it is due, by a goroutine of its own.
	for deadline := time.Now().Add(2 * time.Second); len(w.am.names()) < 2 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if got := strings.Join(w.am.names(), " "); got != "LLMAutoRecoveryAction LLMAutoRecoveryAction" {
		t.Errorf("announcements %q: want the action, then the same alert resolved", got)
	}
	w.am.mu.Lock()
	last := w.am.alerts[1]
	first := w.am.alerts[0]
	w.am.mu.Unlock()
	if !last.EndsAt.Equal(last.StartsAt.Add(announceHold)) || !last.StartsAt.Equal(first.StartsAt) || !strings.Contains(last.Annotations["summary"], "healthy again") {
		t.Errorf("the second announcement must resolve the first and say it helped: %+v", last)
	}
	// Alertmanager repeats the alert; other alerts and targets are not the agent's business.
	w.fire("LLMServiceDown", t0)
	w.fire("LLMHighErrorRate", t0)
	w.agent.Receive([]WebhookAlert{{Status: "firing", Labels: map[string]string{"alertname": "LLMServiceDown", "target": "other"}, StartsAt: t0}})
	w.agent.Receive([]WebhookAlert{{Status: "resolved", Labels: map[string]string{"alertname": "LLMServiceDown", "target": "chat"}, StartsAt: t0.Add(time.Second)}})
	if w.docker.count() != 1 {
		t.Errorf("repeated, unrelated or resolved alerts restarted it again: %d restarts", w.docker.count())
	}
}

func TestAgentRestartRepeatsNothing(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	w := newWorld(t, chatTarget(), state)
	w.healthy = func(restarts int) bool { return restarts > 0 }
	t0 := w.now()
	w.fire("LLMServiceDown", t0)
	w.stop()
	// A new agent on the same state file gets the same episode from Alertmanager.
	w2 := newWorld(t, chatTarget(), state)
	w2.docker = w.docker
	w2.stop()
	w2.start()
	if n := w2.fire("LLMServiceDown", t0); n != 0 || w.docker.count() != 1 {
		t.Fatalf("after a restart of the agent: queued %d, %d restarts; want 0 and 1", n, w.docker.count())
	}
	if len(w2.agent.Actions()) != 1 {
		t.Errorf("the restarted agent lost its record: %v", w2.agent.Actions())
	}
}

func TestKeepsDyingHitsTheLimit(t *testing.T) {
	w := newWorld(t, chatTarget(), "")
	// Each restart helps for a while; the service dies again: three episodes in the hour.
	w.healthy = func(int) bool { return false }
	w.fire("LLMServiceDown", w.now())
	w.advance(5 * time.Minute)
	w.fire("LLMServiceDown", w.now())
	w.advance(5 * time.Minute)
	w.fire("LLMServiceDown", w.now())
	if w.docker.count() != 2 {
		t.Errorf("restarts %d, want 2 (max_actions)", w.docker.count())
	}
	if got := w.results(); got != "unhealthy unhealthy limit" {
		t.Errorf("results %q", got)
	}
	names := strings.Join(w.am.names(), " ")
	if !strings.Contains(names, "LLMAutoRecoveryFailed/limit") || !strings.Contains(names, "LLMAutoRecoveryFailed/unhealthy") {
		t.Errorf("want the needs-a-person alert for the unhealthy service and for the limit, got %s", names)
	}
	// An hour later the window has room again.
	w.advance(time.Hour)
	w.fire("LLMServiceDown", w.now())
	if w.docker.count() != 3 {
		t.Errorf("after the window: restarts %d, want 3", w.docker.count())
	}
}

func TestCooldownWaitsThenActsOnlyIfNeeded(t *testing.T) {
	w := newWorld(t, chatTarget(), "")
	down := true
	w.healthy = func(restarts int) bool { return !down || restarts > 0 && restarts%2 == 0 }
	w.fire("LLMServiceDown", w.now()) // restart 1: unhealthy (odd)
	start := w.now()
	down = false
	w.fire("LLMServiceDown", w.now().Add(time.Second)) // a new episode inside the cool-down
	if w.now().Sub(start) < 30*time.Second {
		t.Errorf("the cool-down was not waited: %s", w.now().Sub(start))
	}
	if w.docker.count() != 1 || !strings.HasSuffix(w.results(), ResultSkipped) {
		t.Errorf("healthy again after the cool-down: want no second restart; %d restarts, %q", w.docker.count(), w.results())
	}
}

func TestForeignContainerIsNeverTouched(t *testing.T) {
	w := newWorld(t, chatTarget(), "")
	// "chat-model" is no container's name; Docker resolves it to another (an id prefix).
	w.docker.names["chat-model"] = "chat-model-2"
	w.fire("LLMServiceDown", w.now())
	if w.docker.count() != 0 || w.results() != ResultFailed {
		t.Fatalf("restarts %d, results %q: the other container must not be touched", w.docker.count(), w.results())
	}
	if !strings.Contains(strings.Join(w.am.names(), " "), "LLMAutoRecoveryFailed/action failed") {
		t.Errorf("want a needs-a-person alert, got %v", w.am.names())
	}
}

func TestDryRunAnnouncesOnly(t *testing.T) {
	tg := chatTarget()
	tg.DryRun = true
	w := newWorld(t, tg, "")
	w.fire("LLMServiceDown", w.now())
	if w.docker.count() != 0 || w.results() != ResultDryRun || len(w.am.alerts) != 1 || !strings.Contains(w.am.alerts[0].Annotations["summary"], "would") {
		t.Fatalf("dry run: %d restarts, %q, %+v", w.docker.count(), w.results(), w.am.alerts)
	}
}

func TestCommand(t *testing.T) {
	tg := chatTarget()
	tg.Container, tg.Command = "", []string{"sh", "-c", "echo restarting; exit 3"}
	w := newWorld(t, tg, "")
	w.fire("LLMServiceDown", w.now())
	acts := w.agent.Actions()
	if len(acts) != 1 || acts[0].Result != ResultFailed || !strings.Contains(acts[0].Detail, "exit status 3") || !strings.Contains(acts[0].Detail, "restarting") {
		t.Fatalf("a failing command: %+v", acts)
	}
	tg.Command = []string{"true"}
	w2 := newWorld(t, tg, "")
	w2.healthy = func(int) bool { return len(w2.agent.Actions()) == 0 && false }
	w2.fire("LLMServiceDown", w2.now())
	if a := w2.agent.Actions(); len(a) != 1 || a[0].Result != ResultUnhealthy || a[0].Kind != "command" {
		t.Fatalf("a command that ran but did not help: %+v", a)
	}
}
