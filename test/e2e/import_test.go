package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
)

// TestIntegrationImportDashboard: a published dashboard with ${DS_PROMETHEUS} is imported into
// the running stack (Grafana stand-in), bound to llmmon's datasource, and survives `up`; a
// grafana.com ID with no internet fails with one sentence.
func TestIntegrationImportDashboard(t *testing.T) {
	fixtures := testenv.Fixtures(t)
	e := newStack(t, "")
	if code, out := e.run(t, "up", "--timeout", "90s"); code != 0 {
		t.Fatalf("up: %d\n%s", code, out)
	}
	code, out := e.run(t, "import-dashboard", filepath.Join(fixtures, "dashboards", "vllm-grafana.json"))
	if code != 0 || !strings.Contains(out, "Pushed to the running Grafana") {
		t.Fatalf("import: %d\n%s", code, out)
	}
	files, _ := filepath.Glob(filepath.Join(e.dir, "data", "dashboards", "imported", "*.json"))
	if len(files) != 1 {
		t.Fatalf("imported files: %v", files)
	}
	saved := readFile(t, files[0])
	if strings.Contains(saved, "${DS_") || strings.Contains(saved, "__inputs") {
		t.Fatal("placeholders left in the saved dashboard")
	}
	var d struct {
		UID string `json:"uid"`
	}
	json.Unmarshal([]byte(saved), &d)
	pw := strings.TrimSpace(readFile(t, filepath.Join(e.dir, "data", "secrets", "grafana-admin-password")))
	get := func() int {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/dashboards/uid/%s", e.graf, d.UID), nil)
		req.SetBasicAuth("admin", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get(); c != 200 {
		t.Fatalf("grafana does not have the dashboard: HTTP %d", c)
	}
	// It survives a Grafana recreate: provisioning from the data directory.
	if code, out := e.run(t, "down"); code != 0 {
		t.Fatalf("down: %s", out)
	}
	if code, out := e.run(t, "up", "--timeout", "90s"); code != 0 {
		t.Fatalf("up: %s", out)
	}
	if c := get(); c != 200 {
		t.Fatalf("the dashboard is gone after down and up: HTTP %d", c)
	}
	// grafana.com with no internet.
	cmdEnv := os.Getenv("HTTPS_PROXY")
	_ = cmdEnv
	code, out = e.run(t, "import-dashboard", "12239")
	if code == 0 || !strings.Contains(out, "grafana.com") || !strings.Contains(out, "12239") {
		t.Fatalf("offline grafana.com: %d\n%s", code, out)
	}
}
