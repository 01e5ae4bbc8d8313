package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/spec"
)

// reload asks a component to re-read its files through the paths its description names, with
// the credentials it needs. Grafana's provisioning reload answers once every dashboard is
// stored: it gets grafanaReloadTimeout, the others callTimeout.
func (e *Engine) reload(ctx context.Context, ep endpoints, d Desired) error {
	p := ep.of(d.Component.Name)
	if d.Component.Name == "grafana" {
		p = p.within(grafanaReloadTimeout)
	}
	for _, path := range d.Component.Reload {
		code, b, err := p.call(ctx, http.MethodPost, path, nil, "")
		if err != nil {
			return fmt.Errorf("reload %s: %w", d.Component.Name, err)
		}
		if code != http.StatusOK {
			if len(b) > 4096 {
				b = b[:4096]
			}
			return fmt.Errorf("reload %s: %s: HTTP %d: %s", d.Component.Name, path, code, strings.TrimSpace(string(b)))
		}
	}
	return nil
}

// healthCheck returns nil when a component answers its readiness path and every deeper check of
// its description holds, or what does not hold yet. It talks to the component with the
// stack's credentials.
func (e *Engine) healthCheck(ctx context.Context, ep endpoints, c render.Component) error {
	p := ep.of(c.Name)
	code, _, err := p.get(ctx, c.Health)
	if err != nil {
		return fmt.Errorf("%s does not answer: %v", p.URL(c.Health), shortErr(err))
	}
	if code == http.StatusUnauthorized {
		return fmt.Errorf("%s refuses the stack's credentials (HTTP 401): %s", p.URL(c.Health), notOurs(c))
	}
	if code != http.StatusOK {
		return fmt.Errorf("%s answers HTTP %d", p.URL(c.Health), code)
	}
	for _, chk := range c.Ready {
		code, b, err := p.get(ctx, chk.Path)
		if err != nil || code != http.StatusOK || !jsonHas(b, chk.NonEmpty) {
			if err == nil && code != http.StatusOK {
				return fmt.Errorf("%s %s (HTTP %d)", c.Name, chk.Missing, code)
			}
			return fmt.Errorf("%s %s", c.Name, chk.Missing)
		}
	}
	return nil
}

// notOurs says that what answers at a component's address is not the stack's own.
func notOurs(c render.Component) string {
	return fmt.Sprintf("port %s answers, but not as this stack's %s (another stack or program holds it)", c.Addr, c.Name)
}

// jsonHas reports whether the JSON document b has a non-null value at the dotted path, and, when
// that is an array, whether it is not empty. An empty path holds for any answer.
func jsonHas(b []byte, path string) bool {
	if path == "" {
		return true
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return false
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if v, ok = m[k]; !ok {
			return false
		}
	}
	switch x := v.(type) {
	case []any:
		return len(x) > 0
	case nil:
		return false
	}
	return true
}

// waitHealthy polls every component, through the stack's APIs ep, until all are healthy, or
// fails with the last log lines of the first one that is not.
func (e *Engine) waitHealthy(ctx context.Context, s *spec.Spec, want []Desired, ep endpoints, o UpOptions) error {
	deadline := time.Now().Add(o.HealthTimeout)
	pending := map[string]bool{}
	for _, d := range want {
		pending[d.Component.Name] = true
	}
	lastErr := map[string]error{}
	const delay = 50 * time.Millisecond // local calls are cheap, and every 50 ms of waiting counts
	var waitingFor []string
	for _, d := range want {
		what := d.Component.Name + " to answer on " + d.Component.Addr
		if len(d.Component.Ready) > 0 {
			what = d.Component.Name + " to answer and be ready"
		}
		waitingFor = append(waitingFor, what)
	}
	e.emit(o, Event{Action: "wait", Detail: "waiting (up to " + o.HealthTimeout.String() + ") for " + strings.Join(waitingFor, ", ")})
	for {
		for _, d := range want {
			if !pending[d.Component.Name] {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := e.healthCheck(cctx, ep, d.Component)
			cancel()
			if err == nil {
				delete(pending, d.Component.Name)
				e.emit(o, Event{Component: d.Component.Name, Action: "healthy"})
			} else {
				lastErr[d.Component.Name] = err
			}
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
	var msgs []string
	for _, d := range want {
		if !pending[d.Component.Name] {
			continue
		}
		msg := fmt.Sprintf("%s is not healthy after %s: %v", d.Component.Name, o.HealthTimeout, lastErr[d.Component.Name])
		if cs, err := e.rt.ListContainers(ctx, s.Name); err == nil {
			for _, c := range cs {
				if c.Labels[runtime.LabelComponent] == d.Component.Name {
					if !c.Running {
						msg += fmt.Sprintf(" (container %s, exit code %d)", c.State, c.ExitCode)
					}
					if logs, err := e.rt.Logs(ctx, c.ID, 20); err == nil && strings.TrimSpace(logs) != "" {
						msg += "\n    last log lines:\n      " + strings.ReplaceAll(strings.TrimSpace(logs), "\n", "\n      ")
					}
				}
			}
		}
		msgs = append(msgs, msg)
	}
	return fmt.Errorf("%s", strings.Join(msgs, "\n"))
}
