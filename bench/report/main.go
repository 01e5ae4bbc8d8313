// Command report measures llmmon's service report on the real Prometheus: the time to build it
// and the memory it takes (llmmon's heap and Prometheus' resident memory), for 10 model
// services and 8 GPUs, over 7 days against the 7 before and over 30 days against the 30 before.
// The data are llmmon's records at one sample a minute, backfilled with promtool tsdb
// create-blocks-from openmetrics (a stack evaluates its rules every 5 s, twelve times as many
// samples; the report's queries read every sample, so their time grows with that). The
// baseline, in the same run, is what a dashboard does for the same figures: one range query per
// figure over the period at Grafana's default resolution for it.
//
// Run: make bench-report (about 3 minutes).
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/llmmon/llmmon/bench/internal/benchkit"
	"github.com/llmmon/llmmon/stack/doctor"
	"github.com/llmmon/llmmon/stack/report"
)

type prom struct{ base string }

func (p prom) get(ctx context.Context, path string) ([]byte, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s: %s", path, b)
	}
	return b, err
}

func (p prom) QueryAt(ctx context.Context, expr string, at time.Time) ([]doctor.Sample, error) {
	b, err := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(expr)+"&time="+strconv.FormatInt(at.Unix(), 10))
	if err != nil {
		return nil, err
	}
	return doctor.ParseQueryResponse(b)
}

func main() {
	bin := flag.String("bin", filepath.Join(os.Getenv("HOME"), ".cache", "llmmon-test", "bin"), "directory with prometheus-3.15.0 and promtool-3.15.0 (make test-images builds them)")
	services := flag.Int("services", 10, "model services")
	flag.Parse()
	dir, err := os.MkdirTemp("", "llmmon-bench-report-")
	benchkit.Must(err)
	benchkit.AtExit(func() { os.RemoveAll(dir) })

	// 60 days, a sample a minute, ending 10 minutes ago.
	const days = 60
	end := time.Now().Truncate(time.Minute).Add(-10 * time.Minute)
	start := end.Add(-days*24*time.Hour + time.Minute)
	n := days * 24 * 60
	om := filepath.Join(dir, "data.om")
	f, err := os.Create(om)
	benchkit.Must(err)
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(os.Stderr, "writing %d days of records for %d services and 8 GPUs...\n", days, *services)
	samples := 0
	emit := func(name, labels string, v func(i int) float64) {
		fmt.Fprintf(w, "# TYPE %s gauge\n", name)
		for i := 0; i < n; i++ {
			fmt.Fprintf(w, "%s{%s} %g %d\n", name, labels, v(i), start.Unix()+int64(i)*60)
			samples++
		}
	}
	// A daily rhythm, so the figures are not trivially constant.
	day := func(i int) float64 { return 1 + 0.5*float64((i/60)%24)/24 }
	for s := 0; s < *services; s++ {
		lb := fmt.Sprintf(`target="svc%d",engine="vllm",instance="h:%d"`, s, 8000+s)
		emit("up", `job="vllm",`+lb, func(int) float64 { return 1 })
		emit("llmmon:requests:rate5m", lb, func(i int) float64 { return 10 * day(i) })
		emit("llmmon:request_errors:rate5m", lb, func(i int) float64 { return 0.05 * day(i) })
		for _, b := range []struct {
			le string
			f  float64
		}{{"0.5", 0.5}, {"1.0", 0.8}, {"2.5", 0.95}, {"5.0", 0.99}, {"+Inf", 1}} {
			emit("llmmon:e2e_latency_seconds_bucket:rate5m", lb+`,le="`+b.le+`"`, func(i int) float64 { return 10 * day(i) * b.f })
			emit("llmmon:ttft_seconds_bucket:rate5m", lb+`,le="`+b.le+`"`, func(i int) float64 { return 10 * day(i) * b.f })
		}
		emit("llmmon:tpot_seconds:p95", lb, func(i int) float64 { return 0.03 * day(i) })
		emit("llmmon:generation_tokens:rate5m", lb, func(i int) float64 { return 300 * day(i) })
		emit("llmmon:queue_length", lb, func(i int) float64 { return float64(i % 7) })
		emit("llmmon:kv_cache_usage:ratio", lb, func(i int) float64 { return 0.5 * day(i) })
	}
	for g := 0; g < 8; g++ {
		lb := fmt.Sprintf(`Hostname="h",gpu="%d",modelName="NVIDIA H200"`, g)
		emit("llmmon:gpu_utilization:percent", lb, func(i int) float64 { return 40 * day(i) })
		emit("llmmon:gpu_memory_used:percent", lb, func(i int) float64 { return 60 * day(i) })
		emit("llmmon:gpu_temperature_celsius", lb, func(i int) float64 { return 50 * day(i) })
	}
	w.WriteString("# EOF\n")
	benchkit.Must(w.Flush())
	f.Close()
	tsdb := filepath.Join(dir, "tsdb")
	t0 := time.Now()
	out, err := exec.Command(filepath.Join(*bin, "promtool-3.15.0"), "tsdb", "create-blocks-from", "openmetrics", om, tsdb).CombinedOutput()
	benchkit.Must(wrap(err, out))
	os.Remove(om)
	fmt.Fprintf(os.Stderr, "backfilled %d samples in %s\n", samples, time.Since(t0).Round(time.Second))

	cfg := filepath.Join(dir, "prometheus.yml")
	benchkit.Must(os.WriteFile(cfg, []byte("global: {evaluation_interval: 1m}\n"), 0o644))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	benchkit.Must(err)
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(filepath.Join(*bin, "prometheus-3.15.0"), "--config.file="+cfg, "--storage.tsdb.path="+tsdb,
		"--web.listen-address="+addr, "--storage.tsdb.retention.time=90d")
	benchkit.Must(cmd.Start())
	benchkit.AtExit(func() { cmd.Process.Kill(); cmd.Wait() })
	q := prom{"http://" + addr}
	ctx := context.Background()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if res, err := q.QueryAt(ctx, "count(llmmon:requests:rate5m)", end); err == nil && len(res) == 1 {
			break
		}
		if time.Now().After(deadline) {
			benchkit.Must(fmt.Errorf("Prometheus does not serve the backfilled data"))
		}
	}
	targets := make([]string, *services)
	for i := range targets {
		targets[i] = fmt.Sprintf("svc%d", i)
	}
	rss := func() string {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			return "?"
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				kb, _ := strconv.Atoi(strings.Fields(l)[1])
				return fmt.Sprintf("%d MiB", kb/1024)
			}
		}
		return "?"
	}
	fmt.Printf("the service report on the real Prometheus, %d services and 8 GPUs, records at one sample a minute\n", *services)
	fmt.Printf("%-26s %-14s %-18s %-20s %-22s\n", "period (against the one before)", "llmmon report", "llmmon heap", "Prometheus peak RSS", "baseline: range queries")
	for _, period := range []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour} {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		t0 := time.Now()
		r, err := report.Build(ctx, q, report.Options{End: end, Period: period, Targets: targets, EvalInterval: time.Minute})
		benchkit.Must(err)
		took := time.Since(t0)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		md := r.Markdown("en", time.UTC)
		// The baseline: the same figures as a dashboard draws them, one range query each,
		// at the step Grafana picks for the period in a 1000-pixel panel.
		step := period / 1000
		exprs := []string{"llmmon:requests:rate5m", "llmmon:request_errors:rate5m", "up",
			"histogram_quantile(0.5, sum by (target, le) (llmmon:e2e_latency_seconds_bucket:rate5m))",
			"histogram_quantile(0.95, sum by (target, le) (llmmon:e2e_latency_seconds_bucket:rate5m))",
			"histogram_quantile(0.99, sum by (target, le) (llmmon:e2e_latency_seconds_bucket:rate5m))",
			"histogram_quantile(0.95, sum by (target, le) (llmmon:ttft_seconds_bucket:rate5m))",
			"llmmon:tpot_seconds:p95", "llmmon:generation_tokens:rate5m", "llmmon:queue_length", "llmmon:kv_cache_usage:ratio",
			"llmmon:gpu_utilization:percent", "llmmon:gpu_memory_used:percent", "llmmon:gpu_temperature_celsius"}
		t1 := time.Now()
		for _, off := range []time.Duration{0, period} {
			for _, e := range exprs {
				_, err := q.get(ctx, fmt.Sprintf("/api/v1/query_range?query=%s&start=%d&end=%d&step=%d", url.QueryEscape(e),
					end.Add(-period-off).Unix(), end.Add(-off).Unix(), int(step.Seconds())))
				benchkit.Must(err)
			}
		}
		base := time.Since(t1)
		fmt.Printf("%-26s %-14s %-18s %-20s %-22s\n", fmt.Sprintf("%dd (%d bytes of Markdown)", int(period.Hours()/24), len(md)),
			took.Round(time.Millisecond).String(), fmt.Sprintf("%.1f MiB allocated", float64(after.TotalAlloc-before.TotalAlloc)/(1<<20)),
			rss(), base.Round(time.Millisecond).String())
	}
	fmt.Printf("(%d samples backfilled: %d days of %d series)\n", samples, days, samples/n)
	benchkit.Exit()
}

func wrap(err error, out []byte) error {
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}
