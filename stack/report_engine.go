package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/llmmon/llmmon/stack/relay"
	"github.com/llmmon/llmmon/stack/report"
	"github.com/llmmon/llmmon/stack/spec"
)

// reportQuerier is the stack's Prometheus as the report's Querier.
type reportQuerier struct{ promAPI }

func (q reportQuerier) QueryAt(ctx context.Context, expr string, at time.Time) ([]report.Sample, error) {
	res, err := q.promAPI.QueryAt(ctx, expr, at)
	out := make([]report.Sample, len(res))
	for i, s := range res {
		out[i] = report.Sample(s)
	}
	return out, err
}

// Report computes the service report over the period that ends now, against the period before,
// from the stack's Prometheus (which must hold both: its retention is 15d by default, so a
// month against the month before needs prometheus.retention of 60d or more). With curves, it
// also reads the series the plots draw.
func (e *Engine) Report(ctx context.Context, s *spec.Spec, period time.Duration, curves bool) (*report.Report, error) {
	if period < time.Hour {
		return nil, fmt.Errorf("%w: a report covers at least an hour, got %s", spec.ErrInvalid, period)
	}
	ep, err := e.endpointsFor(s)
	if err != nil {
		return nil, err
	}
	o := report.Options{End: time.Now().Truncate(time.Second), Period: period, Objectives: map[string]float64{},
		EvalInterval: s.Prometheus.EvaluationInterval.D(), Curves: curves}
	for _, t := range s.Targets {
		o.Targets = append(o.Targets, t.Name)
	}
	for _, ts := range s.SLOs() {
		o.Objectives[ts.Target] = ts.Availability
	}
	r, err := report.Build(ctx, reportQuerier{ep.prom()}, o)
	if err != nil {
		return nil, fmt.Errorf("%w (is the stack up? `llmmon status` says)", err)
	}
	return r, nil
}

// ErrNoReportSpec: the spec has no report section, so there is nothing to send.
var ErrNoReportSpec = errors.New("the spec has no report: section, so the report has no receivers; add report: {schedule: \"mon 09:00\"} (see README: Reports)")

// SendReport has the stack's relay build the report of the spec's report.period and deliver
// it now to the report's receivers, the same way as a scheduled one; it returns each
// receiver's result.
func (e *Engine) SendReport(ctx context.Context, s *spec.Spec) ([]relay.ReportResult, error) {
	if s.Report == nil {
		return nil, fmt.Errorf("%w: %w", spec.ErrInvalid, ErrNoReportSpec)
	}
	ep, err := e.endpointsFor(s)
	if err != nil {
		return nil, err
	}
	r := ep.relay().within(5 * time.Minute)
	code, b, err := r.call(ctx, http.MethodPost, "/v1/report/send", nil, "")
	if err != nil {
		return nil, fmt.Errorf("%w; run `llmmon up` so the relay runs with the report", r.unreachable(err))
	}
	switch code {
	case http.StatusOK, http.StatusBadGateway:
		var res []relay.ReportResult
		if json.Unmarshal(b, &res) == nil && res != nil {
			return res, nil
		}
		return nil, fmt.Errorf("the relay could not build the report: %s", trimBody(b))
	case http.StatusNotFound:
		return nil, errors.New("the running relay has no report yet; run `llmmon up` to apply the spec's report section")
	}
	return nil, r.status("/v1/report/send", code)
}

func trimBody(b []byte) string {
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}
