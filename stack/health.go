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
	"github.com/llmmon/llmmon/stack/runtime"
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

// credentials returns the user and password a component's API needs.
func credentials(s *spec.Spec, c render.Component, grafanaPW string) (string, string) {
	if c.Auth == render.AuthGrafanaAdmin {
		return s.Grafana.AdminUser, grafanaPW
	}
	return "", ""
}

// reload asks a component to re-read its files through the paths its description names.
func (e *Engine) reload(ctx context.Context, s *spec.Spec, d Desired, grafanaPW string) error {
	user, pass := credentials(s, d.Component, grafanaPW)
	for _, path := range d.Component.Reload {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+d.Component.Addr+path, nil)
		if err != nil {
			return err
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := e.http.Do(req)
		if err != nil {
			return fmt.Errorf("reload %s: %w", d.Component.Name, err)
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("reload %s: %s: HTTP %d: %s", d.Component.Name, path, resp.StatusCode, strings.TrimSpace(string(b)))
		}
	}
	return nil
}

// healthCheck returns nil when a component answers its readiness path and every deeper check of
// its description holds, or what does not hold yet.
func (e *Engine) healthCheck(ctx context.Context, s *spec.Spec, c render.Component, grafanaPW string) error {
	base := "http://" + c.Addr
	code, _, err := e.httpGet(ctx, base+c.Health, "", "")
	if err != nil {
		return fmt.Errorf("%s does not answer: %v", base+c.Health, shortErr(err))
	}
	if code != http.StatusOK {
		return fmt.Errorf("%s answers HTTP %d", base+c.Health, code)
	}
	user, pass := credentials(s, c, grafanaPW)
	for _, chk := range c.Ready {
		code, b, err := e.httpGet(ctx, base+chk.Path, user, pass)
		if err != nil || code != http.StatusOK || !jsonHas(b, chk.NonEmpty) {
			if err == nil && code != http.StatusOK {
				return fmt.Errorf("%s %s (HTTP %d)", c.Name, chk.Missing, code)
			}
			return fmt.Errorf("%s %s", c.Name, chk.Missing)
		}
	}
	return nil
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

// waitHealthy polls every component until all are healthy, or fails with the last log lines of
// the first one that is not.
func (e *Engine) waitHealthy(ctx context.Context, s *spec.Spec, want []Desired, grafanaPW string, o UpOptions) error {
	deadline := time.Now().Add(o.HealthTimeout)
	pending := map[string]bool{}
	for _, d := range want {
		pending[d.Component.Name] = true
	}
	lastErr := map[string]error{}
	delay := 50 * time.Millisecond
	for {
		for _, d := range want {
			if !pending[d.Component.Name] {
				continue
			}
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := e.healthCheck(cctx, s, d.Component, grafanaPW)
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
		delay = min(delay*2, 100*time.Millisecond) // local calls: cheap, and every 100 ms counts
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
