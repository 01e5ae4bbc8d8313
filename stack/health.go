package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
)

// reload asks a component to re-read its configuration through its lifecycle endpoint, with the
// stack's credentials.
func (e *Engine) reload(ctx context.Context, s *spec.Spec, d desired) error {
	ep, err := endpointsFor(s)
	if err != nil {
		return fmt.Errorf("reload %s: %w", d.c.Name, err)
	}
	p := ep.of(d.c.Name)
	p.base = "http://" + d.c.Addr
	code, b, err := e.call(ctx, p, http.MethodPost, d.c.Reload, nil, "")
	if err != nil {
		return fmt.Errorf("reload %s: %w", d.c.Name, err)
	}
	if code != http.StatusOK {
		if len(b) > 4096 {
			b = b[:4096]
		}
		return fmt.Errorf("reload %s: HTTP %d: %s", d.c.Name, code, strings.TrimSpace(string(b)))
	}
	return nil
}

// healthCheck is one health fact about a component: nil when it holds. It talks to the
// component with the stack's credentials.
func (e *Engine) healthCheck(ctx context.Context, ep endpoints, d desired) error {
	p := ep.of(d.c.Name)
	p.component, p.base = d.c.Name, "http://"+d.c.Addr
	code, _, err := e.get(ctx, p, d.c.Health)
	if err != nil {
		return fmt.Errorf("%s does not answer: %v", p.URL(d.c.Health), shortErr(err))
	}
	if code == http.StatusUnauthorized {
		return fmt.Errorf("%s refuses the stack's credentials (HTTP 401): %s", p.URL(d.c.Health), notOurs(d.c))
	}
	if code != http.StatusOK {
		return fmt.Errorf("%s answers HTTP %d", p.URL(d.c.Health), code)
	}
	switch d.c.Name {
	case "prometheus":
		var rules struct {
			Data struct {
				Groups []json.RawMessage `json:"groups"`
			} `json:"data"`
		}
		if b, err := e.getOK(ctx, p, "/api/v1/rules"); err != nil || json.Unmarshal(b, &rules) != nil || len(rules.Data.Groups) == 0 {
			return fmt.Errorf("prometheus has not loaded its rules yet")
		}
		var am struct {
			Data struct {
				Active []json.RawMessage `json:"activeAlertmanagers"`
			} `json:"data"`
		}
		if b, err := e.getOK(ctx, p, "/api/v1/alertmanagers"); err != nil || json.Unmarshal(b, &am) != nil || len(am.Data.Active) == 0 {
			return fmt.Errorf("prometheus is not connected to alertmanager yet")
		}
		var tg struct {
			Data struct {
				Active []json.RawMessage `json:"activeTargets"`
			} `json:"data"`
		}
		if b, err := e.getOK(ctx, p, "/api/v1/targets?state=active"); err != nil || json.Unmarshal(b, &tg) != nil || len(tg.Data.Active) == 0 {
			return fmt.Errorf("prometheus sees no targets yet")
		}
	case "grafana":
		code, _, err := e.get(ctx, p, "/api/datasources/uid/"+render.DatasourceUID)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("grafana does not have llmmon's datasource yet (HTTP %d)", code)
		}
	case "alertmanager":
		b, err := e.getOK(ctx, p, "/api/v2/status")
		if err != nil || !strings.Contains(string(b), `"config"`) {
			return fmt.Errorf("alertmanager has not loaded its configuration")
		}
	}
	return nil
}

// notOurs says that what answers at a component's address is not the stack's own.
func notOurs(c render.Component) string {
	return fmt.Sprintf("port %s answers, but not as this stack's %s (another stack or program holds it)", c.Addr, c.Name)
}

// waitHealthy polls every component until all are healthy, or fails with the last log lines of
// the first one that is not.
func (e *Engine) waitHealthy(ctx context.Context, s *spec.Spec, want []desired, grafanaPW string, o UpOptions) error {
	deadline := time.Now().Add(o.HealthTimeout)
	pending := map[string]bool{}
	for _, d := range want {
		pending[d.c.Name] = true
	}
	lastErr := map[string]error{}
	creds, err := ReadCredentials(s)
	if err != nil {
		return err
	}
	ep := newEndpoints(s, creds, grafanaPW)
	delay := 100 * time.Millisecond
	for {
		for _, d := range want {
			if !pending[d.c.Name] {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := e.healthCheck(cctx, ep, d)
			cancel()
			if err == nil {
				delete(pending, d.c.Name)
				e.emit(o, Event{Component: d.c.Name, Action: "healthy"})
			} else {
				lastErr[d.c.Name] = err
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
		delay = min(delay*2, time.Second)
	}
	var msgs []string
	for _, d := range want {
		if !pending[d.c.Name] {
			continue
		}
		msg := fmt.Sprintf("%s is not healthy after %s: %v", d.c.Name, o.HealthTimeout, lastErr[d.c.Name])
		if cs, err := e.rt.ListContainers(ctx, s.Name); err == nil {
			for _, c := range cs {
				if c.Labels["io.llmmon.component"] == d.c.Name {
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
