package spec

import (
	_ "embed"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
)

//go:embed types.go
var typesSource string

// enums lists the allowed values of fields, by yaml path pattern (list indexes as []).
var enums = map[string][]string{
	"language":                     {"en", "zh"},
	"gpu":                          {"auto", "on", "off"},
	"targets[].engine":             Engines,
	"alerts.overrides[].engine":    {EngineVLLM, EngineSGLang, EngineTGI, EngineLlamaCPP, EngineTriton, EngineLMDeploy, EngineCustom},
	"notify.receivers[].email.tls": {"starttls", "tls", "none"},
}

// Schema returns a JSON Schema (draft 2020-12) of the spec, with every field's documentation, so
// that editors can complete and check llmmon.yaml.
func Schema() ([]byte, error) {
	docs := fieldDocs()
	root := schemaFor(reflect.TypeOf(Spec{}), "", docs)
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = "https://llmmon.dev/schema/v1.json"
	root["title"] = "llmmon spec v1"
	return json.MarshalIndent(root, "", "  ")
}

func schemaFor(t reflect.Type, path string, docs map[string]string) map[string]any {
	switch t {
	case reflect.TypeOf(Duration(0)):
		return map[string]any{"type": "string", "pattern": `^([0-9]+(ms|s|m|h|d|w|y))+$`}
	case reflect.TypeOf(Secret("")):
		return map[string]any{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaFor(t.Elem(), path, docs)
	case reflect.Struct:
		props := map[string]any{}
		var required []string
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("yaml")
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" || name == "-" {
				continue
			}
			sub := name
			if path != "" {
				sub = path + "." + name
			}
			s := schemaFor(f.Type, sub, docs)
			if d := docs[t.Name()+"."+f.Name]; d != "" {
				s["description"] = d
			}
			if e, ok := enums[sub]; ok {
				s["enum"] = e
			}
			noZero(s, f, sub)
			props[name] = s
			if !strings.Contains(opts, "omitempty") {
				required = append(required, name)
			}
		}
		out := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			out["required"] = required
		}
		return out
	case reflect.Slice:
		return map[string]any{"type": "array", "items": schemaFor(t.Elem(), path+"[]", docs)}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": schemaFor(t.Elem(), path, docs)}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Int:
		return map[string]any{"type": "integer"}
	case reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	}
	return map[string]any{}
}

// noZero puts into s the rule of explicit.go: a value written for a field with a default may
// not be zero (or empty).
func noZero(s map[string]any, f reflect.StructField, path string) {
	if f.Tag.Get("zero") == "allowed" {
		return
	}
	name := path[strings.LastIndexByte(path, '.')+1:]
	switch {
	case f.Type == durationType:
		s["not"] = map[string]any{"pattern": `^(0+(ms|s|m|h|d|w|y))+$`}
	case path == "version":
		s["enum"] = []int{1}
	case f.Type.Kind() == reflect.Int && (name == "port" || strings.HasPrefix(path, "internal_ports.")):
		s["minimum"], s["maximum"] = 1, 65535
	case f.Type.Kind() == reflect.Int:
		s["minimum"] = 1
	case f.Type.Kind() == reflect.Float64:
		s["exclusiveMinimum"] = 0
	case f.Type.Kind() == reflect.String && f.Type != secretType:
		if _, ok := stringDefaults[indexRe.ReplaceAllString(path, "[]")]; ok {
			s["minLength"] = 1
		}
	}
}

// fieldDocs reads the doc comments of the spec's struct fields from the embedded source.
func fieldDocs() map[string]string {
	docs := map[string]string{}
	f, err := parser.ParseFile(token.NewFileSet(), "types.go", typesSource, parser.ParseComments)
	if err != nil {
		return docs
	}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return true
		}
		for _, fl := range st.Fields.List {
			if fl.Doc == nil {
				continue
			}
			for _, name := range fl.Names {
				docs[ts.Name.Name+"."+name.Name] = strings.TrimSpace(fl.Doc.Text())
			}
		}
		return false
	})
	return docs
}
