package spec

import (
	"fmt"

	"github.com/alecthomas/units"
)

// DefaultLimits bound every scrape when the spec sets no limits. They leave wide headroom over
// what LLM servers expose: the real vLLM /metrics in shared/fixtures has 260 samples in 24 KiB
// for one model (about 95 bytes a sample) and at most 15 labels on a series (vllm:cache_config_info,
// 20 with the target's own labels), label names of at most 24 bytes and values of at most 18;
// Triton/TensorRT-LLM and dcgm-exporter expose fewer. 50000 samples is about 190 such models or
// LoRA adapters on one server. 50000 samples of 95 bytes are under 5 MiB, so a 16 MiB body (over
// 3 times that, or 50000 samples of 335 bytes) is hit only by an endpoint that is broken or far
// over the sample limit anyway. The body limit is what bounds Prometheus' memory, at several
// times the limit: it grows its read buffer by doubling and collects the garbage later, so a
// target answering 2 GB took Prometheus from 33 MiB to 566 MiB resident with a 64 MiB limit
// (test/e2e TestIntegrationBoundedScrape), and to 215 MiB with 16 MiB.
var DefaultLimits = Limits{
	BodySize:         "16MB",
	Samples:          50000,
	Labels:           64,
	LabelNameLength:  256,
	LabelValueLength: 4096,
}

// Merge returns l with every unset field taken from base.
func (l Limits) Merge(base Limits) Limits {
	pick := func(a, b int) int {
		if a != 0 {
			return a
		}
		return b
	}
	out := Limits{
		BodySize:         l.BodySize,
		Samples:          pick(l.Samples, base.Samples),
		Labels:           pick(l.Labels, base.Labels),
		LabelNameLength:  pick(l.LabelNameLength, base.LabelNameLength),
		LabelValueLength: pick(l.LabelValueLength, base.LabelValueLength),
	}
	if out.BodySize == "" {
		out.BodySize = base.BodySize
	}
	return out
}

// ParseSize parses a size the way Prometheus reads body_size_limit: 64MB, 512KB, 1GB, 100B
// (base 2: 1KB = 1024B; KiB, MiB and GiB are accepted too).
func ParseSize(s string) (int64, error) {
	n, err := units.ParseBase2Bytes(s)
	if err != nil {
		return 0, fmt.Errorf("parse size %q: %w", s, err)
	}
	return int64(n), nil
}

// FormatSize writes a size the way Prometheus does (64MiB, 1GiB512MiB).
func FormatSize(n int64) string { return units.Base2Bytes(n).String() }

// LimitsFor returns the limits a target is scraped with: its own, completed from the stack's.
func (s *Spec) LimitsFor(t Target) Limits {
	base := s.Prometheus.Limits.Merge(DefaultLimits)
	if t.Limits == nil {
		return base
	}
	return t.Limits.Merge(base)
}

// minOwnLabels is the number of labels every series of a model service carries before its own:
// __name__, job, instance, target and engine.
const minOwnLabels = 5

// limits checks prometheus.limits and every targets[].limits.
func (v *validator) limits(s *Spec) {
	v.limitFields("prometheus.limits", s.Prometheus.Limits)
	for i, t := range s.Targets {
		p := fmt.Sprintf("targets[%d].limits", i)
		if t.Limits != nil {
			v.limitFields(p, *t.Limits)
		}
		// A label limit that the target's own labels already use up fails every scrape.
		l := s.LimitsFor(t)
		own := minOwnLabels + len(t.Labels)
		if l.Labels > 0 && l.Labels <= own {
			at := p + ".labels"
			if t.Limits == nil || t.Limits.Labels == 0 {
				at = "prometheus.limits.labels"
			}
			v.add(at, fmt.Sprintf("a label limit of %d leaves no room for the metrics' own labels: every series of target %q already carries %d (__name__, job, instance, target, engine and its labels)", l.Labels, t.Name, own),
				fmt.Sprintf("set labels to at least %d; the default is %d", own+10, DefaultLimits.Labels))
		}
	}
}

func (v *validator) limitFields(path string, l Limits) {
	if l.BodySize != "" || v.src.IsSet(path+".body_size") {
		n, err := ParseSize(l.BodySize)
		switch {
		case err != nil:
			v.add(path+".body_size", fmt.Sprintf("invalid size %q", l.BodySize), "write a number and a unit, e.g. 64MB, 512KB or 1GB (1MB = 1024KB, as Prometheus counts)")
		case n < 1024:
			v.add(path+".body_size", fmt.Sprintf("body_size %q is less than 1KB: every scrape would fail", l.BodySize), fmt.Sprintf("the default is %s; a vLLM server with one model answers about 25KB", DefaultLimits.BodySize))
		}
	}
	for _, f := range []struct {
		name string
		val  int
		def  int
	}{{"samples", l.Samples, DefaultLimits.Samples}, {"labels", l.Labels, DefaultLimits.Labels}, {"label_name_length", l.LabelNameLength, DefaultLimits.LabelNameLength}, {"label_value_length", l.LabelValueLength, DefaultLimits.LabelValueLength}} {
		p := path + "." + f.name
		if f.val < 0 || (f.val == 0 && v.src.IsSet(p)) {
			v.add(p, fmt.Sprintf("%s must be a positive number, got %d", f.name, f.val), fmt.Sprintf("scrapes cannot be unbounded; the default is %d, set a larger number if a target needs more", f.def))
		}
	}
}
