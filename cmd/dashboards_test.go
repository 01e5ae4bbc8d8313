package cmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// import-dashboard, dashboards and remove-dashboard without a running stack: the file is kept,
// listed and removed; unknown names, built-in dashboards, a dashboard over the cap and a bad -o
// are exit 2.
func TestDashboardCommands(t *testing.T) {
	t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
	dir := t.TempDir()
	specFile := filepath.Join(dir, "llmmon.yaml")
	if err := os.WriteFile(specFile, []byte("name: cmdtest\ndata_dir: "+filepath.Join(dir, "data")+"\ngpu: off\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dash := filepath.Join(dir, "dash.json")
	if err := os.WriteFile(dash, []byte(`{"uid":"team-board","title":"Team Board","panels":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, "import-dashboard", dash, "-f", specFile); code != 0 || !strings.Contains(errOut, "The stack is not running") {
		t.Fatalf("import: %d %s", code, errOut)
	}
	code, out, errOut := runCLI(t, "dashboards", "-o", "json", "-f", specFile)
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0]["uid"] != "team-board" || list[0]["title"] != "Team Board" {
		t.Fatalf("dashboards: %d %s %s", code, out, errOut)
	}
	if code, out, _ := runCLI(t, "dashboards", "-f", specFile); code != 0 || !strings.HasPrefix(out, "UID ") || !strings.Contains(out, "team-board") {
		t.Errorf("dashboards table: %d %s", code, out)
	}
	for _, args := range [][]string{{"remove-dashboard", "nope"}, {"remove-dashboard", "llmmon-overview"}, {"remove-dashboard"}, {"dashboards", "-o", "yaml"}} {
		if code, _, errOut := runCLI(t, append(args, "-f", specFile)...); code != ExitBadInput || (args[0] == "remove-dashboard" && len(args) == 2 && !strings.Contains(errOut, "team-board")) {
			t.Errorf("%v: %d %s", args, code, errOut)
		}
	}
	huge := filepath.Join(dir, "huge.json")
	if f, err := os.Create(huge); err == nil {
		f.Truncate(20 << 20)
		f.Close()
	}
	if code, _, errOut := runCLI(t, "import-dashboard", huge, "-f", specFile); code != ExitBadInput || !strings.Contains(errOut, "is 20 MiB, over the 10 MiB cap") {
		t.Errorf("too large: %d %s", code, errOut)
	}
	if code, _, errOut := runCLI(t, "remove-dashboard", "Team Board", "-f", specFile); code != 0 || !strings.Contains(errOut, "Removed \"Team Board\"") {
		t.Errorf("remove: %d %s", code, errOut)
	}
	if code, out, _ := runCLI(t, "dashboards", "-o", "json", "-f", specFile); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("after remove: %d %q", code, out)
	}
}
