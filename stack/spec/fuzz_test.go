package spec

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzLoad: the loader never panics, whatever the input, either returns a spec or Problems,
// and is never slow: an input that takes seconds is a denial of service, and fails here (so the
// fuzzer saves it) instead of showing only as a stall of the fuzzer's execs/s.
// testdata/fuzz/FuzzLoad holds inputs that were slow once (see TestSlowInputs).
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
		start := time.Now()
		s, _, err := LoadBytes("fuzz.yaml", data, env)
		if (s == nil) == (err == nil) {
			t.Fatalf("want exactly one of spec and error, got %v and %v", s, err)
		}
		// The fuzzer's inputs are at most a few kilobytes, which load in well under a
		// millisecond; the bound is generous for a busy machine.
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("a %d-byte input took %s to load", len(data), d)
		}
	})
}
