package report

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// words are the report's texts in each language.
var words = map[string]map[string]string{
	"en": {
		"title": "LLM service report", "period": "Period", "vs": "change against the %s before",
		"service": "Service", "figure": "Figure", "this": "This period", "before": "Before", "change": "Change",
		"uptime": "Uptime (scrapes answered)", "availability": "Availability (requests without error)",
		"objective": "objective %s", "requests": "Requests", "errors": "Error rate",
		"p50": "Latency p50", "p95": "Latency p95", "p99": "Latency p99", "ttft": "Time to first token p95",
		"tpot": "Time per output token p95 (mean)", "tokens": "Generated tokens/s (mean)",
		"queue": "Queue peak", "kv": "KV-cache peak", "gpus": "GPUs", "gpu": "GPU", "util": "Utilisation (mean)",
		"mem": "Memory peak", "temp": "Temperature peak", "alerts": "Alerts that fired", "alert": "Alert",
		"target": "Service", "severity": "Severity", "firing": "Firing for", "none": "None.",
		"remediation": "Auto-recovery", "results": "Decisions", "nodata": "no data",
		"budget.availability": "Error budget left (availability)", "budget.latency": "Error budget left (latency)",
		"plot.uptime": "Uptime", "unit.uptime": "%", "plot.requests": "Requests/s", "plot.errors": "Error rate", "plot.latency": "Latency p95",
		"plot.tokens": "Generated tokens/s", "plot.gpu": "GPU utilisation", "plot.budget": "Error budget left (availability)",
		"plot.dashed":   "dashed: the period before",
		"unit.requests": "req/s", "unit.errors": "%", "unit.latency": "s", "unit.tokens": "tokens/s", "unit.gpu": "%", "unit.budget": "%",
		"plots":          "Plots",
		"summary.alerts": "Alerts that fired: %d, %s in all.", "summary.link": "Open the overview of the period in Grafana",
		"summary.availability": "availability", "summary.uptime": "uptime", "summary.requests": "requests",
		"summary.budget": "budget left", "summary.more": "and %d more services in the emailed report",
	},
	"zh": {
		"title": "大模型服务报告", "period": "周期", "vs": "与上一个%s相比",
		"service": "服务", "figure": "指标", "this": "本周期", "before": "上周期", "change": "变化",
		"uptime": "在线率（抓取成功）", "availability": "可用性（无错误请求）",
		"objective": "目标 %s", "requests": "请求数", "errors": "错误率",
		"p50": "延迟 p50", "p95": "延迟 p95", "p99": "延迟 p99", "ttft": "首 token 时间 p95",
		"tpot": "每 token 时间 p95（均值）", "tokens": "生成 token/s（均值）",
		"queue": "队列峰值", "kv": "KV 缓存峰值", "gpus": "GPU", "gpu": "GPU", "util": "利用率（均值）",
		"mem": "显存峰值", "temp": "温度峰值", "alerts": "触发的告警", "alert": "告警",
		"target": "服务", "severity": "级别", "firing": "持续时间", "none": "无。",
		"remediation": "自动恢复", "results": "决策", "nodata": "无数据",
		"budget.availability": "剩余错误预算（可用性）", "budget.latency": "剩余错误预算（延迟）",
		"plot.uptime": "在线率", "unit.uptime": "%", "plot.requests": "每秒请求数", "plot.errors": "错误率", "plot.latency": "延迟 p95",
		"plot.tokens": "每秒生成 token", "plot.gpu": "GPU 利用率", "plot.budget": "剩余错误预算（可用性）",
		"plot.dashed":   "虚线：上一周期",
		"unit.requests": "请求/秒", "unit.errors": "%", "unit.latency": "秒", "unit.tokens": "token/秒", "unit.gpu": "%", "unit.budget": "%",
		"plots":          "趋势图",
		"summary.alerts": "触发告警 %d 个，共持续 %s。", "summary.link": "在 Grafana 中查看本周期总览",
		"summary.availability": "可用性", "summary.uptime": "在线率", "summary.requests": "请求",
		"summary.budget": "剩余预算", "summary.more": "另有 %d 个服务，见邮件报告",
	},
}

// doc is the report laid out as sections of tables, which Markdown and HTML both write.
type doc struct {
	Title, Period string
	Sections      []section
}

type section struct {
	Heading string
	Text    string // when there is no table
	Head    []string
	Right   []bool // right-aligned columns
	Rows    [][]string
}

// layout lays the report out in lang, times in loc.
func (r *Report) layout(lang string, loc *time.Location) (doc, map[string]string) {
	w, ok := words[lang]
	if !ok {
		w = words["en"]
	}
	if loc == nil {
		loc = time.UTC
	}
	period := model.Duration(r.Period).String()
	d := doc{Title: w["title"], Period: fmt.Sprintf("%s: %s – %s (%s); %s.", w["period"], r.Start.In(loc).Format("2006-01-02 15:04"),
		r.End.In(loc).Format("2006-01-02 15:04 MST"), period, fmt.Sprintf(w["vs"], period))}
	for _, s := range r.Services {
		sec := section{Heading: s.Target, Head: []string{w["figure"], w["this"], w["before"], w["change"]}, Right: []bool{false, true, true, true}}
		avail := w["availability"]
		if s.Objective > 0 {
			avail += " (" + fmt.Sprintf(w["objective"], pct(s.Objective, 2)) + ")"
		}
		// Shares (points) change by percentage points, the rest by a percent of themselves.
		rows := []struct {
			name   string
			f      Figure
			show   func(float64) string
			points bool
		}{
			{w["uptime"], s.Uptime, ratio2, true},
			{avail, s.Availability, ratio2, true},
			{w["requests"], s.Requests, count, false},
			{w["errors"], s.ErrorRate, ratio2, true},
			{w["p50"], s.P50, secs, false},
			{w["p95"], s.P95, secs, false},
			{w["p99"], s.P99, secs, false},
			{w["ttft"], s.TTFTP95, secs, false},
			{w["tpot"], s.TPOTP95, secs, false},
			{w["tokens"], s.TokensPerSec, func(v float64) string { return fmt.Sprintf("%.1f", v) }, false},
			{w["queue"], s.QueuePeak, func(v float64) string { return fmt.Sprintf("%.0f", v) }, false},
			{w["kv"], s.KVCachePeak, ratio0, true},
			{w["budget.availability"], s.AvailabilityBudget, ratio0, true},
			{w["budget.latency"], s.LatencyBudget, ratio0, true},
		}
		for _, row := range rows {
			if !row.f.Has && !row.f.HasPrev {
				continue
			}
			c := change(row.f)
			if row.points {
				c = points(row.f)
			}
			sec.Rows = append(sec.Rows, []string{row.name, val(row.f.Value, row.f.Has, row.show, w), val(row.f.Prev, row.f.HasPrev, row.show, w), c})
		}
		d.Sections = append(d.Sections, sec)
	}
	if len(r.GPUs) > 0 {
		sec := section{Heading: w["gpus"], Head: []string{w["gpu"], w["util"], w["mem"], w["temp"]}, Right: []bool{false, true, true, true}}
		for _, g := range r.GPUs {
			sec.Rows = append(sec.Rows, []string{strings.TrimSpace(fmt.Sprintf("%s %s %s", g.Host, g.GPU, g.Model)),
				withChange(g.Utilization, func(v float64) string { return fmt.Sprintf("%.0f %%", v) }, w),
				withChange(g.MemoryPeak, func(v float64) string { return fmt.Sprintf("%.0f %%", v) }, w),
				withChange(g.TemperaturePeak, func(v float64) string { return fmt.Sprintf("%.0f °C", v) }, w)})
		}
		d.Sections = append(d.Sections, sec)
	}
	alerts := section{Heading: w["alerts"], Text: w["none"]}
	if len(r.Alerts) > 0 {
		alerts = section{Heading: w["alerts"], Head: []string{w["alert"], w["target"], w["severity"], w["firing"]}, Right: []bool{false, false, false, true}}
		for _, a := range r.Alerts {
			alerts.Rows = append(alerts.Rows, []string{a.Name, dash(a.Target), a.Severity, model.Duration(a.Firing.Round(time.Second)).String()})
		}
	}
	d.Sections = append(d.Sections, alerts)
	if len(r.Remediation) > 0 {
		sec := section{Heading: w["remediation"], Head: []string{w["target"], w["results"]}, Right: []bool{false, false}}
		targets := make([]string, 0, len(r.Remediation))
		for t := range r.Remediation {
			targets = append(targets, t)
		}
		sort.Strings(targets)
		for _, t := range targets {
			var parts []string
			for res, n := range r.Remediation[t] {
				parts = append(parts, fmt.Sprintf("%s %d", res, n))
			}
			sort.Strings(parts)
			sec.Rows = append(sec.Rows, []string{t, strings.Join(parts, ", ")})
		}
		d.Sections = append(d.Sections, sec)
	}
	return d, w
}

// Markdown writes the report in lang (en or zh), times in loc.
func (r *Report) Markdown(lang string, loc *time.Location) []byte {
	d, _ := r.layout(lang, loc)
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n%s\n\n", d.Title, d.Period)
	for _, sec := range d.Sections {
		fmt.Fprintf(&b, "## %s\n\n", sec.Heading)
		if len(sec.Head) == 0 {
			b.WriteString(sec.Text + "\n\n")
			continue
		}
		b.WriteString("| " + strings.Join(sec.Head, " | ") + " |\n|")
		for _, right := range sec.Right {
			b.WriteString(map[bool]string{true: "---:|", false: "---|"}[right])
		}
		b.WriteString("\n")
		for _, row := range sec.Rows {
			b.WriteString("| " + strings.Join(row, " | ") + " |\n")
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

func val(v float64, has bool, show func(float64) string, w map[string]string) string {
	if !has {
		return w["nodata"]
	}
	return show(v)
}

func withChange(f Figure, show func(float64) string, w map[string]string) string {
	s := val(f.Value, f.Has, show, w)
	if c := change(f); c != "–" {
		s += " (" + c + ")"
	}
	return s
}

func change(f Figure) string {
	c, ok := f.Change()
	if !ok {
		return "–"
	}
	return fmt.Sprintf("%+.1f %%", c*100)
}

func ratio2(v float64) string { return pct(v, 2) }
func ratio0(v float64) string { return pct(v, 0) }

func points(f Figure) string {
	if !f.Has || !f.HasPrev {
		return "–"
	}
	return fmt.Sprintf("%+.2f pp", (f.Value-f.Prev)*100)
}

func pct(v float64, digits int) string { return fmt.Sprintf("%.*f %%", digits, v*100) }

func secs(v float64) string {
	if v < 1 {
		return fmt.Sprintf("%.0f ms", v*1000)
	}
	return fmt.Sprintf("%.2f s", v)
}

func count(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
