package spec

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
)

// Metric types of a MetricRef.
const (
	TypeCounter   = "counter"
	TypeGauge     = "gauge"
	TypeHistogram = "histogram"
	TypeSummary   = "summary"
)

// Role is one thing llmmon reads from a model service, which targets[].metrics maps an app's
// own metric onto.
type Role struct {
	Name  string   // its field in targets[].metrics
	What  string   // in words, for errors
	Types []string // the metric types that can carry it
	Units []string // the units its values may be in, the default first; none: a count
}

var (
	latencyUnits = []string{"seconds", "milliseconds", "microseconds"}
	memoryUnits  = []string{"bytes", "KB", "MB", "GB", "KiB", "MiB", "GiB"}
	flow         = []string{TypeCounter, TypeHistogram, TypeSummary}
	timing       = []string{TypeHistogram, TypeSummary, TypeGauge}
	tokens       = []string{TypeCounter, TypeHistogram, TypeSummary, TypeGauge}
	level        = []string{TypeGauge}
)

// Roles are the roles in the order of targets[].metrics.
var Roles = []Role{
	{"requests", "requests served", flow, nil},
	{"errors", "failed requests", flow, nil},
	{"latency", "whole-request latency", timing, latencyUnits},
	{"ttft", "time to first token", timing, latencyUnits},
	{"tpot", "time per output token", timing, latencyUnits},
	{"prompt_tokens", "prompt tokens", tokens, nil},
	{"generated_tokens", "generated tokens", tokens, nil},
	{"queue", "requests waiting", level, nil},
	{"running", "requests being processed", level, nil},
	{"kv_cache", "KV-cache usage", level, []string{"ratio", "percent"}},
	{"gpu_memory", "GPU memory used", level, memoryUnits},
	{"gpu_utilization", "GPU utilisation", level, []string{"percent", "ratio"}},
	{"process_cpu", "process CPU", []string{TypeCounter, TypeGauge}, nil},
	{"process_memory", "process memory", level, memoryUnits},
}

// field returns the field of a role (by its name in Roles), or nil.
func (m *Metrics) field(role string) **MetricRef {
	switch role {
	case "requests":
		return &m.Requests
	case "errors":
		return &m.Errors
	case "latency":
		return &m.Latency
	case "ttft":
		return &m.TTFT
	case "tpot":
		return &m.TPOT
	case "prompt_tokens":
		return &m.PromptTokens
	case "generated_tokens":
		return &m.GeneratedTokens
	case "queue":
		return &m.Queue
	case "running":
		return &m.Running
	case "kv_cache":
		return &m.KVCache
	case "gpu_memory":
		return &m.GPUMemory
	case "gpu_utilization":
		return &m.GPUUtilization
	case "process_cpu":
		return &m.ProcessCPU
	case "process_memory":
		return &m.ProcessMemory
	}
	return nil
}

// Ref returns the mapping of a role, or nil.
func (m *Metrics) Ref(role string) *MetricRef {
	if m == nil {
		return nil
	}
	if f := m.field(role); f != nil {
		return *f
	}
	return nil
}

// Set maps a role (by its name in Roles) to ref.
func (m *Metrics) Set(role string, ref *MetricRef) {
	if f := m.field(role); f != nil {
		*f = ref
	}
}

// Mapped returns the roles a target maps, in Roles order.
func (m *Metrics) Mapped() []Role {
	var out []Role
	for _, r := range Roles {
		if m.Ref(r.Name) != nil {
			out = append(out, r)
		}
	}
	return out
}

// TypeIn is the ref's type in a role: as written, or the role's only type, or counter for a
// name ending in _total where the role takes counters.
func (r *MetricRef) TypeIn(role Role) string {
	switch {
	case r.Type != "":
		return r.Type
	case len(role.Types) == 1:
		return role.Types[0]
	case strings.HasSuffix(r.Metric, "_total") && slices.Contains(role.Types, TypeCounter):
		return TypeCounter
	}
	return ""
}

// UnitOf is the ref's unit in a role: as written, or the role's default.
func (r *MetricRef) UnitOf(role Role) string {
	if r.Unit != "" || len(role.Units) == 0 {
		return r.Unit
	}
	return role.Units[0]
}

// UnitScale is what a value in unit is multiplied by to be in seconds, bytes or a ratio.
func UnitScale(unit string) float64 {
	switch unit {
	case "milliseconds":
		return 1e-3
	case "microseconds":
		return 1e-6
	case "KB":
		return 1e3
	case "MB":
		return 1e6
	case "GB":
		return 1e9
	case "KiB":
		return 1 << 10
	case "MiB":
		return 1 << 20
	case "GiB":
		return 1 << 30
	case "percent":
		return 0.01
	}
	return 1
}

var suffixRe = regexp.MustCompile(`_(bucket|count|sum)$`)

// metrics checks a target's mapping.
func (v *validator) metrics(p string, t Target) {
	if t.Metrics == nil {
		return
	}
	mp := p + ".metrics"
	if t.Engine != EngineCustom && t.Engine != EngineAuto && t.Engine != "" {
		v.addKey(mp, fmt.Sprintf("metrics maps an app's own metrics, but %s's are known already", t.Engine),
			"remove `metrics`, or set `engine: custom` if this is your own app")
	}
	if len(t.Metrics.Mapped()) == 0 {
		v.add(mp, "metrics maps no role", "map at least one, e.g. `requests: {metric: model_requests_total}`")
	}
	for _, role := range Roles {
		ref := t.Metrics.Ref(role.Name)
		if ref == nil {
			continue
		}
		rp := mp + "." + role.Name
		switch {
		case ref.Metric == "":
			v.add(rp, "no metric named for "+role.What, "add `metric: NAME`, the name the app exposes")
		case !model.LegacyValidation.IsValidMetricName(ref.Metric):
			v.add(rp+".metric", fmt.Sprintf("%q is not a metric name", ref.Metric), "metric names are letters, digits, _ and :, not starting with a digit")
		}
		typ := ref.TypeIn(role)
		switch {
		case typ == "":
			v.add(rp, fmt.Sprintf("say what type %s is", ref.Metric), "add `type: "+orWords(role.Types)+"`, as its # TYPE line in /metrics says")
		case !slices.Contains([]string{TypeCounter, TypeGauge, TypeHistogram, TypeSummary}, typ):
			hint := "use counter, gauge, histogram or summary"
			if s := suggest(typ, []string{TypeCounter, TypeGauge, TypeHistogram, TypeSummary}); s != "" {
				hint = fmt.Sprintf("did you mean %q? ", s) + hint
			}
			v.add(rp+".type", fmt.Sprintf("unknown metric type %q", typ), hint)
		case !slices.Contains(role.Types, typ):
			v.add(rp+".type", fmt.Sprintf("%s cannot come from a %s", role.What, typ), "map a "+orWords(role.Types)+" here")
		case (typ == TypeHistogram || typ == TypeSummary) && suffixRe.MatchString(ref.Metric):
			base := suffixRe.ReplaceAllString(ref.Metric, "")
			v.add(rp+".metric", fmt.Sprintf("name the %s itself, not its %s series", typ, strings.TrimPrefix(suffixRe.FindString(ref.Metric), "_")),
				fmt.Sprintf("write `metric: %s`; llmmon reads its _bucket, _sum and _count", base))
		}
		if ref.Unit != "" && !slices.Contains(role.Units, ref.Unit) {
			hint := role.What + " has no unit"
			if len(role.Units) > 0 {
				hint = "use " + strings.Join(role.Units, ", ")
				if s := suggest(ref.Unit, role.Units); s != "" {
					hint = fmt.Sprintf("did you mean %q? ", s) + hint
				}
			}
			v.add(rp+".unit", fmt.Sprintf("unit %q does not fit %s", ref.Unit, role.What), hint)
		}
		keys := make([]string, 0, len(ref.Match))
		for k := range ref.Match {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			kp := rp + ".match." + k
			if !labelNameRe.MatchString(k) {
				v.addKey(kp, fmt.Sprintf("invalid label name %q", k), "label names are letters, digits and _, not starting with a digit")
			} else if _, err := regexp.Compile("^(?:" + ref.Match[k] + ")$"); err != nil {
				v.add(kp, fmt.Sprintf("%q is not a regular expression: %v", ref.Match[k], err), "write a RE2 expression, e.g. \"5..|error\"; escape a literal dot as \\\\.")
			}
		}
	}
}

func orWords(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// The schema lists each role's types and units.
func init() {
	for _, r := range Roles {
		enums["targets[].metrics."+r.Name+".type"] = r.Types
		if len(r.Units) > 0 {
			enums["targets[].metrics."+r.Name+".unit"] = r.Units
		}
	}
}
