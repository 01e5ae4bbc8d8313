package doctor

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// TargetReport is what doctor found for one target.
type TargetReport struct {
	Target   string    `json:"target"`
	Engine   string    `json:"engine"`
	Up       bool      `json:"up"`
	Series   int       `json:"series"`             // series in its last scrape
	Heaviest []string  `json:"heaviest,omitempty"` // its metrics with the most series, "name (N)"
	Scrape   float64   `json:"scrape_seconds"`     // its last scrape's duration
	Timeout  float64   `json:"timeout_seconds"`
	Notes    []string  `json:"notes,omitempty"` // scrape health: cardinality, slow scrapes, a flag it needs
	Blind    int       `json:"blind"`           // checks without data that the engine can have
	Absent   int       `json:"not_exported"`    // checks of signals the engine never exports
	Checks   int       `json:"checks"`
	Findings []Finding `json:"findings"`
}

// Limits for the scrape-health notes.
const (
	// HighCardinality is the series count of one target above which a label probably carries
	// per-request values (a prompt, a request id).
	HighCardinality = 10000
	// SlowScrape is the share of the scrape timeout above which a scrape is near failing.
	SlowScrape = 0.8
)

// Diagnose runs a target's checks and explains every one that has no data.
func Diagnose(ctx context.Context, q Querier, t Target, checks []Check) (*TargetReport, error) {
	r := &TargetReport{Target: t.Name, Engine: t.Engine, Checks: len(checks)}
	sel := `{target="` + t.Name + `"}`
	up, err := q.Query(ctx, `max(up`+sel+`)`)
	if err != nil {
		return nil, err
	}
	r.Up = len(up) > 0 && up[0].Value == 1
	for _, m := range []struct {
		expr string
		dst  *float64
	}{{`max(scrape_duration_seconds` + sel + `)`, &r.Scrape}, {`max(scrape_timeout_seconds` + sel + `)`, &r.Timeout}} {
		s, err := q.Query(ctx, m.expr)
		if err != nil {
			return nil, err
		}
		if len(s) > 0 {
			*m.dst = s[0].Value
		}
	}
	s, err := q.Query(ctx, `sum(scrape_samples_scraped`+sel+`)`)
	if err != nil {
		return nil, err
	}
	if len(s) > 0 {
		r.Series = int(s[0].Value)
	}
	// The metrics this target exposes now: what every explanation compares against.
	have := map[string]int{}
	s, err = q.Query(ctx, `count by (__name__) ({target="`+t.Name+`",__name__!~"up|scrape_.*"})`)
	if err != nil {
		return nil, err
	}
	for _, x := range s {
		have[x.Labels["__name__"]] = int(x.Value)
	}
	r.Heaviest = heaviest(have, 3)
	r.Notes = notes(r, t, have)

	// Records first: a panel that reads a record without data is explained by the record's reason.
	recordWhy := map[string]string{}
	recordNA := map[string]bool{}
	for _, c := range checks {
		if c.Kind == "record" {
			recordWhy[c.Record] = "" // the engine makes it; filled with its reason when it has no data
		}
	}
	findings := make([]Finding, len(checks))
	for _, pass := range []bool{true, false} {
		for i, c := range checks {
			if (c.Kind == "record") != pass {
				continue
			}
			res, err := q.Query(ctx, c.Expr)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.Name(), err)
			}
			f := Finding{Check: c, Data: len(res) > 0}
			if !f.Data {
				f.Missing, f.Why, f.NotExported = explain(c, t, have, r.Up, recordWhy, recordNA)
				if why, err := latencySLOWhy(ctx, q, c, t); err != nil {
					return nil, err
				} else if why != "" {
					f.Missing, f.Why = []string{"the bucket at the threshold"}, why
				}
				if f.NotExported {
					r.Absent++
				} else {
					r.Blind++
				}
				if c.Kind == "record" {
					recordWhy[c.Record] = f.Why
					recordNA[c.Record] = f.NotExported
				}
			}
			findings[i] = f
		}
	}
	r.Findings = findings
	return r, nil
}

func heaviest(have map[string]int, n int) []string {
	names := make([]string, 0, len(have))
	for k := range have {
		if !strings.HasPrefix(k, "llmmon:") {
			names = append(names, k)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if have[names[i]] != have[names[j]] {
			return have[names[i]] > have[names[j]]
		}
		return names[i] < names[j]
	})
	var out []string
	for i := 0; i < len(names) && i < n; i++ {
		out = append(out, fmt.Sprintf("%s (%d)", names[i], have[names[i]]))
	}
	return out
}

// notes are the scrape-health findings of a target.
func notes(r *TargetReport, t Target, have map[string]int) []string {
	var out []string
	if !r.Up {
		out = append(out, "the last scrape failed: `llmmon targets` shows why")
		return out
	}
	if r.Series > HighCardinality {
		out = append(out, fmt.Sprintf("%d series in one scrape (most in %s): a label probably carries per-request values; drop it or raise `limits.samples`", r.Series, strings.Join(r.Heaviest, ", ")))
	}
	if r.Timeout > 0 && r.Scrape > SlowScrape*r.Timeout {
		out = append(out, fmt.Sprintf("its scrape takes %.2fs of the %.0fs timeout: a slower one fails and the service looks down", r.Scrape, r.Timeout))
	}
	if own := engineMetrics(t.Engine, have); own == 0 {
		if h, ok := noMetricsHint[t.Engine]; ok {
			out = append(out, h)
		}
	}
	return out
}

// engineMetrics counts the metrics of a target that are its engine's own; for an app, the
// llmmon:* records its metrics feed.
func engineMetrics(engine string, have map[string]int) int {
	ps := prefixes[engine]
	if engine == "custom" {
		ps = []string{"llmmon:"}
	}
	n := 0
	for name := range have {
		for _, p := range ps {
			if strings.HasPrefix(name, p) && name != "llmmon:gpu_preallocating" {
				n++
			}
		}
	}
	return n
}

// prefixes are the metric name prefixes of each engine's own metrics.
var prefixes = map[string][]string{
	"vllm": {"vllm:"}, "sglang": {"sglang:"}, "tgi": {"tgi_"}, "llamacpp": {"llamacpp:"},
	"triton": {"nv_"}, "lmdeploy": {"lmdeploy:"},
}

// noMetricsHint says what an engine that answers but exposes none of its metrics needs.
var noMetricsHint = map[string]string{
	"vllm":     "it exposes no vllm:* metrics: vLLM's OpenAI server serves them on /metrics; check the target's address and metrics path",
	"sglang":   "it exposes no sglang:* metrics: SGLang needs --enable-metrics",
	"tgi":      "it exposes no tgi_* metrics: TGI serves them on its router's port (3000 by default), /metrics",
	"llamacpp": "it exposes no llamacpp:* metrics: llama.cpp's server needs --metrics",
	"triton":   "it exposes no nv_* metrics: Triton serves them on port 8002 unless started with --allow-metrics=false",
	"lmdeploy": "it exposes no lmdeploy:* metrics: LMDeploy's api_server needs --enable-metrics",
	"custom":   "it exposes nothing llmmon knows: map its metrics with `targets[].metrics` in the spec",
}

// since says, for metrics that only some releases have, which ones do; from the releases in
// test/testdata/releases and the engines' changelogs quoted there.
var since = map[string]string{
	"vllm:kv_cache_usage_perc":                 "vLLM before about 0.9, by its deprecation note, calls it vllm:gpu_cache_usage_perc",
	"vllm:inter_token_latency_seconds":         "vLLM up to at least 0.10 has only vllm:time_per_output_token_seconds",
	"vllm:request_queue_time_seconds":          "vLLM's V0 releases of mid-2024 have no queue-time histogram",
	"sglang:num_requests_total":                "older SGLang releases count requests only in sglang:e2e_request_latency_seconds",
	"sglang:num_aborted_requests_total":        "older SGLang releases have no abort counter",
	"sglang:inter_token_latency_seconds":       "older SGLang releases have only sglang:time_per_output_token_seconds",
	"llamacpp:kv_cache_usage_ratio":            "llama.cpp removed its KV-cache gauges in 2025, PR #13660",
	"nv_inference_first_response_histogram_ms": "Triton 22.09 has no TTFT histogram; later releases export it only with --metrics-config histogram_latencies=true",
	"nv_inference_pending_request_count":       "Triton 22.09 has no pending-request gauge",
	"nv_trt_llm_request_metrics":               "only Triton's TensorRT-LLM backend exports nv_trt_llm_* metrics",
	"nv_trt_llm_kv_cache_block_metrics":        "only Triton's TensorRT-LLM backend exports nv_trt_llm_* metrics",
	"tgi_request_failure":                      "TGI exports tgi_request_failure only once a request has failed",
}

// roleHint says which targets[].metrics role maps a signal a custom app lacks.
var roleHint = []struct {
	re   *regexp.Regexp
	role string
}{
	{regexp.MustCompile(`ttft|first_token`), "ttft"},
	{regexp.MustCompile(`tpot|inter_token|per_output_token`), "tpot"},
	{regexp.MustCompile(`e2e|duration|latency`), "latency"},
	{regexp.MustCompile(`error|fail`), "errors"},
	{regexp.MustCompile(`requests`), "requests"},
	{regexp.MustCompile(`generation_tokens|tokens_per_second`), "generated_tokens"},
	{regexp.MustCompile(`prompt_tokens`), "prompt_tokens"},
	{regexp.MustCompile(`queue`), "queue"},
	{regexp.MustCompile(`kv_cache`), "kv_cache"},
}

// explain names what a check without data lacks.
func explain(c Check, t Target, have map[string]int, up bool, recordWhy map[string]string, recordNA map[string]bool) ([]string, string, bool) {
	if !up && len(have) == 0 {
		return nil, "the target is down", false
	}
	expr := c.Expr
	if c.Source != "" {
		expr = c.Source
	}
	var missing, records []string
	for _, m := range Metrics(expr) {
		if have[m] > 0 || m == "up" {
			continue
		}
		if strings.HasPrefix(m, "llmmon:") {
			records = append(records, m)
			continue
		}
		missing = append(missing, m)
	}
	switch {
	case len(missing) == 0 && len(records) > 0:
		var whys []string
		na := true
		for _, rec := range records {
			if w := recordWhy[rec]; w != "" && !slices.Contains(whys, w) {
				whys = append(whys, w)
			}
			na = na && recordNA[rec]
		}
		if len(whys) == 0 {
			for _, rec := range records {
				if _, made := recordWhy[rec]; !made {
					if role := recordRole(rec); t.Engine == "custom" && role != "" {
						return records, fmt.Sprintf("this app has no %s metric; map one with `targets[].metrics.%s`", strings.ReplaceAll(role, "_", " "), role), true
					}
					return records, fmt.Sprintf("no %s: %s exports no metric it is made from", orList(quote(records)), engineName(t.Engine)), true
				}
			}
			return records, fmt.Sprintf("no %s for this target", orList(quote(records))), false
		}
		return records, fmt.Sprintf("no %s: %s", orList(quote(records)), strings.Join(whys, "; ")), na
	case len(missing) == 0:
		return nil, "the server exposes the metrics it reads, but no series matches its labels or its result is empty now (a rate over an idle counter, a filter no series has)", false
	}
	if strings.Contains(expr, `quantile="`) {
		for _, m := range missing {
			if have[m+"_count"] > 0 {
				return missing, fmt.Sprintf("the summary `%s` has no quantiles (Python's prometheus_client exports only its _sum and _count); its mean is shown instead", m), true
			}
		}
	}
	if t.Engine == "custom" {
		for _, h := range roleHint {
			if h.re.MatchString(strings.Join(missing, " ")) {
				return missing, fmt.Sprintf("this app has no %s metric; map one with `targets[].metrics.%s`", h.role, h.role), false
			}
		}
	}
	why := "this server exposes no " + orList(quote(missing))
	var notes []string
	for _, m := range missing {
		if s, ok := since[m]; ok && !slices.Contains(notes, s) {
			notes = append(notes, s)
		}
	}
	if len(notes) > 0 {
		why += " (" + strings.Join(notes, "; ") + ")"
	}
	return missing, why, false
}

func quote(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = "`" + x + "`"
	}
	return out
}

func orList(xs []string) string {
	switch len(xs) {
	case 1:
		return xs[0]
	case 2:
		return xs[0] + " or " + xs[1]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

var engineNames = map[string]string{
	"vllm": "vLLM", "sglang": "SGLang", "tgi": "TGI", "llamacpp": "llama.cpp", "triton": "Triton",
	"lmdeploy": "LMDeploy", "custom": "this app",
}

func engineName(e string) string {
	if n, ok := engineNames[e]; ok {
		return n
	}
	return e
}

// recordRole is the targets[].metrics role that makes a record.
func recordRole(record string) string {
	for _, r := range []struct{ prefix, role string }{
		{"llmmon:requests:", "requests"}, {"llmmon:request_errors:", "errors"}, {"llmmon:error_ratio:", "errors"},
		{"llmmon:e2e_latency_seconds:", "latency"}, {"llmmon:ttft_seconds:", "ttft"}, {"llmmon:tpot_seconds:", "tpot"},
		{"llmmon:prompt_tokens:", "prompt_tokens"}, {"llmmon:generation_tokens:", "generated_tokens"},
		{"llmmon:queue_length", "queue"}, {"llmmon:running_requests", "running"}, {"llmmon:kv_cache_usage:", "kv_cache"},
		{"llmmon:app_gpu_memory_bytes", "gpu_memory"}, {"llmmon:app_gpu_utilization:", "gpu_utilization"},
		{"llmmon:process_cpu:", "process_cpu"}, {"llmmon:process_memory_bytes", "process_memory"},
	} {
		if strings.HasPrefix(record, r.prefix) {
			return r.role
		}
	}
	return ""
}

var bucketRecordRe = regexp.MustCompile(`llmmon:[a-z0-9_]+_bucket:rate5m`)

// latencySLOWhy explains a latency SLO without data whose histogram has data: its threshold is
// no bucket boundary, and these are the boundaries there are.
func latencySLOWhy(ctx context.Context, q Querier, c Check, t Target) (string, error) {
	if c.Kind != "record" || !strings.HasSuffix(c.Record, "(latency)") {
		return "", nil
	}
	for _, rec := range slices.Compact(bucketRecordRe.FindAllString(c.Source, -1)) {
		res, err := q.Query(ctx, `count by (le) (`+rec+`{target="`+t.Name+`"})`)
		if err != nil {
			return "", err
		}
		if len(res) == 0 {
			continue
		}
		var les []float64
		for _, x := range res {
			if v, err := strconv.ParseFloat(x.Labels["le"], 64); err == nil && !math.IsInf(v, 1) {
				les = append(les, v)
			}
		}
		sort.Float64s(les)
		unit := "s"
		if strings.Contains(rec, "_milliseconds_") {
			unit = "ms"
		} else if strings.Contains(rec, "_microseconds_") {
			unit = "µs"
		}
		var ls []string
		for _, v := range les {
			ls = append(ls, strconv.FormatFloat(v, 'f', -1, 64)+unit)
		}
		return fmt.Sprintf("the latency SLO's threshold is no bucket boundary of the histogram, whose buckets are %s: set slo.latency.threshold to one of them", strings.Join(ls, ", ")), nil
	}
	return "", nil
}
