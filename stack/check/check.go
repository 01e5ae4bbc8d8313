// Package check validates a rendered bundle with the upstream projects' own code: every PromQL
// expression in rules and dashboards is parsed with Prometheus' parser, rule files are loaded
// with Prometheus' rulefmt, alertmanager.yml with Alertmanager's config package, the
// notification templates with Alertmanager's template package, and every dashboard is decoded
// strictly and validated with the Grafana Foundation SDK, which models Grafana's current
// dashboard schema. Each problem names the rule, panel or file it comes from.
package check

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	amconfig "github.com/prometheus/alertmanager/config"
	amtemplate "github.com/prometheus/alertmanager/template"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/llmmon/llmmon/stack/render"
)

// Problem is one finding.
type Problem struct {
	// Where names the file and the rule, panel or field, e.g.
	// `prometheus/rules/llm.yml: alert LLMHighErrorRate`.
	Where string
	Msg   string
}

func (p Problem) String() string { return p.Where + ": " + p.Msg }

// Problems is every finding of one check run; it is an error.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

var promParser = parser.NewParser(parser.Options{})

// Expr parses one PromQL expression with Prometheus' parser.
func Expr(expr string) error {
	_, err := promParser.ParseExpr(expr)
	return err
}

// Bundle checks every file of a bundle and returns Problems, or nil.
func Bundle(b *render.Bundle) error {
	var ps Problems
	for _, p := range b.Paths() {
		f := b.Files[p]
		switch {
		case strings.HasPrefix(p, "prometheus/rules/"):
			ps = append(ps, RuleFile(p, f.Data)...)
		case strings.HasPrefix(p, "grafana/dashboards/") && strings.HasSuffix(p, ".json"):
			ps = append(ps, Dashboard(p, f.Data)...)
			ps = append(ps, DashboardSchema(p, f.Data)...)
		case p == "alertmanager/alertmanager.yml":
			if _, err := amconfig.Load(string(f.Data)); err != nil {
				ps = append(ps, Problem{Where: p, Msg: err.Error()})
			}
		}
	}
	ps = append(ps, templates(b)...)
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// RuleFile loads a rule file with Prometheus' rulefmt, which parses every expression and
// checks every annotation template; each problem names its group and rule.
func RuleFile(name string, data []byte) Problems {
	groups, errs := rulefmt.Parse(data, false, model.UTF8Validation, promParser, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var ps Problems
	for _, err := range errs {
		ps = append(ps, Problem{Where: name, Msg: err.Error()})
	}
	if groups == nil {
		return ps
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			what := "record " + r.Record
			if r.Alert != "" {
				what = "alert " + r.Alert
			}
			if err := Expr(r.Expr); err != nil {
				ps = append(ps, Problem{Where: fmt.Sprintf("%s: group %s: %s", name, g.Name, what), Msg: err.Error()})
			}
		}
	}
	return ps
}

var grafanaVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(:[a-z]+)?\}|\[\[([A-Za-z0-9_]+)\]\]|\$([A-Za-z_][A-Za-z0-9_]*)`)

// GrafanaToPromQL replaces Grafana's template variables with values that keep a query valid
// PromQL, so that it can be parsed: interval variables become 5m, others a plain word.
func GrafanaToPromQL(q string) string {
	return grafanaVar.ReplaceAllStringFunc(q, func(m string) string {
		sm := grafanaVar.FindStringSubmatch(m)
		name := sm[1] + sm[3] + sm[4]
		switch {
		case strings.HasPrefix(name, "__rate_interval"), strings.HasPrefix(name, "__interval"), strings.HasPrefix(name, "__range"),
			name == "interval", name == "resolution", strings.HasSuffix(name, "interval"):
			return "5m"
		}
		return "x"
	})
}

// PanelQuery is one PromQL query found in a dashboard.
type PanelQuery struct {
	PanelID    int
	PanelTitle string
	RefID      string
	Expr       string
}

// DashboardQueries returns every Prometheus query of a dashboard JSON, including rows' nested
// panels and template variables (RefID "var NAME").
func DashboardQueries(data []byte) ([]PanelQuery, error) {
	var d struct {
		Panels     []json.RawMessage                    `json:"panels"`
		Rows       []struct{ Panels []json.RawMessage } `json:"rows"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, err
	}
	var out []PanelQuery
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p struct {
				ID      int               `json:"id"`
				Title   string            `json:"title"`
				Panels  []json.RawMessage `json:"panels"`
				Targets []struct {
					RefID string `json:"refId"`
					Expr  string `json:"expr"`
				} `json:"targets"`
			}
			if json.Unmarshal(r, &p) != nil {
				continue
			}
			for _, t := range p.Targets {
				if strings.TrimSpace(t.Expr) != "" {
					out = append(out, PanelQuery{PanelID: p.ID, PanelTitle: p.Title, RefID: t.RefID, Expr: t.Expr})
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, row := range d.Rows {
		walk(row.Panels)
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if json.Unmarshal(v.Query, &q) != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if json.Unmarshal(v.Query, &obj) != nil {
				continue
			}
			q = obj.Query
		}
		if e := VariableExpr(q); e != "" {
			out = append(out, PanelQuery{RefID: "var " + v.Name, Expr: e})
		}
	}
	return out, nil
}

var labelValuesRe = regexp.MustCompile(`^\s*(label_values|query_result|metrics|label_names)\((.*)\)\s*$`)

// VariableExpr extracts the PromQL part of a Grafana Prometheus variable query
// (label_values(expr, label), query_result(expr)), or "" when it has none.
func VariableExpr(q string) string {
	m := labelValuesRe.FindStringSubmatch(q)
	if m == nil {
		return ""
	}
	args := m[2]
	switch m[1] {
	case "query_result":
		return args
	case "label_values":
		if i := strings.LastIndex(args, ","); i >= 0 {
			return strings.TrimSpace(args[:i])
		}
	}
	return ""
}

// Dashboard parses every query of a dashboard JSON.
func Dashboard(name string, data []byte) Problems {
	qs, err := DashboardQueries(data)
	if err != nil {
		return Problems{{Where: name, Msg: "not valid dashboard JSON: " + err.Error()}}
	}
	var ps Problems
	for _, q := range qs {
		if err := Expr(GrafanaToPromQL(q.Expr)); err != nil {
			where := fmt.Sprintf("%s: panel %d %q query %s", name, q.PanelID, q.PanelTitle, q.RefID)
			if q.PanelID == 0 {
				where = fmt.Sprintf("%s: variable %s", name, strings.TrimPrefix(q.RefID, "var "))
			}
			ps = append(ps, Problem{Where: where, Msg: err.Error()})
		}
	}
	return ps
}

// templates loads the notification templates with Alertmanager's own template package.
func templates(b *render.Bundle) Problems {
	files := b.Under("alertmanager/templates/")
	if len(files) == 0 {
		return nil
	}
	dir, err := os.MkdirTemp("", "llmmon-check-")
	if err != nil {
		return Problems{{Where: "alertmanager/templates", Msg: err.Error()}}
	}
	defer os.RemoveAll(dir)
	names := make([]string, 0, len(files))
	for n, f := range files {
		if err := os.WriteFile(filepath.Join(dir, n), f.Data, 0o600); err != nil {
			return Problems{{Where: "alertmanager/templates/" + n, Msg: err.Error()}}
		}
		names = append(names, n)
	}
	sort.Strings(names)
	var ps Problems
	for _, n := range names {
		if _, err := amtemplate.FromGlobs([]string{filepath.Join(dir, n)}); err != nil {
			ps = append(ps, Problem{Where: "alertmanager/templates/" + n, Msg: err.Error()})
		}
	}
	return ps
}
