package spec

import (
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// A field left out of the spec (or left empty, as in `port:`) gets its default; a numeric field
// written as 0 (port: 0, scrape_interval: 0s, cpu_percent: 0), or a text field with a default
// written as "", is an error, never silently the default. A numeric field for which 0 means
// something of its own must carry the struct tag `zero:"allowed"`.

// explicitZero reports a field with a default that the user wrote as zero or "". n is the field's value node, f
// the decoded value, sf the struct field.
func (d *decoder) explicitZero(n *yaml.Node, f reflect.Value, sf reflect.StructField, path string) {
	n = resolveAlias(n)
	if n == nil || isNull(n) || sf.Tag.Get("zero") == "allowed" {
		return
	}
	if !f.IsZero() {
		return
	}
	switch f.Kind() {
	case reflect.Int, reflect.Int64, reflect.Float64:
		msg, hint := zeroProblem(path, f.Type())
		d.fail(n, path, msg, hint)
	case reflect.String:
		if def, ok := stringDefaults[indexRe.ReplaceAllString(path, "[]")]; ok && f.Type() != secretType {
			name := path[strings.LastIndexByte(path, '.')+1:]
			d.fail(n, path, fmt.Sprintf("%s cannot be empty", name), fmt.Sprintf("write a value, or leave the field out to get the default (%s)", def))
		}
	}
}

// stringDefaults are the text fields that have a default, by path (list indexes as []), with
// the default as the user would read it. An empty value written for one of them is an error.
var stringDefaults = map[string]string{
	"name":                         "llmmon",
	"bind":                         "127.0.0.1",
	"data_dir":                     "~/.llmmon/NAME",
	"language":                     "en",
	"timezone":                     "UTC",
	"gpu":                          "auto",
	"targets[].engine":             "auto",
	"grafana.admin_user":           "admin",
	"notify.receivers[].email.tls": "tls on port 465, else starttls",
}

var indexRe = regexp.MustCompile(`\[[0-9]+\]`)

// zeroProblem words the problem of an explicit zero at path.
func zeroProblem(path string, t reflect.Type) (msg, hint string) {
	name := path[strings.LastIndexByte(path, '.')+1:]
	def := defaultText(path)
	leaveOut := "or leave the field out to get the default"
	if def != "" {
		leaveOut += " (" + def + ")"
	}
	switch {
	case path == "version":
		return "unsupported spec version 0", "this llmmon reads version 1: write version: 1, or leave the field out"
	case name == "port" || strings.HasPrefix(path, "internal_ports."):
		return "port 0 is out of range", "use 1-65535, " + leaveOut
	case t == durationType:
		return fmt.Sprintf("%s cannot be 0s", name), "write a duration above zero such as 5s, 10m or 15d, " + leaveOut
	case strings.Contains(path, "thresholds."):
		return fmt.Sprintf("%s cannot be 0", name), "write a threshold above 0, " + leaveOut + "; to turn an alert off, list its name under alerts.disable"
	}
	return fmt.Sprintf("%s cannot be 0", name), "write a number above 0, " + leaveOut
}

// defaultText is the default of the field at path, as the user would write it, or a pointer to
// where it comes from; "" when there is none to show.
func defaultText(path string) string {
	generic := indexRe.ReplaceAllString(path, "[]")
	switch {
	case generic == "targets[].scrape_interval":
		return "from prometheus.scrape_interval"
	case strings.HasPrefix(generic, "alerts.overrides[].thresholds.") || strings.HasPrefix(generic, "alerts.working_hours.thresholds."):
		return "from alerts.thresholds." + generic[strings.LastIndexByte(generic, '.')+1:]
	case strings.Contains(generic, "[]"):
		return ""
	}
	s := &Spec{Alerts: Alerts{Anomaly: &Anomaly{}}}
	s.ApplyDefaults()
	v := reflect.ValueOf(s).Elem()
	for _, part := range strings.Split(path, ".") {
		for v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return ""
			}
			v = v.Elem()
		}
		if v.Kind() != reflect.Struct {
			return ""
		}
		_, idx := fields(v.Type())
		i, ok := idx[part]
		if !ok {
			return ""
		}
		v = v.Field(i)
	}
	switch v.Kind() {
	case reflect.Int64:
		if v.Type() == durationType {
			return Duration(v.Int()).String()
		}
		return fmt.Sprint(v.Int())
	case reflect.Int:
		return fmt.Sprint(v.Int())
	case reflect.Float64:
		return fmt.Sprint(v.Float())
	}
	return ""
}
