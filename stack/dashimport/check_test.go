package dashimport_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
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
