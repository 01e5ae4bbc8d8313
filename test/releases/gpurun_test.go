package releases

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/check"
	"github.com/llmmon/llmmon/stack/doctor"
	"github.com/llmmon/llmmon/stack/gpuexp"
	"github.com/llmmon/llmmon/test/modelsim/replay"
)

// gpuRun is a recording llmmon's developers took on a real GPU host with test/gpurun/device.sh:
// llmmon's gpu-exporter and a tutorial-style model service doing real inference, scraped every
// 5 s, with nvidia-smi's own readings taken just before and just after each exporter scrape.
type gpuRun struct {
	dir      string
	exporter []replay.Step // llmmon gpu-exporter's /metrics
	model    []replay.Step // the model service's /metrics
	smi      map[int][2][]gpuexp.GPU
	smiQuery []string // the fields nvidia-smi was asked for
}

func loadGPURun(t *testing.T, dir string) gpuRun {
	t.Helper()
	r := gpuRun{dir: dir, smi: map[int][2][]gpuexp.GPU{}}
	read := func(name string) []replay.Step {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		steps, err := replay.ParseRecording(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return steps
	}
	r.exporter, r.model = read("exporter.scrapes"), read("model.scrapes")
	if len(r.exporter) != len(r.model) {
		t.Fatalf("%d exporter scrapes but %d of the model service", len(r.exporter), len(r.model))
	}
	for _, s := range read("nvidia-smi.readings") {
		gpus, err := gpuexp.Parse(bytes.NewReader(s.Body))
		if err != nil {
			t.Fatalf("nvidia-smi.readings step %d: %v", s.N, err)
		}
		pair := r.smi[s.N]
		switch s.Attrs["when"] {
		case "before":
			pair[0] = gpus
		case "after":
			pair[1] = gpus
		default:
			t.Fatalf("nvidia-smi.readings step %d: when=%q", s.N, s.Attrs["when"])
		}
		r.smi[s.N] = pair
		if r.smiQuery == nil {
			header, _, _ := strings.Cut(string(s.Body), "\n")
			for _, f := range strings.Split(header, ",") {
				name, _, _ := strings.Cut(strings.TrimSpace(f), " [")
				r.smiQuery = append(r.smiQuery, name)
			}
		}
	}
	return r
}

// tolerance is how far the exporter's reading of a field may lie outside the range of
// nvidia-smi's own readings just before and just after it: the instruments' resolution.
var gpuRunFields = []struct {
	metric, record string
	scale          float64 // record = scale * metric
	tol            float64 // in the metric's unit
}{
	{"nvidia_smi_utilization_gpu_ratio", "llmmon:gpu_utilization:percent", 100, 0.01},
	{"nvidia_smi_memory_used_bytes", "llmmon:gpu_memory_used_bytes", 1, 0},
	{"nvidia_smi_memory_total_bytes", "llmmon:gpu_memory_total_bytes", 1, 0},
	{"nvidia_smi_temperature_gpu", "llmmon:gpu_temperature_celsius", 1, 1},
	{"nvidia_smi_power_draw_watts", "llmmon:gpu_power_watts", 1, 1},
	{"nvidia_smi_clocks_current_sm_clock_hz", "llmmon:gpu_sm_clock_hz", 1, 0},
	{"nvidia_smi_clocks_current_memory_clock_hz", "llmmon:gpu_memory_clock_hz", 1, 0},
}

// bracket is the range of nvidia-smi's readings of metric on the GPU uuid around a step.
func (r gpuRun) bracket(step int, uuid, metric string) (lo, hi float64, ok bool) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, gpus := range r.smi[step] {
		for _, g := range gpus {
			if v, has := g.Values[metric]; has && g.UUID() == uuid {
				lo, hi, ok = math.Min(lo, v), math.Max(hi, v), true
			}
		}
	}
	return lo, hi, ok
}

// TestRealGPURun proves the GPU path on numbers a real GPU gave: each recording in
// test/testdata/gpurun (README.md there says where and when it was taken) is checked first as
// data (llmmon's gpu-exporter read what nvidia-smi read, within the instruments' sampling
// error, at every step), then replayed, step by step, to the real Prometheus with llmmon's
// generated rules: the GPU records agree with nvidia-smi's readings of the same step, and every
// query of the GPU dashboard, of the overview's GPU panels, of the custom dashboard (for the
// tutorial model service) and of the GPU alerts has data, but what only DCGM reads.
func TestRealGPURun(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(testenv.Root(), "test", "testdata", "gpurun", "*", "exporter.scrapes"))
	if len(dirs) == 0 {
		t.Fatal("no recording in test/testdata/gpurun")
	}
	for _, f := range dirs {
		dir := filepath.Dir(f)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			run := loadGPURun(t, dir)
			if got, want := strings.Join(run.smiQuery, ","), strings.TrimPrefix(gpuexp.Query()[0], "--query-gpu="); got != want {
				t.Errorf("the recording asked nvidia-smi for\n  %s\nbut the exporter now asks for\n  %s\n(update QUERY in test/gpurun/device.sh and record again)", got, want)
			}
			checkGPURunData(t, run)
			if testing.Short() {
				t.Skip("the replay starts the real Prometheus")
			}
			replayGPURun(t, run)
		})
	}
}

// checkGPURunData compares, at every step, the exporter's readings with nvidia-smi's, and checks
// that the load moved what it should.
func checkGPURunData(t *testing.T, run gpuRun) {
	worst := map[string]float64{}   // farthest from either reading
	outside := map[string]float64{} // farthest outside the range of the two readings
	seen := map[string][2]float64{} // min, max of each field over the run
	steps := 0
	for _, s := range run.exporter {
		if bytes.HasPrefix(s.Body, []byte("# scrape failed")) {
			t.Errorf("step %d: the exporter's scrape failed: %s", s.N, s.Body)
			continue
		}
		steps++
		for uuid, vals := range readings(t, s.Body) {
			for _, f := range gpuRunFields {
				v, has := vals[f.metric]
				lo, hi, ok := run.bracket(s.N, uuid, f.metric)
				if has != ok {
					t.Errorf("step %d GPU %s %s: exporter has it %v, nvidia-smi %v", s.N, uuid, f.metric, has, ok)
					continue
				}
				if !has {
					continue
				}
				d := math.Max(0, math.Max(lo-v, v-hi))
				outside[f.metric] = math.Max(outside[f.metric], d)
				if d > f.tol {
					t.Errorf("step %d GPU %s %s = %v, outside nvidia-smi's %v..%v by more than %v", s.N, uuid, f.metric, v, lo, hi, f.tol)
				}
				worst[f.metric] = math.Max(worst[f.metric], math.Max(math.Abs(v-lo), math.Abs(v-hi)))
				mm, ok := seen[f.metric]
				if !ok {
					mm = [2]float64{v, v}
				}
				seen[f.metric] = [2]float64{math.Min(mm[0], v), math.Max(mm[1], v)}
			}
		}
	}
	if steps < 10 {
		t.Fatalf("only %d good steps", steps)
	}
	// The load rose and fell: utilisation, memory and power all moved.
	for metric, least := range map[string]float64{
		"nvidia_smi_utilization_gpu_ratio": 0.2,
		"nvidia_smi_memory_used_bytes":     1 << 30,
		"nvidia_smi_power_draw_watts":      50,
	} {
		if mm := seen[metric]; mm[1]-mm[0] < least {
			t.Errorf("%s moved only %v..%v over the run: the load did not change it", metric, mm[0], mm[1])
		}
	}
	var lines []string
	for _, f := range gpuRunFields {
		lines = append(lines, fmt.Sprintf("%s: range %v..%v; farthest from nvidia-smi's readings before and after %v, outside their range %v", f.metric, seen[f.metric][0], seen[f.metric][1], worst[f.metric], outside[f.metric]))
	}
	t.Logf("%d steps:\n  %s", steps, strings.Join(lines, "\n  "))
	logGPURunCost(t, run)
}

// logGPURunCost prints what the exporter cost on the GPU host, beside the baseline measured in
// the same run: a scrape's time against nvidia-smi's own run (the recorder ran nvidia-smi just
// before each scrape and noted when it started and ended), and the exporter's resident memory.
func logGPURunCost(t *testing.T, run gpuRun) {
	before := map[int]int64{}
	data, err := os.ReadFile(filepath.Join(run.dir, "nvidia-smi.readings"))
	if err != nil {
		t.Fatal(err)
	}
	smi, err := replay.ParseRecording(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range smi {
		if s.Attrs["when"] == "before" {
			before[s.N] = s.UnixMS
		}
	}
	var scrape, alone []float64
	for _, s := range run.exporter {
		ms, err := strconv.ParseFloat(s.Attrs["scrape_ms"], 64)
		if err != nil {
			t.Fatalf("step %d: scrape_ms %q", s.N, s.Attrs["scrape_ms"])
		}
		scrape = append(scrape, ms)
		if b, ok := before[s.N]; ok {
			alone = append(alone, float64(s.UnixMS-b))
		}
	}
	rss, err := os.ReadFile(filepath.Join(run.dir, "exporter-proc.csv"))
	if err != nil {
		t.Fatal(err)
	}
	var kib []float64
	for _, l := range strings.Split(strings.TrimSpace(string(rss)), "\n")[1:] {
		f := strings.Split(l, ",")
		v, err := strconv.ParseFloat(f[3], 64)
		if err != nil {
			t.Fatalf("exporter-proc.csv: %q", l)
		}
		kib = append(kib, v)
	}
	q := func(xs []float64) string {
		ys := append([]float64(nil), xs...)
		sort.Float64s(ys)
		return fmt.Sprintf("min %.1f, median %.1f, max %.1f", ys[0], ys[len(ys)/2], ys[len(ys)-1])
	}
	t.Logf("on the GPU host: a scrape of llmmon gpu-exporter took (ms) %s; nvidia-smi alone, same run: %s; the exporter's resident memory (KiB) %s",
		q(scrape), q(alone), q(kib))
}

// replayGPURun serves a selection of the steps to the real Prometheus, one every 3 s (scrapes
// and rule evaluations every 1 s), and checks each step's records and, at the end, the queries.
func replayGPURun(t *testing.T, run gpuRun) {
	const every = 3 * time.Second
	var sel []int // about a dozen steps over the whole run, and the busiest one
	k := max(1, len(run.exporter)/12)
	busiest, top := 0, -1.0
	for i, s := range run.exporter {
		for _, g := range readings(t, s.Body) {
			if g["nvidia_smi_power_draw_watts"] > top {
				busiest, top = i, g["nvidia_smi_power_draw_watts"]
			}
		}
	}
	for i := range run.exporter {
		if i%k == 0 || i == busiest {
			sel = append(sel, i)
		}
	}
	pick := func(steps []replay.Step) []replay.Step {
		out := make([]replay.Step, len(sel))
		for j, i := range sel {
			out[j] = steps[i]
		}
		return out
	}
	exp, app := replay.NewStepped(pick(run.exporter), every), replay.NewStepped(pick(run.model), every)
	spec := "gpu: off\nprometheus:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n" +
		"nvidia_smi_exporter_address: " + serve(t, exp) + "\n" +
		"targets:\n  - name: tutorial\n    engine: custom\n    url: http://" + serve(t, app) + "\n"
	q, b, log := startPrometheus(t, spec)
	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		g, _ := q.Query(ctx, `llmmon:gpu_memory_used_bytes`)
		a, _ := q.Query(ctx, `up{target="tutorial"} == 1`)
		if len(g) > 0 && len(a) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no GPU records or the model service is not scraped\n%s", log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t0 := time.Now()
	exp.Start(t0)
	app.Start(t0)
	time.Sleep(time.Until(t0.Add(time.Duration(len(sel))*every + time.Second)))

	// Each step's records, read late in its window (after at least one scrape and one evaluation
	// of it), agree with nvidia-smi's readings of that step.
	worst := map[string]float64{}
	for j, i := range sel {
		at := t0.Add(time.Duration(j)*every + every - 500*time.Millisecond)
		for _, f := range gpuRunFields {
			res, err := q.QueryAt(ctx, f.record, at)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) == 0 {
				t.Errorf("step %d: %s has no data", run.exporter[i].N, f.record)
			}
			for _, s := range res {
				uuid := strings.TrimPrefix(s.Labels["UUID"], "GPU-")
				lo, hi, ok := run.bracket(run.exporter[i].N, uuid, f.metric)
				if !ok {
					t.Errorf("step %d: %s for GPU %s, which nvidia-smi did not report", run.exporter[i].N, f.record, uuid)
					continue
				}
				if v := s.Value / f.scale; v < lo-f.tol || v > hi+f.tol {
					t.Errorf("step %d: %s{UUID=%s} = %v; nvidia-smi read %v..%v (in the record's unit)", run.exporter[i].N, f.record, uuid, s.Value, lo*f.scale, hi*f.scale)
				}
				worst[f.record] = math.Max(worst[f.record], math.Max(math.Abs(s.Value-lo*f.scale), math.Abs(s.Value-hi*f.scale)))
			}
		}
	}

	var lines []string
	for _, f := range gpuRunFields {
		lines = append(lines, fmt.Sprintf("%s: largest distance to nvidia-smi's readings of the step %v", f.record, worst[f.record]))
	}
	t.Logf("%d steps replayed:\n  %s", len(sel), strings.Join(lines, "\n  "))

	// Every GPU query has data, but what only dcgm-exporter reads.
	dcgmOnly := func(expr string) bool {
		return strings.Contains(expr, "DCGM_FI_DEV_XID_ERRORS") || strings.Contains(expr, "DCGM_FI_DEV_ROW_REMAP")
	}
	n, withData := 0, 0
	for _, board := range []string{"llmmon-gpu.json", "llmmon-overview.json"} {
		qs, err := check.DashboardQueries(b.Files["grafana/dashboards/llmmon/"+board].Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, pq := range qs {
			if board == "llmmon-overview.json" && !strings.Contains(pq.Expr, "gpu") {
				continue
			}
			expr := check.GrafanaToPromQL(strings.ReplaceAll(pq.Expr, `"$gpu"`, `".*"`))
			res, err := q.Query(ctx, expr)
			if err != nil {
				t.Fatalf("%s %q: %v", board, pq.PanelTitle, err)
			}
			n++
			if len(res) > 0 {
				withData++
			}
			if dcgmOnly(expr) != (len(res) == 0) {
				t.Errorf("%s %q: %d series (%s)", board, pq.PanelTitle, len(res), expr)
			}
		}
	}
	// The GPU alerts' expressions, without their thresholds, have data.
	var rf struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(b.Files["prometheus/rules/gpu.yml"].Data, &rf); err != nil {
		t.Fatal(err)
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			measured, err := measuredPart(r.Expr)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			res, err := q.Query(ctx, measured)
			if err != nil {
				t.Fatalf("%s: %v", r.Alert, err)
			}
			n++
			if len(res) > 0 {
				withData++
			}
			if dcgmOnly(measured) != (len(res) == 0) {
				t.Errorf("alert %s: %d series for %s", r.Alert, len(res), measured)
			}
		}
	}
	// The custom dashboard and the records for the tutorial service: everything it exports has data.
	assets := doctor.Assets{Records: b.Files["prometheus/rules/records.yml"].Data, Dashboards: map[string][]byte{}}
	for p, f := range b.Under("grafana/dashboards/llmmon/") {
		assets.Dashboards[filepath.Base(p)] = f.Data
	}
	target := doctor.Target{Name: "tutorial", Engine: "custom"}
	checks, err := doctor.Checks(assets, target)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := doctor.Diagnose(ctx, q, target, checks)
	if err != nil {
		t.Fatal(err)
	}
	var none []string
	for _, f := range rep.Findings {
		if f.Data {
			continue
		}
		if len(f.Missing) == 0 {
			t.Errorf("%s has no data although the service exports what it reads:\n  %s", f.Name(), f.Expr)
		}
		none = append(none, f.Name()+": "+f.Why)
	}
	sort.Strings(none)
	t.Logf("%d of %d GPU queries (dashboards and alerts) with data, the others read what only dcgm-exporter has; the tutorial service: %d of %d checks with data; without (it does not export them):\n  %s",
		withData, n, rep.Checks-len(none), rep.Checks, strings.Join(compact(none), "\n  "))
}

// measuredPart is an alert's expression without its threshold: the left side of its comparison,
// and of the `unless`/`and` that qualify it.
func measuredPart(expr string) (string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return "", err
	}
	for {
		switch x := e.(type) {
		case *parser.ParenExpr:
			e = x.Expr
			continue
		case *parser.BinaryExpr:
			if x.Op.IsComparisonOperator() || x.Op == parser.LUNLESS || x.Op == parser.LAND {
				e = x.LHS
				continue
			}
		}
		return e.String(), nil
	}
}
