package stack

import (
	"context"
	"errors"
	"fmt"
	"github.com/llmmon/llmmon/stack/remediate"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

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
	// TargetsError, AlertsError and ReceiversError say why a section could not be read (its
	// component is down, or what answers is not this stack's); the section is then empty.
	TargetsError   string           `json:"targets_error,omitempty"`
	Alerts         []AlertStatus    `json:"alerts"`
	AlertsError    string           `json:"alerts_error,omitempty"`
	Receivers      []ReceiverStatus `json:"receivers"`
	ReceiversError string           `json:"receivers_error,omitempty"`
	// Blind are the model services that are up but feed none of the llmmon:* series (their
	// dashboards show only "up"); `llmmon doctor` says why.
	Blind []string `json:"blind,omitempty"`
	// Remediation is each auto-recovered target's actions (targets[].remediation).
	Remediation      []remediate.TargetStatus `json:"remediation,omitempty"`
	RemediationError string                   `json:"remediation_error,omitempty"`
	// RemoteWrite are the remote-write queues (an agent's to the central stack, the stores').
	RemoteWrite      []RemoteWriteStatus `json:"remote_write,omitempty"`
	RemoteWriteError string              `json:"remote_write_error,omitempty"`
	// Hosts are a central stack's hosts.
	Hosts      []HostStatus `json:"hosts,omitempty"`
	HostsError string       `json:"hosts_error,omitempty"`
	// Role is the stack's role in a fleet (standalone, agent, central).
	Role string `json:"role"`
	// GPU says where GPU metrics come from, and why, in one sentence.
	GPU     string `json:"gpu"`
	Healthy bool   `json:"healthy"`
}

// Status reports the stack's components, scrape targets and alerts. It reads only: it never
// changes anything (a missing credential is reported, not created). It talks only to its own
// stack: a component's API is read only when the stack's container of that component runs and
// what answers proves to be it (it takes the stack's credentials and, for Prometheus, carries
// the stack's external label).
func (e *Engine) Status(ctx context.Context, s *spec.Spec) (*Status, error) {
	info, err := e.rt.Ping(ctx)
	if err != nil {
		return nil, err
	}
	cs, err := e.rt.ListContainers(ctx, s.Name)
	if err != nil {
		return nil, err
	}
	gpu, smi := s.GPU == "on", false
	gpuWhy := ""
	if s.GPU == "auto" {
		ok, why := e.gpu()
		gpu = ok && info.NvidiaRuntime
		gpuWhy = why
		if ok && !info.NvidiaRuntime {
			gpuWhy = why + ", but Docker has no NVIDIA runtime"
		}
		if !ok {
			if only, smiWhy := e.smiOnly(); only {
				smi, gpuWhy = info.NvidiaRuntime, smiWhy
				if !info.NvidiaRuntime {
					gpuWhy = smiWhy + ", but Docker has no NVIDIA runtime"
				}
			}
		}
	}
	comps := render.Components(s, render.Options{GPU: gpu, GPUExporter: smi})
	byName := map[string]runtime.Container{}
	for _, c := range cs {
		byName[c.Labels[runtime.LabelComponent]] = c
	}
	ep, credErr := e.endpointsFor(s) // the credentials are read here, once
	st := &Status{Stack: s.Name, Role: s.Role(), Healthy: true, Components: make([]ComponentStatus, len(comps)), GPU: gpuSource(s, gpu, smi, gpuWhy)}
	ours := make([]bool, len(comps))
	var wg sync.WaitGroup
	for i, c := range comps {
		wg.Add(1)
		go func(i int, c render.Component) {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
			defer cancel()
			row := ComponentStatus{Component: c.Name, Address: c.Addr, Image: c.Image, State: "missing", Health: "unhealthy: not running (run llmmon up)"}
			if ct, ok := byName[c.Name]; ok {
				row.State = ct.State
				row.Image = ct.Image
				row.RestartCount = ct.RestartCount
				if ct.Running {
					row.StartedAt = ct.StartedAt
					row.Uptime = time.Since(ct.StartedAt).Truncate(time.Second).String()
					var err error
					ours[i], err = e.statusCheck(cctx, s, ep, credErr, c, ct)
					if err == nil {
						row.Health = "healthy"
					} else {
						row.Health = "unhealthy: " + err.Error()
					}
				} else {
					row.Health = fmt.Sprintf("unhealthy: container %s (exit code %d)", ct.State, ct.ExitCode)
				}
			} else if c.Published || c.Name == "relay" {
				// Not ours, since ours is missing: say who holds the port, if anyone (asked
				// without the stack's credentials, which are not for a stranger).
				if _, _, err := ep.of(c.Name).anonymous().get(cctx, "/"); err == nil {
					row.Health += "; " + notOursIn(s, c)
				}
			}
			st.Components[i] = row
		}(i, c)
	}
	wg.Wait()
	down := map[string]string{} // component -> why llmmon cannot read it
	for i, r := range st.Components {
		if r.Health != "healthy" {
			st.Healthy = false
		}
		if !ours[i] {
			down[r.Component] = strings.TrimPrefix(r.Health, "unhealthy: ")
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 800*time.Millisecond)
	defer cancel()
	if why, ok := down["prometheus"]; ok {
		st.TargetsError = "cannot read targets: Prometheus is down (" + why + ")"
		st.AlertsError = "cannot read alerts: Prometheus is down (" + why + ")"
		st.Healthy = false
	} else {
		if ts, err := activeTargets(cctx, ep.prom()); err == nil {
			st.Targets = ts
			if s.Role() != spec.RoleAgent {
				st.Blind = blindTargets(cctx, ep.prom())
			}
			for _, t := range ts {
				if t.Health == "down" {
					st.Healthy = false
				}
			}
		} else {
			st.TargetsError = "cannot read targets: " + err.Error()
			st.Healthy = false
		}
		var alerts []AlertStatus
		var err error
		if s.Role() == spec.RoleAgent {
			st.AlertsError = "an agent evaluates no rules: the central stack's `llmmon status` shows the alerts"
		} else {
			alerts, err = firingAlerts(cctx, ep.prom())
		}
		if err != nil {
			st.AlertsError = "cannot read alerts: " + err.Error()
			st.Healthy = false
		}
		for _, a := range alerts {
			st.Alerts = append(st.Alerts, a)
			if a.State == "firing" && a.Severity == "critical" {
				st.Healthy = false
			}
		}
		if s.Role() == spec.RoleAgent || len(s.RemoteWrite) > 0 {
			if rw, err := remoteWriteStatus(cctx, ep.of("prometheus")); err != nil {
				st.RemoteWriteError = "cannot read the remote-write queues: " + err.Error()
			} else {
				st.RemoteWrite = rw
				for _, q := range rw {
					if q.Behind > remoteWriteBehindLimit {
						st.Healthy = false
					}
				}
			}
		}
		if s.Role() == spec.RoleCentral {
			if hs, err := hostsStatus(cctx, ep.prom(), time.Now()); err != nil {
				st.HostsError = "cannot read the hosts: " + err.Error()
			} else {
				st.Hosts = hs
				for _, h := range hs {
					if strings.HasPrefix(h.Health, "silent") {
						st.Healthy = false
					}
				}
			}
		}
	}
	sort.Slice(st.Targets, func(i, j int) bool {
		if st.Targets[i].Job != st.Targets[j].Job {
			return st.Targets[i].Job < st.Targets[j].Job
		}
		return st.Targets[i].Instance < st.Targets[j].Instance
	})
	sort.Slice(st.Alerts, func(i, j int) bool {
		return st.Alerts[i].Name+st.Alerts[i].Target < st.Alerts[j].Name+st.Alerts[j].Target
	})
	var why []string
	if w, ok := down["alertmanager"]; ok {
		why = append(why, "Alertmanager is down ("+w+")")
	}
	if w, ok := down["relay"]; ok && render.NeedsRelay(s) {
		why = append(why, "the relay is down ("+w+")")
	}
	if len(why) > 0 && len(s.Notify.Receivers) > 0 {
		st.ReceiversError = "cannot read notification counters: " + strings.Join(why, "; ")
	}
	_, amDown := down["alertmanager"]
	_, relayDown := down["relay"]
	st.Receivers = receiverStatus(cctx, s, ep, !amDown, !relayDown)
	if len(s.Remediated()) > 0 {
		if credErr != nil {
			st.RemediationError = credErr.Error()
		} else if rs, err := ep.remediation().Status(cctx); err != nil {
			where := "run `llmmon up`"
			if s.RemediationAgent == spec.RemediationAgentHost {
				where = "start `llmmon remediate -f SPEC` on the host"
			}
			st.RemediationError = fmt.Sprintf("the remediation agent does not answer at 127.0.0.1:%d (%v): nothing restarts the services; %s", s.InternalPorts.Remediation, err, where)
		} else {
			st.Remediation = rs
		}
	}
	return st, nil
}

// statusCheck checks that what answers at a running component's address is the stack's own,
// then its health. ours says whether llmmon may read the component's API.
func (e *Engine) statusCheck(ctx context.Context, s *spec.Spec, ep endpoints, credErr error, c render.Component, ct runtime.Container) (ours bool, err error) {
	switch c.Name {
	case "prometheus", "alertmanager", "relay":
		if credErr != nil {
			return false, credErr
		}
		if err := identify(ctx, s, ep, c, ct); err != nil {
			return false, err
		}
	}
	return true, e.healthCheck(ctx, ep, c)
}

// identify checks that the Prometheus, Alertmanager or relay answering at c's address is this
// stack's: it must take the stack's credentials; Prometheus must carry the stack's external
// label, and Alertmanager must have started with the stack's container.
func identify(ctx context.Context, s *spec.Spec, ep endpoints, c render.Component, ct runtime.Container) error {
	var err error
	switch c.Name {
	case "prometheus":
		var cfg string
		if cfg, err = ep.prom().Config(ctx); err == nil {
			var pc struct {
				Global struct {
					ExternalLabels map[string]string `yaml:"external_labels"`
				} `yaml:"global"`
			}
			if yaml.Unmarshal([]byte(cfg), &pc) != nil || pc.Global.ExternalLabels["stack"] != s.Name {
				return errors.New(notOursIn(s, c))
			}
		}
	case "alertmanager":
		var am amStatus
		if am, err = ep.am().Status(ctx); err == nil && !ct.StartedAt.IsZero() && !am.Uptime.IsZero() {
			if d := am.Uptime.Sub(ct.StartedAt); d < -time.Minute || d > time.Minute {
				return errors.New(notOursIn(s, c))
			}
		}
	case "relay":
		_, err = ep.relay().Status(ctx)
	}
	var unreachable *unreachableError
	var status *statusError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &unreachable):
		return fmt.Errorf("%s does not answer: %s", unreachable.base, shortErr(unreachable.err))
	case errors.As(err, &status) && !status.refused():
		return err
	}
	// It refuses the stack's credentials, or answers, but not as the component does.
	return errors.New(notOursIn(s, c))
}

// notOursIn says that what answers at a component's address is not the stack's own.
func notOursIn(s *spec.Spec, c render.Component) string {
	return fmt.Sprintf("port %s answers, but not as stack %s's %s (another stack or program holds it)", c.Addr, s.Name, displayName(c.Name))
}

func displayName(component string) string {
	switch component {
	case "prometheus":
		return "Prometheus"
	case "alertmanager":
		return "Alertmanager"
	case "grafana":
		return "Grafana"
	}
	return component
}

// firingAlerts reads the alerts Prometheus has pending or firing.
func firingAlerts(ctx context.Context, prom promAPI) ([]AlertStatus, error) {
	al, err := prom.Alerts(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]AlertStatus, 0, len(al))
	for _, a := range al {
		out = append(out, AlertStatus{Name: string(a.Labels["alertname"]), State: string(a.State), Severity: string(a.Labels["severity"]), Target: string(a.Labels["target"]), Summary: string(a.Annotations["summary"])})
	}
	return out, nil
}

// receiverStatus reads Alertmanager's per-receiver counters and the relay's queue, each only
// when it is the stack's own.
func receiverStatus(ctx context.Context, s *spec.Spec, ep endpoints, amOK, relayOK bool) []ReceiverStatus {
	var counters map[string]notifyCount
	if amOK {
		counters, _ = ep.am().NotificationCounters(ctx)
	}
	var relayed []relay.ReceiverStatus
	if render.NeedsRelay(s) && relayOK {
		relayed, _ = ep.relay().Status(ctx)
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

// gpuSource says where the stack's GPU metrics come from and why.
func gpuSource(s *spec.Spec, dcgm, smi bool, why string) string {
	switch {
	case smi && s.NvidiaSmiExporterAddress == "" && s.DCGMExporterAddress == "":
		return "from the stack's gpu-exporter (gpu: auto: " + why + ")"
	case s.DCGMExporterAddress != "":
		return "from the dcgm-exporter at " + s.DCGMExporterAddress + " (dcgm_exporter_address)"
	case s.NvidiaSmiExporterAddress != "":
		return "from the nvidia-smi exporter at " + s.NvidiaSmiExporterAddress + " (nvidia_smi_exporter_address)"
	case dcgm && s.GPU == "on":
		return "from the stack's dcgm-exporter (gpu: on)"
	case dcgm:
		return "from the stack's dcgm-exporter (gpu: auto: " + why + ")"
	case s.GPU == "off":
		return "none (gpu: off)"
	}
	if strings.Contains(why, "gpu-exporter") || strings.Contains(why, "NVIDIA runtime") {
		return "none: " + why
	}
	return "none: " + why + "; where dcgm-exporter cannot run (GeForce, WSL), run `llmmon gpu-exporter` on the host and set nvidia_smi_exporter_address"
}

// blindExpr finds the model services that are up but feed no llmmon:* series (the condition of
// the LLMTargetExposesNothingUsable alert, without its 10 minutes).
const blindExpr = `group by (target) (up{engine!=""} == 1) unless on (target) group by (target) ({__name__=~"llmmon:(requests|generation_tokens|prompt_tokens):rate5m|llmmon:(queue_length|running_requests)|llmmon:kv_cache_usage:ratio|llmmon:e2e_latency_seconds:(p95|mean)"})`

// blindTargets returns the blind model services, sorted; nil when Prometheus cannot say.
func blindTargets(ctx context.Context, prom promAPI) []string {
	res, err := prom.Query(ctx, blindExpr)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range res {
		out = append(out, r.Labels["target"])
	}
	sort.Strings(out)
	return out
}
