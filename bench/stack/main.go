// Command stack benchmarks llmmon's runtime against the docker-compose baseline, in one run, on
// the same local images (make test-images):
//
//   - cold `llmmon up` to all-healthy, against `docker-compose up -d` of the file that
//     `llmmon render --compose` writes followed by polling the same readiness endpoints;
//   - a no-op `llmmon up` (goal: under 0.3 s);
//   - `llmmon status` on a healthy stack.
//
// It prints the medians side by side with their ratios. Run: make bench.
package main

import (
	"flag"
	"fmt"
	"github.com/llmmon/llmmon/bench/internal/benchkit"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

func timeIt(fn func() error) time.Duration {
	start := time.Now()
	benchkit.Must(fn())
	return time.Since(start)
}

// pollReady polls urls until each answers 200, logged in with the password in passwordFile
// (Prometheus and Alertmanager need it; the others ignore it).
func pollReady(urls []string, passwordFile string, timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	pending := append([]string(nil), urls...)
	for len(pending) > 0 {
		var next []string
		for _, u := range pending {
			resp, err := benchkit.Get(c, u, passwordFile)
			if err == nil {
				resp.Body.Close()
			}
			if err != nil || resp.StatusCode != 200 {
				next = append(next, u)
			}
		}
		pending = next
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %v", timeout, pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

func main() {
	bin := flag.String("llmmon", "bin/llmmon", "llmmon binary")
	runs := flag.Int("runs", 3, "cold starts of each kind")
	quick := flag.Int("quick", 10, "runs of no-op up and status")
	flag.Parse()
	abs, err := filepath.Abs(*bin)
	benchkit.Must(err)
	dir, err := os.MkdirTemp("", "llmmon-bench-")
	benchkit.Must(err)
	benchkit.AtExit(func() { os.RemoveAll(dir) })
	prom, am, graf, node := benchkit.FreePort(), benchkit.FreePort(), benchkit.FreePort(), benchkit.FreePort()
	name := fmt.Sprintf("bench%d", os.Getpid())
	spec := filepath.Join(dir, "llmmon.yaml")
	benchkit.Must(os.WriteFile(spec, []byte(fmt.Sprintf(`name: %s
data_dir: %s/data
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
`, name, dir, prom, am, graf, node)), 0o644))
	llmmon := func(args ...string) error { return benchkit.Run(abs, append(args, "-f", spec), nil, dir) }
	benchkit.AtExit(func() { llmmon("down", "--volumes") })

	out := filepath.Join(dir, "compose")
	benchkit.Must(llmmon("render", "--compose", "-o", out))
	composeEnv := []string{"GRAFANA_ADMIN_PASSWORD=bench-password", "COMPOSE_PROJECT_NAME=" + name + "c"}
	compose := func(args ...string) error { return benchkit.Run("docker-compose", args, composeEnv, out) }
	benchkit.AtExit(func() { compose("down", "-v") })
	ready := []string{
		fmt.Sprintf("http://127.0.0.1:%d/-/ready", prom),
		fmt.Sprintf("http://127.0.0.1:%d/-/ready", am),
		fmt.Sprintf("http://127.0.0.1:%d/api/health", graf),
		fmt.Sprintf("http://127.0.0.1:%d/metrics", node),
	}

	// The llmmon stack keeps its password in its data directory; the compose stack's is in the
	// rendered bundle.
	lpw, cpw := filepath.Join(dir, "data", "secrets", "llmmon-password"), filepath.Join(out, "prometheus", "secrets", "llmmon", "password")
	var coldL, readyL, coldC, noop, status []time.Duration
	for i := 0; i < *runs; i++ {
		benchkit.Must(llmmon("down", "--volumes"))
		// One cold llmmon up gives two figures: when the same readiness endpoints the baseline
		// polls first answer, and when llmmon itself returns (its deeper checks included).
		start := time.Now()
		cmd := exec.Command(abs, "up", "-f", spec)
		cmd.Dir = dir
		benchkit.Must(cmd.Start())
		benchkit.Must(pollReady(ready, lpw, 3*time.Minute))
		readyL = append(readyL, time.Since(start))
		benchkit.Must(cmd.Wait())
		coldL = append(coldL, time.Since(start))
		for j := 0; j < *quick && i == 0; j++ {
			noop = append(noop, timeIt(func() error { return llmmon("up") }))
			status = append(status, timeIt(func() error { return llmmon("status") }))
		}
		benchkit.Must(llmmon("down", "--volumes"))
		coldC = append(coldC, timeIt(func() error {
			if err := compose("up", "-d"); err != nil {
				return err
			}
			return pollReady(ready, cpw, 3*time.Minute)
		}))
		benchkit.Must(compose("down", "-v"))
	}
	fmt.Printf("llmmon stack benchmark: %d cold starts each, %d no-op ups and statuses; medians\n", *runs, *quick)
	fmt.Printf("%-44s %10s   %-40s %10s   %s\n", "llmmon", "median", "baseline", "median", "ratio")
	row := func(a string, da time.Duration, b string, db time.Duration) {
		ratio := "-"
		if db > 0 {
			ratio = fmt.Sprintf("%.2fx", float64(da)/float64(db))
		}
		bs := "-"
		if db > 0 {
			bs = db.Round(time.Millisecond).String()
		}
		fmt.Printf("%-44s %10s   %-40s %10s   %s\n", a, da.Round(time.Millisecond), b, bs, ratio)
	}
	row("cold up: readiness endpoints answer", benchkit.Median(readyL), "compose up -d + readiness polling", benchkit.Median(coldC))
	row("cold up: llmmon returns, all healthy (1)", benchkit.Median(coldL), "compose up -d + readiness polling", benchkit.Median(coldC))
	row("no-op up (goal < 300ms)", benchkit.Median(noop), "compose up -d, nothing changed", func() time.Duration {
		benchkit.Must(compose("up", "-d"))
		benchkit.Must(pollReady(ready, cpw, 3*time.Minute))
		var ds []time.Duration
		for j := 0; j < *quick; j++ {
			ds = append(ds, timeIt(func() error { return compose("up", "-d") }))
		}
		benchkit.Must(compose("down", "-v"))
		return benchkit.Median(ds)
	}())
	row("status on a healthy stack", benchkit.Median(status), "", 0)
	fmt.Println("(1) llmmon also waits until Prometheus has loaded its rules, sees its targets and has discovered")
	fmt.Println("    Alertmanager, which Prometheus' service discovery applies about 5 s after start.")
	benchkit.Exit()
}
