package spec

import (
	"fmt"
	"math"
	"time"
)

// SLO sets a target's service level objectives. Fields left out take the defaults; a target's
// own slo overrides spec.slo field by field.
type SLO struct {
	// Percent of requests answered without error over the period (default 99.5).
	Availability float64 `yaml:"availability,omitempty" json:"availability,omitempty"`
	// Latency objective: the share of requests faster than a threshold.
	Latency *LatencySLO `yaml:"latency,omitempty" json:"latency,omitempty"`
	// Period the objectives and the error budget are counted over (default 28d).
	Period Duration `yaml:"period,omitempty" json:"period,omitempty"`
}

// LatencySLO is a latency objective, read from the engine's histogram.
type LatencySLO struct {
	// Which latency: ttft (time to first token; default) or e2e (the whole request; the
	// default for engine custom, whose apps rarely measure TTFT).
	Metric string `yaml:"metric,omitempty" json:"metric,omitempty"`
	// A request is good when it is at most this fast (default 2.5s for ttft, 10s for e2e). It
	// must be a bucket boundary (le) of the engine's histogram: `llmmon doctor` names them.
	Threshold Duration `yaml:"threshold,omitempty" json:"threshold,omitempty"`
	// Percent of requests that must be good (default 99).
	Objective float64 `yaml:"objective,omitempty" json:"objective,omitempty"`
}

// Latency SLO metrics.
const (
	SLOLatencyTTFT = "ttft"
	SLOLatencyE2E  = "e2e"
)

// Defaults of an SLO's fields.
const (
	DefaultSLOAvailability     = 99.5
	DefaultSLOLatencyObjective = 99.0
	DefaultSLOPeriod           = Duration(28 * 24 * time.Hour)
	DefaultSLOTTFTThreshold    = Duration(2500 * time.Millisecond)
	DefaultSLOE2EThreshold     = Duration(10 * time.Second)
)

// Multi-window, multi-burn-rate alerting (the SRE workbook's "Alerting on SLOs"): a fast burn
// pages when the last hour used FastBudgetShare of the period's error budget and the last 5
// minutes still burn as fast; a slow burn warns when the last 6 hours used SlowBudgetShare and
// the last 30 minutes still do.
const (
	FastBudgetShare = 0.02
	SlowBudgetShare = 0.05
)

// Burn rates are the burn-rate thresholds of an SLO of period p: a 30-day period gives the
// workbook's 14.4 and 6, the default 28 days 13.44 and 5.6.
func BurnRates(p Duration) (fast, slow float64) {
	h := p.D().Hours()
	return round4(FastBudgetShare * h / 1), round4(SlowBudgetShare * h / 6)
}

func round4(f float64) float64 { return math.Round(f*1e4) / 1e4 }

// ratio turns a percent into a ratio as written: 99.9 is 0.999, not 0.9990000000000001.
func ratio(percent float64) float64 { return math.Round(percent*1e10) / 1e12 }

// TargetSLO is a target's SLO with every default resolved.
type TargetSLO struct {
	Target string
	Engine string
	// Availability objective as a ratio (0.995).
	Availability float64
	Latency      *ResolvedLatencySLO
	Period       Duration
}

// ResolvedLatencySLO is a latency objective with its defaults resolved.
type ResolvedLatencySLO struct {
	Metric    string
	Threshold Duration
	Objective float64 // ratio, 0.99
}

// SLOs returns the resolved SLO of every target that has one (its own slo or spec.slo), in
// the order of the targets.
func (s *Spec) SLOs() []TargetSLO {
	var out []TargetSLO
	for _, t := range s.Targets {
		if ts, ok := s.TargetSLO(t); ok {
			out = append(out, ts)
		}
	}
	return out
}

// TargetSLO resolves one target's SLO; false when neither the target nor the spec sets one.
func (s *Spec) TargetSLO(t Target) (TargetSLO, bool) {
	if (t.SLO == nil && s.SLO == nil) || t.Engine == EngineLlamaCPP {
		// llama.cpp counts neither requests nor errors in any release: nothing to measure.
		return TargetSLO{}, false
	}
	var own, def SLO
	if t.SLO != nil {
		own = *t.SLO
	}
	if s.SLO != nil {
		def = *s.SLO
	}
	out := TargetSLO{Target: t.Name, Engine: t.Engine}
	out.Availability = ratio(firstNonZero(own.Availability, def.Availability, DefaultSLOAvailability))
	out.Period = Duration(firstNonZero(float64(own.Period), float64(def.Period), float64(DefaultSLOPeriod)))
	var ol, dl LatencySLO
	if own.Latency != nil {
		ol = *own.Latency
	}
	if def.Latency != nil {
		dl = *def.Latency
	}
	l := &ResolvedLatencySLO{Metric: firstString(ol.Metric, dl.Metric)}
	if l.Metric == "" {
		l.Metric = SLOLatencyTTFT
		if t.Engine == EngineCustom {
			l.Metric = SLOLatencyE2E
		}
	}
	defThreshold := DefaultSLOTTFTThreshold
	if l.Metric == SLOLatencyE2E {
		defThreshold = DefaultSLOE2EThreshold
	}
	l.Threshold = Duration(firstNonZero(float64(ol.Threshold), float64(dl.Threshold), float64(defThreshold)))
	l.Objective = ratio(firstNonZero(ol.Objective, dl.Objective, DefaultSLOLatencyObjective))
	out.Latency = l
	return out, true
}

func firstNonZero(vs ...float64) float64 {
	for _, v := range vs {
		if v != 0 {
			return v
		}
	}
	return 0
}

func firstString(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// slo checks one slo block (spec.slo or targets[i].slo).
func (v *validator) slo(p string, o *SLO) {
	if o == nil {
		return
	}
	percent := func(path string, x float64, what string) {
		if x != 0 && (x <= 0 || x >= 100) {
			v.add(path, fmt.Sprintf("%s %g is not a percent between 0 and 100", what, x), "write e.g. 99.5 for 99.5 % (100 leaves no error budget)")
		}
	}
	percent(p+".availability", o.Availability, "availability")
	if o.Period != 0 && (o.Period.D() < 24*time.Hour || o.Period.D() > 90*24*time.Hour) {
		v.add(p+".period", fmt.Sprintf("period %s is out of range", o.Period), "use 1d to 90d; 28d (the default) or 7d are common")
	}
	if l := o.Latency; l != nil {
		if l.Metric != "" && l.Metric != SLOLatencyTTFT && l.Metric != SLOLatencyE2E {
			hint := "use ttft (time to first token) or e2e (the whole request)"
			if sug := suggest(l.Metric, []string{SLOLatencyTTFT, SLOLatencyE2E}); sug != "" {
				hint = fmt.Sprintf("did you mean %q? ", sug) + hint
			}
			v.add(p+".latency.metric", fmt.Sprintf("unknown latency metric %q", l.Metric), hint)
		}
		if l.Threshold != 0 && l.Threshold.D() < time.Millisecond {
			v.add(p+".latency.threshold", fmt.Sprintf("threshold %s is too short", l.Threshold), "use a bucket boundary of the engine's histogram, e.g. 2.5s for vLLM's and SGLang's TTFT")
		}
		percent(p+".latency.objective", l.Objective, "objective")
	}
}

// sloReachable checks that a fast burn can happen: an objective so loose that its fast-burn
// threshold is over 100 % errors would never page.
func (v *validator) sloReachable(s *Spec) {
	for i, t := range s.Targets {
		ts, ok := s.TargetSLO(t)
		if !ok {
			continue
		}
		fast, _ := BurnRates(ts.Period)
		path := "slo"
		if t.SLO != nil {
			path = fmt.Sprintf("targets[%d].slo", i)
		}
		if fast*(1-ts.Availability) >= 1 {
			v.add(path, fmt.Sprintf("target %s: an availability of %g %% over %s leaves so much budget that a fast burn needs more than 100 %% errors", t.Name, ts.Availability*100, ts.Period), "raise the availability objective or shorten the period")
		}
		if l := ts.Latency; l != nil && fast*(1-l.Objective) >= 1 {
			v.add(path, fmt.Sprintf("target %s: a latency objective of %g %% over %s leaves so much budget that a fast burn needs more than 100 %% slow requests", t.Name, l.Objective*100, ts.Period), "raise the latency objective or shorten the period")
		}
	}
}
