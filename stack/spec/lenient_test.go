package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A stack can be inspected and taken down from a shell that lacks its secrets: for those
// commands an unset variable in a secret field is not an error, and every other problem still is.
func TestLoadIgnoringUnsetSecrets(t *testing.T) {
	dir := t.TempDir()
	write := func(text string) string {
		p := filepath.Join(dir, "llmmon.yaml")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := func(string) (string, bool) { return "", false }
	p := write(`name: prod
notify:
  receivers:
    - name: ding
      dingtalk: {url: "${LLMMON_TEST_UNSET_URL}", secret: "${LLMMON_TEST_UNSET_SECRET}"}
    - name: mail
      email: {to: [a@example.com], from: b@example.com, smarthost: "smtp.example.com:587", username: u, password: "${LLMMON_TEST_UNSET_PW}"}
`)
	if _, _, err := Load(p, env); err == nil || !strings.Contains(err.Error(), "LLMMON_TEST_UNSET_URL") {
		t.Fatalf("Load: want the unset variables reported, got %v", err)
	}
	s, _, err := LoadIgnoringUnsetSecrets(p, env)
	if err != nil {
		t.Fatalf("LoadIgnoringUnsetSecrets: %v", err)
	}
	if s.Name != "prod" || len(s.Notify.Receivers) != 2 {
		t.Fatalf("spec: %+v", s)
	}
	// Other mistakes are still errors.
	p = write(`name: prod
targts: []
notify:
  receivers:
    - name: ding
      dingtalk: {url: "${LLMMON_TEST_UNSET_URL}"}
`)
	_, _, err = LoadIgnoringUnsetSecrets(p, env)
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.Contains(ps[0].Msg, "targts") {
		t.Fatalf("want only the unknown field reported, got %v", err)
	}
}
