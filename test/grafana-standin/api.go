package main

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func msg(w http.ResponseWriter, code int, message string) {
	writeJSON(w, code, map[string]string{"message": message})
}

// statusWriter remembers the status code, for the request log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]string{"commit": "standin", "database": "ok", "version": standinVersion})
	})
	mux.HandleFunc("GET /api/datasources", s.listDatasources)
	mux.HandleFunc("GET /api/datasources/uid/{uid}", s.getDatasource)
	mux.HandleFunc("GET /api/datasources/name/{name}", s.getDatasource)
	mux.HandleFunc("GET /api/datasources/uid/{uid}/health", s.datasourceHealth)
	mux.HandleFunc("/api/datasources/proxy/uid/{uid}/{path...}", s.proxy)
	mux.HandleFunc("/api/datasources/proxy/uid/{uid}", s.proxy)
	mux.HandleFunc("GET /api/search", s.search)
	mux.HandleFunc("GET /api/dashboards/uid/{uid}", s.getDashboard)
	mux.HandleFunc("DELETE /api/dashboards/uid/{uid}", s.deleteDashboard)
	mux.HandleFunc("POST /api/dashboards/db", s.postDashboard)
	mux.HandleFunc("POST /api/dashboards/import", s.importDashboard)
	mux.HandleFunc("GET /api/folders", s.listFolders)
	mux.HandleFunc("POST /api/folders", s.createFolder)
	mux.HandleFunc("GET /api/folders/{uid}", s.getFolder)
	mux.HandleFunc("POST /api/admin/provisioning/dashboards/reload", s.reloadDashboards)
	mux.HandleFunc("POST /api/admin/provisioning/datasources/reload", s.reloadDatasources)
	mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) { msg(w, 404, "Not found") })
	mux.HandleFunc("GET /{$}", s.uiStub)
	mux.HandleFunc("GET /login", s.uiStub)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "grafana-standin has no UI; see /api", http.StatusNotFound)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: 200}
		start := time.Now()
		if strings.HasPrefix(r.URL.Path, "/api/") && r.URL.Path != "/api/health" && !s.authorized(sw, r) {
			s.logRequest(r, sw.code, start)
			return
		}
		mux.ServeHTTP(sw, r)
		if sw.code >= 400 {
			s.logRequest(r, sw.code, start)
		}
	})
}

func (s *server) logRequest(r *http.Request, code int, start time.Time) {
	s.log.info("Request Completed", "method", r.Method, "path", r.URL.Path, "status", code,
		"remote_addr", r.RemoteAddr, "time_ms", time.Since(start).Milliseconds())
}

func (s *server) uiStub(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = io.WriteString(w, "<!doctype html><title>grafana-standin</title><p>grafana-standin: a test stand-in for Grafana's HTTP API. It has no UI.</p>\n")
}

// authorized checks basic auth against the admin user, as Grafana's basic auth does, and the
// permissions of the request's role. The admin user is a Grafana server admin and may do
// everything. A request without credentials is anonymous: 401, unless anonymous access is on
// (GF_AUTH_ANONYMOUS_ENABLED), when it has the org role GF_AUTH_ANONYMOUS_ORG_ROLE (Viewer by
// default): a Viewer may read (GET, and queries through the data source proxy), an Editor or
// Admin may also write dashboards and folders, and none of them, not being a server admin, may
// use /api/admin (403).
func (s *server) authorized(w http.ResponseWriter, r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok && r.Header.Get("Authorization") == "" && s.cfg.anonymous {
		return s.permitted(w, r, s.cfg.anonymousRole)
	}
	if !ok {
		msg(w, 401, "Unauthorized")
		return false
	}
	if subtle.ConstantTimeCompare([]byte(user), []byte(s.cfg.user)) != 1 || subtle.ConstantTimeCompare([]byte(pass), []byte(s.cfg.password)) != 1 {
		msg(w, 401, "invalid username or password")
		return false
	}
	return true
}

// permitted applies an org role's permissions (the role is not a server admin).
func (s *server) permitted(w http.ResponseWriter, r *http.Request, role string) bool {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/admin/provisioning/"):
		writeJSON(w, 403, map[string]string{"title": "Access denied", "accessErrorId": "ACE0000000001",
			"message": "You'll need additional permissions to perform this action. Permissions needed: provisioning:reload"})
		return false
	case strings.HasPrefix(r.URL.Path, "/api/admin/"):
		msg(w, 403, "Permission denied")
		return false
	case r.Method == http.MethodGet || r.Method == http.MethodHead || strings.HasPrefix(r.URL.Path, "/api/datasources/proxy/"):
		return true
	case role == "Editor" || role == "Admin":
		return true
	}
	msg(w, 403, "Permission denied")
	return false
}

// reloadDashboards is POST /api/admin/provisioning/dashboards/reload: the dashboard providers
// and their files are read again before it answers.
func (s *server) reloadDashboards(w http.ResponseWriter, r *http.Request) {
	if err := s.provisionDashboards(true); err != nil {
		s.log.error("Failed to reload dashboards config", "error", err)
		writeJSON(w, 500, map[string]string{"message": "Internal Server Error", "error": err.Error()})
		return
	}
	msg(w, 200, "Dashboards config reloaded")
}

// reloadDatasources is POST /api/admin/provisioning/datasources/reload.
func (s *server) reloadDatasources(w http.ResponseWriter, r *http.Request) {
	if err := s.provisionDatasources(s.getenv); err != nil {
		s.log.error("Failed to reload datasources config", "error", err)
		writeJSON(w, 500, map[string]string{"message": "Internal Server Error", "error": err.Error()})
		return
	}
	msg(w, 200, "Datasources config reloaded")
}

// ---------------------------------------------------------------- data sources

var typeNames = map[string]string{"prometheus": "Prometheus", "alertmanager": "Alertmanager", "loki": "Loki", "tempo": "Tempo", "elasticsearch": "Elasticsearch"}

func dsJSON(d *datasource, full bool) map[string]any {
	tn := typeNames[d.Type]
	if tn == "" {
		tn = d.Type
	}
	out := map[string]any{"id": d.ID, "uid": d.UID, "orgId": d.OrgID, "name": d.Name, "type": d.Type, "typeName": tn,
		"typeLogoUrl": "public/app/plugins/datasource/" + d.Type + "/img/" + d.Type + "_logo.svg", "access": d.Access,
		"url": d.URL, "user": d.User, "database": d.Database, "basicAuth": d.BasicAuth, "isDefault": d.IsDefault,
		"jsonData": d.JSONData, "readOnly": d.ReadOnly}
	if full {
		delete(out, "typeName")
		secure := map[string]bool{}
		for k := range d.SecureJSONData {
			secure[k] = true
		}
		out["basicAuthUser"], out["withCredentials"], out["secureJsonFields"], out["version"] = d.BasicAuthUser, d.WithCredentials, secure, d.Version
	}
	return out
}

func (s *server) listDatasources(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, d := range s.store.Datasources {
		out = append(out, dsJSON(d, false))
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.ToLower(out[i]["name"].(string)) < strings.ToLower(out[j]["name"].(string))
	})
	writeJSON(w, 200, out)
}

// lookupDatasource finds the data source named by the {uid} or {name} path value.
func (s *server) lookupDatasource(r *http.Request) *datasource {
	s.mu.Lock()
	defer s.mu.Unlock()
	var d *datasource
	if name := r.PathValue("name"); name != "" {
		d = s.store.datasourceByName(name)
	} else {
		d = s.store.datasourceByUID(r.PathValue("uid"))
	}
	if d == nil {
		return nil
	}
	c := *d
	return &c
}

func (s *server) getDatasource(w http.ResponseWriter, r *http.Request) {
	d := s.lookupDatasource(r)
	if d == nil {
		msg(w, 404, "Data source not found")
		return
	}
	writeJSON(w, 200, dsJSON(d, true))
}

func (s *server) httpClient() *http.Client {
	if s.client != nil {
		return s.client
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// datasourceHealth runs Grafana's Prometheus health check: an instant query of 1+1.
func (s *server) datasourceHealth(w http.ResponseWriter, r *http.Request) {
	d := s.lookupDatasource(r)
	if d == nil {
		msg(w, 404, "Data source not found")
		return
	}
	if d.Type != "prometheus" {
		msg(w, 501, "Health check not implemented")
		return
	}
	const fail = "There was an error returned querying the Prometheus API."
	u := strings.TrimRight(d.URL, "/") + "/api/v1/query?query=1%2B1&time=" + strconv.FormatInt(time.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, u, nil)
	if err == nil {
		s.setDatasourceAuth(req, d)
		var resp *http.Response
		resp, err = s.httpClient().Do(req)
		if err == nil {
			defer resp.Body.Close()
			var body struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			}
			derr := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body)
			switch {
			case resp.StatusCode != 200:
				err = fmt.Errorf("bad response %d from Prometheus: %s", resp.StatusCode, body.Error)
			case derr != nil:
				err = fmt.Errorf("invalid response from Prometheus: %v", derr)
			case body.Status != "success":
				err = fmt.Errorf("query status %q: %s", body.Status, body.Error)
			}
		}
	}
	if err != nil {
		writeJSON(w, 400, map[string]string{"status": "ERROR", "message": err.Error() + " - " + fail})
		return
	}
	writeJSON(w, 200, map[string]string{"status": "OK", "message": "Successfully queried the Prometheus API."})
}

func (s *server) setDatasourceAuth(req *http.Request, d *datasource) {
	if d.BasicAuth {
		req.SetBasicAuth(d.BasicAuthUser, d.SecureJSONData["basicAuthPassword"])
	}
}

// proxy forwards a request to the data source URL, as Grafana's data source proxy does: the
// caller's credentials and cookies are not passed on; the data source's own basic auth is.
func (s *server) proxy(w http.ResponseWriter, r *http.Request) {
	d := s.lookupDatasource(r)
	if d == nil {
		msg(w, 404, "Data source not found")
		return
	}
	target, err := url.Parse(d.URL)
	if err != nil || target.Scheme == "" || target.Host == "" {
		msg(w, 400, "Invalid data source URL")
		return
	}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.URL.Path = strings.TrimRight(target.Path, "/") + "/" + strings.TrimLeft(pr.In.PathValue("path"), "/")
			pr.Out.URL.RawPath = ""
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Cookie")
			pr.Out.Host = target.Host
			pr.SetXForwarded()
			s.setDatasourceAuth(pr.Out, d)
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			s.log.error("Data proxy error", "uid", d.UID, "url", d.URL, "error", err)
			msg(w, 502, "Bad Gateway")
		},
	}
	rp.ServeHTTP(w, r)
}

// ---------------------------------------------------------------- search and dashboards

func tagsOf(d *dashboard) []string {
	out := []string{}
	if ts, ok := d.Data["tags"].([]any); ok {
		for _, t := range ts {
			if s, ok := t.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func (s *server) search(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	query := strings.ToLower(q.Get("query"))
	typ := q.Get("type")
	tags := q["tag"]
	split := func(key string) map[string]bool {
		m := map[string]bool{}
		for _, v := range q[key] {
			for _, p := range strings.Split(v, ",") {
				if p != "" {
					m[p] = true
				}
			}
		}
		return m
	}
	folderUIDs, dashUIDs := split("folderUIDs"), split("dashboardUIDs")
	limit := 1000
	if l, err := strconv.Atoi(q.Get("limit")); err == nil && l > 0 {
		limit = l
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	type hit struct {
		ID          int64    `json:"id"`
		UID         string   `json:"uid"`
		Title       string   `json:"title"`
		URI         string   `json:"uri"`
		URL         string   `json:"url"`
		Slug        string   `json:"slug"`
		Type        string   `json:"type"`
		Tags        []string `json:"tags"`
		IsStarred   bool     `json:"isStarred"`
		FolderID    int64    `json:"folderId,omitempty"`
		FolderUID   string   `json:"folderUid,omitempty"`
		FolderTitle string   `json:"folderTitle,omitempty"`
		FolderURL   string   `json:"folderUrl,omitempty"`
		SortMeta    int      `json:"sortMeta"`
	}
	hits := []hit{}
	if (typ == "" || typ == "dash-folder") && len(tags) == 0 && len(dashUIDs) == 0 {
		for _, f := range s.store.Folders {
			if (query == "" || strings.Contains(strings.ToLower(f.Title), query)) && (len(folderUIDs) == 0 || folderUIDs[f.UID]) {
				hits = append(hits, hit{ID: f.ID, UID: f.UID, Title: f.Title, URI: "db/" + slugify(f.Title), URL: folderURL(f.UID, f.Title), Type: "dash-folder", Tags: []string{}})
			}
		}
	}
	if typ == "" || typ == "dash-db" {
	next:
		for _, d := range s.store.Dashboards {
			if query != "" && !strings.Contains(strings.ToLower(d.Title), query) {
				continue
			}
			if len(dashUIDs) > 0 && !dashUIDs[d.UID] {
				continue
			}
			if len(folderUIDs) > 0 && !folderUIDs[d.FolderUID] && !(d.FolderUID == "" && folderUIDs["general"]) {
				continue
			}
			dt := tagsOf(d)
			for _, t := range tags {
				if !contains(dt, t) {
					continue next
				}
			}
			h := hit{ID: d.ID, UID: d.UID, Title: d.Title, URI: "db/" + slugify(d.Title), URL: dashboardURL(d.UID, d.Title), Type: "dash-db", Tags: dt}
			if f := s.store.Folders[d.FolderUID]; f != nil {
				h.FolderID, h.FolderUID, h.FolderTitle, h.FolderURL = f.ID, f.UID, f.Title, folderURL(f.UID, f.Title)
			}
			hits = append(hits, h)
		}
	}
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].Type != hits[j].Type {
			return hits[i].Type == "dash-folder"
		}
		return strings.ToLower(hits[i].Title) < strings.ToLower(hits[j].Title)
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	writeJSON(w, 200, hits)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func (s *server) folderInfo(uid string) (id int64, title, furl string) {
	if f := s.store.Folders[uid]; f != nil {
		return f.ID, f.Title, folderURL(f.UID, f.Title)
	}
	return 0, "General", ""
}

func (s *server) getDashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.store.Dashboards[r.PathValue("uid")]
	if d == nil {
		msg(w, 404, "Dashboard not found")
		return
	}
	fid, ftitle, furl := s.folderInfo(d.FolderUID)
	ext := ""
	if d.Provisioned != nil {
		ext = d.Provisioned.ExternalID
	}
	meta := map[string]any{"type": "db", "canSave": true, "canEdit": true, "canAdmin": true, "canStar": true,
		"canDelete": d.Provisioned == nil, "slug": slugify(d.Title), "url": dashboardURL(d.UID, d.Title),
		"expires": "0001-01-01T00:00:00Z", "created": d.Created, "updated": d.Updated, "createdBy": "admin",
		"updatedBy": "admin", "version": d.Version, "hasAcl": false, "isFolder": false, "folderId": fid,
		"folderUid": d.FolderUID, "folderTitle": ftitle, "folderUrl": furl, "provisioned": d.Provisioned != nil,
		"provisionedExternalId": ext}
	writeJSON(w, 200, map[string]any{"dashboard": d.Data, "meta": meta})
}

func (s *server) deleteDashboard(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.store.Dashboards[r.PathValue("uid")]
	if d == nil {
		msg(w, 404, "Dashboard not found")
		return
	}
	if d.Provisioned != nil {
		msg(w, 400, "provisioned dashboard cannot be deleted")
		return
	}
	delete(s.store.Dashboards, d.UID)
	if err := s.store.save(); err != nil {
		msg(w, 500, "Failed to delete dashboard")
		return
	}
	writeJSON(w, 200, map[string]any{"title": d.Title, "message": fmt.Sprintf("Dashboard %s deleted", d.Title), "uid": d.UID, "id": d.ID})
}

type apiError struct {
	code int
	body map[string]string
}

func errStatus(code int, status, message string) *apiError {
	b := map[string]string{"message": message}
	if status != "" {
		b["status"] = status
	}
	return &apiError{code, b}
}

func number(v any) (float64, bool) {
	n, ok := v.(float64)
	return n, ok
}

// saveDashboard implements the rules of Grafana's dashboard save (s.mu held):
// uid and id lookups, the version check unless overwrite, provisioned dashboards, and the
// unique title per folder (with overwrite, the dashboard of the same title is replaced).
func (s *server) saveDashboard(model map[string]any, folderUID string, overwrite bool) (*dashboard, *apiError) {
	st := s.store
	title, _ := model["title"].(string)
	title = strings.TrimSpace(title)
	if title == "" {
		return nil, errStatus(400, "empty-name", "Dashboard title cannot be empty")
	}
	if folderUID != "" && st.Folders[folderUID] == nil {
		return nil, errStatus(400, "", "folder not found")
	}
	uid, _ := model["uid"].(string)
	if err := validUID(uid); err != nil {
		return nil, errStatus(400, "", err.Error())
	}
	id, _ := number(model["id"])
	var existing *dashboard
	switch {
	case uid != "":
		existing = st.Dashboards[uid]
		if existing != nil && id != 0 && int64(id) != existing.ID {
			return nil, errStatus(400, "", "A dashboard with the same uid already exists")
		}
	case id != 0:
		if existing = st.dashboardByID(int64(id)); existing == nil {
			return nil, errStatus(404, "not-found", "Dashboard not found")
		}
		uid = existing.UID
	}
	if existing != nil {
		if existing.Provisioned != nil && !existing.Provisioned.AllowUIUpdates {
			return nil, errStatus(400, "", "Cannot save provisioned dashboard")
		}
		if v, _ := number(model["version"]); !overwrite && int(v) != existing.Version {
			return nil, errStatus(412, "version-mismatch", "The dashboard has been changed by someone else")
		}
	}
	for _, other := range st.Dashboards {
		if other == existing || other.FolderUID != folderUID || other.Title != title {
			continue
		}
		if !overwrite {
			return nil, errStatus(412, "name-exists", "A dashboard with the same name in the folder already exists")
		}
		if other.Provisioned != nil && !other.Provisioned.AllowUIUpdates {
			return nil, errStatus(400, "", "Cannot save provisioned dashboard")
		}
		if uid == "" {
			uid, existing = other.UID, other
		} else {
			delete(st.Dashboards, other.UID)
		}
	}
	if uid == "" {
		uid = newUID()
	}
	now := time.Now().UTC()
	d := &dashboard{UID: uid, Title: title, FolderUID: folderUID, Version: 1, Data: model, Created: now, Updated: now}
	if existing != nil {
		d.ID, d.Version, d.Created, d.Provisioned = existing.ID, existing.Version+1, existing.Created, existing.Provisioned
		if existing.UID != uid {
			delete(st.Dashboards, existing.UID)
		}
	} else {
		d.ID = st.nextID()
	}
	model["id"], model["uid"], model["version"] = d.ID, uid, d.Version
	st.Dashboards[uid] = d
	if err := st.save(); err != nil {
		return nil, errStatus(500, "", "Failed to save dashboard: "+err.Error())
	}
	return d, nil
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<20)).Decode(v); err != nil {
		msg(w, 400, "bad request data")
		return false
	}
	return true
}

func (s *server) postDashboard(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Dashboard map[string]any `json:"dashboard"`
		FolderUID string         `json:"folderUid"`
		Overwrite bool           `json:"overwrite"`
		Message   string         `json:"message"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Dashboard == nil {
		msg(w, 400, "bad request data")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d, aerr := s.saveDashboard(body.Dashboard, body.FolderUID, body.Overwrite)
	if aerr != nil {
		writeJSON(w, aerr.code, aerr.body)
		return
	}
	writeJSON(w, 200, map[string]any{"id": d.ID, "uid": d.UID, "url": dashboardURL(d.UID, d.Title), "status": "success",
		"version": d.Version, "slug": slugify(d.Title), "folderUid": d.FolderUID})
}

var templateVarRe = regexp.MustCompile(`\$\{.+?\}`)

// evalTemplate replaces ${NAME} in every string value, and drops __inputs, like Grafana's
// dashboard template evaluator.
func evalTemplate(v any, vars map[string]string) any {
	switch t := v.(type) {
	case string:
		return templateVarRe.ReplaceAllStringFunc(t, func(m string) string {
			if r, ok := vars[m]; ok {
				return r
			}
			return m
		})
	case map[string]any:
		out := map[string]any{}
		for k, x := range t {
			if k != "__inputs" {
				out[k] = evalTemplate(x, vars)
			}
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = evalTemplate(x, vars)
		}
		return out
	}
	return v
}

func (s *server) importDashboard(w http.ResponseWriter, r *http.Request) {
	type input struct {
		Name     string `json:"name"`
		Type     string `json:"type"`
		PluginID string `json:"pluginId"`
		Value    string `json:"value"`
	}
	var body struct {
		Dashboard map[string]any `json:"dashboard"`
		Overwrite bool           `json:"overwrite"`
		FolderUID string         `json:"folderUid"`
		Inputs    []input        `json:"inputs"`
		PluginID  string         `json:"pluginId"`
		Path      string         `json:"path"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Dashboard == nil {
		msg(w, 400, "Dashboard must be set")
		return
	}
	vars := map[string]string{}
	defs, _ := body.Dashboard["__inputs"].([]any)
	for _, d := range defs {
		def, _ := d.(map[string]any)
		name, _ := def["name"].(string)
		typ, _ := def["type"].(string)
		found := false
		for _, in := range body.Inputs {
			if in.Type == typ && (in.Name == name || in.Name == "*") {
				vars["${"+name+"}"], found = in.Value, true
				break
			}
		}
		if !found {
			msg(w, 400, fmt.Sprintf("Dashboard input variable: %s missing from import command", name))
			return
		}
	}
	model := evalTemplate(body.Dashboard, vars).(map[string]any)
	delete(model, "id")
	s.mu.Lock()
	defer s.mu.Unlock()
	d, aerr := s.saveDashboard(model, body.FolderUID, body.Overwrite)
	if aerr != nil {
		writeJSON(w, aerr.code, aerr.body)
		return
	}
	fid, _, _ := s.folderInfo(d.FolderUID)
	writeJSON(w, 200, map[string]any{"uid": d.UID, "pluginId": body.PluginID, "title": d.Title, "imported": true,
		"importedUri": "db/" + slugify(d.Title), "importedUrl": dashboardURL(d.UID, d.Title), "slug": slugify(d.Title),
		"dashboardId": d.ID, "folderId": fid, "folderUid": d.FolderUID, "importedRevision": 1, "revision": 1,
		"description": "", "path": body.Path, "removed": false})
}

// ---------------------------------------------------------------- folders

func folderJSON(f *folder) map[string]any {
	return map[string]any{"id": f.ID, "uid": f.UID, "title": f.Title, "url": folderURL(f.UID, f.Title), "hasAcl": false,
		"canSave": true, "canEdit": true, "canAdmin": true, "canDelete": true, "createdBy": "admin", "created": f.Created,
		"updatedBy": "admin", "updated": f.Updated, "version": f.Version}
}

func (s *server) listFolders(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []map[string]any{}
	for _, f := range s.store.Folders {
		out = append(out, map[string]any{"id": f.ID, "uid": f.UID, "title": f.Title})
	}
	sort.Slice(out, func(i, j int) bool {
		return strings.ToLower(out[i]["title"].(string)) < strings.ToLower(out[j]["title"].(string))
	})
	writeJSON(w, 200, out)
}

func (s *server) getFolder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.store.Folders[r.PathValue("uid")]
	if f == nil {
		msg(w, 404, "folder not found")
		return
	}
	writeJSON(w, 200, folderJSON(f))
}

func (s *server) createFolder(w http.ResponseWriter, r *http.Request) {
	var body struct {
		UID   string `json:"uid"`
		Title string `json:"title"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	body.Title = strings.TrimSpace(body.Title)
	if body.Title == "" {
		msg(w, 400, "folder title cannot be empty")
		return
	}
	if err := validUID(body.UID); err != nil {
		msg(w, 400, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if body.UID != "" && (s.store.Folders[body.UID] != nil || s.store.Dashboards[body.UID] != nil) {
		msg(w, 409, "a folder with the same uid already exists")
		return
	}
	if s.store.folderByTitle(body.Title) != nil {
		msg(w, 409, "a folder with the same name already exists")
		return
	}
	if body.UID == "" {
		body.UID = newUID()
	}
	now := time.Now().UTC()
	f := &folder{ID: s.store.nextID(), UID: body.UID, Title: body.Title, Version: 1, Created: now, Updated: now}
	s.store.Folders[f.UID] = f
	if err := s.store.save(); err != nil {
		msg(w, 500, "Failed to create folder")
		return
	}
	writeJSON(w, 200, folderJSON(f))
}
