package render

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/spec"
)

// SLO rule groups, in records.yml after the engines' groups:
//
//   - llmmon-slo: per target and objective, the good/bad events as two per-second rates
//     (llmmon:slo_requests:rate5m, llmmon:slo_errors:rate5m, labelled slo="availability" or
//     slo="latency") and the objective as a constant series (llmmon:slo_objective:ratio).
//   - llmmon-slo-windows: the error ratio over the burn-rate windows (5m, 30m, 1h, 6h) of every
//     objective at once, as averages of the 5-minute rates (a traffic-weighted ratio).
//   - llmmon-slo-period: once a minute, the error ratio over each objective's period and the
//     error budget left.
//
// The alerts (prometheus/rules/slo.yml) are per target, with the objective's numbers in them.
const (
	SLOGroup        = "llmmon-slo"
	sloWindowsGroup = "llmmon-slo-windows"
	sloPeriodGroup  = "llmmon-slo-period"
)

// sloWindows are the burn-rate windows: 1h and 5m page, 6h and 30m warn.
var sloWindows = []string{"5m", "30m", "1h", "6h"}

// minBadEvents is how many bad requests the long window must hold before a burn alert fires:
// one failure of a service with a few requests an hour is a 100 % error ratio, not a burn, and
// neither is the first abort among the first dozen requests a freshly started Prometheus sees.
// They are counted as the sum of the recorded per-second rates times the evaluation interval,
// which, unlike the window's average times its length, does not extrapolate a young window.
const minBadEvents = 3

// slowFor is how long a slow burn must last before it warns: it is slow by definition, and a
// Prometheus that just started has windows of a few samples.
const slowFor = "5m"

// sloRecordGroups returns the SLO record groups, or nil when no target has an SLO.
func sloRecordGroups(s *spec.Spec) []ruleGroup {
	slos := s.SLOs()
	if len(slos) == 0 {
		return nil
	}
	g := ruleGroup{Name: SLOGroup}
	add := func(record, expr string, labels map[string]string) {
		g.Rules = append(g.Rules, rule{Record: record, Expr: expr, Labels: labels})
	}
	period := ruleGroup{Name: sloPeriodGroup, Interval: "1m"}
	for _, ts := range slos {
		sel := fmt.Sprintf("target=%q", ts.Target)
		avail := map[string]string{"target": ts.Target, "slo": "availability"}
		add("llmmon:slo_objective:ratio", "vector("+num(ts.Availability)+")", avail)
		add("llmmon:slo_requests:rate5m", "sum by (target) (llmmon:requests:rate5m{"+sel+"})", avail)
		add("llmmon:slo_errors:rate5m", "sum by (target) (llmmon:request_errors:rate5m{"+sel+"})", avail)
		if l := ts.Latency; l != nil {
			lat := map[string]string{"target": ts.Target, "slo": "latency"}
			total, good := latencyBuckets(s, ts, l)
			add("llmmon:slo_objective:ratio", "vector("+num(l.Objective)+")", lat)
			add("llmmon:slo_requests:rate5m", total, lat)
			add("llmmon:slo_errors:rate5m", total+"\n  - "+good, lat)
		}
		w := human(ts.Period)
		for _, kind := range []string{"availability", "latency"} {
			if kind == "latency" && ts.Latency == nil {
				continue
			}
			one := fmt.Sprintf(`{target=%q,slo=%q}`, ts.Target, kind)
			period.Rules = append(period.Rules, rule{
				Record: "llmmon:slo_error_ratio:period",
				Expr:   fmt.Sprintf("avg_over_time(llmmon:slo_errors:rate5m%s[%s])\n  / clamp_min(avg_over_time(llmmon:slo_requests:rate5m%s[%s]), 1e-9)", one, w, one, w),
				Labels: map[string]string{"period": w, "target": ts.Target, "slo": kind},
			})
		}
	}
	period.Rules = append(period.Rules, rule{
		Record: "llmmon:slo_error_budget_remaining:ratio",
		Expr:   "1 - llmmon:slo_error_ratio:period / on (target, slo) group_left () (1 - llmmon:slo_objective:ratio)",
	})
	windows := ruleGroup{Name: sloWindowsGroup}
	windows.Rules = append(windows.Rules, rule{
		Record: "llmmon:slo_error_ratio:rate5m",
		Expr:   "llmmon:slo_errors:rate5m / clamp_min(llmmon:slo_requests:rate5m, 1e-9)",
	})
	for _, w := range sloWindows[1:] {
		windows.Rules = append(windows.Rules, rule{
			Record: "llmmon:slo_error_ratio:rate" + w,
			Expr:   fmt.Sprintf("avg_over_time(llmmon:slo_errors:rate5m[%s])\n  / clamp_min(avg_over_time(llmmon:slo_requests:rate5m[%s]), 1e-9)", w, w),
		})
	}
	return []ruleGroup{g, windows, period}
}

// latencyBuckets returns the expressions of a latency SLO's all and good requests per second:
// the +Inf bucket and the bucket whose le is the threshold, in whichever unit the target's
// histogram counts (seconds for most engines, milliseconds for Triton, the app's unit where
// the spec maps its metrics). A threshold that is no bucket boundary gives no data, which
// `llmmon doctor` explains.
func latencyBuckets(s *spec.Spec, ts spec.TargetSLO, l *spec.ResolvedLatencySLO) (total, good string) {
	base := "llmmon:ttft_seconds"
	if l.Metric == spec.SLOLatencyE2E {
		base = "llmmon:e2e_latency_seconds"
	}
	var units []string
	switch ts.Engine {
	case spec.EngineTriton:
		units = []string{"milliseconds"}
	case spec.EngineAuto:
		units = []string{"seconds", "milliseconds"}
	default:
		units = []string{"seconds"}
	}
	for _, t := range mappedTargets(s) {
		if t.Name != ts.Target {
			continue
		}
		role := "ttft"
		if l.Metric == spec.SLOLatencyE2E {
			role = "latency"
		}
		if ref := t.Metrics.Ref(role); ref != nil {
			for _, r := range spec.Roles {
				if r.Name == role {
					units = []string{ref.UnitOf(r)}
				}
			}
		}
	}
	var all, under []string
	for _, u := range units {
		rec := BucketRecord(base, u)
		v := l.Threshold.Seconds() / spec.UnitScale(u)
		all = append(all, fmt.Sprintf(`%s{target=%q,le="+Inf"}`, rec, ts.Target))
		under = append(under, fmt.Sprintf(`%s{target=%q,le=~%s}`, rec, ts.Target, strconv.Quote(lePattern(v))))
	}
	return "sum by (target) (" + strings.Join(all, " or ") + ")", "sum by (target) (" + strings.Join(under, " or ") + ")"
}

// lePattern matches the le label of a bucket boundary however the exposition wrote it:
// Prometheus 3 stores le="2.0" for a client's le="2", Prometheus 2 keeps what was written.
func lePattern(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if strings.Contains(s, ".") {
		return regexp.QuoteMeta(s) + "0*"
	}
	return s + `(\.0*)?`
}

// num writes a number as people do: 1 - 0.995 is 0.005, not 0.0050000000000000044.
func num(f float64) string { return strconv.FormatFloat(f, 'g', 10, 64) }

// human writes an SLO's duration as the spec would: 28d, 7d, 2.5s, 10s, 500ms.
func human(d spec.Duration) string {
	t := d.D()
	switch {
	case t >= 24*time.Hour && t%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", t/(24*time.Hour))
	case t < time.Second:
		return fmt.Sprintf("%dms", t.Milliseconds())
	case t < time.Minute:
		return num(t.Seconds()) + "s"
	}
	return d.String()
}

// sloAlertGroup returns the burn-rate alerts of every target's objectives.
func sloAlertGroup(s *spec.Spec, grafana string, panels map[string]panelRef, disabled map[string]bool) ruleGroup {
	zh := s.Language == "zh"
	text := func(en, cn string) string {
		if zh {
			return cn
		}
		return en
	}
	p := panels["llm-slo-burn"]
	link := fmt.Sprintf("%s/d/%s/?viewPanel=%d&var-target={{ $labels.target }}", grafana, p.uid, p.id)
	g := ruleGroup{Name: "llmmon-slo-alerts"}
	type tier struct {
		alert, severity, long, short string
		share                        float64
	}
	for _, ts := range s.SLOs() {
		fast, slow := spec.BurnRates(ts.Period)
		tiers := []struct {
			tier
			rate float64
		}{
			{tier{"LLMErrorBudgetBurnFast", "critical", "1h", "5m", spec.FastBudgetShare}, fast},
			{tier{"LLMErrorBudgetBurnSlow", "warning", "6h", "30m", spec.SlowBudgetShare}, slow},
		}
		objectives := []struct {
			kind      string
			objective float64
			what      string
			whatZH    string
		}{{"availability", ts.Availability, "requests answered without error", "请求无错误完成"}}
		if l := ts.Latency; l != nil {
			what := fmt.Sprintf("requests with a time to first token under %s", human(l.Threshold))
			whatZH := fmt.Sprintf("请求首 token 时间低于 %s", human(l.Threshold))
			if l.Metric == spec.SLOLatencyE2E {
				what = fmt.Sprintf("requests answered in under %s", human(l.Threshold))
				whatZH = fmt.Sprintf("请求耗时低于 %s", human(l.Threshold))
			}
			objectives = append(objectives, struct {
				kind      string
				objective float64
				what      string
				whatZH    string
			}{"latency", l.Objective, what, whatZH})
		}
		for _, o := range objectives {
			budget := math.Round((1-o.objective)*1e9) / 1e9
			one := fmt.Sprintf(`{target=%q,slo=%q}`, ts.Target, o.kind)
			for _, t := range tiers {
				if disabled[t.alert] {
					continue
				}
				expr := fmt.Sprintf("llmmon:slo_error_ratio:rate%s%s / %s > %s\n  and llmmon:slo_error_ratio:rate%s%s / %s > %s\n  and sum_over_time(llmmon:slo_errors:rate5m%s[%s]) * %s >= %d",
					t.long, one, num(budget), num(t.rate), t.short, one, num(budget), num(t.rate), one, t.long, num(s.Prometheus.EvaluationInterval.Seconds()), minBadEvents)
				forDur := ""
				if t.severity == "warning" {
					forDur = slowFor
				}
				pct := num(o.objective * 100)
				share := num(t.share * 100)
				g.Rules = append(g.Rules, rule{
					Alert:  t.alert,
					Expr:   expr,
					For:    forDur,
					Labels: map[string]string{"severity": t.severity, "slo": o.kind, "target": ts.Target},
					Annotations: map[string]string{
						"summary": text(
							fmt.Sprintf(`{{ $labels.target }} burns its %s error budget {{ printf "%%.1f" $value }}x too fast`, o.kind),
							fmt.Sprintf(`{{ $labels.target }} 的%s错误预算消耗速度为允许值的 {{ printf "%%.1f" $value }} 倍`, map[string]string{"availability": "可用性", "latency": "延迟"}[o.kind])),
						"description": text(
							fmt.Sprintf("The objective is %s %% of %s over %s. The last %s spent more than %s %% of that error budget (a burn rate above %s) and the last %s still burns as fast.", pct, o.what, human(ts.Period), t.long, share, num(t.rate), t.short),
							fmt.Sprintf("目标为 %s 内 %s %% 的%s。过去 %s 消耗了超过 %s %% 的错误预算（消耗速度超过 %s 倍），且过去 %s 仍在同样快速消耗。", human(ts.Period), pct, o.whatZH, t.long, share, num(t.rate), t.short)),
						"runbook": text(
							"Errors: look for OOM, CUDA errors or aborted requests in the engine log. Latency: compare with the queue and KV-cache usage. The overview's error budget panel shows what is left.",
							"错误：查看引擎日志中的 OOM、CUDA 错误或被中止的请求。延迟：对照队列和 KV 缓存使用率。总览中的错误预算面板显示剩余预算。"),
						"dashboard": link,
						"value":     valueAnnotation,
					},
				})
			}
		}
	}
	return g
}
