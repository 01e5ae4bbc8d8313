package stack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/llmmon/llmmon/stack/doctor"
	"github.com/llmmon/llmmon/stack/report"
)

// promAPI is the stack's Prometheus: client_golang's typed HTTP API (api/prometheus/v1), whose
// requests go through the endpoint (its credentials, timeout and answer cap).
type promAPI struct {
	endpoint
	api v1.API
}

func newPromAPI(p endpoint) promAPI {
	return promAPI{endpoint: p, api: v1.NewAPI(promClient{p})}
}

// promClient is client_golang's api.Client over an endpoint. An answer of a status the API does
// not answer with (anything but 2xx, and 400 and 422, which carry Prometheus' error) is a
// *statusError, so that callers tell a refusal of the stack's credentials from other failures,
// and a request without an answer is an *unreachableError.
type promClient struct{ p endpoint }

var _ api.Client = promClient{}

func (c promClient) URL(ep string, args map[string]string) *url.URL {
	for k, v := range args {
		ep = strings.ReplaceAll(ep, ":"+k, v)
	}
	u, err := url.Parse(c.p.base)
	if err != nil {
		u = &url.URL{}
	}
	u.Path = path.Join(u.Path, ep)
	return u
}

func (c promClient) Do(ctx context.Context, req *http.Request) (*http.Response, []byte, error) {
	resp, b, err := c.p.send(ctx, req)
	if err != nil {
		return nil, nil, c.p.unreachable(err)
	}
	if code := resp.StatusCode; code/100 != 2 && code != http.StatusBadRequest && code != http.StatusUnprocessableEntity {
		return resp, b, c.p.status(req.URL.Path, code)
	}
	return resp, b, nil
}

// Query runs an instant query now (it is doctor's Querier).
func (p promAPI) Query(ctx context.Context, expr string) ([]doctor.Sample, error) {
	return p.QueryAt(ctx, expr, time.Time{})
}

// QueryAt runs an instant query at a time (now when zero; it is the report's Querier).
func (p promAPI) QueryAt(ctx context.Context, expr string, at time.Time) ([]doctor.Sample, error) {
	v, _, err := p.api.Query(ctx, expr, at)
	if err != nil {
		return nil, promErr(err)
	}
	switch r := v.(type) {
	case model.Vector:
		out := make([]doctor.Sample, 0, len(r))
		for _, s := range r {
			labels := make(map[string]string, len(s.Metric))
			for k, v := range s.Metric {
				labels[string(k)] = string(v)
			}
			out = append(out, doctor.Sample{Labels: labels, Value: float64(s.Value)})
		}
		return out, nil
	case *model.Scalar:
		return []doctor.Sample{{Labels: map[string]string{}, Value: float64(r.Value)}}, nil
	}
	return nil, fmt.Errorf("prometheus answered %s with a %s, not an instant vector", expr, v.Type())
}

// QueryRange runs a range query (the report's plots).
func (p promAPI) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]report.Series, error) {
	r, err := report.API{API: p.api}.QueryRange(ctx, expr, start, end, step)
	if err != nil {
		return nil, promErr(err)
	}
	return r, nil
}

// Targets returns the active scrape targets.
func (p promAPI) Targets(ctx context.Context) ([]v1.ActiveTarget, error) {
	r, err := p.api.Targets(ctx)
	if err != nil {
		return nil, promErr(err)
	}
	return r.Active, nil
}

// Alerts returns the alerts that are pending or firing.
func (p promAPI) Alerts(ctx context.Context) ([]v1.Alert, error) {
	r, err := p.api.Alerts(ctx)
	if err != nil {
		return nil, promErr(err)
	}
	return r.Alerts, nil
}

// Config returns the configuration Prometheus runs with, as YAML.
func (p promAPI) Config(ctx context.Context) (string, error) {
	r, err := p.api.Config(ctx)
	if err != nil {
		return "", promErr(err)
	}
	return r.YAML, nil
}

// MetricNames returns the names of the metrics Prometheus has.
func (p promAPI) MetricNames(ctx context.Context) (map[string]bool, error) {
	names, _, err := p.api.LabelValues(ctx, model.MetricNameLabel, nil, time.Time{}, time.Time{})
	if err != nil {
		return nil, promErr(err)
	}
	out := make(map[string]bool, len(names))
	for _, n := range names {
		out[string(n)] = true
	}
	return out, nil
}

// promErr words client_golang's errors for users; the endpoint's own (no answer, a status) are
// already.
func promErr(err error) error {
	var ae *v1.Error
	if errors.As(err, &ae) {
		switch ae.Type {
		case v1.ErrBadResponse:
			return fmt.Errorf("prometheus answered something unreadable: %s", ae.Msg)
		case v1.ErrBadData, v1.ErrExec, v1.ErrTimeout, v1.ErrCanceled:
			return fmt.Errorf("prometheus refused the query: %s", ae.Msg)
		}
	}
	return err
}
