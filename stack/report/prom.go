package report

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// API is a Querier over client_golang's typed Prometheus API.
type API struct{ API v1.API }

// NewPromQuerier is a Querier of the Prometheus at base (http://host:port), with basic auth
// when user is set; the relay uses it to build the scheduled reports.
func NewPromQuerier(base, user, password string) (API, error) {
	rt := http.DefaultTransport
	if user != "" {
		rt = basicAuth{user: user, password: password, next: rt}
	}
	c, err := api.NewClient(api.Config{Address: base, RoundTripper: rt})
	if err != nil {
		return API{}, fmt.Errorf("the Prometheus address %q: %w", base, err)
	}
	return API{API: v1.NewAPI(c)}, nil
}

type basicAuth struct {
	user, password string
	next           http.RoundTripper
}

func (b basicAuth) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.SetBasicAuth(b.user, b.password)
	return b.next.RoundTrip(r)
}

// QueryAt runs an instant query at a time.
func (a API) QueryAt(ctx context.Context, expr string, at time.Time) ([]Sample, error) {
	v, _, err := a.API.Query(ctx, expr, at)
	if err != nil {
		return nil, err
	}
	switch r := v.(type) {
	case model.Vector:
		out := make([]Sample, 0, len(r))
		for _, s := range r {
			out = append(out, Sample{Labels: labelMap(s.Metric), Value: float64(s.Value)})
		}
		return out, nil
	case *model.Scalar:
		return []Sample{{Labels: map[string]string{}, Value: float64(r.Value)}}, nil
	}
	return nil, fmt.Errorf("prometheus answered %s with a %s, not an instant vector", expr, v.Type())
}

// QueryRange runs a range query.
func (a API) QueryRange(ctx context.Context, expr string, start, end time.Time, step time.Duration) ([]Series, error) {
	v, _, err := a.API.QueryRange(ctx, expr, v1.Range{Start: start, End: end, Step: step})
	if err != nil {
		return nil, err
	}
	m, ok := v.(model.Matrix)
	if !ok {
		return nil, fmt.Errorf("prometheus answered %s with a %s, not a range of series", expr, v.Type())
	}
	out := make([]Series, 0, len(m))
	for _, s := range m {
		ser := Series{Labels: labelMap(s.Metric), Points: make([]Point, 0, len(s.Values))}
		for _, p := range s.Values {
			ser.Points = append(ser.Points, Point{T: p.Timestamp.Time(), V: float64(p.Value)})
		}
		out = append(out, ser)
	}
	return out, nil
}

func labelMap(m model.Metric) map[string]string {
	labels := make(map[string]string, len(m))
	for k, v := range m {
		labels[string(k)] = string(v)
	}
	return labels
}
