package detect

import (
	"regexp"
	"slices"
	"sort"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/llmmon/llmmon/stack/spec"
)

// Proposal is a mapping of an app's metrics onto llmmon's roles, guessed from their names, types
// and HELP texts, with why each was chosen and what was left out.
type Proposal struct {
	// Standard names the convention the metrics follow when they follow one (then the mapping
	// is not a guess, and is written without asking).
	Standard string
	Metrics  *spec.Metrics
	Why      map[string]string // role -> the metric's type and HELP, in words
	Unmapped []string          // the app's own metrics no role took: "name (type)"
}

// clue is one way of recognising a role: words its name or HELP text has, and words it must not.
type clue struct {
	role  string
	types []string
	has   *regexp.Regexp
	not   *regexp.Regexp
}

// clues are tried in order; the first metric a role's clues match takes it.
var clues = []clue{
	{"ttft", []string{"histogram", "summary", "gauge"}, regexp.MustCompile(`first_token|ttft|time to first`), nil},
	{"tpot", []string{"histogram", "summary", "gauge"}, regexp.MustCompile(`per_output_token|tpot|inter_token|time per (output )?token`), nil},
	{"errors", []string{"counter"}, regexp.MustCompile(`error|fail|exception`), nil},
	{"prompt_tokens", []string{"counter", "histogram", "summary", "gauge"}, regexp.MustCompile(`(prompt|input)_?tokens?`), nil},
	{"generated_tokens", []string{"counter", "histogram", "summary", "gauge"}, regexp.MustCompile(`(generat\w*|output|completion)_?tokens?|tokens_per_second|tokens?_generated`), nil},
	{"latency", []string{"histogram", "summary"}, regexp.MustCompile(`request|latency|duration|processing|e2e`), regexp.MustCompile(`token|queue|gpu`)},
	{"requests", []string{"counter"}, regexp.MustCompile(`request|call|quer|inference`), regexp.MustCompile(`token|byte`)},
	{"queue", []string{"gauge"}, regexp.MustCompile(`queue|waiting|pending`), nil},
	{"running", []string{"gauge"}, regexp.MustCompile(`running|in_?flight|active_requests|concurrent|processing_requests`), nil},
	{"kv_cache", []string{"gauge"}, regexp.MustCompile(`kv_?cache`), nil},
	{"gpu_memory", []string{"gauge"}, regexp.MustCompile(`gpu.*mem|mem.*gpu|vram|cuda.*mem`), nil},
	{"gpu_utilization", []string{"gauge"}, regexp.MustCompile(`gpu.*(util|usage|busy)`), regexp.MustCompile(`mem`)},
	{"process_cpu", []string{"gauge"}, regexp.MustCompile(`cpu.*(percent|usage|util)`), regexp.MustCompile(`gpu`)},
	{"process_memory", []string{"gauge"}, regexp.MustCompile(`(memory|mem|rss).*(usage|used|mb|bytes)|(usage|used).*(memory|mem)`), regexp.MustCompile(`gpu|cuda|vram`)},
}

// runtimePrefixes are the client libraries' own metrics, which are never an app's role (the
// process_* ones feed process CPU and memory without a mapping).
var runtimePrefixes = []string{"python_", "process_", "go_", "promhttp_", "jvm_", "nodejs_", "dotnet_"}

// Propose guesses a mapping from a /metrics body, or returns nil when it finds no role.
func Propose(body string) *Proposal {
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil || len(fams) == 0 {
		return nil
	}
	if p := genAI(fams); p != nil {
		return p
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	out := &Proposal{Metrics: &spec.Metrics{}, Why: map[string]string{}}
	taken := map[string]bool{} // roles
	used := map[string]bool{}  // metrics
	var own []string
	for _, n := range names {
		f := fams[n]
		if isRuntime(n) || (strings.HasSuffix(n, "_created") && f.GetType() == dto.MetricType_GAUGE) {
			continue
		}
		own = append(own, n)
	}
	// The standard process_* metrics feed process CPU and memory without a mapping.
	std := map[string]bool{"process_cpu": fams["process_cpu_seconds_total"] != nil, "process_memory": fams["process_resident_memory_bytes"] != nil}
	for _, c := range clues {
		if std[c.role] {
			continue
		}
		for _, n := range own {
			f := fams[n]
			typ := typeName(f.GetType())
			text := strings.ToLower(n + " " + f.GetHelp())
			if taken[c.role] || !slices.Contains(c.types, typ) || !c.has.MatchString(text) || (c.not != nil && c.not.MatchString(text)) {
				continue
			}
			// A counter of requests is not also their latency; a histogram or summary of
			// request time is both (its _count counts them).
			if used[n] && !(c.role == "requests" || c.role == "latency") {
				continue
			}
			ref := &spec.MetricRef{Metric: n, Type: typ, Unit: unitOf(c.role, text)}
			out.Metrics.Set(c.role, ref)
			taken[c.role], used[n] = true, true
			out.Why[c.role] = typ + describe(f)
		}
	}
	// A request counter with a status or code label gives the errors where no error counter does.
	if !taken["errors"] && out.Metrics.Requests != nil && out.Metrics.Requests.Type == "counter" {
		for _, l := range labelNames(fams[out.Metrics.Requests.Metric]) {
			if l == "status" || l == "code" || l == "status_code" {
				out.Metrics.Set("errors", &spec.MetricRef{Metric: out.Metrics.Requests.Metric, Type: "counter", Match: map[string]string{l: "5..|error|failed|failure"}})
				taken["errors"] = true
				out.Why["errors"] = "counter, the requests whose " + l + " label says they failed"
			}
		}
	}
	// A request histogram or summary counts the requests where no counter does.
	if !taken["requests"] && out.Metrics.Latency != nil {
		l := *out.Metrics.Latency
		l.Unit = ""
		out.Metrics.Set("requests", &l)
		taken["requests"] = true
		out.Why["requests"] = l.Type + ", counted by its _count"
	}
	if len(taken) == 0 {
		return nil
	}
	for _, n := range own {
		if !used[n] {
			out.Unmapped = append(out.Unmapped, n+" ("+typeName(fams[n].GetType())+")")
		}
	}
	// Drop types the roles infer, so the written mapping stays short.
	for _, r := range spec.Roles {
		if ref := out.Metrics.Ref(r.Name); ref != nil {
			t := ref.Type
			ref.Type = ""
			if ref.TypeIn(r) != t {
				ref.Type = t
			}
		}
	}
	return out
}

func isRuntime(name string) bool {
	for _, p := range runtimePrefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

func typeName(t dto.MetricType) string {
	switch t {
	case dto.MetricType_COUNTER:
		return "counter"
	case dto.MetricType_GAUGE:
		return "gauge"
	case dto.MetricType_HISTOGRAM:
		return "histogram"
	case dto.MetricType_SUMMARY:
		return "summary"
	}
	return "untyped"
}

func describe(f *dto.MetricFamily) string {
	if h := strings.TrimSpace(f.GetHelp()); h != "" {
		return ` "` + h + `"`
	}
	return ""
}

func labelNames(f *dto.MetricFamily) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range f.GetMetric() {
		for _, l := range m.GetLabel() {
			if !seen[l.GetName()] {
				seen[l.GetName()] = true
				out = append(out, l.GetName())
			}
		}
	}
	sort.Strings(out)
	return out
}

var (
	msRe     = regexp.MustCompile(`_ms\b|_millis|milliseconds|\(ms\)`)
	usRe     = regexp.MustCompile(`_us\b|micro`)
	mbRe     = regexp.MustCompile(`_mb\b|\bmb\b|\(mb\)|mib|megabyte`)
	gbRe     = regexp.MustCompile(`_gb\b|\bgb\b|gib|gigabyte`)
	ratioRe  = regexp.MustCompile(`ratio|fraction`)
	percents = regexp.MustCompile(`percent|%`)
)

// unitOf guesses a role's unit from the metric's name and HELP; "" is the role's default.
func unitOf(role, text string) string {
	switch role {
	case "latency", "ttft", "tpot":
		switch {
		case msRe.MatchString(text):
			return "milliseconds"
		case usRe.MatchString(text):
			return "microseconds"
		}
	case "gpu_memory", "process_memory":
		switch {
		case mbRe.MatchString(text):
			return "MiB" // bytes / 1024 / 1024, as the tutorials compute "MB"
		case gbRe.MatchString(text):
			return "GiB"
		}
	case "gpu_utilization":
		if ratioRe.MatchString(text) && !percents.MatchString(text) {
			return "ratio"
		}
	case "kv_cache":
		if percents.MatchString(text) {
			return "percent"
		}
	}
	return ""
}

// GenAI is the convention genAI recognises.
const GenAI = "OpenTelemetry GenAI semantic conventions"

// genAI maps the metrics of the OpenTelemetry GenAI semantic conventions as an OpenTelemetry
// Prometheus exporter names them (gen_ai.server.request.duration in seconds becomes
// gen_ai_server_request_duration_seconds, attributes become labels: gen_ai_token_type, error_type):
// the server metrics where the app has them, the client ones otherwise.
func genAI(fams map[string]*dto.MetricFamily) *Proposal {
	has := func(n string) bool {
		f := fams[n]
		return f != nil && f.GetType() == dto.MetricType_HISTOGRAM
	}
	p := &Proposal{Standard: GenAI, Metrics: &spec.Metrics{}, Why: map[string]string{}}
	add := func(role, metric string, match map[string]string, why string) {
		p.Metrics.Set(role, &spec.MetricRef{Metric: metric, Type: spec.TypeHistogram, Match: match})
		p.Why[role] = why
	}
	duration := ""
	switch {
	case has("gen_ai_server_request_duration_seconds"):
		duration = "gen_ai_server_request_duration_seconds"
	case has("gen_ai_client_operation_duration_seconds"):
		duration = "gen_ai_client_operation_duration_seconds"
	}
	if duration != "" {
		add("requests", duration, nil, "gen_ai request durations, counted by their _count")
		add("errors", duration, map[string]string{"error_type": ".+"}, "the durations of requests that ended in an error (error.type set)")
		add("latency", duration, nil, "gen_ai request duration")
	}
	for _, c := range []struct{ role, server, client string }{
		{"ttft", "gen_ai_server_time_to_first_token_seconds", "gen_ai_client_operation_time_to_first_chunk_seconds"},
		{"tpot", "gen_ai_server_time_per_output_token_seconds", "gen_ai_client_operation_time_per_output_chunk_seconds"},
	} {
		switch {
		case has(c.server):
			add(c.role, c.server, nil, "gen_ai "+c.role)
		case has(c.client):
			add(c.role, c.client, nil, "gen_ai "+c.role+", as the client sees it")
		}
	}
	if has("gen_ai_client_token_usage") {
		add("prompt_tokens", "gen_ai_client_token_usage", map[string]string{"gen_ai_token_type": "input"}, "gen_ai token usage of type input")
		add("generated_tokens", "gen_ai_client_token_usage", map[string]string{"gen_ai_token_type": "output"}, "gen_ai token usage of type output")
	}
	if len(p.Why) == 0 {
		return nil
	}
	return p
}
