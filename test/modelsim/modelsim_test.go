package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestMain(m *testing.M) {
	if os.Getenv("MODELSIM_TEST_RUN_MAIN") == "1" {
		os.Args = append([]string{"modelsim"}, strings.Fields(os.Getenv("MODELSIM_TEST_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// startSim builds a simulator serving the given engines on loopback ports. It does not start
// the ticker: tests step the model themselves, so they do not wait for real time.
func startSim(t *testing.T, legacy bool, kinds ...string) *simulator {
	t.Helper()
	cfg := config{model: "Qwen/Qwen3-0.6B", rps: 5, seed: 1, tick: 250 * time.Millisecond, vllmLegacy: legacy, hostname: "gpu-node-1"}
	for _, k := range kinds {
		cfg.serves = append(cfg.serves, serveSpec{k, "127.0.0.1:0"})
	}
	sim, err := newSimulator(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.close)
	return sim
}

func steps(sim *simulator, n int) {
	for range n {
		sim.stepAll()
	}
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// scrape fetches /metrics and parses it with Prometheus' own text parser.
func scrape(t *testing.T, sim *simulator, kind string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := get(t, "http://"+sim.addrs()[kind]+"/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("%s /metrics: %d", kind, resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("%s /metrics Content-Type %q, want the text format 0.0.4", kind, ct)
	}
	return parseText(t, body)
}

func parseText(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	return mfs
}

func labelNames(m *dto.Metric) []string {
	var out []string
	for _, l := range m.GetLabel() {
		out = append(out, l.GetName())
	}
	sort.Strings(out)
	return out
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// value sums the samples of a family whose labels match all of match (counter, gauge or untyped).
func value(mfs map[string]*dto.MetricFamily, name string, match ...string) float64 {
	sum := 0.0
	mf := mfs[name]
	if mf == nil {
		return math.NaN()
	}
next:
	for _, m := range mf.GetMetric() {
		for i := 0; i+1 < len(match); i += 2 {
			if labelValue(m, match[i]) != match[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Untyped != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

type famSpec struct {
	name   string
	typ    dto.MetricType
	labels string // the label names every series must have, comma-separated
}

var (
	counter   = dto.MetricType_COUNTER
	gauge     = dto.MetricType_GAUGE
	histogram = dto.MetricType_HISTOGRAM
)

func checkFamilies(t *testing.T, kind string, mfs map[string]*dto.MetricFamily, specs []famSpec) {
	t.Helper()
	for _, s := range specs {
		mf := mfs[s.name]
		if mf == nil {
			t.Errorf("%s: family %s missing", kind, s.name)
			continue
		}
		if mf.GetType() != s.typ {
			t.Errorf("%s: %s is %v, want %v", kind, s.name, mf.GetType(), s.typ)
		}
		want := strings.Split(s.labels, ",")
		if s.labels == "" {
			want = nil
		}
		for _, m := range mf.GetMetric() {
			got := labelNames(m)
			for _, w := range want {
				if !slices.Contains(got, w) {
					t.Errorf("%s: %s series %v lacks label %q", kind, s.name, got, w)
				}
			}
		}
	}
}

// The families llm-metrics.md names for each engine.
var engineFamilies = map[string][]famSpec{
	"vllm": {
		{"vllm:num_requests_running", gauge, "model_name,engine"},
		{"vllm:num_requests_waiting", gauge, "model_name,engine"},
		{"vllm:kv_cache_usage_perc", gauge, "model_name,engine"},
		{"vllm:request_success_total", counter, "model_name,engine,finished_reason"},
		{"vllm:prompt_tokens_total", counter, "model_name"},
		{"vllm:generation_tokens_total", counter, "model_name"},
		{"vllm:num_preemptions_total", counter, "model_name"},
		{"vllm:prefix_cache_queries_total", counter, "model_name"},
		{"vllm:prefix_cache_hits_total", counter, "model_name"},
		{"vllm:time_to_first_token_seconds", histogram, "model_name"},
		{"vllm:inter_token_latency_seconds", histogram, "model_name"},
		{"vllm:request_time_per_output_token_seconds", histogram, "model_name"},
		{"vllm:e2e_request_latency_seconds", histogram, "model_name"},
		{"vllm:request_queue_time_seconds", histogram, "model_name"},
		{"vllm:request_prefill_time_seconds", histogram, "model_name"},
		{"vllm:request_decode_time_seconds", histogram, "model_name"},
		{"vllm:request_inference_time_seconds", histogram, "model_name"},
		{"vllm:request_prompt_tokens", histogram, "model_name"},
		{"vllm:request_generation_tokens", histogram, "model_name"},
		{"vllm:iteration_tokens_total", histogram, "model_name"},
		{"vllm:request_params_n", histogram, "model_name"},
		{"vllm:request_params_max_tokens", histogram, "model_name"},
		{"vllm:request_max_num_generation_tokens", histogram, "model_name"},
		{"vllm:cache_config_info", gauge, "block_size,num_gpu_blocks"},
	},
	"sglang": {
		{"sglang:num_running_reqs", gauge, "model_name,engine_type,tp_rank,pp_rank,moe_ep_rank"},
		{"sglang:num_queue_reqs", gauge, "model_name,engine_type,tp_rank,pp_rank,moe_ep_rank"},
		{"sglang:num_grammar_queue_reqs", gauge, "model_name"},
		{"sglang:token_usage", gauge, "model_name,tp_rank"},
		{"sglang:num_used_tokens", gauge, "model_name"},
		{"sglang:max_total_num_tokens", gauge, "model_name"},
		{"sglang:cache_hit_rate", gauge, "model_name"},
		{"sglang:gen_throughput", gauge, "model_name"},
		{"sglang:num_retracted_requests_total", counter, "model_name"},
		{"sglang:num_requests_total", counter, "model_name"},
		{"sglang:num_aborted_requests_total", counter, "model_name"},
		{"sglang:num_so_requests_total", counter, "model_name"},
		{"sglang:prompt_tokens_total", counter, "model_name"},
		{"sglang:generation_tokens_total", counter, "model_name"},
		{"sglang:cached_tokens_total", counter, "model_name"},
		{"sglang:realtime_tokens_total", counter, "model_name,mode"},
		{"sglang:time_to_first_token_seconds", histogram, "model_name"},
		{"sglang:inter_token_latency_seconds", histogram, "model_name"},
		{"sglang:e2e_request_latency_seconds", histogram, "model_name"},
		{"sglang:queue_time_seconds", histogram, "model_name"},
	},
	"tgi": {
		{"tgi_request_count", counter, ""},
		{"tgi_request_success", counter, ""},
		{"tgi_queue_size", gauge, ""},
		{"tgi_batch_current_size", gauge, ""},
		{"tgi_batch_current_max_tokens", gauge, ""},
		{"tgi_batch_max_total_tokens", gauge, ""},
		{"tgi_request_duration", histogram, ""},
		{"tgi_request_queue_duration", histogram, ""},
		{"tgi_request_validation_duration", histogram, ""},
		{"tgi_request_inference_duration", histogram, ""},
		{"tgi_request_mean_time_per_token_duration", histogram, ""},
		{"tgi_request_input_length", histogram, ""},
		{"tgi_request_generated_tokens", histogram, ""},
		{"tgi_request_max_new_tokens", histogram, ""},
		{"tgi_batch_inference_count", counter, "method"},
		{"tgi_batch_inference_success", counter, "method"},
		{"tgi_batch_forward_duration", histogram, "method"},
		{"tgi_batch_inference_duration", histogram, "method"},
		{"tgi_batch_decode_duration", histogram, "method"},
	},
	"llamacpp": {
		{"llamacpp:prompt_tokens_total", counter, ""},
		{"llamacpp:prompt_seconds_total", counter, ""},
		{"llamacpp:tokens_predicted_total", counter, ""},
		{"llamacpp:tokens_predicted_seconds_total", counter, ""},
		{"llamacpp:n_decode_total", counter, ""},
		{"llamacpp:n_tokens_max", counter, ""},
		{"llamacpp:n_busy_slots_per_decode", gauge, ""},
		{"llamacpp:prompt_tokens_seconds", gauge, ""},
		{"llamacpp:predicted_tokens_seconds", gauge, ""},
		{"llamacpp:requests_processing", gauge, ""},
		{"llamacpp:requests_deferred", gauge, ""},
	},
	"triton": {
		{"nv_inference_request_success", counter, "model,version"},
		{"nv_inference_request_failure", counter, "model,version,reason"},
		{"nv_inference_count", counter, "model,version"},
		{"nv_inference_exec_count", counter, "model,version"},
		{"nv_inference_pending_request_count", gauge, "model,version"},
		{"nv_inference_request_duration_us", counter, "model,version"},
		{"nv_inference_queue_duration_us", counter, "model,version"},
		{"nv_inference_compute_input_duration_us", counter, "model,version"},
		{"nv_inference_compute_infer_duration_us", counter, "model,version"},
		{"nv_inference_compute_output_duration_us", counter, "model,version"},
		{"nv_inference_first_response_histogram_ms", histogram, "model,version"},
		{"nv_gpu_utilization", gauge, "gpu_uuid"},
		{"nv_gpu_memory_used_bytes", gauge, "gpu_uuid"},
		{"nv_gpu_memory_total_bytes", gauge, "gpu_uuid"},
		{"nv_gpu_power_usage", gauge, "gpu_uuid"},
		{"nv_gpu_power_limit", gauge, "gpu_uuid"},
		{"nv_energy_consumption", counter, "gpu_uuid"},
		{"nv_cpu_utilization", gauge, ""},
		{"nv_cpu_memory_used_bytes", gauge, ""},
		{"nv_cpu_memory_total_bytes", gauge, ""},
		{"nv_trt_llm_request_metrics", gauge, "model,version,request_type"},
		{"nv_trt_llm_kv_cache_block_metrics", gauge, "model,version,kv_cache_block_type"},
		{"nv_trt_llm_inflight_batcher_metrics", gauge, "model,version,inflight_batcher_specific_metric"},
		{"nv_trt_llm_runtime_memory_metrics", gauge, "model,version,memory_type"},
		{"nv_trt_llm_general_metrics", gauge, "model,version,general_type"},
		{"nv_trt_llm_disaggregated_serving_metrics", counter, "model,version,disaggregated_serving_type"},
		{"nv_llm_input_token_len", histogram, "model,version,response_metric_type"},
		{"nv_llm_output_token_len", histogram, "model,version,response_metric_type"},
	},
	"lmdeploy": {
		{"lmdeploy:num_requests_running", gauge, "model_name,engine"},
		{"lmdeploy:num_requests_waiting", gauge, "model_name,engine"},
		{"lmdeploy:num_api_requests_routed", gauge, "model_name"},
		{"lmdeploy:num_api_requests_waiting", gauge, "model_name"},
		{"lmdeploy:num_requests_succeeded", gauge, "model_name"},
		{"lmdeploy:num_requests_failed", gauge, "model_name"},
		{"lmdeploy:gpu_cache_usage_perc", gauge, "model_name,engine"},
		{"lmdeploy:prefix_cache_hit_rate", gauge, "model_name"},
		{"lmdeploy:prompt_tokens_total", counter, "model_name"},
		{"lmdeploy:generation_tokens_total", counter, "model_name"},
		{"lmdeploy:cached_tokens_total", counter, "model_name"},
		{"lmdeploy:request_success_total", counter, "model_name,engine,finished_reason"},
		{"lmdeploy:time_to_first_token_seconds", histogram, "model_name"},
		{"lmdeploy:time_per_output_token_seconds", histogram, "model_name"},
		{"lmdeploy:iter_token_latency", histogram, "model_name"},
		{"lmdeploy:e2e_request_latency_seconds", histogram, "model_name"},
		{"lmdeploy:request_queue_time_seconds", histogram, "model_name"},
		{"lmdeploy:request_inference_time_seconds", histogram, "model_name"},
		{"lmdeploy:request_prefill_time_seconds", histogram, "model_name"},
		{"lmdeploy:request_decode_time_seconds", histogram, "model_name"},
		{"lmdeploy:request_prompt_tokens", histogram, "model_name"},
		{"lmdeploy:request_generation_tokens", histogram, "model_name"},
		{"lmdeploy:iteration_tokens_total", histogram, "model_name"},
	},
	"custom": {
		{"model_requests_total", counter, "model,status"},
		{"model_request_duration_seconds", histogram, "model"},
		{"model_tokens_per_second", gauge, "model"},
		{"gpu_memory_used_mb", gauge, ""},
		{"cpu_usage_percent", gauge, ""},
		{"memory_usage_mb", gauge, ""},
	},
	"dcgm": func() []famSpec {
		var out []famSpec
		for _, n := range []string{"DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_FB_RESERVED",
			"DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_MEMORY_TEMP", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_SM_CLOCK", "DCGM_FI_DEV_MEM_CLOCK",
			"DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_MEM_COPY_UTIL", "DCGM_FI_DEV_ROW_REMAP_FAILURE", "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
			"DCGM_FI_PROF_PIPE_TENSOR_ACTIVE", "DCGM_FI_PROF_DRAM_ACTIVE"} {
			out = append(out, famSpec{n, gauge, "gpu,UUID,pci_bus_id,device,modelName,Hostname"})
		}
		for _, n := range []string{"DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION", "DCGM_FI_DEV_PCIE_REPLAY_COUNTER"} {
			out = append(out, famSpec{n, counter, "gpu,UUID,pci_bus_id,device,modelName,Hostname"})
		}
		return out
	}(),
}

func TestEngineFamilies(t *testing.T) {
	for kind, specs := range engineFamilies {
		t.Run(kind, func(t *testing.T) {
			sim := startSim(t, false, kind)
			steps(sim, 200)
			if kind == "tgi" || kind == "lmdeploy" || kind == "custom" {
				// These label failure series lazily (on the first failure), like the real exporters.
				if err := sim.setMode(kind, modeErrorBurst); err != nil {
					t.Fatal(err)
				}
				steps(sim, 80)
			}
			mfs := scrape(t, sim, kind)
			checkFamilies(t, kind, mfs, specs)
			// The health and model-list endpoints.
			if resp, _ := get(t, "http://"+sim.addrs()[kind]+"/health"); resp.StatusCode != 200 {
				t.Errorf("%s /health: %d", kind, resp.StatusCode)
			}
			if kind != "dcgm" {
				resp, body := get(t, "http://"+sim.addrs()[kind]+"/v1/models")
				if resp.StatusCode != 200 || !strings.Contains(string(body), "Qwen/Qwen3-0.6B") {
					t.Errorf("%s /v1/models: %d %s", kind, resp.StatusCode, body)
				}
			}
		})
	}
}

func TestEngineSpecifics(t *testing.T) {
	sim := startSim(t, false, "vllm", "tgi", "dcgm", "triton", "sglang")
	steps(sim, 200)
	v := scrape(t, sim, "vllm")
	if _, ok := v["vllm:gpu_cache_usage_perc"]; ok {
		t.Error("vllm (V1 names) must not expose vllm:gpu_cache_usage_perc")
	}
	if _, ok := v["vllm:time_per_output_token_seconds"]; ok {
		t.Error("vllm (V1 names) must not expose vllm:time_per_output_token_seconds")
	}
	for _, r := range []string{"stop", "length", "abort", "error"} {
		if math.IsNaN(value(v, "vllm:request_success_total", "finished_reason", r)) || !hasSeries(v, "vllm:request_success_total", "finished_reason", r) {
			t.Errorf("vllm:request_success_total has no finished_reason=%q series", r)
		}
	}
	if kv := value(v, "vllm:kv_cache_usage_perc"); kv < 0.2 || kv > 0.6 {
		t.Errorf("healthy KV usage %v, want 0.2-0.6", kv)
	}
	if g := value(v, "vllm:generation_tokens_total"); !(g > 1000) {
		t.Errorf("generation tokens %v after 50s", g)
	}
	// TTFT buckets as vLLM defines them.
	ttft := v["vllm:time_to_first_token_seconds"].GetMetric()[0].GetHistogram()
	if b := ttft.GetBucket(); len(b) != len(vllmTTFTBuckets)+1 || b[0].GetUpperBound() != 0.001 || b[len(b)-2].GetUpperBound() != 2560 {
		t.Errorf("TTFT buckets %v", b)
	}
	// TGI: no _total suffix, and its 35 geometric duration buckets.
	tg := scrape(t, sim, "tgi")
	for name := range tg {
		if strings.HasSuffix(name, "_total") {
			t.Errorf("tgi family %s has a _total suffix", name)
		}
	}
	if b := tg["tgi_request_duration"].GetMetric()[0].GetHistogram().GetBucket(); len(b) != 36 || math.Abs(b[0].GetUpperBound()-0.00015) > 1e-12 {
		t.Errorf("tgi duration buckets: %d, first %v", len(b), b[0].GetUpperBound())
	}
	// dcgm: two GPUs, XID without err_code while healthy.
	d := scrape(t, sim, "dcgm")
	if n := len(d["DCGM_FI_DEV_GPU_UTIL"].GetMetric()); n != 2 {
		t.Errorf("dcgm: %d GPUs, want 2", n)
	}
	for _, m := range d["DCGM_FI_DEV_XID_ERRORS"].GetMetric() {
		if labelValue(m, "err_code") != "" || m.GetGauge().GetValue() != 0 {
			t.Errorf("healthy XID series %v", m)
		}
		if labelValue(m, "Hostname") != "gpu-node-1" || labelValue(m, "modelName") != gpuModelName {
			t.Errorf("dcgm labels %v", m.GetLabel())
		}
	}
	// Triton: all four failure reasons exist from the start; the fixture's model label.
	tr := scrape(t, sim, "triton")
	if n := len(tr["nv_inference_request_failure"].GetMetric()); n != 4 {
		t.Errorf("triton failure reasons: %d", n)
	}
	if !hasSeries(tr, "nv_trt_llm_request_metrics", "model", "tensorrt_llm") {
		t.Error("triton: no model=tensorrt_llm series")
	}
	// SGLang: the scheduler labels.
	sg := scrape(t, sim, "sglang")
	m := sg["sglang:num_queue_reqs"].GetMetric()[0]
	if labelValue(m, "engine_type") != "unified" || labelValue(m, "tp_rank") != "0" {
		t.Errorf("sglang labels %v", m.GetLabel())
	}
}

func hasSeries(mfs map[string]*dto.MetricFamily, name, label, val string) bool {
	for _, m := range mfs[name].GetMetric() {
		if labelValue(m, label) == val {
			return true
		}
	}
	return false
}

func TestVLLMLegacy(t *testing.T) {
	sim := startSim(t, true, "vllm")
	steps(sim, 100)
	mfs := scrape(t, sim, "vllm")
	checkFamilies(t, "vllm-legacy", mfs, []famSpec{
		{"vllm:gpu_cache_usage_perc", gauge, "model_name"},
		{"vllm:time_per_output_token_seconds", histogram, "model_name"},
		{"vllm:time_to_first_token_seconds", histogram, "model_name"},
		{"vllm:request_success_total", counter, "model_name,finished_reason"},
	})
	for _, n := range []string{"vllm:kv_cache_usage_perc", "vllm:inter_token_latency_seconds"} {
		if _, ok := mfs[n]; ok {
			t.Errorf("legacy vllm exposes the new name %s", n)
		}
	}
}

func TestSGLangLegacy(t *testing.T) {
	cfg := config{model: "Qwen/Qwen3-0.6B", rps: 5, seed: 1, tick: 250 * time.Millisecond, sglangLegacy: true,
		serves: []serveSpec{{"sglang", "127.0.0.1:0"}}}
	sim, err := newSimulator(cfg, io.Discard)
	must(t, err)
	must(t, sim.start())
	t.Cleanup(sim.close)
	steps(sim, 100)
	mfs := scrape(t, sim, "sglang")
	checkFamilies(t, "sglang-legacy", mfs, []famSpec{
		{"sglang:time_per_output_token_seconds", histogram, "model_name"},
		{"sglang:time_to_first_token_seconds", histogram, "model_name"},
	})
	if _, ok := mfs["sglang:inter_token_latency_seconds"]; ok {
		t.Error("legacy sglang exposes the new name sglang:inter_token_latency_seconds")
	}
	if h := mfs["sglang:time_per_output_token_seconds"].GetMetric()[0].GetHistogram(); h.GetSampleCount() == 0 ||
		h.GetSampleSum()/float64(h.GetSampleCount()) < 0.01 || h.GetSampleSum()/float64(h.GetSampleCount()) > 0.05 {
		t.Errorf("legacy sglang TPOT: %d samples, sum %v (want a mean of 15-40 ms)", h.GetSampleCount(), h.GetSampleSum())
	}
}

// errorFraction reads failed/all requests for an engine from a scrape.
func errorFraction(kind string, m map[string]*dto.MetricFamily) (failed, all float64) {
	switch kind {
	case "vllm":
		return value(m, "vllm:request_success_total", "finished_reason", "error"), value(m, "vllm:request_success_total")
	case "sglang":
		a := value(m, "sglang:num_aborted_requests_total")
		return a, a + value(m, "sglang:num_requests_total")
	case "tgi":
		f := value(m, "tgi_request_failure")
		if math.IsNaN(f) {
			f = 0
		}
		return f, f + value(m, "tgi_request_success")
	case "triton":
		f := value(m, "nv_inference_request_failure", "reason", "BACKEND")
		return f, value(m, "nv_inference_request_failure") + value(m, "nv_inference_request_success")
	case "lmdeploy":
		f := value(m, "lmdeploy:request_success_total", "finished_reason", "ResponseType.INTERNAL_ENGINE_ERROR")
		if math.IsNaN(f) {
			f = 0
		}
		return f, value(m, "lmdeploy:request_success_total")
	case "custom":
		f := value(m, "model_requests_total", "status", "error")
		if math.IsNaN(f) {
			f = 0
		}
		return f, value(m, "model_requests_total")
	}
	panic(kind)
}

func TestErrorBurstRaisesErrorFraction(t *testing.T) {
	kinds := []string{"vllm", "sglang", "tgi", "triton", "lmdeploy", "custom"}
	sim := startSim(t, false, kinds...)
	steps(sim, 400)
	before := map[string][2]float64{}
	for _, k := range kinds {
		f, a := errorFraction(k, scrape(t, sim, k))
		before[k] = [2]float64{f, a}
		if a < 100 || f/a > 0.03 {
			t.Errorf("%s healthy: %v failed of %v", k, f, a)
		}
	}
	if err := sim.setMode("", modeErrorBurst); err != nil {
		t.Fatal(err)
	}
	steps(sim, 400)
	for _, k := range kinds {
		f, a := errorFraction(k, scrape(t, sim, k))
		df, da := f-before[k][0], a-before[k][1]
		if frac := df / da; da < 100 || frac < 0.2 || frac > 0.4 {
			t.Errorf("%s error-burst: error fraction %.3f (%v of %v), want ~0.3", k, frac, df, da)
		}
	}
}

// p95 of the observations added between two scrapes of a histogram.
func p95(before, after *dto.MetricFamily) float64 {
	b, a := before.GetMetric()[0].GetHistogram(), after.GetMetric()[0].GetHistogram()
	total := float64(a.GetSampleCount() - b.GetSampleCount())
	prevBound, prevCount := 0.0, 0.0
	for i, bk := range a.GetBucket() {
		c := float64(bk.GetCumulativeCount() - b.GetBucket()[i].GetCumulativeCount())
		if c >= 0.95*total {
			return prevBound + (bk.GetUpperBound()-prevBound)*(0.95*total-prevCount)/math.Max(c-prevCount, 1e-9)
		}
		prevBound, prevCount = bk.GetUpperBound(), c
	}
	return math.Inf(1)
}

func TestModes(t *testing.T) {
	sim := startSim(t, false, "vllm", "dcgm", "custom", "sglang")
	steps(sim, 200)

	t.Run("latency-spike", func(t *testing.T) {
		before := scrape(t, sim, "vllm")
		must(t, sim.setMode("vllm", modeLatencySpike))
		steps(sim, 240)
		after := scrape(t, sim, "vllm")
		if q := p95(before["vllm:time_to_first_token_seconds"], after["vllm:time_to_first_token_seconds"]); q <= 5 {
			t.Errorf("latency-spike TTFT p95 = %.2fs, want > 5s", q)
		}
		must(t, sim.setMode("vllm", modeHealthy))
		steps(sim, 600) // let the slow requests drain
		b := scrape(t, sim, "vllm")
		steps(sim, 240)
		if q := p95(b["vllm:time_to_first_token_seconds"], scrape(t, sim, "vllm")["vllm:time_to_first_token_seconds"]); q > 0.5 {
			t.Errorf("healthy TTFT p95 = %.2fs, want < 0.5s", q)
		}
	})

	t.Run("queue-growth", func(t *testing.T) {
		must(t, sim.setMode("vllm", modeQueueGrowth))
		steps(sim, 50)
		w1 := value(scrape(t, sim, "vllm"), "vllm:num_requests_waiting")
		steps(sim, 50)
		w2 := value(scrape(t, sim, "vllm"), "vllm:num_requests_waiting")
		if d := w2 - w1; d < 70 || d > 130 {
			t.Errorf("queue grew by %v in 50 ticks, want ~100", d)
		}
		steps(sim, 400)
		if w := value(scrape(t, sim, "vllm"), "vllm:num_requests_waiting"); w != maxBacklog {
			t.Errorf("queue %v after a long growth, want capped near 500", w)
		}
		must(t, sim.setMode("vllm", modeHealthy))
		steps(sim, 100)
		if w := value(scrape(t, sim, "vllm"), "vllm:num_requests_waiting"); w > 10 {
			t.Errorf("queue %v after returning to healthy", w)
		}
	})

	t.Run("kv-full", func(t *testing.T) {
		p0 := value(scrape(t, sim, "vllm"), "vllm:num_preemptions_total")
		r0 := value(scrape(t, sim, "sglang"), "sglang:num_retracted_requests_total")
		must(t, sim.setMode("", modeKVFull))
		steps(sim, 40)
		v, s := scrape(t, sim, "vllm"), scrape(t, sim, "sglang")
		if kv := value(v, "vllm:kv_cache_usage_perc"); kv < 0.97 || kv > 0.995 {
			t.Errorf("kv-full vllm KV %v", kv)
		}
		if kv := value(s, "sglang:token_usage"); kv < 0.97 || kv > 0.995 {
			t.Errorf("kv-full sglang token_usage %v", kv)
		}
		if value(v, "vllm:num_preemptions_total") <= p0 || value(s, "sglang:num_retracted_requests_total") <= r0 {
			t.Error("kv-full: no preemptions/retractions")
		}
		must(t, sim.setMode("", modeHealthy))
	})

	t.Run("throughput-drop", func(t *testing.T) {
		steps(sim, 40)
		g0 := value(scrape(t, sim, "vllm"), "vllm:generation_tokens_total")
		steps(sim, 240)
		g1 := value(scrape(t, sim, "vllm"), "vllm:generation_tokens_total")
		must(t, sim.setMode("vllm", modeThroughputDrop))
		steps(sim, 120) // in-flight requests finish
		g2 := value(scrape(t, sim, "vllm"), "vllm:generation_tokens_total")
		steps(sim, 240)
		g3 := value(scrape(t, sim, "vllm"), "vllm:generation_tokens_total")
		normal, dropped := g1-g0, g3-g2
		if dropped <= 0 || dropped/normal > 0.06 {
			t.Errorf("throughput-drop: %v tokens vs %v normally; want ~2%%, not zero", dropped, normal)
		}
		must(t, sim.setMode("vllm", modeHealthy))
	})

	t.Run("gpu", func(t *testing.T) {
		must(t, sim.setMode("dcgm", modeGPUMemFull))
		must(t, sim.setMode("custom", modeGPUMemFull))
		steps(sim, 4)
		d := scrape(t, sim, "dcgm")
		for _, m := range d["DCGM_FI_DEV_FB_USED"].GetMetric() {
			g := labelValue(m, "gpu")
			used := m.GetGauge().GetValue()
			total := used + value(d, "DCGM_FI_DEV_FB_FREE", "gpu", g) + value(d, "DCGM_FI_DEV_FB_RESERVED", "gpu", g)
			if r := used / total; math.Abs(r-0.97) > 0.002 {
				t.Errorf("gpu-mem-full: GPU %s FB used %.3f of total", g, r)
			}
		}
		if r := value(scrape(t, sim, "custom"), "gpu_memory_used_mb") / customGPUCapacityMB; r < 0.97 {
			t.Errorf("gpu-mem-full custom gpu_memory_used_mb at %.3f of capacity", r)
		}
		must(t, sim.setMode("dcgm", modeGPUHot))
		steps(sim, 2)
		if v := value(scrape(t, sim, "dcgm"), "DCGM_FI_DEV_GPU_TEMP", "gpu", "0"); v != 92 {
			t.Errorf("gpu-hot temperature %v", v)
		}
		must(t, sim.setMode("dcgm", modeGPUXid))
		steps(sim, 2)
		d = scrape(t, sim, "dcgm")
		if !hasSeries(d, "DCGM_FI_DEV_XID_ERRORS", "err_code", "79") || value(d, "DCGM_FI_DEV_XID_ERRORS", "gpu", "0") != 79 {
			t.Errorf("gpu-xid: %v", d["DCGM_FI_DEV_XID_ERRORS"])
		}
		must(t, sim.setMode("dcgm", modeHealthy))
		steps(sim, 2)
		d = scrape(t, sim, "dcgm")
		if value(d, "DCGM_FI_DEV_XID_ERRORS") != 0 || value(d, "DCGM_FI_DEV_GPU_TEMP", "gpu", "0") > 85 {
			t.Error("dcgm did not return to healthy")
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDownRefusesConnections(t *testing.T) {
	sim := startSim(t, false, "vllm", "sglang")
	addr := sim.addrs()["vllm"]
	steps(sim, 10)
	// A kept-alive connection, as Prometheus holds one: it must be closed too.
	client := &http.Client{}
	resp, err := client.Get("http://" + addr + "/metrics")
	must(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()

	must(t, sim.setMode("vllm", modeDown))
	if _, err := net.DialTimeout("tcp", addr, time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("dial %s while down: %v, want connection refused", addr, err)
	}
	if _, err := client.Get("http://" + addr + "/metrics"); err == nil {
		t.Fatal("scrape over the kept-alive client succeeded while down")
	}
	if resp, _ := get(t, "http://"+sim.addrs()["sglang"]+"/health"); resp.StatusCode != 200 {
		t.Error("sglang went down with vllm")
	}
	steps(sim, 10) // the model keeps running while unreachable
	must(t, sim.setMode("vllm", modeHealthy))
	if got := sim.addrs()["vllm"]; got != addr {
		t.Fatalf("vllm came back on %s, was %s", got, addr)
	}
	mfs := scrape(t, sim, "vllm")
	if _, ok := mfs["vllm:num_requests_running"]; !ok {
		t.Error("no metrics after coming back")
	}
}

func TestStartDown(t *testing.T) {
	cfg := config{model: "m", rps: 5, seed: 1, tick: 250 * time.Millisecond, hostname: "h",
		serves: []serveSpec{{"vllm", "127.0.0.1:0"}}, modes: []modeSpec{{"", modeDown}}}
	sim, err := newSimulator(cfg, io.Discard)
	must(t, err)
	must(t, sim.start())
	defer sim.close()
	addr := sim.addrs()["vllm"]
	if strings.HasSuffix(addr, ":0") {
		t.Fatalf("no port reserved: %s", addr)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Fatal("listening although started down")
	}
	must(t, sim.setMode("vllm", modeHealthy))
	if resp, _ := get(t, "http://"+addr+"/health"); resp.StatusCode != 200 {
		t.Fatal("not healthy after leaving down")
	}
}

func TestOllamaHasNoMetrics(t *testing.T) {
	sim := startSim(t, false, "ollama")
	base := "http://" + sim.addrs()["ollama"]
	if resp, _ := get(t, base+"/metrics"); resp.StatusCode != 404 {
		t.Errorf("ollama /metrics: %d, want 404", resp.StatusCode)
	}
	if resp, body := get(t, base+"/"); resp.StatusCode != 200 || string(body) != "Ollama is running" {
		t.Errorf("ollama /: %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, base+"/api/version"); resp.StatusCode != 200 || !strings.Contains(string(body), `"version"`) {
		t.Errorf("ollama /api/version: %d %s", resp.StatusCode, body)
	}
}

func TestDeterministic(t *testing.T) {
	render := func() string {
		sim := startSim(t, false, "vllm", "sglang")
		steps(sim, 150)
		var sb strings.Builder
		for _, k := range []string{"vllm", "sglang"} {
			_, body := get(t, "http://"+sim.addrs()[k]+"/metrics")
			sb.Write(body)
		}
		return sb.String()
	}
	if a, b := render(), render(); a != b {
		t.Error("two runs with the same seed differ")
	}
}

func TestControlAPI(t *testing.T) {
	sim := startSim(t, false, "vllm", "dcgm")
	srv := httptest.NewServer(sim.controlHandler())
	defer srv.Close()
	post := func(q string) (int, map[string]any) {
		resp, err := http.Post(srv.URL+"/mode?"+q, "", nil)
		must(t, err)
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, out := post("engine=vllm&mode=error-burst"); code != 200 || out["vllm"] != "error-burst" || out["dcgm"] != "healthy" {
		t.Errorf("per-engine mode: %d %v", code, out)
	}
	if code, out := post("mode=gpu-hot"); code != 200 || out["vllm"] != "gpu-hot" || out["dcgm"] != "gpu-hot" {
		t.Errorf("global mode: %d %v", code, out)
	}
	if code, _ := post("mode=bogus"); code != 400 {
		t.Errorf("bad mode: %d", code)
	}
	if code, _ := post("engine=tgi&mode=healthy"); code != 400 {
		t.Errorf("engine not served: %d", code)
	}
	resp, body := get(t, srv.URL+"/modes")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"dcgm":"gpu-hot"`) {
		t.Errorf("/modes: %s", body)
	}
	if resp, _ := get(t, srv.URL+"/healthz"); resp.StatusCode != 200 {
		t.Error("/healthz")
	}
}

func TestParseConfig(t *testing.T) {
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }
	cfg, err := parseConfig([]string{"--serve", "vllm=:8000,dcgm", "--serve", "sglang=127.0.0.1:30001", "--mode", "healthy,vllm=kv-full", "--rps", "2"},
		env(map[string]string{"MODELSIM_RPS": "9", "MODELSIM_SEED": "7"}), io.Discard)
	must(t, err)
	want := []serveSpec{{"vllm", ":8000"}, {"dcgm", ":9400"}, {"sglang", "127.0.0.1:30001"}}
	if !slices.Equal(cfg.serves, want) || cfg.rps != 2 || cfg.seed != 7 || len(cfg.modes) != 2 || cfg.modes[1] != (modeSpec{"vllm", "kv-full"}) {
		t.Errorf("config %+v", cfg)
	}
	cfg, err = parseConfig(nil, env(map[string]string{"MODELSIM_SERVE": "vllm=:8000 tgi", "MODELSIM_MODE": "down", "MODELSIM_VLLM_LEGACY": "true", "MODELSIM_CONTROL": "0.0.0.0:9999"}), io.Discard)
	must(t, err)
	if len(cfg.serves) != 2 || cfg.serves[1] != (serveSpec{"tgi", ":3000"}) || !cfg.vllmLegacy || cfg.control != "0.0.0.0:9999" || cfg.modes[0].mode != "down" {
		t.Errorf("env config %+v", cfg)
	}
	for _, bad := range [][]string{
		{},
		{"--serve", "nope=:1"},
		{"--serve", "vllm=:x"},
		{"--serve", "vllm", "--serve", "vllm=:9"},
		{"--serve", "vllm", "--mode", "sideways"},
		{"--serve", "vllm", "--mode", "tgi=down"},
		{"--serve", "vllm", "--rps", "0"},
		{"--serve", "vllm", "--rps", "abc"},
		{"--serve", "vllm", "--tick", "1ms"},
		{"--serve", "vllm", "extra"},
		{"--bogus"},
	} {
		if _, err := parseConfig(bad, env(nil), io.Discard); err == nil {
			t.Errorf("parseConfig(%q) accepted", bad)
		}
	}
	if _, err := parseConfig([]string{"--serve", "vllm"}, env(map[string]string{"MODELSIM_RPS": "fast"}), io.Discard); err == nil {
		t.Error("bad MODELSIM_RPS accepted")
	}
}

// TestBadFlagsExit2 runs main with bad flags in a child process: a clear message and exit 2.
func TestBadFlagsExit2(t *testing.T) {
	for _, args := range []string{"--serve nope=:1", "--bogus", "--serve vllm --mode sideways"} {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "MODELSIM_TEST_RUN_MAIN=1", "MODELSIM_TEST_ARGS="+args)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("%q: %v, want exit status 2\n%s", args, err, out)
		}
		if strings.Contains(string(out), "panic") || !strings.Contains(string(out), "modelsim") {
			t.Errorf("%q: output %s", args, out)
		}
	}
}

// TestVLLMSupersetOfRealDump: every family of a real vLLM V1 /metrics dump (the shared fixture)
// is exposed by the simulator with the same type, buckets and (at least) the same label names,
// allowing for the documented renames.
func TestVLLMSupersetOfRealDump(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "fixtures", "metrics", "vllm.prom")
	data, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("fixture %s is required in CI: %v", path, err)
		}
		t.Skipf("fixture %s not available (%v); set up /work/shared/fixtures to run this test", path, err)
	}
	real := parseText(t, data)
	if len(real) < 20 {
		t.Fatalf("fixture has only %d families", len(real))
	}
	// Renamed in vLLM 0.11+ (old name deprecated, then hidden, then removed; see llm-metrics.md).
	renames := map[string]string{
		"vllm:gpu_cache_usage_perc":          "vllm:kv_cache_usage_perc",
		"vllm:time_per_output_token_seconds": "vllm:inter_token_latency_seconds",
	}
	// Only exposed when the server runs with LoRA adapters (--enable-lora); the dump's server did.
	conditional := map[string]bool{"vllm:lora_requests_info": true}

	for _, legacy := range []bool{false, true} {
		sim := startSim(t, legacy, "vllm")
		steps(sim, 100)
		got := scrape(t, sim, "vllm")
		for name, want := range real {
			if conditional[name] {
				continue
			}
			simName := name
			if !legacy && renames[name] != "" {
				simName = renames[name]
			}
			mf := got[simName]
			if mf == nil {
				t.Errorf("legacy=%v: family %s (real dump: %s) missing", legacy, simName, name)
				continue
			}
			if mf.GetType() != want.GetType() {
				t.Errorf("legacy=%v: %s is %v, the real one %v", legacy, simName, mf.GetType(), want.GetType())
			}
			if legacy && mf.GetHelp() != want.GetHelp() {
				t.Errorf("legacy: %s HELP %q, the real one %q", name, mf.GetHelp(), want.GetHelp())
			}
			wl, gl := labelNames(want.GetMetric()[0]), labelNames(mf.GetMetric()[0])
			for _, l := range wl {
				if !slices.Contains(gl, l) {
					t.Errorf("legacy=%v: %s lacks label %s (has %v)", legacy, simName, l, gl)
				}
			}
			if want.GetType() == dto.MetricType_HISTOGRAM {
				var wb, gb []float64
				for _, b := range want.GetMetric()[0].GetHistogram().GetBucket() {
					wb = append(wb, b.GetUpperBound())
				}
				for _, b := range mf.GetMetric()[0].GetHistogram().GetBucket() {
					gb = append(gb, b.GetUpperBound())
				}
				if !slices.Equal(wb, gb) {
					t.Errorf("legacy=%v: %s buckets %v, the real ones %v", legacy, simName, gb, wb)
				}
			}
		}
	}
}
