package stack

import (
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack/spec"
)

// TestExplainScrapeError: each of Prometheus' limit errors (scrape/scrape.go, scrape/target.go)
// is put in plain words with the limit in force and the spec field to raise.
func TestExplainScrapeError(t *testing.T) {
	l := spec.DefaultLimits
	checked := 0
	for _, c := range []struct{ lastErr, want string }{
		{"body size limit exceeded", "larger than the body_size limit (16MB)"},
		{"sample limit exceeded", "more samples than the samples limit (50000)"},
		{`label_limit exceeded (metric: vllm:x, number of labels: 70, limit: 64)`, "more labels than the labels limit (64)"},
		{`label_name_length_limit exceeded (metric: x, label name: y, length: 300, limit: 256)`, "label name is longer than the label_name_length limit (256)"},
		{`label_value_length_limit exceeded (metric: x, label name: prompt, value: "...", length: 9000, limit: 4096)`, "label value is longer than the label_value_length limit (4096)"},
		{`Get "http://127.0.0.1:1/metrics": dial tcp 127.0.0.1:1: connect: connection refused`, "Prometheus could not scrape it: Get"},
	} {
		got := ExplainScrapeError("llmmon.yaml", "qwen", c.lastErr, l)
		if !strings.Contains(got, c.want) || !strings.Contains(got, "stays in llmmon.yaml") || !strings.HasPrefix(got, "Prometheus' first scrape of qwen failed: ") {
			t.Errorf("%q:\n%s\nwant %q", c.lastErr, got, c.want)
		}
		if field, ok := map[string]string{"body size limit": "body_size", "sample limit": "samples", "label_limit": "labels", "label_name_length_limit": "label_name_length", "label_value_length_limit": "label_value_length"}[strings.SplitN(c.lastErr, " exceeded", 2)[0]]; ok && !strings.Contains(got, "`limits: {"+field+": ...}`") {
			t.Errorf("%q: does not say to raise %s:\n%s", c.lastErr, field, got)
		} else if ok {
			checked++
		}
	}
	if checked != 5 {
		t.Errorf("checked the field of %d limit errors, want 5", checked)
	}
}
