// Package report computes the figures of llmmon's service report over a period (a week or a
// month) from the stack's Prometheus, each beside the same figure of the period before, and
// writes them as Markdown. It reads the engine-neutral llmmon:* records, so one report covers
// every engine.
package report

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"
)

// Querier evaluates an instant PromQL query at a time, and a range query for the plots.
type Querier interface {
	QueryAt(ctx context.Context, expr string, at time.Time) ([]Sample, error)
	QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error)
}

// Sample is one value of an instant query.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Series is one series of a range query.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one value of a series.
type Point struct {
	T time.Time
	V float64
}

// Options says what to report on.
type Options struct {
	End    time.Time
	Period time.Duration
	// Targets are the model services, in the spec's order.
	Targets []string
	// Objectives are the availability SLOs (ratios) of the targets that have one.
	Objectives map[string]float64
	// EvalInterval is Prometheus' rule evaluation interval: records are summed over time and
	// multiplied by it to count what happened in the period.
	EvalInterval time.Duration
	// Curves asks for the series the plots draw (range queries over both periods).
	Curves bool
}

// Figure is one number of the period and of the period before.
type Figure struct {
	Value, Prev  float64
	Has, HasPrev bool
}

// Change is the relative change against the period before, and whether there is one.
func (f Figure) Change() (float64, bool) {
	if !f.Has || !f.HasPrev || f.Prev == 0 {
		return 0, false
	}
	return (f.Value - f.Prev) / math.Abs(f.Prev), true
}

// Service is one model service's figures.
type Service struct {
	Target       string
	Uptime       Figure // share of scrapes that answered
	Availability Figure // share of requests answered without error
	Objective    float64
	Requests     Figure
	ErrorRate    Figure
	P50, P95     Figure // end-to-end latency, seconds
	P99          Figure
	TTFTP95      Figure
	TPOTP95      Figure // mean of the 5-minute p95
	TokensPerSec Figure
	QueuePeak    Figure
	KVCachePeak  Figure
	// Error budget left at the end of the period, over the SLO's own period (ratios; 0 when
	// spent, negative when overspent), for the objectives the service has.
	AvailabilityBudget Figure
	LatencyBudget      Figure
}

// GPU is one GPU's figures.
type GPU struct {
	Host, GPU, Model string
	Utilization      Figure // mean percent
	MemoryPeak       Figure // percent
	TemperaturePeak  Figure // degrees Celsius
}

// Alert is one alert's firing in the period.
type Alert struct {
	Name, Target, Severity string
	Firing                 time.Duration // how long it fired in all
}

// Report is the whole report.
type Report struct {
	Start, End time.Time
	Period     time.Duration
	Services   []Service
	GPUs       []GPU
	Alerts     []Alert
	// Remediation counts auto-recovery decisions by target and result.
	Remediation map[string]map[string]int
	// Curves are the plots' series, when asked for.
	Curves []Curve `json:"-"`
}

// Concurrency is how many of its queries the report has Prometheus run at once.
const Concurrency = 4

// Build queries the figures.
func Build(ctx context.Context, q Querier, o Options) (*Report, error) {
	if o.EvalInterval <= 0 {
		o.EvalInterval = 5 * time.Second
	}
	r := &Report{Start: o.End.Add(-o.Period), End: o.End, Period: o.Period, Remediation: map[string]map[string]int{}}
	w := model.Duration(o.Period).String()
	step := o.EvalInterval.Seconds()
	type pair struct{ cur, prev map[string]float64 }
	// byTarget evaluates expr (with %s for the range and %s for the offset) for this period and
	// the one before, keyed by target.
	// byTargetAt evaluates this period's expression and the one before's, keyed by target.
	byTargetAt := func(cur, prev string) (pair, error) {
		var p pair
		for i, expr := range []string{cur, prev} {
			res, err := q.QueryAt(ctx, expr, o.End)
			if err != nil {
				return p, fmt.Errorf("query the report's figures from Prometheus: %w", err)
			}
			m := map[string]float64{}
			for _, s := range res {
				if !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) {
					m[s.Labels["target"]] = s.Value
				}
			}
			if i == 0 {
				p.cur = m
			} else {
				p.prev = m
			}
		}
		return p, nil
	}
	// byTarget evaluates expr, whose %s closes a range over the period, for this period and the
	// one before.
	byTarget := func(expr string) (pair, error) {
		return byTargetAt(fmt.Sprintf(expr, w+"]"), fmt.Sprintf(expr, w+"] offset "+w))
	}
	fig := func(p pair, t string) Figure {
		f := Figure{}
		f.Value, f.Has = p.cur[t]
		f.Prev, f.HasPrev = p.prev[t]
		return f
	}
	queries := []struct {
		expr string
		set  func(*Service, Figure)
	}{
		{`avg by (target) (avg_over_time(up{engine!=""}[%s))`, func(s *Service, f Figure) { s.Uptime = f }},
		{`sum by (target) (sum_over_time(llmmon:requests:rate5m[%s)) * ` + num(step), func(s *Service, f Figure) { s.Requests = f }},
		{`sum by (target) (sum_over_time(llmmon:request_errors:rate5m[%[1]s)) / clamp_min(sum by (target) (sum_over_time(llmmon:requests:rate5m[%[1]s)), 1e-9)`, func(s *Service, f Figure) {
			s.ErrorRate = f
			s.Availability = Figure{Value: 1 - f.Value, Has: f.Has, Prev: 1 - f.Prev, HasPrev: f.HasPrev}
		}},
		{`histogram_quantile(0.50, sum by (target, le) (sum_over_time(llmmon:e2e_latency_seconds_bucket:rate5m[%s)))`, func(s *Service, f Figure) { s.P50 = f }},
		{`histogram_quantile(0.95, sum by (target, le) (sum_over_time(llmmon:e2e_latency_seconds_bucket:rate5m[%s)))`, func(s *Service, f Figure) { s.P95 = f }},
		{`histogram_quantile(0.99, sum by (target, le) (sum_over_time(llmmon:e2e_latency_seconds_bucket:rate5m[%s)))`, func(s *Service, f Figure) { s.P99 = f }},
		{`histogram_quantile(0.95, sum by (target, le) (sum_over_time(llmmon:ttft_seconds_bucket:rate5m[%s)))`, func(s *Service, f Figure) { s.TTFTP95 = f }},
		{`max by (target) (avg_over_time(llmmon:tpot_seconds:p95[%s))`, func(s *Service, f Figure) { s.TPOTP95 = f }},
		{`sum by (target) (avg_over_time(llmmon:generation_tokens:rate5m[%s))`, func(s *Service, f Figure) { s.TokensPerSec = f }},
		{`max by (target) (max_over_time(llmmon:queue_length[%s))`, func(s *Service, f Figure) { s.QueuePeak = f }},
		{`max by (target) (max_over_time(llmmon:kv_cache_usage:ratio[%s))`, func(s *Service, f Figure) { s.KVCachePeak = f }},
	}
	services := make([]Service, len(o.Targets))
	for i, t := range o.Targets {
		services[i] = Service{Target: t, Objective: o.Objectives[t]}
	}
	// The queries read every sample of both periods; Prometheus runs a few at once.
	pairs := make([]pair, len(queries))
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(Concurrency)
	for i, qd := range queries {
		g.Go(func() (err error) {
			pairs[i], err = byTarget(qd.expr)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for j, qd := range queries {
		for i := range services {
			qd.set(&services[i], fig(pairs[j], services[i].Target))
		}
	}
	// Error budget left: the once-a-minute record at the end of each period.
	for _, slo := range []string{"availability", "latency"} {
		expr := `min by (target) (last_over_time(llmmon:slo_error_budget_remaining:ratio{slo="` + slo + `"}[15m]%s))`
		p, err := byTargetAt(fmt.Sprintf(expr, ""), fmt.Sprintf(expr, " offset "+w))
		if err != nil {
			return nil, err
		}
		for i := range services {
			f := fig(p, services[i].Target)
			if slo == "availability" {
				services[i].AvailabilityBudget = f
			} else {
				services[i].LatencyBudget = f
			}
		}
	}
	r.Services = services

	// GPUs: by host and index.
	gpuKey := func(s Sample) string { return s.Labels["Hostname"] + "\x00" + s.Labels["gpu"] }
	gpus := map[string]*GPU{}
	for _, g := range []struct {
		expr string
		set  func(*GPU) *Figure
	}{
		{`avg by (Hostname, gpu, modelName) (avg_over_time(llmmon:gpu_utilization:percent[%s))`, func(g *GPU) *Figure { return &g.Utilization }},
		{`max by (Hostname, gpu, modelName) (max_over_time(llmmon:gpu_memory_used:percent[%s))`, func(g *GPU) *Figure { return &g.MemoryPeak }},
		{`max by (Hostname, gpu, modelName) (max_over_time(llmmon:gpu_temperature_celsius[%s))`, func(g *GPU) *Figure { return &g.TemperaturePeak }},
	} {
		for i, off := range []string{"", " offset " + w} {
			res, err := q.QueryAt(ctx, fmt.Sprintf(g.expr, w+"]"+off), o.End)
			if err != nil {
				return nil, fmt.Errorf("query the report's GPU figures from Prometheus: %w", err)
			}
			for _, s := range res {
				k := gpuKey(s)
				if gpus[k] == nil {
					gpus[k] = &GPU{Host: s.Labels["Hostname"], GPU: s.Labels["gpu"], Model: s.Labels["modelName"]}
				}
				f := g.set(gpus[k])
				if i == 0 {
					f.Value, f.Has = s.Value, true
				} else {
					f.Prev, f.HasPrev = s.Value, true
				}
			}
		}
	}
	for _, g := range gpus {
		if g.Utilization.Has || g.MemoryPeak.Has || g.TemperaturePeak.Has {
			r.GPUs = append(r.GPUs, *g)
		}
	}
	sort.Slice(r.GPUs, func(i, j int) bool {
		if r.GPUs[i].Host != r.GPUs[j].Host {
			return r.GPUs[i].Host < r.GPUs[j].Host
		}
		return r.GPUs[i].GPU < r.GPUs[j].GPU
	})

	// Alerts: how long each fired (Prometheus' ALERTS series, one sample per evaluation).
	res, err := q.QueryAt(ctx, fmt.Sprintf(`sum by (alertname, target, severity) (count_over_time(ALERTS{alertstate="firing"}[%s]))`, w), o.End)
	if err != nil {
		return nil, fmt.Errorf("query the alerts of the period from Prometheus: %w", err)
	}
	for _, s := range res {
		r.Alerts = append(r.Alerts, Alert{Name: s.Labels["alertname"], Target: s.Labels["target"], Severity: s.Labels["severity"],
			Firing: time.Duration(s.Value * float64(o.EvalInterval))})
	}
	sort.Slice(r.Alerts, func(i, j int) bool {
		if r.Alerts[i].Firing != r.Alerts[j].Firing {
			return r.Alerts[i].Firing > r.Alerts[j].Firing
		}
		return r.Alerts[i].Name+r.Alerts[i].Target < r.Alerts[j].Name+r.Alerts[j].Target
	})

	// Auto-recovery decisions.
	res, err = q.QueryAt(ctx, fmt.Sprintf(`sum by (target, result) (increase(llmmon_remediation_actions_total[%s]))`, w), o.End)
	if err != nil {
		return nil, fmt.Errorf("query the auto-recovery actions from Prometheus: %w", err)
	}
	for _, s := range res {
		if n := int(math.Round(s.Value)); n > 0 {
			t := s.Labels["target"]
			if r.Remediation[t] == nil {
				r.Remediation[t] = map[string]int{}
			}
			r.Remediation[t][s.Labels["result"]] = n
		}
	}
	if o.Curves {
		if r.Curves, err = curves(ctx, q, r.Start, r.End, o.Period); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func num(f float64) string { return fmt.Sprintf("%g", f) }
