package dashimport

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/llmmon/llmmon/stack/check"
)

// PanelMetrics is a panel and the metric names its queries use that the stack does not have.
type PanelMetrics struct {
	Panel   string
	Metrics []string
}

var metricParser = parser.NewParser(parser.Options{})

// grafanaVarRe is the variable syntax check.GrafanaToPromQL knows.
var grafanaVarRe = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(:[a-z]+)?\}|\[\[([A-Za-z0-9_]+)\]\]|\$([A-Za-z_][A-Za-z0-9_]*)`)

// varMarker stands for a template variable in a query when its metric names are collected, so
// that a name built from a variable ("${metric}_total") or a variable used as a number is not
// taken for a metric.
const varMarker = "llmmon_template_variable"

// MissingMetrics returns, for each panel, the metric names its queries use that are not in
// `have` (a set of metric names currently exposed by the stack's targets, e.g. from
// Prometheus' /api/v1/label/__name__/values). Names are those of the selectors' __name__
// equality matchers, as written (a histogram's _bucket, _sum and _count series are their own
// names); selectors matching names by regular expression, names built from template variables
// and queries that do not parse are left out. Panels are sorted by name (variables are
// "variable NAME"; panels of the same title are merged), their metrics sorted and unique.
func MissingMetrics(r *Result, have map[string]bool) []PanelMetrics {
	if r == nil {
		return nil
	}
	missing := map[string]map[string]bool{}
	for _, q := range r.Queries {
		for _, name := range queryMetrics(q.Expr) {
			if have[name] {
				continue
			}
			p := panelName(q)
			if missing[p] == nil {
				missing[p] = map[string]bool{}
			}
			missing[p][name] = true
		}
	}
	out := make([]PanelMetrics, 0, len(missing))
	for p, ms := range missing {
		pm := PanelMetrics{Panel: p}
		for m := range ms {
			pm.Metrics = append(pm.Metrics, m)
		}
		sort.Strings(pm.Metrics)
		out = append(out, pm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Panel < out[j].Panel })
	return out
}

// queryMetrics returns the metric names a Grafana Prometheus query selects by exact name,
// sorted and unique, or nil when it does not parse.
func queryMetrics(expr string) []string {
	q := grafanaVarRe.ReplaceAllStringFunc(expr, func(m string) string {
		if r := check.GrafanaToPromQL(m); r != "x" { // an interval: keep what check uses
			return r
		}
		return varMarker
	})
	e, err := metricParser.ParseExpr(q)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual && m.Value != "" && !strings.Contains(m.Value, varMarker) {
				seen[m.Value] = true
			}
		}
		return nil
	})
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func panelName(q check.PanelQuery) string {
	if v, ok := strings.CutPrefix(q.RefID, "var "); ok && q.PanelID == 0 && q.PanelTitle == "" {
		return "variable " + v
	}
	if strings.TrimSpace(q.PanelTitle) == "" {
		return fmt.Sprintf("panel %d", q.PanelID)
	}
	return q.PanelTitle
}
