package dashimport

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/llmmon/llmmon/stack/check"
	"github.com/llmmon/llmmon/stack/render"
)

// DatasourceName is the name of llmmon's Prometheus datasource, shown as the current value of
// a dashboard's datasource variables.
const DatasourceName = "Prometheus (llmmon)"

// Options tune Resolve.
type Options struct {
	// FolderUID is the Grafana folder the dashboard is meant for (llmmon-imported for file
	// provisioning). The JSON does not record it: the folder comes from the provisioning
	// provider. Resolve only checks that it is a valid Grafana uid.
	FolderUID string
	// DatasourceUID is the datasource every reference is pointed at; default
	// render.DatasourceUID (llmmon-prometheus).
	DatasourceUID string
}

// Result is a resolved dashboard.
type Result struct {
	Dashboard   []byte // resolved JSON, indented, deterministic
	UID         string
	Title       string
	Replaced    int // placeholders and datasource references rewritten
	Queries     []check.PanelQuery
	ParseErrors []string // queries that do not parse (panel title + error)
	// SchemaNotes say how the dashboard stands to Grafana's current dashboard schema when
	// Grafana will migrate it (an older schemaVersion, or none); nil when it declares the
	// current one (Check refuses one that declares it without following it).
	SchemaNotes []string
}

var (
	uidBad = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)
	uidOK  = regexp.MustCompile(`^[a-zA-Z0-9_-]{0,40}$`)
	// ${NAME}, ${NAME:format}, [[NAME]], $NAME: Grafana's variable syntaxes. __inputs names may
	// hold spaces ("DS_PROMETHEUS_EKS API INFERENCE PROD"); Grafana's import matches them as
	// the literal ${NAME}.
	placeholderRe = regexp.MustCompile(`\$\{([^}]+)\}|\[\[([^\]]+)\]\]|\$([A-Za-z0-9_]+)`)
)

// builtinDatasources are Grafana's own datasources, which stay as they are: annotations and
// alerts (-- Grafana --), panels reusing another panel's results (-- Dashboard --), panels
// with a datasource per query (-- Mixed --) and server-side expressions (__expr__).
var builtinDatasources = map[string]bool{
	"-- Grafana --": true, "-- Dashboard --": true, "-- Mixed --": true, "grafana": true, "__expr__": true,
}

func isBuiltin(v any) bool {
	switch t := v.(type) {
	case string:
		return builtinDatasources[t]
	case map[string]any:
		typ, _ := t["type"].(string)
		uid, _ := t["uid"].(string)
		switch typ {
		case "grafana", "__expr__":
			return true
		case "datasource": // {"type":"datasource","uid":"grafana"|"-- Dashboard --"|"-- Mixed --"}
			return uid == "" || builtinDatasources[uid]
		}
		return builtinDatasources[uid]
	}
	return false
}

type resolver struct {
	uid      string
	dsInputs map[string]bool   // __inputs of type datasource
	consts   map[string]string // __inputs of type constant
	replaced int
}

// Resolve makes a published dashboard work from llmmon's file provisioning, where Grafana does
// not resolve __inputs:
//
//   - every "datasource" reference (the string form "${DS_PROMETHEUS}", "$datasource",
//     "Prometheus", or the object form {"type":…,"uid":…}) becomes llmmon's datasource
//     {"type":"prometheus","uid":"llmmon-prometheus"}, except Grafana's built-in ones
//     (-- Grafana --, -- Dashboard --, -- Mixed --, server-side expressions);
//   - datasource template variables are set to llmmon's datasource;
//   - ${DS_…}/$DS_… placeholders elsewhere become the datasource uid, and constant __inputs
//     (${VAR_…}) their declared value;
//   - library panels carried in __elements are inlined; __inputs, __requires and __elements
//     are removed;
//   - the uid is kept (made valid: at most 40 of [a-zA-Z0-9_-]) or, when absent, derived from
//     the title ("imp-" and 12 hex digits of its SHA-256), and the id is set to null.
//
// Unknown fields are kept. A malformed dashboard is an *InputError (see Check). Every Prometheus query is then parsed with Prometheus' parser;
// the failures are listed in ParseErrors, they do not fail Resolve. A dashboard of an older
// schemaVersion than Grafana's current one is imported as it is, since Grafana migrates it
// when it loads it; SchemaNotes say so. The JSON may also be Grafana's API form
// {"dashboard": {…}, "meta": {…}}.
func Resolve(data []byte, o Options) (*Result, error) {
	if o.DatasourceUID == "" {
		o.DatasourceUID = render.DatasourceUID
	}
	if !uidOK.MatchString(o.DatasourceUID) || !uidOK.MatchString(o.FolderUID) {
		return nil, fmt.Errorf("resolve dashboard: invalid uid in options (datasource %q, folder %q): want at most 40 of a-z, A-Z, 0-9, _ and -", o.DatasourceUID, o.FolderUID)
	}
	if err := Check(data, ""); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
	dec.UseNumber() // keep numbers exactly as written
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("resolve dashboard: not valid JSON: %w", err)
	}
	d, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("resolve dashboard: want a JSON object, got %s", jsonKind(v))
	}
	// Grafana's GET /api/dashboards/uid/… answer wraps the dashboard.
	if inner, ok := d["dashboard"].(map[string]any); ok && d["title"] == nil && d["panels"] == nil && d["rows"] == nil {
		d = inner
	}
	title, _ := d["title"].(string)
	title = strings.TrimSpace(title) // Check made sure there is one

	r := &resolver{uid: o.DatasourceUID, dsInputs: map[string]bool{}, consts: map[string]string{}}
	inputs, _ := d["__inputs"].([]any)
	for _, in := range inputs {
		m, _ := in.(map[string]any)
		name, _ := m["name"].(string)
		typ, _ := m["type"].(string)
		if name == "" {
			continue
		}
		switch typ {
		case "datasource":
			// pluginId is prometheus in the dashboards llmmon is for; a reference to another
			// plugin would find no such datasource in llmmon's Grafana either way.
			r.dsInputs[name] = true
		case "constant":
			r.consts[name] = scalar(m["value"])
		}
	}
	r.setDatasourceVariables(d)
	inlineLibraryPanels(d)
	delete(d, "__inputs")
	delete(d, "__requires")
	delete(d, "__elements")
	r.walk(d)

	uid := ""
	switch u := d["uid"].(type) {
	case string:
		uid = strings.TrimSpace(u)
	case json.Number:
		uid = u.String()
	}
	if uid != "" {
		uid = uidBad.ReplaceAllString(uid, "-")
		if len(uid) > 40 {
			uid = uid[:40]
		}
	} else {
		sum := sha256.Sum256([]byte(title))
		uid = "imp-" + hex.EncodeToString(sum[:])[:12]
	}
	d["uid"] = uid
	d["id"] = nil

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, fmt.Errorf("resolve dashboard %q: %w", title, err)
	}
	res := &Result{Dashboard: buf.Bytes(), UID: uid, Title: title, Replaced: r.replaced}
	qs, err := check.DashboardQueries(res.Dashboard)
	if err != nil {
		return nil, fmt.Errorf("resolve dashboard %q: %w", title, err)
	}
	res.Queries = qs
	for _, q := range qs {
		if err := check.Expr(check.GrafanaToPromQL(q.Expr)); err != nil {
			res.ParseErrors = append(res.ParseErrors, fmt.Sprintf("%s: %v", queryName(q), err))
		}
	}
	if res.SchemaNotes, err = schemaNotes(res.Dashboard); err != nil {
		return nil, fmt.Errorf("resolve dashboard %q: %w", title, err)
	}
	return res, nil
}

// schemaNotes says, for a dashboard that Grafana will migrate (an older schemaVersion, or
// none), that it will, and which of its values do not follow the current schema yet.
func schemaNotes(data []byte) ([]string, error) {
	r, err := check.InspectDashboard(data)
	if err != nil {
		return nil, err
	}
	if !r.Old() {
		return nil, nil
	}
	var notes []string
	if r.HasSchemaVersion {
		notes = append(notes, fmt.Sprintf("schemaVersion %d is older than Grafana's current dashboard schema (%d): Grafana migrates the dashboard to it each time it loads it; the file stays as published", r.SchemaVersion, check.DashboardSchemaVersion))
	} else {
		notes = append(notes, fmt.Sprintf("the dashboard has no schemaVersion: Grafana takes it for the oldest schema and migrates all of it to the current one (%d) each time it loads it", check.DashboardSchemaVersion))
	}
	var off []check.SchemaFinding
	for _, f := range r.Findings {
		if refused(f) {
			off = append(off, f)
		}
	}
	if len(off) > 0 {
		notes = append(notes, fmt.Sprintf("%d value(s) do not follow the current schema yet, which Grafana's migration is meant to update (the first: %s)", len(off), off[0]))
	}
	return notes, nil
}

// queryName names a query for a person: `panel "Title" (id 3) query A` or `variable job`.
func queryName(q check.PanelQuery) string {
	if v, ok := strings.CutPrefix(q.RefID, "var "); ok && q.PanelID == 0 && q.PanelTitle == "" {
		return "variable " + v
	}
	return fmt.Sprintf("panel %q (id %d) query %s", q.PanelTitle, q.PanelID, q.RefID)
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func scalar(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	}
	return fmt.Sprint(v)
}

func (r *resolver) fixed() map[string]any {
	return map[string]any{"type": "prometheus", "uid": r.uid}
}

// setDatasourceVariables points every template variable of type datasource at llmmon's
// datasource (panels that use it are rewritten by walk as well).
func (r *resolver) setDatasourceVariables(d map[string]any) {
	tm, _ := d["templating"].(map[string]any)
	list, _ := tm["list"].([]any)
	for _, x := range list {
		v, _ := x.(map[string]any)
		if t, _ := v["type"].(string); t != "datasource" {
			continue
		}
		cur, _ := v["current"].(map[string]any)
		if len(cur) == 2 && cur["text"] == DatasourceName && cur["value"] == r.uid {
			continue
		}
		v["current"] = map[string]any{"text": DatasourceName, "value": r.uid}
		r.replaced++
	}
}

// walk rewrites datasource references and placeholders in place.
func (r *resolver) walk(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			if k == "datasource" {
				if !isBuiltin(x) && !r.isFixed(x) {
					t[k] = r.fixed()
					r.replaced++
				}
				continue
			}
			t[k] = r.walk(x)
		}
	case []any:
		for i, x := range t {
			t[i] = r.walk(x)
		}
	case string:
		return r.placeholders(t)
	}
	return v
}

func (r *resolver) isFixed(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) == 2 && m["type"] == "prometheus" && m["uid"] == r.uid
}

// placeholders replaces datasource placeholders (${DS_…}, $DS_…, and the __inputs of type
// datasource) by the datasource uid, and constant __inputs by their value; Grafana's other
// variables stay.
func (r *resolver) placeholders(s string) string {
	if !strings.Contains(s, "$") && !strings.Contains(s, "[[") {
		return s
	}
	return placeholderRe.ReplaceAllStringFunc(s, func(m string) string {
		sm := placeholderRe.FindStringSubmatch(m)
		name := sm[1] + sm[2] + sm[3]
		if v, ok := r.lookup(name); ok {
			r.replaced++
			return v
		}
		// ${NAME:format} and ${NAME.field}
		if i := strings.IndexAny(name, ":."); i > 0 && sm[3] == "" {
			if v, ok := r.lookup(name[:i]); ok {
				r.replaced++
				return v
			}
		}
		return m
	})
}

func (r *resolver) lookup(name string) (string, bool) {
	if v, ok := r.consts[name]; ok {
		return v, true
	}
	if r.dsInputs[name] || strings.HasPrefix(name, "DS_") {
		return r.uid, true
	}
	return "", false
}

// inlineLibraryPanels replaces each library panel reference by the panel model that the
// export carries in __elements (a file-provisioned dashboard cannot create library panels),
// keeping the reference's id and position.
func inlineLibraryPanels(d map[string]any) {
	elements, _ := d["__elements"].(map[string]any)
	if len(elements) == 0 {
		return
	}
	var fix func([]any)
	fix = func(ps []any) {
		for i, p := range ps {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			if lp, ok := pm["libraryPanel"].(map[string]any); ok {
				uid, _ := lp["uid"].(string)
				el, _ := elements[uid].(map[string]any)
				if model, ok := el["model"].(map[string]any); ok {
					np := deepCopy(model).(map[string]any)
					delete(np, "libraryPanel")
					for _, k := range []string{"id", "gridPos"} {
						if x, ok := pm[k]; ok {
							np[k] = x
						}
					}
					ps[i], pm = np, np
				}
			}
			if sub, ok := pm["panels"].([]any); ok {
				fix(sub)
			}
		}
	}
	if ps, ok := d["panels"].([]any); ok {
		fix(ps)
	}
}

func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	}
	return v
}
