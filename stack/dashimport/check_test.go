package dashimport_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/check"
	"github.com/llmmon/llmmon/stack/dashimport"
	"github.com/llmmon/llmmon/stack/spec"
)

// TestCheckMalformed: a malformed dashboard is bad input (spec.ErrInvalid) that says where it
// is wrong (line:col and the JSON path), what is wrong, and what to do.
func TestCheckMalformed(t *testing.T) {
	for _, c := range []struct {
		name, json string
		line, col  int
		path, msg  string
	}{
		{"syntax", "{\n  \"title\": \"A\",\n  \"panels\": [\n    {\"id\": 1,}\n  ]\n}\n", 4, 14, "", "not valid JSON: invalid character '}'"},
		{"missing comma", "{\"title\": \"A\"\n \"panels\": []}", 2, 2, "", "not valid JSON: invalid character '\"' after object key:value pair"},
		{"cut short", "{\"title\": \"A\", \"panels\": [", 1, 27, "", "ends before every { and [ is closed"},
		{"not json", "<!DOCTYPE html>\n<html>", 1, 1, "", "the file is not JSON"},
		{"empty", "  \n", 0, 0, "", "the file is empty"},
		{"trailing", "{\"title\": \"A\"}\n{\"x\": 1}", 2, 1, "", "data after the dashboard object"},
		{"array", "[{\"title\": \"A\"}]", 1, 1, "", "want a JSON object, got an array"},
		{"not a dashboard", "{\"apiVersion\": 1,\n \"datasources\": []}", 1, 1, "", "not a Grafana dashboard"},
		{"title type", "{\n  \"title\": 42,\n  \"panels\": []\n}", 2, 12, "title", "title must be a string, got a number"},
		{"no title", "{\"panels\": []}", 1, 1, "", "has no title"},
		{"panels object", "{\"title\": \"A\",\n \"panels\": {\"a\": 1}}", 2, 12, "panels", "panels must be a list"},
		{"panel not object", "{\"title\": \"A\", \"panels\": [\n  {\"id\": 1},\n  \"oops\"\n]}", 3, 3, "panels[1]", "want an object"},
		{"targets string", "{\"title\": \"A\", \"panels\": [{\"id\": 1,\n   \"targets\": \"up\"}]}", 2, 15, "panels[0].targets", "targets must be a list ([...]), got a string"},
		{"expr number", "{\"title\": \"A\", \"panels\": [{\"targets\": [{\"refId\": \"A\",\n \"expr\": 5}]}]}", 2, 10, "panels[0].targets[0].expr", "expr must be a string"},
		{"row panels", "{\"title\": \"A\", \"panels\": [{\"type\": \"row\", \"panels\": [{\"id\": 1.5}]}]}", 1, 61, "panels[0].panels[0].id", "whole number"},
		{"old rows", "{\"title\": \"A\", \"rows\": [{\"panels\": 3}]}", 1, 36, "rows[0].panels", "panels must be a list"},
		{"templating", "{\"title\": \"A\", \"templating\": {\"list\": [{\"name\": [\"x\"]}]}}", 1, 49, "templating.list[0].name", "name must be a string"},
		{"inputs", "{\"title\": \"A\", \"__inputs\": {\"name\": \"DS\"}}", 1, 28, "__inputs", "__inputs must be a list"},
		{"wrapped", "{\"dashboard\": {\"title\": \"A\", \"panels\": [1]}, \"meta\": {}}", 1, 41, "dashboard.panels[0]", "want an object"},
		{"tags", "{\"title\": \"A\", \"tags\": [\"a\", 2]}", 1, 30, "tags[1]", "a tag must be a string"},
		{"utf8 column", "{\"title\": \"Übersicht\", \"panels\": [{\"gridPos\": 1}]}", 1, 47, "panels[0].gridPos", "gridPos must be an object"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := dashimport.Check([]byte(c.json), "d.json")
			var ie *dashimport.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("want an InputError, got %v", err)
			}
			if !errors.Is(err, spec.ErrInvalid) {
				t.Error("does not wrap spec.ErrInvalid (exit 2)")
			}
			if ie.Line != c.line || ie.Col != c.col || ie.Path != c.path || !strings.Contains(ie.Msg, c.msg) {
				t.Errorf("got %d:%d %q %q\nwant %d:%d %q %q", ie.Line, ie.Col, ie.Path, ie.Msg, c.line, c.col, c.path, c.msg)
			}
			if ie.Hint == "" || !strings.Contains(err.Error(), "\n    hint: ") {
				t.Errorf("no hint: %v", err)
			}
			if want := "d.json:"; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("the message does not start with the source: %v", err)
			}
		})
	}
}

// TestCheckPublishedDashboards: every published dashboard of the fixtures passes, as do the
// shapes Grafana writes that are easy to reject by mistake.
func TestCheckPublishedDashboards(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.Fixtures(t), "dashboards", "*.json"))
	if len(files) == 0 {
		testenv.SkipOrFail(t, "no published dashboards in the fixtures")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := dashimport.Check(data, f); err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		}
	}
	for _, ok := range []string{
		`{"title": "A"}`,
		`{"title": "A", "uid": null, "id": null, "__elements": [], "panels": []}`,
		`{"title": "A", "uid": 17, "__elements": {"x": {"model": {}}}}`,
		`{"title": "A", "panels": [{"libraryPanel": {"uid": "x"}, "gridPos": {"x": 0}}, {"datasource": "$ds", "targets": [{"datasource": {"uid": "x"}}]}]}`,
		"\xef\xbb\xbf{\"title\": \"BOM\"}",
	} {
		if err := dashimport.Check([]byte(ok), "ok.json"); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}

// TestFetchNamesTheFile: a malformed dashboard file is reported at FILE:line:col, and a
// missing one is bad input too.
func TestFetchNamesTheFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(p, []byte("{\"title\": \"A\",\n  \"panels\": [}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := dashimport.Fetch(context.Background(), nil, p)
	if !errors.Is(err, spec.ErrInvalid) || !strings.HasPrefix(err.Error(), p+":2:14: not valid JSON") {
		t.Fatalf("got %v", err)
	}
	_, _, err = dashimport.Fetch(context.Background(), nil, filepath.Join(t.TempDir(), "absent.json"))
	if !errors.Is(err, spec.ErrInvalid) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "hint: ") {
		t.Fatalf("absent: %v", err)
	}
}

// TestCheckCurrentSchema: a dashboard that declares Grafana's current schemaVersion is taken
// by Grafana as it is, so a value of the wrong type or out of the schema's range is refused,
// at its place; the same dashboard declaring an older schemaVersion is accepted, with notes
// saying that Grafana migrates it. What Grafana itself writes and the SDK does not model is
// never refused.
func TestCheckCurrentSchema(t *testing.T) {
	sv := check.DashboardSchemaVersion
	for _, c := range []struct {
		name, json string
		line, col  int
		path, msg  string
	}{
		{"too wide", `{"title": "A", "schemaVersion": %d,
 "panels": [{"type": "timeseries", "id": 3, "title": "Latency", "gridPos": {"h": 8, "w": 30, "x": 0, "y": 0}}]}`,
			2, 90, "panels[0].gridPos.w", `panel 3 "Latency": must be <= 24, in Grafana's dashboard schema`},
		{"wrapped", `{"dashboard": {"title": "A", "schemaVersion": %d,
 "panels": [{"type": "stat", "gridPos": {"h": 0, "w": 6, "x": 0, "y": 0}}]}, "meta": {}}`,
			2, 47, "dashboard.panels[0].gridPos.h", `panel at panels[0]: must be > 0`},
		{"refresh", `{"title": "A", "schemaVersion": %d, "refresh": true}`,
			1, 48, "refresh", "want a string, got true or false"},
		{"variable", `{"title": "A", "schemaVersion": %d,
 "templating": {"list": [{"name": "job", "type": "query", "multi": "yes"}]}}`,
			2, 68, "templating.list[0].multi", "variable job: want true or false, got a string"},
		{"option", `{"title": "A", "schemaVersion": %d,
 "panels": [{"type": "timeseries", "title": "P", "options": {"legend": {"showLegend": "no"}}}]}`,
			2, 87, "panels[0].options.legend.showLegend", `panel "P": want true or false, got a string`},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := fmt.Sprintf(c.json, sv)
			err := dashimport.Check([]byte(data), "d.json")
			var ie *dashimport.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("want an InputError, got %v", err)
			}
			if !errors.Is(err, spec.ErrInvalid) || ie.Hint == "" {
				t.Errorf("not bad input with a hint: %v", err)
			}
			if ie.Line != c.line || ie.Col != c.col || ie.Path != c.path || !strings.Contains(ie.Msg, c.msg) {
				t.Errorf("got %d:%d %q %q\nwant %d:%d %q %q", ie.Line, ie.Col, ie.Path, ie.Msg, c.line, c.col, c.path, c.msg)
			}
			if !strings.Contains(ie.Msg, fmt.Sprintf("(schemaVersion %d)", sv)) {
				t.Errorf("the message does not say which schemaVersion the dashboard declares: %s", ie.Msg)
			}

			// Declaring an older schema, the same dashboard is Grafana's to migrate.
			old := strings.Replace(data, fmt.Sprintf(`"schemaVersion": %d`, sv), `"schemaVersion": 39`, 1)
			r, err := dashimport.Resolve([]byte(old), dashimport.Options{})
			if err != nil {
				t.Fatalf("schemaVersion 39: %v", err)
			}
			if len(r.SchemaNotes) != 2 || !strings.HasPrefix(r.SchemaNotes[0], fmt.Sprintf("schemaVersion 39 is older than Grafana's current dashboard schema (%d): Grafana migrates", sv)) ||
				!strings.Contains(r.SchemaNotes[1], "1 value(s) do not follow the current schema yet") {
				t.Errorf("schemaVersion 39: notes %q", r.SchemaNotes)
			}
		})
	}
	for _, ok := range []string{
		// Fields the SDK does not model (Grafana's query editor writes some), required fields
		// left out (Grafana fills in defaults), a panel type the SDK has no model of.
		`{"title": "A", "schemaVersion": %d, "style": "dark", "panels": [{"type": "timeseries", "title": "P",
		  "targets": [{"refId": "A", "expr": "up", "useBackend": false, "datasource": {"type": "prometheus", "uid": "x"}}],
		  "options": {"legend": {"displayMode": "list"}}}, {"type": "grafana-clock-panel", "options": {"x": 1}}]}`,
		// Datasource references of any form: Resolve binds every one to llmmon's datasource.
		`{"title": "A", "schemaVersion": %d, "panels": [{"type": "stat", "datasource": "$ds", "targets": [{"datasource": "Prometheus", "expr": "up"}]}],
		  "templating": {"list": [{"name": "ds", "type": "datasource", "query": "prometheus", "datasource": null}]}}`,
		// gnetId as a number, as Grafana writes it (the SDK types it a string).
		`{"title": "A", "schemaVersion": %d, "gnetId": 12239}`,
		// A later schemaVersion than the SDK knows, in the schema it does know.
		`{"title": "A", "schemaVersion": %d9}`,
	} {
		data := fmt.Sprintf(ok, sv)
		if err := dashimport.Check([]byte(data), "ok.json"); err != nil {
			t.Errorf("%s: %v", data, err)
		}
		r, err := dashimport.Resolve([]byte(data), dashimport.Options{})
		if err != nil || len(r.SchemaNotes) != 0 {
			t.Errorf("%s: notes %q, %v", data, r.SchemaNotes, err)
		}
	}
	// No schemaVersion: Grafana migrates it from the oldest schema.
	r, err := dashimport.Resolve([]byte(`{"title": "A", "panels": []}`), dashimport.Options{})
	if err != nil || len(r.SchemaNotes) != 1 || !strings.HasPrefix(r.SchemaNotes[0], "the dashboard has no schemaVersion: Grafana takes it for the oldest schema") {
		t.Errorf("no schemaVersion: %q, %v", r.SchemaNotes, err)
	}
}

var schemaVersionRe = regexp.MustCompile(`"schemaVersion":\s*(\d+)`)

// TestPublishedDashboardsAndTheCurrentSchema: every published dashboard of the fixtures
// declares an older schemaVersion and is imported with a note that Grafana migrates it. The
// recent ones (Grafana 10 and later) would pass even if they declared the current schema:
// what they hold that the SDK does not model is never refused. NVIDIA's (schemaVersion 22,
// "refresh": true) would not, and must not, since Grafana would then not migrate it.
func TestPublishedDashboardsAndTheCurrentSchema(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testenv.Fixtures(t), "dashboards", "*.json"))
	if len(files) == 0 {
		testenv.SkipOrFail(t, "no published dashboards in the fixtures")
	}
	sv := check.DashboardSchemaVersion
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			m := schemaVersionRe.FindSubmatch(data)
			if m == nil {
				t.Fatal("no schemaVersion")
			}
			published, _ := strconv.Atoi(string(m[1]))
			if published >= sv {
				t.Fatalf("schemaVersion %d is the current one: this test wants older dashboards", published)
			}
			r, err := dashimport.Resolve(data, dashimport.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.SchemaNotes) == 0 || !strings.HasPrefix(r.SchemaNotes[0], fmt.Sprintf("schemaVersion %d is older", published)) {
				t.Errorf("notes %q", r.SchemaNotes)
			}

			current := schemaVersionRe.ReplaceAll(data, []byte(fmt.Sprintf(`"schemaVersion": %d`, sv)))
			err = dashimport.Check(current, filepath.Base(f))
			if published < 30 {
				var ie *dashimport.InputError
				if !errors.As(err, &ie) || ie.Path != "refresh" || ie.Line == 0 {
					t.Errorf("declaring schemaVersion %d: got %v, want a refusal of its \"refresh\": true", sv, err)
				}
				return
			}
			if err != nil {
				t.Errorf("declaring schemaVersion %d: %v", sv, err)
			}
			if r, err := dashimport.Resolve(current, dashimport.Options{}); err != nil || len(r.SchemaNotes) != 0 {
				t.Errorf("declaring schemaVersion %d: notes %q, %v", sv, r.SchemaNotes, err)
			}
		})
	}
}
