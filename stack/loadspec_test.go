package stack_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/spec"
)

func TestLoadSpec(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "llmmon.yaml")
	if err := os.WriteFile(file, []byte("name: mine\nnotify:\n  receivers:\n    - name: d\n      dingtalk: {url: '${LOADSPEC_UNSET_URL}'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	absent := filepath.Join(dir, "absent.yaml")

	// A named file that is not there is an error, never the zero-config default.
	if _, _, zc, err := stack.LoadSpec(t.Context(), stack.LoadOptions{Path: absent, Explicit: true}); err == nil || zc != nil {
		t.Errorf("named but absent: %v, %+v", err, zc)
	}
	// A file with an unset secret: refused, unless the command uses no secret.
	if _, _, _, err := stack.LoadSpec(t.Context(), stack.LoadOptions{Path: file}); !errors.Is(err, spec.ErrInvalid) {
		t.Errorf("unset secret: %v", err)
	}
	s, src, zc, err := stack.LoadSpec(t.Context(), stack.LoadOptions{Path: file, IgnoreUnsetSecrets: true})
	if err != nil || s.Name != "mine" || src == nil || zc != nil {
		t.Errorf("the file: %v, %v, %v, %+v", err, s, src, zc)
	}
	// The default file absent and none named: the zero-config default, saying what it found.
	s, src, zc, err = stack.LoadSpec(t.Context(), stack.LoadOptions{Path: absent})
	if err != nil || s.Name != "llmmon" || src != nil || zc == nil || len(zc.Notes) == 0 || zc.Targets != len(s.Targets) {
		t.Errorf("zero-config: %v, %+v, %v, %+v", err, s, src, zc)
	}
}
