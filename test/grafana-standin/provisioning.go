package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

type server struct {
	cfg       config
	log       *logger
	mu        sync.Mutex
	store     *store
	providers []*provider
	warned    map[string]string // log lines already written, so a rescan does not repeat them
	client    *http.Client
	getenv    func(string) string

	// Dashboard provisioning: provMu serializes (re)provisioning; polling runs one rescan loop
	// per provider under a context that a reload cancels.
	provMu      sync.Mutex
	baseCtx     context.Context
	stopPolling context.CancelFunc
	polling     sync.WaitGroup
}

// ---------------------------------------------------------------- environment interpolation

var envRe = regexp.MustCompile(`\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expandEnv interpolates $VAR and ${VAR} like Grafana's provisioning; $$ is a literal $.
func expandEnv(s string, getenv func(string) string) string {
	return envRe.ReplaceAllStringFunc(s, func(m string) string {
		if m == "$$" {
			return "$"
		}
		return getenv(strings.Trim(m, "${}"))
	})
}

var providerRe = regexp.MustCompile(`\$__(\w+)\{([^}]*)\}`)

// expandValue interpolates a provisioning value as Grafana does: between the "$$" (a literal $),
// first the variable-expansion providers $__env{NAME} and $__file{PATH} (the file's content,
// whitespace trimmed at both ends; a file that cannot be read is an error), then $VAR and
// ${VAR}.
func expandValue(s string, getenv func(string) string) (string, error) {
	parts := strings.Split(s, "$$")
	for i, part := range parts {
		var err error
		part = providerRe.ReplaceAllStringFunc(part, func(m string) string {
			sub := providerRe.FindStringSubmatch(m)
			switch sub[1] {
			case "env":
				return getenv(sub[2])
			case "file":
				b, ferr := os.ReadFile(sub[2])
				if ferr != nil && err == nil {
					err = fmt.Errorf("failed to read file %q for variable expansion: %w", sub[2], ferr)
				}
				return strings.TrimSpace(string(b))
			}
			if err == nil {
				err = fmt.Errorf("unknown variable expansion provider %q", sub[1])
			}
			return m
		})
		if err != nil {
			return "", err
		}
		parts[i] = expandEnv(part, getenv)
	}
	return strings.Join(parts, "$"), nil
}

// decodeYAML decodes a provisioning file, interpolating variables in its values.
func decodeYAML(data []byte, out any, getenv func(string) string) error {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return err
	}
	var walkErr error
	var walk func(n *yaml.Node, isKey bool)
	walk = func(n *yaml.Node, isKey bool) {
		if n.Kind == yaml.ScalarNode && !isKey && strings.Contains(n.Value, "$") {
			v, err := expandValue(n.Value, getenv)
			if err != nil && walkErr == nil {
				walkErr = err
			}
			n.Value = v
			if n.Style == 0 {
				n.Tag = "" // let the expanded value resolve (a bool, a number…)
			}
		}
		for i, c := range n.Content {
			walk(c, n.Kind == yaml.MappingNode && i%2 == 0)
		}
	}
	walk(&root, false)
	if walkErr != nil {
		return walkErr
	}
	if root.Kind == 0 {
		return nil // empty file
	}
	return root.Decode(out)
}

func yamlFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && (strings.HasSuffix(e.Name(), ".yaml") || strings.HasSuffix(e.Name(), ".yml")) {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(out)
	return out, nil
}

// ---------------------------------------------------------------- data sources

type dsFile struct {
	APIVersion        int64      `yaml:"apiVersion"`
	Datasources       []dsConfig `yaml:"datasources"`
	DeleteDatasources []struct {
		Name  string `yaml:"name"`
		OrgID int64  `yaml:"orgId"`
	} `yaml:"deleteDatasources"`
	Prune bool `yaml:"prune"`
}

type dsConfig struct {
	OrgID           int64             `yaml:"orgId"`
	Version         int               `yaml:"version"`
	Name            string            `yaml:"name"`
	Type            string            `yaml:"type"`
	UID             string            `yaml:"uid"`
	Access          string            `yaml:"access"`
	URL             string            `yaml:"url"`
	User            string            `yaml:"user"`
	Database        string            `yaml:"database"`
	BasicAuth       bool              `yaml:"basicAuth"`
	BasicAuthUser   string            `yaml:"basicAuthUser"`
	WithCredentials bool              `yaml:"withCredentials"`
	IsDefault       bool              `yaml:"isDefault"`
	JSONData        map[string]any    `yaml:"jsonData"`
	SecureJSONData  map[string]string `yaml:"secureJsonData"`
	Editable        bool              `yaml:"editable"`
}

// provisionDatasources applies datasources/*.yaml. Any error stops the start, as in Grafana.
func (s *server) provisionDatasources(getenv func(string) string) error {
	dir := filepath.Join(s.cfg.provDir, "datasources")
	files, err := yamlFiles(dir)
	if err != nil {
		s.log.error("can't read datasource provisioning files from directory", "path", dir, "error", err)
		return nil
	}
	var all []dsFile
	defaults := map[int64]int{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		var df dsFile
		if err := decodeYAML(data, &df, getenv); err != nil {
			s.log.error("failed to parse datasource provisioning file", "file", f, "error", err)
			return fmt.Errorf("failed to load %s: %w", f, err)
		}
		for i := range df.Datasources {
			ds := &df.Datasources[i]
			if ds.OrgID == 0 {
				ds.OrgID = 1
			}
			if ds.Name == "" {
				return fmt.Errorf("%s: datasource #%d has no name", f, i+1)
			}
			if ds.IsDefault {
				defaults[ds.OrgID]++
				if defaults[ds.OrgID] > 1 {
					return errors.New("datasource.yaml config is invalid. Only one datasource per organization can be marked as default")
				}
			}
		}
		all = append(all, df)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.store
	provisioned := map[string]bool{}
	prune := false
	for _, df := range all {
		prune = prune || df.Prune
		for _, d := range df.DeleteDatasources {
			if ex := st.datasourceByName(d.Name); ex != nil {
				st.Datasources = slicesDelete(st.Datasources, ex)
				s.log.info("deleted datasource based on configuration", "name", d.Name)
			}
		}
	}
	for _, df := range all {
		for _, c := range df.Datasources {
			if c.Access == "" {
				c.Access = "proxy"
			}
			ds := st.datasourceByName(c.Name)
			if ds == nil {
				ds = &datasource{ID: st.NextDSID, Version: 0}
				st.NextDSID++
				st.Datasources = append(st.Datasources, ds)
				s.log.info("inserting datasource from configuration", "name", c.Name, "uid", c.UID)
			} else {
				s.log.info("updating datasource from configuration", "name", c.Name, "uid", c.UID)
			}
			uid := c.UID
			if uid == "" {
				uid = ds.UID
			}
			if uid == "" {
				uid = newUID()
			}
			if other := st.datasourceByUID(uid); other != nil && other != ds {
				return fmt.Errorf("data source with uid %q already exists (%q)", uid, other.Name)
			}
			*ds = datasource{ID: ds.ID, UID: uid, OrgID: c.OrgID, Name: c.Name, Type: c.Type, Access: c.Access, URL: c.URL,
				User: c.User, Database: c.Database, BasicAuth: c.BasicAuth, BasicAuthUser: c.BasicAuthUser,
				WithCredentials: c.WithCredentials, IsDefault: c.IsDefault, JSONData: c.JSONData,
				SecureJSONData: c.SecureJSONData, Version: ds.Version + 1, ReadOnly: !c.Editable}
			if ds.JSONData == nil {
				ds.JSONData = map[string]any{}
			}
			provisioned[c.Name] = true
		}
	}
	if prune {
		for _, ds := range append([]*datasource(nil), st.Datasources...) {
			if ds.ReadOnly && !provisioned[ds.Name] {
				st.Datasources = slicesDelete(st.Datasources, ds)
				s.log.info("deleted datasource based on configuration", "name", ds.Name, "reason", "prune")
			}
		}
	}
	return st.save()
}

func slicesDelete[T comparable](s []T, v T) []T {
	out := s[:0]
	for _, x := range s {
		if x != v {
			out = append(out, x)
		}
	}
	return out
}

// ---------------------------------------------------------------- dashboard providers

type providerFile struct {
	APIVersion int64            `yaml:"apiVersion"`
	Providers  []providerConfig `yaml:"providers"`
}

type providerConfig struct {
	Name                  string         `yaml:"name"`
	OrgID                 int64          `yaml:"orgId"`
	Folder                string         `yaml:"folder"`
	FolderUID             string         `yaml:"folderUid"`
	Type                  string         `yaml:"type"`
	DisableDeletion       bool           `yaml:"disableDeletion"`
	UpdateIntervalSeconds int64          `yaml:"updateIntervalSeconds"`
	AllowUIUpdates        bool           `yaml:"allowUiUpdates"`
	Options               map[string]any `yaml:"options"`
}

type provider struct {
	name, folder, folderUID  string
	disableDeletion, allowUI bool
	foldersFromFiles         bool
	interval                 time.Duration
	path                     string
}

// readProviders reads dashboards/*.yaml. Errors are logged and a bad file or provider is
// skipped; the first error of a file that cannot be read or parsed is returned with the good
// providers (at start the stand-in goes on with them; a reload refuses, as Grafana does).
func (s *server) readProviders(getenv func(string) string) ([]*provider, error) {
	dir := filepath.Join(s.cfg.provDir, "dashboards")
	files, err := yamlFiles(dir)
	if err != nil {
		s.log.error("can't read dashboard provisioning files from directory", "path", dir, "error", err)
		return nil, nil
	}
	var out []*provider
	var first error
	names := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			s.log.error("failed to read dashboard provisioning file", "file", f, "error", err)
			first = cmp.Or(first, err)
			continue
		}
		var pf providerFile
		if err := decodeYAML(data, &pf, getenv); err != nil {
			s.log.error("failed to parse dashboard provisioning file", "file", f, "error", err)
			first = cmp.Or(first, fmt.Errorf("failed to parse %s: %w", f, err))
			continue
		}
		for _, c := range pf.Providers {
			p := &provider{name: c.Name, folder: c.Folder, folderUID: c.FolderUID, disableDeletion: c.DisableDeletion,
				allowUI: c.AllowUIUpdates, interval: time.Duration(c.UpdateIntervalSeconds) * time.Second}
			p.path, _ = c.Options["path"].(string) // Grafana reads options with type assertions too
			p.foldersFromFiles, _ = c.Options["foldersFromFilesStructure"].(bool)
			if p.interval <= 0 {
				p.interval = 10 * time.Second
			}
			if s.cfg.rescan > 0 {
				p.interval = s.cfg.rescan
			}
			switch {
			case c.Name == "":
				s.log.error("dashboard provider has no name", "file", f)
			case names[c.Name]:
				s.log.error("dashboard provider name is not unique", "file", f, "name", c.Name)
			case c.Type != "" && c.Type != "file":
				s.log.error("unknown dashboard provider type", "file", f, "name", c.Name, "type", c.Type)
			case p.path == "":
				s.log.error("failed to load dashboards, path param must be set", "file", f, "name", c.Name)
			case p.foldersFromFiles && (c.Folder != "" || c.FolderUID != ""):
				s.log.error("'folder' and 'folderUID' should be empty using 'foldersFromFilesStructure' option", "file", f, "name", c.Name)
			default:
				names[c.Name] = true
				out = append(out, p)
			}
		}
	}
	return out, first
}

// provisionDashboards is what Grafana does at start and on a dashboards reload: read the
// providers again, stop polling, delete the dashboards of providers that are gone, bring every
// provider's dashboards in line with its files (new, changed and removed files, once, before it
// returns) and poll again with the new providers. With refuse, a provisioning file that cannot
// be read or parsed changes nothing and is returned.
func (s *server) provisionDashboards(refuse bool) error {
	s.provMu.Lock()
	defer s.provMu.Unlock()
	providers, err := s.readProviders(s.getenv)
	if err != nil && refuse {
		return err
	}
	if s.stopPolling != nil {
		s.stopPolling()
		s.polling.Wait()
	}
	s.mu.Lock()
	s.providers = providers
	s.deleteOrphans(providers)
	s.mu.Unlock()
	for _, p := range providers {
		s.scanProvider(p)
	}
	ctx, cancel := context.WithCancel(s.baseCtx)
	s.stopPolling = cancel
	for _, p := range providers {
		s.polling.Add(1)
		go func() {
			defer s.polling.Done()
			s.rescanLoop(ctx, p)
		}()
	}
	return nil
}

// stopDashboardPolling stops the rescan loops (at shutdown).
func (s *server) stopDashboardPolling() {
	s.provMu.Lock()
	defer s.provMu.Unlock()
	if s.stopPolling != nil {
		s.stopPolling()
		s.polling.Wait()
		s.stopPolling = nil
	}
}

// deleteOrphans deletes the dashboards provisioned by a provider that no longer exists, as
// Grafana's DeleteOrphanedProvisionedDashboards does whatever the provider's disableDeletion
// said (s.mu held).
func (s *server) deleteOrphans(providers []*provider) {
	names := map[string]bool{}
	for _, p := range providers {
		names[p.name] = true
	}
	changed := false
	for uid, d := range s.store.Dashboards {
		if d.Provisioned != nil && !names[d.Provisioned.Provider] {
			s.log.info("deleting orphaned provisioned dashboard", "provider", d.Provisioned.Provider, "file", d.Provisioned.ExternalID, "uid", uid)
			delete(s.store.Dashboards, uid)
			changed = true
		}
	}
	if changed {
		if err := s.store.save(); err != nil {
			s.log.error("failed to save the database", "error", err)
		}
	}
}

func (s *server) rescanLoop(ctx context.Context, p *provider) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.scanProvider(p)
		}
	}
}

// logOnce logs a line unless the same key was logged with the same detail before.
func (s *server) logOnce(key, detail string, logf func(string, ...any), msg string, kv ...any) {
	if prev, ok := s.warned[key]; ok && prev == detail {
		return
	}
	s.warned[key] = detail
	logf(msg, kv...)
}

func (s *server) readDashboardFiles(p *provider) (map[string][]byte, error) {
	root, err := filepath.EvalSymlinks(p.path)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{}
	err = filepath.WalkDir(root, func(fp string, d fs.DirEntry, err error) error {
		if err != nil {
			if fp == root {
				return err
			}
			s.log.error("failed to read path", "path", fp, "error", err)
			return nil
		}
		if d.IsDir() {
			if fp != root && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		data, err := os.ReadFile(fp)
		if err != nil {
			s.log.error("failed to load dashboard from ", "file", fp, "error", err)
			return nil
		}
		rel, _ := filepath.Rel(root, fp)
		files[filepath.ToSlash(rel)] = data
		return nil
	})
	return files, err
}

// scanProvider brings the provider's dashboards in line with its files.
func (s *server) scanProvider(p *provider) {
	files, err := s.readDashboardFiles(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.logOnce("dir|"+p.name, err.Error(), s.log.error, "Cannot read directory", "provider", p.name, "path", p.path, "error", err)
		return
	}
	delete(s.warned, "dir|"+p.name)
	changed := false
	rels := make([]string, 0, len(files))
	for rel := range files {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		if s.provisionFile(p, rel, files[rel]) {
			changed = true
		}
	}
	for _, d := range s.store.Dashboards {
		if d.Provisioned == nil || d.Provisioned.Provider != p.name {
			continue
		}
		if _, ok := files[d.Provisioned.ExternalID]; ok {
			continue
		}
		changed = true
		if p.disableDeletion {
			s.log.info("dashboard file is gone; disableDeletion keeps the dashboard, no longer provisioned", "provider", p.name, "file", d.Provisioned.ExternalID, "uid", d.UID)
			d.Provisioned = nil
		} else {
			s.log.info("deleting provisioned dashboard, missing path", "provider", p.name, "file", d.Provisioned.ExternalID, "uid", d.UID)
			delete(s.store.Dashboards, d.UID)
		}
	}
	if changed {
		s.checkTitles()
		if err := s.store.save(); err != nil {
			s.log.error("failed to save the database", "error", err)
		}
	}
}

func checksum(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// provisionFile saves one dashboard file if it is new or changed. It reports a change.
func (s *server) provisionFile(p *provider, rel string, data []byte) bool {
	st := s.store
	sum := checksum(data)
	var rec *dashboard
	for _, d := range st.Dashboards {
		if d.Provisioned != nil && d.Provisioned.Provider == p.name && d.Provisioned.ExternalID == rel {
			rec = d
		}
	}
	if rec != nil && rec.Provisioned.Checksum == sum {
		return false
	}
	file := filepath.Join(p.path, filepath.FromSlash(rel))
	var model map[string]any
	if err := json.Unmarshal(data, &model); err != nil || model == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		s.logOnce("bad|"+p.name+"|"+rel, sum, s.log.error, "failed to load dashboard from ", "provider", p.name, "file", file, "error", err)
		return false
	}
	title, _ := model["title"].(string)
	if strings.TrimSpace(title) == "" {
		s.logOnce("bad|"+p.name+"|"+rel, sum, s.log.error, "failed to save dashboard", "provider", p.name, "file", file, "error", "Dashboard title cannot be empty")
		return false
	}
	uid, _ := model["uid"].(string)
	if uid == "" && rec != nil {
		uid = rec.UID
	}
	if uid == "" {
		uid = newUID()
	}
	if err := validUID(uid); err != nil {
		s.logOnce("bad|"+p.name+"|"+rel, sum, s.log.error, "failed to save dashboard", "provider", p.name, "file", file, "error", err)
		return false
	}
	delete(s.warned, "bad|"+p.name+"|"+rel)
	existing := st.Dashboards[uid]
	if existing != nil && existing.Provisioned != nil && (existing.Provisioned.Provider != p.name || existing.Provisioned.ExternalID != rel) && s.fileExists(existing.Provisioned) {
		s.logOnce("dup|"+p.name+"|"+rel, sum, s.log.warn, "the same UID is used more than once", "orgId", 1, "uid", uid, "times", 2,
			"providers", "["+existing.Provisioned.Provider+" "+p.name+"]", "files", "["+existing.Provisioned.ExternalID+" "+rel+"]")
		return false
	}
	delete(s.warned, "dup|"+p.name+"|"+rel)
	if rec != nil && rec.UID != uid {
		delete(st.Dashboards, rec.UID) // the file's uid changed
	}
	folderUID := s.providerFolder(p, rel)
	now := time.Now().UTC()
	d := &dashboard{UID: uid, Title: title, FolderUID: folderUID, Version: 1, Data: model, Created: now, Updated: now,
		Provisioned: &provisioning{Provider: p.name, ExternalID: rel, Checksum: sum, AllowUIUpdates: p.allowUI}}
	if existing != nil {
		d.ID, d.Version, d.Created = existing.ID, existing.Version+1, existing.Created
	} else {
		d.ID = st.nextID()
	}
	model["id"], model["uid"], model["version"] = d.ID, uid, d.Version
	st.Dashboards[uid] = d
	s.log.info("saved provisioned dashboard", "provider", p.name, "file", rel, "uid", uid, "version", d.Version)
	return true
}

// fileExists reports whether a provisioned dashboard's file is still on disk.
func (s *server) fileExists(rec *provisioning) bool {
	for _, p := range s.providers {
		if p.name == rec.Provider {
			root, err := filepath.EvalSymlinks(p.path)
			if err != nil {
				return false
			}
			_, err = os.Stat(filepath.Join(root, filepath.FromSlash(rec.ExternalID)))
			return err == nil
		}
	}
	return false
}

// providerFolder finds or creates the folder a provider's file goes to ("" is General).
func (s *server) providerFolder(p *provider, rel string) string {
	st := s.store
	title, uid := p.folder, p.folderUID
	if p.foldersFromFiles {
		dir := path.Dir(rel)
		if dir == "." {
			return ""
		}
		title, uid = path.Base(dir), ""
	}
	if title == "" {
		return ""
	}
	if uid != "" {
		if f := st.Folders[uid]; f != nil {
			return uid
		}
	} else if f := st.folderByTitle(title); f != nil {
		return f.UID
	}
	if uid == "" {
		uid = newUID()
	}
	now := time.Now().UTC()
	st.Folders[uid] = &folder{ID: st.nextID(), UID: uid, Title: title, Version: 1, Created: now, Updated: now}
	s.log.info("created folder for provisioned dashboards", "provider", p.name, "folder", title, "uid", uid)
	return uid
}

// checkTitles warns about dashboards that share a title in one folder, as Grafana does.
func (s *server) checkTitles() {
	seen := map[string][]string{}
	for _, d := range s.store.Dashboards {
		if d.Provisioned != nil {
			k := d.FolderUID + "\x00" + d.Title
			seen[k] = append(seen[k], d.UID)
		}
	}
	for k, uids := range seen {
		if len(uids) > 1 {
			sort.Strings(uids)
			title := k[strings.IndexByte(k, 0)+1:]
			s.logOnce("title|"+k, strings.Join(uids, ","), s.log.warn, "the same title is used more than once", "title", title, "times", len(uids), "uids", strings.Join(uids, ","))
		}
	}
}
