package main

import (
	"fmt"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// engine turns what happened during a tick into one engine's metrics.
type engine interface {
	update(ts *tickStats)
}

// engineKinds lists the engines modelsim can serve.
var engineKinds = []string{"vllm", "sglang", "tgi", "llamacpp", "triton", "lmdeploy", "custom", "dcgm", "ollama"}

// options shared by all engines.
type engineOptions struct {
	model        string
	vllmLegacy   bool
	sglangLegacy bool
	hostname     string
}

func newEngine(kind string, reg *prometheus.Registry, o engineOptions) (engine, error) {
	switch kind {
	case "vllm":
		return newVLLM(reg, o), nil
	case "sglang":
		return newSGLang(reg, o), nil
	case "tgi":
		return newTGI(reg), nil
	case "llamacpp":
		return newLlamaCpp(reg), nil
	case "triton":
		return newTriton(reg), nil
	case "lmdeploy":
		return newLMDeploy(reg, o), nil
	case "custom":
		return newCustom(reg, o), nil
	case "dcgm":
		return newDCGM(reg, o), nil
	case "ollama":
		return nil, nil // no metrics at all
	}
	return nil, fmt.Errorf("unknown engine %q", kind)
}

// factory registers metrics that all carry the same constant labels.
type factory struct {
	reg    *prometheus.Registry
	labels prometheus.Labels
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: f.labels})
	f.reg.MustRegister(c)
	return c
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: f.labels}, labels)
	f.reg.MustRegister(c)
	return c
}

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: f.labels})
	f.reg.MustRegister(g)
	return g
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: f.labels}, labels)
	f.reg.MustRegister(g)
	return g
}

func (f factory) hist(name, help string, buckets []float64) prometheus.Histogram {
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets, ConstLabels: f.labels})
	f.reg.MustRegister(h)
	return h
}

func (f factory) histVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets, ConstLabels: f.labels}, labels)
	f.reg.MustRegister(h)
	return h
}

// Bucket layouts, as the engines define them.
var (
	vllmTTFTBuckets    = []float64{0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0}
	vllmITLBuckets     = []float64{0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0}
	vllmLatencyBuckets = []float64{0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0}
	vllmTokenBuckets   = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000} // 1-2-5 up to max_model_len 8192
	vllmIterBuckets    = []float64{1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384}
	vllmNBuckets       = []float64{1, 2, 5, 10, 20}

	sglangTTFTBuckets = []float64{0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400}
	sglangITLBuckets  = []float64{0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.025, 0.030, 0.035, 0.040, 0.060, 0.080, 0.100, 0.200, 0.400, 0.600, 0.800, 1.000, 2.000, 4.000, 6.000, 8.000}
	// Releases before inter_token_latency_seconds observed a per-request TPOT instead.
	sglangTPOTBuckets = []float64{0.002, 0.005, 0.010, 0.020, 0.030, 0.040, 0.050, 0.060, 0.070, 0.080, 0.090, 0.100, 0.150, 0.200, 0.300, 0.400, 0.600, 0.800, 1.000, 2.000}
	sglangE2EBuckets  = []float64{0.1, 0.2, 0.4, 0.6, 0.8, 1, 2, 4, 6, 8, 10, 20, 40, 60, 80, 100, 200, 400, 600, 1200, 1800, 2400}

	pythonDefaultBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0}
)

// tgiDurationBuckets: TGI's router uses 35 geometric buckets starting at 0.0001*1.5 for every
// histogram whose name ends in "duration".
func tgiDurationBuckets() []float64 {
	b, v := make([]float64, 0, 35), 0.0001
	for range 35 {
		v *= 1.5
		b = append(b, v)
	}
	return b
}

// tgiLinearBuckets: 100 linear buckets up to max (TGI's token-length histograms).
func tgiLinearBuckets(maxTokens float64) []float64 {
	b := make([]float64, 100)
	for i := range b {
		b[i] = maxTokens / 100 * float64(i+1)
	}
	return b
}

// ---------------------------------------------------------------- vLLM (V1 engine)

type vllmEngine struct {
	legacy                                    bool
	running, waiting, kv                      prometheus.Gauge
	success                                   *prometheus.CounterVec
	prompt, gen, preempt, pcQueries, pcHits   prometheus.Counter
	promptCached                              prometheus.Counter
	ttft, itl, tpot, e2e, queue, inference    prometheus.Histogram
	prefill, decode, reqPrompt, reqGen, iters prometheus.Histogram
	paramsN, paramsMaxTokens, maxNumGen       prometheus.Histogram
}

func newVLLM(reg *prometheus.Registry, o engineOptions) *vllmEngine {
	labels := prometheus.Labels{"model_name": o.model, "engine": "0"}
	if o.vllmLegacy {
		labels = prometheus.Labels{"model_name": o.model}
	}
	f := factory{reg, labels}
	e := &vllmEngine{legacy: o.vllmLegacy}
	info := prometheus.Labels{"block_size": "16", "cache_dtype": "auto", "calculate_kv_scales": "False",
		"cpu_kvcache_space_bytes": "4294967296", "cpu_offload_gb": "0.0", "enable_prefix_caching": "True",
		"gpu_memory_utilization": "0.9", "is_attention_free": "False", "num_cpu_blocks": "0", "num_gpu_blocks": "2340",
		"num_gpu_blocks_override": "None", "prefix_caching_hash_algo": "builtin", "sliding_window": "None",
		"swap_space": "4.0", "swap_space_bytes": "4294967296.0"}
	if !o.vllmLegacy {
		info["engine"] = "0"
	}
	factory{reg, info}.gauge("vllm:cache_config_info", "Information of the LLMEngine CacheConfig").Set(1)

	if o.vllmLegacy {
		e.running = f.gauge("vllm:num_requests_running", "Number of requests currently running on GPU.")
	} else {
		e.running = f.gauge("vllm:num_requests_running", "Number of requests in model execution batches.")
	}
	e.waiting = f.gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.")
	if o.vllmLegacy {
		e.kv = f.gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.")
	} else {
		e.kv = f.gauge("vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.")
	}
	e.preempt = f.counter("vllm:num_preemptions_total", "Cumulative number of preemption from the engine.")
	e.prompt = f.counter("vllm:prompt_tokens_total", "Number of prefill tokens processed.")
	e.gen = f.counter("vllm:generation_tokens_total", "Number of generation tokens processed.")
	e.success = f.counterVec("vllm:request_success_total", "Count of successfully processed requests.", "finished_reason")
	for _, r := range []string{"stop", "length", "abort", "error"} {
		e.success.WithLabelValues(r) // V1 creates a series for every finish reason up front
	}
	e.pcQueries = f.counter("vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.")
	e.pcHits = f.counter("vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.")
	if !o.vllmLegacy {
		e.promptCached = f.counter("vllm:prompt_tokens_cached_total", "Number of cached prompt tokens (local + external).")
	}
	e.iters = f.hist("vllm:iteration_tokens_total", "Histogram of number of tokens per engine_step.", vllmIterBuckets)
	e.ttft = f.hist("vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", vllmTTFTBuckets)
	if o.vllmLegacy {
		e.itl = f.hist("vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds.", vllmITLBuckets)
	} else {
		e.itl = f.hist("vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", vllmITLBuckets)
		e.tpot = f.hist("vllm:request_time_per_output_token_seconds", "Histogram of time_per_output_token_seconds per request.", vllmITLBuckets)
	}
	e.e2e = f.hist("vllm:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.", vllmLatencyBuckets)
	e.queue = f.hist("vllm:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", vllmLatencyBuckets)
	e.inference = f.hist("vllm:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", vllmLatencyBuckets)
	e.prefill = f.hist("vllm:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", vllmLatencyBuckets)
	e.decode = f.hist("vllm:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", vllmLatencyBuckets)
	e.reqPrompt = f.hist("vllm:request_prompt_tokens", "Number of prefill tokens processed.", vllmTokenBuckets)
	e.reqGen = f.hist("vllm:request_generation_tokens", "Number of generation tokens processed.", vllmTokenBuckets)
	e.paramsN = f.hist("vllm:request_params_n", "Histogram of the n request parameter.", vllmNBuckets)
	e.maxNumGen = f.hist("vllm:request_max_num_generation_tokens", "Histogram of maximum number of requested generation tokens.", vllmTokenBuckets)
	e.paramsMaxTokens = f.hist("vllm:request_params_max_tokens", "Histogram of the max_tokens request parameter.", vllmTokenBuckets)
	return e
}

func (e *vllmEngine) update(ts *tickStats) {
	promptTokens := 0
	for _, r := range ts.admitted {
		promptTokens += r.prompt
		e.prompt.Add(float64(r.prompt))
		e.pcQueries.Add(float64(r.prompt))
		e.pcHits.Add(float64(r.cached))
		if e.promptCached != nil {
			e.promptCached.Add(float64(r.cached))
		}
	}
	for _, r := range ts.first {
		e.ttft.Observe(r.queue + r.ttft)
	}
	e.gen.Add(float64(ts.genTokens))
	for _, v := range ts.itl {
		e.itl.Observe(v)
	}
	for range ts.steps {
		e.iters.Observe(float64((promptTokens + ts.genTokens) / ts.steps))
	}
	for _, r := range ts.finished {
		e.success.WithLabelValues(r.outcome).Inc()
		e.e2e.Observe(r.e2e)
		e.queue.Observe(r.queue)
		e.inference.Observe(r.e2e - r.queue)
		e.prefill.Observe(r.ttft)
		e.decode.Observe(r.decodeTime())
		e.reqPrompt.Observe(float64(r.prompt))
		e.reqGen.Observe(float64(r.out))
		e.paramsN.Observe(1)
		e.paramsMaxTokens.Observe(float64(r.maxTokens))
		e.maxNumGen.Observe(float64(r.maxTokens))
		if e.tpot != nil && r.out > 1 {
			e.tpot.Observe(r.decodeTime() / float64(r.out-1))
		}
	}
	e.running.Set(float64(ts.running))
	e.waiting.Set(float64(ts.waiting))
	e.kv.Set(ts.kv)
	e.preempt.Add(float64(ts.preempted))
}

// ---------------------------------------------------------------- SGLang

type sglangEngine struct {
	running, queue, grammarQueue, tokenUsage, usedTokens, hitRate, genThroughput prometheus.Gauge
	retracted, prompt, gen, cached, requests, aborted, structured                prometheus.Counter
	realtime                                                                     *prometheus.CounterVec
	ttft, itl, tpot, e2e, queueTime                                              prometheus.Histogram
	maxTokens                                                                    float64
}

func newSGLang(reg *prometheus.Registry, o engineOptions) *sglangEngine {
	sched := factory{reg, prometheus.Labels{"model_name": o.model, "engine_type": "unified", "tp_rank": "0", "pp_rank": "0", "moe_ep_rank": "0"}}
	tok := factory{reg, prometheus.Labels{"model_name": o.model}}
	e := &sglangEngine{maxTokens: 262144}
	e.running = sched.gauge("sglang:num_running_reqs", "The number of running requests.")
	e.queue = sched.gauge("sglang:num_queue_reqs", "The number of requests in the waiting queue.")
	e.grammarQueue = sched.gauge("sglang:num_grammar_queue_reqs", "The number of requests in the grammar waiting queue.")
	e.tokenUsage = sched.gauge("sglang:token_usage", "The token usage.")
	e.usedTokens = sched.gauge("sglang:num_used_tokens", "The number of used tokens.")
	sched.gauge("sglang:max_total_num_tokens", "Maximum total number of tokens in the KV cache pool.").Set(e.maxTokens)
	e.hitRate = sched.gauge("sglang:cache_hit_rate", "The prefix cache hit rate.")
	e.genThroughput = sched.gauge("sglang:gen_throughput", "The generation throughput (token/s).")
	sched.gauge("sglang:spec_accept_length", "The average acceptance length of speculative decoding.")
	e.retracted = sched.counter("sglang:num_retracted_requests_total", "Total number of retracted requests due to kvcache full.")
	e.realtime = sched.counterVec("sglang:realtime_tokens_total", "Total number of tokens processed (updated on each log interval).", "mode")
	e.queueTime = sched.hist("sglang:queue_time_seconds", "Histogram of queueing time in seconds.", sglangE2EBuckets)
	e.prompt = tok.counter("sglang:prompt_tokens_total", "Number of prefill tokens processed.")
	e.gen = tok.counter("sglang:generation_tokens_total", "Number of generation tokens processed.")
	e.cached = tok.counter("sglang:cached_tokens_total", "Number of cached prompt tokens.")
	e.requests = tok.counter("sglang:num_requests_total", "Number of requests processed.")
	e.aborted = tok.counter("sglang:num_aborted_requests_total", "Number of requests aborted.")
	e.structured = tok.counter("sglang:num_so_requests_total", "Number of structured output requests processed.")
	e.ttft = tok.hist("sglang:time_to_first_token_seconds", "Histogram of time to first token in seconds.", sglangTTFTBuckets)
	if o.sglangLegacy {
		e.tpot = tok.hist("sglang:time_per_output_token_seconds", "Histogram of time per output token in seconds.", sglangTPOTBuckets)
	} else {
		e.itl = tok.hist("sglang:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", sglangITLBuckets)
	}
	e.e2e = tok.hist("sglang:e2e_request_latency_seconds", "Histogram of End-to-end request latency in seconds", sglangE2EBuckets)
	return e
}

func (e *sglangEngine) update(ts *tickStats) {
	prompt, cached := 0, 0
	for _, r := range ts.admitted {
		prompt += r.prompt
		cached += r.cached
		e.queueTime.Observe(r.queue)
	}
	e.prompt.Add(float64(prompt))
	e.cached.Add(float64(cached))
	e.realtime.WithLabelValues("prefill_compute").Add(float64(prompt - cached))
	e.realtime.WithLabelValues("prefill_cache").Add(float64(cached))
	e.realtime.WithLabelValues("decode").Add(float64(ts.genTokens))
	if prompt > 0 {
		e.hitRate.Set(float64(cached) / float64(prompt))
	}
	for _, r := range ts.first {
		e.ttft.Observe(r.queue + r.ttft)
	}
	e.gen.Add(float64(ts.genTokens))
	if e.itl != nil {
		for _, v := range ts.itl {
			e.itl.Observe(v)
		}
	}
	for _, r := range ts.finished {
		e.e2e.Observe(r.e2e)
		if e.tpot != nil && r.out > 1 {
			e.tpot.Observe(r.decodeTime() / float64(r.out-1))
		}
		if r.ok() {
			e.requests.Inc()
			if r.structOut {
				e.structured.Inc()
			}
		} else {
			e.aborted.Inc()
		}
	}
	e.running.Set(float64(ts.running))
	e.queue.Set(float64(ts.waiting))
	e.grammarQueue.Set(0)
	e.tokenUsage.Set(ts.kv)
	e.usedTokens.Set(math.Round(ts.kv * e.maxTokens))
	e.genThroughput.Set(float64(ts.genTokens) / ts.dt)
	e.retracted.Add(float64(ts.preempted))
}

// ---------------------------------------------------------------- Hugging Face TGI

type tgiEngine struct {
	count, success                                          prometheus.Counter
	failure, batchCount, batchSuccess                       *prometheus.CounterVec
	queueSize, batchSize, batchMaxTokens                    prometheus.Gauge
	duration, queueDur, validationDur, inferenceDur, meanTP prometheus.Histogram
	inputLen, genTokens, maxNew                             prometheus.Histogram
	forward, batchInference, batchDecode                    *prometheus.HistogramVec
	maxBatchTotal                                           float64
}

func newTGI(reg *prometheus.Registry) *tgiEngine {
	f := factory{reg: reg}
	d := tgiDurationBuckets()
	e := &tgiEngine{maxBatchTotal: 65536}
	// metrics-exporter-prometheus does not append _total to counters.
	e.count = f.counter("tgi_request_count", "Total number of requests received.")
	e.success = f.counter("tgi_request_success", "Number of successful requests.")
	e.failure = f.counterVec("tgi_request_failure", "Number of failed requests, by error kind.", "err")
	e.batchCount = f.counterVec("tgi_batch_inference_count", "Inference calls per method (prefill or decode).", "method")
	e.batchSuccess = f.counterVec("tgi_batch_inference_success", "Successful inference calls per method.", "method")
	e.queueSize = f.gauge("tgi_queue_size", "Number of requests waiting in the queue.")
	e.batchSize = f.gauge("tgi_batch_current_size", "Current batch size.")
	e.batchMaxTokens = f.gauge("tgi_batch_current_max_tokens", "Maximum tokens of the current batch.")
	f.gauge("tgi_batch_max_total_tokens", "Maximum total tokens a batch can hold.").Set(e.maxBatchTotal)
	e.duration = f.hist("tgi_request_duration", "Request duration (end to end), seconds.", d)
	e.queueDur = f.hist("tgi_request_queue_duration", "Time spent in the queue, seconds.", d)
	e.validationDur = f.hist("tgi_request_validation_duration", "Request validation time, seconds.", d)
	e.inferenceDur = f.hist("tgi_request_inference_duration", "Request inference time, seconds.", d)
	e.meanTP = f.hist("tgi_request_mean_time_per_token_duration", "Mean time per generated token, seconds.", d)
	e.inputLen = f.hist("tgi_request_input_length", "Input tokens per request.", tgiLinearBuckets(4095))
	e.genTokens = f.hist("tgi_request_generated_tokens", "Generated tokens per request.", tgiLinearBuckets(4096))
	e.maxNew = f.hist("tgi_request_max_new_tokens", "max_new_tokens parameter per request.", tgiLinearBuckets(4096))
	e.forward = f.histVec("tgi_batch_forward_duration", "Batch forward duration per method, seconds.", d, "method")
	e.batchInference = f.histVec("tgi_batch_inference_duration", "Batch inference duration per method, seconds.", d, "method")
	e.batchDecode = f.histVec("tgi_batch_decode_duration", "Batch decode duration per method, seconds.", d, "method")
	return e
}

func (e *tgiEngine) update(ts *tickStats) {
	e.count.Add(float64(len(ts.arrived)))
	for range ts.arrived {
		e.validationDur.Observe(ts.rng.Float64()*0.0015 + 0.0005)
	}
	if n := len(ts.admitted); n > 0 {
		e.batchCount.WithLabelValues("prefill").Add(float64(n))
		e.batchSuccess.WithLabelValues("prefill").Add(float64(n))
		for _, r := range ts.admitted {
			e.forward.WithLabelValues("prefill").Observe(r.ttft * 0.9)
			e.batchInference.WithLabelValues("prefill").Observe(r.ttft)
			e.batchDecode.WithLabelValues("prefill").Observe(r.ttft * 0.05)
		}
	}
	if ts.running > 0 {
		e.batchCount.WithLabelValues("decode").Add(float64(ts.steps))
		e.batchSuccess.WithLabelValues("decode").Add(float64(ts.steps))
		for range ts.steps {
			step := ts.dt / float64(ts.steps)
			e.forward.WithLabelValues("decode").Observe(step * 0.9)
			e.batchInference.WithLabelValues("decode").Observe(step)
			e.batchDecode.WithLabelValues("decode").Observe(step * 0.05)
		}
	}
	for _, r := range ts.finished {
		switch r.outcome {
		case "stop", "length":
			e.success.Inc()
		case "error":
			e.failure.WithLabelValues("generation").Inc()
		default:
			continue // client went away: neither success nor failure
		}
		e.duration.Observe(r.e2e)
		e.queueDur.Observe(r.queue)
		e.inferenceDur.Observe(r.e2e - r.queue)
		if r.out > 1 {
			e.meanTP.Observe(r.decodeTime() / float64(r.out-1))
		}
		e.inputLen.Observe(float64(r.prompt))
		e.genTokens.Observe(float64(r.out))
		e.maxNew.Observe(float64(r.maxTokens))
	}
	e.queueSize.Set(float64(ts.waiting))
	e.batchSize.Set(float64(ts.running))
	e.batchMaxTokens.Set(math.Round(ts.kv * e.maxBatchTotal))
}

// ---------------------------------------------------------------- llama.cpp server

type llamaCppEngine struct {
	prompt, promptSec, predicted, predictedSec, decodes prometheus.Counter
	busy, promptTPS, predictedTPS, processing, deferred prometheus.Gauge
	tokensMax                                           float64
}

func newLlamaCpp(reg *prometheus.Registry) *llamaCppEngine {
	f := factory{reg: reg}
	e := &llamaCppEngine{}
	e.prompt = f.counter("llamacpp:prompt_tokens_total", "Number of prompt tokens processed.")
	e.promptSec = f.counter("llamacpp:prompt_seconds_total", "Prompt process time")
	e.predicted = f.counter("llamacpp:tokens_predicted_total", "Number of generation tokens processed.")
	e.predictedSec = f.counter("llamacpp:tokens_predicted_seconds_total", "Predict process time")
	e.decodes = f.counter("llamacpp:n_decode_total", "Total number of llama_decode() calls")
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "llamacpp:n_tokens_max", Help: "Largest observed n_tokens."},
		func() float64 { return e.tokensMax }))
	e.busy = f.gauge("llamacpp:n_busy_slots_per_decode", "Average number of busy slots per llama_decode() call")
	e.promptTPS = f.gauge("llamacpp:prompt_tokens_seconds", "Average prompt throughput in tokens/s.")
	e.predictedTPS = f.gauge("llamacpp:predicted_tokens_seconds", "Average generation throughput in tokens/s.")
	e.processing = f.gauge("llamacpp:requests_processing", "Number of requests processing.")
	e.deferred = f.gauge("llamacpp:requests_deferred", "Number of requests deferred.")
	return e
}

func (e *llamaCppEngine) update(ts *tickStats) {
	prompt, promptSec := 0, 0.0
	for _, r := range ts.first {
		prompt += r.prompt
		promptSec += r.ttft
		e.tokensMax = math.Max(e.tokensMax, float64(r.prompt+r.out))
	}
	e.prompt.Add(float64(prompt))
	e.promptSec.Add(promptSec)
	if promptSec > 0 {
		e.promptTPS.Set(float64(prompt) / promptSec)
	}
	e.predicted.Add(float64(ts.genTokens))
	e.predictedSec.Add(ts.decodeSec)
	if ts.decodeSec > 0 {
		e.predictedTPS.Set(float64(len(ts.itl)) / ts.decodeSec)
	}
	if ts.running > 0 {
		e.decodes.Add(float64(ts.steps))
	}
	e.busy.Set(float64(ts.running))
	e.processing.Set(float64(ts.running))
	e.deferred.Set(float64(ts.waiting))
}

// ---------------------------------------------------------------- NVIDIA Triton + TensorRT-LLM backend

type tritonEngine struct {
	success, count, execCount, durReq, durQueue, durIn, durInfer, durOut prometheus.Counter
	failure                                                              *prometheus.CounterVec
	pending                                                              prometheus.Gauge
	firstResponse                                                        prometheus.Histogram
	inputLen, outputLen                                                  prometheus.Observer
	reqMetrics, kvBlocks, ifb, general                                   *prometheus.GaugeVec
	gpuUtil, gpuMemUsed, gpuPower                                        *prometheus.GaugeVec
	energy                                                               *prometheus.CounterVec
	cpuUtil, cpuMemUsed                                                  prometheus.Gauge
	iterations                                                           float64
}

const (
	tritonModel     = "tensorrt_llm"
	tritonKVBlocks  = 6239
	tritonGPUMemory = 85899345920 // 80 GiB
)

func newTriton(reg *prometheus.Registry) *tritonEngine {
	m := factory{reg, prometheus.Labels{"model": tritonModel, "version": "1"}}
	host := factory{reg: reg}
	e := &tritonEngine{}
	e.success = m.counter("nv_inference_request_success", "Number of successful inference requests, all batch sizes")
	e.failure = m.counterVec("nv_inference_request_failure", "Number of failed inference requests, all batch sizes", "reason")
	for _, r := range []string{"REJECTED", "CANCELED", "BACKEND", "OTHER"} {
		e.failure.WithLabelValues(r)
	}
	e.count = m.counter("nv_inference_count", "Number of inferences performed (does not include cached requests)")
	e.execCount = m.counter("nv_inference_exec_count", "Number of model executions performed (does not include cached requests)")
	e.durReq = m.counter("nv_inference_request_duration_us", "Cumulative inference request duration in microseconds (includes cached requests)")
	e.durQueue = m.counter("nv_inference_queue_duration_us", "Cumulative inference queuing duration in microseconds (includes cached requests)")
	e.durIn = m.counter("nv_inference_compute_input_duration_us", "Cumulative compute input duration in microseconds (does not include cached requests)")
	e.durInfer = m.counter("nv_inference_compute_infer_duration_us", "Cumulative compute inference duration in microseconds (does not include cached requests)")
	e.durOut = m.counter("nv_inference_compute_output_duration_us", "Cumulative inference compute output duration in microseconds (does not include cached requests)")
	e.pending = m.gauge("nv_inference_pending_request_count", "Instantaneous number of pending requests awaiting execution per-model.")
	e.firstResponse = m.hist("nv_inference_first_response_histogram_ms", "Duration from request to first response in milliseconds", []float64{100, 500, 2000, 5000})
	e.inputLen = m.histVec("nv_llm_input_token_len", "TRT LLM response metrics", []float64{10, 50, 100, 500, 1000}, "response_metric_type").WithLabelValues("total_input_tokens")
	e.outputLen = m.histVec("nv_llm_output_token_len", "TRT LLM response metrics", []float64{10, 50, 100, 500, 1000}, "response_metric_type").WithLabelValues("total_output_tokens")
	e.reqMetrics = m.gaugeVec("nv_trt_llm_request_metrics", "TRT LLM request metrics", "request_type")
	e.reqMetrics.WithLabelValues("max").Set(512)
	mem := m.gaugeVec("nv_trt_llm_runtime_memory_metrics", "TRT LLM runtime memory metrics", "memory_type")
	mem.WithLabelValues("pinned").Set(0)
	mem.WithLabelValues("gpu").Set(1610236)
	mem.WithLabelValues("cpu").Set(0)
	e.kvBlocks = m.gaugeVec("nv_trt_llm_kv_cache_block_metrics", "TRT LLM KV cache block metrics", "kv_cache_block_type")
	e.kvBlocks.WithLabelValues("tokens_per").Set(64)
	e.kvBlocks.WithLabelValues("max").Set(tritonKVBlocks)
	e.ifb = m.gaugeVec("nv_trt_llm_inflight_batcher_metrics", "TRT LLM inflight_batcher-specific metrics", "inflight_batcher_specific_metric")
	e.general = m.gaugeVec("nv_trt_llm_general_metrics", "General TRT LLM metrics", "general_type")
	dis := m.counterVec("nv_trt_llm_disaggregated_serving_metrics", "TRT LLM disaggregated serving metrics", "disaggregated_serving_type")
	dis.WithLabelValues("kv_cache_transfer_ms")
	dis.WithLabelValues("request_count")
	e.gpuUtil = host.gaugeVec("nv_gpu_utilization", "GPU utilization rate [0.0 - 1.0)", "gpu_uuid")
	host.gaugeVec("nv_gpu_memory_total_bytes", "GPU total memory, in bytes", "gpu_uuid").WithLabelValues(gpus[0].uuid).Set(tritonGPUMemory)
	e.gpuMemUsed = host.gaugeVec("nv_gpu_memory_used_bytes", "GPU used memory, in bytes", "gpu_uuid")
	e.gpuPower = host.gaugeVec("nv_gpu_power_usage", "GPU power usage in watts", "gpu_uuid")
	host.gaugeVec("nv_gpu_power_limit", "GPU power management limit in watts", "gpu_uuid").WithLabelValues(gpus[0].uuid).Set(700)
	e.energy = host.counterVec("nv_energy_consumption", "GPU energy consumption in joules since the Triton Server started", "gpu_uuid")
	e.cpuUtil = host.gauge("nv_cpu_utilization", "CPU utilization rate [0.0 - 1.0]")
	host.gauge("nv_cpu_memory_total_bytes", "CPU total memory (RAM), in bytes").Set(270582939648)
	e.cpuMemUsed = host.gauge("nv_cpu_memory_used_bytes", "CPU used memory (RAM), in bytes")
	return e
}

func (e *tritonEngine) update(ts *tickStats) {
	for _, r := range ts.first {
		e.firstResponse.Observe((r.queue + r.ttft) * 1000)
	}
	contextTokens := 0
	for _, r := range ts.admitted {
		contextTokens += r.prompt
	}
	for _, r := range ts.finished {
		switch r.outcome {
		case "error":
			e.failure.WithLabelValues("BACKEND").Inc()
			continue
		case "abort":
			e.failure.WithLabelValues("CANCELED").Inc()
			continue
		}
		e.success.Inc()
		e.count.Inc()
		e.execCount.Inc()
		e.durReq.Add(r.e2e * 1e6)
		e.durQueue.Add(r.queue * 1e6)
		e.durIn.Add(80 + ts.rng.Float64()*40)
		e.durInfer.Add((r.e2e - r.queue) * 1e6)
		e.durOut.Add(40 + ts.rng.Float64()*20)
		e.inputLen.Observe(float64(r.prompt))
		e.outputLen.Observe(float64(r.out))
	}
	e.pending.Set(float64(ts.waiting))
	e.reqMetrics.WithLabelValues("active").Set(float64(ts.running))
	e.reqMetrics.WithLabelValues("scheduled").Set(float64(ts.running))
	e.reqMetrics.WithLabelValues("context").Set(float64(ts.prefilling))
	e.reqMetrics.WithLabelValues("waiting").Set(float64(ts.waiting))
	used := math.Round(ts.kv * tritonKVBlocks)
	e.kvBlocks.WithLabelValues("used").Set(used)
	e.kvBlocks.WithLabelValues("free").Set(tritonKVBlocks - used)
	e.kvBlocks.WithLabelValues("fraction").Set(used / tritonKVBlocks)
	e.ifb.WithLabelValues("micro_batch_id").Set(0)
	e.ifb.WithLabelValues("generation_requests").Set(float64(ts.running - ts.prefilling))
	e.ifb.WithLabelValues("total_context_tokens").Set(float64(contextTokens))
	if ts.running > 0 {
		e.iterations += float64(ts.steps)
	}
	e.general.WithLabelValues("iteration_counter").Set(e.iterations)
	e.general.WithLabelValues("timestamp").Set(float64(time.Now().Unix()))

	g := gpus[0].uuid
	util := 0.3 + 0.6*ts.load
	if ts.mode == modeThroughputDrop {
		util = 0.02
	}
	e.gpuUtil.WithLabelValues(g).Set(clamp(util+(ts.rng.Float64()-0.5)*0.05, 0, 1))
	memFrac := 0.88 + ts.rng.Float64()*0.01
	if ts.mode == modeGPUMemFull {
		memFrac = 0.97 + ts.rng.Float64()*0.02
	}
	e.gpuMemUsed.WithLabelValues(g).Set(math.Round(memFrac * tritonGPUMemory))
	power := 250 + 350*util
	e.gpuPower.WithLabelValues(g).Set(power)
	e.energy.WithLabelValues(g).Add(power * ts.dt)
	e.cpuUtil.Set(0.1 + 0.2*ts.load)
	e.cpuMemUsed.Set(32e9 + ts.rng.Float64()*1e9)
}

// ---------------------------------------------------------------- LMDeploy

type lmdeployEngine struct {
	running, waiting, routed, apiWaiting, succeeded, failed, kv, hitRate prometheus.Gauge
	prompt, gen, cached                                                  prometheus.Counter
	success                                                              *prometheus.CounterVec
	ttft, tpot, itl, e2e, queue, inference, prefill, decode              prometheus.Histogram
	reqPrompt, reqGen, reqCached, reqHit, iters                          prometheus.Histogram
	nOK, nFail                                                           int
}

func newLMDeploy(reg *prometheus.Registry, o engineOptions) *lmdeployEngine {
	f := factory{reg, prometheus.Labels{"model_name": o.model, "engine": "0"}}
	e := &lmdeployEngine{}
	e.running = f.gauge("lmdeploy:num_requests_running", "Number of requests currently running.")
	e.waiting = f.gauge("lmdeploy:num_requests_waiting", "Number of requests waiting to be processed.")
	e.routed = f.gauge("lmdeploy:num_api_requests_routed", "Number of API requests routed to the engine (handles in use).")
	e.apiWaiting = f.gauge("lmdeploy:num_api_requests_waiting", "Number of API requests waiting for a free handle.")
	e.succeeded = f.gauge("lmdeploy:num_requests_succeeded", "Number of successful requests.")
	e.failed = f.gauge("lmdeploy:num_requests_failed", "Number of failed requests.")
	e.kv = f.gauge("lmdeploy:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.")
	e.hitRate = f.gauge("lmdeploy:prefix_cache_hit_rate", "Prefix cache hit rate.")
	e.prompt = f.counter("lmdeploy:prompt_tokens_total", "Number of prefill tokens processed.")
	e.gen = f.counter("lmdeploy:generation_tokens_total", "Number of generation tokens processed.")
	e.cached = f.counter("lmdeploy:cached_tokens_total", "Number of cached prompt tokens.")
	e.success = f.counterVec("lmdeploy:request_success_total", "Count of successfully processed requests.", "finished_reason")
	e.ttft = f.hist("lmdeploy:time_to_first_token_seconds", "Histogram of time to first token in seconds.", vllmTTFTBuckets)
	e.tpot = f.hist("lmdeploy:time_per_output_token_seconds", "Histogram of time per output token in seconds.", vllmITLBuckets)
	e.itl = f.hist("lmdeploy:iter_token_latency", "Histogram of inter-token latency in seconds.", vllmITLBuckets)
	e.e2e = f.hist("lmdeploy:e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.", vllmLatencyBuckets)
	e.queue = f.hist("lmdeploy:request_queue_time_seconds", "Histogram of time spent in WAITING phase for request.", vllmLatencyBuckets)
	e.inference = f.hist("lmdeploy:request_inference_time_seconds", "Histogram of time spent in RUNNING phase for request.", vllmLatencyBuckets)
	e.prefill = f.hist("lmdeploy:request_prefill_time_seconds", "Histogram of time spent in PREFILL phase for request.", vllmLatencyBuckets)
	e.decode = f.hist("lmdeploy:request_decode_time_seconds", "Histogram of time spent in DECODE phase for request.", vllmLatencyBuckets)
	e.reqPrompt = f.hist("lmdeploy:request_prompt_tokens", "Number of prefill tokens processed.", vllmTokenBuckets)
	e.reqGen = f.hist("lmdeploy:request_generation_tokens", "Number of generation tokens processed.", vllmTokenBuckets)
	e.reqCached = f.hist("lmdeploy:request_cached_tokens", "Number of cached prompt tokens per request.", vllmTokenBuckets)
	e.reqHit = f.hist("lmdeploy:request_cache_hit_ratio", "Prefix cache hit ratio per request.", []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0})
	e.iters = f.hist("lmdeploy:iteration_tokens_total", "Histogram of number of tokens per engine_step.", vllmIterBuckets)
	return e
}

// lmdeployReason maps an outcome to str(ResponseType.X), as LMDeploy labels it.
func lmdeployReason(outcome string) string {
	switch outcome {
	case "error":
		return "ResponseType.INTERNAL_ENGINE_ERROR"
	case "abort":
		return "ResponseType.CANCEL"
	}
	return "ResponseType.FINISH"
}

func (e *lmdeployEngine) update(ts *tickStats) {
	prompt, cached := 0, 0
	for _, r := range ts.admitted {
		prompt += r.prompt
		cached += r.cached
	}
	e.prompt.Add(float64(prompt))
	e.cached.Add(float64(cached))
	if prompt > 0 {
		e.hitRate.Set(float64(cached) / float64(prompt))
	}
	for _, r := range ts.first {
		e.ttft.Observe(r.queue + r.ttft)
	}
	e.gen.Add(float64(ts.genTokens))
	for _, v := range ts.itl {
		e.itl.Observe(v)
	}
	for range ts.steps {
		e.iters.Observe(float64((prompt + ts.genTokens) / ts.steps))
	}
	for _, r := range ts.finished {
		e.success.WithLabelValues(lmdeployReason(r.outcome)).Inc()
		if r.outcome == "error" {
			e.nFail++
		} else {
			e.nOK++
		}
		e.e2e.Observe(r.e2e)
		e.queue.Observe(r.queue)
		e.inference.Observe(r.e2e - r.queue)
		e.prefill.Observe(r.ttft)
		e.decode.Observe(r.decodeTime())
		if r.out > 1 {
			e.tpot.Observe(r.decodeTime() / float64(r.out-1))
		}
		e.reqPrompt.Observe(float64(r.prompt))
		e.reqGen.Observe(float64(r.out))
		e.reqCached.Observe(float64(r.cached))
		e.reqHit.Observe(float64(r.cached) / float64(r.prompt))
	}
	e.succeeded.Set(float64(e.nOK))
	e.failed.Set(float64(e.nFail))
	e.running.Set(float64(ts.running))
	e.waiting.Set(float64(ts.waiting))
	e.routed.Set(float64(ts.running + ts.waiting))
	e.apiWaiting.Set(0)
	e.kv.Set(ts.kv)
}

// ---------------------------------------------------------------- custom prometheus_client app

const customGPUCapacityMB = 24576

type customEngine struct {
	model            string
	requests         *prometheus.CounterVec
	duration         *prometheus.HistogramVec
	tps              *prometheus.GaugeVec
	gpuMem, cpu, mem prometheus.Gauge
	tpsEMA           float64
}

func newCustom(reg *prometheus.Registry, o engineOptions) *customEngine {
	f := factory{reg: reg}
	e := &customEngine{model: o.model}
	e.requests = f.counterVec("model_requests_total", "Total model requests", "model", "status")
	e.duration = f.histVec("model_request_duration_seconds", "Model request duration in seconds", pythonDefaultBuckets, "model")
	e.tps = f.gaugeVec("model_tokens_per_second", "Generated tokens per second", "model")
	e.gpuMem = f.gauge("gpu_memory_used_mb", "GPU memory used in MB")
	e.cpu = f.gauge("cpu_usage_percent", "CPU usage percent")
	e.mem = f.gauge("memory_usage_mb", "Process memory usage in MB")
	e.duration.WithLabelValues(o.model)
	return e
}

func (e *customEngine) update(ts *tickStats) {
	for _, r := range ts.finished {
		status := "success"
		if r.outcome == "error" {
			status = "error"
		}
		e.requests.WithLabelValues(e.model, status).Inc()
		e.duration.WithLabelValues(e.model).Observe(r.e2e)
	}
	e.tpsEMA = 0.8*e.tpsEMA + 0.2*float64(ts.genTokens)/ts.dt
	e.tps.WithLabelValues(e.model).Set(math.Round(e.tpsEMA*10) / 10)
	memFrac := 0.62 + 0.05*ts.load + ts.rng.Float64()*0.01
	if ts.mode == modeGPUMemFull {
		memFrac = 0.975 + ts.rng.Float64()*0.015
	}
	e.gpuMem.Set(math.Round(memFrac * customGPUCapacityMB))
	e.cpu.Set(math.Round((15+50*ts.load+ts.rng.Float64()*5)*10) / 10)
	e.mem.Set(math.Round(2048 + 256*ts.load + ts.rng.Float64()*32))
}
