package render

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
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
	NoValue     string         `yaml:"no_value"` // shown instead of "No data"
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
	// LastWeek adds the same query at the same time a week earlier (offset 7d), legend "... last week".
	LastWeek bool `yaml:"last_week"`
}

// FleetDashboardUID is the fleet overview, rendered for a central stack only.
const FleetDashboardUID = "llmmon-fleet"

// WithHostSelector gives a central stack's dashboard a Host variable first and narrows every
// selector of its queries and variables to it; "All" (.*) also matches series without a host.
func WithHostSelector(d DashboardDef) DashboardDef {
	narrow := func(expr string) string { return strings.ReplaceAll(expr, "{", `{host=~"$host",`) }
	vars := []VariableDef{{Name: "host", Label: "Host", Query: `label_values(up, host)`}}
	for _, v := range d.Variables {
		v.Query = narrow(v.Query)
		vars = append(vars, v)
	}
	d.Variables = vars
	panels := make([]PanelDef, len(d.Panels))
	for i, p := range d.Panels {
		qs := make([]QueryDef, len(p.Queries))
		for j, q := range p.Queries {
			q.Expr = narrow(q.Expr)
			qs[j] = q
		}
		p.Queries = qs
		panels[i] = p
	}
	d.Panels = panels
	return d
}

// LastWeekLegend is the suffix of the legend of a query's week-earlier copy.
const LastWeekLegend = " last week"

// OffsetWeek returns expr with every selector read a week earlier: " offset 7d" after each
// range ([5m]) and after each instant selector's matchers ({...} not followed by a range).
// The dashboards' expressions always write their selectors with matchers.
func OffsetWeek(expr string) string {
	var b strings.Builder
	inString := false
	for i := 0; i < len(expr); i++ {
		c := expr[i]
		b.WriteByte(c)
		switch {
		case c == '"' && (i == 0 || expr[i-1] != '\\'):
			inString = !inString
		case inString:
		case c == ']':
			b.WriteString(" offset 7d")
		case c == '}':
			if j := i + 1; j >= len(expr) || expr[j] != '[' {
				b.WriteString(" offset 7d")
			}
		}
	}
	return b.String()
}

// expandLastWeek returns a panel's queries with the week-earlier copies after the ones that ask.
func expandLastWeek(qs []QueryDef) []QueryDef {
	var out []QueryDef
	for _, q := range qs {
		out = append(out, q)
		if q.LastWeek {
			out = append(out, QueryDef{Expr: OffsetWeek(strings.TrimSpace(q.Expr)), Legend: q.Legend + LastWeekLegend})
		}
	}
	return out
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

// datasourceRef is llmmon's Prometheus datasource, the only one a dashboard refers to.
func datasourceRef() common.DataSourceRef {
	return common.DataSourceRef{Type: ptr("prometheus"), Uid: ptr(DatasourceUID)}
}

func renderDashboards(s *spec.Spec, dashboards fs.FS) (*renderedDashboards, error) {
	defs, err := LoadDashboardDefs(dashboards)
	if err != nil {
		return nil, err
	}
	out := &renderedDashboards{files: map[string][]byte{}, panels: map[string]panelRef{}}
	uids := map[string]bool{}
	for _, d := range defs {
		if d.UID == FleetDashboardUID && s.Role() != spec.RoleCentral {
			continue
		}
		if s.Role() == spec.RoleCentral && d.UID != FleetDashboardUID {
			d = WithHostSelector(d)
		}
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

// BuildBoard turns a definition into a Grafana dashboard bound to llmmon's datasource uid. It
// is built with the Grafana Foundation SDK, which models Grafana's current dashboard schema
// (its schemaVersion included), so Grafana serves the JSON as it is, without migrating it.
func BuildBoard(d DashboardDef) (*dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder(d.Title).
		Uid(d.UID).
		Tags(append([]string{}, d.Tags...)).
		Editable().
		Timezone("browser").
		Version(1).
		Time("now-3h", "now").
		Refresh("30s").
		Timepicker(dashboard.NewTimePickerBuilder().RefreshIntervals([]string{"10s", "30s", "1m", "5m", "15m"})).
		Link(dashboard.NewDashboardLinkBuilder("llmmon").
			Type(dashboard.DashboardLinkTypeDashboards).
			Tags([]string{"llmmon"}).
			AsDropdown(true).
			IncludeVars(true).
			KeepTime(true).
			TargetBlank(false).
			Icon("external link").
			Tooltip(""))
	for _, v := range d.Variables {
		b.WithVariable(dashboard.NewQueryVariableBuilder(v.Name).
			Label(v.Label).
			Datasource(datasourceRef()).
			Query(dashboard.StringOrMap{Map: map[string]any{"query": v.Query, "refId": "PrometheusVariableQueryEditor-VariableQuery"}}).
			Definition(v.Query).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			IncludeAll(true).
			AllValue(".*").
			Multi(true).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Options([]dashboard.VariableOption{}).
			Current(dashboard.VariableOption{
				Text:  dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
				Value: dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
			}))
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
		// Only the first panel sits at (0,0), which is where WithPanel puts a panel without a
		// position; every other keeps the position given here.
		pos := dashboard.GridPos{X: uint32(x), Y: uint32(y), W: uint32(w), H: uint32(h)}
		panel, err := buildPanel(p, uint32(i+1), pos)
		if err != nil {
			return nil, fmt.Errorf("panel %s: %w", p.Key, err)
		}
		b.WithPanel(panel)
		x += w
		rowH = max(rowH, h)
	}
	board, err := b.Build()
	if err != nil {
		return nil, err
	}
	dropSDKDefaults(&board)
	return &board, nil
}

// dropSDKDefaults removes the defaults the SDK's constructors fill in that do not apply here:
// the link's placement "inControlsMenu" (it would move the link out of the dashboard's header
// into the controls menu), the interval-variable fields auto, auto_min and auto_count on query
// variables, and repeatDirection on panels that do not repeat.
func dropSDKDefaults(board *dashboard.Dashboard) {
	for i := range board.Links {
		board.Links[i].Placement = nil
	}
	for i := range board.Templating.List {
		if v := &board.Templating.List[i]; v.Type == dashboard.VariableTypeQuery {
			v.Auto, v.AutoMin, v.AutoCount = nil, nil, nil
		}
	}
	for _, p := range board.Panels {
		if p.Panel != nil && p.Panel.Repeat == nil {
			p.Panel.RepeatDirection = nil
		}
	}
}

func buildPanel(p PanelDef, id uint32, pos dashboard.GridPos) (cog.Builder[dashboard.Panel], error) {
	unit := p.Unit
	if unit == "" {
		unit = "short"
	}
	steps := []dashboard.Threshold{{Color: "green"}}
	if len(p.Thresholds) > 0 {
		steps = nil
		for _, t := range p.Thresholds {
			steps = append(steps, dashboard.Threshold{Color: t.Color, Value: t.Value})
		}
	}
	thresholds := dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
	var targets []cog.Builder[variants.Dataquery]
	for i, q := range expandLastWeek(p.Queries) {
		targets = append(targets, prometheus.NewDataqueryBuilder().
			RefId(string(rune('A'+i))).
			Datasource(datasourceRef()).
			Expr(strings.TrimSpace(q.Expr)).
			LegendFormat(q.Legend))
	}
	switch p.Type {
	case "timeseries", "":
		panel := timeseries.NewPanelBuilder().
			Id(id).
			Title(p.Title).
			Description(p.Description).
			Datasource(datasourceRef()).
			GridPos(pos).
			Targets(targets).
			Unit(unit).
			Thresholds(thresholds).
			ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdPaletteClassic)).
			DrawStyle(common.GraphDrawStyleLine).
			LineWidth(1).
			FillOpacity(10).
			ShowPoints(common.VisibilityModeNever).
			LineInterpolation(common.LineInterpolationLinear).
			GradientMode(common.GraphGradientModeNone).
			AxisPlacement(common.AxisPlacementAuto).
			Legend(common.NewVizLegendOptionsBuilder().
				Calcs([]string{"lastNotNull", "max"}).
				DisplayMode(common.LegendDisplayModeTable).
				Placement(common.LegendPlacementBottom).
				ShowLegend(true)).
			Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone))
		style := common.GraphThresholdsStyleModeOff
		if len(p.Thresholds) > 0 {
			style = common.GraphThresholdsStyleModeLine
		}
		panel.ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(style))
		if p.Min != nil {
			panel.Min(*p.Min)
		}
		if p.Max != nil {
			panel.Max(*p.Max)
		}
		if p.NoValue != "" {
			panel.NoValue(p.NoValue)
		}
		return panel, nil
	case "stat":
		panel := stat.NewPanelBuilder().
			Id(id).
			Title(p.Title).
			Description(p.Description).
			Datasource(datasourceRef()).
			GridPos(pos).
			Targets(targets).
			Unit(unit).
			Thresholds(thresholds).
			ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
			ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Fields("").Values(false)).
			ColorMode(common.BigValueColorModeBackground).
			GraphMode(common.BigValueGraphModeArea).
			TextMode(common.BigValueTextModeAuto).
			JustifyMode(common.BigValueJustifyModeAuto).
			Orientation(common.VizOrientationAuto).
			WideLayout(true).
			ShowPercentChange(false).
			PercentChangeColorMode(common.PercentChangeColorModeStandard)
		if p.Min != nil {
			panel.Min(*p.Min)
		}
		if p.Max != nil {
			panel.Max(*p.Max)
		}
		if p.NoValue != "" {
			panel.NoValue(p.NoValue)
		}
		return panel, nil
	}
	return nil, fmt.Errorf("unknown panel type %q", p.Type)
}

func ptr[T any](v T) *T { return &v }
