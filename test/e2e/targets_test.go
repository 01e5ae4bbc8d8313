package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func startedAt(t *testing.T, id string) string {
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.StartedAt}}", id).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// TestIntegrationAddRemoveTarget: add-target on a running stack is scraped within an interval
// and Prometheus is not restarted; remove-target likewise; bad input is refused.
func TestIntegrationAddRemoveTarget(t *testing.T) {
	requireImages(t)
	sim := startSimulator(t)
	e := newStack(t, "")
	if code, out := e.run(t, "up", "--timeout", "90s"); code != 0 {
		t.Fatalf("up: %d\n%s", code, out)
	}
	prom := e.containers(t)["prometheus"]
	started := startedAt(t, prom)

	code, out := e.run(t, "add-target", "qwen", fmt.Sprintf("http://127.0.0.1:%d", sim.ports["vllm"]))
	if code != 0 || !strings.Contains(out, "Added qwen (vllm)") || !strings.Contains(out, "Prometheus scraped it") {
		t.Fatalf("add-target: %d\n%s", code, out)
	}
	if got := startedAt(t, e.containers(t)["prometheus"]); got != started {
		t.Fatalf("prometheus restarted: %s -> %s", started, got)
	}
	if !strings.Contains(readFile(t, e.spec), "name: qwen") {
		t.Fatal("target not written to the spec")
	}
	if len(e.query(t, `up{target="qwen",job="vllm"} == 1`)) != 1 {
		t.Fatal("qwen is not scraped as vllm")
	}
	code, out = e.run(t, "targets")
	if code != 0 || !strings.Contains(out, "qwen") || !strings.Contains(out, "up") {
		t.Fatalf("targets: %d\n%s", code, out)
	}

	// A duplicate name, a page that is not Prometheus text, an unreachable URL without --force.
	if code, out := e.run(t, "add-target", "qwen", fmt.Sprintf("127.0.0.1:%d", sim.ports["sglang"])); code != 2 || !strings.Contains(out, "already exists") {
		t.Errorf("duplicate: %d\n%s", code, out)
	}
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html><body>login</body></html>"))
	}))
	defer html.Close()
	if code, out := e.run(t, "add-target", "web", html.URL); code != 2 || !strings.Contains(out, "not Prometheus metrics") {
		t.Errorf("html: %d\n%s", code, out)
	}
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	if code, out := e.run(t, "add-target", "dead", dead); code == 0 || !strings.Contains(out, "--force") {
		t.Errorf("unreachable: %d\n%s", code, out)
	}
	if code, out := e.run(t, "add-target", "dead", dead, "--force", "--wait", "3s"); code != 0 {
		t.Errorf("unreachable with --force: %d\n%s", code, out)
	}

	code, out = e.run(t, "remove-target", "qwen")
	if code != 0 {
		t.Fatalf("remove-target: %d\n%s", code, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for len(e.query(t, `up{target="qwen"}`)) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("qwen is still scraped after remove-target")
		}
		time.Sleep(time.Second)
	}
	if got := startedAt(t, e.containers(t)["prometheus"]); got != started {
		t.Fatalf("prometheus restarted by remove-target")
	}
}
