package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"
)

// MaxSize is the largest spec file llmmon reads. A real spec is a few kilobytes.
const MaxSize = 1 << 20

// LookupEnv finds an environment variable, like os.LookupEnv.
type LookupEnv func(string) (string, bool)

// Pos is a place in the spec file.
type Pos struct{ Line, Col int }

// Source remembers where each field of a loaded spec came from, so that validation errors and
// later steps can point at file:line:col.
type Source struct {
	File string
	pos  map[string]Pos
	keys map[string]Pos
	// set records the paths the user wrote (as opposed to defaults).
	set map[string]bool
	// unset records, by path, the environment variable a field names that is not set.
	unset map[string]string
}

func newSource(file string) *Source {
	return &Source{File: file, pos: map[string]Pos{}, keys: map[string]Pos{}, set: map[string]bool{}, unset: map[string]string{}}
}

// At returns the position of the value at path, or of its closest written ancestor.
func (s *Source) At(path string) Pos {
	if s == nil {
		return Pos{1, 1}
	}
	for p := path; ; {
		if pos, ok := s.pos[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return Pos{1, 1}
}

// AtKey returns the position of the key of the field at path (for errors about the name itself),
// falling back to At.
func (s *Source) AtKey(path string) Pos {
	if s != nil {
		if p, ok := s.keys[path]; ok {
			return p
		}
	}
	return s.At(path)
}

// IsSet reports whether the user wrote a value for the field at path (an empty value, as in
// `port:`, counts as absent).
func (s *Source) IsSet(path string) bool { return s != nil && s.set[path] }

// UnsetVariable returns the environment variable that the field at path names and that is not
// set, or "". Only LoadIgnoringUnsetSecrets returns a spec with such a field.
func (s *Source) UnsetVariable(path string) string {
	if s == nil {
		return ""
	}
	return s.unset[path]
}

type decoder struct {
	src      *Source
	env      LookupEnv
	problems Problems
	// inAlias is how many aliases deep the decoder is; expanded counts the values that
	// aliases expand to, bounded by maxAliasExpansion.
	inAlias, expanded int
	tooManyAliases    bool
	// sizes memoizes aliasSize; -1 marks a node being measured.
	sizes map[*yaml.Node]int
}

// aliasSize returns how many values n expands to, the aliases inside it expanded (at most
// maxAliasExpansion+1), and whether it contains an alias of itself. It visits each node once.
func (d *decoder) aliasSize(n *yaml.Node) (int, bool) {
	if d.sizes == nil {
		d.sizes = map[*yaml.Node]int{}
	}
	if s, ok := d.sizes[n]; ok {
		return max(s, 0), s < 0
	}
	d.sizes[n] = -1 // stays -1 when n contains itself
	total := 1
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		s, cyclic := d.aliasSize(n.Alias)
		if cyclic {
			return 0, true
		}
		total = s
	}
	for _, c := range n.Content {
		s, cyclic := d.aliasSize(c)
		if cyclic {
			return 0, true
		}
		total = min(total+s, maxAliasExpansion+1)
	}
	d.sizes[n] = total
	return total, false
}

// maxAliasExpansion bounds the values YAML aliases may expand to. A spec that uses anchors and
// aliases (labels shared by a hundred targets, a receiver repeated under two names) expands to a
// few hundred; the bound stops a small file from expanding to millions ("billion laughs"), and
// keeps what a refused file costs to a millisecond or two.
const maxAliasExpansion = 2000

func (d *decoder) fail(n *yaml.Node, path, msg, hint string) {
	line, col := 1, 1
	if n != nil {
		line, col = n.Line, n.Column
	}
	d.problems = append(d.problems, Problem{File: d.src.File, Line: line, Col: col, Path: clip(path), Msg: clip(msg), Hint: clip(hint)})
}

var lineRe = regexp.MustCompile(`line (\d+)(?:, column (\d+))?`)

// Parse decodes spec text strictly: unknown fields, wrong types and unset environment variables
// are all reported, each with its line and column. It does not apply defaults or validate.
func Parse(file string, data []byte, env LookupEnv) (*Spec, *Source, error) {
	src := newSource(file)
	d := &decoder{src: src, env: env}
	if len(data) > MaxSize {
		return nil, src, Problems{tooLarge(file, int64(len(data)))}
	}
	if i := bytes.IndexByte(data, 0); i >= 0 || !utf8.Valid(data) {
		if i < 0 {
			i = invalidUTF8At(data)
		}
		line := bytes.Count(data[:i], []byte("\n")) + 1
		col := i - bytes.LastIndexByte(data[:i], '\n')
		d.problems = append(d.problems, Problem{File: file, Line: line, Col: col, Msg: fmt.Sprintf("binary data at byte %d: the spec must be UTF-8 YAML text", i), Hint: "check that -f points at your llmmon.yaml"})
		return nil, src, d.problems
	}
	if len(bytes.TrimSpace(stripComments(data))) == 0 {
		d.fail(nil, "", "the spec file is empty", "run `llmmon init` to write a spec to start from, or remove the file to use the zero-config default")
		return nil, src, d.problems
	}
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		line, col := 1, 1
		if m := lineRe.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			if m[2] != "" {
				col, _ = strconv.Atoi(m[2])
			} else {
				col = firstCol(data, line)
			}
			msg = strings.TrimSpace(lineRe.ReplaceAllString(msg, ""))
			msg = strings.TrimPrefix(msg, ": ")
		}
		d.problems = append(d.problems, Problem{File: file, Line: line, Col: col, Msg: "YAML syntax error: " + msg, Hint: "check indentation (spaces, not tabs) and that every `key: value` has a space after the colon"})
		return nil, src, d.problems
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.fail(&extra, "", "the file holds more than one YAML document", "keep one spec per file; remove the `---` separator")
	}
	s := &Spec{}
	d.decode(&root, reflect.ValueOf(s).Elem(), "")
	if d.tooManyAliases {
		return nil, src, d.problems.sorted()
	}
	if len(d.problems) > 0 {
		// The spec is still returned, decoded as far as possible, so that validation can report
		// its own problems alongside these.
		return s, src, d.problems.sorted()
	}
	return s, src, nil
}

// tooLarge is the problem of a spec file of size bytes, over MaxSize.
func tooLarge(file string, size int64) Problem {
	return Problem{File: file, Line: 1, Col: 1,
		Msg:  fmt.Sprintf("the file is %s; a spec is a few kilobytes, so this is probably not a spec file", byteSize(size)),
		Hint: fmt.Sprintf("llmmon reads spec files of at most %s; check that -f points at your llmmon.yaml", byteSize(MaxSize))}
}

// byteSize formats n bytes for people: "1 MiB (1048576 bytes)", "4.2 MiB (4400000 bytes)".
func byteSize(n int64) string {
	const mib = 1 << 20
	switch {
	case n%mib == 0:
		return fmt.Sprintf("%d MiB (%d bytes)", n/mib, n)
	case n >= mib:
		return fmt.Sprintf("%.1f MiB (%d bytes)", float64(n)/mib, n)
	}
	return fmt.Sprintf("%d bytes", n)
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return 0
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		t := bytes.TrimSpace(l)
		if len(t) == 0 || t[0] == '#' || string(t) == "---" {
			continue
		}
		out = append(out, l...)
	}
	return out
}

func firstCol(data []byte, line int) int {
	lines := bytes.Split(data, []byte("\n"))
	if line-1 < len(lines) && line > 0 {
		l := lines[line-1]
		if i := bytes.IndexByte(l, '\t'); i >= 0 {
			return i + 1 // a tab is the usual culprit
		}
		return len(l) - len(bytes.TrimLeft(l, " \t")) + 1
	}
	return 1
}

var (
	durationType = reflect.TypeOf(Duration(0))
	secretType   = reflect.TypeOf(Secret(""))
)

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return
		}
		d.decode(n.Content[0], v, path)
		return
	case yaml.AliasNode:
		if d.tooManyAliases {
			return
		}
		if d.inAlias == 0 {
			// The alias's whole expansion is counted before it is decoded (the aliases
			// inside it included), so that a refused expansion costs nothing.
			size, cyclic := d.aliasSize(n.Alias)
			switch {
			case cyclic:
				d.fail(n, path, fmt.Sprintf("the alias *%s is inside the value it refers to, so it never ends", n.Value),
					"an anchor (&name) cannot hold its own alias; write the value out")
				return
			case d.expanded+size > maxAliasExpansion:
				d.tooManyAliases = true
				d.fail(n, path, fmt.Sprintf("the YAML aliases (*name) expand to more than %d values", maxAliasExpansion),
					"a spec needs only a few anchors and aliases; write the repeated parts out, or alias smaller parts")
				return
			}
			d.expanded += size
		}
		d.inAlias++
		d.decode(n.Alias, v, path)
		d.inAlias--
		return
	}
	d.src.pos[path] = Pos{n.Line, n.Column}
	if isNull(n) && v.Kind() != reflect.String {
		return // an empty value leaves the default, as if the field were absent
	}
	if !isNull(n) {
		d.src.set[path] = true
	}
	switch v.Type() {
	case durationType:
		d.decodeDuration(n, v, path)
		return
	case secretType:
		if s, ok := d.scalar(n, path, true); ok {
			v.SetString(s)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "expected a list, got "+kindName(n), "write one item per line, each starting with `- `, or [a, b]")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "expected a mapping of names to values, got "+kindName(n), "write `name: value` pairs, indented under the key")
			return
		}
		m := reflect.MakeMap(v.Type())
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			key, ok := d.scalar(k, path, false)
			if !ok {
				continue
			}
			if seen[key] {
				d.fail(k, path+"."+key, "duplicate key "+strconvQuote(key), "remove one of them")
				continue
			}
			seen[key] = true
			d.src.keys[path+"."+key] = Pos{k.Line, k.Column}
			ev := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, ev, path+"."+key)
			m.SetMapIndex(reflect.ValueOf(key), ev)
		}
		v.Set(m)
	case reflect.String:
		if s, ok := d.scalar(n, path, true); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := d.scalar(n, path, true)
		if !ok {
			return
		}
		switch strings.ToLower(s) {
		case "true", "yes", "on":
			v.SetBool(true)
		case "false", "no", "off":
			v.SetBool(false)
		default:
			d.fail(n, path, fmt.Sprintf("expected true or false, got %q", s), "write true or false (yes/no and on/off work too)")
		}
	case reflect.Int:
		s, ok := d.scalar(n, path, true)
		if !ok {
			return
		}
		i, err := strconv.Atoi(s)
		if err != nil {
			d.fail(n, path, fmt.Sprintf("expected a whole number, got %q", s), "write digits only, e.g. 9090, without quotes or units")
			return
		}
		v.SetInt(int64(i))
	case reflect.Float64:
		s, ok := d.scalar(n, path, true)
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(n, path, fmt.Sprintf("expected a number, got %q", s), "write a number such as 90 or 2.5")
			return
		}
		v.SetFloat(f)
	default:
		d.fail(n, path, "unsupported field type "+v.Type().String(), "this is a bug in llmmon; please report it with your spec")
	}
}

func strconvQuote(s string) string { return strconv.Quote(s) }

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// fields returns the yaml names of a struct's fields and their indexes.
func fields(t reflect.Type) ([]string, map[string]int) {
	var names []string
	idx := map[string]int{}
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		name, _, _ := strings.Cut(tag, ",")
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
		idx[name] = i
	}
	return names, idx
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping, got "+kindName(n), "write `key: value` pairs, indented under the key")
		return
	}
	names, idx := fields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "expected a field name, got "+kindName(k), "write `name: value`; a key cannot be a list or a mapping")
			continue
		}
		key := k.Value
		sub := key
		if path != "" {
			sub = path + "." + key
		}
		fi, ok := idx[key]
		if !ok {
			msg := fmt.Sprintf("unknown field %q", key)
			hint := ""
			if s := suggest(key, names); s != "" {
				msg += fmt.Sprintf(", did you mean %q?", s)
			}
			hint = "valid fields here: " + strings.Join(names, ", ")
			d.fail(k, sub, msg, hint)
			continue
		}
		if seen[key] {
			d.fail(k, sub, fmt.Sprintf("field %q is set twice", key), "remove one of them")
			continue
		}
		seen[key] = true
		d.src.keys[sub] = Pos{k.Line, k.Column}
		before := len(d.problems)
		d.decode(val, v.Field(fi), sub)
		if len(d.problems) == before {
			d.explicitZero(val, v.Field(fi), v.Type().Field(fi), sub)
		}
	}
}

var envRe = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}|\$\{[^}]*\}?`)

// scalar returns a scalar's text with ${VAR} expanded.
func (d *decoder) scalar(n *yaml.Node, path string, expand bool) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "expected a single value, got "+kindName(n), "write the value on the same line as its key, e.g. `key: value`")
		return "", false
	}
	if n.Tag == "!!null" {
		return "", true
	}
	if !expand || !strings.Contains(n.Value, "$") {
		return n.Value, true
	}
	ok := true
	out := envRe.ReplaceAllStringFunc(n.Value, func(m string) string {
		if m == "$$" {
			return "$"
		}
		sm := envRe.FindStringSubmatch(m)
		if sm[1] == "" {
			ok = false
			d.fail(n, path, fmt.Sprintf("malformed variable reference %q", m), "write ${NAME} or ${NAME:-default}; write $$ for a literal $")
			return ""
		}
		if d.env != nil {
			if val, found := d.env(sm[1]); found && (val != "" || sm[2] == "") {
				return val
			}
		}
		if sm[2] != "" {
			return sm[2][2:]
		}
		ok = false
		d.fail(n, path, fmt.Sprintf("environment variable %s is not set", sm[1]), fmt.Sprintf("export %s before running llmmon, or write ${%s:-default}", sm[1], sm[1]))
		d.problems[len(d.problems)-1].UnsetEnv = true
		d.src.unset[path] = sm[1]
		return ""
	})
	return out, ok
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value, path string) {
	s, ok := d.scalar(n, path, true)
	if !ok || s == "" {
		return
	}
	dur, err := ParseDuration(s)
	if err != nil {
		d.fail(n, path, fmt.Sprintf("invalid duration %q", s), "use a number and a unit, e.g. 30s, 5m, 2h, 15d")
		return
	}
	v.SetInt(int64(dur))
}

// ParseDuration parses a Prometheus-style duration such as 30s, 1h30m or 15d, or a decimal one
// such as 2.5s or 0.5s (Prometheus' form has no fractions; histogram buckets often do).
func ParseDuration(s string) (Duration, error) {
	d, err := model.ParseDuration(s)
	if err != nil {
		if td, terr := time.ParseDuration(s); terr == nil && td >= 0 && strings.Contains(s, ".") {
			return Duration(td), nil
		}
		return 0, fmt.Errorf("parse duration %q: %w", s, err)
	}
	return Duration(d), nil
}

// String formats the duration the way Prometheus does (15d, 1m30s).
func (d Duration) String() string { return model.Duration(d).String() }

// D returns the duration as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// ReadSpecFile reads a spec file, reading at most MaxSize+1 bytes so that a huge file is refused
// without being read whole. Its errors wrap ErrInvalid; a file over MaxSize is Problems naming
// its real size.
func ReadSpecFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s: no such file\n    hint: check the -f path, or run `llmmon init` to write a spec", ErrInvalid, path)
		}
		return nil, fmt.Errorf("%w: cannot read %s: %v\n    hint: check the file's permissions, and that -f names a file", ErrInvalid, path, unwrapPathErr(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot read %s: %v\n    hint: check that -f names a regular file", ErrInvalid, path, unwrapPathErr(err))
	}
	if len(data) > MaxSize {
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() || st.Size() < int64(len(data)) {
			// A pipe or device: its size is unknown.
			p := tooLarge(path, int64(len(data)))
			p.Msg = fmt.Sprintf("%s holds more than %s; a spec is a few kilobytes, so this is probably not a spec file", path, byteSize(MaxSize))
			return nil, Problems{p}
		}
		return nil, Problems{tooLarge(path, st.Size())}
	}
	return data, nil
}
