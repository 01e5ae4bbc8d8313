package main

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// provisioning records which provider and file a dashboard came from.
type provisioning struct {
	Provider       string `json:"provider"`
	ExternalID     string `json:"externalId"` // the file, relative to the provider's path
	Checksum       string `json:"checksum"`
	AllowUIUpdates bool   `json:"allowUiUpdates"`
}

type dashboard struct {
	ID          int64          `json:"id"`
	UID         string         `json:"uid"`
	Title       string         `json:"title"`
	FolderUID   string         `json:"folderUid"`
	Version     int            `json:"version"`
	Data        map[string]any `json:"data"`
	Created     time.Time      `json:"created"`
	Updated     time.Time      `json:"updated"`
	Provisioned *provisioning  `json:"provisioned,omitempty"`
}

type folder struct {
	ID      int64     `json:"id"`
	UID     string    `json:"uid"`
	Title   string    `json:"title"`
	Version int       `json:"version"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

type datasource struct {
	ID              int64             `json:"id"`
	UID             string            `json:"uid"`
	OrgID           int64             `json:"orgId"`
	Name            string            `json:"name"`
	Type            string            `json:"type"`
	Access          string            `json:"access"`
	URL             string            `json:"url"`
	User            string            `json:"user"`
	Database        string            `json:"database"`
	BasicAuth       bool              `json:"basicAuth"`
	BasicAuthUser   string            `json:"basicAuthUser"`
	WithCredentials bool              `json:"withCredentials"`
	IsDefault       bool              `json:"isDefault"`
	JSONData        map[string]any    `json:"jsonData"`
	SecureJSONData  map[string]string `json:"secureJsonData"`
	Version         int               `json:"version"`
	ReadOnly        bool              `json:"readOnly"`
}

// store is the stand-in's database: one JSON file, rewritten after every change.
type store struct {
	path        string
	NextID      int64                 `json:"nextId"`
	NextDSID    int64                 `json:"nextDatasourceId"`
	Dashboards  map[string]*dashboard `json:"dashboards"`
	Folders     map[string]*folder    `json:"folders"`
	Datasources []*datasource         `json:"datasources"`
}

type notWritableError struct{ err error }

func (e notWritableError) Error() string { return e.err.Error() }

// openStore creates or opens the database file; it fails with notWritableError when the data
// directory cannot be written.
func openStore(path string) (*store, error) {
	st := &store{path: path, NextID: 1, NextDSID: 1, Dashboards: map[string]*dashboard{}, Folders: map[string]*folder{}}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, notWritableError{err}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, notWritableError{err}
	}
	f.Close()
	probe, err := os.CreateTemp(filepath.Dir(path), ".grafana.db.*")
	if err != nil {
		return nil, notWritableError{err}
	}
	probe.Close()
	os.Remove(probe.Name())
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		if err := json.Unmarshal(data, st); err != nil {
			return nil, fmt.Errorf("%s is not a grafana-standin database: %w", path, err)
		}
		if st.Dashboards == nil {
			st.Dashboards = map[string]*dashboard{}
		}
		if st.Folders == nil {
			st.Folders = map[string]*folder{}
		}
	}
	return st, st.save()
}

func (st *store) save() error {
	data, err := json.MarshalIndent(st, "", " ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(st.path), ".grafana.db.*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), st.path)
}

func (st *store) nextID() int64 {
	id := st.NextID
	st.NextID++
	return id
}

func (st *store) dashboardByID(id int64) *dashboard {
	for _, d := range st.Dashboards {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func (st *store) folderByTitle(title string) *folder {
	for _, f := range st.Folders {
		if f.Title == title {
			return f
		}
	}
	return nil
}

func (st *store) datasourceByName(name string) *datasource {
	for _, d := range st.Datasources {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (st *store) datasourceByUID(uid string) *datasource {
	for _, d := range st.Datasources {
		if d.UID == uid {
			return d
		}
	}
	return nil
}

var uidRe = regexp.MustCompile(`^[a-zA-Z0-9\-_]*$`)

// validUID applies Grafana's rules for dashboard and folder uids.
func validUID(uid string) error {
	if !uidRe.MatchString(uid) {
		return fmt.Errorf("uid contains illegal characters")
	}
	if len(uid) > 40 {
		return fmt.Errorf("uid too long, max 40 characters")
	}
	return nil
}

// newUID makes a short random uid, like Grafana's util.GenerateShortUID.
func newUID() string {
	const chars = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 14)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = chars[int(b[i])%len(chars)]
	}
	return string(b)
}

// slugify turns a title into Grafana's URL slug.
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func dashboardURL(uid, title string) string { return "/d/" + uid + "/" + slugify(title) }
func folderURL(uid, title string) string    { return "/dashboards/f/" + uid + "/" + slugify(title) }
