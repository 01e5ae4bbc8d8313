package render_test

import (
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/stack/check"
	"github.com/llmmon/llmmon/stack/render"
)

func TestOffsetWeek(t *testing.T) {
	for in, want := range map[string]string{
		`llmmon:requests:rate5m{target=~"$target"}`:                                  `llmmon:requests:rate5m{target=~"$target"} offset 7d`,
		`sum by (target) (rate(x_total{job="v",a=~"[}]"}[5m]))`:                      `sum by (target) (rate(x_total{job="v",a=~"[}]"}[5m] offset 7d))`,
		`histogram_quantile(0.95, sum by (le) (rate(h_bucket{job="v"}[5m]))) / 1000`: `histogram_quantile(0.95, sum by (le) (rate(h_bucket{job="v"}[5m] offset 7d))) / 1000`,
	} {
		if got := render.OffsetWeek(in); got != want {
			t.Errorf("render.OffsetWeek(%s)\n got %s\nwant %s", in, got, want)
		}
	}
}

// TestLastWeekQueriesParse: every week-earlier copy in the dashboards is valid PromQL whose
// every selector is offset by a week.
func TestLastWeekQueriesParse(t *testing.T) {
	defs, err := render.LoadDashboardDefs(dashboards.FS)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range defs {
		for _, p := range d.Panels {
			for _, q := range p.Queries {
				if !q.LastWeek {
					continue
				}
				n++
				expr, err := parser.NewParser(parser.Options{}).ParseExpr(check.GrafanaToPromQL(render.OffsetWeek(q.Expr)))
				if err != nil {
					t.Errorf("%s / %s: %v", d.UID, p.Title, err)
					continue
				}
				parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
					if vs, ok := node.(*parser.VectorSelector); ok && vs.OriginalOffset.Hours() != 7*24 {
						t.Errorf("%s / %s: %s is not a week earlier", d.UID, p.Title, vs)
					}
					return nil
				})
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d queries have a last-week copy", n)
	}
}
