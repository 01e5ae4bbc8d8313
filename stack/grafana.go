package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/spec"
)

// ErrNoProvisioningReload is wrapped by grafanaReload's error when Grafana answers 404: a
// Grafana without the admin provisioning API (it came in Grafana 6.x). Such a Grafana still
// reads changed files by itself, every updateIntervalSeconds (10 s for llmmon's providers).
var ErrNoProvisioningReload = errors.New("grafana has no provisioning reload API")

// grafanaReloadTimeout bounds one reload: Grafana answers only once every provisioned
// dashboard is stored, which takes longer than a health check on a large installation.
const grafanaReloadTimeout = 60 * time.Second

// grafanaReload asks the running Grafana to read its provisioning files again, for each of
// what ("dashboards", "datasources"), in that order: POST
// /api/admin/provisioning/<what>/reload with the admin user's basic auth. Grafana answers once
// the files are applied, so what it serves afterwards is what the files say. password is the
// admin password (grafanaPassword). Errors say which reload failed and why, never the password.
func (e *Engine) grafanaReload(ctx context.Context, s *spec.Spec, password string, what ...string) error {
	c := *e.http
	if c.Timeout < grafanaReloadTimeout {
		c.Timeout = grafanaReloadTimeout
	}
	base := grafanaLocalURL(s)
	for _, w := range what {
		path := "/api/admin/provisioning/" + w + "/reload"
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, nil)
		if err != nil {
			return fmt.Errorf("reload grafana's %s: %w", w, err)
		}
		req.SetBasicAuth(s.Grafana.AdminUser, password)
		resp, err := c.Do(req)
		if err != nil {
			return fmt.Errorf("reload grafana's %s: %w", w, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		var m struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal(body, &m)
		detail := strings.TrimSpace(strings.Join([]string{m.Message, m.Error}, " "))
		if detail == "" {
			detail = strings.TrimSpace(string(body))
		}
		switch resp.StatusCode {
		case http.StatusOK:
			continue
		case http.StatusUnauthorized:
			return fmt.Errorf("reload grafana's %s: Grafana refused the admin login of user %q (HTTP 401: %s); was the admin password changed in Grafana? llmmon uses the one in the spec or in DATA_DIR/secrets/grafana-admin-password", w, s.Grafana.AdminUser, detail)
		case http.StatusForbidden:
			return fmt.Errorf("reload grafana's %s: user %q is not a Grafana server admin (HTTP 403: %s)", w, s.Grafana.AdminUser, detail)
		case http.StatusNotFound:
			return fmt.Errorf("reload grafana's %s: %w (HTTP 404 for POST %s)", w, ErrNoProvisioningReload, path)
		default:
			return fmt.Errorf("reload grafana's %s: HTTP %d: %s", w, resp.StatusCode, detail)
		}
	}
	return nil
}

// grafanaLocalURL is where llmmon reaches Grafana on this host (never grafana.external_url,
// which may be a proxy in front of it).
func grafanaLocalURL(s *spec.Spec) string {
	h := s.LocalAddr()
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		h = "[" + h + "]"
	}
	return fmt.Sprintf("http://%s:%d", h, s.Grafana.Port)
}

// grafanaDashboard reports whether the running Grafana serves the dashboard uid (HTTP 200) or
// not (404); other answers are errors.
func (e *Engine) grafanaDashboard(ctx context.Context, s *spec.Spec, password, uid string) (bool, error) {
	p := endpoint{component: "grafana", base: grafanaLocalURL(s), user: s.Grafana.AdminUser, password: password}
	code, body, err := e.get(ctx, p, "/api/dashboards/uid/"+uid)
	switch {
	case err != nil:
		return false, fmt.Errorf("ask grafana for dashboard %s: %w", uid, err)
	case code == http.StatusOK:
		return true, nil
	case code == http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("ask grafana for dashboard %s: HTTP %d: %s", uid, code, strings.TrimSpace(string(body)))
}
