// Command addtarget measures the time from adding a model service to its first successful
// scrape: `llmmon add-target` on a running llmmon stack (file-based discovery and a reload)
// against the way the usual tutorials do it, editing prometheus.yml and restarting the
// Prometheus container (here: of the docker-compose stack that `llmmon render --compose`
// writes). Both run in one run, on the same local images and simulated servers.
//
// Run: make bench-addtarget.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"github.com/llmmon/llmmon/bench/internal/benchkit"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// waitUp polls Prometheus until a target with label target=name (or instance=addr) is up.
// passwordFile holds the password of the stack's Prometheus (see benchkit.Get).
func waitUp(promPort int, passwordFile, match string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		resp, err := benchkit.Get(nil, fmt.Sprintf("http://127.0.0.1:%d/api/v1/targets?state=active", promPort), passwordFile)
		if err == nil {
			var tg struct {
				Data struct {
					Active []struct {
						Labels map[string]string `json:"labels"`
						Health string            `json:"health"`
					} `json:"activeTargets"`
				} `json:"data"`
			}
			json.NewDecoder(resp.Body).Decode(&tg)
			resp.Body.Close()
			for _, t := range tg.Data.Active {
				if (t.Labels["target"] == match || t.Labels["instance"] == match) && t.Health == "up" {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not scraped after %s", match, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func main() {
	bin := flag.String("llmmon", "bin/llmmon", "llmmon binary")
	trials := flag.Int("trials", 5, "targets added by each method")
	flag.Parse()
	abs, err := filepath.Abs(*bin)
	benchkit.Must(err)
	dir, err := os.MkdirTemp("", "llmmon-bench-addtarget-")
	benchkit.Must(err)
	benchkit.AtExit(func() { os.RemoveAll(dir) })

	// One simulated server per engine (the simulator serves each engine once).
	engines := []string{"vllm", "sglang", "tgi", "lmdeploy", "custom", "triton", "llamacpp"}
	if *trials > len(engines) {
		*trials = len(engines)
	}
	ports := make([]int, *trials)
	args := []string{"run", "-d", "--name", fmt.Sprintf("llmmon-bench-sim-%d", os.Getpid()), "--network", "host", "llmmon-test/modelsim:dev", "--control", "off"}
	for i := range ports {
		ports[i] = benchkit.FreePort()
		args = append(args, "--serve", fmt.Sprintf("%s=127.0.0.1:%d", engines[i], ports[i]))
	}
	benchkit.Must(benchkit.Run("docker", args, nil, dir))
	benchkit.AtExit(func() { exec.Command("docker", "rm", "-f", fmt.Sprintf("llmmon-bench-sim-%d", os.Getpid())).Run() })

	for _, p := range ports {
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", p))
			if err == nil {
				resp.Body.Close()
				break
			}
			if time.Now().After(deadline) {
				benchkit.Must(fmt.Errorf("the simulator does not answer on %d", p))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	mkSpec := func(name string) (string, int) {
		prom := benchkit.FreePort()
		p := filepath.Join(dir, name+".yaml")
		benchkit.Must(os.WriteFile(p, []byte(fmt.Sprintf(`name: %s%d
data_dir: %s/%s
gpu: off
prometheus: {port: %d}
alertmanager: {port: %d}
grafana: {port: %d, admin_password: bench-password}
internal_ports: {node_exporter: %d}
images:
  prometheus: llmmon-test/prometheus:3.15.0
  alertmanager: llmmon-test/alertmanager:0.31.1
  node_exporter: llmmon-test/node-exporter:1.12.1
  grafana: llmmon-test/grafana-standin:dev
`, name, os.Getpid(), dir, name, prom, benchkit.FreePort(), benchkit.FreePort(), benchkit.FreePort())), 0o644))
		return p, prom
	}

	// llmmon: add-target on the running stack.
	lspec, lprom := mkSpec("llmmon")
	benchkit.Must(benchkit.Run(abs, []string{"up", "-f", lspec}, nil, dir))
	benchkit.AtExit(func() { benchkit.Run(abs, []string{"down", "--volumes", "-f", lspec}, nil, dir) })
	var ll []time.Duration
	for i, p := range ports {
		name := fmt.Sprintf("t%d", i)
		start := time.Now()
		benchkit.Must(benchkit.Run(abs, []string{"add-target", name, fmt.Sprintf("127.0.0.1:%d", p), "--wait", "0s", "-f", lspec}, nil, dir))
		benchkit.Must(waitUp(lprom, filepath.Join(dir, "llmmon", "secrets", "llmmon-password"), name, 2*time.Minute))
		ll = append(ll, time.Since(start))
	}
	benchkit.Must(benchkit.Run(abs, []string{"down", "--volumes", "-f", lspec}, nil, dir))

	// Baseline: edit prometheus.yml, restart the Prometheus container.
	cspec, cprom := mkSpec("compose")
	out := filepath.Join(dir, "compose")
	benchkit.Must(benchkit.Run(abs, []string{"render", "--compose", "-o", out, "-f", cspec}, nil, dir))
	env := []string{"GRAFANA_ADMIN_PASSWORD=bench-password", fmt.Sprintf("COMPOSE_PROJECT_NAME=benchat%d", os.Getpid())}
	benchkit.Must(benchkit.Run("docker-compose", []string{"up", "-d"}, env, out))
	benchkit.AtExit(func() { benchkit.Run("docker-compose", []string{"down", "-v"}, env, out) })
	benchkit.Must(waitUp(cprom, filepath.Join(out, "prometheus", "secrets", "llmmon", "password"), fmt.Sprintf("127.0.0.1:%d", cprom), 2*time.Minute))
	var bl []time.Duration
	cfg := filepath.Join(out, "prometheus", "prometheus.yml")
	for i, p := range ports {
		start := time.Now()
		f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
		benchkit.Must(err)
		fmt.Fprintf(f, "  - job_name: tutorial-%d\n    static_configs:\n      - targets: [\"127.0.0.1:%d\"]\n", i, p)
		f.Close()
		benchkit.Must(benchkit.Run("docker-compose", []string{"restart", "prometheus"}, env, out))
		benchkit.Must(waitUp(cprom, filepath.Join(out, "prometheus", "secrets", "llmmon", "password"), fmt.Sprintf("127.0.0.1:%d", p), 2*time.Minute))
		bl = append(bl, time.Since(start))
	}
	fmt.Printf("time from adding a target to its first successful scrape (%d targets each, medians)\n", *trials)
	fmt.Printf("%-52s %10s\n", "llmmon add-target (file discovery + reload)", benchkit.Median(ll).Round(time.Millisecond))
	fmt.Printf("%-52s %10s\n", "edit prometheus.yml + restart the container", benchkit.Median(bl).Round(time.Millisecond))
	fmt.Printf("%-52s %9.2fx\n", "ratio (llmmon / baseline)", float64(benchkit.Median(ll))/float64(benchkit.Median(bl)))
	benchkit.Exit()
}
