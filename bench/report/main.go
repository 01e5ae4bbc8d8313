// Command report measures llmmon's service report on the real Prometheus: the time to build it
// (the figures, the plots' series, the PNGs and the HTML page, as the relay builds a scheduled
// one) and the memory it takes (llmmon's peak heap and Prometheus' peak resident memory), for
// 10 model services and 8 GPUs, over 7 days against the 7 before and over 30 days against the
// 30 before.
//
// The data are llmmon's records at the stack's default evaluation interval (5 s), with a daily
// rhythm and noise, written as TSDB blocks with Prometheus' own tsdb package (one block per
// 6 days, the size Prometheus compacts to with a 61-day retention). The baseline, in the same
// run, is what a dashboard does for the same figures: one range query per figure over the
// period at the step Grafana picks for a 1000-pixel panel.
//
// Run: make bench-report (about 5 minutes).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/llmmon/llmmon/bench/internal/benchkit"
	"github.com/llmmon/llmmon/stack/report"
)

func main() {
	bin := flag.String("bin", filepath.Join(os.Getenv("HOME"), ".cache", "llmmon-test", "bin"), "directory with prometheus-3.15.0 (make test-images builds it)")
	services := flag.Int("services", 10, "model services")
	resolution := flag.Duration("resolution", 5*time.Second, "time between two samples of a record (the stack's evaluation interval)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "llmmon-bench-report-")
	benchkit.Must(err)
	benchkit.AtExit(func() { os.RemoveAll(dir) })
	ctx := context.Background()

	const days = 61
	end := time.Now().Truncate(time.Minute).Add(-10 * time.Minute)
	start := end.Add(-days * 24 * time.Hour)
	db := filepath.Join(dir, "tsdb")
	t0 := time.Now()
	samples, series := write(ctx, db, start, end, *resolution, *services)
	fmt.Fprintf(os.Stderr, "wrote %d samples of %d series (%d days at %s) in %s\n", samples, series, days, *resolution, time.Since(t0).Round(time.Second))

	cfg := filepath.Join(dir, "prometheus.yml")
	benchkit.Must(os.WriteFile(cfg, []byte(fmt.Sprintf("global: {evaluation_interval: %s}\n", *resolution)), 0o644))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	benchkit.Must(err)
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(filepath.Join(*bin, "prometheus-3.15.0"), "--config.file="+cfg, "--storage.tsdb.path="+db,
		"--web.listen-address="+addr, "--storage.tsdb.retention.time=62d")
	benchkit.Must(cmd.Start())
	benchkit.AtExit(func() { cmd.Process.Kill(); cmd.Wait() })
	q, err := report.NewPromQuerier("http://"+addr, "", "")
	benchkit.Must(err)
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if res, err := q.QueryAt(ctx, "count(llmmon:requests:rate5m)", end); err == nil && len(res) == 1 {
			break
		}
		if time.Now().After(deadline) {
			benchkit.Must(fmt.Errorf("Prometheus does not serve the written blocks"))
		}
	}
	targets := make([]string, *services)
	for i := range targets {
		targets[i] = fmt.Sprintf("svc%d", i)
	}
	fmt.Printf("the service report on the real Prometheus 3.15.0: %d services and 8 GPUs, records every %s (%d series)\n", *services, *resolution, series)
	fmt.Printf("%-8s %-12s %-12s %-16s %-18s %-16s %-24s\n", "period", "figures", "+ plots,HTML", "llmmon peak heap", "llmmon allocated", "Prometheus RSS", "baseline: dashboard range queries")
	for _, period := range []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour} {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		var peak atomic.Uint64
		stop := make(chan struct{})
		go func() {
			var m runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}()
		t0 := time.Now()
		r, err := report.Build(ctx, q, report.Options{End: end, Period: period, Targets: targets, EvalInterval: *resolution})
		benchkit.Must(err)
		figures := time.Since(t0)
		t1 := time.Now()
		r, err = report.Build(ctx, q, report.Options{End: end, Period: period, Targets: targets, EvalInterval: *resolution, Curves: true})
		benchkit.Must(err)
		plots, err := r.Render("zh", time.UTC)
		benchkit.Must(err)
		page, err := r.HTML("zh", time.UTC, report.HTMLOptions{Plots: plots})
		benchkit.Must(err)
		whole := time.Since(t1)
		close(stop)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)

		step := period / 1000
		exprs := []string{"llmmon:requests:rate5m", "llmmon:request_errors:rate5m", "up",
			"histogram_quantile(0.5, sum by (target, le) (llmmon:e2e_latency_seconds_bucket:rate5m))",
			"histogram_quantile(0.95, sum by (target, le) (llmmon:e2e_latency_seconds_bucket:rate5m))",
			"histogram_quantile(0.99, sum by (target, le) (llmmon:e2e_latency_seconds_bucket:rate5m))",
			"histogram_quantile(0.95, sum by (target, le) (llmmon:ttft_seconds_bucket:rate5m))",
			"llmmon:tpot_seconds:p95", "llmmon:generation_tokens:rate5m", "llmmon:queue_length", "llmmon:kv_cache_usage:ratio",
			"llmmon:gpu_utilization:percent", "llmmon:gpu_memory_used:percent", "llmmon:gpu_temperature_celsius"}
		t2 := time.Now()
		for _, off := range []time.Duration{0, period} {
			for _, e := range exprs {
				_, err := q.QueryRange(ctx, e, end.Add(-period-off), end.Add(-off), step)
				benchkit.Must(err)
			}
		}
		base := time.Since(t2)
		fmt.Printf("%-8s %-12s %-12s %-16s %-18s %-16s %-24s\n", fmt.Sprintf("%dd", int(period.Hours()/24)),
			figures.Round(time.Millisecond), whole.Round(time.Millisecond),
			fmt.Sprintf("%.1f MiB", float64(peak.Load())/(1<<20)), fmt.Sprintf("%.1f MiB", float64(after.TotalAlloc-before.TotalAlloc)/(1<<20)),
			rss(cmd.Process.Pid), base.Round(time.Millisecond))
		fmt.Fprintf(os.Stderr, "  %dd: %d plots (%s), %d bytes of HTML\n", int(period.Hours()/24), len(plots.PNG), plots.Lang, len(page))
	}
	fmt.Printf("(figures: the tables alone; + plots,HTML: the report as mailed, its range queries, 7 PNGs and the page; %d samples in all)\n", samples)
	benchkit.Exit()
}

// write writes the records of the services and GPUs from start to end, one block per 6 days.
func write(ctx context.Context, dir string, start, end time.Time, res time.Duration, services int) (samples, series int) {
	benchkit.Must(os.MkdirAll(dir, 0o755))
	type ser struct {
		l labels.Labels
		v func(t time.Time, rnd *rand.Rand) float64
	}
	// A daily rhythm (busiest mid-day) with noise, so the chunks compress as real ones do.
	day := func(t time.Time) float64 { return 1 + 0.5*math.Sin(2*math.Pi*float64(t.Hour()*60+t.Minute())/1440) }
	noisy := func(base float64) func(time.Time, *rand.Rand) float64 {
		return func(t time.Time, rnd *rand.Rand) float64 { return base * day(t) * (0.9 + 0.2*rnd.Float64()) }
	}
	var all []ser
	for s := 0; s < services; s++ {
		tgt, inst := fmt.Sprintf("svc%d", s), fmt.Sprintf("h:%d", 8000+s)
		lb := func(name string, extra ...string) labels.Labels {
			return labels.FromStrings(append([]string{"__name__", name, "target", tgt, "engine", "vllm", "instance", inst}, extra...)...)
		}
		all = append(all,
			ser{lb("up", "job", "vllm"), func(time.Time, *rand.Rand) float64 { return 1 }},
			ser{lb("llmmon:requests:rate5m"), noisy(10)},
			ser{lb("llmmon:request_errors:rate5m"), noisy(0.05)},
			ser{lb("llmmon:tpot_seconds:p95"), noisy(0.03)},
			ser{lb("llmmon:generation_tokens:rate5m"), noisy(300)},
			ser{lb("llmmon:queue_length"), func(t time.Time, rnd *rand.Rand) float64 { return float64(rnd.IntN(8)) }},
			ser{lb("llmmon:kv_cache_usage:ratio"), noisy(0.5)},
			ser{labels.FromStrings("__name__", "llmmon:slo_error_budget_remaining:ratio", "target", tgt, "slo", "availability"), noisy(0.6)},
		)
		for _, b := range []struct {
			le string
			f  float64
		}{{"0.1", 0.1}, {"0.25", 0.3}, {"0.5", 0.5}, {"1.0", 0.8}, {"2.5", 0.95}, {"5.0", 0.99}, {"10.0", 0.999}, {"+Inf", 1}} {
			f := b.f
			v := func(t time.Time, rnd *rand.Rand) float64 { return 10 * day(t) * f * (0.98 + 0.02*rnd.Float64()) }
			all = append(all, ser{lb("llmmon:e2e_latency_seconds_bucket:rate5m", "le", b.le), v}, ser{lb("llmmon:ttft_seconds_bucket:rate5m", "le", b.le), v})
		}
	}
	for g := 0; g < 8; g++ {
		lb := func(name string) labels.Labels {
			return labels.FromStrings("__name__", name, "Hostname", "h", "gpu", strconv.Itoa(g), "modelName", "NVIDIA H200")
		}
		all = append(all, ser{lb("llmmon:gpu_utilization:percent"), noisy(40)}, ser{lb("llmmon:gpu_memory_used:percent"), noisy(60)},
			ser{lb("llmmon:gpu_temperature_celsius"), noisy(50)})
	}
	const block = 6 * 24 * time.Hour
	logger := slog.New(slog.DiscardHandler)
	for from := start; from.Before(end); from = from.Add(block) {
		to := from.Add(block)
		if to.After(end) {
			to = end
		}
		w, err := tsdb.NewBlockWriter(logger, dir, block.Milliseconds())
		benchkit.Must(err)
		app := w.Appender(ctx)
		for i, s := range all {
			rnd := rand.New(rand.NewPCG(uint64(i), uint64(from.Unix())))
			var ref storage.SeriesRef
			for t := from; t.Before(to); t = t.Add(res) {
				ref, err = app.Append(ref, s.l, t.UnixMilli(), s.v(t, rnd))
				benchkit.Must(err)
				samples++
			}
		}
		benchkit.Must(app.Commit())
		_, err = w.Flush(ctx)
		benchkit.Must(err)
		benchkit.Must(w.Close())
		runtime.GC()
	}
	return samples, len(all)
}

func rss(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(l)[1])
			return fmt.Sprintf("%d MiB peak", kb/1024)
		}
	}
	return "?"
}
