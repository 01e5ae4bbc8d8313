// Package testenv helps tests find the real upstream tools and the shared fixtures, and decides
// when a test may skip: never when CI=true, where everything it needs is installed.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// CI reports whether the tests run in CI, where nothing may be skipped for lack of a tool.
func CI() bool { return os.Getenv("CI") == "true" }

// SkipOrFail skips the test with msg, or fails it in CI.
func SkipOrFail(t testing.TB, msg string) {
	t.Helper()
	if CI() {
		t.Fatalf("CI=true but %s", msg)
	}
	t.Skip(msg)
}

// Root returns the repository root.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// BinDir is where test/images/build.sh caches the upstream binaries.
func BinDir() string {
	if d := os.Getenv("LLMMON_TEST_BIN"); d != "" {
		return d
	}
	if c := os.Getenv("LLMMON_TEST_CACHE"); c != "" {
		return filepath.Join(c, "bin")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "llmmon-test", "bin")
}

// Tool returns the path of an upstream tool (promtool, amtool) at the version
// test/images/build.sh pins, from BinDir; never one found on PATH, whose version nobody chose.
// Under -short (the hermetic unit layer) the test is skipped.
func Tool(t testing.TB, name string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the real " + name + ": not in -short")
	}
	p := filepath.Join(BinDir(), name)
	if _, err := os.Stat(p); err == nil {
		return p
	}
	SkipOrFail(t, name+" (at its pinned version) is not built; run `make test-images` (test/images/build.sh) first")
	return ""
}

// Fixtures returns the shared fixtures folder (../shared/fixtures beside the clone).
func Fixtures(t testing.TB) string {
	t.Helper()
	for _, d := range []string{os.Getenv("LLMMON_FIXTURES"), filepath.Join(Root(), "..", "shared", "fixtures")} {
		if d == "" {
			continue
		}
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
	}
	SkipOrFail(t, "the shared fixtures folder (../shared/fixtures) is absent")
	return ""
}
