package render

import (
	"bytes"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strings"
	"text/template"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/stack/spec"
)

// AlertDef is one alert definition from rules/alerts/*.yml.
type AlertDef struct {
	Alert       string            `yaml:"alert"`
	Severity    string            `yaml:"severity"`
	Scope       string            `yaml:"scope"` // "target": thresholds can be overridden per target or engine
	For         string            `yaml:"for"`
	Expr        string            `yaml:"expr"`
	Panel       string            `yaml:"panel"`
	Summary     map[string]string `yaml:"summary"`
	Description map[string]string `yaml:"description"`
	Runbook     map[string]string `yaml:"runbook"`
}

// AlertPack is one file of alert definitions.
type AlertPack struct {
	Group  string     `yaml:"group"`
	Alerts []AlertDef `yaml:"alerts"`
}

// LoadAlertPacks reads every alerts/*.yml of the rules asset tree, sorted by file name.
func LoadAlertPacks(rules fs.FS) (map[string]AlertPack, error) {
	names, err := fs.Glob(rules, "alerts/*.yml")
	if err != nil {
		return nil, err
	}
	out := map[string]AlertPack{}
	for _, n := range names {
		data, err := fs.ReadFile(rules, n)
		if err != nil {
			return nil, err
		}
		var p AlertPack
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&p); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		out[strings.TrimSuffix(path.Base(n), ".yml")] = p
	}
	return out, nil
}

// AlertNames lists every alert llmmon can generate, for validating spec.alerts.disable.
func AlertNames(rules fs.FS) ([]string, error) {
	packs, err := LoadAlertPacks(rules)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range packs {
		for _, a := range p.Alerts {
			names = append(names, a.Alert)
		}
	}
	sort.Strings(names)
	return names, nil
}

type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name     string `yaml:"name"`
	Interval string `yaml:"interval,omitempty"`
	Rules    []rule `yaml:"rules"`
}

type rule struct {
	Alert       string            `yaml:"alert,omitempty"`
	Record      string            `yaml:"record,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// thresholdView exposes thresholds to templates with a Seconds helper on durations.
type thresholdView struct {
	spec.Thresholds
}

type exprData struct {
	T   thresholdView
	Sel string
	And string
}

// scope is one set of thresholds and the targets it applies to.
type scope struct {
	suffix   string // added to nothing for the default scope
	matchers []string
	t        spec.Thresholds
}

// scopes splits the targets into the default scope and one scope per override, most specific
// first: a target override wins over an engine override, which wins over the defaults.
func scopes(s *spec.Spec) []scope {
	base := s.Alerts.Thresholds
	var out []scope
	var targetNames []string
	for _, o := range s.Alerts.Overrides {
		if o.Target != "" {
			targetNames = append(targetNames, regexp.QuoteMeta(o.Target))
		}
	}
	sort.Strings(targetNames)
	var engineNames []string
	for _, o := range s.Alerts.Overrides {
		switch {
		case o.Target != "":
			out = append(out, scope{suffix: o.Target, matchers: []string{fmt.Sprintf("target=%q", o.Target)}, t: o.Thresholds.Merge(engineThresholds(s, targetEngine(s, o.Target), base))})
		case o.Engine != "":
			engineNames = append(engineNames, o.Engine)
			m := []string{fmt.Sprintf("engine=%q", o.Engine)}
			if len(targetNames) > 0 {
				m = append(m, fmt.Sprintf("target!~%q", strings.Join(targetNames, "|")))
			}
			out = append(out, scope{suffix: o.Engine, matchers: m, t: o.Thresholds.Merge(base)})
		}
	}
	var def []string
	if len(engineNames) > 0 {
		sort.Strings(engineNames)
		def = append(def, fmt.Sprintf("engine!~%q", strings.Join(engineNames, "|")))
	}
	if len(targetNames) > 0 {
		def = append(def, fmt.Sprintf("target!~%q", strings.Join(targetNames, "|")))
	}
	return append([]scope{{matchers: def, t: base}}, out...)
}

func targetEngine(s *spec.Spec, name string) string {
	for _, t := range s.Targets {
		if t.Name == name {
			return t.Engine
		}
	}
	return ""
}

func engineThresholds(s *spec.Spec, engine string, base spec.Thresholds) spec.Thresholds {
	for _, o := range s.Alerts.Overrides {
		if o.Target == "" && o.Engine == engine && engine != "" {
			return o.Thresholds.Merge(base)
		}
	}
	return base
}

func renderRules(b *Bundle, s *spec.Spec, rules fs.FS, o Options, panels map[string]panelRef) error {
	records, err := fs.ReadFile(rules, "records/llm.yml")
	if err != nil {
		return err
	}
	var rf ruleFile
	if err := yaml.Unmarshal(records, &rf); err != nil {
		return fmt.Errorf("records/llm.yml: %w", err)
	}
	for gi, g := range rf.Groups {
		// Each engine's group labels its series with the engine (the same value its targets
		// carry), so that the same record name from two engines is two distinct rules.
		engine, ok := strings.CutPrefix(g.Name, "llmmon-")
		if !ok || JobFor(engine) == "unknown" {
			continue
		}
		for ri := range g.Rules {
			rf.Groups[gi].Rules[ri].Labels = map[string]string{"engine": engine}
		}
	}
	// Targets whose spec maps their metrics get a group of their own, and the groups that
	// would record them by the default names leave them out.
	var mapped, ownCPU, ownMemory []string
	for _, t := range mappedTargets(s) {
		mapped = append(mapped, t.Name)
		if t.Metrics.ProcessCPU != nil {
			ownCPU = append(ownCPU, t.Name)
		}
		if t.Metrics.ProcessMemory != nil {
			ownMemory = append(ownMemory, t.Name)
		}
		rf.Groups = append(rf.Groups, mappedGroup(t))
	}
	for gi := range rf.Groups {
		switch rf.Groups[gi].Name {
		case "llmmon-custom":
			excludeTargets(&rf.Groups[gi], spec.EngineCustom, mapped)
		case "llmmon-process":
			excludeProcess(&rf.Groups[gi], ownCPU, ownMemory)
		}
	}
	rf.Groups = append(rf.Groups, sloRecordGroups(s)...)
	data, err := marshalYAML(rf, "# Generated by llmmon from rules/records/llm.yml: each engine's metrics mapped onto common llmmon:* series.\n")
	if err != nil {
		return err
	}
	b.add("prometheus/rules/records.yml", data)
	packs, err := LoadAlertPacks(rules)
	if err != nil {
		return err
	}
	disabled := map[string]bool{}
	for _, d := range s.Alerts.Disable {
		disabled[d] = true
	}
	known := map[string]bool{}
	names := make([]string, 0, len(packs))
	for n := range packs {
		names = append(names, n)
	}
	sort.Strings(names)
	grafana := GrafanaURL(s)
	for _, name := range names {
		pack := packs[name]
		if name == "gpu" && !o.GPU && !o.GPUExporter && s.DCGMExporterAddress == "" && s.NvidiaSmiExporterAddress == "" {
			for _, a := range pack.Alerts {
				known[a.Alert] = true
			}
			continue
		}
		if name == "fleet" && s.Role() != spec.RoleCentral && len(s.RemoteWrite) == 0 {
			for _, a := range pack.Alerts {
				known[a.Alert] = true
			}
			continue
		}
		if name == "host" && !*s.Host {
			for _, a := range pack.Alerts {
				known[a.Alert] = true
			}
			continue
		}
		g := ruleGroup{Name: pack.Group}
		for _, a := range pack.Alerts {
			known[a.Alert] = true
			if disabled[a.Alert] {
				continue
			}
			scs := []scope{{t: s.Alerts.Thresholds}}
			if a.Scope == "target" {
				scs = scopes(s)
			}
			for _, sc := range scs {
				r, err := alertRule(a, sc, s.Language, grafana, panels)
				if err != nil {
					return fmt.Errorf("alert %s: %w", a.Alert, err)
				}
				g.Rules = append(g.Rules, r)
				if w := s.Alerts.WorkingHours; w != nil && a.Scope == "target" {
					// The same alert with the stricter working-hours thresholds; Alertmanager
					// notifies it only inside the working-hours time interval.
					wsc := sc
					wsc.t = w.Thresholds.Merge(sc.t)
					wr, err := alertRule(a, wsc, s.Language, grafana, panels)
					if err != nil {
						return fmt.Errorf("alert %s: %w", a.Alert, err)
					}
					if wr.Expr != r.Expr || wr.For != r.For {
						wr.Labels["hours"] = "working"
						g.Rules = append(g.Rules, wr)
					}
				}
			}
		}
		if len(g.Rules) == 0 {
			continue
		}
		data, err := marshalYAML(ruleFile{Groups: []ruleGroup{g}}, "# Generated by llmmon from rules/alerts/"+name+".yml and your spec's thresholds.\n")
		if err != nil {
			return err
		}
		b.add("prometheus/rules/"+name+".yml", data)
	}
	if a := s.Alerts.Anomaly; a != nil && a.Enabled {
		g := anomalyGroup(s, grafana, panels)
		known["LLMLatencyAnomaly"], known["LLMThroughputAnomaly"] = true, true
		var kept []rule
		for _, r := range g.Rules {
			if !disabled[r.Alert] {
				kept = append(kept, r)
			}
		}
		g.Rules = kept
		data, err := marshalYAML(ruleFile{Groups: []ruleGroup{g}}, "# Generated by llmmon: anomaly alerts (alerts.anomaly in your spec).\n")
		if err != nil {
			return err
		}
		b.add("prometheus/rules/anomaly.yml", data)
	} else {
		known["LLMLatencyAnomaly"], known["LLMThroughputAnomaly"] = true, true
	}
	known["LLMErrorBudgetBurnFast"], known["LLMErrorBudgetBurnSlow"] = true, true
	if g := sloAlertGroup(s, grafana, panels, disabled); len(g.Rules) > 0 {
		data, err := marshalYAML(ruleFile{Groups: []ruleGroup{g}}, "# Generated by llmmon: multi-window, multi-burn-rate alerts of the SLOs (slo in your spec).\n")
		if err != nil {
			return err
		}
		b.add("prometheus/rules/slo.yml", data)
	}
	for i, t := range s.Targets {
		if t.Remediation == nil {
			continue
		}
		for j, a := range t.Remediation.Alerts {
			if !known[a] {
				hint := "LLMServiceDown is the usual one; `llmmon render` writes every alert into prometheus/rules/"
				if sug := spec.Suggest(a, sortedKeys(known)); sug != "" {
					hint = fmt.Sprintf("did you mean %q?", sug)
				}
				return fmt.Errorf("%w: targets[%d].remediation.alerts[%d]: no alert named %q; %s", spec.ErrInvalid, i, j, a, hint)
			}
		}
	}
	for _, d := range s.Alerts.Disable {
		if !known[d] {
			return fmt.Errorf("%w: alerts.disable: no alert named %q (alerts: %s)", spec.ErrInvalid, d, strings.Join(sortedKeys(known), ", "))
		}
	}
	return nil
}

func alertRule(a AlertDef, sc scope, lang, grafana string, panels map[string]panelRef) (rule, error) {
	d := exprData{T: thresholdView{sc.t}}
	if len(sc.matchers) > 0 {
		d.Sel = "{" + strings.Join(sc.matchers, ",") + "}"
		d.And = "," + strings.Join(sc.matchers, ",")
	}
	exec := func(field, text string) (string, error) {
		t, err := template.New(field).Delims("[[", "]]").Option("missingkey=error").Parse(text)
		if err != nil {
			return "", err
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, d); err != nil {
			return "", err
		}
		return strings.TrimSpace(buf.String()), nil
	}
	expr, err := exec("expr", a.Expr)
	if err != nil {
		return rule{}, err
	}
	forDur, err := exec("for", a.For)
	if err != nil {
		return rule{}, err
	}
	pick := func(m map[string]string) string {
		if v, ok := m[lang]; ok {
			return v
		}
		return m["en"]
	}
	ann := map[string]string{}
	for k, m := range map[string]map[string]string{"summary": a.Summary, "description": a.Description, "runbook": a.Runbook} {
		if text := pick(m); text != "" {
			v, err := exec(k, text)
			if err != nil {
				return rule{}, err
			}
			ann[k] = v
		}
	}
	// The value the expression had when it fired, shown in every notification.
	ann["value"] = valueAnnotation
	if a.Panel != "" {
		p, ok := panels[a.Panel]
		if !ok {
			return rule{}, fmt.Errorf("panel %q is in no dashboard", a.Panel)
		}
		link := fmt.Sprintf("%s/d/%s/?viewPanel=%d", grafana, p.uid, p.id)
		if a.Scope == "target" {
			link += "&var-target={{ $labels.target }}"
		}
		ann["dashboard"] = link
	}
	labels := map[string]string{"severity": a.Severity}
	if sc.suffix != "" {
		labels["thresholds"] = sc.suffix
	}
	return rule{
		Alert:       a.Alert,
		Expr:        expr,
		For:         forDur,
		Labels:      labels,
		Annotations: ann,
	}, nil
}

// valueAnnotation renders the alert's value with three significant digits.
const valueAnnotation = `{{ printf "%.3g" $value }}`

// anomalyGroup returns z-score alerts: p95 latency far above, or throughput far below, its own
// mean over the configured window. The baseline window ends 10 minutes ago (the alerts' `for`),
// so that a lasting change does not absorb itself into its own baseline before it can fire.
func anomalyGroup(s *spec.Spec, grafana string, panels map[string]panelRef) ruleGroup {
	a := s.Alerts.Anomaly
	w := a.Window.String()
	z := fmt.Sprintf("%g", a.ZScore)
	zh := s.Language == "zh"
	text := func(en, cn string) string {
		if zh {
			return cn
		}
		return en
	}
	link := func(key string) string {
		p := panels[key]
		return fmt.Sprintf("%s/d/%s/?viewPanel=%d&var-target={{ $labels.target }}", grafana, p.uid, p.id)
	}
	if a.Baseline == spec.AnomalyLastWeek {
		return lastWeekAnomalyGroup(s, text, link)
	}
	return ruleGroup{Name: "llmmon-anomaly", Rules: []rule{
		{Record: "llmmon:e2e_latency_seconds:p95:avg_" + w, Expr: "avg_over_time(llmmon:e2e_latency_seconds:p95[" + w + "] offset 10m)"},
		{Record: "llmmon:e2e_latency_seconds:p95:stddev_" + w, Expr: "stddev_over_time(llmmon:e2e_latency_seconds:p95[" + w + "] offset 10m)"},
		{Record: "llmmon:generation_tokens:rate5m:avg_" + w, Expr: "avg_over_time(llmmon:generation_tokens:rate5m[" + w + "] offset 10m)"},
		{Record: "llmmon:generation_tokens:rate5m:stddev_" + w, Expr: "stddev_over_time(llmmon:generation_tokens:rate5m[" + w + "] offset 10m)"},
		{
			Alert: "LLMLatencyAnomaly",
			Expr: "(llmmon:e2e_latency_seconds:p95 - llmmon:e2e_latency_seconds:p95:avg_" + w + ") / clamp_min(llmmon:e2e_latency_seconds:p95:stddev_" + w +
				", 0.001) > " + z + " and llmmon:e2e_latency_seconds:p95 > 1.5 * llmmon:e2e_latency_seconds:p95:avg_" + w,
			For:    "10m",
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     text("p95 latency of {{ $labels.target }} is unusually high", "{{ $labels.target }} 的 p95 延迟异常升高"),
				"description": text("p95 latency is more than "+z+" standard deviations above its "+w+" average.", "p95 延迟比过去 "+w+" 的平均值高出 "+z+" 个标准差以上。"),
				"runbook":     text("Compare with the queue, KV-cache usage and recent deployments.", "对照队列、KV 缓存使用率和最近的发布。"),
				"dashboard":   link("llm-latency"),
				"value":       valueAnnotation,
			},
		},
		{
			Alert: "LLMThroughputAnomaly",
			Expr: "(llmmon:generation_tokens:rate5m:avg_" + w + " - llmmon:generation_tokens:rate5m) / clamp_min(llmmon:generation_tokens:rate5m:stddev_" + w +
				", 0.001) > " + z + " and llmmon:generation_tokens:rate5m < 0.5 * llmmon:generation_tokens:rate5m:avg_" + w,
			For:    "10m",
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     text("Throughput of {{ $labels.target }} dropped unusually", "{{ $labels.target }} 的吞吐量异常下降"),
				"description": text("Generated tokens per second are more than "+z+" standard deviations below their "+w+" average.", "每秒生成 token 数比过去 "+w+" 的平均值低 "+z+" 个标准差以上。"),
				"runbook":     text("Check whether traffic dropped (a gateway or client problem) or the engine slowed down.", "检查是流量下降（网关或客户端问题）还是引擎变慢。"),
				"dashboard":   link("llm-tokens"),
				"value":       valueAnnotation,
			},
		},
	}}
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// lastWeekAnomalyGroup compares p95 latency and throughput with the same hour a week earlier
// (the hour centred on now - 7d), so that a daily or weekly rhythm is no anomaly and a change
// against it is. A service without data a week ago has no baseline and raises nothing.
func lastWeekAnomalyGroup(s *spec.Spec, text func(en, cn string) string, link func(string) string) ruleGroup {
	c := s.Alerts.Anomaly.ChangePercent
	up, down := num(1+c/100), num(1-c/100)
	pct := num(c)
	floor := num(s.Alerts.Thresholds.ThroughputMin)
	return ruleGroup{Name: "llmmon-anomaly", Rules: []rule{
		{Record: "llmmon:e2e_latency_seconds:p95:last_week", Expr: "avg_over_time(llmmon:e2e_latency_seconds:p95[1h] offset 6d23h30m)"},
		{Record: "llmmon:generation_tokens:rate5m:last_week", Expr: "avg_over_time(llmmon:generation_tokens:rate5m[1h] offset 6d23h30m)"},
		{
			Alert:  "LLMLatencyAnomaly",
			Expr:   "llmmon:e2e_latency_seconds:p95 > " + up + " * llmmon:e2e_latency_seconds:p95:last_week",
			For:    "10m",
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     text("p95 latency of {{ $labels.target }} is "+pct+" % above last week's", "{{ $labels.target }} 的 p95 延迟比上周同期高 "+pct+" % 以上"),
				"description": text("p95 latency is more than "+pct+" % above its average over the same hour a week ago.", "p95 延迟比一周前同一小时的平均值高出 "+pct+" % 以上。"),
				"runbook":     text("Compare with the queue, KV-cache usage and recent deployments; the dashboards show last week's series beside this week's.", "对照队列、KV 缓存使用率和最近的发布；仪表盘中可对比上周同期曲线。"),
				"dashboard":   link("llm-latency"),
				"value":       valueAnnotation,
			},
		},
		{
			Alert:  "LLMThroughputAnomaly",
			Expr:   "llmmon:generation_tokens:rate5m < " + down + " * llmmon:generation_tokens:rate5m:last_week and llmmon:generation_tokens:rate5m:last_week > " + floor,
			For:    "10m",
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     text("Throughput of {{ $labels.target }} is "+pct+" % below last week's", "{{ $labels.target }} 的吞吐量比上周同期低 "+pct+" % 以上"),
				"description": text("Generated tokens per second are more than "+pct+" % below their average over the same hour a week ago.", "每秒生成 token 数比一周前同一小时的平均值低 "+pct+" % 以上。"),
				"runbook":     text("Check whether traffic dropped (a gateway or client problem) or the engine slowed down.", "检查是流量下降（网关或客户端问题）还是引擎变慢。"),
				"dashboard":   link("llm-tokens"),
				"value":       valueAnnotation,
			},
		},
	}}
}
