package relay

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/test/robots"
)

// TestTokenRequired: every path but /metrics, /-/ready and /-/healthy refuses a request without
// the token, or with a wrong one, and nothing sent that way is delivered.
func TestTokenRequired(t *testing.T) {
	e := newEnv(t, nil)
	body, _ := json.Marshal(Notification{Version: "4", Status: "firing", Receiver: "ding", Alerts: []Alert{alertN(1, "firing", "critical")}})
	for _, auth := range []string{"", "Bearer wrong-token", "Bearer " + testToken + "x", "Basic " + testToken, testToken, "Bearer "} {
		if code := post(t, e.srv.URL+"/v1/notify/ding", auth, body); code != http.StatusUnauthorized {
			t.Errorf("notify with Authorization %q: HTTP %d, want 401", auth, code)
		}
		if code := post(t, e.srv.URL+"/-/reload", auth, nil); code != http.StatusUnauthorized {
			t.Errorf("reload with Authorization %q: HTTP %d, want 401", auth, code)
		}
		for _, path := range []string{"/api/v1/status", "/api/v1/tests/x"} {
			req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
			if auth != "" {
				req.Header.Set("Authorization", auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET %s with Authorization %q: HTTP %d, want 401", path, auth, resp.StatusCode)
			}
		}
	}
	// The open, read-only paths.
	for _, path := range []string{"/metrics", "/-/ready", "/-/healthy"} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s without a token: HTTP %d, want 200", path, resp.StatusCode)
		}
	}
	m := get(t, e.srv.URL+"/metrics")
	if !strings.Contains(m, "llmmon_relay_requests_unauthorized_total 24") {
		t.Errorf("the refused requests are not counted:\n%s", grepLines(m, "unauthorized"))
	}
	if strings.Contains(m, `llmmon_relay_alerts_received_total{receiver="ding"} 1`) {
		t.Error("a notification without the token was received")
	}
	// With the token: accepted and delivered.
	if code := post(t, e.srv.URL+"/v1/notify/ding", "Bearer "+testToken, body); code != http.StatusOK {
		t.Fatalf("notify with the token: HTTP %d, want 200", code)
	}
	msgs := e.wait(t, dtToken, 5*time.Second, func(m []robots.Message) bool { return len(m) > 0 })
	if len(msgs) != 1 {
		t.Errorf("the robot got %d messages, want 1 (the forged ones must not arrive)", len(msgs))
	}
	if code := post(t, e.srv.URL+"/v1/notify/ding", "", body); code != http.StatusUnauthorized {
		t.Errorf("notify without the token after a good one: HTTP %d", code)
	}
}

// TestTokenChangesOnReload: a reload with a new token makes the old one useless.
func TestTokenChangesOnReload(t *testing.T) {
	e := newEnv(t, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "relay.yml")
	cfg := *e.relay.cfg
	cfg.Token = "new-token"
	b, _ := yaml.Marshal(&cfg)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := e.relay.Reload(path); err != nil {
		t.Fatal(err)
	}
	if code := post(t, e.srv.URL+"/v1/notify/ding", "Bearer "+testToken, []byte("{}")); code != http.StatusUnauthorized {
		t.Errorf("the old token after the reload: HTTP %d, want 401", code)
	}
	if code := post(t, e.srv.URL+"/v1/notify/ding", "Bearer new-token", []byte("not json")); code != http.StatusBadRequest {
		t.Errorf("the new token with a bad body: HTTP %d, want 400 (past the token check)", code)
	}
}

// TestConfigNeedsToken: a configuration without a token is refused, so the relay never runs open.
func TestConfigNeedsToken(t *testing.T) {
	c := &Config{Receivers: []Receiver{{Name: "a", Kind: KindWeCom, URL: "https://example.com/x"}}}
	err := c.Check()
	if err == nil || !strings.Contains(err.Error(), "token: missing") {
		t.Fatalf("Check without a token: %v", err)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
