package kube_test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	monitoringv1alpha1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1alpha1"
	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/rules"
	"github.com/llmmon/llmmon/stack/kube"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
	"github.com/llmmon/llmmon/templates"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func noEnv(string) (string, bool) { return "", false }

// manifests renders the render tests' example spec (every engine, every receiver kind) with
// fixed credentials.
func manifests(t *testing.T) map[string]kube.File {
	t.Helper()
	s, _, err := spec.Load(filepath.Join("..", "render", "testdata", "specs", "example.yaml"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	s.DataDir = "/data"
	b, err := render.Render(s, render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS},
		render.Options{Credentials: render.Credentials{APIPassword: "golden-api-password",
			APIPasswordHash: "$2a$10$/5lV5e5QjzzeO.rq44uNUO64YdwY1O1mdxuWMBCIofypLo/.XwWrO", RelayToken: "golden-relay-token"}})
	if err != nil {
		t.Fatal(err)
	}
	files, err := kube.Render(s, b, kube.Options{Namespace: "llm-monitoring", RelayImage: "registry.example.com/llmmon-relay:golden"})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestGolden compares every manifest with testdata/golden (dashboards but their first lines:
// the render tests hold them); go test -update rewrites them.
func TestGolden(t *testing.T) {
	files := manifests(t)
	dir := filepath.Join("testdata", "golden")
	if *update {
		os.RemoveAll(dir)
	}
	var names []string
	for name, f := range files {
		names = append(names, name)
		data := f.Data
		if strings.HasPrefix(name, "dashboards/") {
			data = data[:bytes.Index(data, []byte("data:"))]
		}
		p := filepath.Join(dir, filepath.FromSlash(name))
		if *update {
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("%s: no golden file; run go test ./stack/kube -update", name)
			continue
		}
		if !bytes.Equal(data, want) {
			t.Errorf("%s differs from its golden file; run go test ./stack/kube -update and review the diff", name)
		}
		if f.Secret != strings.HasSuffix(name, "secret.yaml") {
			t.Errorf("%s: secret %v", name, f.Secret)
		}
	}
	sort.Strings(names)
	if again := manifests(t); len(again) != len(files) {
		t.Fatalf("a second rendering has %d files, the first %d", len(again), len(files))
	} else {
		for n, f := range again {
			if !bytes.Equal(f.Data, files[n].Data) {
				t.Errorf("%s: two renderings differ", n)
			}
		}
	}
	t.Logf("%d manifests: %v", len(names), names)
}

// TestStrictDecode decodes every object back into the Operator's and Kubernetes' own types,
// refusing any field they do not have, and checks the references between them.
func TestStrictDecode(t *testing.T) {
	files := manifests(t)
	kinds := map[string]int{}
	secretKeys := map[string]map[string]bool{}
	var amc monitoringv1alpha1.AlertmanagerConfig
	for name, f := range files {
		if name == "values.yaml" || name == "kustomization.yaml" {
			continue
		}
		for _, doc := range strings.Split(string(f.Data), "\n---\n") {
			var meta struct{ Kind string }
			if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			var obj any
			switch meta.Kind {
			case "ServiceMonitor":
				obj = &monitoringv1.ServiceMonitor{}
			case "PodMonitor":
				obj = &monitoringv1.PodMonitor{}
			case "PrometheusRule":
				obj = &monitoringv1.PrometheusRule{}
			case "AlertmanagerConfig":
				obj = &amc
			case "ConfigMap":
				obj = &corev1.ConfigMap{}
			case "Secret":
				obj = &corev1.Secret{}
			case "Service":
				obj = &corev1.Service{}
			case "Deployment":
				obj = &appsv1.Deployment{}
			default:
				t.Fatalf("%s: unexpected kind %q", name, meta.Kind)
			}
			if err := sigsyaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Errorf("%s (%s) does not decode strictly into the Operator's types: %v", name, meta.Kind, err)
				continue
			}
			kinds[meta.Kind]++
			if sec, ok := obj.(*corev1.Secret); ok {
				secretKeys[sec.Name] = map[string]bool{}
				for k := range sec.StringData {
					secretKeys[sec.Name][k] = true
				}
			}
			if sm, ok := obj.(*monitoringv1.ServiceMonitor); ok && sm.Name != "llmmon-relay" {
				labels := map[string]string{}
				for _, r := range sm.Spec.Endpoints[0].RelabelConfigs {
					labels[r.TargetLabel] = *r.Replacement
				}
				if labels["target"] == "" || labels["engine"] == "" || labels["job"] != labels["engine"] {
					t.Errorf("%s: relabelling gives %v; the rules need target, engine and job", name, labels)
				}
			}
		}
	}
	// The example spec: 4 targets but llama.cpp's, ... one monitor per target.
	if kinds["ServiceMonitor"] < 4 || kinds["PrometheusRule"] < 2 || kinds["AlertmanagerConfig"] != 1 || kinds["Deployment"] != 1 || kinds["ConfigMap"] < 10 {
		t.Errorf("objects by kind: %v", kinds)
	}
	// Every secret the AlertmanagerConfig reads is in a Secret of the output.
	check := func(where string, sel *corev1.SecretKeySelector) {
		if sel != nil && !secretKeys[sel.Name][sel.Key] {
			t.Errorf("%s reads %s/%s, which no Secret of the output has", where, sel.Name, sel.Key)
		}
	}
	for _, r := range amc.Spec.Receivers {
		for _, e := range r.EmailConfigs {
			check(r.Name, e.AuthPassword)
		}
		for _, w := range r.WebhookConfigs {
			check(r.Name, w.URLSecret)
			if w.HTTPConfig != nil && w.HTTPConfig.Authorization != nil {
				check(r.Name, w.HTTPConfig.Authorization.Credentials)
			}
		}
		for _, w := range r.WeChatConfigs {
			check(r.Name, w.APISecret)
		}
	}
	if len(amc.Spec.Route.Routes) == 0 {
		t.Error("the AlertmanagerConfig routes nothing")
	}
}

// TestRulesPassPromtool writes each PrometheusRule's groups as a rule file and checks it with
// the real promtool.
func TestRulesPassPromtool(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	dir := t.TempDir()
	var paths []string
	for name, f := range manifests(t) {
		if !strings.HasPrefix(name, "rules/") {
			continue
		}
		var pr monitoringv1.PrometheusRule
		if err := sigsyaml.UnmarshalStrict(f.Data, &pr); err != nil {
			t.Fatal(err)
		}
		b, err := sigsyaml.Marshal(map[string]any{"groups": pr.Spec.Groups})
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, strings.ReplaceAll(name, "/", "-"))
		os.WriteFile(p, b, 0o644)
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		t.Fatal("no PrometheusRules")
	}
	out, err := exec.Command(promtool, append([]string{"check", "rules"}, paths...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}

// TestPodsAndSelector: a target with kubernetes: {pods: true, ...} gets a PodMonitor with its
// selector, port and namespace; a bad port name is a spec problem with its position.
func TestPodsAndSelector(t *testing.T) {
	src := `targets:
  - name: chat
    engine: vllm
    url: "chat:8000"
    kubernetes: {pods: true, namespace: llm, port: metrics, selector: {app: vllm-chat}}
`
	s, _, err := spec.LoadBytes("k.yaml", []byte(src), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	b, err := render.Render(s, render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS},
		render.Options{Credentials: render.Credentials{APIPassword: "p", APIPasswordHash: "h", RelayToken: "t"}})
	if err != nil {
		t.Fatal(err)
	}
	files, err := kube.Render(s, b, kube.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var pm monitoringv1.PodMonitor
	if err := sigsyaml.UnmarshalStrict(files["monitors/chat.yaml"].Data, &pm); err != nil {
		t.Fatal(err)
	}
	if pm.Spec.Selector.MatchLabels["app"] != "vllm-chat" || pm.Spec.NamespaceSelector.MatchNames[0] != "llm" ||
		*pm.Spec.PodMetricsEndpoints[0].Port != "metrics" || pm.Namespace != "monitoring" {
		t.Errorf("PodMonitor: %+v", pm)
	}
	if _, ok := files["relay/relay.yaml"]; ok {
		t.Error("a relay without a robot to serve")
	}
	_, _, err = spec.LoadBytes("k.yaml", []byte(strings.Replace(src, "port: metrics", "port: Metrics_Port_Name_Too_Long", 1)), noEnv)
	if err == nil || !strings.Contains(err.Error(), "k.yaml:5:") || !strings.Contains(err.Error(), "invalid port name") {
		t.Errorf("a bad port name: %v", err)
	}
}
