package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/llmmon/llmmon/stack/report"
	"github.com/llmmon/llmmon/stack/spec"
)

// Report computes the service report over the period that ends now, against the period before,
// from the stack's Prometheus (which must hold both: its retention is 15d by default, so a
// month against the month before needs prometheus.retention of 60d or more).
func (e *Engine) Report(ctx context.Context, s *spec.Spec, period time.Duration) (*report.Report, error) {
	if period < time.Hour {
		return nil, fmt.Errorf("%w: a report covers at least an hour, got %s", spec.ErrInvalid, period)
	}
	ep, err := e.endpointsFor(s)
	if err != nil {
		return nil, err
	}
	o := report.Options{End: time.Now().Truncate(time.Minute), Period: period, Objectives: map[string]float64{},
		EvalInterval: s.Prometheus.EvaluationInterval.D()}
	for _, t := range s.Targets {
		o.Targets = append(o.Targets, t.Name)
	}
	for _, ts := range s.SLOs() {
		o.Objectives[ts.Target] = ts.Availability
	}
	r, err := report.Build(ctx, ep.prom(), o)
	if err != nil {
		return nil, fmt.Errorf("%w (is the stack up? `llmmon status` says)", err)
	}
	return r, nil
}
