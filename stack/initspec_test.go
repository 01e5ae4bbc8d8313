package stack_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/spec"
)

// TestInit: init writes a spec that loads and validates as it is, and never overwrites a file
// unless forced.
func TestInit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "llmmon.yaml")
	if _, err := stack.Init(t.Context(), path, stack.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := spec.Load(path, func(string) (string, bool) { return "", false }); err != nil {
		t.Errorf("the written spec does not load: %v", err)
	}
	if err := os.WriteFile(path, []byte("name: mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := stack.Init(t.Context(), path, stack.InitOptions{}); !errors.Is(err, stack.ErrExists) {
		t.Errorf("over an existing file: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "name: mine\n" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if _, err := stack.Init(t.Context(), path, stack.InitOptions{Force: true}); err != nil {
		t.Errorf("forced: %v", err)
	}
}

// TestStarterSpecWithTargets: the starter with targets is a valid spec with them.
func TestStarterSpecWithTargets(t *testing.T) {
	data, err := stack.StarterSpec([]spec.Target{{Name: "qwen", Engine: "vllm", URL: "http://127.0.0.1:8000"}})
	if err != nil {
		t.Fatal(err)
	}
	s, _, err := spec.LoadBytes("init.yaml", data, func(string) (string, bool) { return "", false })
	if err != nil || len(s.Targets) != 1 || s.Targets[0].Name != "qwen" {
		t.Errorf("%v, %+v\n%s", err, s, data)
	}
}
