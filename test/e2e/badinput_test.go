package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runEnv is stackEnv.run with the environment given.
func (e *stackEnv) runEnv(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(bin, append(args, "-f", e.spec)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestIntegrationImportDashboardWithoutSecrets: against the running stack (Grafana stand-in),
// import-dashboard from a shell that lacks the notification secrets' variables pushes the
// dashboard (it never uses them, while up still demands them); a malformed dashboard exits 2 at
// FILE:line:col and reaches neither the data directory nor Grafana.
func TestIntegrationImportDashboardWithoutSecrets(t *testing.T) {
	const hookVar = "LLMMON_E2E_BADINPUT_HOOK_URL"
	e := newStack(t, "notify:\n  receivers:\n    - name: hook\n      webhook: {url: \"${"+hookVar+"}\"}\n")
	var without []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, hookVar+"=") {
			without = append(without, kv)
		}
	}
	with := append(append([]string(nil), without...), hookVar+"=http://127.0.0.1:9/hook")
	if code, out := e.runEnv(t, with, "up", "--timeout", "90s"); code != 0 {
		t.Fatalf("up: %d\n%s", code, out)
	}
	if code, out := e.runEnv(t, without, "up", "--timeout", "90s"); code != 2 || !strings.Contains(out, hookVar+" is not set") {
		t.Fatalf("up without the webhook's variable: exit %d, want 2 naming it\n%s", code, out)
	}

	bad := filepath.Join(e.dir, "bad.json")
	os.WriteFile(bad, []byte("{\"title\": \"Bad\", \"uid\": \"e2e-bad\",\n \"panels\": [{\"targets\": {\"expr\": \"up\"}}]}"), 0o644)
	code, out := e.runEnv(t, without, "import-dashboard", bad)
	if code != 2 || !strings.Contains(out, bad+":2:25: panels[0].targets: targets must be a list") || !strings.Contains(out, "hint: ") {
		t.Fatalf("malformed dashboard: exit %d, want 2 at %s:2:25\n%s", code, bad, out)
	}

	good := filepath.Join(e.dir, "good.json")
	os.WriteFile(good, []byte(`{"title": "Good", "uid": "e2e-good", "panels": [{"id": 1, "type": "timeseries", "title": "up", "datasource": "${DS_PROMETHEUS}", "targets": [{"refId": "A", "expr": "up"}]}]}`), 0o644)
	code, out = e.runEnv(t, without, "import-dashboard", good)
	if code != 0 || !strings.Contains(out, "Loaded into the running Grafana") {
		t.Fatalf("import without the webhook's variable: exit %d\n%s", code, out)
	}

	pw := strings.TrimSpace(readFile(t, filepath.Join(e.dir, "data", "secrets", "grafana-admin-password")))
	status := func(uid string) int {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/dashboards/uid/%s", e.graf, uid), nil)
		req.SetBasicAuth("admin", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := status("e2e-good"); c != 200 {
		t.Errorf("Grafana does not have the imported dashboard: HTTP %d", c)
	}
	if c := status("e2e-bad"); c != 404 {
		t.Errorf("Grafana answers HTTP %d for the malformed dashboard, want 404", c)
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "data", "dashboards", "imported", "*.json"))
	if len(files) != 1 || filepath.Base(files[0]) != "e2e-good.json" {
		t.Errorf("imported files: %v, want only e2e-good.json", files)
	}
}
