package check

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// DashboardSchemaVersion is the schemaVersion of Grafana's current dashboard schema, the one
// the Grafana Foundation SDK models. Grafana migrates a dashboard with a lower schemaVersion
// each time it loads it.
var DashboardSchemaVersion = int(dashboard.NewDashboard().SchemaVersion)

// SchemaKind is how a dashboard departs from Grafana's current dashboard schema.
type SchemaKind int

const (
	// UnknownField: a field the schema does not have (Grafana ignores or migrates it).
	UnknownField SchemaKind = iota
	// MissingField: a field the schema requires is absent or null (Grafana fills in a default).
	MissingField
	// WrongType: a value of another JSON type than the schema's.
	WrongType
	// Invalid: a value the schema's constraints exclude, e.g. gridPos.w over 24.
	Invalid
	// UnmodeledPanel: a panel type the SDK has no model of, whose options are not checked.
	UnmodeledPanel
	// UnmodeledQuery: a query the SDK cannot type (its datasource has no known type), which
	// is therefore not checked.
	UnmodeledQuery
)

// SchemaFinding is one departure from the current schema.
type SchemaFinding struct {
	Kind SchemaKind
	// Path is the JSON path of the value, e.g. panels[3].options.legend.showLegend.
	Path string
	// Where names what the value belongs to, for a person: `panel 4 "Latency"`,
	// `variable job`, `link 1 "Docs"`, or "" for the dashboard itself.
	Where string
	// Field is Path without the part that Where names, e.g. options.legend.showLegend.
	Field string
	// Msg says what is wrong.
	Msg string
}

func (f SchemaFinding) String() string {
	var parts []string
	for _, p := range []string{f.Where, f.Field, f.Msg} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ": ")
}

// SchemaReport is what InspectDashboard found.
type SchemaReport struct {
	// SchemaVersion is the dashboard's schemaVersion, 0 when it has none (HasSchemaVersion).
	SchemaVersion    int
	HasSchemaVersion bool
	Findings         []SchemaFinding
}

// Old reports whether Grafana migrates the dashboard when it loads it: its schemaVersion is
// absent or lower than DashboardSchemaVersion.
func (r *SchemaReport) Old() bool {
	return !r.HasSchemaVersion || r.SchemaVersion < DashboardSchemaVersion
}

var registerPlugins sync.Once

// InspectDashboard decodes a dashboard JSON with the Grafana Foundation SDK, strictly (every
// field must be one the schema has, of its type, and every required field present), with the
// SDK's panel and query models registered so that each panel's options and field config and
// each Prometheus query are decoded into their typed models too; it then runs the SDK's
// validation (gridPos within the 24-column grid, and the like) on the dashboard and on each
// panel's options. The error is for data that is not a JSON object.
func InspectDashboard(data []byte) (*SchemaReport, error) {
	registerPlugins.Do(plugins.RegisterDefaultPlugins)
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not valid dashboard JSON: %w", err)
	}
	if raw == nil {
		return nil, errors.New("not a dashboard: want a JSON object, got null")
	}
	r := &SchemaReport{}
	if v, ok := raw["schemaVersion"].(float64); ok {
		r.SchemaVersion, r.HasSchemaVersion = int(v), true
	}
	names := namer{raw: raw}
	// One finding per path: a value that does not decode is not also reported as invalid
	// (a gridPos.h that is missing decodes to 0, which validation would call "must be > 0").
	seen := map[string]bool{}
	add := func(kind SchemaKind, path, msg string) {
		if seen[path] {
			return
		}
		seen[path] = true
		f := SchemaFinding{Kind: kind, Path: path, Msg: msg}
		f.Where, f.Field = names.split(path)
		r.Findings = append(r.Findings, f)
	}
	var d dashboard.Dashboard
	addErrs(add, d.UnmarshalJSONStrict(data), false)
	// The SDK's strict decoder reports every panel's errors but keeps none of the panels
	// (v0.0.22: Panel.UnmarshalJSONStrict returns a nil cog.BuildErrors as a non-nil error, and
	// PanelOrRowPanel drops the panel on any error), so the validation below would never see
	// one: decode each panel again, keeping what it decodes to, errors aside (they are found
	// above), so that the panels are validated too.
	d.Panels = decodePanels(data)
	addErrs(add, d.Validate(), true)
	panelPaths(d.Panels, func(path string, p *dashboard.Panel) {
		if p.Type != "row" {
			if _, ok := cog.ConfigForPanelcfgVariant(p.Type); !ok && p.Type != "" {
				add(UnmodeledPanel, path+".type", fmt.Sprintf("panel type %q has no model in the Grafana Foundation SDK, so its options are not checked", p.Type))
			}
		}
		if v, ok := p.Options.(interface{ Validate() error }); ok {
			addErrs(add, prefixed(path+".options", v.Validate()), true)
		}
		if p.FieldConfig != nil {
			if v, ok := p.FieldConfig.Defaults.Custom.(interface{ Validate() error }); ok {
				addErrs(add, prefixed(path+".fieldConfig.defaults.custom", v.Validate()), true)
			}
		}
		for i, t := range p.Targets {
			if _, ok := t.(variants.UnknownDataquery); ok {
				add(UnmodeledQuery, fmt.Sprintf("%s.targets[%d]", path, i), "the query's datasource has no type the SDK knows (such as prometheus), so the query is not checked")
			}
		}
	})
	sort.SliceStable(r.Findings, func(i, j int) bool { return pathLess(r.Findings[i].Path, r.Findings[j].Path) })
	return r, nil
}

// DashboardSchema checks a dashboard that llmmon generates against Grafana's current schema
// (see InspectDashboard): every departure is a problem, and so is a schemaVersion lower than
// the current one, which Grafana would migrate each time it loads the dashboard. Each problem
// names the panel, variable or link, and the field.
func DashboardSchema(name string, data []byte) Problems {
	r, err := InspectDashboard(data)
	if err != nil {
		return Problems{{Where: name, Msg: err.Error()}}
	}
	var ps Problems
	if r.HasSchemaVersion && r.SchemaVersion < DashboardSchemaVersion {
		ps = append(ps, Problem{Where: name, Msg: fmt.Sprintf("schemaVersion %d is older than Grafana's current dashboard schema (%d): Grafana would migrate the dashboard each time it loads it", r.SchemaVersion, DashboardSchemaVersion)})
	}
	for _, f := range r.Findings {
		where := name
		if f.Where != "" {
			where += ": " + f.Where
		}
		msg := f.Msg
		if f.Field != "" {
			msg = f.Field + ": " + msg
		}
		ps = append(ps, Problem{Where: where, Msg: msg})
	}
	return ps
}

// decodePanels decodes the dashboard's panels one by one, strictly, each with what it decodes
// to whatever its errors; a panel that is not a JSON object stays empty.
func decodePanels(data []byte) []dashboard.PanelOrRowPanel {
	var d struct {
		Panels []json.RawMessage `json:"panels"`
	}
	if json.Unmarshal(data, &d) != nil {
		return nil
	}
	out := make([]dashboard.PanelOrRowPanel, len(d.Panels))
	for i, raw := range d.Panels {
		var head struct {
			Type any `json:"type"`
		}
		if json.Unmarshal(raw, &head) != nil {
			continue
		}
		if head.Type == "row" {
			r := &dashboard.RowPanel{}
			_ = r.UnmarshalJSONStrict(raw)
			out[i].RowPanel = r
			continue
		}
		p := &dashboard.Panel{}
		_ = p.UnmarshalJSONStrict(raw)
		out[i].Panel = p
	}
	return out
}

// addErrs turns the SDK's errors into findings.
func addErrs(add func(SchemaKind, string, string), err error, validation bool) {
	if err == nil {
		return
	}
	var bes cog.BuildErrors
	if !errors.As(err, &bes) {
		add(WrongType, "", "not a dashboard in Grafana's schema: "+err.Error())
		return
	}
	for _, be := range bes {
		kind, path, msg := translate(be.Path, be.Message)
		if validation && kind == WrongType {
			kind = Invalid
		}
		add(kind, path, msg)
	}
}

// prefixed puts path in front of every error's path.
func prefixed(path string, err error) error {
	if err == nil {
		return nil
	}
	return cog.MakeBuildErrors(path, err)
}

var (
	unexpectedRe = regexp.MustCompile(`^unexpected field '(.*)'$`)
	typeErrRe    = regexp.MustCompile(`^json: cannot unmarshal (.+?) into Go (?:struct field \S+ of type|value of type) (\S+)$`)
	goTypeName   = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
)

// translate turns one SDK error (a cog path and message) into a kind, a JSON path and a
// sentence.
func translate(path, msg string) (SchemaKind, string, string) {
	// The SDK's paths hold Go type names beside the JSON fields (panels[3].Panel,
	// panels[3].Panel.gridPos.w, Dashboard): drop them. JSON fields of the schema all start
	// with a lower-case letter.
	var segs []string
	for _, seg := range strings.Split(path, ".") {
		if seg != "" && !goTypeName.MatchString(seg) {
			segs = append(segs, seg)
		}
	}
	path = strings.Join(segs, ".")
	if m := unexpectedRe.FindStringSubmatch(msg); m != nil {
		return UnknownField, join(path, m[1]), fmt.Sprintf("field %q is not in Grafana's dashboard schema", m[1])
	}
	switch msg {
	case "required field is missing from input":
		return MissingField, path, "required field is missing"
	case "required field is null":
		return MissingField, path, "required field is null"
	case "discriminator field 'type' not found in payload":
		return MissingField, join(path, "type"), "the panel has no type"
	}
	if m := typeErrRe.FindStringSubmatch(msg); m != nil {
		return WrongType, path, fmt.Sprintf("want %s, got %s", jsonTypeOf(m[2]), gotKind(m[1]))
	}
	return WrongType, path, msg
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}

// jsonTypeOf names the JSON type a Go type decodes from.
func jsonTypeOf(goType string) string {
	t := strings.TrimLeft(goType, "*")
	switch {
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "struct"):
		return "an object"
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case t == "string":
		return "a string"
	case t == "bool":
		return "true or false"
	case strings.HasPrefix(t, "uint"):
		return "a whole number, 0 or more"
	case strings.HasPrefix(t, "int"):
		return "a whole number"
	case strings.HasPrefix(t, "float"):
		return "a number"
	}
	return "a value of type " + goType
}

// gotKind words encoding/json's description of a JSON value ("string", "number -1").
func gotKind(v string) string {
	switch {
	case v == "array":
		return "a list"
	case v == "object":
		return "an object"
	case v == "bool":
		return "true or false"
	case v == "number":
		return "a number"
	case strings.HasPrefix(v, "number "):
		return "the number " + strings.TrimPrefix(v, "number ")
	}
	return "a " + v
}

// panelPaths calls f for every decoded panel with its JSON path, rows' panels included.
func panelPaths(panels []dashboard.PanelOrRowPanel, f func(string, *dashboard.Panel)) {
	for i, p := range panels {
		path := fmt.Sprintf("panels[%d]", i)
		if p.Panel != nil {
			f(path, p.Panel)
		}
		if p.RowPanel != nil {
			for j := range p.RowPanel.Panels {
				f(fmt.Sprintf("%s.panels[%d]", path, j), &p.RowPanel.Panels[j])
			}
		}
	}
}

var (
	panelPathRe = regexp.MustCompile(`^panels\[(\d+)\](?:\.panels\[(\d+)\])?`)
	listPathRe  = regexp.MustCompile(`^(templating|annotations)\.list\[(\d+)\]`)
	linkPathRe  = regexp.MustCompile(`^links\[(\d+)\]`)
	indexRe     = regexp.MustCompile(`\[(\d+)\]`)
)

// namer names the panel, variable, annotation or link a JSON path lies in.
type namer struct{ raw map[string]any }

// split returns who a path belongs to and the rest of the path.
func (n namer) split(path string) (string, string) {
	rest := func(m string) string { return strings.TrimPrefix(strings.TrimPrefix(path, m), ".") }
	if m := panelPathRe.FindStringSubmatch(path); m != nil {
		p := n.index(n.raw["panels"], m[1])
		if m[2] != "" {
			p = n.index(p["panels"], m[2])
		}
		title, _ := p["title"].(string)
		kind := "panel"
		if p["type"] == "row" {
			kind = "row"
		}
		who := kind
		if id, ok := p["id"].(float64); ok {
			who += " " + strconv.FormatFloat(id, 'f', -1, 64)
		}
		if title != "" {
			who += fmt.Sprintf(" %q", title)
		}
		if who == kind {
			who = kind + " at " + m[0]
		}
		return who, rest(m[0])
	}
	if m := listPathRe.FindStringSubmatch(path); m != nil {
		sec, _ := n.raw[m[1]].(map[string]any)
		item := n.index(sec["list"], m[2])
		name, _ := item["name"].(string)
		kind := "variable"
		if m[1] == "annotations" {
			kind = "annotation"
		}
		if name == "" {
			return fmt.Sprintf("%s %s", kind, m[0]), rest(m[0])
		}
		return fmt.Sprintf("%s %s", kind, name), rest(m[0])
	}
	if m := linkPathRe.FindStringSubmatch(path); m != nil {
		l := n.index(n.raw["links"], m[1])
		i, _ := strconv.Atoi(m[1])
		who := fmt.Sprintf("link %d", i+1)
		if title, _ := l["title"].(string); title != "" {
			who += fmt.Sprintf(" %q", title)
		}
		return who, rest(m[0])
	}
	return "", path
}

func (namer) index(list any, i string) map[string]any {
	l, _ := list.([]any)
	n, err := strconv.Atoi(i)
	if err != nil || n < 0 || n >= len(l) {
		return nil
	}
	m, _ := l[n].(map[string]any)
	return m
}

// pathLess orders JSON paths with their indexes as numbers, so that panels[2] comes before
// panels[10].
func pathLess(a, b string) bool {
	pad := func(s string) string {
		return indexRe.ReplaceAllStringFunc(s, func(m string) string { return fmt.Sprintf("[%08s]", m[1:len(m)-1]) })
	}
	return pad(a) < pad(b)
}
