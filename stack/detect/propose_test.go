package detect

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack/spec"
)

func read(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.Root(), rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The mapping proposed for the ChatGLM tutorial app is the one a user writes for it
// (test/testdata/apps/chatglm-tutorial.metrics.yaml), and it validates.
func TestProposeChatGLM(t *testing.T) {
	p := Propose(read(t, "test/testdata/apps/chatglm-tutorial.prom"))
	if p == nil {
		t.Fatal("no proposal")
	}
	var want spec.Metrics
	if err := yaml.Unmarshal([]byte(read(t, "test/testdata/apps/chatglm-tutorial.metrics.yaml")), &want); err != nil {
		t.Fatal(err)
	}
	got, _ := yaml.Marshal(p.Metrics)
	exp, _ := yaml.Marshal(&want)
	if string(got) != string(exp) {
		t.Errorf("proposed\n%s\nwant\n%s", got, exp)
	}
	if strings.Join(p.Unmapped, ",") != "chatglm_inference_seconds (summary)" {
		t.Errorf("unmapped %v", p.Unmapped)
	}
	if p.Why["latency"] != `summary "Time spent processing request"` {
		t.Errorf("why %v", p.Why)
	}
	s, _, err := spec.LoadBytes("t.yaml", append([]byte("targets:\n  - name: glm\n    url: 127.0.0.1:8000\n    metrics:\n"), indent(got)...), func(string) (string, bool) { return "", false })
	if err != nil || s.Targets[0].Metrics == nil {
		t.Errorf("the proposal does not load: %v", err)
	}
}

func indent(b []byte) []byte {
	var out []string
	for _, l := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		out = append(out, "      "+l)
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

// The tutorial names map onto their roles too, errors from the status label.
func TestProposeModelTutorial(t *testing.T) {
	p := Propose(read(t, "test/testdata/apps/model-tutorial.prom"))
	if p == nil {
		t.Fatal("no proposal")
	}
	m := p.Metrics
	for role, want := range map[string]string{
		"requests": "model_requests_total", "errors": "model_requests_total", "latency": "model_request_duration_seconds",
		"generated_tokens": "model_tokens_per_second", "gpu_memory": "gpu_memory_used_mb",
	} {
		if r := m.Ref(role); r == nil || r.Metric != want {
			t.Errorf("%s: %+v, want %s", role, r, want)
		}
	}
	if m.Errors.Match["status"] == "" || m.GPUMemory.Unit != "MiB" || m.ProcessCPU != nil || m.ProcessMemory != nil {
		t.Errorf("errors %+v, gpu memory %+v, process %+v %+v", m.Errors, m.GPUMemory, m.ProcessCPU, m.ProcessMemory)
	}
}

// Engines' own metrics and bodies with nothing recognisable give no proposal.
func TestProposeNothing(t *testing.T) {
	if p := Propose("# TYPE foo_bar gauge\nfoo_bar 1\n"); p != nil {
		t.Errorf("proposed %+v", p.Metrics)
	}
	if p := Propose("not metrics"); p != nil {
		t.Errorf("proposed %+v", p.Metrics)
	}
}

// An app with the OpenTelemetry GenAI conventions' metrics is mapped by them, not guessed.
func TestProposeOTelGenAI(t *testing.T) {
	body := read(t, "test/testdata/apps/otel-genai.prom")
	p := Propose(body)
	if p == nil || p.Standard != GenAI {
		t.Fatalf("proposal %+v", p)
	}
	m := p.Metrics
	if m.Requests.Metric != "gen_ai_server_request_duration_seconds" || m.Errors.Match["error_type"] != ".+" ||
		m.TTFT.Metric != "gen_ai_server_time_to_first_token_seconds" || m.TPOT.Metric != "gen_ai_server_time_per_output_token_seconds" ||
		m.PromptTokens.Match["gen_ai_token_type"] != "input" || m.GeneratedTokens.Match["gen_ai_token_type"] != "output" {
		t.Errorf("mapping %s", mustYAML(m))
	}
	if f, err := Probe(context.Background(), http.DefaultClient, "", serve(t, body)); err != nil || f.Engine != spec.EngineCustom || !strings.Contains(f.Note, GenAI) {
		t.Errorf("probe: %+v %v", f, err)
	}
	// Only the client's metrics: the client's duration counts the requests.
	if p := Propose("# TYPE gen_ai_client_operation_duration_seconds histogram\ngen_ai_client_operation_duration_seconds_bucket{le=\"+Inf\"} 1\ngen_ai_client_operation_duration_seconds_sum 1\ngen_ai_client_operation_duration_seconds_count 1\n"); p == nil || p.Metrics.Requests.Metric != "gen_ai_client_operation_duration_seconds" {
		t.Errorf("client only: %+v", p)
	}
}

func mustYAML(v any) string {
	b, _ := yaml.Marshal(v)
	return string(b)
}

func serve(t *testing.T, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }))
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}
