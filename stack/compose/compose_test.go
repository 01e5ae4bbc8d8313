package compose_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/rules"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/compose"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
	"github.com/llmmon/llmmon/templates"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yml")

// goldenSpec is a small but complete stack: targets of two engines and one left to auto (not
// probed: the render is offline), gpu: on for dcgm-exporter, a DingTalk robot so that the relay
// runs, an email receiver, and a Grafana URL with a literal $ (written $$ in the spec). Every
// secret comes from the environment.
const goldenSpec = `name: golden
data_dir: /nonexistent/llmmon-golden
gpu: on
targets:
  - name: qwen
    engine: vllm
    url: http://127.0.0.1:8000
  - name: embed
    engine: sglang
    url: 127.0.0.1:30000
  - name: api
    engine: auto
    url: http://127.0.0.1:9000
prometheus:
  port: 19090
  retention: 30d
alertmanager:
  port: 19093
grafana:
  port: 13000
  admin_password: ${GRAFANA_PW}
  external_url: https://grafana.example.com/mon$$itor/
notify:
  receivers:
    - name: ding
      dingtalk:
        url: ${DING_URL}
        secret: ${DING_SECRET}
    - name: mail
      email:
        to: [oncall@example.com]
        from: llmmon@example.com
        smarthost: smtp.example.com:587
        username: llmmon@example.com
        password: ${SMTP_PASSWORD}
`

// secretEnv is the whole environment the spec is loaded with: fixed, so that the golden file
// does not depend on the caller's, and each value distinctive, so that a leak is found.
var secretEnv = map[string]string{
	"GRAFANA_PW":    "grafana-pw-6f1d3c",
	"DING_URL":      "https://oapi.dingtalk.com/robot/send?access_token=ding-token-9a7b2e",
	"DING_SECRET":   "SECding-secret-4c8e1f",
	"SMTP_PASSWORD": "smtp-pw-$3cr3t-b5d0",
	"WECOM_URL":     "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wecom-key-2d9f",
}

// goldenCredentials are fixed; the hash is bcrypt's of the password (the bundle check reads it).
var goldenCredentials = &stack.Credentials{
	APIPassword:     "golden-api-password",
	APIPasswordHash: "$2a$10$/5lV5e5QjzzeO.rq44uNUO64YdwY1O1mdxuWMBCIofypLo/.XwWrO",
	RelayToken:      "golden-relay-token",
}

// renderSpec loads text and renders it the way `llmmon render --compose` does, without Docker,
// without probing and without the host's GPUs, then writes the compose file.
func renderSpec(t *testing.T, text string) []byte {
	t.Helper()
	s, _, err := spec.LoadBytes("spec.yaml", []byte(text), func(k string) (string, bool) {
		v, ok := secretEnv[k]
		return v, ok
	})
	if err != nil {
		t.Fatalf("load the spec: %v", err)
	}
	noGPU := func() (bool, string) { return false, "no GPU in unit tests" }
	e := stack.New(render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS},
		stack.WithGPUDetector(noGPU), stack.WithNvidiaSMIDetector(noGPU))
	res, err := e.Render(t.Context(), s, stack.RenderOptions{Offline: true, Credentials: goldenCredentials})
	if err != nil {
		t.Fatalf("render the spec: %v", err)
	}
	out, err := compose.File(s, res)
	if err != nil {
		t.Fatalf("compose.File: %v", err)
	}
	return out
}

// TestGolden compares docker-compose.yml with testdata/full.golden.yml; go test -update
// rewrites it. Two renders give the same bytes.
func TestGolden(t *testing.T) {
	got := renderSpec(t, goldenSpec)
	if again := renderSpec(t, goldenSpec); !bytes.Equal(got, again) {
		t.Fatalf("two renders of one spec differ:\n%s\n---\n%s", got, again)
	}
	path := filepath.Join("testdata", "full.golden.yml")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the golden file (run go test ./stack/compose -update): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docker-compose.yml differs from %s (go test ./stack/compose -update rewrites it):\n%s", path, firstDiff(string(want), string(got)))
	}
}

// firstDiff shows the first line where want and got differ.
func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\n  want %q\n  got  %q", i+1, wl, gl)
		}
	}
	return "(no line differs)"
}

// parse reads a compose file back as YAML, the way docker-compose does, into generic maps.
func parse(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var f map[string]any
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("the compose file is not YAML: %v\n%s", err, data)
	}
	return f
}

// services returns the compose file's services by name.
func services(t *testing.T, f map[string]any) map[string]map[string]any {
	t.Helper()
	raw, ok := f["services"].(map[string]any)
	if !ok {
		t.Fatalf("services is %T, not a map", f["services"])
	}
	out := map[string]map[string]any{}
	for name, v := range raw {
		sv, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("service %s is %T, not a map", name, v)
		}
		out[name] = sv
	}
	return out
}

// strs returns a YAML sequence of strings, or nil when the key is absent.
func strs(t *testing.T, sv map[string]any, key string) []string {
	t.Helper()
	v, ok := sv[key]
	if !ok {
		return nil
	}
	seq, ok := v.([]any)
	if !ok {
		t.Fatalf("%s is %T, not a sequence", key, v)
	}
	out := make([]string, 0, len(seq))
	for _, e := range seq {
		s, ok := e.(string)
		if !ok {
			t.Fatalf("%s holds %T, not a string", key, e)
		}
		out = append(out, s)
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Each spec gets a service for each component it needs, and the relay's build note only with
// the relay.
func TestServicesPerSpec(t *testing.T) {
	for _, tc := range []struct {
		name, spec, project string
		want                []string
		relayNote           bool
	}{
		{"full", goldenSpec, "golden", []string{"alertmanager", "dcgm-exporter", "grafana", "node-exporter", "prometheus", "relay"}, true},
		{"minimal", "name: mini\ngpu: off\ntargets:\n  - {name: m, engine: vllm, url: http://127.0.0.1:8000}\n", "mini",
			[]string{"alertmanager", "grafana", "node-exporter", "prometheus"}, false},
		{"no host, wecom", "name: wc\ngpu: off\nhost: false\nnotify:\n  receivers:\n    - name: w\n      wecom: {url: \"${WECOM_URL}\"}\n", "wc",
			[]string{"alertmanager", "grafana", "prometheus", "relay"}, true},
		{"external dcgm-exporter", "name: ext\ngpu: on\ndcgm_exporter_address: 10.0.0.5:9400\n", "ext",
			[]string{"alertmanager", "grafana", "node-exporter", "prometheus"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := renderSpec(t, tc.spec)
			got := keys(services(t, parse(t, out)))
			if !slices.Equal(got, tc.want) {
				t.Errorf("services %v, want %v", got, tc.want)
			}
			if note := bytes.Contains(out, []byte("docker build -t llmmon-relay:local")); note != tc.relayNote {
				t.Errorf("relay build note present: %v, want %v", note, tc.relayNote)
			}
			if !bytes.Contains(out, []byte("docker-compose -p llmmon-"+tc.project+" up -d")) {
				t.Errorf("the header does not name project llmmon-%s:\n%s", tc.project, out)
			}
		})
	}
}

// Every service runs on the host's network (no ports: the listen addresses are in the commands),
// restarts unless stopped, carries llmmon's labels, and gets its user, mounts and devices.
func TestServicesOfTheFullSpec(t *testing.T) {
	f := parse(t, renderSpec(t, goldenSpec))
	svcs := services(t, f)
	for name, sv := range svcs {
		if sv["network_mode"] != "host" || sv["restart"] != "unless-stopped" {
			t.Errorf("%s: network_mode %v, restart %v", name, sv["network_mode"], sv["restart"])
		}
		if _, ok := sv["ports"]; ok {
			t.Errorf("%s publishes ports; with host networking it must not", name)
		}
		labels, _ := sv["labels"].(map[string]any)
		if labels["io.llmmon.project"] != "golden" || labels["io.llmmon.component"] != name || len(labels) != 2 {
			t.Errorf("%s: labels %v", name, labels)
		}
		if img, _ := sv["image"].(string); img == "" {
			t.Errorf("%s has no image", name)
		}
	}
	for _, tc := range []struct {
		name    string
		user    string   // "" when compose leaves the image's
		command []string // that the command must hold
		volumes []string // that must be mounted
		pid     string
		gpus    bool
	}{
		// The secret files (web.yml, credentials, relay.yml) are 0600: only root reads them
		// through a bind mount.
		{name: "prometheus", user: "0:0", command: []string{"--web.listen-address=127.0.0.1:19090", "--storage.tsdb.retention.time=30d"},
			volumes: []string{"prometheus-data:/prometheus", "./prometheus:" + render.PromConfigDir + ":ro"}},
		{name: "alertmanager", user: "0:0", command: []string{"--web.listen-address=127.0.0.1:19093", "--web.external-url=http://127.0.0.1:19093"},
			volumes: []string{"alertmanager-data:/alertmanager", "./alertmanager:" + render.AMConfigDir + ":ro"}},
		{name: "grafana", user: "0:0", volumes: []string{"grafana-data:/var/lib/grafana", "./grafana/provisioning:" + render.GrafanaProvDir + ":ro",
			"./grafana/dashboards:" + render.GrafanaDashDir + ":ro", "./grafana/secrets/prometheus-password:" + render.GrafanaPromPassword + ":ro"}},
		{name: "relay", user: "0:0", command: []string{"relay", "--config", render.RelayConfigFile},
			volumes: []string{"relay-data:" + render.RelayDataDir, "./relay:" + render.RelayConfigDir + ":ro"}},
		{name: "node-exporter", user: "65534:65534", pid: "host", volumes: []string{"/:/host:ro"}},
		{name: "dcgm-exporter", gpus: true},
	} {
		sv, ok := svcs[tc.name]
		if !ok {
			t.Errorf("no service %s", tc.name)
			continue
		}
		if u, _ := sv["user"].(string); u != tc.user {
			t.Errorf("%s: user %q, want %q", tc.name, u, tc.user)
		}
		if p, _ := sv["pid"].(string); p != tc.pid {
			t.Errorf("%s: pid %q, want %q", tc.name, p, tc.pid)
		}
		cmd := strs(t, sv, "command")
		for _, c := range tc.command {
			if !slices.Contains(cmd, c) {
				t.Errorf("%s: command %q lacks %q", tc.name, cmd, c)
			}
		}
		vols := strs(t, sv, "volumes")
		for _, v := range tc.volumes {
			if !slices.Contains(vols, v) {
				t.Errorf("%s: volumes %q lack %q", tc.name, vols, v)
			}
		}
		_, deploy := sv["deploy"]
		if deploy != tc.gpus {
			t.Errorf("%s: deploy (GPU reservation) present %v, want %v", tc.name, deploy, tc.gpus)
		}
	}
	if img := svcs["relay"]["image"]; img != "llmmon-relay:local" {
		t.Errorf("relay image %v, want the one the header says to build", img)
	}
	dcgm := svcs["dcgm-exporter"]
	if got := fmt.Sprint(dcgm["deploy"]); got != "map[resources:map[reservations:map[devices:[map[capabilities:[gpu utility] count:all driver:nvidia]]]]]" {
		t.Errorf("dcgm-exporter deploy %s", got)
	}
	if caps := strs(t, dcgm, "cap_add"); !slices.Equal(caps, []string{"SYS_ADMIN"}) {
		t.Errorf("dcgm-exporter cap_add %q", caps)
	}
	// Grafana's admin password comes from the environment compose runs in, not from a file.
	env := strs(t, svcs["grafana"], "environment")
	if !slices.Contains(env, "GF_SECURITY_ADMIN_PASSWORD=${GRAFANA_ADMIN_PASSWORD:?set GRAFANA_ADMIN_PASSWORD to the Grafana admin password}") {
		t.Errorf("grafana environment has no GF_SECURITY_ADMIN_PASSWORD from GRAFANA_ADMIN_PASSWORD: %q", env)
	}
	for _, e := range env {
		if strings.HasPrefix(e, "GF_SECURITY_ADMIN_PASSWORD__FILE=") {
			t.Errorf("grafana environment keeps %q, a file compose does not mount", e)
		}
	}
	// The named volumes are the stack's, labelled like its containers.
	vols, _ := f["volumes"].(map[string]any)
	if got := keys(vols); !slices.Equal(got, []string{"alertmanager-data", "grafana-data", "prometheus-data", "relay-data"}) {
		t.Errorf("volumes %v", got)
	}
	for k, v := range vols {
		vol, _ := v.(map[string]any)
		labels, _ := vol["labels"].(map[string]any)
		if vol["name"] != "golden_"+k || labels["io.llmmon.project"] != "golden" {
			t.Errorf("volume %s: %v", k, v)
		}
	}
}

// No secret of the spec, nor a generated credential, is written into the compose file, which
// is 0644 and meant to be shared.
func TestNoSecrets(t *testing.T) {
	out := string(renderSpec(t, goldenSpec))
	secrets := map[string]string{
		"api password": goldenCredentials.APIPassword, "api password hash": goldenCredentials.APIPasswordHash,
		"relay token": goldenCredentials.RelayToken,
	}
	for k, v := range secretEnv {
		secrets[k] = v
		secrets[k+" (escaped)"] = strings.ReplaceAll(v, "$", "$$")
	}
	secrets["DingTalk access token"] = "ding-token-9a7b2e"
	secrets["WeCom key"] = "wecom-key-2d9f"
	for what, v := range secrets {
		if strings.Contains(out, v) {
			t.Errorf("the compose file holds the %s %q", what, v)
		}
	}
}

// allowedInterpolation is the one variable compose must expand: the Grafana admin password.
var allowedInterpolation = regexp.MustCompile(`\$\{GRAFANA_ADMIN_PASSWORD:\?[^}]*\}`)

// Compose interpolates $VAR and ${VAR} in every value, so each literal $ (node-exporter's
// mount-point regexp, a $ in the spec) is written $$; comments are not interpolated.
func TestDollarsAreEscaped(t *testing.T) {
	out := renderSpec(t, goldenSpec)
	var walk func(path string, v any)
	n := 0
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range keys(v) {
				walk(path+"."+k, v[k])
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case string:
			s := allowedInterpolation.ReplaceAllString(v, "")
			n += strings.Count(s, "$$")
			if strings.Contains(strings.ReplaceAll(s, "$$", ""), "$") {
				t.Errorf("%s: %q has a $ compose would interpolate", path, v)
			}
		}
	}
	walk("", parse(t, out))
	if n == 0 {
		t.Error("no escaped $ at all: the spec's $ and node-exporter's regexp should give some")
	}
	for _, want := range []string{
		"GF_SERVER_ROOT_URL=https://grafana.example.com/mon$$itor", // $$ in the spec is one literal $
		`($$|/)`, // node-exporter's --collector.filesystem.mount-points-exclude
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("the compose file lacks %q", want)
		}
	}
}

// Where gpu: auto finds GPUs only nvidia-smi reads (GeForce, WSL), the bundle's prometheus.yml
// scrapes llmmon's gpu-exporter (job nvidia-smi, internal_ports.gpu_exporter), so the compose
// file must run it.
func TestGPUExporterService(t *testing.T) {
	s, _, err := spec.LoadBytes("smi.yaml", []byte("name: smi\ngpu: auto\n"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("load the spec: %v", err)
	}
	smi := func() (bool, string) { return true, "dcgm-exporter does not support NVIDIA GeForce RTX 4090" }
	e := stack.New(render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS},
		stack.WithGPUDetector(func() (bool, string) { return false, "GeForce only" }), stack.WithNvidiaSMIDetector(smi))
	res, err := e.Render(t.Context(), s, stack.RenderOptions{Offline: true, Credentials: goldenCredentials})
	if err != nil {
		t.Fatalf("render the spec: %v", err)
	}
	if !res.GPUExporter || !strings.Contains(string(res.Bundle.Files["prometheus/prometheus.yml"].Data), "job_name: nvidia-smi") {
		t.Fatalf("the bundle does not scrape the gpu-exporter: GPUExporter %v", res.GPUExporter)
	}
	out, err := compose.File(s, res)
	if err != nil {
		t.Fatalf("compose.File: %v", err)
	}
	sv, ok := services(t, parse(t, out))["gpu-exporter"]
	if !ok {
		t.Fatalf("no gpu-exporter service:\n%s", out)
	}
	if img, _ := sv["image"].(string); img == "" || sv["deploy"] == nil ||
		!slices.Contains(strs(t, sv, "command"), "--listen=127.0.0.1:9835") {
		t.Errorf("gpu-exporter service: %v", sv)
	}
}
