package spec

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad: the loader never panics, whatever the input, and either returns a spec or Problems.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/invalid/*.yaml")
	for _, p := range append(files, "../../examples/llmmon.yaml") {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("targets: [{name: a, url: '127.0.0.1:1'}]"))
	f.Add([]byte("a: &x [*x]"))
	env := func(k string) (string, bool) { return "v", k == "SET" }
	f.Fuzz(func(t *testing.T, data []byte) {
		s, _, err := LoadBytes("fuzz.yaml", data, env)
		if (s == nil) == (err == nil) {
			t.Fatalf("want exactly one of spec and error, got %v and %v", s, err)
		}
	})
}
