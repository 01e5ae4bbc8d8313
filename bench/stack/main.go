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
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func run(name string, args []string, env []string, dir string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// cleanups run before the program exits, also on failure.
var cleanups []func()

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
		os.Exit(1)
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func timeIt(fn func() error) time.Duration {
	start := time.Now()
	must(fn())
	return time.Since(start)
}

func pollReady(urls []string, timeout time.Duration) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	pending := append([]string(nil), urls...)
	for len(pending) > 0 {
		var next []string
		for _, u := range pending {
			resp, err := c.Get(u)
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
	must(err)
	dir, err := os.MkdirTemp("", "llmmon-bench-")
	must(err)
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	prom, am, graf, node := freePort(), freePort(), freePort(), freePort()
	name := fmt.Sprintf("bench%d", os.Getpid())
	spec := filepath.Join(dir, "llmmon.yaml")
	must(os.WriteFile(spec, []byte(fmt.Sprintf(`name: %s
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
	llmmon := func(args ...string) error { return run(abs, append(args, "-f", spec), nil, dir) }
	cleanups = append(cleanups, func() { llmmon("down", "--volumes") })

	out := filepath.Join(dir, "compose")
	must(llmmon("render", "--compose", "-o", out))
	composeEnv := []string{"GRAFANA_ADMIN_PASSWORD=bench-password", "COMPOSE_PROJECT_NAME=" + name + "c"}
	compose := func(args ...string) error { return run("docker-compose", args, composeEnv, out) }
	cleanups = append(cleanups, func() { compose("down", "-v") })
	ready := []string{
		fmt.Sprintf("http://127.0.0.1:%d/-/ready", prom),
		fmt.Sprintf("http://127.0.0.1:%d/-/ready", am),
		fmt.Sprintf("http://127.0.0.1:%d/api/health", graf),
		fmt.Sprintf("http://127.0.0.1:%d/metrics", node),
	}

	var coldL, readyL, coldC, noop, status []time.Duration
	for i := 0; i < *runs; i++ {
		must(llmmon("down", "--volumes"))
		// One cold llmmon up gives two figures: when the same readiness endpoints the baseline
		// polls first answer, and when llmmon itself returns (its deeper checks included).
		start := time.Now()
		cmd := exec.Command(abs, "up", "-f", spec)
		cmd.Dir = dir
		must(cmd.Start())
		must(pollReady(ready, 3*time.Minute))
		readyL = append(readyL, time.Since(start))
		must(cmd.Wait())
		coldL = append(coldL, time.Since(start))
		for j := 0; j < *quick && i == 0; j++ {
			noop = append(noop, timeIt(func() error { return llmmon("up") }))
			status = append(status, timeIt(func() error { return llmmon("status") }))
		}
		must(llmmon("down", "--volumes"))
		coldC = append(coldC, timeIt(func() error {
			if err := compose("up", "-d"); err != nil {
				return err
			}
			return pollReady(ready, 3*time.Minute)
		}))
		must(compose("down", "-v"))
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
	row("cold up: readiness endpoints answer", median(readyL), "compose up -d + readiness polling", median(coldC))
	row("cold up: llmmon returns, all healthy (1)", median(coldL), "compose up -d + readiness polling", median(coldC))
	row("no-op up (goal < 300ms)", median(noop), "compose up -d, nothing changed", func() time.Duration {
		must(compose("up", "-d"))
		must(pollReady(ready, 3*time.Minute))
		var ds []time.Duration
		for j := 0; j < *quick; j++ {
			ds = append(ds, timeIt(func() error { return compose("up", "-d") }))
		}
		must(compose("down", "-v"))
		return median(ds)
	}())
	row("status on a healthy stack", median(status), "", 0)
	fmt.Println("(1) llmmon also waits until Prometheus has loaded its rules, sees its targets and has discovered")
	fmt.Println("    Alertmanager, which Prometheus' service discovery applies about 5 s after start.")
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
}
