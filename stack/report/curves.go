package report

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"golang.org/x/sync/errgroup"
)

// Curve is one plot: a line per service (or GPU) over the period, and the same line of the
// period before, moved onto this period's time axis.
type Curve struct {
	// Key names the plot (uptime, requests, errors, latency, tokens, gpu, budget) and its file.
	Key   string
	Lines []Line
}

// Line is one series of a plot.
type Line struct {
	Name   string
	Before bool // the period before, shifted by the period
	Points []Point
}

// curveDefs are the plots: what each draws, by which labels a line is named, and the scale.
var curveDefs = []struct {
	key, expr string
	by        []string
	scale     float64
}{
	{"uptime", `100 * avg by (target) (avg_over_time(up{engine!=""}[STEP]))`, []string{"target"}, 1},
	{"requests", `sum by (target) (avg_over_time(llmmon:requests:rate5m[STEP]))`, []string{"target"}, 1},
	{"errors", `100 * sum by (target) (avg_over_time(llmmon:request_errors:rate5m[STEP])) / clamp_min(sum by (target) (avg_over_time(llmmon:requests:rate5m[STEP])), 1e-9)`, []string{"target"}, 1},
	{"latency", `histogram_quantile(0.95, sum by (target, le) (avg_over_time(llmmon:e2e_latency_seconds_bucket:rate5m[STEP])))`, []string{"target"}, 1},
	{"tokens", `sum by (target) (avg_over_time(llmmon:generation_tokens:rate5m[STEP]))`, []string{"target"}, 1},
	{"gpu", `avg by (Hostname, gpu) (avg_over_time(llmmon:gpu_utilization:percent[STEP]))`, []string{"Hostname", "gpu"}, 1},
	{"budget", `min by (target) (min_over_time(llmmon:slo_error_budget_remaining:ratio{slo="availability"}[STEP]))`, []string{"target"}, 100},
}

// CurveKeys are the plots in the order the report shows them.
func CurveKeys() []string {
	keys := make([]string, len(curveDefs))
	for i, d := range curveDefs {
		keys[i] = d.key
	}
	return keys
}

// curveStep is the plots' resolution: about 168 points (one an hour over a week), never finer
// than 5 minutes, in whole minutes.
func curveStep(period time.Duration) time.Duration {
	step := (period / 168).Truncate(time.Minute)
	return max(step, 5*time.Minute)
}

// curves runs the plots' range queries over the period and, shifted, the one before. A plot
// without any data is left out.
func curves(ctx context.Context, q Querier, start, end time.Time, period time.Duration) ([]Curve, error) {
	step := curveStep(period)
	win := model.Duration(step).String()
	off := model.Duration(period).String()
	var mu sync.Mutex
	all := make([]Curve, len(curveDefs))
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(Concurrency)
	for n, d := range curveDefs {
		for _, before := range []bool{false, true} {
			rng := "[" + win + "]"
			if before {
				rng += " offset " + off
			}
			expr := strings.ReplaceAll(d.expr, "[STEP]", rng)
			g.Go(func() error {
				// Each point averages the step that ends at it.
				res, err := q.QueryRange(ctx, expr, start.Add(step), end, step)
				if err != nil {
					return fmt.Errorf("query the report's plots from Prometheus: %w", err)
				}
				var lines []Line
				for _, s := range res {
					l := Line{Name: lineName(s.Labels, d.by), Before: before}
					for _, p := range s.Points {
						if math.IsNaN(p.V) || math.IsInf(p.V, 0) {
							continue
						}
						l.Points = append(l.Points, Point{T: p.T, V: p.V * d.scale})
					}
					if len(l.Points) > 0 {
						lines = append(lines, l)
					}
				}
				mu.Lock()
				all[n].Lines = append(all[n].Lines, lines...)
				mu.Unlock()
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []Curve
	for n, c := range all {
		if len(c.Lines) == 0 {
			continue
		}
		c.Key = curveDefs[n].key
		sort.SliceStable(c.Lines, func(i, j int) bool {
			if c.Lines[i].Name != c.Lines[j].Name {
				return c.Lines[i].Name < c.Lines[j].Name
			}
			return !c.Lines[i].Before && c.Lines[j].Before
		})
		out = append(out, c)
	}
	return out, nil
}

func lineName(labels map[string]string, by []string) string {
	var parts []string
	for _, k := range by {
		if v := labels[k]; v != "" {
			if k == "gpu" {
				v = "GPU " + v
			}
			parts = append(parts, v)
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
