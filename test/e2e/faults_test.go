package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitSamples returns a moment (unix seconds) at which Prometheus has samples of `up`.
func (e *stackEnv) waitSamples(t *testing.T) int64 {
	t.Helper()
	var q struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		m := time.Now().Add(-time.Second).Unix()
		e.getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?query=count(up)&time=%d", e.prom, m), &q)
		if len(q.Data.Result) > 0 {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatal("prometheus has scraped nothing")
		}
		time.Sleep(time.Second)
	}
}

func (e *stackEnv) hasSamplesAt(t *testing.T, at int64) bool {
	var q struct {
		Data struct {
			Result []json.RawMessage `json:"result"`
		} `json:"data"`
	}
	e.getJSON(t, fmt.Sprintf("http://127.0.0.1:%d/api/v1/query?query=count(up)&time=%d", e.prom, at), &q)
	return len(q.Data.Result) > 0
}

// TestIntegrationKilledDuringUp: llmmon killed with SIGKILL at several moments of a cold up;
// the next up converges with exactly one container per component and no orphan.
func TestIntegrationKilledDuringUp(t *testing.T) {
	for _, after := range []time.Duration{150 * time.Millisecond, 700 * time.Millisecond, 1500 * time.Millisecond} {
		t.Run(after.String(), func(t *testing.T) {
			e := newStack(t, "")
			cmd := exec.Command(bin, "up", "-f", e.spec)
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(after)
			cmd.Process.Signal(syscall.SIGKILL)
			cmd.Wait()
			t.Logf("killed after %s; it had printed:\n%s", after, out.String())
			if code, out := e.run(t, "up", "--timeout", "90s"); code != 0 {
				t.Fatalf("up after kill: exit %d\n%s", code, out)
			}
			cs := e.containers(t) // fails on duplicates
			if len(cs) != 4 {
				t.Fatalf("want 4 containers, got %v", cs)
			}
			all, _ := exec.Command("docker", "ps", "-aq", "--filter", "label=io.llmmon.project="+e.name).Output()
			if n := len(strings.Fields(string(all))); n != 4 {
				t.Fatalf("%d containers carry the stack's label, want 4", n)
			}
		})
	}
}

// TestIntegrationCrashRestartAndImageChange: a crashed Prometheus is restarted by its restart
// policy and status says so; then an image change recreates only Prometheus, and the samples
// written before are still there.
func TestIntegrationCrashRestartAndImageChange(t *testing.T) {
	e := newStack(t, "")
	if code, out := e.run(t, "up", "--timeout", "90s"); code != 0 {
		t.Fatalf("up: %d\n%s", code, out)
	}
	before := e.containers(t)
	marker := e.waitSamples(t)

	// Crash: kill the Prometheus process from the host, as the OOM killer would.
	pidOut, err := exec.Command("docker", "inspect", "-f", "{{.State.Pid}}", before["prometheus"]).Output()
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidOut)))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Components []struct {
			Component    string `json:"component"`
			Health       string `json:"health"`
			RestartCount int    `json:"restart_count"`
		} `json:"components"`
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, out := e.run(t, "status", "-o", "json")
		if i := strings.Index(out, "{"); i >= 0 {
			json.NewDecoder(strings.NewReader(out[i:])).Decode(&st)
		}
		ok := false
		for _, c := range st.Components {
			if c.Component == "prometheus" && c.RestartCount >= 1 && c.Health == "healthy" {
				ok = true
			}
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus was not restarted by its policy, or status does not say so: %+v", st)
		}
		time.Sleep(time.Second)
	}
	if code, out := e.run(t, "status"); code != 0 || !strings.Contains(out, "RESTARTS") {
		t.Fatalf("status after restart: %d\n%s", code, out)
	}

	// Image change: the same binary under another tag stands in for an upgrade.
	if out, err := exec.Command("docker", "tag", "llmmon-test/prometheus:3.15.0", "llmmon-test/prometheus:3.15.0-upgrade").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	defer exec.Command("docker", "rmi", "llmmon-test/prometheus:3.15.0-upgrade").Run()
	spec := strings.Replace(readFile(t, e.spec), "prometheus: llmmon-test/prometheus:3.15.0", "prometheus: llmmon-test/prometheus:3.15.0-upgrade", 1)
	writeFile(t, e.spec, spec)
	code, out := e.run(t, "up", "--timeout", "90s")
	if code != 0 || !strings.Contains(out, "recreate  prometheus") {
		t.Fatalf("up after image change: %d\n%s", code, out)
	}
	after := e.containers(t)
	for _, c := range []string{"alertmanager", "grafana", "node-exporter"} {
		if after[c] != before[c] {
			t.Errorf("%s was recreated by a Prometheus image change", c)
		}
	}
	if after["prometheus"] == before["prometheus"] {
		t.Fatal("prometheus was not recreated")
	}
	if !e.hasSamplesAt(t, marker) {
		t.Fatal("samples written before the image change are gone")
	}
}
