package dashimport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/llmmon/llmmon/stack/check"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
)

// InputError is a dashboard that llmmon cannot import because of what it holds: where it is
// wrong (line and column, and the JSON path), what is wrong, and what to do. It wraps
// spec.ErrInvalid, so the command line exits 2 (bad input).
type InputError struct {
	// Source is the file or URL the dashboard came from; "" when unknown.
	Source string
	// Line and Col are 1-based; 0 when the error is about the whole file.
	Line, Col int
	// Path is the JSON path of the wrong value, e.g. panels[3].targets[0].expr.
	Path      string
	Msg, Hint string
}

func (e *InputError) Error() string {
	var b strings.Builder
	src := e.Source
	if src == "" {
		src = "dashboard"
	}
	b.WriteString(src)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Col)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString("\n    hint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, spec.ErrInvalid) true.
func (e *InputError) Unwrap() error { return spec.ErrInvalid }

const exportHint = "export the dashboard from Grafana (Share > Export > Save to file), or use the \"Download JSON\" link of its grafana.com page"

// Check reports whether data is a Grafana dashboard llmmon can import: one JSON object (or
// Grafana's API form {"dashboard": {...}}) with a title, whose panels, rows, queries, template
// variables and __inputs have the types Grafana gives them. A dashboard whose schemaVersion is
// Grafana's current one (check.DashboardSchemaVersion) or later must also follow that schema,
// as the Grafana Foundation SDK models it: Grafana does not migrate such a dashboard, so a
// value of the wrong type or out of range would reach its panels as it is (see schema). The
// error is an *InputError that names source, the line and column, and the JSON path.
func Check(data []byte, source string) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	c := &checker{data: data, source: source}
	if len(bytes.TrimSpace(data)) == 0 {
		return c.errAt(-1, "", "the file is empty", exportHint)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return c.syntax(err, dec)
	}
	if off := int(dec.InputOffset()); skipSpace(data, off) < len(data) {
		return c.errAt(skipSpace(data, off), "", "not valid JSON: data after the dashboard object", "a dashboard file holds one JSON object; remove what follows its closing }")
	}
	d, ok := v.(map[string]any)
	if !ok {
		return c.err("", fmt.Sprintf("not a dashboard: want a JSON object, got %s", jsonKind(v)), exportHint)
	}
	prefix := ""
	if inner, ok := d["dashboard"].(map[string]any); ok && d["title"] == nil && d["panels"] == nil && d["rows"] == nil {
		d, prefix = inner, "dashboard."
	}
	c.dashboard(d, prefix)
	if c.first == nil {
		c.schema(d, prefix)
	}
	return c.first
}

type checker struct {
	data   []byte
	source string
	pos    map[string]int // JSON path -> offset of its value, built on the first error
	first  error
}

// syntax turns a JSON decoding error into an InputError at its place.
func (c *checker) syntax(err error, dec *json.Decoder) error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		off := max(int(se.Offset)-1, 0)
		if first := skipSpace(c.data, 0); first < len(c.data) && c.data[first] != '{' && c.data[first] != '[' {
			return c.errAt(first, "", fmt.Sprintf("the file is not JSON: it starts with %s", head(c.data)), exportHint)
		}
		return c.errAt(off, "", "not valid JSON: "+se.Error(), "fix the JSON at this place (a missing comma, quote or bracket is the usual cause), or "+exportHint)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return c.errAt(len(c.data), "", "not valid JSON: the file ends before every { and [ is closed", "the file may be cut short: export or download it again")
	}
	return c.errAt(int(dec.InputOffset()), "", "not valid JSON: "+err.Error(), exportHint)
}

func (c *checker) err(path, msg, hint string) error {
	if c.pos == nil {
		c.pos = positions(c.data)
	}
	off, ok := c.pos[path]
	if !ok {
		off = -1
	}
	return c.errAt(off, path, msg, hint)
}

// errAt is an InputError at byte offset off (-1: the whole file).
func (c *checker) errAt(off int, path, msg, hint string) error {
	e := &InputError{Source: c.source, Path: path, Msg: msg, Hint: hint}
	if off >= 0 {
		e.Line, e.Col = lineCol(c.data, off)
	}
	return e
}

// fail records the first problem found.
func (c *checker) fail(path, msg, hint string) {
	if c.first == nil {
		c.first = c.err(path, msg, hint)
	}
}

func (c *checker) dashboard(d map[string]any, p string) {
	title, hasTitle := d["title"]
	_, hasPanels := d["panels"]
	_, hasRows := d["rows"]
	switch {
	case !hasTitle && !hasPanels && !hasRows:
		c.fail(strings.TrimSuffix(p, "."), "not a Grafana dashboard: it has no title and no panels", exportHint)
		return
	case !hasTitle:
		c.fail(strings.TrimSuffix(p, "."), "the dashboard has no title; is this a Grafana dashboard JSON?", `add "title": "My dashboard" to the top-level object`)
	default:
		if s, ok := title.(string); !ok {
			c.fail(p+"title", "title must be a string, got "+jsonKind(title), `write "title": "My dashboard"`)
		} else if strings.TrimSpace(s) == "" {
			c.fail(p+"title", "the dashboard has no title; is this a Grafana dashboard JSON?", `write "title": "My dashboard"`)
		}
	}
	c.oneOf(d, p, "uid", "string", "number", "null")
	c.oneOf(d, p, "id", "number", "null")
	c.oneOf(d, p, "schemaVersion", "number")
	if tags, ok := c.list(d, p, "tags"); ok {
		for i, t := range tags {
			if _, ok := t.(string); !ok {
				c.fail(fmt.Sprintf("%stags[%d]", p, i), "a tag must be a string, got "+jsonKind(t), `write "tags": ["gpu", "llm"]`)
			}
		}
	}
	if panels, ok := c.list(d, p, "panels"); ok {
		c.panels(panels, p+"panels")
	}
	if rows, ok := c.list(d, p, "rows"); ok {
		for i, r := range rows {
			rp := fmt.Sprintf("%srows[%d]", p, i)
			rm, ok := c.object(r, rp)
			if !ok {
				continue
			}
			if panels, ok := c.list(rm, rp+".", "panels"); ok {
				c.panels(panels, rp+".panels")
			}
		}
	}
	if tm, ok := c.objectField(d, p, "templating"); ok {
		if list, ok := c.list(tm, p+"templating.", "list"); ok {
			for i, x := range list {
				vp := fmt.Sprintf("%stemplating.list[%d]", p, i)
				if v, ok := c.object(x, vp); ok {
					c.oneOf(v, vp+".", "name", "string")
					c.oneOf(v, vp+".", "type", "string")
				}
			}
		}
	}
	if an, ok := c.objectField(d, p, "annotations"); ok {
		if list, ok := c.list(an, p+"annotations.", "list"); ok {
			for i, x := range list {
				c.object(x, fmt.Sprintf("%sannotations.list[%d]", p, i))
			}
		}
	}
	if inputs, ok := c.list(d, p, "__inputs"); ok {
		for i, x := range inputs {
			ip := fmt.Sprintf("%s__inputs[%d]", p, i)
			if in, ok := c.object(x, ip); ok {
				c.oneOf(in, ip+".", "name", "string")
				c.oneOf(in, ip+".", "type", "string")
			}
		}
	}
	// Grafana 8 exports write "__elements": [], later ones an object of library panels.
	c.oneOf(d, p, "__elements", "object", "array")
}

// schema refuses a dashboard that declares Grafana's current schemaVersion (or a later one)
// but has a value of the wrong type or outside the schema's constraints, as the Grafana
// Foundation SDK finds them (check.InspectDashboard). What is not refused:
//
//   - a dashboard of an older schemaVersion, or none: Grafana migrates it to the current
//     schema when it loads it (Resolve notes it in Result.SchemaNotes);
//   - fields the SDK's schema lacks (Grafana itself writes some, e.g. the Prometheus query
//     editor's useBackend) and required fields left out (Grafana fills in their defaults);
//   - datasource references, which Resolve rewrites to llmmon's datasource anyway;
//   - gnetId as a number, which is how Grafana writes it although the SDK types it a string.
func (c *checker) schema(d map[string]any, p string) {
	sv, ok := d["schemaVersion"].(json.Number)
	if !ok {
		return
	}
	if v, err := sv.Float64(); err != nil || v < float64(check.DashboardSchemaVersion) {
		return
	}
	view := map[string]any{}
	for k, v := range d {
		switch k {
		case "__inputs", "__requires", "__elements":
		default:
			view[k] = fixedDatasources(v)
		}
	}
	data, err := json.Marshal(view)
	if err != nil {
		return
	}
	r, err := check.InspectDashboard(data)
	if err != nil {
		return
	}
	for _, f := range r.Findings {
		if !refused(f) {
			continue
		}
		msg := f.Msg
		if f.Where != "" {
			msg = f.Where + ": " + msg
		}
		c.fail(p+f.Path, fmt.Sprintf("%s, in Grafana's dashboard schema %d, which the dashboard declares (schemaVersion %s)", msg, check.DashboardSchemaVersion, sv),
			"Grafana does not migrate a dashboard that declares its current schema, so it would take this value as it is: fix it, or export the dashboard again from Grafana (Share > Export > Save to file)")
		return
	}
}

// refused reports whether a finding of the schema check refuses an import (see schema).
func refused(f check.SchemaFinding) bool {
	switch {
	case f.Kind != check.WrongType && f.Kind != check.Invalid:
		return false
	case f.Path == "gnetId":
		return false
	}
	return true
}

// fixedDatasources returns a copy of v in which every datasource reference is llmmon's, as
// Resolve makes it.
func fixedDatasources(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			if k == "datasource" {
				m[k] = map[string]any{"type": "prometheus", "uid": render.DatasourceUID}
				continue
			}
			m[k] = fixedDatasources(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = fixedDatasources(x)
		}
		return s
	}
	return v
}

func (c *checker) panels(panels []any, path string) {
	for i, x := range panels {
		pp := fmt.Sprintf("%s[%d]", path, i)
		pm, ok := c.object(x, pp)
		if !ok {
			continue
		}
		c.oneOf(pm, pp+".", "title", "string", "null")
		c.oneOf(pm, pp+".", "type", "string")
		c.oneOf(pm, pp+".", "id", "number", "null")
		c.oneOf(pm, pp+".", "datasource", "string", "object", "null")
		c.oneOf(pm, pp+".", "gridPos", "object")
		if id, ok := pm["id"].(json.Number); ok {
			if _, err := id.Int64(); err != nil {
				c.fail(pp+".id", "a panel id must be a whole number, got "+id.String(), "number the panels 1, 2, 3, ...")
			}
		}
		if targets, ok := c.list(pm, pp+".", "targets"); ok {
			for j, t := range targets {
				tp := fmt.Sprintf("%s.targets[%d]", pp, j)
				if tm, ok := c.object(t, tp); ok {
					c.oneOf(tm, tp+".", "expr", "string")
					c.oneOf(tm, tp+".", "refId", "string")
					c.oneOf(tm, tp+".", "datasource", "string", "object", "null")
				}
			}
		}
		if sub, ok := c.list(pm, pp+".", "panels"); ok {
			c.panels(sub, pp+".panels")
		}
	}
}

// list returns m[key] when it is an array; a value of another type is a problem.
func (c *checker) list(m map[string]any, p, key string) ([]any, bool) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, false
	}
	l, ok := v.([]any)
	if !ok {
		c.fail(p+key, fmt.Sprintf("%s must be a list ([...]), got %s", key, jsonKind(v)), "this is not how Grafana writes a dashboard: "+exportHint)
	}
	return l, ok
}

func (c *checker) objectField(m map[string]any, p, key string) (map[string]any, bool) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, false
	}
	o, ok := v.(map[string]any)
	if !ok {
		c.fail(p+key, fmt.Sprintf("%s must be an object ({...}), got %s", key, jsonKind(v)), "this is not how Grafana writes a dashboard: "+exportHint)
	}
	return o, ok
}

func (c *checker) object(v any, path string) (map[string]any, bool) {
	o, ok := v.(map[string]any)
	if !ok {
		c.fail(path, "want an object ({...}), got "+jsonKind(v), "this is not how Grafana writes a dashboard: "+exportHint)
	}
	return o, ok
}

// oneOf checks that m[key], when present, has one of the JSON types named.
func (c *checker) oneOf(m map[string]any, p, key string, types ...string) {
	v, ok := m[key]
	if !ok {
		return
	}
	t := jsonType(v)
	for _, want := range types {
		if t == want {
			return
		}
	}
	c.fail(p+key, fmt.Sprintf("%s must be %s, got %s", key, orList(types), jsonKind(v)), "this is not how Grafana writes a dashboard: "+exportHint)
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func orList(types []string) string {
	words := make([]string, len(types))
	for i, t := range types {
		switch t {
		case "array", "object":
			words[i] = "an " + t
		case "null":
			words[i] = "null"
		default:
			words[i] = "a " + t
		}
	}
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// positions maps the JSON path of every value in data (valid JSON) to the offset of its
// first byte.
func positions(data []byte) map[string]int {
	pos := map[string]int{}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(path string) bool
	walk = func(path string) bool {
		pos[path] = skipSpace(data, int(dec.InputOffset()))
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'):
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return false
				}
				key, _ := k.(string)
				sub := key
				if path != "" {
					sub = path + "." + key
				}
				if !walk(sub) {
					return false
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if !walk(fmt.Sprintf("%s[%d]", path, i)) {
					return false
				}
			}
			_, err = dec.Token()
		}
		return err == nil
	}
	walk("")
	return pos
}

// skipSpace returns the offset of the first byte at or after off that is not white space or a
// separator (':' or ',').
func skipSpace(data []byte, off int) int {
	for off < len(data) {
		switch data[off] {
		case ' ', '\t', '\r', '\n', ':', ',':
			off++
			continue
		}
		break
	}
	return off
}

// lineCol returns the 1-based line and column (in characters) of byte offset off.
func lineCol(data []byte, off int) (int, int) {
	off = min(off, len(data))
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCount(before[start:]) + 1
}
