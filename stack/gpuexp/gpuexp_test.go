package gpuexp

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/llmmon/llmmon/internal/testenv"
)

// captures are real nvidia-smi outputs under load and the upstream exporter's /metrics for the
// same output (test/testdata/gpu/README.md says where from).
func captures(t *testing.T) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(testenv.Root(), "test", "testdata", "gpu", "*.load.query-gpu.csv"))
	if len(m) < 4 {
		t.Fatalf("only %d captures", len(m))
	}
	return m
}

// From the same nvidia-smi output, every reading llmmon's exporter exports equals what
// utkuozdemir/nvidia_gpu_exporter exported (its own test golden), and it exports a reading
// exactly when that exporter does.
func TestParityWithUpstreamExporter(t *testing.T) {
	for _, csvFile := range captures(t) {
		name := strings.TrimSuffix(filepath.Base(csvFile), ".load.query-gpu.csv")
		out, err := os.ReadFile(csvFile)
		if err != nil {
			t.Fatal(err)
		}
		up, err := os.ReadFile(strings.TrimSuffix(csvFile, ".query-gpu.csv") + ".metrics")
		if err != nil {
			t.Fatal(err)
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		want, err := p.TextToMetricFamilies(strings.NewReader(string(up)))
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(NewCollector(func(context.Context, ...string) ([]byte, error) { return out, nil }, time.Second))
		got, err := reg.Gather()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		compared := 0
		for _, mf := range got {
			w := want[mf.GetName()]
			if w == nil {
				t.Errorf("%s: %s is not in the upstream exporter's output", name, mf.GetName())
				continue
			}
			if mf.GetName() == "nvidia_smi_gpu_info" || mf.GetName() == "nvidia_smi_failed_scrapes_total" {
				continue // a subset of upstream's labels; a counter of this process
			}
			for _, m := range mf.GetMetric() {
				key := labelsOf(m.GetLabel())
				found := false
				for _, wm := range w.GetMetric() {
					if labelsOf(wm.GetLabel()) == key {
						found = true
						if g, e := value(m), value(wm); math.Abs(g-e) > 1e-9*math.Max(1, math.Abs(e)) {
							t.Errorf("%s: %s{%s} = %g, upstream %g", name, mf.GetName(), key, g, e)
						}
						compared++
					}
				}
				if !found {
					t.Errorf("%s: %s{%s} has no upstream series", name, mf.GetName(), key)
				}
			}
		}
		// Every per-GPU reading upstream has that llmmon exports, llmmon has too.
		for _, f := range fields {
			if w := want[f.metric]; w != nil {
				if n := testutil.CollectAndCount(NewCollector(func(context.Context, ...string) ([]byte, error) { return out, nil }, time.Second), f.metric); n != len(w.GetMetric()) {
					t.Errorf("%s: %s: %d series, upstream %d", name, f.metric, n, len(w.GetMetric()))
				}
			}
		}
		if compared < 8 {
			t.Errorf("%s: only %d readings compared", name, compared)
		}
	}
}

func labelsOf(ls []*dto.LabelPair) string {
	var s []string
	for _, l := range ls {
		s = append(s, l.GetName()+"="+l.GetValue())
	}
	return strings.Join(s, ",")
}

// A failing nvidia-smi is an exit code and a counted failure, not a failed scrape.
func TestNvidiaSmiFails(t *testing.T) {
	c := NewCollector(func(context.Context, ...string) ([]byte, error) { return nil, errors.New("NVIDIA-SMI has failed") }, time.Second)
	if err := testutil.CollectAndCompare(c, strings.NewReader(`
# HELP nvidia_smi_command_exit_code Exit code of the most recent nvidia-smi run (-1 when it could not run).
# TYPE nvidia_smi_command_exit_code gauge
nvidia_smi_command_exit_code -1
# HELP nvidia_smi_failed_scrapes_total Scrapes whose nvidia-smi run failed.
# TYPE nvidia_smi_failed_scrapes_total counter
nvidia_smi_failed_scrapes_total 1
`)); err != nil {
		t.Error(err)
	}
	if _, err := Parse(strings.NewReader("index, name\n0, x\n")); err == nil || !strings.Contains(err.Error(), "uuid") {
		t.Errorf("no uuid column: %v", err)
	}
}

// The query llmmon runs gives output Parse reads (its own header is a subset of a capture's).
func TestQuery(t *testing.T) {
	q := Query()
	if len(q) != 2 || !strings.HasPrefix(q[0], "--query-gpu=index,uuid,name,") || q[1] != "--format=csv" {
		t.Errorf("%v", q)
	}
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Untyped != nil:
		return m.GetUntyped().GetValue()
	}
	return math.NaN()
}

// TestServer: the exporter serves the readings of the nvidia-smi it was given until its
// context ends; a missing nvidia-smi and a taken port say what to do.
func TestServer(t *testing.T) {
	dir := t.TempDir()
	smi := filepath.Join(dir, "nvidia-smi")
	csv := "index, uuid, name, driver_version, pci.bus_id, utilization.gpu [%], memory.used [MiB]\n0, GPU-1, NVIDIA H200, 580.1, 00000000:01:00.0, 42 %, 1024 MiB\n"
	if err := os.WriteFile(smi, []byte("#!/bin/sh\ncat <<'EOF'\n"+csv+"EOF\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	srv, err := Listen("127.0.0.1:0", smi, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	resp, err := http.Get("http://" + srv.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `nvidia_smi_utilization_gpu_ratio{uuid="1"} 0.42`) {
		t.Errorf("no utilisation in\n%s", body)
	}
	if _, err := Listen(srv.Addr, smi, time.Second); err == nil || !strings.Contains(err.Error(), "choose another with --listen") {
		t.Errorf("a taken port: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("after its context ended: %v", err)
	}
	if _, err := Listen("127.0.0.1:0", filepath.Join(dir, "absent"), time.Second); !errors.Is(err, ErrNoNvidiaSMI) {
		t.Errorf("no nvidia-smi: %v", err)
	}
}
