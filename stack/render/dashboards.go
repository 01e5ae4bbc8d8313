package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/grafana-tools/sdk"
	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/stack/spec"
)

// DashboardDef is a declarative dashboard from dashboards/*.yaml.
type DashboardDef struct {
	UID       string        `yaml:"uid"`
	Title     string        `yaml:"title"`
	Tags      []string      `yaml:"tags"`
	Variables []VariableDef `yaml:"variables"`
	Panels    []PanelDef    `yaml:"panels"`
}

// VariableDef is a query template variable.
type VariableDef struct {
	Name  string `yaml:"name"`
	Label string `yaml:"label"`
	Query string `yaml:"query"`
}

// PanelDef is one panel.
type PanelDef struct {
	Key         string         `yaml:"key"`
	Title       string         `yaml:"title"`
	Type        string         `yaml:"type"` // timeseries or stat
	W           int            `yaml:"w"`
	H           int            `yaml:"h"`
	Unit        string         `yaml:"unit"`
	Min         *float64       `yaml:"min"`
	Max         *float64       `yaml:"max"`
	Description string         `yaml:"description"`
	Thresholds  []ThresholdDef `yaml:"thresholds"`
	Queries     []QueryDef     `yaml:"queries"`
}

// ThresholdDef is one threshold step; a nil value is the base step.
type ThresholdDef struct {
	Color string   `yaml:"color"`
	Value *float64 `yaml:"value"`
}

// QueryDef is one PromQL query of a panel.
type QueryDef struct {
	Expr   string `yaml:"expr"`
	Legend string `yaml:"legend"`
}

type panelRef struct {
	uid string
	id  uint
}

type renderedDashboards struct {
	files  map[string][]byte
	panels map[string]panelRef
}

// LoadDashboardDefs reads every dashboard definition, sorted by file name.
func LoadDashboardDefs(dashboards fs.FS) ([]DashboardDef, error) {
	names, err := fs.Glob(dashboards, "*.yaml")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out []DashboardDef
	for _, n := range names {
		data, err := fs.ReadFile(dashboards, n)
		if err != nil {
			return nil, err
		}
		var d DashboardDef
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&d); err != nil {
			return nil, fmt.Errorf("%s: %w", path.Base(n), err)
		}
		out = append(out, d)
	}
	return out, nil
}

func datasourceRef() map[string]string {
	return map[string]string{"type": "prometheus", "uid": DatasourceUID}
}

func renderDashboards(s *spec.Spec, dashboards fs.FS) (*renderedDashboards, error) {
	defs, err := LoadDashboardDefs(dashboards)
	if err != nil {
		return nil, err
	}
	out := &renderedDashboards{files: map[string][]byte{}, panels: map[string]panelRef{}}
	uids := map[string]bool{}
	for _, d := range defs {
		if uids[d.UID] {
			return nil, fmt.Errorf("dashboard uid %q is used twice", d.UID)
		}
		uids[d.UID] = true
		board, err := BuildBoard(d)
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.UID, err)
		}
		for i, p := range d.Panels {
			if _, dup := out.panels[p.Key]; dup {
				return nil, fmt.Errorf("panel key %q is used twice", p.Key)
			}
			out.panels[p.Key] = panelRef{uid: d.UID, id: uint(i + 1)}
		}
		data, err := json.MarshalIndent(board, "", "  ")
		if err != nil {
			return nil, err
		}
		out.files[d.UID+".json"] = append(data, '\n')
	}
	return out, nil
}

// BuildBoard turns a definition into a Grafana dashboard bound to llmmon's datasource uid.
func BuildBoard(d DashboardDef) (*sdk.Board, error) {
	b := sdk.NewBoard(d.Title)
	b.ID = 0
	b.UID = d.UID
	b.Slug = ""
	b.Tags = append([]string{}, d.Tags...)
	b.Editable = true
	b.Timezone = "browser"
	b.SchemaVersion = 39
	b.Version = 1
	b.Time = sdk.Time{From: "now-3h", To: "now"}
	refresh := sdk.BoolString{Flag: true, Value: "30s"}
	b.Refresh = &refresh
	b.Timepicker.RefreshIntervals = []string{"10s", "30s", "1m", "5m", "15m"}
	b.Timepicker.TimeOptions = []string{}
	b.Rows = nil
	b.Links = []sdk.Link{{Title: "llmmon", Type: "dashboards", Tags: []string{"llmmon"}, AsDropdown: ptr(true), IncludeVars: true, KeepTime: ptr(true)}}
	b.Annotations.List = []sdk.Annotation{}
	for _, v := range d.Variables {
		b.Templating.List = append(b.Templating.List, sdk.TemplateVar{
			Name:       v.Name,
			Label:      v.Label,
			Type:       "query",
			Datasource: datasourceRef(),
			Refresh:    sdk.BoolInt{Flag: true, Value: ptr(int64(2))},
			Query:      map[string]string{"query": v.Query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
			IncludeAll: true,
			AllValue:   ".*",
			Multi:      true,
			Sort:       1,
			Options:    []sdk.Option{},
			Current:    sdk.Current{Text: &sdk.StringSliceString{Value: []string{"All"}, Valid: true}, Value: []string{"$__all"}},
		})
	}
	x, y, rowH := 0, 0, 0
	for i, p := range d.Panels {
		if p.Key == "" || p.Title == "" || len(p.Queries) == 0 {
			return nil, fmt.Errorf("panel %d needs key, title and at least one query", i+1)
		}
		if p.Description == "" {
			return nil, fmt.Errorf("panel %s has no description", p.Key)
		}
		w, h := p.W, p.H
		if w <= 0 || w > 24 {
			w = 12
		}
		if h <= 0 {
			h = 8
		}
		if x+w > 24 {
			x, y = 0, y+rowH
			rowH = 0
		}
		panel, err := buildPanel(p)
		if err != nil {
			return nil, fmt.Errorf("panel %s: %w", p.Key, err)
		}
		panel.ID = uint(i + 1)
		panel.GridPos.X, panel.GridPos.Y, panel.GridPos.W, panel.GridPos.H = ptr(x), ptr(y), ptr(w), ptr(h)
		b.Panels = append(b.Panels, panel)
		x += w
		rowH = max(rowH, h)
	}
	return b, nil
}

func buildPanel(p PanelDef) (*sdk.Panel, error) {
	unit := p.Unit
	if unit == "" {
		unit = "short"
	}
	steps := []sdk.ThresholdStep{{Color: "green"}}
	if len(p.Thresholds) > 0 {
		steps = nil
		for _, t := range p.Thresholds {
			steps = append(steps, sdk.ThresholdStep{Color: t.Color, Value: t.Value})
		}
	}
	var targets []sdk.Target
	for i, q := range p.Queries {
		targets = append(targets, sdk.Target{
			RefID:        string(rune('A' + i)),
			Datasource:   datasourceRef(),
			Expr:         strings.TrimSpace(q.Expr),
			LegendFormat: q.Legend,
			Interval:     "",
		})
	}
	desc := p.Description
	switch p.Type {
	case "timeseries", "":
		panel := sdk.NewTimeseries(p.Title)
		panel.IsNew = false
		panel.Span = 0
		panel.Datasource = datasourceRef()
		panel.Description = &desc
		panel.TimeseriesPanel.Targets = targets
		fc := &panel.TimeseriesPanel.FieldConfig.Defaults
		fc.Unit = unit
		fc.Min, fc.Max = p.Min, p.Max
		fc.Thresholds = sdk.Thresholds{Mode: "absolute", Steps: steps}
		fc.Custom.DrawStyle = "line"
		fc.Custom.LineWidth = 1
		fc.Custom.FillOpacity = 10
		fc.Custom.ShowPoints = "never"
		fc.Custom.LineInterpolation = "linear"
		fc.Custom.GradientMode = "none"
		fc.Custom.AxisPlacement = "auto"
		if len(p.Thresholds) > 0 {
			fc.Custom.ThresholdsStyle.Mode = "line"
		}
		panel.TimeseriesPanel.Options.Legend = sdk.TimeseriesLegendOptions{Calcs: []string{"lastNotNull", "max"}, DisplayMode: "table", Placement: "bottom"}
		panel.TimeseriesPanel.Options.Tooltip.Mode = "multi"
		return panel, nil
	case "stat":
		panel := sdk.NewCustom(p.Title)
		panel.IsNew = false
		panel.Type = "stat"
		panel.Datasource = datasourceRef()
		panel.Description = &desc
		(*panel.CustomPanel)["targets"] = targets
		(*panel.CustomPanel)["fieldConfig"] = map[string]any{
			"defaults": map[string]any{
				"unit":       unit,
				"thresholds": sdk.Thresholds{Mode: "absolute", Steps: steps},
				"color":      map[string]string{"mode": "thresholds"},
			},
			"overrides": []any{},
		}
		(*panel.CustomPanel)["options"] = map[string]any{
			"reduceOptions": map[string]any{"calcs": []string{"lastNotNull"}, "fields": "", "values": false},
			"colorMode":     "background",
			"graphMode":     "area",
			"textMode":      "auto",
		}
		return panel, nil
	}
	return nil, fmt.Errorf("unknown panel type %q", p.Type)
}

func ptr[T any](v T) *T { return &v }
