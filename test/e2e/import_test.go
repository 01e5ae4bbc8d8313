package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/internal/testenv"
)

// grafanaImage lets a run of these tests use a Grafana stand-in image built from the working
// tree (LLMMON_E2E_GRAFANA_IMAGE), instead of llmmon-test/grafana-standin:dev.
func (e *stackEnv) grafanaImage(t *testing.T) {
	t.Helper()
	img := os.Getenv("LLMMON_E2E_GRAFANA_IMAGE")
	if img == "" {
		return
	}
	if exec.Command("docker", "image", "inspect", img).Run() != nil {
		testenv.SkipOrFail(t, "LLMMON_E2E_GRAFANA_IMAGE="+img+" is not a local image")
	}
	writeFile(t, e.spec, strings.Replace(readFile(t, e.spec), "llmmon-test/grafana-standin:dev", img, 1))
}

// TestIntegrationImportDashboard: a published dashboard with ${DS_PROMETHEUS} is imported into
// the running stack (Grafana stand-in): bound to llmmon's datasource, provisioned from its file
// and served at once after Grafana's provisioning reload, with the same Grafana container after
// the next up; it survives a Grafana recreate; remove-dashboard takes it out of Grafana at once;
// unknown and built-in names, a dashboard over the size cap and a grafana.com ID with no
// internet are refused.
func TestIntegrationImportDashboard(t *testing.T) {
	fixtures := testenv.Fixtures(t)
	e := newStack(t, "")
	e.grafanaImage(t)
	if code, out := e.run(t, "up", "--timeout", "90s"); code != 0 {
		t.Fatalf("up: %d\n%s", code, out)
	}
	grafana := e.containers(t)["grafana"]
	code, out := e.run(t, "import-dashboard", filepath.Join(fixtures, "dashboards", "vllm-grafana.json"))
	if code != 0 || !strings.Contains(out, "Loaded into the running Grafana") {
		t.Fatalf("import: %d\n%s", code, out)
	}
	imported := filepath.Join(e.dir, "data", "dashboards", "imported")
	files, _ := filepath.Glob(filepath.Join(imported, "*.json"))
	if len(files) != 1 {
		t.Fatalf("imported files: %v", files)
	}
	saved := readFile(t, files[0])
	if strings.Contains(saved, "${DS_") || strings.Contains(saved, "__inputs") {
		t.Fatal("placeholders left in the saved dashboard")
	}
	var d struct {
		UID   string `json:"uid"`
		Title string `json:"title"`
	}
	json.Unmarshal([]byte(saved), &d)
	pw := strings.TrimSpace(readFile(t, filepath.Join(e.dir, "data", "secrets", "grafana-admin-password")))
	get := func() (int, map[string]any) {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/api/dashboards/uid/%s", e.graf, d.UID), nil)
		req.SetBasicAuth("admin", pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Meta map[string]any }
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Meta
	}
	// Served as soon as import-dashboard returns (the reload, not the 10 s rescan), from its file.
	if c, meta := get(); c != 200 || meta["provisioned"] != true || meta["folderUid"] != "llmmon-imported" {
		t.Fatalf("grafana does not serve the dashboard from its file: HTTP %d %v", c, meta)
	}
	// The next up keeps the Grafana container.
	if code, out := e.run(t, "up", "--timeout", "90s"); code != 0 {
		t.Fatalf("up after import: %s", out)
	}
	if now := e.containers(t)["grafana"]; now != grafana {
		t.Errorf("grafana was recreated by the up after the import: %s -> %s", grafana, now)
	}
	if code, out := e.run(t, "dashboards"); code != 0 || !strings.Contains(out, d.UID) || !strings.Contains(out, d.Title) || !strings.Contains(out, "KiB") {
		t.Errorf("dashboards: %d\n%s", code, out)
	}
	// It survives a Grafana recreate: provisioning from the data directory.
	if code, out := e.run(t, "down"); code != 0 {
		t.Fatalf("down: %s", out)
	}
	if code, out := e.run(t, "up", "--timeout", "90s"); code != 0 {
		t.Fatalf("up: %s", out)
	}
	if c, _ := get(); c != 200 {
		t.Fatalf("the dashboard is gone after down and up: HTTP %d", c)
	}

	// remove-dashboard: bad names are exit 2 with the list; the dashboard goes at once.
	if code, out := e.run(t, "remove-dashboard", "no-such-dashboard"); code != 2 || !strings.Contains(out, d.UID) || !strings.Contains(out, "the imported dashboards are") {
		t.Errorf("unknown name: %d\n%s", code, out)
	}
	if code, out := e.run(t, "remove-dashboard", "llmmon-overview"); code != 2 || !strings.Contains(out, "llmmon's own dashboards") {
		t.Errorf("built-in dashboard: %d\n%s", code, out)
	}
	if code, out := e.run(t, "remove-dashboard", d.Title); code != 0 || !strings.Contains(out, "Removed from the running Grafana") {
		t.Fatalf("remove-dashboard: %d\n%s", code, out)
	}
	if c, _ := get(); c != 404 {
		t.Errorf("grafana still serves the removed dashboard: HTTP %d", c)
	}
	if files, _ := filepath.Glob(filepath.Join(imported, "*.json")); len(files) != 0 {
		t.Errorf("left in the data directory: %v", files)
	}

	// Over the size cap: exit 2 with the size and the cap, nothing written.
	huge := filepath.Join(e.dir, "huge.json")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(11 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if code, out := e.run(t, "import-dashboard", huge); code != 2 || !strings.Contains(out, "is 11 MiB, over the 10 MiB cap") {
		t.Errorf("too large: %d\n%s", code, out)
	}
	if files, _ := filepath.Glob(filepath.Join(imported, "*.json")); len(files) != 0 {
		t.Errorf("a refused dashboard was written: %v", files)
	}

	// grafana.com with no internet.
	code, out = e.run(t, "import-dashboard", "12239")
	if code == 0 || !strings.Contains(out, "grafana.com") || !strings.Contains(out, "12239") {
		t.Fatalf("offline grafana.com: %d\n%s", code, out)
	}
}
