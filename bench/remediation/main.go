// Command remediation measures, on the real stack and in one run, the time from a model
// service's death to the service answering again: through llmmon's auto-recovery
// (targets[].remediation: Prometheus notices, Alertmanager notifies the agent, the agent
// restarts the container) against the tutorials' loop (a shell script that polls the service
// every 30 s with curl and restarts its container when it does not answer).
//
// Two identical simulated services (test/modelsim) run in containers; each trial kills both at
// the same moment (docker kill) and measures, per service, when its /metrics answers 200 again.
// The loop's phase against the kill is whatever it happens to be, as on a real host.
//
// Run: make bench-remediation (about 6 minutes; -trials changes it).
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmmon/llmmon/bench/internal/benchkit"
)

func main() {
	bin := flag.String("llmmon", "bin/llmmon", "llmmon binary")
	trials := flag.Int("trials", 5, "deaths of each service (the median is reported)")
	flag.Parse()
	abs, err := filepath.Abs(*bin)
	benchkit.Must(err)
	dir, err := os.MkdirTemp("", "llmmon-bench-remediation-")
	benchkit.Must(err)
	benchkit.AtExit(func() { os.RemoveAll(dir) })

	pid := os.Getpid()
	type service struct{ name, url string }
	start := func(role string) service {
		port := benchkit.FreePort()
		s := service{fmt.Sprintf("llmmon-bench-%s-%d", role, pid), fmt.Sprintf("http://127.0.0.1:%d/metrics", port)}
		out, err := exec.Command("docker", "run", "-d", "--name", s.name, "--network", "host", "llmmon-test/modelsim:dev",
			"--serve", fmt.Sprintf("vllm=127.0.0.1:%d", port), "--control", "off", "--rps", "4").CombinedOutput()
		benchkit.Must(benchkit.WithOutput(err, out))
		benchkit.AtExit(func() { exec.Command("docker", "rm", "-f", s.name).Run() })
		return s
	}
	ours, theirs := start("llmmon"), start("loop")

	// The tutorials' loop, as they write it.
	loop := exec.Command("bash", "-c", fmt.Sprintf("while true; do curl -sf -m 5 -o /dev/null %s || docker restart %s >/dev/null; sleep 30; done", theirs.url, theirs.name))
	benchkit.Must(loop.Start())
	benchkit.AtExit(func() { loop.Process.Kill() })

	// llmmon with its defaults (scrape and evaluation 5 s, down_for 10 s), but a cool-down and a
	// limit that let one service die five times in a few minutes.
	spec := filepath.Join(dir, "llmmon.yaml")
	text := fmt.Sprintf(`name: benchrem%d
data_dir: %s/data
gpu: off
prometheus: {port: %d}
alertmanager: {port: %d}
grafana: {port: %d}
internal_ports: {node_exporter: %d, relay: %d, remediation: %d}
targets:
  - name: chat
    engine: vllm
    url: %q
    remediation: {container: %s, max_actions: 20, cooldown: 10s}
images:
  prometheus: llmmon-test/prometheus:3.15.0
  alertmanager: llmmon-test/alertmanager:0.31.1
  node_exporter: llmmon-test/node-exporter:1.12.1
  grafana: llmmon-test/grafana-standin:dev
`, pid, dir, benchkit.FreePort(), benchkit.FreePort(), benchkit.FreePort(), benchkit.FreePort(), benchkit.FreePort(), benchkit.FreePort(),
		strings.TrimSuffix(ours.url, "/metrics"), ours.name)
	benchkit.Must(os.WriteFile(spec, []byte(text), 0o644))
	out, err := exec.Command(abs, "up", "-f", spec).CombinedOutput()
	benchkit.Must(benchkit.WithOutput(err, out))
	benchkit.AtExit(func() { exec.Command(abs, "down", "--volumes", "-f", spec).Run() })

	answers := func(url string) bool {
		c := http.Client{Timeout: time.Second}
		resp, err := c.Get(url)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
	// Let Prometheus see the service before the first death.
	time.Sleep(20 * time.Second)
	got := map[string][]time.Duration{}
	for i := 0; i < *trials; i++ {
		fmt.Fprintf(os.Stderr, "death %d of %d...\n", i+1, *trials)
		t0 := time.Now()
		for _, s := range []service{ours, theirs} {
			out, err := exec.Command("docker", "kill", s.name).CombinedOutput()
			benchkit.Must(benchkit.WithOutput(err, out))
		}
		pending := map[string]service{"llmmon": ours, "loop": theirs}
		for len(pending) > 0 && time.Since(t0) < 3*time.Minute {
			for k, s := range pending {
				if answers(s.url) {
					got[k] = append(got[k], time.Since(t0))
					delete(pending, k)
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		for k := range pending {
			got[k] = append(got[k], -1)
		}
		// Past the cool-down, and with the loop's phase different each time.
		time.Sleep(time.Duration(15+7*i) * time.Second)
	}
	fmt.Printf("service death to healthy again (docker kill, then /metrics answers), on the real stack, %d deaths each\n", *trials)
	fmt.Printf("%-34s %-28s %-28s\n", "", "llmmon remediation", "tutorial loop")
	fmt.Printf("%-34s %-28s %-28s\n", "how", "alert, Alertmanager, agent", "curl every 30s, docker restart")
	fmt.Printf("%-34s %-28s %-28s\n", "settings", "scrape/eval 5s, down_for 10s", "sleep 30")
	fmt.Printf("%-34s %-28s %-28s\n", "median", benchkit.Show(benchkit.Median(got["llmmon"]), "not healthy in 3m"), benchkit.Show(benchkit.Median(got["loop"]), "not healthy in 3m"))
	fmt.Printf("%-34s %-28s %-28s\n", "all", benchkit.ShowAll(got["llmmon"], "not healthy in 3m"), benchkit.ShowAll(got["loop"], "not healthy in 3m"))
	fmt.Printf("%-34s %-28s %-28s\n", "limits, announcements, status", "yes", "no: restarts forever, silently")
	benchkit.Exit()
}
