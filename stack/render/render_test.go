package render_test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/rules"
	"github.com/llmmon/llmmon/stack/check"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
	"github.com/llmmon/llmmon/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var assets = render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS}

func env(k string) (string, bool) {
	// A fixed environment, so that golden files do not depend on the caller's.
	return map[string]string{}[k], false
}

func load(t *testing.T, name string) *spec.Spec {
	t.Helper()
	s, _, err := spec.Load(filepath.Join("testdata", "specs", name+".yaml"), env)
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	s.DataDir = "/data" // not part of the bundle, but keep the spec host-independent
	return s
}

// fakeCredentials are fixed, so that golden files are stable; the hash is bcrypt's of the
// password (promtool check web-config reads it).
var fakeCredentials = render.Credentials{
	APIPassword:     "golden-api-password",
	APIPasswordHash: "$2a$10$/5lV5e5QjzzeO.rq44uNUO64YdwY1O1mdxuWMBCIofypLo/.XwWrO",
	RelayToken:      "golden-relay-token",
}

// rendered caches each case's bundle: the tests only read it, so every case is rendered once.
var rendered sync.Map // case name -> *render.Bundle

func renderCase(t *testing.T, name string) *render.Bundle {
	t.Helper()
	if b, ok := rendered.Load(name); ok {
		return b.(*render.Bundle)
	}
	b := renderFresh(t, name)
	rendered.Store(name, b)
	return b
}

// renderFresh renders a case anew (for the determinism test).
func renderFresh(t *testing.T, name string) *render.Bundle {
	t.Helper()
	s := load(t, name)
	b, err := render.Render(s, assets, render.Options{GPU: s.GPU == "on", Credentials: fakeCredentials})
	if err != nil {
		t.Fatalf("render %s: %v", name, err)
	}
	return b
}

var cases = []string{"minimal", "example", "zh-overrides", "options", "weekly", "agent", "central"}

// dashboardDir is where the bundle holds llmmon's dashboards; every case renders the same ones,
// so their golden files are kept once, in testdata/golden/dashboards.
const dashboardDir = "grafana/dashboards/" + render.DashboardFolder + "/"

// ownDashboards are the cases whose dashboards differ from the others' (a central stack's have
// a Host selector, and the fleet overview): their golden files are their own.
var ownDashboards = map[string]bool{"central": true}

// TestGolden compares every rendered file with testdata/golden/CASE (the dashboards with
// testdata/golden/dashboards); go test -update rewrites them.
func TestGolden(t *testing.T) {
	shared := filepath.Join("testdata", "golden", "dashboards")
	if *update {
		os.RemoveAll(shared)
		for p, f := range renderCase(t, cases[0]).Under(dashboardDir) {
			if err := os.MkdirAll(shared, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(shared, p), f.Data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			b := renderCase(t, name)
			dir := filepath.Join("testdata", "golden", name)
			if *update {
				os.RemoveAll(dir)
				if err := b.Write(dir); err != nil {
					t.Fatal(err)
				}
				if !ownDashboards[name] {
					os.RemoveAll(filepath.Join(dir, filepath.FromSlash(dashboardDir)))
				}
			}
			seen := map[string]bool{}
			for _, p := range b.Paths() {
				seen[p] = true
				golden := filepath.Join(dir, filepath.FromSlash(p))
				if rest, ok := strings.CutPrefix(p, dashboardDir); ok && !ownDashboards[name] {
					golden = filepath.Join(shared, rest)
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Errorf("%s: no golden file (run go test ./stack/render -update): %v", p, err)
					continue
				}
				if !bytes.Equal(want, b.Files[p].Data) {
					t.Errorf("%s differs from its golden file; run `go test ./stack/render -update` and review the diff", p)
				}
			}
			filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dir, path)
					if !seen[filepath.ToSlash(rel)] {
						t.Errorf("golden file %s is no longer rendered", rel)
					}
				}
				return nil
			})
		})
	}
}

// TestDeterministic renders the same spec again and again and compares bytes.
func TestDeterministic(t *testing.T) {
	for _, name := range cases {
		first := renderCase(t, name)
		for i := 0; i < 10; i++ {
			b := renderFresh(t, name)
			if b.Hash("") != first.Hash("") {
				t.Fatalf("%s: render %d differs from the first", name, i)
			}
		}
	}
}

// TestSecretsAreSeparateAndPrivate: secret values never appear in alertmanager.yml or any
// world-readable file, and the secret files are 0600.
func TestSecretsAreSeparateAndPrivate(t *testing.T) {
	b := renderCase(t, "zh-overrides")
	for _, secret := range []string{"pw", "s3cr3t"} {
		for p, f := range b.Files {
			if f.Mode&0o077 != 0 && bytes.Contains(f.Data, []byte(": "+secret)) {
				t.Errorf("secret %q appears in world-readable %s", secret, p)
			}
		}
	}
	secrets := b.Under("alertmanager/secrets/")
	for n := range b.Under("alertmanager/secrets/llmmon/") {
		delete(secrets, "llmmon/"+n) // llmmon's own (the relay token), tested in TestCredentials
	}
	if len(secrets) != 2 {
		t.Fatalf("want 2 secret files, got %d", len(secrets))
	}
	for n, f := range secrets {
		if f.Mode != 0o600 {
			t.Errorf("%s has mode %o, want 600", n, f.Mode)
		}
	}
	dir := t.TempDir()
	if err := b.Write(dir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, "alertmanager", "secrets", "mail-smtp-password"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("written secret: %v %v", st.Mode(), err)
	}
}

// TestBundlesPassUpstreamParsers runs llmmon's own check (Prometheus' parser, Alertmanager's
// config package) on every case.
func TestBundlesPassUpstreamParsers(t *testing.T) {
	for _, name := range cases {
		if err := check.Bundle(renderCase(t, name)); err != nil {
			t.Errorf("%s:\n%v", name, err)
		}
	}
}

// TestPromtoolAndAmtool runs the real promtool and amtool on every golden bundle.
func TestPromtoolAndAmtool(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	amtool := testenv.Tool(t, "amtool")
	for _, name := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := renderCase(t, name).Write(dir); err != nil {
				t.Fatal(err)
			}
			// prometheus.yml refers to its files by their path in the container; point them here.
			cfg, _ := os.ReadFile(filepath.Join(dir, "prometheus", "prometheus.yml"))
			cfg = bytes.ReplaceAll(cfg, []byte(render.PromConfigDir+"/"), []byte(filepath.Join(dir, "prometheus")+"/"))
			os.WriteFile(filepath.Join(dir, "prometheus", "prometheus.yml"), cfg, 0o644)
			run(t, promtool, "check", "config", filepath.Join(dir, "prometheus", "prometheus.yml"))
			ruleFiles, _ := filepath.Glob(filepath.Join(dir, "prometheus", "rules", "*.yml"))
			run(t, promtool, append([]string{"check", "rules"}, ruleFiles...)...)
			am, _ := os.ReadFile(filepath.Join(dir, "alertmanager", "alertmanager.yml"))
			am = bytes.ReplaceAll(am, []byte(render.AMConfigDir+"/"), []byte(filepath.Join(dir, "alertmanager")+"/"))
			os.WriteFile(filepath.Join(dir, "alertmanager", "alertmanager.yml"), am, 0o644)
			run(t, amtool, "check-config", filepath.Join(dir, "alertmanager", "alertmanager.yml"))
			run(t, promtool, "check", "web-config", filepath.Join(dir, "prometheus", "web.yml"), filepath.Join(dir, "alertmanager", "web.yml"))
		})
	}
}

func run(t *testing.T, bin string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("FAILED")) {
		t.Errorf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
}

// TestCredentials: Render refuses to run without the stack's credentials, closes Prometheus and
// Alertmanager with web.yml, logs Prometheus and Grafana in to them, gives the relay its token
// and Alertmanager the same token, and keeps every credential out of world-readable files.
func TestCredentials(t *testing.T) {
	s := load(t, "example")
	if _, err := render.Render(s, assets, render.Options{}); err == nil || !strings.Contains(err.Error(), "credentials are missing") {
		t.Errorf("render without credentials: %v", err)
	}
	b := renderCase(t, "example")
	for p, f := range b.Files {
		for _, secret := range []string{fakeCredentials.APIPassword, fakeCredentials.APIPasswordHash, fakeCredentials.RelayToken} {
			if f.Mode != 0o600 && bytes.Contains(f.Data, []byte(secret)) {
				t.Errorf("%s (mode %o) holds a credential", p, f.Mode)
			}
		}
	}
	want := map[string]string{
		"prometheus/web.yml":                      "llmmon: " + fakeCredentials.APIPasswordHash,
		"alertmanager/web.yml":                    "llmmon: " + fakeCredentials.APIPasswordHash,
		"prometheus/secrets/llmmon/password":      fakeCredentials.APIPassword,
		"grafana/secrets/prometheus-password":     fakeCredentials.APIPassword,
		"alertmanager/secrets/llmmon/relay-token": fakeCredentials.RelayToken,
		"relay/relay.yml":                         "token: " + fakeCredentials.RelayToken,
	}
	for p, w := range want {
		f, ok := b.Files[p]
		if !ok || f.Mode != 0o600 || !bytes.Contains(f.Data, []byte(w)) {
			t.Errorf("%s: present %v, mode %o, want it 0600 with %q:\n%s", p, ok, f.Mode, w, f.Data)
		}
	}
	prom := string(b.Files["prometheus/prometheus.yml"].Data)
	if n := strings.Count(prom, "password_file: "+render.PromPasswordFile); n != 3 {
		t.Errorf("prometheus.yml logs in %d times (alertmanagers, and the prometheus and alertmanager jobs: want 3):\n%s", n, prom)
	}
	am := string(b.Files["alertmanager/alertmanager.yml"].Data)
	if n := strings.Count(am, "credentials_file: "+render.AMRelayTokenFile); n != 2 {
		t.Errorf("alertmanager.yml gives the relay token to %d webhooks, want 2 (ops-dingtalk, ops-wecom... of the example)", n)
	}
	ds := string(b.Files["grafana/provisioning/datasources/llmmon.yaml"].Data)
	for _, w := range []string{"basicAuth: true", "basicAuthUser: llmmon", "basicAuthPassword: $__file{" + render.GrafanaPromPassword + "}"} {
		if !strings.Contains(ds, w) {
			t.Errorf("the datasource lacks %q:\n%s", w, ds)
		}
	}
	for _, c := range render.Components(s, render.Options{Relay: true}) {
		args := strings.Join(c.Args, " ")
		switch c.Name {
		case "prometheus":
			if !strings.Contains(args, "--web.config.file="+render.PromWebConfig) {
				t.Errorf("prometheus args lack the web config: %s", args)
			}
		case "alertmanager":
			if !strings.Contains(args, "--web.config.file="+render.AMWebConfig) {
				t.Errorf("alertmanager args lack the web config: %s", args)
			}
		}
	}
}

// TestEveryAlertLinksToAPanel: each alert's dashboard annotation points at an existing panel.
func TestEveryAlertLinksToAPanel(t *testing.T) {
	b := renderCase(t, "zh-overrides")
	for p, f := range b.Under("prometheus/rules/") {
		if p == "records.yml" {
			continue
		}
		for _, line := range strings.Split(string(f.Data), "\n") {
			if strings.Contains(line, "dashboard:") && !strings.Contains(line, "/d/llmmon-") {
				t.Errorf("%s: bad dashboard link %q", p, line)
			}
		}
	}
}
