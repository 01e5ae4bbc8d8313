package remediate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/prometheus/common/model"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// Alert names the agent raises through Alertmanager.
const (
	// AlertAction announces an action (severity warning); it resolves when the service is
	// healthy again, so receivers get "restarted" and then "healthy again".
	AlertAction = "LLMAutoRecoveryAction"
	// AlertFailed says auto-recovery gave up (severity critical): the limit is hit, the action
	// failed, or the service stayed unhealthy after it.
	AlertFailed = "LLMAutoRecoveryFailed"
)

// announceHold is how long an action's announcement fires at least, however soon the service
// is healthy again: longer than Alertmanager's group_wait (5 s by default in llmmon, 30 s in
// most setups), so that the receivers are told of the action before its resolution.
const announceHold = time.Minute

// Results of an action, as recorded and counted.
const (
	ResultHealthy   = "healthy"   // acted, and the service answered again within recheck
	ResultUnhealthy = "unhealthy" // acted, and it did not
	ResultFailed    = "failed"    // the action itself failed
	ResultLimit     = "limit"     // not acted: the limit of actions per window is reached
	ResultSkipped   = "skipped"   // not acted: the service was healthy again by then
	ResultDryRun    = "dry-run"   // not acted: dry-run mode
)

// Action is one decision of the agent, kept in its state file.
type Action struct {
	Time     time.Time     `json:"time"`
	Target   string        `json:"target"`
	Alert    string        `json:"alert"`
	Kind     string        `json:"kind"` // restart or command
	What     string        `json:"what"` // the container or the command
	Result   string        `json:"result"`
	Detail   string        `json:"detail,omitempty"`
	Duration time.Duration `json:"duration_ns,omitempty"` // from the action to healthy again
}

// acted reports whether the action touched the service (it counts against the limit).
func (a Action) acted() bool {
	return a.Result == ResultHealthy || a.Result == ResultUnhealthy || a.Result == ResultFailed
}

type state struct {
	// Handled are the alert episodes already acted on (target, alert name, startsAt), with
	// when: Alertmanager repeats a firing alert, and a restarted agent sees it again.
	Handled map[string]time.Time `json:"handled"`
	Actions []Action             `json:"actions"`
}

// Restarter restarts a container by its name (runtime.Runtime's RestartContainer and
// InspectContainer are what the agent uses of Docker).
type Restarter interface {
	// ContainerName returns the name of the container Docker resolves ref to.
	ContainerName(ctx context.Context, ref string) (string, error)
	Restart(ctx context.Context, name string) error
}

// Poster sends alerts to Alertmanager.
type Poster interface {
	PostAlerts(ctx context.Context, alerts []PostableAlert) error
}

// PostableAlert is one alert of Alertmanager's v2 API.
type PostableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     time.Time         `json:"startsAt,omitempty"`
	EndsAt       time.Time         `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Agent decides and acts on the alerts Alertmanager sends it.
type Agent struct {
	cfg     *Config
	docker  Restarter
	am      Poster
	healthy func(ctx context.Context, url string) bool
	now     func() time.Time
	log     *slog.Logger
	metrics *metrics
	// poll is how often health is checked after an action.
	poll time.Duration

	mu    sync.Mutex
	st    state
	busy  map[string]bool // targets with an action under way
	jobs  chan job
	wg    sync.WaitGroup
	delay func(ctx context.Context, d time.Duration) error
}

type job struct {
	target *Target
	alert  string
	key    string
}

// Option changes an Agent for tests.
type Option func(*Agent)

// WithClock sets the agent's clock and its sleep.
func WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) Option {
	return func(a *Agent) { a.now, a.delay = now, sleep }
}

// WithHealth sets the health check.
func WithHealth(f func(ctx context.Context, url string) bool) Option {
	return func(a *Agent) { a.healthy = f }
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option { return func(a *Agent) { a.log = l } }

// WithPoll sets how often health is checked after an action.
func WithPoll(d time.Duration) Option { return func(a *Agent) { a.poll = d } }

// New returns an agent with its state loaded from cfg.StateFile (a missing file is an empty
// state).
func New(cfg *Config, docker Restarter, am Poster, opts ...Option) (*Agent, error) {
	a := &Agent{
		cfg: cfg, docker: docker, am: am,
		healthy: httpHealthy,
		now:     time.Now,
		log:     slog.New(slog.NewTextHandler(os.Stderr, nil)),
		poll:    2 * time.Second,
		busy:    map[string]bool{},
		jobs:    make(chan job, 64),
		delay:   sleep,
		st:      state{Handled: map[string]time.Time{}},
	}
	for _, o := range opts {
		o(a)
	}
	data, err := os.ReadFile(cfg.StateFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("read the remediation state %s: %w", cfg.StateFile, err)
	default:
		if err := json.Unmarshal(data, &a.st); err != nil {
			return nil, fmt.Errorf("the remediation state %s is damaged (%w); move it away to start afresh", cfg.StateFile, err)
		}
		if a.st.Handled == nil {
			a.st.Handled = map[string]time.Time{}
		}
	}
	a.metrics = newMetrics(a)
	return a, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// WebhookAlert is the part of an alert in Alertmanager's webhook payload the agent reads.
type WebhookAlert struct {
	Status   string            `json:"status"`
	Labels   map[string]string `json:"labels"`
	StartsAt time.Time         `json:"startsAt"`
}

// Receive takes the alerts of one webhook call: each firing alert of a target the agent may
// act on, and of an alert that triggers it, is queued once per episode (its startsAt), and the
// episode is written to the state file before anything is done, so that neither a repeat by
// Alertmanager nor a restart of the agent acts twice on it.
func (a *Agent) Receive(alerts []WebhookAlert) (queued int, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var jobs []job
	for _, al := range alerts {
		if al.Status != "firing" {
			continue
		}
		t := a.cfg.target(al.Labels["target"])
		name := al.Labels["alertname"]
		if t == nil || !slices.Contains(t.Alerts, name) {
			continue
		}
		key := t.Name + "|" + name + "|" + al.StartsAt.UTC().Format(time.RFC3339Nano)
		if _, done := a.st.Handled[key]; done {
			continue
		}
		a.st.Handled[key] = a.now()
		jobs = append(jobs, job{target: t, alert: name, key: key})
	}
	if len(jobs) == 0 {
		return 0, nil
	}
	a.prune()
	if err := a.save(); err != nil {
		for _, j := range jobs {
			delete(a.st.Handled, j.key)
		}
		return 0, err
	}
	for _, j := range jobs {
		select {
		case a.jobs <- j:
		default:
			a.log.Warn("too many actions queued; dropping one", "target", j.target.Name, "alert", j.alert)
		}
	}
	return len(jobs), nil
}

// Run works through the queued episodes until ctx ends, one at a time per target.
func (a *Agent) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			a.wg.Wait()
			return nil
		case j := <-a.jobs:
			a.mu.Lock()
			if a.busy[j.target.Name] {
				// The target's previous action is still being checked. This episode is not
				// taken: Alertmanager repeats it (every minute), and it is decided then.
				delete(a.st.Handled, j.key)
				err := a.save()
				a.mu.Unlock()
				a.log.Info("an action on the target is under way; the alert is taken when Alertmanager repeats it", "target", j.target.Name, "alert", j.alert, "save_error", err)
				continue
			}
			a.busy[j.target.Name] = true
			a.mu.Unlock()
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				a.handle(ctx, j)
				a.mu.Lock()
				delete(a.busy, j.target.Name)
				a.mu.Unlock()
			}()
		}
	}
}

// handle decides on one episode and acts.
func (a *Agent) handle(ctx context.Context, j job) {
	t := j.target
	act := Action{Target: t.Name, Alert: j.alert, Kind: kind(t), What: what(t)}
	// A cool-down after the last action: wait it out, then act only if still needed.
	if last, ok := a.lastActed(t.Name); ok && t.Cooldown > 0 {
		if wait := last.Add(t.Cooldown).Sub(a.now()); wait > 0 {
			a.log.Info("cool-down before acting", "target", t.Name, "wait", wait.Round(time.Second))
			if a.delay(ctx, wait) != nil {
				return
			}
		}
	}
	act.Time = a.now()
	if a.healthy(ctx, t.Health) {
		act.Result, act.Detail = ResultSkipped, "healthy again before llmmon acted"
		a.record(act)
		return
	}
	if n := a.actedSince(t.Name, act.Time.Add(-t.Window)); n >= t.MaxActions {
		act.Result = ResultLimit
		act.Detail = fmt.Sprintf("%d actions in the last %s already, the most allowed", n, dur(t.Window))
		a.record(act)
		a.raiseFailed(ctx, t, j.alert, "limit", fmt.Sprintf("%s is still unhealthy after %d automatic %ss in %s, the most allowed; llmmon stops acting on it.", t.Name, n, act.Kind, dur(t.Window)))
		return
	}
	if t.DryRun {
		act.Result, act.Detail = ResultDryRun, "would "+describe(t)
		a.record(act)
		a.announce(ctx, t, j.alert, fmt.Sprintf("dry run: llmmon would %s after %s", describe(t), j.alert), act.Time, act.Time.Add(5*time.Minute))
		return
	}
	if err := a.act(ctx, t); err != nil {
		act.Result, act.Detail = ResultFailed, err.Error()
		a.record(act)
		a.raiseFailed(ctx, t, j.alert, "action failed", fmt.Sprintf("llmmon could not %s: %v", describe(t), err))
		return
	}
	n := a.actedSince(t.Name, act.Time.Add(-t.Window)) + 1
	note := fmt.Sprintf("llmmon %s after %s (%d of at most %d in %s) and checks its health for %s", described(t), j.alert, n, t.MaxActions, dur(t.Window), dur(t.Recheck))
	a.log.Info("acted", "target", t.Name, "alert", j.alert, "action", describe(t))
	a.announce(ctx, t, j.alert, note, act.Time, act.Time.Add(t.Recheck+time.Hour))
	// The health re-check.
	deadline := act.Time.Add(t.Recheck)
	for {
		if a.healthy(ctx, t.Health) {
			act.Result, act.Duration = ResultHealthy, a.now().Sub(act.Time)
			act.Detail = fmt.Sprintf("healthy again after %s", act.Duration.Round(100*time.Millisecond))
			a.record(act)
			// Resolving the announcement tells the receivers it helped. Not before a minute
			// after the action: Alertmanager notifies nobody of an alert that was resolved
			// before its group was first sent (group_wait), and the restart must be told. A
			// later end posted early would not shorten the first (Alertmanager keeps the later
			// end of an unresolved alert), so the resolution is posted when it is due.
			wait := act.Time.Add(announceHold).Sub(a.now())
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				if wait > 0 && a.delay(ctx, wait) != nil {
					// Shutting down: resolve it now rather than leave it firing for an hour.
					ctx = context.WithoutCancel(ctx)
				}
				a.announce(ctx, t, j.alert, note+"; "+act.Detail, act.Time, a.now())
			}()
			return
		}
		if !a.now().Before(deadline) {
			break
		}
		if a.delay(ctx, a.poll) != nil {
			return
		}
	}
	act.Result, act.Detail = ResultUnhealthy, fmt.Sprintf("still unhealthy %s after the %s", dur(t.Recheck), act.Kind)
	a.record(act)
	a.raiseFailed(ctx, t, j.alert, "unhealthy", fmt.Sprintf("%s is still unhealthy %s after llmmon %s.", t.Name, dur(t.Recheck), described(t)))
}

// act restarts the container or runs the command.
func (a *Agent) act(ctx context.Context, t *Target) error {
	if t.Container != "" {
		// Only the container of exactly this name: Docker also resolves an id prefix, and a
		// name that happens to be one must not reach another container.
		name, err := a.docker.ContainerName(ctx, t.Container)
		if err != nil {
			return err
		}
		if name != t.Container {
			return fmt.Errorf("no container is named %s (Docker resolves it to %s, which llmmon was not told about)", t.Container, name)
		}
		return a.docker.Restart(ctx, t.Container)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, t.Command[0], t.Command[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", strings.Join(t.Command, " "), err, strings.TrimSpace(lastLine(string(out))))
	}
	return nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// announce posts the action alert; both posts of one action carry the action's time as their
// start, so that the second, ending now, resolves the first.
func (a *Agent) announce(ctx context.Context, t *Target, alert, text string, starts, ends time.Time) {
	a.post(ctx, PostableAlert{
		Labels:      map[string]string{"alertname": AlertAction, "severity": "warning", "target": t.Name, "trigger": alert},
		Annotations: a.texts(text, t),
		StartsAt:    starts,
		EndsAt:      ends,
	})
}

func (a *Agent) raiseFailed(ctx context.Context, t *Target, alert, reason, text string) {
	a.metrics.failed.WithLabelValues(t.Name, reason).Inc()
	a.log.Warn("auto-recovery failed, needs a person", "target", t.Name, "reason", reason)
	a.post(ctx, PostableAlert{
		Labels:      map[string]string{"alertname": AlertFailed, "severity": "critical", "target": t.Name, "trigger": alert, "reason": reason},
		Annotations: a.texts(text+" "+a.word("needs"), t),
		EndsAt:      a.now().Add(4 * time.Hour),
	})
}

func (a *Agent) texts(text string, t *Target) map[string]string {
	ann := map[string]string{"summary": text, "description": text, "runbook": a.word("runbook")}
	if a.cfg.GrafanaURL != "" {
		ann["dashboard"] = a.cfg.GrafanaURL + "/d/llmmon-overview/?var-target=" + t.Name
	}
	return ann
}

func (a *Agent) word(k string) string {
	zh := a.cfg.Language == "zh"
	switch k {
	case "needs":
		if zh {
			return "自动恢复失败，需要人工处理。"
		}
		return "Auto-recovery failed: this needs a person."
	case "runbook":
		if zh {
			return "查看 `llmmon status` 中的自动恢复记录和服务日志；修复后服务恢复健康，告警自动解除。"
		}
		return "See the auto-recovery actions in `llmmon status` and the service's logs; the alert ends when you resolve it or when it expires."
	}
	return ""
}

func (a *Agent) post(ctx context.Context, al PostableAlert) {
	if al.StartsAt.IsZero() {
		al.StartsAt = a.now()
	}
	if err := a.am.PostAlerts(ctx, []PostableAlert{al}); err != nil {
		a.log.Error("cannot tell Alertmanager", "alert", al.Labels["alertname"], "target", al.Labels["target"], "err", err)
	}
}

func (a *Agent) record(act Action) {
	a.metrics.actions.WithLabelValues(act.Target, act.Kind, act.Result).Inc()
	a.log.Info("remediation", "target", act.Target, "alert", act.Alert, "what", act.What, "result", act.Result, "detail", act.Detail)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.Actions = append(a.st.Actions, act)
	a.prune()
	if err := a.save(); err != nil {
		a.log.Error("cannot save the remediation state", "err", err)
	}
}

// prune keeps a week of handled episodes and the last 500 actions.
func (a *Agent) prune() {
	for k, at := range a.st.Handled {
		if a.now().Sub(at) > 7*24*time.Hour {
			delete(a.st.Handled, k)
		}
	}
	if n := len(a.st.Actions); n > 500 {
		a.st.Actions = append([]Action(nil), a.st.Actions[n-500:]...)
	}
}

// save writes the state atomically (a crash leaves the old file or the new one).
func (a *Agent) save() error {
	data, err := json.MarshalIndent(a.st, "", " ")
	if err != nil {
		return err
	}
	tmp := a.cfg.StateFile + ".tmp"
	if err := os.MkdirAll(filepath.Dir(a.cfg.StateFile), 0o700); err != nil {
		return fmt.Errorf("save the remediation state: %w", err)
	}
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("save the remediation state: %w", err)
	}
	if err := os.Rename(tmp, a.cfg.StateFile); err != nil {
		return fmt.Errorf("save the remediation state: %w", err)
	}
	return nil
}

func (a *Agent) lastActed(target string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := len(a.st.Actions) - 1; i >= 0; i-- {
		if x := a.st.Actions[i]; x.Target == target && x.acted() {
			return x.Time, true
		}
	}
	return time.Time{}, false
}

func (a *Agent) actedSince(target string, since time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, x := range a.st.Actions {
		if x.Target == target && x.acted() && !x.Time.Before(since) {
			n++
		}
	}
	return n
}

// TargetStatus is what `llmmon status` shows of a target's remediation.
type TargetStatus struct {
	Target     string  `json:"target"`
	What       string  `json:"what"`
	DryRun     bool    `json:"dry_run,omitempty"`
	InWindow   int     `json:"actions_in_window"`
	MaxActions int     `json:"max_actions"`
	Window     string  `json:"window"`
	Last       *Action `json:"last,omitempty"`
}

// Status returns each target's actions in its window and its last decision.
func (a *Agent) Status() []TargetStatus {
	var out []TargetStatus
	for i := range a.cfg.Targets {
		t := &a.cfg.Targets[i]
		s := TargetStatus{Target: t.Name, What: describe(t), DryRun: t.DryRun, MaxActions: t.MaxActions, Window: dur(t.Window),
			InWindow: a.actedSince(t.Name, a.now().Add(-t.Window))}
		a.mu.Lock()
		for j := len(a.st.Actions) - 1; j >= 0; j-- {
			if a.st.Actions[j].Target == t.Name {
				last := a.st.Actions[j]
				s.Last = &last
				break
			}
		}
		a.mu.Unlock()
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Target < out[j].Target })
	return out
}

// Actions returns the recorded decisions, oldest first.
func (a *Agent) Actions() []Action {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Action(nil), a.st.Actions...)
}

// dur writes a duration as the spec does: 1h, 5m, 2m30s.
func dur(d time.Duration) string { return model.Duration(d).String() }

func kind(t *Target) string {
	if t.Container != "" {
		return "restart"
	}
	return "command"
}

func what(t *Target) string {
	if t.Container != "" {
		return "container " + t.Container
	}
	return strings.Join(t.Command, " ")
}

// describe is the action as a verb phrase: "restart container vllm-chat", "run `systemctl ...`".
func describe(t *Target) string {
	if t.Container != "" {
		return "restart container " + t.Container
	}
	return "run `" + strings.Join(t.Command, " ") + "`"
}

// described is the same in the past: "restarted container vllm-chat".
func described(t *Target) string {
	if t.Container != "" {
		return "restarted container " + t.Container
	}
	return "ran `" + strings.Join(t.Command, " ") + "`"
}
