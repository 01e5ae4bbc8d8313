package spec

import (
	"strings"
	"testing"
	"time"
)

func TestBurnRates(t *testing.T) {
	for _, c := range []struct {
		period     time.Duration
		fast, slow float64
	}{
		{30 * 24 * time.Hour, 14.4, 6}, // the SRE workbook's numbers
		{28 * 24 * time.Hour, 13.44, 5.6},
		{7 * 24 * time.Hour, 3.36, 1.4},
	} {
		fast, slow := BurnRates(Duration(c.period))
		if fast != c.fast || slow != c.slow {
			t.Errorf("BurnRates(%s) = %g, %g; want %g, %g", c.period, fast, slow, c.fast, c.slow)
		}
	}
}

func TestTargetSLO(t *testing.T) {
	s, _, err := LoadBytes("slo.yaml", []byte(`
slo: {availability: 99.9, latency: {objective: 98}}
targets:
  - {name: chat, engine: vllm, url: "h:1"}
  - {name: app, engine: custom, url: "h:2", slo: {period: 7d}}
  - {name: trt, engine: triton, url: "h:3", slo: {latency: {metric: e2e, threshold: 5s}}}
  - {name: tiny, engine: llamacpp, url: "h:4"}
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]TargetSLO{}
	for _, ts := range s.SLOs() {
		got[ts.Target] = ts
	}
	if _, ok := got["tiny"]; ok || len(got) != 3 {
		t.Fatalf("SLOs: want chat, app and trt (llama.cpp counts no requests), got %v", got)
	}
	chat := got["chat"]
	if chat.Availability != 0.999 || chat.Period != DefaultSLOPeriod || chat.Latency.Metric != SLOLatencyTTFT ||
		chat.Latency.Threshold != DefaultSLOTTFTThreshold || chat.Latency.Objective != 0.98 {
		t.Errorf("chat: %+v %+v", chat, *chat.Latency)
	}
	app := got["app"]
	if app.Period != Duration(7*24*time.Hour) || app.Availability != 0.999 || app.Latency.Metric != SLOLatencyE2E || app.Latency.Threshold != DefaultSLOE2EThreshold {
		t.Errorf("app (custom: e2e by default, its own period): %+v %+v", app, *app.Latency)
	}
	trt := got["trt"].Latency
	if trt.Metric != SLOLatencyE2E || trt.Threshold != Duration(5*time.Second) || trt.Objective != 0.98 {
		t.Errorf("trt: fields of its own, the rest from spec.slo: %+v", *trt)
	}
	none, _, err := LoadBytes("none.yaml", []byte(`targets: [{name: a, url: "h:1"}]`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(none.SLOs()) != 0 {
		t.Errorf("no slo anywhere: want no SLO, got %v", none.SLOs())
	}
}

func TestSLOProblems(t *testing.T) {
	ps := problemsOf(t, "slo.yaml", []byte(hintless["slo"]))
	text := ps.Error()
	for _, want := range []string{
		"slo.availability", "not a percent", "slo.period", "did you mean \"ttft\"", "slo.latency.threshold",
		"slo.latency.objective", "targets[0].slo", "llama.cpp counts neither requests nor errors",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("problems lack %q:\n%s", want, text)
		}
	}
	ps = problemsOf(t, "loose.yaml", []byte(hintless["slo-loose"]))
	if !strings.Contains(ps.Error(), "more than 100 % errors") {
		t.Errorf("availability 90 %% over 28d can never burn fast; want that said:\n%s", ps.Error())
	}
}
