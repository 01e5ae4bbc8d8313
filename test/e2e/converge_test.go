package e2e

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// docker runs the docker CLI and fails the test when it fails.
func docker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// killedUp starts `llmmon up` and kills it with SIGKILL after d; it returns what it printed.
func (e *stackEnv) killedUp(t *testing.T, d time.Duration) string {
	t.Helper()
	cmd := exec.Command(bin, "up", "-f", e.spec)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	return out.String()
}

// converged runs up and checks that the stack is healthy with exactly one container per
// component, each carrying llmmon's full set of labels.
func (e *stackEnv) converged(t *testing.T, context string) map[string]string {
	t.Helper()
	code, out := e.run(t, "up", "--timeout", "90s")
	if code != 0 {
		t.Fatalf("%s: up did not converge: exit %d\n%s", context, code, out)
	}
	cs := e.containers(t) // fails on a duplicate
	if len(cs) != 4 {
		t.Fatalf("%s: want 4 containers, got %v", context, cs)
	}
	all := docker(t, "ps", "-a", "--filter", "label=io.llmmon.project="+e.name, "--filter", "label=io.llmmon.managed=true", "--format", "{{.Names}} {{.State}}")
	for _, l := range strings.Split(all, "\n") {
		if !strings.HasSuffix(l, " running") {
			name, _, _ := strings.Cut(l, " ")
			logs, _ := exec.Command("docker", "logs", "--tail", "30", name).CombinedOutput()
			insp, _ := exec.Command("docker", "inspect", "--format", "{{.RestartCount}} restarts, started {{.State.StartedAt}}, exit {{.State.ExitCode}}", name).CombinedOutput()
			t.Fatalf("%s: container not running after up: %s (%s)\nup said:\n%s\nits last log lines:\n%s", context, l, strings.TrimSpace(string(insp)), out, logs)
		}
	}
	if code, out := e.run(t, "up"); code != 0 || !strings.Contains(out, "up to date") {
		t.Fatalf("%s: a second up was not a no-op: exit %d\n%s", context, code, out)
	}
	return cs
}

// TestIntegrationConvergeFromAnything runs one stack through what a real host does to it:
// look-alike objects of other owners, a port change to a taken port, SIGKILL of up at 20 random
// moments on a data directory with history (10 cold starts, 10 image changes), and two ups at
// once. Every later up converges; nothing that llmmon did not create is touched.
func TestIntegrationConvergeFromAnything(t *testing.T) {
	e := newStack(t, "")

	// Look-alikes: one with only the project label, one with only a name llmmon will create,
	// and a volume with a look-alike name.
	labelsOnly := "lookalike-" + e.name
	docker(t, "create", "--name", labelsOnly, "--label", "io.llmmon.project="+e.name, "llmmon-test/node-exporter:1.12.1")
	defer exec.Command("docker", "rm", "-f", labelsOnly).Run()
	nameOnly := "llmmon-" + e.name + "-grafana"
	docker(t, "create", "--name", nameOnly, "llmmon-test/node-exporter:1.12.1")
	defer exec.Command("docker", "rm", "-f", nameOnly).Run()
	foreignVol := e.name + "_lookalike-data"
	docker(t, "volume", "create", "--label", "io.llmmon.project="+e.name, foreignVol)
	defer exec.Command("docker", "volume", "rm", foreignVol).Run()

	code, out := e.run(t, "up", "--timeout", "90s")
	if code == 0 || !strings.Contains(out, nameOnly) || !strings.Contains(out, "docker rename") || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("up with a foreign container in the way of a name: exit %d\n%s", code, out)
	}
	if cs := e.containers(t); len(cs) != 0 {
		t.Fatalf("a failed preflight created containers: %v", cs)
	}
	docker(t, "rm", nameOnly)
	before := e.converged(t, "first up")

	// A port change to a port another program holds: the preflight refuses, nothing changes.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	taken := l.Addr().(*net.TCPAddr).Port
	orig := readFile(t, e.spec)
	writeFile(t, e.spec, strings.Replace(orig, fmt.Sprintf("grafana: {port: %d}", e.graf), fmt.Sprintf("grafana: {port: %d}", taken), 1))
	code, out = e.run(t, "up")
	l.Close()
	if code == 0 || !strings.Contains(out, "grafana.port") || !strings.Contains(out, "nothing was changed") {
		t.Fatalf("port change to a taken port: exit %d\n%s", code, out)
	}
	if after := e.containers(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a refused port change changed containers: %v -> %v", before, after)
	}
	writeFile(t, e.spec, orig)

	// SIGKILL at random moments. The window is the length of a cold up, measured once.
	docker(t, "tag", "llmmon-test/prometheus:3.15.0", "llmmon-test/prometheus:e2e-alt")
	defer exec.Command("docker", "rmi", "llmmon-test/prometheus:e2e-alt").Run()
	docker(t, "tag", "llmmon-test/grafana-standin:dev", "llmmon-test/grafana-standin:e2e-alt")
	defer exec.Command("docker", "rmi", "llmmon-test/grafana-standin:e2e-alt").Run()
	if code, out := e.run(t, "down"); code != 0 {
		t.Fatalf("down: %d\n%s", code, out)
	}
	t0 := time.Now()
	e.converged(t, "cold up")
	window := time.Since(t0)
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 0))
	t.Logf("killing up at random moments within %s (seed %d)", window, seed)
	alt := false
	for i := range 20 {
		what := "cold start"
		if i < 10 {
			if code, out := e.run(t, "down"); code != 0 {
				t.Fatalf("down: %d\n%s", code, out)
			}
		} else {
			what = "image change"
			alt = !alt
			text := orig
			if alt {
				text = strings.NewReplacer("llmmon-test/prometheus:3.15.0", "llmmon-test/prometheus:e2e-alt",
					"llmmon-test/grafana-standin:dev", "llmmon-test/grafana-standin:e2e-alt").Replace(orig)
			}
			writeFile(t, e.spec, text)
		}
		at := time.Duration(rng.Int64N(int64(window)))
		printed := e.killedUp(t, at)
		e.converged(t, fmt.Sprintf("kill %d (%s, after %s; it had printed %q)", i+1, what, at.Round(time.Millisecond), lastLine(printed)))
	}

	// Two ups at once: one waits for the other, both succeed, no duplicate. --no-wait fails.
	if code, out := e.run(t, "down"); code != 0 {
		t.Fatalf("down: %d\n%s", code, out)
	}
	var wg sync.WaitGroup
	outs := make([]string, 2)
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], outs[i] = e.run(t, "up", "--timeout", "90s")
		}()
	}
	time.Sleep(200 * time.Millisecond)
	code, out = e.run(t, "up", "--no-wait")
	wg.Wait()
	for i := range 2 {
		if codes[i] != 0 {
			t.Fatalf("concurrent up %d: exit %d\n%s", i, codes[i], outs[i])
		}
	}
	if !strings.Contains(outs[0]+outs[1], "waiting for it") {
		t.Errorf("neither concurrent up said it waited:\n%s\n---\n%s", outs[0], outs[1])
	}
	if code == 0 || !strings.Contains(out, "is changing stack") {
		t.Errorf("up --no-wait during another up: exit %d\n%s", code, out)
	}
	e.converged(t, "after two ups at once")

	// The look-alikes are still there after all of it and after down --volumes.
	if code, out := e.run(t, "down", "--volumes"); code != 0 {
		t.Fatalf("down --volumes: %d\n%s", code, out)
	}
	docker(t, "inspect", labelsOnly)
	docker(t, "volume", "inspect", foreignVol)
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		return s[i+1:]
	}
	return s
}
