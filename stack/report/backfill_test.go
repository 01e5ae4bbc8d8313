package report_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/report"
)

// series is one backfilled series: its value at minute i of the 14 days (i < 10080 is the week
// before, the rest the week reported on); NaN leaves the minute out.
type series struct {
	name, labels string
	at           func(i int) (float64, bool)
}

func weeks(prev, cur float64) func(int) (float64, bool) {
	return func(i int) (float64, bool) {
		if i < week {
			return prev, true
		}
		return cur, true
	}
}

const week = 7 * 24 * 60

// TestReportKnownAnswers backfills two weeks of llmmon's records with known answers into the
// real Prometheus (promtool tsdb create-blocks-from openmetrics), and checks every figure of the
// report, and its change against the week before.
func TestReportKnownAnswers(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	promBin := filepath.Join(testenv.BinDir(), "prometheus-3.15.0")
	if _, err := os.Stat(promBin); err != nil {
		testenv.SkipOrFail(t, "the Prometheus binary is not built; run `make test-images` first")
	}
	end := time.Now().Truncate(time.Minute).Add(-10 * time.Minute)
	start := end.Add(-14*24*time.Hour + time.Minute) // minute 0; minute 20159 is end
	svc := `target="chat",engine="vllm",instance="h:8000"`
	bucket := func(le string, prev, cur float64) series {
		return series{"llmmon:e2e_latency_seconds_bucket:rate5m", svc + `,le="` + le + `"`, weeks(prev, cur)}
	}
	all := []series{
		// Down for the hour from minute 1000 of the week reported on.
		{"up", `job="vllm",` + svc, func(i int) (float64, bool) {
			if i >= week+1000 && i < week+1060 {
				return 0, true
			}
			return 1, true
		}},
		{"ALERTS", `alertname="LLMServiceDown",alertstate="firing",severity="critical",` + svc, func(i int) (float64, bool) {
			return 1, i >= week+1000 && i < week+1060
		}},
		{"llmmon:requests:rate5m", svc, weeks(10, 12)},
		{"llmmon:request_errors:rate5m", svc, weeks(0.1, 0.06)},
		bucket("0.5", 4, 6), bucket("1.0", 9, 9), bucket("2.5", 9.5, 11.4), bucket("+Inf", 10, 12),
		{"llmmon:generation_tokens:rate5m", svc, weeks(250, 300)},
		{"llmmon:queue_length", svc, func(i int) (float64, bool) {
			switch i {
			case 500:
				return 9, true
			case week + 500:
				return 17, true
			}
			return map[bool]float64{true: 3, false: 2}[i < week], true
		}},
		{"llmmon:kv_cache_usage:ratio", svc, func(i int) (float64, bool) {
			if i == week+42 {
				return 0.93, true
			}
			return map[bool]float64{true: 0.7, false: 0.5}[i < week], true
		}},
		// The budget falls from 100 % to 80 % over the week before, then to 50 %.
		{"llmmon:slo_error_budget_remaining:ratio", `slo="availability",target="chat"`, func(i int) (float64, bool) {
			if i < week {
				return 1 - 0.2*float64(i+1)/week, true
			}
			return 0.8 - 0.3*float64(i-week+1)/week, true
		}},
		{"llmmon:gpu_utilization:percent", `Hostname="h",gpu="0",modelName="NVIDIA H200"`, weeks(30, 40)},
		{"llmmon:gpu_temperature_celsius", `Hostname="h",gpu="0",modelName="NVIDIA H200"`, func(i int) (float64, bool) {
			if i == week+7 {
				return 81, true
			}
			return 60, true
		}},
	}
	dir := t.TempDir()
	om := filepath.Join(dir, "data.om")
	f, err := os.Create(om)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	seen := map[string]bool{}
	for _, s := range all {
		if !seen[s.name] {
			fmt.Fprintf(bw, "# TYPE %s gauge\n", s.name)
			seen[s.name] = true
		}
		for i := 0; i < 2*week; i++ {
			if v, ok := s.at(i); ok {
				fmt.Fprintf(bw, "%s{%s} %g %d\n", s.name, s.labels, v, start.Add(time.Duration(i)*time.Minute).Unix())
			}
		}
	}
	bw.WriteString("# EOF\n")
	bw.Flush()
	f.Close()
	tsdb := filepath.Join(dir, "tsdb")
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", om, tsdb).CombinedOutput(); err != nil {
		t.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte("global: {evaluation_interval: 1m}\n"), 0o644)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, promBin, "--config.file="+cfg, "--storage.tsdb.path="+tsdb, "--web.listen-address="+addr, "--storage.tsdb.retention.time=30d")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	q, err := report.NewPromQuerier("http://"+addr, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if res, err := q.QueryAt(ctx, "count(llmmon:requests:rate5m)", end); err == nil && len(res) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus does not serve the backfilled data\n%s", log.String())
		}
	}

	r, err := report.Build(ctx, q, report.Options{End: end, Period: 7 * 24 * time.Hour, Targets: []string{"chat"},
		Objectives: map[string]float64{"chat": 0.995}, EvalInterval: time.Minute, Curves: true})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Services[0]
	near := func(name string, f report.Figure, cur, prev float64) {
		t.Helper()
		if !f.Has || !f.HasPrev || abs(f.Value-cur) > 1e-6*abs(cur)+1e-9 || abs(f.Prev-prev) > 1e-6*abs(prev)+1e-9 {
			t.Errorf("%s: got %+v, want %g (before: %g)", name, f, cur, prev)
		}
	}
	near("uptime", s.Uptime, float64(week-60)/week, 1)
	near("requests", s.Requests, 12*7*24*3600, 10*7*24*3600)
	near("error rate", s.ErrorRate, 0.005, 0.01)
	near("availability", s.Availability, 0.995, 0.99)
	near("p50", s.P50, 0.5, 0.6)
	near("p95", s.P95, 2.5, 2.5)
	near("p99", s.P99, 2.5, 2.5)
	near("tokens/s", s.TokensPerSec, 300, 250)
	near("queue peak", s.QueuePeak, 17, 9)
	near("KV-cache peak", s.KVCachePeak, 0.93, 0.7)
	near("availability budget left", s.AvailabilityBudget, 0.5, 0.8)
	if s.LatencyBudget.Has || s.LatencyBudget.HasPrev {
		t.Errorf("latency budget: %+v, want none (no latency SLO)", s.LatencyBudget)
	}
	if c, ok := s.TokensPerSec.Change(); !ok || abs(c-0.2) > 1e-9 {
		t.Errorf("tokens/s change: %v %v, want +20 %%", c, ok)
	}
	if len(r.GPUs) != 1 {
		t.Fatalf("GPUs: %+v", r.GPUs)
	}
	g := r.GPUs[0]
	near("GPU utilisation", g.Utilization, 40, 30)
	if !g.TemperaturePeak.Has || g.TemperaturePeak.Value != 81 || g.TemperaturePeak.Prev != 60 {
		t.Errorf("GPU temperature peak: %+v, want 81 (before 60)", g.TemperaturePeak)
	}
	if len(r.Alerts) != 1 || r.Alerts[0].Name != "LLMServiceDown" || r.Alerts[0].Firing != time.Hour {
		t.Errorf("alerts: %+v, want LLMServiceDown firing 1h", r.Alerts)
	}
	md := string(r.Markdown("en", time.UTC))
	for _, want := range []string{"| Availability (requests without error) (objective 99.50 %) | 99.50 % | 99.00 % | +0.50 pp |", "| Generated tokens/s (mean) | 300.0 | 250.0 | +20.0 % |", "| LLMServiceDown | chat | critical | 1h |", "| Requests | 7.26M | 6.05M | +20.0 % |"} {
		if !strings.Contains(md, want) {
			t.Errorf("the Markdown report lacks %q:\n%s", want, md)
		}
	}
	zh := string(r.Markdown("zh", time.UTC))
	if !strings.Contains(zh, "大模型服务报告") || !strings.Contains(zh, "| 错误率 | 0.50 % | 1.00 % | -0.50 pp |") {
		t.Errorf("the Chinese report:\n%s", zh)
	}
	checkCurves(t, r)
	js, _ := json.Marshal(r)
	t.Logf("report: %d bytes of JSON\n%s", len(js), md)
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// checkCurves checks the plots' series against the known answers, and draws them: the PNGs
// are decoded, measured and checked for lines of the series' colours; with
// LLMMON_REPORT_OUT=DIR they are written there to be looked at.
func checkCurves(t *testing.T, r *report.Report) {
	t.Helper()
	want := map[string][2]float64{"requests": {12, 10}, "errors": {0.5, 1}, "latency": {2.5, 2.5}, "tokens": {300, 250}, "gpu": {40, 30}}
	got := map[string]report.Curve{}
	for _, c := range r.Curves {
		got[c.Key] = c
	}
	for key, w := range want {
		c, ok := got[key]
		if !ok {
			t.Errorf("plot %s: no series", key)
			continue
		}
		if len(c.Lines) != 2 {
			t.Errorf("plot %s: %d lines, want this week's and the week before's", key, len(c.Lines))
			continue
		}
		for i, l := range c.Lines {
			// Leave out the hour the service was down and the edges of the averaging windows.
			if n := len(l.Points); n < 150 || n > 168 {
				t.Errorf("plot %s line %d: %d points, want about 168 (one an hour)", key, i, n)
			}
			for _, p := range l.Points[1 : len(l.Points)-1] {
				if abs(p.V-w[i]) > 1e-6*w[i] {
					t.Errorf("plot %s (%s, before=%v) at %s: %g, want %g", key, l.Name, l.Before, p.T, p.V, w[i])
					break
				}
			}
		}
	}
	if b := got["budget"]; len(b.Lines) != 2 || abs(b.Lines[0].Points[len(b.Lines[0].Points)-1].V-50) > 0.5 || abs(b.Lines[1].Points[len(b.Lines[1].Points)-1].V-80) > 0.5 {
		t.Errorf("plot budget: %+v, want it to end at 50 %% (80 %% the week before)", b.Lines)
	}
	// Uptime: 100 % the week before; this week, one hour down shows as a dip to 0.
	if u := got["uptime"]; len(u.Lines) != 2 {
		t.Errorf("plot uptime: %d lines", len(u.Lines))
	} else {
		lowest := 100.0
		for _, p := range u.Lines[0].Points {
			lowest = min(lowest, p.V)
		}
		if lowest > 50 {
			t.Errorf("plot uptime: lowest %g %%, want the hour down to show (at most 50 %% at an hourly step)", lowest)
		}
		for _, p := range u.Lines[1].Points {
			if p.V != 100 {
				t.Errorf("plot uptime the week before: %g at %s, want 100", p.V, p.T)
				break
			}
		}
	}
	for _, lang := range []string{"en", "zh"} {
		p, err := r.Render(lang, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if lang == "zh" && p.Lang != "zh" {
			if os.Getenv("CI") == "true" {
				t.Errorf("the zh plots fell back to English: %s", p.FontNote)
			} else {
				t.Logf("the zh plots fell back to English: %s", p.FontNote)
			}
		}
		if len(p.PNG) != len(want)+2 {
			t.Errorf("%s: %d plots, want %d", lang, len(p.PNG), len(want)+2)
		}
		for key, b := range p.PNG {
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("plot %s: %v", key, err)
			}
			if sz := img.Bounds().Size(); sz.X != 900 || sz.Y != 300 {
				t.Errorf("plot %s: %v, want 900x300", key, sz)
			}
			// The first line is drawn in Grafana's green, the one before dashed in the same.
			green := 0
			for y := 0; y < 300; y++ {
				for x := 0; x < 900; x++ {
					if r, g, b, _ := img.At(x, y).RGBA(); r>>8 == 0x73 && g>>8 == 0xbf && b>>8 == 0x69 {
						green++
					}
				}
			}
			if green < 300 {
				t.Errorf("plot %s (%s): %d pixels of the line colour, want a line across", key, lang, green)
			}
		}
		if dir := os.Getenv("LLMMON_REPORT_OUT"); dir != "" {
			d := filepath.Join(dir, lang)
			os.MkdirAll(d, 0o755)
			if _, err := p.WritePlots(d); err != nil {
				t.Fatal(err)
			}
		}
	}
}
