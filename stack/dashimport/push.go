package dashimport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Push sends the dashboard to a running Grafana through its HTTP API (POST /api/dashboards/db
// with overwrite true and folderUid, creating the folder first with POST /api/folders if GET
// /api/folders/<uid> is 404), with basic auth. An empty folderUID is Grafana's General folder;
// an empty folderTitle is the uid. Errors name the HTTP status and Grafana's message, never the
// password. c may be nil.
func Push(ctx context.Context, c *http.Client, grafanaURL, user, password string, r *Result, folderUID, folderTitle string) error {
	if r == nil || len(r.Dashboard) == 0 {
		return errors.New("push dashboard: nothing to push")
	}
	if c == nil {
		c = &http.Client{Timeout: 60 * time.Second}
	}
	base, err := url.Parse(strings.TrimRight(strings.TrimSpace(grafanaURL), "/"))
	if err != nil || base.Host == "" || (base.Scheme != "http" && base.Scheme != "https") {
		return fmt.Errorf("push dashboard: grafana url %q: want http(s)://host:port", redact(redactURL(grafanaURL), password))
	}
	base.User = nil // the credentials are user and password
	g := &grafana{c: c, base: base.String(), user: user, password: password}

	if folderUID != "" {
		code, body, err := g.do(ctx, http.MethodGet, "/api/folders/"+url.PathEscape(folderUID), nil)
		switch {
		case err != nil:
			return fmt.Errorf("push dashboard %q: %w", r.Title, err)
		case code == http.StatusNotFound:
			if folderTitle == "" {
				folderTitle = folderUID
			}
			if err := g.expect(ctx, http.MethodPost, "/api/folders", map[string]string{"uid": folderUID, "title": folderTitle}); err != nil {
				return fmt.Errorf("push dashboard %q: create folder %q: %w", r.Title, folderUID, err)
			}
		case code == http.StatusOK && !isJSON(body):
			return fmt.Errorf("push dashboard %q: %s/api/folders/%s answered 200 OK but not as Grafana does, with %s", r.Title, g.base, folderUID, answer(body))
		case code != http.StatusOK:
			return fmt.Errorf("push dashboard %q: look up folder %q: %w", r.Title, folderUID, g.statusError(http.MethodGet, "/api/folders/"+folderUID, code, body))
		}
	}
	body := map[string]any{
		"dashboard": json.RawMessage(r.Dashboard),
		"folderUid": folderUID,
		"overwrite": true,
		"message":   "llmmon import-dashboard",
	}
	if err := g.expect(ctx, http.MethodPost, "/api/dashboards/db", body); err != nil {
		return fmt.Errorf("push dashboard %q: %w", r.Title, err)
	}
	return nil
}

type grafana struct {
	c                    *http.Client
	base, user, password string
}

// do sends one request; body, when not nil, is sent as JSON.
func (g *grafana) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, g.base+path, rd)
	if err != nil {
		return 0, nil, errors.New(redact(err.Error(), g.password))
	}
	req.SetBasicAuth(g.user, g.password)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "llmmon")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := g.c.Do(req)
	if err != nil {
		// net/http leaves the password out of its errors; the check is for a password that is
		// also part of the address.
		if g.password != "" && strings.Contains(err.Error(), g.password) {
			return 0, nil, errors.New(redact(err.Error(), g.password))
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	return resp.StatusCode, data, nil
}

// expect sends a request and wants a 200 with Grafana's JSON answer, which has a uid.
func (g *grafana) expect(ctx context.Context, method, path string, body any) error {
	code, data, err := g.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return g.statusError(method, path, code, data)
	}
	var ans struct {
		UID string `json:"uid"`
	}
	if json.Unmarshal(data, &ans) != nil || ans.UID == "" {
		return fmt.Errorf("%s %s%s answered 200 OK but not as Grafana does, with %s", method, g.base, path, answer(data))
	}
	return nil
}

// statusError names the status and Grafana's message (or the first bytes of the answer).
func (g *grafana) statusError(method, path string, code int, body []byte) error {
	detail := apiMessage(body)
	if detail == "" {
		detail = answer(body)
	}
	hint := ""
	if code == http.StatusUnauthorized {
		hint = " (check the Grafana admin user and password)"
	}
	return fmt.Errorf("grafana answered %d %s to %s %s: %s%s", code, http.StatusText(code), method, path, redact(detail, g.password), hint)
}

// redact hides the password in s.
func redact(s, password string) string {
	if password == "" {
		return s
	}
	return strings.ReplaceAll(s, password, "***")
}

// answer describes a body that is not what Grafana sends.
func answer(body []byte) string {
	if len(bytes.TrimSpace(body)) == 0 {
		return "an empty answer"
	}
	return "an answer starting with " + head(body)
}
