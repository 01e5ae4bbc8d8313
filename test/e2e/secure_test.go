package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/test/robots"
)

// call sends one request with the given Authorization ("" for none) and returns the status.
func call(t *testing.T, method, url, auth string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func basic(user, pass string) string {
	req, _ := http.NewRequest("GET", "http://x", nil)
	req.SetBasicAuth(user, pass)
	return req.Header.Get("Authorization")
}

func running(t *testing.T, id string) bool {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.Running}}", id).Output()
	return err == nil && strings.TrimSpace(string(out)) == "true"
}

// TestIntegrationClosedEndpoints (issue 10, items 6 and 7): the relay accepts only its stack's
// Alertmanager, Prometheus' and Alertmanager's lifecycle endpoints need the stack's
// credentials, while with them everything still flows (Prometheus scrapes Alertmanager and the
// relay, sends its alerts to Alertmanager, which the relay delivers; Grafana's datasource logs
// in); status of another stack on the same ports reads nothing of this one, and status of a
// stack whose Prometheus is down says so instead of "no alerts", changing no file.
func TestIntegrationClosedEndpoints(t *testing.T) {
	rs := robots.New()
	const dingToken, dingSecret = "e2e-closed-ding-token-1f3a", "SECe2e-closed-secret-8c2d"
	rs.AddDingTalk(dingToken, robots.DingTalkRobot{Secret: dingSecret})
	base, err := rs.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rs.Close() })
	extra := fmt.Sprintf(`targets:
  - {name: vllm-down, engine: vllm, url: "127.0.0.1:%d"}
notify:
  receivers:
    - name: ding
      dingtalk: {url: "%s/robot/send?access_token=%s", secret: %s}
`, freePort(t), base, dingToken, dingSecret)
	e := newStack(t, extra)
	code, upOut := e.run(t, "up", "--timeout", "2m")
	if code != 0 {
		t.Fatalf("up: exit %d\n%s", code, upOut)
	}
	pwFile := filepath.Join(e.dir, "data", "secrets", "llmmon-password")
	if !strings.Contains(upOut, "Prometheus and Alertmanager login: llmmon, password in "+pwFile) {
		t.Errorf("up does not say where the Prometheus/Alertmanager password is:\n%s", upOut)
	}
	for _, f := range []string{pwFile, filepath.Join(e.dir, "data", "secrets", "relay-token")} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, mode %v; want 0600", f, err, st.Mode())
		}
	}
	pw, token := e.apiPassword(t), e.relayToken(t)
	cs := e.containers(t)
	prom := fmt.Sprintf("http://127.0.0.1:%d", e.prom)
	am := fmt.Sprintf("http://127.0.0.1:%d", e.am)
	relay := fmt.Sprintf("http://127.0.0.1:%d", e.relayPort(t))

	// A forged alert to the relay, without the token or with a wrong one, is refused and never
	// reaches the robot; so are its reload and its API.
	forged, _ := json.Marshal(map[string]any{"version": "4", "status": "firing", "receiver": "ding", "alerts": []map[string]any{{
		"status": "firing", "labels": map[string]string{"alertname": "ForgedAlert", "severity": "critical"},
		"annotations": map[string]string{"summary": "forged by a local user"}, "startsAt": time.Now().UTC().Format(time.RFC3339), "fingerprint": "f0f0"}}})
	// (The error messages name the attempt, never the credential.)
	for i, auth := range []string{"", "Bearer wrong", basic("llmmon", pw)} {
		what := []string{"no Authorization", "a wrong token", "the Prometheus password"}[i]
		if code, body := call(t, "POST", relay+"/v1/notify/ding", auth, forged); code != 401 {
			t.Errorf("forged notification with %s: HTTP %d %s, want 401", what, code, body)
		}
		if code, _ := call(t, "POST", relay+"/-/reload", auth, nil); code != 401 {
			t.Errorf("relay reload with %s: HTTP %d, want 401", what, code)
		}
		if code, _ := call(t, "GET", relay+"/api/v1/status", auth, nil); code != 401 {
			t.Errorf("relay status with %s: HTTP %d, want 401", what, code)
		}
	}
	// Lifecycle endpoints without the stack's credentials: refused, and both keep running.
	for i, auth := range []string{"", basic("llmmon", "wrong"), basic("admin", "admin"), "Bearer " + token} {
		what := []string{"no Authorization", "a wrong password", "admin/admin", "the relay token"}[i]
		if code, _ := call(t, "POST", prom+"/-/quit", auth, nil); code != 401 {
			t.Errorf("POST /-/quit to Prometheus with %s: HTTP %d, want 401", what, code)
		}
		if code, _ := call(t, "POST", prom+"/-/reload", auth, nil); code != 401 {
			t.Errorf("POST /-/reload to Prometheus with %s: HTTP %d, want 401", what, code)
		}
		if code, _ := call(t, "POST", am+"/-/reload", auth, nil); code != 401 {
			t.Errorf("POST /-/reload to Alertmanager with %s: HTTP %d, want 401", what, code)
		}
		if code, _ := call(t, "POST", am+"/api/v2/alerts", auth, []byte(`[{"labels":{"alertname":"ForgedAlert"}}]`)); code != 401 {
			t.Errorf("an alert posted to Alertmanager with %s: HTTP %d, want 401", what, code)
		}
	}
	time.Sleep(time.Second)
	for _, c := range []string{"prometheus", "alertmanager", "relay"} {
		if !running(t, cs[c]) {
			t.Fatalf("%s stopped after the refused requests", c)
		}
	}
	if code, _ := call(t, "GET", prom+"/-/ready", basic("llmmon", pw), nil); code != 200 {
		t.Errorf("Prometheus /-/ready with the stack's credentials: HTTP %d", code)
	}

	// With the credentials: Prometheus scrapes itself, Alertmanager and the relay, and sends its
	// alerts to Alertmanager; Alertmanager gives them to the relay (with the token), which
	// delivers them.
	deadline := time.Now().Add(90 * time.Second)
	for {
		var tg struct {
			Data struct {
				Active []struct {
					Labels    map[string]string `json:"labels"`
					Health    string            `json:"health"`
					LastError string            `json:"lastError"`
				} `json:"activeTargets"`
			} `json:"data"`
		}
		e.getJSON(t, prom+"/api/v1/targets?state=active", &tg)
		up := map[string]string{}
		for _, a := range tg.Data.Active {
			up[a.Labels["job"]] = a.Health + " " + a.LastError
		}
		if up["prometheus"] == "up " && up["alertmanager"] == "up " && up["relay"] == "up " {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("self-scrapes not up with the stack's credentials: %v", up)
		}
		time.Sleep(time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := rs.WaitMessages(ctx, dingToken, func(m []robots.Message) bool { return countContaining(m, "LLMServiceDown") > 0 }); err != nil {
		_, logs := dockerLogs(cs["alertmanager"])
		t.Fatalf("LLMServiceDown did not go Prometheus -> Alertmanager -> relay -> robot: %v; rejections %+v\nalertmanager log:\n%s", err, rs.Rejections(dingToken), logs)
	}
	if n := countContaining(rs.Messages(dingToken), "ForgedAlert"); n != 0 {
		t.Errorf("the robot got %d forged messages", n)
	}
	var ds map[string]any
	code, body := call(t, "GET", fmt.Sprintf("http://127.0.0.1:%d/api/datasources/uid/llmmon-prometheus/health", e.graf), basic("admin", grafanaPassword(t, e)), nil)
	if code != 200 || json.Unmarshal([]byte(body), &ds) != nil || ds["status"] != "OK" {
		t.Errorf("Grafana's datasource does not log in to Prometheus: HTTP %d %s (the Grafana image must expand $__file{}: rebuild it with make test-images)", code, body)
	}

	// Another stack on the same ports: its status reads nothing of this one.
	other := &stackEnv{dir: t.TempDir(), name: e.name + "x", prom: e.prom, am: e.am, graf: e.graf, relay: e.relay}
	other.spec = filepath.Join(other.dir, "llmmon.yaml")
	other.write(t, extra)
	code, out := other.run(t, "status")
	if code != 1 {
		t.Errorf("status of another stack: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		fmt.Sprintf("port 127.0.0.1:%d answers, but not as stack %s's Prometheus (another stack or program holds it)", e.prom, other.name),
		"cannot read targets: Prometheus is down", "cannot read alerts: Prometheus is down",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status of another stack lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "vllm-down") || strings.Contains(out, "No alerts firing") {
		t.Errorf("status of another stack shows this stack's targets, or no alerts:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(other.dir, "data")); !os.IsNotExist(err) {
		t.Errorf("status of another stack created its data directory: %v", err)
	}

	// This stack with Prometheus down: "cannot read alerts", exit 1, and no file changed.
	if out, err := exec.Command("docker", "stop", cs["prometheus"]).CombinedOutput(); err != nil {
		t.Fatalf("docker stop prometheus: %v\n%s", err, out)
	}
	before := tree(t, filepath.Join(e.dir, "data"))
	code, out = e.run(t, "status")
	if code != 1 || !strings.Contains(out, "Alerts: cannot read alerts: Prometheus is down") || strings.Contains(out, "No alerts firing") {
		t.Errorf("status with Prometheus down: exit %d\n%s", code, out)
	}
	code, out = e.run(t, "status", "-o", "json")
	var st struct {
		AlertsError  string `json:"alerts_error"`
		TargetsError string `json:"targets_error"`
		Healthy      bool   `json:"healthy"`
	}
	// The JSON on stdout, then the error line on stderr.
	if err := json.NewDecoder(strings.NewReader(out[max(strings.Index(out, "{"), 0):])).Decode(&st); err != nil || code != 1 || st.Healthy || !strings.HasPrefix(st.AlertsError, "cannot read alerts: Prometheus is down") || st.TargetsError == "" {
		t.Errorf("status -o json with Prometheus down: exit %d, %+v, %v\n%s", code, st, err, out)
	}
	if after := tree(t, filepath.Join(e.dir, "data")); after != before {
		t.Errorf("status changed the data directory:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// The credentials are never printed, nor in the containers' settings or logs.
	inspect, _ := exec.Command("docker", "inspect", cs["prometheus"], cs["alertmanager"], cs["relay"], cs["grafana"]).CombinedOutput()
	var logs string
	for _, c := range []string{"prometheus", "alertmanager", "relay", "grafana"} {
		_, l := dockerLogs(cs[c])
		logs += l
	}
	for what, text := range map[string]string{"up": upOut, "status": out, "docker inspect": string(inspect), "container logs": logs} {
		for _, secret := range []string{pw, token} {
			if strings.Contains(text, secret) {
				t.Errorf("a stack credential appears in %s", what)
			}
		}
	}
}

func grafanaPassword(t *testing.T, e *stackEnv) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(e.dir, "data", "secrets", "grafana-admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// tree lists every file below dir with its mode, size and modification time.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			fmt.Fprintf(&b, "%s %v %d %d\n", p, info.Mode(), info.Size(), info.ModTime().UnixNano())
		}
		return nil
	})
	return b.String()
}
