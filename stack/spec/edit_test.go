package spec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAddAndRemoveTargetKeepComments(t *testing.T) {
	p := filepath.Join(t.TempDir(), "llmmon.yaml")
	orig := "# my stack\nname: prod   # the name\n\ntargets:\n  # the chat model\n  - name: chat\n    engine: vllm\n    url: http://127.0.0.1:8000\nlanguage: zh\n"
	os.WriteFile(p, []byte(orig), 0o640)
	if err := AddTargetToFile(p, Target{Name: "embed", Engine: "sglang", URL: "127.0.0.1:30000", Labels: map[string]string{"team": "a"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	for _, want := range []string{"# my stack", "# the name", "# the chat model", "name: embed", "engine: sglang", "team: a", "language: zh"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("missing %q in:\n%s", want, b)
		}
	}
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", st.Mode())
	}
	s, _, err := Load(p, func(string) (string, bool) { return "", false })
	if err != nil || len(s.Targets) != 2 || s.Targets[1].Labels["team"] != "a" {
		t.Fatalf("reload: %v %+v", err, s)
	}
	if err := AddTargetToFile(p, Target{Name: "embed", URL: "x:1"}); err == nil {
		t.Fatal("duplicate accepted")
	}
	if err := RemoveTargetFromFile(p, "chat"); err != nil {
		t.Fatal(err)
	}
	s, _, err = Load(p, func(string) (string, bool) { return "", false })
	if err != nil || len(s.Targets) != 1 || s.Targets[0].Name != "embed" {
		t.Fatalf("after remove: %v %+v", err, s.Targets)
	}
	if err := RemoveTargetFromFile(p, "nope"); err == nil {
		t.Fatal("removing a missing target succeeded")
	}
	// A missing file is created.
	q := filepath.Join(t.TempDir(), "new.yaml")
	if err := AddTargetToFile(q, Target{Name: "a", Engine: "vllm", URL: "127.0.0.1:8000"}); err != nil {
		t.Fatal(err)
	}
	if s, _, err := Load(q, nil); err != nil || len(s.Targets) != 1 {
		t.Fatalf("new file: %v", err)
	}
}
