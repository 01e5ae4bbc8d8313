package check_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack/check"
)

// current is a dashboard in Grafana's current schema: a timeseries panel, a collapsed row
// holding a stat panel, a query variable and a link.
const current = `{
  "uid": "t", "title": "T", "schemaVersion": 42,
  "annotations": {},
  "templating": {"list": [
    {"type": "query", "name": "job", "query": "label_values(up, job)", "datasource": {"type": "prometheus", "uid": "p"}}
  ]},
  "links": [
    {"title": "Docs", "type": "link", "url": "https://example.com", "icon": "doc", "tooltip": "", "tags": [],
     "asDropdown": false, "targetBlank": true, "includeVars": false, "keepTime": false}
  ],
  "panels": [
    {"type": "timeseries", "id": 1, "title": "Latency", "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
     "datasource": {"type": "prometheus", "uid": "p"},
     "targets": [{"refId": "A", "expr": "up", "datasource": {"type": "prometheus", "uid": "p"}}],
     "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": true, "calcs": []},
                 "tooltip": {"mode": "single", "sort": "none"}},
     "fieldConfig": {"defaults": {"unit": "s", "custom": {"lineWidth": 1}}, "overrides": []}},
    {"type": "row", "id": 10, "title": "More", "collapsed": true, "gridPos": {"h": 1, "w": 24, "x": 0, "y": 8},
     "panels": [
       {"type": "stat", "id": 11, "title": "Up", "gridPos": {"h": 4, "w": 6, "x": 0, "y": 9},
        "targets": [{"refId": "A", "expr": "up", "datasource": {"type": "prometheus", "uid": "p"}}],
        "options": {"graphMode": "area", "colorMode": "value", "justifyMode": "auto", "textMode": "auto",
                    "wideLayout": true, "showPercentChange": false, "reduceOptions": {"calcs": ["lastNotNull"]},
                    "percentChangeColorMode": "standard", "orientation": "auto"}}
     ]}
  ]
}`

// edit returns current with f applied to its decoded form.
func edit(t *testing.T, f func(d map[string]any)) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(current), &d); err != nil {
		t.Fatal(err)
	}
	f(d)
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func obj(v any, path ...any) map[string]any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

func TestDashboardSchemaCurrent(t *testing.T) {
	if check.DashboardSchemaVersion != 42 {
		// The SDK was upgraded: bump "schemaVersion" in current above, and mind the golden files.
		t.Fatalf("the SDK models schemaVersion %d, this test was written for 42", check.DashboardSchemaVersion)
	}
	if ps := check.DashboardSchema("t.json", []byte(current)); len(ps) != 0 {
		t.Fatalf("a dashboard in the current schema has problems:\n%v", ps)
	}
	r, err := check.InspectDashboard([]byte(current))
	if err != nil || !r.HasSchemaVersion || r.SchemaVersion != 42 || r.Old() || len(r.Findings) != 0 {
		t.Fatalf("report %+v, %v", r, err)
	}
}

// TestDashboardSchemaFindings: each departure is found, of its kind, at its JSON path, and
// worded for a person with the panel, variable or link it belongs to.
func TestDashboardSchemaFindings(t *testing.T) {
	for _, c := range []struct {
		name    string
		edit    func(d map[string]any)
		kind    check.SchemaKind
		path    string
		problem string // the whole Problem as DashboardSchema words it
	}{
		{"unknown dashboard field", func(d map[string]any) { d["style"] = "dark" },
			check.UnknownField, "style", `t.json: style: field "style" is not in Grafana's dashboard schema`},
		{"unknown panel field", func(d map[string]any) { obj(d, "panels", 0)["span"] = 12 },
			check.UnknownField, "panels[0].span", `t.json: panel 1 "Latency": span: field "span" is not in Grafana's dashboard schema`},
		{"missing panel option", func(d map[string]any) { delete(obj(d, "panels", 0, "options", "legend"), "showLegend") },
			check.MissingField, "panels[0].options.legend.showLegend", `t.json: panel 1 "Latency": options.legend.showLegend: required field is missing`},
		{"unknown option of a panel in a row", func(d map[string]any) { obj(d, "panels", 1, "panels", 0, "options")["fieldOptions"] = map[string]any{} },
			check.UnknownField, "panels[1].panels[0].options.fieldOptions", `t.json: panel 11 "Up": options.fieldOptions: field "fieldOptions" is not in Grafana's dashboard schema`},
		{"wrong type", func(d map[string]any) { obj(d, "panels", 0, "gridPos")["w"] = "12" },
			check.WrongType, "panels[0].gridPos.w", `t.json: panel 1 "Latency": gridPos.w: want a whole number, 0 or more, got a string`},
		{"negative", func(d map[string]any) { obj(d, "panels", 0, "gridPos")["x"] = -1 },
			check.WrongType, "panels[0].gridPos.x", `t.json: panel 1 "Latency": gridPos.x: want a whole number, 0 or more, got the number -1`},
		{"wider than the grid", func(d map[string]any) { obj(d, "panels", 0, "gridPos")["w"] = 30 },
			check.Invalid, "panels[0].gridPos.w", `t.json: panel 1 "Latency": gridPos.w: must be <= 24`},
		{"custom field config out of range", func(d map[string]any) {
			obj(d, "panels", 0, "fieldConfig", "defaults", "custom")["lineWidth"] = "thick"
		}, check.WrongType, "panels[0].fieldConfig.defaults.custom.lineWidth", `t.json: panel 1 "Latency": fieldConfig.defaults.custom.lineWidth: want a number, got a string`},
		{"refresh not a string", func(d map[string]any) { d["refresh"] = false },
			check.WrongType, "refresh", `t.json: refresh: want a string, got true or false`},
		{"variable", func(d map[string]any) { obj(d, "templating", "list", 0)["multi"] = "yes" },
			check.WrongType, "templating.list[0].multi", `t.json: variable job: multi: want true or false, got a string`},
		{"link", func(d map[string]any) { delete(obj(d, "links", 0), "targetBlank") },
			check.MissingField, "links[0].targetBlank", `t.json: link 1 "Docs": targetBlank: required field is missing`},
		{"panel without a type", func(d map[string]any) { delete(obj(d, "panels", 0), "type") },
			check.MissingField, "panels[0].type", `t.json: panel 1 "Latency": type: the panel has no type`},
		{"no schemaVersion", func(d map[string]any) { delete(d, "schemaVersion") },
			check.MissingField, "schemaVersion", `t.json: schemaVersion: required field is missing`},
		{"panel type without a model", func(d map[string]any) {
			obj(d, "panels", 0)["type"] = "grafana-clock-panel"
			delete(obj(d, "panels", 0), "options")
		},
			check.UnmodeledPanel, "panels[0].type", `t.json: panel 1 "Latency": type: panel type "grafana-clock-panel" has no model in the Grafana Foundation SDK, so its options are not checked`},
		{"query of an unknown datasource", func(d map[string]any) {
			delete(obj(d, "panels", 0), "datasource")
			delete(obj(d, "panels", 0, "targets", 0), "datasource")
		},
			check.UnmodeledQuery, "panels[0].targets[0]", `t.json: panel 1 "Latency": targets[0]: the query's datasource has no type the SDK knows (such as prometheus), so the query is not checked`},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := edit(t, c.edit)
			r, err := check.InspectDashboard(data)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, f := range r.Findings {
				if f.Kind == c.kind && f.Path == c.path {
					found = true
				}
			}
			if !found {
				t.Errorf("no finding of kind %d at %s in %+v", c.kind, c.path, r.Findings)
			}
			ps := check.DashboardSchema("t.json", data)
			var got []string
			for _, p := range ps {
				got = append(got, p.String())
			}
			if !strings.Contains(strings.Join(got, "\n")+"\n", c.problem+"\n") {
				t.Errorf("problems:\n%s\nwant one:\n%s", strings.Join(got, "\n"), c.problem)
			}
		})
	}
}

// TestDashboardSchemaOld: a schemaVersion below the current one is a problem for a dashboard
// llmmon generates (Grafana would migrate it at every load), and the report calls it old.
func TestDashboardSchemaOld(t *testing.T) {
	data := edit(t, func(d map[string]any) { d["schemaVersion"] = 39 })
	ps := check.DashboardSchema("t.json", data)
	if len(ps) != 1 || ps[0].String() != "t.json: schemaVersion 39 is older than Grafana's current dashboard schema (42): Grafana would migrate the dashboard each time it loads it" {
		t.Errorf("got %v", ps)
	}
	r, _ := check.InspectDashboard(data)
	if !r.Old() || r.SchemaVersion != 39 {
		t.Errorf("report %+v", r)
	}
	r, _ = check.InspectDashboard(edit(t, func(d map[string]any) { delete(d, "schemaVersion") }))
	if !r.Old() || r.HasSchemaVersion {
		t.Errorf("no schemaVersion: report %+v", r)
	}
}

func TestDashboardSchemaNotJSON(t *testing.T) {
	for _, bad := range []string{"", "[1]", "null", "{"} {
		if ps := check.DashboardSchema("t.json", []byte(bad)); len(ps) != 1 || ps[0].Where != "t.json" {
			t.Errorf("%q: %v", bad, ps)
		}
	}
	ps := check.DashboardSchema("t.json", []byte(`{"title": "T", "schemaVersion": 42, "panels": {"a": 1}, "templating": {}, "annotations": {}}`))
	if len(ps) == 0 {
		t.Error("panels as an object passes")
	}
}
