package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/llmmon/llmmon/stack/relay"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/spec"
)

// ComponentStatus is one row of `llmmon status`.
type ComponentStatus struct {
	Component    string    `json:"component"`
	State        string    `json:"state"`  // running, exited, restarting, missing
	Health       string    `json:"health"` // healthy, unhealthy: reason, or skipped
	StartedAt    time.Time `json:"started_at,omitempty"`
	Uptime       string    `json:"uptime,omitempty"`
	RestartCount int       `json:"restart_count"`
	Address      string    `json:"address,omitempty"`
	Image        string    `json:"image,omitempty"`
}

// TargetStatus is one scrape target as Prometheus sees it.
type TargetStatus struct {
	Job       string `json:"job"`
	Target    string `json:"target,omitempty"`
	Instance  string `json:"instance"`
	Health    string `json:"health"`
	LastError string `json:"last_error,omitempty"`
}

// AlertStatus is one firing or pending alert.
type AlertStatus struct {
	Name     string `json:"name"`
	State    string `json:"state"`
	Severity string `json:"severity"`
	Target   string `json:"target,omitempty"`
	Summary  string `json:"summary,omitempty"`
}

// ReceiverStatus is one notification receiver: messages sent and failed since its notifier
// (Alertmanager or the relay) started, alerts waiting in the relay, and the relay's last error.
type ReceiverStatus struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Sent      int    `json:"sent"`
	Failed    int    `json:"failed"`
	Pending   int    `json:"pending"`
	LastError string `json:"last_error,omitempty"`
}

// Status is the whole answer of `llmmon status`.
type Status struct {
	Stack      string            `json:"stack"`
	Components []ComponentStatus `json:"components"`
	Targets    []TargetStatus    `json:"targets"`
	Alerts     []AlertStatus     `json:"alerts"`
	Receivers  []ReceiverStatus  `json:"receivers"`
	Healthy    bool              `json:"healthy"`
}

// Status reports the stack's components, scrape targets and alerts. It reads only: it never
// changes anything.
func (e *Engine) Status(ctx context.Context, s *spec.Spec) (*Status, error) {
	info, err := e.rt.Ping(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := e.rt.ListContainers(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	gpu := s.GPU == "on"
	if s.GPU == "auto" {
		ok, _ := e.gpu()
		gpu = ok && info.NvidiaRuntime
	}
	comps := render.Components(s, render.Options{GPU: gpu})
	byName := map[string]runtime.Container{}
	for _, c := range cs {
		byName[c.Labels[runtime.LabelComponent]] = c
	}
	pw, _, _ := grafanaPassword(s)
	st := &Status{Stack: s.Name, Healthy: true, Components: make([]ComponentStatus, len(comps))}
	var wg sync.WaitGroup
	for i, c := range comps {
		wg.Add(1)
		go func(i int, c render.Component) {
			defer wg.Done()
			row := ComponentStatus{Component: c.Name, Address: c.Addr, Image: c.Image, State: "missing", Health: "unhealthy: not running (run llmmon up)"}
			if ct, ok := byName[c.Name]; ok {
				row.State = ct.State
				row.Image = ct.Image
				row.RestartCount = ct.RestartCount
				if ct.Running {
					row.StartedAt = ct.StartedAt
					row.Uptime = time.Since(ct.StartedAt).Truncate(time.Second).String()
					cctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
					err := e.healthCheck(cctx, s, c, pw)
					cancel()
					if err == nil {
						row.Health = "healthy"
					} else {
						row.Health = "unhealthy: " + err.Error()
					}
				} else {
					row.Health = fmt.Sprintf("unhealthy: container %s (exit code %d)", ct.State, ct.ExitCode)
				}
			}
			st.Components[i] = row
		}(i, c)
	}
	wg.Wait()
	for _, r := range st.Components {
		if r.Health != "healthy" {
			st.Healthy = false
		}
	}
	prom := fmt.Sprintf("http://%s:%d", s.LocalAddr(), s.Prometheus.Port)
	cctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
	defer cancel()
	if ts, err := e.activeTargets(cctx, s); err == nil {
		st.Targets = ts
		for _, t := range ts {
			if t.Health == "down" {
				st.Healthy = false
			}
		}
	}
	sort.Slice(st.Targets, func(i, j int) bool {
		if st.Targets[i].Job != st.Targets[j].Job {
			return st.Targets[i].Job < st.Targets[j].Job
		}
		return st.Targets[i].Instance < st.Targets[j].Instance
	})
	var al struct {
		Data struct {
			Alerts []struct {
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
				State       string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if _, b, err := e.httpGet(cctx, prom+"/api/v1/alerts", "", ""); err == nil && json.Unmarshal(b, &al) == nil {
		for _, a := range al.Data.Alerts {
			st.Alerts = append(st.Alerts, AlertStatus{Name: a.Labels["alertname"], State: a.State, Severity: a.Labels["severity"], Target: a.Labels["target"], Summary: a.Annotations["summary"]})
			if a.State == "firing" && a.Labels["severity"] == "critical" {
				st.Healthy = false
			}
		}
	}
	sort.Slice(st.Alerts, func(i, j int) bool {
		return st.Alerts[i].Name+st.Alerts[i].Target < st.Alerts[j].Name+st.Alerts[j].Target
	})
	st.Receivers = e.receiverStatus(cctx, s)
	return st, nil
}

// receiverStatus reads Alertmanager's per-receiver counters and the relay's queue.
func (e *Engine) receiverStatus(ctx context.Context, s *spec.Spec) []ReceiverStatus {
	counters, _ := e.amNotificationCounters(ctx, amURL(s))
	var relayed []relay.ReceiverStatus
	if render.NeedsRelay(s) {
		if _, b, err := e.httpGet(ctx, relayURL(s)+"/api/v1/status", "", ""); err == nil {
			_ = json.Unmarshal(b, &relayed)
		}
	}
	out := make([]ReceiverStatus, 0, len(s.Notify.Receivers))
	for _, r := range s.Notify.Receivers {
		rs := ReceiverStatus{Name: r.Name, Kind: r.Kind()}
		if r.DingTalk != nil || r.WeCom != nil {
			for _, x := range relayed {
				if x.Name == r.Name {
					rs.Sent, rs.Failed, rs.Pending, rs.LastError = x.Sent, x.Failed, x.Pending, x.LastError
				}
			}
		} else {
			rs.Sent = int(counters[r.Name].OK)
			rs.Failed = int(counters[r.Name].Failed)
		}
		out = append(out, rs)
	}
	return out
}

// DownOptions control Down.
type DownOptions struct {
	// Volumes also deletes the stack's data volumes (Prometheus samples, Grafana, silences).
	Volumes bool
	// NoWait fails at once with ErrLocked when another llmmon is changing the stack.
	NoWait bool
	// Waiting is told who holds the stack's lock when down has to wait for it; it may be nil.
	Waiting func(holder string)
}

// Down removes the stack's containers (and networks); data volumes stay unless asked.
func (e *Engine) Down(ctx context.Context, s *spec.Spec, o DownOptions) ([]string, error) {
	if _, err := e.rt.Ping(ctx); err != nil {
		return nil, err
	}
	lock, err := lockStack(ctx, s, "down", o.NoWait, o.Waiting)
	if err != nil {
		return nil, err
	}
	defer lock.release()
	cs, err := e.rt.ListContainers(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, c := range cs {
		if !owned(c) {
			continue // carries the stack's label but not llmmon's others: not ours to remove
		}
		if err := e.rt.RemoveContainer(ctx, c.ID); err != nil {
			return removed, err
		}
		removed = append(removed, "container "+c.Name)
	}
	if err := e.rt.RemoveNetworks(ctx, s.Name); err != nil {
		return removed, err
	}
	if o.Volumes {
		vs, err := e.rt.ListVolumes(ctx, s.Name)
		if err != nil {
			return removed, err
		}
		for _, v := range vs {
			if v.Labels[runtime.LabelManaged] != "true" {
				continue // carries the stack's label but llmmon did not make it
			}
			if err := e.rt.RemoveVolume(ctx, v.Name); err != nil {
				return removed, err
			}
			removed = append(removed, "volume "+v.Name)
		}
	}
	return removed, nil
}

// ErrNoSuchComponent is returned by Logs for a component the stack does not run.
var ErrNoSuchComponent = errors.New("no such component")

// Logs returns the last tail lines of a component's container log.
func (e *Engine) Logs(ctx context.Context, s *spec.Spec, component string, tail int) (string, error) {
	cs, err := e.rt.ListContainers(ctx, s.Name)
	if err != nil {
		return "", err
	}
	var have []string
	for _, c := range cs {
		name := c.Labels[runtime.LabelComponent]
		if name == component {
			return e.rt.Logs(ctx, c.ID, tail)
		}
		have = append(have, name)
	}
	sort.Strings(have)
	if len(have) == 0 {
		return "", fmt.Errorf("stack %q has no containers; run llmmon up", s.Name)
	}
	return "", fmt.Errorf("%w %q in stack %q; it has: %s", ErrNoSuchComponent, component, s.Name, strings.Join(have, ", "))
}
