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

// TestAddTargetKeepsTheUsersQuotes: a target added beside targets whose values the user quotes
// gets the same quotes (the demo's spec double-quotes its URLs), and the rest of the file,
// comments and long lines included, is left as it was.
func TestAddTargetKeepsTheUsersQuotes(t *testing.T) {
	for name, c := range map[string]struct{ spec, want string }{
		"double-quoted flow items": {
			"targets:\n  - {name: qwen, engine: vllm, url: \"127.0.0.1:18000\"}\n",
			"  - {name: chat, engine: vllm, url: \"127.0.0.1:18002\"}\n",
		},
		"single-quoted block items": {
			"targets:\n  - name: qwen\n    engine: vllm\n    url: '127.0.0.1:18000'\n",
			"  - name: chat\n    engine: vllm\n    url: '127.0.0.1:18002'\n",
		},
		"plain block items": {
			"targets:\n  - name: qwen\n    engine: vllm\n    url: http://127.0.0.1:18000\n",
			"  - name: chat\n    engine: vllm\n    url: 127.0.0.1:18002\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			head := "# my spec\nname: demo # the stack\nnotify:\n  receivers:\n    - name: d\n      dingtalk: {url: \"http://127.0.0.1:18090/robot/send?access_token=a-rather-long-token-value-0123456789\", secret: SECx}\n"
			p := filepath.Join(t.TempDir(), "llmmon.yaml")
			if err := os.WriteFile(p, []byte(head+c.spec), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := AddTargetToFile(p, Target{Name: "chat", Engine: "vllm", URL: "127.0.0.1:18002"}); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(p)
			if want := head + c.spec + c.want; string(got) != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}
