package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
)

func (e *Engine) httpGet(ctx context.Context, url, user, pass string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, err
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}

// reload asks a component to re-read its configuration through its lifecycle endpoint.
func (e *Engine) reload(ctx context.Context, d desired) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.c.Addr+d.c.Reload, nil)
	if err != nil {
		return err
	}
	resp, err := e.http.Do(req)
	if err != nil {
		return fmt.Errorf("reload %s: %w", d.c.Name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("reload %s: HTTP %d: %s", d.c.Name, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return nil
}

// check is one health fact about a component: nil when it holds.
func (e *Engine) healthCheck(ctx context.Context, s *spec.Spec, d desired, grafanaPW string) error {
	base := "http://" + d.c.Addr
	code, body, err := e.httpGet(ctx, base+d.c.Health, "", "")
	if err != nil {
		return fmt.Errorf("%s does not answer: %v", base+d.c.Health, shortErr(err))
	}
	if code != http.StatusOK {
		return fmt.Errorf("%s answers HTTP %d", base+d.c.Health, code)
	}
	switch d.c.Name {
	case "prometheus":
		var rules struct {
			Data struct {
				Groups []json.RawMessage `json:"groups"`
			} `json:"data"`
		}
		if _, b, err := e.httpGet(ctx, base+"/api/v1/rules", "", ""); err != nil || json.Unmarshal(b, &rules) != nil || len(rules.Data.Groups) == 0 {
			return fmt.Errorf("prometheus has not loaded its rules yet")
		}
		var am struct {
			Data struct {
				Active []json.RawMessage `json:"activeAlertmanagers"`
			} `json:"data"`
		}
		if _, b, err := e.httpGet(ctx, base+"/api/v1/alertmanagers", "", ""); err != nil || json.Unmarshal(b, &am) != nil || len(am.Data.Active) == 0 {
			return fmt.Errorf("prometheus is not connected to alertmanager yet")
		}
		var tg struct {
			Data struct {
				Active []json.RawMessage `json:"activeTargets"`
			} `json:"data"`
		}
		if _, b, err := e.httpGet(ctx, base+"/api/v1/targets?state=active", "", ""); err != nil || json.Unmarshal(b, &tg) != nil || len(tg.Data.Active) == 0 {
			return fmt.Errorf("prometheus sees no targets yet")
		}
	case "grafana":
		code, _, err := e.httpGet(ctx, base+"/api/datasources/uid/"+render.DatasourceUID, s.Grafana.AdminUser, grafanaPW)
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("grafana does not have llmmon's datasource yet (HTTP %d)", code)
		}
	case "alertmanager":
		_, b, err := e.httpGet(ctx, base+"/api/v2/status", "", "")
		if err != nil || !strings.Contains(string(b), `"config"`) {
			return fmt.Errorf("alertmanager has not loaded its configuration")
		}
	}
	_ = body
	return nil
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
	delay := 100 * time.Millisecond
	for {
		for _, d := range want {
			if !pending[d.c.Name] {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := e.healthCheck(cctx, s, d, grafanaPW)
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
