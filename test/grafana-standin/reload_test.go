package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// noPolling makes the providers rescan only on a reload (within the test's time).
func noPolling(in *instance) { in.envmap["GF_STANDIN_RESCAN_SECONDS"] = "3600" }

func TestReloadNeedsAServerAdmin(t *testing.T) {
	for _, path := range []string{"/api/admin/provisioning/dashboards/reload", "/api/admin/provisioning/datasources/reload"} {
		t.Run(path, func(t *testing.T) {
			in := setup(t)
			in.envmap["GF_AUTH_ANONYMOUS_ENABLED"] = "true"
			in.envmap["GF_AUTH_ANONYMOUS_ORG_ROLE"] = "Editor"
			in.start(t)
			var res obj
			res = nil
			if code := in.callAs(t, "boss", "wrong", "POST", path, nil, &res); code != 401 || res["message"] != "invalid username or password" {
				t.Errorf("wrong password: %d %v", code, res)
			}
			// Anonymous with an org role (here Editor, who may write dashboards) is no server admin.
			res = nil
			if code := in.callAs(t, "", "", "POST", path, nil, &res); code != 403 || !strings.Contains(res["message"].(string), "provisioning:reload") {
				t.Errorf("anonymous editor: %d %v", code, res)
			}
			res = nil
			if code := in.callAs(t, "", "", "POST", "/api/dashboards/db", obj{"dashboard": obj{"title": "By an editor"}}, &res); code != 200 {
				t.Errorf("anonymous editor saving a dashboard: %d %v", code, res)
			}
			want := "Dashboards config reloaded"
			if strings.Contains(path, "datasources") {
				want = "Datasources config reloaded"
			}
			res = nil
			if code := in.call(t, "POST", path, nil, &res); code != 200 || len(res) != 1 || res["message"] != want {
				t.Errorf("admin: %d %v", code, res)
			}
			res = nil
			if code := in.call(t, "GET", path, nil, &res); code != 404 {
				t.Errorf("GET: %d %v", code, res)
			}
		})
	}
	t.Run("without anonymous access", func(t *testing.T) {
		in := setup(t)
		in.start(t)
		var res obj
		res = nil
		if code := in.callAs(t, "", "", "POST", "/api/admin/provisioning/dashboards/reload", nil, &res); code != 401 || res["message"] != "Unauthorized" {
			t.Errorf("no credentials: %d %v", code, res)
		}
	})
	t.Run("anonymous viewer", func(t *testing.T) {
		in := setup(t)
		in.envmap["GF_AUTH_ANONYMOUS_ENABLED"] = "true"
		in.start(t)
		var res obj
		res = nil
		if code := in.callAs(t, "", "", "POST", "/api/admin/provisioning/dashboards/reload", nil, &res); code != 403 {
			t.Errorf("reload: %d %v", code, res)
		}
		res = nil
		if code := in.callAs(t, "", "", "POST", "/api/dashboards/db", obj{"dashboard": obj{"title": "By a viewer"}}, &res); code != 403 || res["message"] != "Permission denied" {
			t.Errorf("save: %d %v", code, res)
		}
		res = nil
		if code := in.callAs(t, "", "", "GET", "/api/dashboards/uid/llm-overview", nil, &res); code != 200 {
			t.Errorf("read: %d %v", code, res)
		}
	})
}

// A dashboards reload reads the providers and their files again before it answers: a new file
// is there, a removed one is gone (disableDeletion: false) or kept unprovisioned (true), a
// provider dropped from the YAML takes its dashboards with it, and a YAML that does not parse
// changes nothing.
func TestDashboardsReloadRereadsTheFiles(t *testing.T) {
	in := setup(t)
	noPolling(in)
	in.start(t)
	imported := filepath.Join(filepath.Dir(in.dash), "imported")
	reload := func() {
		t.Helper()
		var res obj
		res = nil
		if code := in.call(t, "POST", "/api/admin/provisioning/dashboards/reload", nil, &res); code != 200 {
			t.Fatalf("reload: %d %v", code, res)
		}
	}
	get := func(uid string) (int, obj) {
		t.Helper()
		var d struct{ Dashboard, Meta obj }
		code := in.call(t, "GET", "/api/dashboards/uid/"+uid, nil, &d)
		return code, d.Meta
	}

	writeFile(t, filepath.Join(imported, "new.json"), `{"uid":"imp-new","title":"Imported New","panels":[]}`)
	if code, _ := get("imp-new"); code != 404 {
		t.Fatalf("the file was read before the reload: %d", code)
	}
	reload()
	code, meta := get("imp-new")
	if code != 200 || meta["provisioned"] != true || meta["folderUid"] != "llmmon-imported" || meta["provisionedExternalId"] != "new.json" {
		t.Fatalf("after reload: %d %v", code, meta)
	}
	// allowUiUpdates: true, so the provisioned dashboard can be saved through the API too.
	var res obj
	res = nil
	if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"uid": "imp-new", "title": "Imported New"}, "overwrite": true, "folderUid": "llmmon-imported"}, &res); code != 200 {
		t.Errorf("save a dashboard of an allowUiUpdates provider: %d %v", code, res)
	}
	must(t, os.Remove(filepath.Join(imported, "new.json")))
	reload()
	if code, _ := get("imp-new"); code != 404 {
		t.Errorf("a removed file's dashboard after reload: %d", code)
	}

	// disableDeletion: true keeps the dashboard, no longer provisioned.
	prov := filepath.Join(in.prov, "dashboards", "llmmon.yml")
	y, err := os.ReadFile(prov)
	must(t, err)
	writeFile(t, prov, strings.Replace(string(y), "disableDeletion: false", "disableDeletion: true", 1))
	reload()
	must(t, os.Remove(filepath.Join(in.dash, "gpu", "gpu.json")))
	reload()
	if code, meta := get("llm-gpu"); code != 200 || meta["provisioned"] != false {
		t.Errorf("disableDeletion: %d %v", code, meta)
	}

	// A YAML that does not parse: 500, and nothing changes.
	writeFile(t, filepath.Join(in.prov, "dashboards", "zz-bad.yaml"), "providers: [unclosed\n")
	writeFile(t, filepath.Join(imported, "other.json"), `{"uid":"imp-other","title":"Other","panels":[]}`)
	res = nil
	if code := in.call(t, "POST", "/api/admin/provisioning/dashboards/reload", nil, &res); code != 500 {
		t.Errorf("bad provider file: %d %v", code, res)
	}
	if code, _ := get("imp-other"); code != 404 {
		t.Errorf("a refused reload loaded files: %d", code)
	}
	must(t, os.Remove(filepath.Join(in.prov, "dashboards", "zz-bad.yaml")))

	// The provider "editable" is dropped: its dashboards go, whatever disableDeletion said.
	y, err = os.ReadFile(prov)
	must(t, err)
	writeFile(t, prov, string(y[:bytes.Index(y, []byte("  - name: editable"))]))
	reload()
	if code, _ := get("editable"); code != 404 {
		t.Errorf("orphaned dashboard after reload: %d", code)
	}
	if code, _ := get("llm-overview"); code != 200 {
		t.Errorf("the remaining provider's dashboard: %d", code)
	}
	if !strings.Contains(in.log.String(), "deleting orphaned provisioned dashboard") {
		t.Errorf("log:\n%s", in.log)
	}
}

func TestDatasourcesReload(t *testing.T) {
	in := setup(t)
	in.start(t)
	file := filepath.Join(in.prov, "datasources", "llmmon.yaml")
	y, err := os.ReadFile(file)
	must(t, err)
	writeFile(t, file, strings.Replace(string(y), "url: ${PROM_URL}", "url: http://127.0.0.1:9999", 1))
	var res obj
	res = nil
	if code := in.call(t, "POST", "/api/admin/provisioning/datasources/reload", nil, &res); code != 200 {
		t.Fatalf("reload: %d %v", code, res)
	}
	var ds obj
	res = nil
	if code := in.call(t, "GET", "/api/datasources/uid/prom", nil, &ds); code != 200 || ds["url"] != "http://127.0.0.1:9999" {
		t.Errorf("after reload: %d %v", code, ds)
	}
	writeFile(t, file, "apiVersion: 1\ndatasources:\n  - name: [unclosed\n")
	res = nil
	if code := in.call(t, "POST", "/api/admin/provisioning/datasources/reload", nil, &res); code != 500 || res["message"] != "Internal Server Error" {
		t.Errorf("bad file: %d %v", code, res)
	}
	res = nil
	if code := in.call(t, "GET", "/api/health", nil, nil); code != 200 {
		t.Errorf("a refused reload stopped the stand-in: %d", code)
	}
}

func TestRm(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.json"), filepath.Join(dir, "b.json")
	writeFile(t, a, "{}")
	writeFile(t, b, "{}")
	var stderr bytes.Buffer
	if code := rm([]string{"-f", "--", a, filepath.Join(dir, "absent")}, &stderr); code != 0 {
		t.Errorf("rm -f: %d %s", code, stderr.String())
	}
	if _, err := os.Stat(a); !os.IsNotExist(err) {
		t.Errorf("a.json is still there: %v", err)
	}
	if code := rm([]string{filepath.Join(dir, "absent")}, &stderr); code != 1 || !strings.Contains(stderr.String(), "no such file") {
		t.Errorf("rm of a missing file without -f: %d %q", code, stderr.String())
	}
	if code := rm([]string{"-r", b}, &stderr); code != 1 {
		t.Errorf("unknown option: %d", code)
	}
	if _, err := os.Stat(b); err != nil {
		t.Errorf("b.json removed by a refused rm: %v", err)
	}
}
