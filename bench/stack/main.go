// Command stack benchmarks llmmon's runtime against the docker-compose baseline, in one run, on
// the same local images (make test-images):
//
//   - cold `llmmon up` to all-healthy, against `docker-compose up -d` of the file that
//     `llmmon render --compose` writes followed by polling the same readiness endpoints, and
//     followed by polling the same gates llmmon waits for (rules loaded, Alertmanager and
//     targets discovered, Grafana's datasource);
//   - the physical limit of a cold start, measured in the same run: the slowest component's
//     native start (from its container's start to its readiness endpoint answering) plus the
//     time Prometheus' service discovery takes to show its first targets after it is ready;
//   - a no-op `llmmon up` (goal: under 0.3 s);
//   - `llmmon status` on a healthy stack.
//
// It prints the medians side by side with their ratios. Run: make bench.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/llmmon/llmmon/bench/internal/benchkit"
)

func timeIt(fn func() error) time.Duration {
	start := time.Now()
	benchkit.Must(fn())
	return time.Since(start)
}

// pollReady polls urls until each answers 200, logged in with the password in passwordFile
// (Prometheus and Alertmanager need it; the others ignore it).
func pollReady(urls []string, passwordFile string, timeout time.Duration) error {
	gates := make([]gate, len(urls))
	for i, u := range urls {
		gates[i] = gate{url: u, passFile: passwordFile}
	}
	_, err := pollGates(gates, timeout)
	return err
}

// gate is one check llmmon's up waits for: GET url answers 200 and, when key is set, the JSON
// value at that dotted path is there and, for an array, not empty.
// Prometheus and Alertmanager are asked with the llmmon password in passFile, Grafana with user
// and pass.
type gate struct{ url, key, user, pass, passFile string }

func (g gate) holds(c *http.Client) bool {
	var resp *http.Response
	var err error
	if g.user != "" {
		req, _ := http.NewRequest(http.MethodGet, g.url, nil)
		req.SetBasicAuth(g.user, g.pass)
		resp, err = c.Do(req)
	} else {
		resp, err = benchkit.Get(c, g.url, g.passFile) // fails until the password file exists
	}
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return false
	}
	if g.key == "" {
		return true
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return false
	}
	for _, k := range strings.Split(g.key, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		v = m[k]
	}
	if a, ok := v.([]any); ok {
		return len(a) > 0
	}
	return v != nil
}

// pollGates waits until every gate holds and returns, for each, when it first did.
func pollGates(gates []gate, timeout time.Duration) (map[string]time.Time, error) {
	c := &http.Client{Timeout: time.Second}
	first := map[string]time.Time{}
	deadline := time.Now().Add(timeout)
	for len(first) < len(gates) {
		for _, g := range gates {
			if _, ok := first[g.url]; !ok && g.holds(c) {
				first[g.url] = time.Now()
			}
		}
		if time.Now().After(deadline) {
			return first, fmt.Errorf("gates not passed after %s", timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return first, nil
}

// startedAt returns when Docker started a container.
func startedAt(container string) (time.Time, error) {
	out, err := exec.Command("docker", "inspect", "-f", "{{.State.StartedAt}}", container).Output()
	if err != nil {
		return time.Time{}, fmt.Errorf("docker inspect %s: %w", container, err)
	}
	return time.Parse(time.RFC3339Nano, strings.TrimSpace(string(out)))
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
	promURL := fmt.Sprintf("http://127.0.0.1:%d", prom)
	deep := []gate{
		{url: promURL + "/api/v1/rules", key: "data.groups", passFile: cpw},
		{url: promURL + "/api/v1/alertmanagers", key: "data.activeAlertmanagers", passFile: cpw},
		{url: promURL + "/api/v1/targets?state=active", key: "data.activeTargets", passFile: cpw},
		{url: fmt.Sprintf("http://127.0.0.1:%d/api/v2/status", am), key: "config", passFile: cpw},
		{url: fmt.Sprintf("http://127.0.0.1:%d/api/datasources/uid/llmmon-prometheus", graf), user: "admin", pass: "bench-password"},
	}
	readyGates := make([]gate, len(ready))
	for i, u := range ready {
		readyGates[i] = gate{url: u, passFile: cpw}
	}
	services := []string{"prometheus", "alertmanager", "grafana", "node-exporter"}

	var coldL, readyL, coldC, coldCDeep, limit, slowest, discovery, noop, status []time.Duration
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
		// Compose waiting for the gates llmmon waits for; the same run gives the physical
		// limit: each component's native start, from its container's start to its readiness
		// endpoint, and Prometheus' discovery of its first targets after it is ready.
		start = time.Now()
		benchkit.Must(compose("up", "-d"))
		firstReady, err := pollGates(readyGates, 3*time.Minute)
		benchkit.Must(err)
		firstDeep, err := pollGates(deep, 3*time.Minute)
		benchkit.Must(err)
		coldCDeep = append(coldCDeep, time.Since(start))
		var slow time.Duration
		for i, svc := range services {
			ps := exec.Command("docker-compose", "ps", "-q", svc)
			ps.Dir, ps.Env = out, append(os.Environ(), composeEnv...)
			cid, err := ps.Output()
			benchkit.Must(err)
			st, err := startedAt(strings.TrimSpace(string(cid)))
			benchkit.Must(err)
			slow = max(slow, firstReady[ready[i]].Sub(st))
		}
		disc := firstDeep[promURL+"/api/v1/targets?state=active"].Sub(firstReady[ready[0]])
		slowest = append(slowest, slow)
		discovery = append(discovery, disc)
		limit = append(limit, slow+disc)
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
	row("cold up: llmmon returns, all healthy (1)", benchkit.Median(coldL), "compose up -d + the same gates (1)", benchkit.Median(coldCDeep))
	row("cold up: llmmon returns, all healthy (1)", benchkit.Median(coldL), "physical limit (2) (goal <= 1.1x)", benchkit.Median(limit))
	fmt.Printf("  physical limit = slowest native start %s + Prometheus discovery %s (medians of %d)\n",
		benchkit.Median(slowest).Round(time.Millisecond), benchkit.Median(discovery).Round(time.Millisecond), len(limit))
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
	fmt.Println("(2) the slowest component's own start (container start to readiness endpoint) plus the time")
	fmt.Println("    from Prometheus being ready to its first discovered targets, both measured in this run.")
	benchkit.Exit()
}
