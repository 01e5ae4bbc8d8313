package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// notifications records what Alertmanager's webhook receiver got.
type notifications struct {
	mu  sync.Mutex
	got []note
}

type note struct {
	alert, status, target, reason string
	at                            time.Time
}

func (n *notifications) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var msg struct {
		Alerts []struct {
			Status string            `json:"status"`
			Labels map[string]string `json:"labels"`
		} `json:"alerts"`
	}
	body, _ := io.ReadAll(r.Body)
	if json.Unmarshal(body, &msg) == nil {
		n.mu.Lock()
		for _, a := range msg.Alerts {
			n.got = append(n.got, note{a.Labels["alertname"], a.Status, a.Labels["target"], a.Labels["reason"], time.Now()})
		}
		n.mu.Unlock()
	}
}

// has reports whether alert arrived with status (and reason, when given) after since.
func (n *notifications) has(alert, status, reason string, since time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, x := range n.got {
		if x.alert == alert && x.status == status && (reason == "" || x.reason == reason) && !x.at.Before(since) {
			return true
		}
	}
	return false
}

func (n *notifications) String() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	var s []string
	for _, x := range n.got {
		s = append(s, fmt.Sprintf("%s %s %s/%s %s", x.at.Format("15:04:05"), x.alert, x.status, x.target, x.reason))
	}
	return strings.Join(s, "\n")
}

func waitFor(t *testing.T, what string, d time.Duration, ok func() bool, more func() string) {
	t.Helper()
	for deadline := time.Now().Add(d); !ok(); time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s\n%s", what, d, more())
		}
	}
}

func containerState(t *testing.T, name string) (state, started string) {
	out, err := exec.Command("docker", "inspect", "--format", "{{.State.Status}} {{.State.StartedAt}}", name).CombinedOutput()
	if err != nil {
		t.Fatalf("inspect %s: %v\n%s", name, err, out)
	}
	state, started, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	return state, started
}

// TestIntegrationRemediation: a model service in a container dies; the real Alertmanager
// notifies the receivers and the remediation agent (a container of the stack, talking to the
// real Docker Engine), which restarts it; the service is healthy again and the receivers got
// the alert, the "restarted" note and its resolution. A service that keeps dying hits the
// limit and raises LLMAutoRecoveryFailed. A restart of the agent repeats nothing, and the
// look-alike containers (same name pattern) are never touched.
func TestIntegrationRemediation(t *testing.T) {
	requireImages(t)
	suffix := time.Now().UnixNano() % 1000000
	model := fmt.Sprintf("llmmon-e2e-model-%d", suffix)
	port := freePort(t)
	runModel := func(extra ...string) {
		t.Helper()
		exec.Command("docker", "rm", "-f", model).Run()
		args := append([]string{"run", "-d", "--name", model, "--network", "host", "llmmon-test/modelsim:dev",
			"--serve", fmt.Sprintf("vllm=127.0.0.1:%d", port), "--control", "off", "--rps", "4"}, extra...)
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("start the model service: %v\n%s", err, out)
		}
	}
	runModel()
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", model).Run() })
	// Look-alikes: the same name with a suffix and with a prefix; created, never started.
	lookalikes := []string{model + "-2", "x" + model}
	for _, n := range lookalikes {
		if out, err := exec.Command("docker", "create", "--name", n, "--network", "host", "llmmon-test/modelsim:dev", "--serve", fmt.Sprintf("vllm=127.0.0.1:%d", freePort(t)), "--control", "off").CombinedOutput(); err != nil {
			t.Fatalf("create %s: %v\n%s", n, err, out)
		}
		t.Cleanup(func() { exec.Command("docker", "rm", "-f", n).Run() })
	}

	hook := &notifications{}
	srv := httptest.NewServer(hook)
	t.Cleanup(srv.Close)
	specText := fmt.Sprintf(`alerts: {thresholds: {down_for: 4s}}
notify:
  receivers:
    - {name: hook, webhook: {url: "%s/hook"}}
  route: {group_wait: 1s, group_interval: 5s}
targets:
  - name: chat
    engine: vllm
    url: "127.0.0.1:%d"
`, srv.URL, port)
	// A stack with history first, as a user has one: auto-recovery is added to it later.
	e := newStack(t, specText)
	if code, out := e.run(t, "up", "--timeout", "120s"); code != 0 {
		t.Fatalf("first up, without remediation: exit %d\n%s", code, out)
	}
	before := e.containers(t)
	e.write(t, specText+fmt.Sprintf("    remediation: {container: %s, max_actions: 2, cooldown: 5s, recheck: 30s}\n", model))
	if code, out := e.run(t, "up", "--timeout", "120s"); code != 0 {
		t.Fatalf("up with remediation added: exit %d\n%s", code, out)
	}
	after := e.containers(t)
	if after["prometheus"] != before["prometheus"] || after["grafana"] != before["grafana"] || after["remediation"] == "" {
		t.Fatalf("adding remediation should add its container and keep Prometheus and Grafana: %v -> %v", before, after)
	}
	up := func() bool {
		var r struct {
			Data struct {
				Result []promResult `json:"result"`
			} `json:"data"`
		}
		e.getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?query=up%%7Btarget%%3D%%22chat%%22%%7D%%3D%%3D1", e.prom), &r)
		return len(r.Data.Result) == 1
	}
	waitFor(t, "Prometheus scrapes the model service", 60*time.Second, up, hook.String)

	// 1. The service dies; llmmon restarts it.
	_, startedBefore := containerState(t, model)
	t0 := time.Now()
	if out, err := exec.Command("docker", "stop", "-t", "1", model).CombinedOutput(); err != nil {
		t.Fatalf("stop the model: %v\n%s", err, out)
	}
	waitFor(t, "the service is restarted and scraped again", 90*time.Second, func() bool {
		st, started := containerState(t, model)
		return st == "running" && started != startedBefore && up()
	}, hook.String)
	t.Logf("service death to healthy again through llmmon's remediation: %s", time.Since(t0).Round(100*time.Millisecond))
	// The announcement resolves a minute after the restart at the earliest (remediate.announceHold).
	waitFor(t, "the receivers get the alert, the restart and its resolution", 120*time.Second, func() bool {
		return hook.has("LLMServiceDown", "firing", "", t0) && hook.has("LLMAutoRecoveryAction", "firing", "", t0) &&
			hook.has("LLMAutoRecoveryAction", "resolved", "", t0) && hook.has("LLMServiceDown", "resolved", "", t0)
	}, hook.String)
	_, out := e.run(t, "status")
	if !strings.Contains(out, "restart container "+model) || !strings.Contains(out, "1 of 2 in 1h") || !strings.Contains(out, "healthy") {
		t.Errorf("status does not show the action:\n%s", out)
	}

	// 2. A service that keeps dying: it serves for 8 s and exits, again and again. The agent
	// restarts it once more (2 of 2 in the hour), then stops and asks for a person.
	t1 := time.Now()
	runModel("--exit-after", "8s")
	waitFor(t, "the limit is hit and a person is asked for", 150*time.Second, func() bool {
		return hook.has("LLMAutoRecoveryFailed", "firing", "limit", t1)
	}, hook.String)
	actions := func() int {
		code, out := e.run(t, "status", "-o", "json")
		var st struct {
			Remediation []struct {
				InWindow int `json:"actions_in_window"`
			} `json:"remediation"`
		}
		// Exit 1 while the service is down (the stack is not healthy): the JSON comes first.
		if err := json.NewDecoder(strings.NewReader(out)).Decode(&st); code > 1 || err != nil || len(st.Remediation) != 1 {
			t.Fatalf("status -o json: exit %d, %v\n%s", code, err, out)
		}
		return st.Remediation[0].InWindow
	}
	if n := actions(); n != 2 {
		t.Fatalf("actions in the window: %d, want 2 (max_actions)", n)
	}

	// 3. The agent restarts while LLMServiceDown still fires: Alertmanager repeats it to the new
	// agent, which acts on nothing it already decided on.
	waitFor(t, "the service is dead for good", 30*time.Second, func() bool { st, _ := containerState(t, model); return st == "exited" }, hook.String)
	_, startedDead := containerState(t, model)
	agent := "llmmon-" + e.name + "-remediation"
	if out, err := exec.Command("docker", "restart", agent).CombinedOutput(); err != nil {
		t.Fatalf("restart the agent: %v\n%s", err, out)
	}
	received := func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", e.remediation))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.Contains(string(b), `llmmon_remediation_webhooks_total{outcome="ok"}`)
	}
	waitFor(t, "Alertmanager repeats the firing alert to the restarted agent", 100*time.Second, received, hook.String)
	time.Sleep(2 * time.Second)
	if st, started := containerState(t, model); st != "exited" || started != startedDead {
		t.Errorf("the restarted agent acted again: the model is %s, started %s (was %s)", st, started, startedDead)
	}
	if n := actions(); n != 2 {
		t.Errorf("actions in the window after the agent's restart: %d, want still 2", n)
	}
	for _, n := range lookalikes {
		if st, _ := containerState(t, n); st != "created" {
			t.Errorf("look-alike %s was touched: %s", n, st)
		}
	}
}
