package stack_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/llmmon/llmmon/stack"
)

// TestCredentials: generated once per data directory, 0600 in a 0700 folder, the cached bcrypt
// hash reused while it matches (so a second up changes no file) and redone when the password
// changes; ReadCredentials never creates them.
func TestCredentials(t *testing.T) {
	s := statusSpec(t)
	if _, err := stack.ReadCredentials(s); !errors.Is(err, stack.ErrNoCredentials) {
		t.Fatalf("ReadCredentials of a fresh data directory: %v", err)
	}
	if _, err := os.Stat(s.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadCredentials created the data directory: %v", err)
	}
	c1, err := stack.EnsureCredentials(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(c1.APIPassword) < 20 || len(c1.RelayToken) < 20 || c1.APIPassword == c1.RelayToken {
		t.Fatalf("weak or equal credentials: %d %d", len(c1.APIPassword), len(c1.RelayToken))
	}
	if bcrypt.CompareHashAndPassword([]byte(c1.APIPasswordHash), []byte(c1.APIPassword)) != nil {
		t.Fatal("the hash does not match the password")
	}
	dir := filepath.Join(s.DataDir, "secrets")
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("secrets dir: %v %v", st.Mode(), err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if st, _ := e.Info(); st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o, want 600", e.Name(), st.Mode().Perm())
		}
	}
	if c1.APIPasswordFile != stack.APIPasswordFile(s) {
		t.Errorf("password file %s, want %s", c1.APIPasswordFile, stack.APIPasswordFile(s))
	}
	before := snapshot(t, s.DataDir)
	c2, err := stack.EnsureCredentials(s)
	if err != nil {
		t.Fatal(err)
	}
	if *c2 != *c1 || strings.Join(snapshot(t, s.DataDir), "\n") != strings.Join(before, "\n") {
		t.Error("a second EnsureCredentials changed the credentials or a file")
	}
	r, err := stack.ReadCredentials(s)
	if err != nil || *r != *c1 {
		t.Errorf("ReadCredentials: %v %v", r, err)
	}
	// A password the user changed by hand gets a new hash.
	if err := os.WriteFile(c1.APIPasswordFile, []byte("changed-by-hand\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c3, err := stack.EnsureCredentials(s)
	if err != nil {
		t.Fatal(err)
	}
	if c3.APIPassword != "changed-by-hand" || bcrypt.CompareHashAndPassword([]byte(c3.APIPasswordHash), []byte("changed-by-hand")) != nil {
		t.Errorf("after a change: password %q, hash matches %v", c3.APIPassword, bcrypt.CompareHashAndPassword([]byte(c3.APIPasswordHash), []byte("changed-by-hand")))
	}
}
