package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestREADMESpecValidates: the full spec in the README is a valid spec, so the documentation
// cannot drift from the code.
func TestREADMESpecValidates(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	i := strings.Index(text, "## A full spec")
	if i < 0 {
		t.Fatal("README has no \"## A full spec\" section")
	}
	text = text[i:]
	start := strings.Index(text, "```yaml\n")
	end := strings.Index(text[start+8:], "```")
	if start < 0 || end < 0 {
		t.Fatal("no yaml block in the README's full spec section")
	}
	spec := filepath.Join(t.TempDir(), "llmmon.yaml")
	if err := os.WriteFile(spec, []byte(text[start+8:start+8+end]), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "validate", "--offline", "-f", spec)
	if code != 0 {
		t.Fatalf("the README's spec does not validate: exit %d\n%s%s", code, out, errOut)
	}
}
