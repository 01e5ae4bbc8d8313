package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer collects the stand-in's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// fakeProm answers /api/v1/query like Prometheus and records what reached it.
type fakeProm struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []*http.Request
	body []string
}

func newFakeProm(t *testing.T) *fakeProm {
	f := &fakeProm{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.reqs = append(f.reqs, r.Clone(context.Background()))
		f.body = append(f.body, string(b))
		f.mu.Unlock()
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"2"]}]}}`)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeProm) last() (*http.Request, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1], f.body[len(f.body)-1]
}

type instance struct {
	base   string
	log    *syncBuffer
	stop   func() int
	prov   string
	dash   string
	data   string
	prom   *fakeProm
	envmap map[string]string
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// setup writes a provisioning tree: two Prometheus data sources (one reachable, one not) and
// one dashboard provider with two dashboards, one in a subdirectory.
func setup(t *testing.T) *instance {
	t.Helper()
	dir := t.TempDir()
	in := &instance{prov: filepath.Join(dir, "provisioning"), dash: filepath.Join(dir, "dashboards"), data: filepath.Join(dir, "data"), prom: newFakeProm(t)}
	writeFile(t, filepath.Join(dir, "secret"), "s3cret-pass\n")
	writeFile(t, filepath.Join(in.prov, "datasources", "llmmon.yaml"), `apiVersion: 1
datasources:
  - name: Prometheus (llmmon)
    uid: prom
    type: prometheus
    access: proxy
    url: ${PROM_URL}
    isDefault: true
    editable: false
    jsonData:
      timeInterval: 15s
      httpMethod: POST
  - name: Dead
    uid: dead
    type: prometheus
    url: http://127.0.0.1:1
`)
	writeFile(t, filepath.Join(in.prov, "dashboards", "llmmon.yml"), fmt.Sprintf(`apiVersion: 1
providers:
  - name: llmmon
    orgId: 1
    folder: llmmon
    folderUid: llmmon
    type: file
    disableDeletion: false
    updateIntervalSeconds: 10
    options:
      path: %s
  - name: editable
    folder: Imported
    folderUid: llmmon-imported
    type: file
    allowUiUpdates: true
    options:
      path: %s
`, in.dash, filepath.Join(dir, "imported")))
	writeFile(t, filepath.Join(in.dash, "overview.json"), `{"uid":"llm-overview","title":"LLM Overview","tags":["llm","overview"],"id":42,"panels":[{"type":"timeseries","datasource":{"type":"prometheus","uid":"prom"}}]}`)
	writeFile(t, filepath.Join(in.dash, "gpu", "gpu.json"), `{"uid":"llm-gpu","title":"GPU","tags":["gpu"],"panels":[]}`)
	writeFile(t, filepath.Join(in.dash, "README.md"), "not a dashboard")
	writeFile(t, filepath.Join(dir, "imported", "editable.json"), `{"uid":"editable","title":"Editable","panels":[]}`)
	in.envmap = map[string]string{
		"GF_SERVER_HTTP_ADDR":              "127.0.0.1",
		"GF_SERVER_HTTP_PORT":              "0",
		"GF_SECURITY_ADMIN_USER":           "boss",
		"GF_SECURITY_ADMIN_PASSWORD__FILE": filepath.Join(dir, "secret"),
		"GF_PATHS_PROVISIONING":            in.prov,
		"GF_PATHS_DATA":                    in.data,
		"GF_STANDIN_RESCAN_SECONDS":        "0.2",
		"PROM_URL":                         in.prom.URL,
	}
	return in
}

// start runs the stand-in in-process; it fails the test if it does not come up.
func (in *instance) start(t *testing.T) {
	t.Helper()
	in.log = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	addrc, done := make(chan string, 1), make(chan int, 1)
	go func() {
		done <- run(ctx, func(k string) string { return in.envmap[k] }, in.log, func(a string) { addrc <- a })
	}()
	select {
	case a := <-addrc:
		in.base = "http://" + a
	case code := <-done:
		cancel()
		t.Fatalf("stand-in exited with %d:\n%s", code, in.log)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("stand-in did not start:\n%s", in.log)
	}
	var once sync.Once
	code := 0
	in.stop = func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { in.stop() })
}

// call does an authenticated request and decodes the JSON answer into out (if not nil).
func (in *instance) call(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	return in.callAs(t, "boss", "s3cret-pass", method, path, body, out)
}

func (in *instance) callAs(t *testing.T, user, pass, method, path string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, in.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, data)
		}
	}
	return resp.StatusCode
}

type obj = map[string]any

func TestStandin(t *testing.T) {
	in := setup(t)
	in.start(t)

	t.Run("health and auth", func(t *testing.T) {
		var h obj
		if code := in.callAs(t, "", "", "GET", "/api/health", nil, &h); code != 200 || h["version"] != "grafana-standin" || h["database"] != "ok" || h["commit"] != "standin" {
			t.Errorf("health: %d %v", code, h)
		}
		var m obj
		if code := in.callAs(t, "", "", "GET", "/api/datasources", nil, &m); code != 401 {
			t.Errorf("no credentials: %d %v", code, m)
		}
		if code := in.callAs(t, "boss", "wrong", "GET", "/api/search", nil, &m); code != 401 || m["message"] != "invalid username or password" {
			t.Errorf("wrong password: %d %v", code, m)
		}
		if code := in.callAs(t, "admin", "admin", "GET", "/api/search", nil, &m); code != 401 {
			t.Errorf("default credentials accepted although configured otherwise: %d", code)
		}
		if code := in.call(t, "GET", "/api/nope", nil, &m); code != 404 || m["message"] != "Not found" {
			t.Errorf("unknown route: %d %v", code, m)
		}
		if code := in.call(t, "PUT", "/api/folders", nil, &m); code != 404 {
			t.Errorf("unknown method: %d", code)
		}
		if !strings.Contains(in.log.String(), `msg="HTTP Server Listen" address=127.0.0.1:`) || !strings.Contains(in.log.String(), "logger=standin t=") {
			t.Errorf("log lines:\n%s", in.log)
		}
	})

	t.Run("datasources", func(t *testing.T) {
		var list []obj
		if code := in.call(t, "GET", "/api/datasources", nil, &list); code != 200 || len(list) != 2 {
			t.Fatalf("list: %d %v", code, list)
		}
		var ds obj
		if code := in.call(t, "GET", "/api/datasources/uid/prom", nil, &ds); code != 200 || ds["name"] != "Prometheus (llmmon)" ||
			ds["url"] != in.prom.URL || ds["isDefault"] != true || ds["readOnly"] != true || ds["access"] != "proxy" {
			t.Errorf("by uid: %d %v", code, ds)
		}
		if jd, _ := ds["jsonData"].(obj); jd["timeInterval"] != "15s" {
			t.Errorf("jsonData %v", ds["jsonData"])
		}
		if code := in.call(t, "GET", "/api/datasources/name/"+url.PathEscape("Prometheus (llmmon)"), nil, &ds); code != 200 || ds["uid"] != "prom" {
			t.Errorf("by name: %d %v", code, ds)
		}
		var m obj
		if code := in.call(t, "GET", "/api/datasources/uid/nope", nil, &m); code != 404 || m["message"] != "Data source not found" {
			t.Errorf("missing: %d %v", code, m)
		}
		if code := in.call(t, "GET", "/api/datasources/uid/prom/health", nil, &m); code != 200 || m["status"] != "OK" || m["message"] != "Successfully queried the Prometheus API." {
			t.Errorf("health: %d %v", code, m)
		}
		if r, _ := in.prom.last(); r.URL.Path != "/api/v1/query" || r.URL.Query().Get("query") != "1+1" {
			t.Errorf("health query %s", r.URL)
		}
		if code := in.call(t, "GET", "/api/datasources/uid/dead/health", nil, &m); code != 400 || m["status"] != "ERROR" ||
			!strings.Contains(m["message"].(string), "There was an error returned querying the Prometheus API.") {
			t.Errorf("dead health: %d %v", code, m)
		}
	})

	t.Run("datasource proxy", func(t *testing.T) {
		var res obj
		if code := in.call(t, "GET", "/api/datasources/proxy/uid/prom/api/v1/query?query="+url.QueryEscape(`sum(rate(vllm:request_success_total[5m]))`), nil, &res); code != 200 || res["status"] != "success" {
			t.Fatalf("proxy GET: %d %v", code, res)
		}
		r, _ := in.prom.last()
		if r.URL.Query().Get("query") != `sum(rate(vllm:request_success_total[5m]))` || r.Header.Get("Authorization") != "" {
			t.Errorf("proxied request %s, Authorization %q", r.URL, r.Header.Get("Authorization"))
		}
		req, _ := http.NewRequest("POST", in.base+"/api/datasources/proxy/uid/prom/api/v1/query", strings.NewReader("query=up&time=1700000000"))
		req.SetBasicAuth("boss", "s3cret-pass")
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("proxy POST: %v %v", err, resp)
		}
		resp.Body.Close()
		if r, body := in.prom.last(); r.Method != "POST" || body != "query=up&time=1700000000" {
			t.Errorf("proxied POST %s %q", r.Method, body)
		}
		var m obj
		if code := in.call(t, "GET", "/api/datasources/proxy/uid/nope/api/v1/query", nil, &m); code != 404 {
			t.Errorf("proxy to missing data source: %d", code)
		}
		if code := in.call(t, "GET", "/api/datasources/proxy/uid/dead/api/v1/query?query=up", nil, &m); code != 502 {
			t.Errorf("proxy to dead data source: %d %v", code, m)
		}
	})

	t.Run("search and get", func(t *testing.T) {
		var hits []obj
		if code := in.call(t, "GET", "/api/search?type=dash-db", nil, &hits); code != 200 || len(hits) != 3 {
			t.Fatalf("search: %d %v", code, hits)
		}
		if hits[0]["title"] != "Editable" || hits[1]["title"] != "GPU" || hits[2]["uid"] != "llm-overview" || hits[2]["type"] != "dash-db" ||
			hits[2]["folderUid"] != "llmmon" || hits[2]["folderTitle"] != "llmmon" || hits[2]["url"] != "/d/llm-overview/llm-overview" {
			t.Errorf("hits %v", hits)
		}
		in.call(t, "GET", "/api/search?type=dash-db&query=overv", nil, &hits)
		if len(hits) != 1 || hits[0]["uid"] != "llm-overview" {
			t.Errorf("query: %v", hits)
		}
		in.call(t, "GET", "/api/search?tag=llm&tag=overview", nil, &hits)
		if len(hits) != 1 || hits[0]["uid"] != "llm-overview" {
			t.Errorf("tags: %v", hits)
		}
		in.call(t, "GET", "/api/search?tag=gpu&tag=llm", nil, &hits)
		if len(hits) != 0 {
			t.Errorf("two tags must both match: %v", hits)
		}
		in.call(t, "GET", "/api/search", nil, &hits)
		if len(hits) != 5 || hits[0]["type"] != "dash-folder" || hits[1]["type"] != "dash-folder" {
			t.Errorf("search without type should list the folders first: %v", hits)
		}
		var d struct {
			Dashboard obj `json:"dashboard"`
			Meta      obj `json:"meta"`
		}
		if code := in.call(t, "GET", "/api/dashboards/uid/llm-gpu", nil, &d); code != 200 {
			t.Fatalf("get: %d", code)
		}
		if d.Dashboard["title"] != "GPU" || d.Meta["provisioned"] != true || d.Meta["provisionedExternalId"] != "gpu/gpu.json" ||
			d.Meta["folderUid"] != "llmmon" || d.Meta["folderTitle"] != "llmmon" || d.Meta["slug"] != "gpu" || d.Meta["version"] != 1.0 {
			t.Errorf("dashboard %v meta %v", d.Dashboard, d.Meta)
		}
		in.call(t, "GET", "/api/dashboards/uid/llm-overview", nil, &d)
		if d.Dashboard["id"] == 42.0 || d.Dashboard["uid"] != "llm-overview" {
			t.Errorf("provisioned dashboard keeps the file's id: %v", d.Dashboard["id"])
		}
		var m obj
		if code := in.call(t, "GET", "/api/dashboards/uid/nope", nil, &m); code != 404 || m["message"] != "Dashboard not found" {
			t.Errorf("missing: %d %v", code, m)
		}
	})

	t.Run("folders", func(t *testing.T) {
		var list []obj
		if code := in.call(t, "GET", "/api/folders", nil, &list); code != 200 || len(list) != 2 || list[0]["uid"] != "llmmon-imported" || list[1]["uid"] != "llmmon" {
			t.Errorf("list: %d %v", code, list)
		}
		var f obj
		if code := in.call(t, "POST", "/api/folders", obj{"uid": "team", "title": "Team"}, &f); code != 200 || f["uid"] != "team" || f["title"] != "Team" || f["url"] != "/dashboards/f/team/team" {
			t.Errorf("create: %d %v", code, f)
		}
		if code := in.call(t, "POST", "/api/folders", obj{"uid": "team", "title": "Other"}, &f); code != 409 {
			t.Errorf("duplicate uid: %d %v", code, f)
		}
		if code := in.call(t, "POST", "/api/folders", obj{"title": ""}, &f); code != 400 {
			t.Errorf("empty title: %d", code)
		}
		if code := in.call(t, "GET", "/api/folders/team", nil, &f); code != 200 || f["title"] != "Team" {
			t.Errorf("get: %d %v", code, f)
		}
		if code := in.call(t, "GET", "/api/folders/nope", nil, &f); code != 404 {
			t.Errorf("missing: %d", code)
		}
	})

	t.Run("save dashboards", func(t *testing.T) {
		var res obj
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"uid": "mine", "title": "My Board", "panels": []any{}}, "folderUid": "team", "overwrite": false}, &res); code != 200 ||
			res["status"] != "success" || res["uid"] != "mine" || res["version"] != 1.0 || res["url"] != "/d/mine/my-board" || res["slug"] != "my-board" {
			t.Fatalf("create: %d %v", code, res)
		}
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"uid": "mine", "title": "My Board", "version": 1}, "folderUid": "team"}, &res); code != 200 || res["version"] != 2.0 {
			t.Errorf("update at the current version: %d %v", code, res)
		}
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"uid": "mine", "title": "My Board", "version": 1}, "folderUid": "team"}, &res); code != 412 || res["status"] != "version-mismatch" {
			t.Errorf("stale version: %d %v", code, res)
		}
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"uid": "mine", "title": "My Board"}, "folderUid": "team", "overwrite": true}, &res); code != 200 || res["version"] != 3.0 {
			t.Errorf("overwrite: %d %v", code, res)
		}
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"uid": "other", "title": "My Board"}, "folderUid": "team"}, &res); code != 412 || res["status"] != "name-exists" {
			t.Errorf("same title in folder: %d %v", code, res)
		}
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"uid": "notitle", "title": " "}}, &res); code != 400 {
			t.Errorf("no title: %d %v", code, res)
		}
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"uid": "llm-gpu", "title": "GPU"}, "folderUid": "llmmon", "overwrite": true}, &res); code != 400 || res["message"] != "Cannot save provisioned dashboard" {
			t.Errorf("provisioned: %d %v", code, res)
		}
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"uid": "editable", "title": "Editable", "version": 1}, "folderUid": "llmmon-imported"}, &res); code != 200 || res["version"] != 2.0 {
			t.Errorf("provisioned with allowUiUpdates: %d %v", code, res)
		}
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"title": "X"}, "folderUid": "nope"}, &res); code != 400 {
			t.Errorf("unknown folder: %d %v", code, res)
		}
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"uid": "bad uid!", "title": "X"}}, &res); code != 400 {
			t.Errorf("bad uid: %d %v", code, res)
		}
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"title": "Generated"}}, &res); code != 200 || res["uid"] == "" {
			t.Errorf("generated uid: %d %v", code, res)
		}
		// Delete.
		if code := in.call(t, "DELETE", "/api/dashboards/uid/mine", nil, &res); code != 200 || res["title"] != "My Board" {
			t.Errorf("delete: %d %v", code, res)
		}
		if code := in.call(t, "DELETE", "/api/dashboards/uid/mine", nil, &res); code != 404 {
			t.Errorf("delete again: %d", code)
		}
		if code := in.call(t, "DELETE", "/api/dashboards/uid/llm-gpu", nil, &res); code != 400 {
			t.Errorf("delete provisioned: %d %v", code, res)
		}
	})

	t.Run("import", func(t *testing.T) {
		dash := obj{
			"__inputs":   []any{obj{"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus"}},
			"__requires": []any{obj{"type": "datasource", "id": "prometheus"}},
			"uid":        "community", "title": "Community vLLM", "id": 7,
			"panels": []any{obj{"title": "TTFT", "datasource": obj{"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
				"targets": []any{obj{"expr": "vllm:num_requests_running", "datasource": "${DS_PROMETHEUS}"}}}},
			"templating": obj{"list": []any{obj{"name": "x", "query": "${UNDECLARED}"}}},
		}
		var res obj
		code := in.call(t, "POST", "/api/dashboards/import", obj{"dashboard": dash, "overwrite": true, "folderUid": "team",
			"inputs": []any{obj{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus", "value": "prom"}}}, &res)
		if code != 200 || res["imported"] != true || res["uid"] != "community" || res["importedUrl"] != "/d/community/community-vllm" || res["folderUid"] != "team" {
			t.Fatalf("import: %d %v", code, res)
		}
		var d struct{ Dashboard obj }
		in.call(t, "GET", "/api/dashboards/uid/community", nil, &d)
		b, _ := json.Marshal(d.Dashboard)
		if strings.Contains(string(b), "${DS_PROMETHEUS}") || !strings.Contains(string(b), `"uid":"prom"`) || !strings.Contains(string(b), `"datasource":"prom"`) {
			t.Errorf("inputs not resolved: %s", b)
		}
		if _, ok := d.Dashboard["__inputs"]; ok || !strings.Contains(string(b), "${UNDECLARED}") {
			t.Errorf("__inputs kept or undeclared variable replaced: %s", b)
		}
		code = in.call(t, "POST", "/api/dashboards/import", obj{"dashboard": dash, "overwrite": true, "inputs": []any{}}, &res)
		if code != 400 || !strings.Contains(res["message"].(string), "DS_PROMETHEUS") {
			t.Errorf("missing input: %d %v", code, res)
		}
	})

	t.Run("rescan", func(t *testing.T) {
		writeFile(t, filepath.Join(in.dash, "new.json"), `{"uid":"llm-new","title":"New Board","panels":[]}`)
		waitFor(t, "the new dashboard", func() bool { return in.call(t, "GET", "/api/dashboards/uid/llm-new", nil, nil) == 200 })
		writeFile(t, filepath.Join(in.dash, "new.json"), `{"uid":"llm-new","title":"New Board v2","panels":[]}`)
		var d struct{ Dashboard, Meta obj }
		waitFor(t, "the changed dashboard", func() bool {
			in.call(t, "GET", "/api/dashboards/uid/llm-new", nil, &d)
			return d.Dashboard["title"] == "New Board v2"
		})
		if d.Meta["version"] != 2.0 {
			t.Errorf("version after change %v", d.Meta["version"])
		}
		must(t, os.Remove(filepath.Join(in.dash, "new.json")))
		waitFor(t, "the removed dashboard to go", func() bool { return in.call(t, "GET", "/api/dashboards/uid/llm-new", nil, nil) == 404 })
		// A second file with a uid already in use: a warning, and the first one stays.
		writeFile(t, filepath.Join(in.dash, "zz-dup.json"), `{"uid":"llm-overview","title":"Impostor"}`)
		writeFile(t, filepath.Join(in.dash, "broken.json"), `{"uid": "broken", "title": `)
		waitFor(t, "the duplicate uid warning", func() bool {
			return strings.Contains(in.log.String(), `level=warn msg="the same UID is used more than once"`) &&
				strings.Contains(in.log.String(), `level=error msg="failed to load dashboard from "`)
		})
		in.call(t, "GET", "/api/dashboards/uid/llm-overview", nil, &d)
		if d.Dashboard["title"] != "LLM Overview" {
			t.Errorf("duplicate uid replaced the dashboard: %v", d.Dashboard["title"])
		}
		time.Sleep(600 * time.Millisecond) // a few more rescans: the warning is not repeated
		if n := strings.Count(in.log.String(), "the same UID is used more than once"); n != 1 {
			t.Errorf("duplicate warning logged %d times", n)
		}
	})

	t.Run("persistence", func(t *testing.T) {
		var res obj
		if code := in.call(t, "POST", "/api/dashboards/db", obj{"dashboard": obj{"uid": "kept", "title": "Kept"}}, &res); code != 200 {
			t.Fatalf("save: %d %v", code, res)
		}
		if code := in.stop(); code != 0 {
			t.Fatalf("exit code %d", code)
		}
		in.start(t)
		var d struct{ Dashboard, Meta obj }
		if code := in.call(t, "GET", "/api/dashboards/uid/kept", nil, &d); code != 200 || d.Dashboard["title"] != "Kept" || d.Meta["provisioned"] != false {
			t.Errorf("after restart: %d %v", code, d)
		}
		if code := in.call(t, "GET", "/api/dashboards/uid/llm-gpu", nil, &d); code != 200 || d.Meta["version"] != 1.0 {
			t.Errorf("unchanged provisioned dashboard after restart: %d %v", code, d.Meta)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDataDirNotWritable(t *testing.T) {
	in := setup(t)
	file := filepath.Join(t.TempDir(), "file")
	writeFile(t, file, "x")
	in.envmap["GF_PATHS_DATA"] = filepath.Join(file, "grafana") // below a regular file: unwritable even for root
	var log syncBuffer
	code := run(context.Background(), func(k string) string { return in.envmap[k] }, &log, nil)
	want := fmt.Sprintf("GF_PATHS_DATA='%s' is not writable.", in.envmap["GF_PATHS_DATA"])
	if code == 0 || !strings.Contains(log.String(), want) {
		t.Errorf("exit %d, log:\n%s\nwant %q", code, log.String(), want)
	}
}

func TestBadDatasourceProvisioningStopsStart(t *testing.T) {
	for name, content := range map[string]string{
		"invalid yaml": "apiVersion: 1\ndatasources:\n  - name: [unclosed\n",
		"two defaults": "apiVersion: 1\ndatasources:\n  - {name: a, type: prometheus, isDefault: true}\n  - {name: b, type: prometheus, isDefault: true}\n",
		"missing file": "apiVersion: 1\ndatasources:\n  - {name: a, type: prometheus, secureJsonData: {basicAuthPassword: '$__file{/nonexistent/pw}'}}\n",
	} {
		t.Run(name, func(t *testing.T) {
			in := setup(t)
			writeFile(t, filepath.Join(in.prov, "datasources", "bad.yaml"), content)
			var log syncBuffer
			code := run(context.Background(), func(k string) string { return in.envmap[k] }, &log, nil)
			if code == 0 || !strings.Contains(log.String(), "Datasource provisioning error") || !strings.Contains(log.String(), "level=error") {
				t.Errorf("exit %d, log:\n%s", code, log.String())
			}
		})
	}
}

// TestDatasourcePasswordFromFile: a provisioned data source's basic-auth password can come from
// a file ($__file{PATH}, Grafana's variable expansion); the proxy and the health check log in
// to the data source with it, and the API never shows it.
func TestDatasourcePasswordFromFile(t *testing.T) {
	in := setup(t)
	pwFile := filepath.Join(filepath.Dir(in.prov), "prom-password")
	writeFile(t, pwFile, "  pr0m-pass\n")
	writeFile(t, filepath.Join(in.prov, "datasources", "llmmon.yaml"), `apiVersion: 1
datasources:
  - name: Prometheus (llmmon)
    uid: prom
    type: prometheus
    url: ${PROM_URL}
    isDefault: true
    basicAuth: true
    basicAuthUser: llmmon
    secureJsonData:
      basicAuthPassword: $__file{`+pwFile+`}
`)
	in.start(t)
	var res obj
	if code := in.call(t, "GET", "/api/datasources/proxy/uid/prom/api/v1/query?query=up", nil, &res); code != 200 {
		t.Fatalf("proxy: %d %v", code, res)
	}
	r, _ := in.prom.last()
	if u, p, ok := r.BasicAuth(); !ok || u != "llmmon" || p != "pr0m-pass" {
		t.Errorf("the proxied request logs in as %q/%q (%v), want llmmon and the file's content, trimmed", u, p, ok)
	}
	var ds obj
	in.call(t, "GET", "/api/datasources/uid/prom", nil, &ds)
	if b, _ := json.Marshal(ds); strings.Contains(string(b), "pr0m-pass") || ds["basicAuth"] != true {
		t.Errorf("the data source as the API shows it: %s", b)
	}
}

func TestExpandValue(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "f"), "\tfrom-file \n")
	env := func(k string) string { return map[string]string{"X": "1"}[k] }
	for in, want := range map[string]string{
		"$__file{" + filepath.Join(dir, "f") + "}": "from-file",
		"a-$__env{X}-$X-${X}":                      "a-1-1-1",
		"$$__file{nope}":                           "$__file{nope}",
	} {
		if got, err := expandValue(in, env); err != nil || got != want {
			t.Errorf("expandValue(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := expandValue("$__file{"+filepath.Join(dir, "missing")+"}", env); err == nil {
		t.Error("a missing file was expanded without an error")
	}
}

func TestBadDashboardProvisioningIsLogged(t *testing.T) {
	in := setup(t)
	writeFile(t, filepath.Join(in.prov, "dashboards", "bad.yaml"), "apiVersion: 1\nproviders: {not: [a list\n")
	in.start(t)
	if !strings.Contains(in.log.String(), `level=error msg="failed to parse dashboard provisioning file"`) {
		t.Errorf("log:\n%s", in.log)
	}
	if code := in.call(t, "GET", "/api/dashboards/uid/llm-overview", nil, nil); code != 200 {
		t.Errorf("the good provider was not loaded: %d", code)
	}
}

func TestDatasourcesRemovedOnlyByDeleteDatasources(t *testing.T) {
	in := setup(t)
	in.start(t)
	in.stop()
	// Dropped from the file: Grafana keeps it in its database.
	writeFile(t, filepath.Join(in.prov, "datasources", "llmmon.yaml"), "apiVersion: 1\ndatasources:\n  - {name: Prometheus (llmmon), uid: prom, type: prometheus, url: $PROM_URL, isDefault: true}\n")
	delete(in.envmap, "GF_SECURITY_ADMIN_PASSWORD__FILE")
	delete(in.envmap, "GF_SECURITY_ADMIN_USER")
	in.envmap["GF_SECURITY_ADMIN_PASSWORD"] = "pw"
	in.start(t)
	var list []obj
	if code := in.callAs(t, "admin", "pw", "GET", "/api/datasources", nil, &list); code != 200 || len(list) != 2 {
		t.Errorf("after dropping Dead from the file: %d %v", code, list)
	}
	in.stop()
	writeFile(t, filepath.Join(in.prov, "datasources", "zz-delete.yaml"), "apiVersion: 1\ndeleteDatasources:\n  - name: Dead\n    orgId: 1\n")
	in.start(t)
	if code := in.callAs(t, "admin", "pw", "GET", "/api/datasources", nil, &list); code != 200 || len(list) != 1 || list[0]["uid"] != "prom" || list[0]["url"] != in.prom.URL {
		t.Errorf("after deleteDatasources: %d %v", code, list)
	}
}

func TestLoadConfig(t *testing.T) {
	c, err := loadConfig(func(string) string { return "" })
	if err != nil || c.port != "3000" || c.user != "admin" || c.password != "admin" || c.provDir != "/etc/grafana/provisioning" || c.dataDir != "/var/lib/grafana" || c.addr != "" {
		t.Errorf("defaults %+v %v", c, err)
	}
	for _, env := range []map[string]string{
		{"GF_SERVER_HTTP_PORT": "http"},
		{"GF_SECURITY_ADMIN_PASSWORD__FILE": "/nonexistent/file"},
		{"GF_STANDIN_RESCAN_SECONDS": "-1"},
	} {
		if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
			t.Errorf("%v accepted", env)
		}
	}
	if got := expandEnv("a $X ${Y} $$Z $", func(k string) string { return map[string]string{"X": "1", "Y": "2"}[k] }); got != "a 1 2 $Z $" {
		t.Errorf("expandEnv: %q", got)
	}
}
