package replay

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// pythonClients are the engines whose metrics come from prometheus_client, which exposes a
// Counter named x as x_total whatever it was registered as.
var pythonClients = []string{"vllm:", "sglang:", "lmdeploy:"}

// labelValues are the values a generated series gets for the label names inventories list;
// others get "0".
var labelValues = map[string]string{
	"model_name": "replay/model", "model": "replay-model", "version": "1", "engine": "0",
	"engine_type": "unified", "finished_reason": "stop", "err": "generation", "method": "prefill",
	"reason": "BACKEND", "gpu_uuid": "GPU-00000000-0000-0000-0000-000000000000", "position": "0",
	"tp_rank": "0", "pp_rank": "0", "dp_rank": "0",
}

// FromInventory turns an inventory ("name type label1,label2 | HELP text" per line, '-' for no
// labels, a trailing '?' on a label that only some setups have) into the text exposition of
// that release: one series per family, labels as listed (optional ones left out), counters named
// as the engine's client exposes them, histograms with a few buckets, summaries with quantiles.
func FromInventory(data []byte) ([]byte, error) {
	var b bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	seen := map[string]bool{}
	for sc.Scan() {
		n++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		def, help, _ := strings.Cut(t, "|")
		f := strings.Fields(def)
		if len(f) < 2 {
			return nil, fmt.Errorf("line %d: want \"name type labels | help\", got %q", n, t)
		}
		name, typ := f[0], f[1]
		var labels []string
		if len(f) > 2 && f[2] != "-" {
			for _, l := range strings.Split(f[2], ",") {
				if l == "" || strings.HasSuffix(l, "?") || l == "le" || l == "quantile" || strings.ContainsAny(l, "<>()") {
					continue
				}
				labels = append(labels, l)
			}
		}
		help = strings.TrimSpace(help)
		if help == "(none)" {
			help = ""
		}
		if typ == "counter" {
			for _, p := range pythonClients {
				if strings.HasPrefix(name, p) && !strings.HasSuffix(name, "_total") {
					name += "_total"
				}
			}
		}
		if typ == "info" {
			name, typ = name+"_info", "gauge"
		}
		if seen[name] {
			continue // described twice in source
		}
		seen[name] = true
		if help != "" {
			fmt.Fprintf(&b, "# HELP %s %s\n", name, help)
		}
		fmt.Fprintf(&b, "# TYPE %s %s\n", name, typ)
		ls := labelSet(labels)
		switch typ {
		case "counter":
			fmt.Fprintf(&b, "%s%s 10\n", name, braces(ls))
		case "gauge", "untyped":
			fmt.Fprintf(&b, "%s%s %s\n", name, braces(ls), gaugeValue(name))
		case "histogram":
			for i, le := range []string{"0.01", "0.1", "1", "10", "+Inf"} {
				fmt.Fprintf(&b, "%s_bucket%s %d\n", name, braces(append(ls, `le="`+le+`"`)), min(i+1, 4))
			}
			fmt.Fprintf(&b, "%s_sum%s 5\n%s_count%s 4\n", name, braces(ls), name, braces(ls))
		case "summary":
			for _, q := range []string{"0.5", "0.9", "0.99"} {
				fmt.Fprintf(&b, "%s%s 0.5\n", name, braces(append(ls, `quantile="`+q+`"`)))
			}
			fmt.Fprintf(&b, "%s_sum%s 5\n%s_count%s 4\n", name, braces(ls), name, braces(ls))
		default:
			return nil, fmt.Errorf("line %d: unknown metric type %q", n, typ)
		}
	}
	return b.Bytes(), sc.Err()
}

func labelSet(names []string) []string {
	out := make([]string, 0, len(names))
	for _, l := range names {
		v, ok := labelValues[l]
		if !ok {
			v = "0"
		}
		out = append(out, l+`="`+v+`"`)
	}
	sort.Strings(out)
	return out
}

func braces(ls []string) string {
	if len(ls) == 0 {
		return ""
	}
	return "{" + strings.Join(ls, ",") + "}"
}

// gaugeValue is a plausible value: ratios and usages half full, others 1.
func gaugeValue(name string) string {
	for _, w := range []string{"perc", "ratio", "usage", "hit_rate"} {
		if strings.Contains(name, w) {
			return "0.5"
		}
	}
	return "1"
}
