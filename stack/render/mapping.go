package render

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/llmmon/llmmon/stack/spec"
)

// TargetGroup is the name of the record group of a target whose metrics the spec maps.
func MappedRecordGroup(target string) string { return "llmmon-target-" + target }

// by is the labels every llmmon:* series keeps.
const by = "target, engine, instance"

// mappedTargets returns the targets whose spec maps their metrics, sorted by name.
func mappedTargets(s *spec.Spec) []spec.Target {
	var out []spec.Target
	for _, t := range s.Targets {
		if t.Metrics != nil && t.Engine == spec.EngineCustom {
			out = append(out, t)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// mappedGroup turns a target's mapping into its record group: each role becomes the llmmon:*
// records the dashboards and alerts read, from the app's own metric, with its type and unit.
func mappedGroup(t spec.Target) ruleGroup {
	g := ruleGroup{Name: MappedRecordGroup(t.Name)}
	add := func(record, expr string) {
		// The target label (the value its series have anyway) keeps the rules of two mapped
		// targets, and of the tutorial names' group, distinct.
		g.Rules = append(g.Rules, rule{Record: record, Expr: expr, Labels: map[string]string{"engine": spec.EngineCustom, "target": t.Name}})
	}
	sel := func(ref *spec.MetricRef, suffix string) string {
		ms := []string{`job="custom"`, `target=` + strconv.Quote(t.Name)}
		keys := make([]string, 0, len(ref.Match))
		for k := range ref.Match {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ms = append(ms, k+`=~`+strconv.Quote(ref.Match[k]))
		}
		return ref.Metric + suffix + "{" + strings.Join(ms, ",") + "}"
	}
	scaled := func(expr string, f float64) string {
		if f == 1 {
			return expr
		}
		return "(" + expr + ") * " + strconv.FormatFloat(f, 'g', -1, 64)
	}
	// count is a per-second rate of what a counter counts, or of the observations of a
	// histogram or summary.
	count := func(ref *spec.MetricRef, typ string) string {
		if typ == spec.TypeCounter {
			return fmt.Sprintf("sum by (%s) (rate(%s[5m]))", by, sel(ref, ""))
		}
		return fmt.Sprintf("sum by (%s) (rate(%s[5m]))", by, sel(ref, "_count"))
	}
	timing := func(base string, ref *spec.MetricRef, role spec.Role) {
		f := spec.UnitScale(ref.UnitOf(role))
		switch ref.TypeIn(role) {
		case spec.TypeHistogram:
			for _, q := range []string{"0.50", "0.95", "0.99"} {
				add(base+":p"+quantileName(q), scaled(fmt.Sprintf("histogram_quantile(%s, sum by (le, %s) (rate(%s[5m])))", q, by, sel(ref, "_bucket")), f))
			}
			add(base+":mean", scaled(fmt.Sprintf("sum by (%s) (rate(%s[5m])) / clamp_min(sum by (%s) (rate(%s[5m])), 1e-9)", by, sel(ref, "_sum"), by, sel(ref, "_count")), f))
			// The buckets keep their le in the app's unit, which the record's name says, for
			// the latency SLOs.
			add(BucketRecord(base, ref.UnitOf(role)), fmt.Sprintf("sum by (le, %s) (rate(%s[5m]))", by, sel(ref, "_bucket")))
		case spec.TypeSummary:
			// Summaries of prometheus_client (Python) have no quantiles: only the mean then.
			for _, q := range []string{"0.5", "0.95", "0.99"} {
				qsel := strings.TrimSuffix(sel(ref, ""), "}") + `,quantile="` + q + `"}`
				add(base+":p"+quantileName(q), scaled(fmt.Sprintf("max by (%s) (%s)", by, qsel), f))
			}
			add(base+":mean", scaled(fmt.Sprintf("sum by (%s) (rate(%s[5m])) / clamp_min(sum by (%s) (rate(%s[5m])), 1e-9)", by, sel(ref, "_sum"), by, sel(ref, "_count")), f))
		case spec.TypeGauge:
			add(base+":mean", scaled(fmt.Sprintf("max by (%s) (%s)", by, sel(ref, "")), f))
		}
	}
	tokens := func(record string, ref *spec.MetricRef, role spec.Role) {
		switch ref.TypeIn(role) {
		case spec.TypeCounter:
			add(record, fmt.Sprintf("sum by (%s) (rate(%s[5m]))", by, sel(ref, "")))
		case spec.TypeGauge: // already tokens per second
			add(record, fmt.Sprintf("sum by (%s) (%s)", by, sel(ref, "")))
		default: // tokens per request: their sum grows by the tokens
			add(record, fmt.Sprintf("sum by (%s) (rate(%s[5m]))", by, sel(ref, "_sum")))
		}
	}
	m := t.Metrics
	for _, role := range spec.Roles {
		ref := m.Ref(role.Name)
		if ref == nil {
			continue
		}
		typ := ref.TypeIn(role)
		switch role.Name {
		case "requests":
			add("llmmon:requests:rate5m", count(ref, typ))
		case "errors":
			expr := count(ref, typ)
			if r := m.Ref("requests"); r != nil {
				// 0, not absent, while no request has failed yet.
				expr += " or " + count(r, r.TypeIn(spec.Roles[0])) + " * 0"
			}
			add("llmmon:request_errors:rate5m", expr)
		case "latency":
			timing("llmmon:e2e_latency_seconds", ref, role)
		case "ttft":
			timing("llmmon:ttft_seconds", ref, role)
		case "tpot":
			timing("llmmon:tpot_seconds", ref, role)
		case "prompt_tokens":
			tokens("llmmon:prompt_tokens:rate5m", ref, role)
		case "generated_tokens":
			tokens("llmmon:generation_tokens:rate5m", ref, role)
		case "queue":
			add("llmmon:queue_length", fmt.Sprintf("sum by (%s) (%s)", by, sel(ref, "")))
		case "running":
			add("llmmon:running_requests", fmt.Sprintf("sum by (%s) (%s)", by, sel(ref, "")))
		case "kv_cache":
			add("llmmon:kv_cache_usage:ratio", scaled(fmt.Sprintf("max by (%s) (%s)", by, sel(ref, "")), spec.UnitScale(ref.UnitOf(role))))
		case "gpu_memory":
			add("llmmon:app_gpu_memory_bytes", scaled(fmt.Sprintf("sum by (%s) (%s)", by, sel(ref, "")), spec.UnitScale(ref.UnitOf(role))))
		case "gpu_utilization":
			add("llmmon:app_gpu_utilization:ratio", scaled(fmt.Sprintf("max by (%s) (%s)", by, sel(ref, "")), spec.UnitScale(ref.UnitOf(role))))
		case "process_cpu":
			if typ == spec.TypeCounter {
				add("llmmon:process_cpu:rate5m", fmt.Sprintf("sum by (%s) (rate(%s[5m]))", by, sel(ref, "")))
			} else { // a gauge in percent of one core
				add("llmmon:process_cpu:rate5m", fmt.Sprintf("sum by (%s) (%s) / 100", by, sel(ref, "")))
			}
		case "process_memory":
			add("llmmon:process_memory_bytes", scaled(fmt.Sprintf("sum by (%s) (%s)", by, sel(ref, "")), spec.UnitScale(ref.UnitOf(role))))
		}
	}
	return g
}

// quantileName is the record suffix of a quantile: 0.5 -> 50, 0.95 -> 95, 0.99 -> 99.
func quantileName(q string) string {
	f, _ := strconv.ParseFloat(q, 64)
	return strconv.Itoa(int(f*100 + 0.5))
}

// excludeTargets limits every selector of job in a group's expressions to the targets not in
// names, so that a target with a record group of its own is not recorded twice.
func excludeTargets(g *ruleGroup, job string, names []string) {
	if len(names) == 0 {
		return
	}
	matcher := `job="` + job + `",target!~` + namesRegex(names)
	for i := range g.Rules {
		g.Rules[i].Expr = strings.ReplaceAll(g.Rules[i].Expr, `job="`+job+`"`, matcher)
	}
}

// excludeProcess leaves the targets that map their own process CPU or memory out of the
// default process records.
func excludeProcess(g *ruleGroup, cpu, memory []string) {
	for i := range g.Rules {
		names := memory
		if g.Rules[i].Record == "llmmon:process_cpu:rate5m" {
			names = cpu
		}
		if len(names) == 0 {
			continue
		}
		g.Rules[i].Expr = strings.ReplaceAll(g.Rules[i].Expr, `engine!=""`, `engine!="",target!~`+namesRegex(names))
	}
}

// namesRegex is a PromQL string of a regular expression matching exactly the target names.
func namesRegex(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = regexp.QuoteMeta(n)
	}
	return strconv.Quote(strings.Join(quoted, "|"))
}

// BucketRecord is the name of the bucket-rate record of a latency base record
// (llmmon:ttft_seconds) whose histogram counts in unit: llmmon:ttft_seconds_bucket:rate5m,
// llmmon:ttft_milliseconds_bucket:rate5m or llmmon:ttft_microseconds_bucket:rate5m.
func BucketRecord(base, unit string) string {
	if unit == "" {
		unit = "seconds"
	}
	return strings.TrimSuffix(base, "_seconds") + "_" + unit + "_bucket:rate5m"
}
