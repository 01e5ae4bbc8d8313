package releases

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/check"
	"github.com/llmmon/llmmon/test/modelsim/replay"
)

// TestGPUWithoutDCGM: for each real nvidia-smi capture in test/testdata/gpu, the nvidia-smi
// exporter's /metrics for it (utkuozdemir/nvidia_gpu_exporter's own output; llmmon's gpu-exporter
// gives the same readings, stack/gpuexp's parity test) is scraped by the real Prometheus as the
// spec's nvidia_smi_exporter_address. Every query of the GPU dashboard and of the overview's GPU
// panel returns data, but XID errors (only dcgm-exporter reads them) and utilisation on a GPU in
// MIG mode (nvidia-smi reports none); the GPU records equal the exporter's readings.
func TestGPUWithoutDCGM(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real Prometheus")
	}
	files, _ := filepath.Glob(filepath.Join(testenv.Root(), "test", "testdata", "gpu", "*.load.metrics"))
	if len(files) < 4 {
		t.Fatalf("only %d captures", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".load.metrics")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := replay.Parse(name, data)
			if err != nil {
				t.Fatal(err)
			}
			q, b, log := startPrometheus(t, "gpu: off\nprometheus:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nnvidia_smi_exporter_address: "+serve(t, exp.Handler())+"\n")
			ctx := context.Background()
			deadline := time.Now().Add(60 * time.Second)
			for {
				if s, _ := q.Query(ctx, `llmmon:gpu_memory_used_bytes`); len(s) > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("no GPU records\n%s", log)
				}
				time.Sleep(500 * time.Millisecond)
			}
			mig := strings.Contains(name, "-mig")
			for _, board := range []string{"llmmon-gpu.json", "llmmon-overview.json"} {
				qs, err := check.DashboardQueries(b.Files["grafana/dashboards/llmmon/"+board].Data)
				if err != nil {
					t.Fatal(err)
				}
				n := 0
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
					switch {
					case strings.Contains(expr, "DCGM_FI_DEV_XID_ERRORS"), mig && strings.Contains(expr, "gpu_utilization"):
						if len(res) != 0 {
							t.Errorf("%s %q: data where the exporter has none: %s", board, pq.PanelTitle, expr)
						}
					case len(res) == 0:
						t.Errorf("%s %q (%s): no data from the nvidia-smi exporter", board, pq.PanelTitle, expr)
					}
				}
				if n < 2 {
					t.Errorf("%s: only %d GPU queries", board, n)
				}
			}
			// The records equal the exporter's own readings.
			want := readings(t, data)
			for record, fn := range map[string]func(g map[string]float64) (float64, bool){
				"llmmon:gpu_memory_used_bytes":   func(g map[string]float64) (float64, bool) { v, ok := g["nvidia_smi_memory_used_bytes"]; return v, ok },
				"llmmon:gpu_memory_total_bytes":  func(g map[string]float64) (float64, bool) { v, ok := g["nvidia_smi_memory_total_bytes"]; return v, ok },
				"llmmon:gpu_temperature_celsius": func(g map[string]float64) (float64, bool) { v, ok := g["nvidia_smi_temperature_gpu"]; return v, ok },
				"llmmon:gpu_power_watts":         func(g map[string]float64) (float64, bool) { v, ok := g["nvidia_smi_power_draw_watts"]; return v, ok },
				"llmmon:gpu_utilization:percent": func(g map[string]float64) (float64, bool) {
					v, ok := g["nvidia_smi_utilization_gpu_ratio"]
					return 100 * v, ok
				},
				"llmmon:gpu_memory_used:percent": func(g map[string]float64) (float64, bool) {
					return 100 * g["nvidia_smi_memory_used_bytes"] / g["nvidia_smi_memory_total_bytes"], true
				},
			} {
				res, err := q.Query(ctx, record)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]float64{}
				for _, s := range res {
					got[strings.TrimPrefix(s.Labels["UUID"], "GPU-")] = s.Value
					if s.Labels["gpu"] == "" || s.Labels["modelName"] == "" {
						t.Errorf("%s: no gpu or modelName label: %v", record, s.Labels)
					}
				}
				for uuid, g := range want {
					w, ok := fn(g)
					if !ok {
						if _, has := got[uuid]; has {
							t.Errorf("%s{UUID=%s}: a value where the exporter has none", record, uuid)
						}
						continue
					}
					if v, has := got[uuid]; !has || math.Abs(v-w) > 1e-6*math.Max(1, math.Abs(w)) {
						t.Errorf("%s{UUID=%s} = %v (present %v), the exporter says %v", record, uuid, v, has, w)
					}
				}
			}
		})
	}
}

// readings returns the exporter's per-GPU values by uuid and metric name.
func readings(t *testing.T, data []byte) map[string]map[string]float64 {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]float64{}
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() != "uuid" || m.GetGauge() == nil {
					continue
				}
				if out[l.GetValue()] == nil {
					out[l.GetValue()] = map[string]float64{}
				}
				out[l.GetValue()][name] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}
