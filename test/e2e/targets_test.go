package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/test/modelsim/replay"
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
	// An app of no known engine (the ChatGLM tutorial's metrics, replayed): add-target proposes
	// a mapping and changes nothing until told; with --accept the mapping is written and the
	// running Prometheus records the app's llmmon:* series from it (a reload, no restart).
	exp, err := replay.Parse("chatglm-tutorial.prom", []byte(readFile(t, filepath.Join(testenv.Root(), "test", "testdata", "apps", "chatglm-tutorial.prom"))))
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(exp.Handler())
	defer app.Close()
	if code, out := e.run(t, "add-target", "glm", app.URL); code != 2 || !strings.Contains(out, "gpu_utilization: {metric: gpu_usage_percent}") ||
		!strings.Contains(out, "--accept") || strings.Contains(readFile(t, e.spec), "name: glm") {
		t.Errorf("an app without --accept: %d\n%s", code, out)
	}
	if code, out := e.run(t, "add-target", "glm", app.URL, "--accept"); code != 0 || !strings.Contains(out, "Prometheus scraped it") ||
		!strings.Contains(readFile(t, e.spec), "metric: request_processing_seconds") {
		t.Errorf("an app with --accept: %d\n%s", code, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(e.query(t, `llmmon:app_gpu_utilization:ratio{target="glm"} == 0.37`)) != 1 || len(e.query(t, `llmmon:e2e_latency_seconds:mean{target="glm"} > 0`)) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("no records from the mapping: %v", e.query(t, `{__name__=~"llmmon:.+",target="glm"}`))
		}
		time.Sleep(time.Second)
	}
	if got := startedAt(t, e.containers(t)["prometheus"]); got != started {
		t.Fatalf("prometheus restarted by add-target with a mapping")
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
	deadline = time.Now().Add(30 * time.Second)
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
