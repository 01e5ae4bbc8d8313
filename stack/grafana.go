package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// grafanaAPI is the stack's Grafana, reached on this host (never at grafana.external_url, which
// may be a proxy in front of it) as its admin user: the two calls llmmon makes, typed. (Grafana's
// generated client, grafana-openapi-client-go, brings go-swagger's runtime for them;
// grafana-tools/sdk is no longer maintained.)
type grafanaAPI struct{ endpoint }

// ErrNoProvisioningReload is wrapped by the error of a provisioning reload that Grafana answers
// with 404: a Grafana without the admin provisioning API (it came in Grafana 6.x). Such a
// Grafana still reads changed files by itself, every updateIntervalSeconds (10 s for llmmon's
// providers).
var ErrNoProvisioningReload = errors.New("grafana has no provisioning reload API")

// grafanaReloadTimeout bounds one provisioning reload: Grafana answers only once every
// provisioned dashboard is stored, which takes longer than a health check on a large
// installation.
const grafanaReloadTimeout = 60 * time.Second

// ReloadProvisioning asks Grafana to read its provisioning files again, for each of what
// ("dashboards", "datasources"), in that order: POST /api/admin/provisioning/<what>/reload.
// Grafana answers once the files are applied, so what it serves afterwards is what the files
// say. Errors say which reload failed and why, never the password.
func (g grafanaAPI) ReloadProvisioning(ctx context.Context, what ...string) error {
	p := g.within(grafanaReloadTimeout)
	for _, w := range what {
		path := "/api/admin/provisioning/" + w + "/reload"
		code, body, err := p.call(ctx, http.MethodPost, path, nil, "")
		if err != nil {
			return fmt.Errorf("reload grafana's %s: %w", w, err)
		}
		if len(body) > 64<<10 {
			body = body[:64<<10]
		}
		var m struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal(body, &m)
		detail := strings.TrimSpace(strings.Join([]string{m.Message, m.Error}, " "))
		if detail == "" {
			detail = strings.TrimSpace(string(body))
		}
		switch code {
		case http.StatusOK:
			continue
		case http.StatusUnauthorized:
			return fmt.Errorf("reload grafana's %s: Grafana refused the admin login of user %q (HTTP 401: %s); was the admin password changed in Grafana? llmmon uses the one in the spec or in DATA_DIR/secrets/grafana-admin-password", w, g.user, detail)
		case http.StatusForbidden:
			return fmt.Errorf("reload grafana's %s: user %q is not a Grafana server admin (HTTP 403: %s)", w, g.user, detail)
		case http.StatusNotFound:
			return fmt.Errorf("reload grafana's %s: %w (HTTP 404 for POST %s)", w, ErrNoProvisioningReload, path)
		default:
			return fmt.Errorf("reload grafana's %s: HTTP %d: %s", w, code, detail)
		}
	}
	return nil
}

// HasDashboard reports whether Grafana serves the dashboard uid (HTTP 200) or not (404); other
// answers are errors.
func (g grafanaAPI) HasDashboard(ctx context.Context, uid string) (bool, error) {
	code, body, err := g.get(ctx, "/api/dashboards/uid/"+url.PathEscape(uid))
	switch {
	case err != nil:
		return false, fmt.Errorf("ask grafana for dashboard %s: %w", uid, err)
	case code == http.StatusOK:
		return true, nil
	case code == http.StatusNotFound:
		return false, nil
	}
	if len(body) > 4096 {
		body = body[:4096]
	}
	return false, fmt.Errorf("ask grafana for dashboard %s: HTTP %d: %s", uid, code, strings.TrimSpace(string(body)))
}
