// Package doctor finds what a model service's dashboards and alerts cannot show: for every
// target, each panel query, dashboard variable and llmmon:* record that has no data, with the
// reason in words (the metrics the server does not expose, a flag it needs, a mapping to add),
// and the scrape's health (series count, scrape time against the timeout). It only reads, through
// a Querier: the live stack's Prometheus for `llmmon doctor`, a test Prometheus in the release
// tests.
package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/stack/check"
	"github.com/llmmon/llmmon/stack/render"
)

// Sample is one series of an instant query's answer.
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Querier runs instant PromQL queries.
type Querier interface {
	Query(ctx context.Context, expr string) ([]Sample, error)
}

// ParseQueryResponse reads the answer of Prometheus' /api/v1/query to an instant query.
func ParseQueryResponse(body []byte) ([]Sample, error) {
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("prometheus answered something unreadable: %w", err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus refused the query: %s", r.Error)
	}
	out := make([]Sample, 0, len(r.Data.Result))
	for _, x := range r.Data.Result {
		v, _ := x.Value[1].(string)
		f, _ := strconv.ParseFloat(v, 64)
		out = append(out, Sample{Labels: x.Metric, Value: f})
	}
	return out, nil
}

// Target is a model service as the stack scrapes it: its target label and engine (the job).
type Target struct {
	Name   string
	Engine string
}

// Check is one thing a target's dashboards or alerts read.
type Check struct {
	Kind      string // panel, variable or record
	Dashboard string // the dashboard's title (panels and variables)
	Panel     string // the panel's title, or the variable's name
	Record    string // the record's name
	Expr      string // PromQL, with the target put in for $target
	Source    string `json:"-"` // a record's own expression, which explains it
}

// Name is how the check is shown: "SGLang / Abort ratio", "variable SGLang / model",
// "record llmmon:requests:rate5m".
func (c Check) Name() string {
	switch c.Kind {
	case "record":
		return "record " + c.Record
	case "variable":
		return "variable " + c.Dashboard + " / " + c.Panel
	}
	return c.Dashboard + " / " + c.Panel
}

// Finding is the verdict on one check.
type Finding struct {
	Check
	Data bool `json:"data"`
	// NotExported: the engine has no such signal in any release (a panel of the overview that
	// reads a record llmmon cannot make for it); not counted as blind.
	NotExported bool     `json:"not_exported,omitempty"`
	Missing     []string `json:"missing,omitempty"` // metrics it reads that the server does not expose
	Why         string   `json:"why,omitempty"`
}

// Assets are the rendered rules and dashboards the checks come from.
type Assets struct {
	Records    []byte            // prometheus/rules/records.yml
	Dashboards map[string][]byte // grafana dashboards JSON by file name
}

// Checks returns what a target of engine reads: every query of the dashboards that take a
// $target (its engine's and the overview), every variable that reads its engine's job, and every
// llmmon:* record its engine's group makes (and the derived ones).
func Checks(a Assets, t Target) ([]Check, error) {
	var out []Check
	names := make([]string, 0, len(a.Dashboards))
	for n := range a.Dashboards {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		var meta struct {
			Title string `json:"title"`
		}
		data := a.Dashboards[n]
		_ = json.Unmarshal(data, &meta)
		qs, err := check.DashboardQueries(data)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", n, err)
		}
		for _, q := range qs {
			scope := scopeOf(q.Expr)
			if strings.HasPrefix(q.RefID, "var ") {
				if q.RefID == "var target" || scope != t.Engine {
					continue
				}
				out = append(out, Check{Kind: "variable", Dashboard: meta.Title, Panel: strings.TrimPrefix(q.RefID, "var "), Expr: fill(q.Expr, t)})
				continue
			}
			if !strings.Contains(q.Expr, "$target") || (scope != "" && scope != t.Engine) {
				continue
			}
			if strings.Contains(q.Expr, " offset 7d") {
				continue // last week's copy: empty for a week on a new stack, and no gap then
			}
			out = append(out, Check{Kind: "panel", Dashboard: meta.Title, Panel: q.PanelTitle, Expr: fill(q.Expr, t)})
		}
	}
	rf, err := parseRecords(a.Records)
	if err != nil {
		return nil, err
	}
	recs := records(rf, t)
	made := map[string]bool{}
	for _, r := range recs {
		made[r.name] = true
		out = append(out, Check{Kind: "record", Record: r.name, Expr: r.name + `{target="` + t.Name + `"}`, Source: r.expr})
	}
	slos := sloRecords(rf, t)
	for _, r := range slos {
		made[r.name] = true
		out = append(out, Check{Kind: "record", Record: r.name + " (" + r.slo + ")", Expr: r.name + `{target="` + t.Name + `",slo="` + r.slo + `"}`, Source: r.expr})
	}
	if len(slos) == 0 {
		// The SLO panels of a target without an SLO say so themselves ("No SLO set").
		kept := out[:0]
		for _, c := range out {
			if c.Kind == "panel" && readsOnlySLO(c.Expr) {
				continue
			}
			kept = append(kept, c)
		}
		out = kept
	}
	return dedupe(alternatives(out, made)), nil
}

// alternatives drops a panel's queries over records the target's group never makes when
// another query of the same panel reads one it does make: the mean beside the percentiles is
// for the engines that have only a mean, not a gap of the others.
func alternatives(cs []Check, made map[string]bool) []Check {
	reads := func(c Check) (records, madeOnes int) {
		for _, m := range Metrics(c.Expr) {
			if strings.HasPrefix(m, "llmmon:") {
				records++
				if made[m] {
					madeOnes++
				}
			}
		}
		return
	}
	panelMakes := map[string]bool{}
	for _, c := range cs {
		if _, n := reads(c); c.Kind == "panel" && n > 0 {
			panelMakes[c.Dashboard+"\x00"+c.Panel] = true
		}
	}
	out := cs[:0]
	for _, c := range cs {
		if r, n := reads(c); c.Kind == "panel" && r > 0 && n == 0 && panelMakes[c.Dashboard+"\x00"+c.Panel] {
			continue
		}
		out = append(out, c)
	}
	return out
}

// dedupe keeps one check per (kind, dashboard, panel, record) whose queries all must have data:
// a panel with several queries is one check per query, named the same, so they are kept apart
// by their expressions.
func dedupe(cs []Check) []Check {
	seen := map[string]bool{}
	out := cs[:0]
	for _, c := range cs {
		k := c.Kind + "\x00" + c.Dashboard + "\x00" + c.Panel + "\x00" + c.Record + "\x00" + c.Expr
		if !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	return out
}

type recordRule struct{ name, expr string }

// records returns the records of a target's group (its engine's, or its own where the spec
// maps its metrics) and of the derived group, with their expressions (several rules of one name
// are one record whose expressions are alternatives).
func records(rf *recordFile, t Target) []recordRule {
	group := "llmmon-" + t.Engine
	for _, g := range rf.Groups {
		if g.Name == render.MappedRecordGroup(t.Name) {
			group = g.Name
		}
	}
	seen := map[string]int{}
	var own []recordRule
	for _, g := range rf.Groups {
		if g.Name != group {
			continue
		}
		for _, r := range g.Rules {
			if r.Record == "" {
				continue
			}
			if i, ok := seen[r.Record]; ok {
				own[i].expr += " or " + r.Expr
				continue
			}
			seen[r.Record] = len(own)
			own = append(own, recordRule{r.Record, r.Expr})
		}
	}
	// The error ratio is derived per target from the engine's requests and errors.
	_, req := seen["llmmon:requests:rate5m"]
	_, errs := seen["llmmon:request_errors:rate5m"]
	if req && errs {
		own = append(own, recordRule{"llmmon:error_ratio:rate5m", "llmmon:request_errors:rate5m / llmmon:requests:rate5m"})
	}
	return own
}

// recordFile is the part of the rendered records.yml the checks read.
type recordFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record string            `yaml:"record"`
			Expr   string            `yaml:"expr"`
			Labels map[string]string `yaml:"labels"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

func parseRecords(data []byte) (*recordFile, error) {
	var rf recordFile
	if err := yaml.Unmarshal(data, &rf); err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	return &rf, nil
}

var scopeRe = regexp.MustCompile(`\b(?:job|engine)="([^"$]+)"`)

// scopeOf is the engine a query is limited to (by job or engine label), or "".
func scopeOf(expr string) string {
	if m := scopeRe.FindStringSubmatch(expr); m != nil {
		return m[1]
	}
	return ""
}

var varRe = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// fill puts the target into a Grafana query: $target matches it alone, other variables anything.
func fill(expr string, t Target) string {
	expr = strings.ReplaceAll(expr, `=~"$target"`, `="`+t.Name+`"`)
	expr = varRe.ReplaceAllStringFunc(expr, func(m string) string {
		name := strings.Trim(m, "${}")
		switch {
		case strings.HasPrefix(name, "__rate_interval"), strings.HasPrefix(name, "__interval"), strings.HasSuffix(name, "interval"):
			return "5m"
		case name == "target":
			return regexp.QuoteMeta(t.Name)
		}
		return ".*"
	})
	return check.GrafanaToPromQL(expr)
}

// Metrics returns the metric names an expression reads (llmmon:* records included).
func Metrics(expr string) []string {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == "__name__" && m.Type.String() == "=" {
				name = m.Value
			}
		}
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
		return nil
	})
	return out
}

type sloRecord struct{ name, slo, expr string }

// sloRecords returns the SLO records of a target (group llmmon-slo, labelled with it), each
// with the objective it measures.
func sloRecords(rf *recordFile, t Target) []sloRecord {
	var out []sloRecord
	for _, g := range rf.Groups {
		if g.Name != render.SLOGroup {
			continue
		}
		for _, r := range g.Rules {
			if r.Labels["target"] == t.Name && r.Record != "llmmon:slo_objective:ratio" {
				out = append(out, sloRecord{r.Record, r.Labels["slo"], r.Expr})
			}
		}
	}
	return out
}

// readsOnlySLO reports whether a query reads llmmon:slo_* records and no other.
func readsOnlySLO(expr string) bool {
	n := 0
	for _, m := range Metrics(expr) {
		if !strings.HasPrefix(m, "llmmon:slo_") {
			return false
		}
		n++
	}
	return n > 0
}
