package replay

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func releaseFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../testdata/releases/*/*")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, ".prom") || strings.HasSuffix(f, ".inventory.txt") {
			out = append(out, f)
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d release files", len(out))
	}
	return out
}

// Every recorded and generated exposition parses with Prometheus' own text parser at any time,
// keeps its families, and its cumulative values grow while gauges stay.
func TestReleasesReplay(t *testing.T) {
	for _, f := range releaseFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		e, err := Parse(filepath.Base(f), data)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if e.Generated != strings.HasSuffix(f, ".inventory.txt") {
			t.Errorf("%s: generated=%v", f, e.Generated)
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		at0, err := p.TextToMetricFamilies(bytes.NewReader(e.At(0)))
		if err != nil {
			t.Errorf("%s at 0: %v", f, err)
			continue
		}
		p10 := expfmt.NewTextParser(model.LegacyValidation)
		at10, err := p10.TextToMetricFamilies(bytes.NewReader(e.At(10)))
		if err != nil {
			t.Errorf("%s at 10: %v", f, err)
			continue
		}
		if len(e.Families()) == 0 {
			t.Errorf("%s: no families", f)
		}
		for name, mf := range at0 {
			for i, m := range mf.GetMetric() {
				m10 := at10[name].GetMetric()[i]
				switch {
				case m.Counter != nil && m10.GetCounter().GetValue() <= m.GetCounter().GetValue():
					t.Errorf("%s: counter %s did not grow", f, name)
				case m.Histogram != nil && m10.GetHistogram().GetSampleCount() <= m.GetHistogram().GetSampleCount():
					t.Errorf("%s: histogram %s did not grow", f, name)
				case m.Gauge != nil && m10.GetGauge().GetValue() != m.GetGauge().GetValue():
					t.Errorf("%s: gauge %s changed", f, name)
				}
			}
		}
	}
}

func TestInventory(t *testing.T) {
	got, err := FromInventory([]byte("# INVENTORY FROM SOURCE\n# format\n" +
		"vllm:prompt_tokens counter model_name,engine | Number of prefill tokens processed.\n" +
		"nv_inference_count counter model,version,gpu_uuid?,_<tag>? | Number of inferences\n" +
		"x:cache_config info <CacheConfig.metrics_info() | info\n" +
		"x:lat histogram - | (none)\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := `# HELP vllm:prompt_tokens_total Number of prefill tokens processed.
# TYPE vllm:prompt_tokens_total counter
vllm:prompt_tokens_total{engine="0",model_name="replay/model"} 10
# HELP nv_inference_count Number of inferences
# TYPE nv_inference_count counter
nv_inference_count{model="replay-model",version="1"} 10
# HELP x:cache_config_info info
# TYPE x:cache_config_info gauge
x:cache_config_info 1
# TYPE x:lat histogram
x:lat_bucket{le="0.01"} 1
x:lat_bucket{le="0.1"} 2
x:lat_bucket{le="1"} 3
x:lat_bucket{le="10"} 4
x:lat_bucket{le="+Inf"} 4
x:lat_sum 5
x:lat_count 4
`
	if string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestSplitSample(t *testing.T) {
	head, v, rest, err := splitSample(`a{b="x} y",c="\"q\""} 1.5e3 1700000000`)
	if err != nil || head != `a{b="x} y",c="\"q\""}` || v != 1500 || rest != "1700000000" {
		t.Errorf("%q %v %q %v", head, v, rest, err)
	}
	if _, _, _, err := splitSample(`a{b="x"`); err == nil {
		t.Error("unterminated label set accepted")
	}
}
