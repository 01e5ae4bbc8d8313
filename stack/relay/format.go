package relay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Alert is one alert of an Alertmanager webhook notification (payload version 4).
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Notification is Alertmanager's webhook payload.
type Notification struct {
	Version         string            `json:"version"`
	GroupKey        string            `json:"groupKey"`
	TruncatedAlerts int               `json:"truncatedAlerts"`
	Status          string            `json:"status"`
	Receiver        string            `json:"receiver"`
	GroupLabels     map[string]string `json:"groupLabels"`
	CommonLabels    map[string]string `json:"commonLabels"`
	ExternalURL     string            `json:"externalURL"`
	Alerts          []Alert           `json:"alerts"`
}

// item is an alert waiting to be delivered.
type item struct {
	Alert       Alert     `json:"alert"`
	ExternalURL string    `json:"external_url"`
	Received    time.Time `json:"received"`
	Seq         uint64    `json:"seq"`
}

func (it *item) key() string {
	fp := it.Alert.Fingerprint
	if fp == "" {
		ls := make([]string, 0, len(it.Alert.Labels))
		for k, v := range it.Alert.Labels {
			ls = append(ls, k+"="+v)
		}
		sort.Strings(ls)
		fp = strings.Join(ls, ",")
	}
	return fp + "/" + it.Alert.Status
}

// Byte limits of the platforms.
const (
	// DingTalkMaxBody is the largest request body a DingTalk robot accepts (errcode 460101).
	DingTalkMaxBody = 20000
	// WeComMaxMarkdown is the largest markdown content of a WeCom robot message (errcode 40058).
	WeComMaxMarkdown = 4096
	// WeComMaxText is the largest text content of a WeCom robot message.
	WeComMaxText = 2048
)

// detailedUpTo is the number of alerts up to which a message shows each alert in full; more
// are listed one line each, so that a storm fits in a few messages.
const detailedUpTo = 5

var words = map[string]map[string]string{
	"en": {
		"firing": "FIRING", "resolved": "RESOLVED", "value": "Value", "service": "Service",
		"since": "Since", "ended": "Resolved at", "dashboard": "Dashboard", "silence": "Silence",
		"part": "part", "all": "All alerts", "mention": "%d alert(s) firing, see the message above",
	},
	"zh": {
		"firing": "告警", "resolved": "已恢复", "value": "当前值", "service": "服务",
		"since": "开始时间", "ended": "恢复时间", "dashboard": "查看面板", "silence": "静默",
		"all": "全部告警", "mention": "%d 条告警正在触发，详见上一条消息",
	},
}

// formatter renders alerts as robot messages.
type formatter struct {
	lang string
	loc  *time.Location
}

// message is one request body to a robot and the alerts it carries.
type message struct {
	body []byte
	keys []string
	// mention is a follow-up message mentioning people (WeCom @all and mobiles need text).
	mention bool
}

func (f formatter) w(k string) string { return words[f.lang][k] }

func target(a Alert) string {
	if t := a.Labels["target"]; t != "" {
		return t
	}
	return a.Labels["instance"]
}

func (f formatter) when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(f.loc).Format("2006-01-02 15:04:05 MST")
}

func silenceLink(it *item) string {
	if it.ExternalURL == "" {
		return ""
	}
	var m []string
	for _, l := range []string{"alertname", "target", "instance"} {
		if v := it.Alert.Labels[l]; v != "" {
			m = append(m, fmt.Sprintf("%s=%q", l, v))
		}
	}
	return strings.TrimRight(it.ExternalURL, "/") + "/#/silences/new?filter=" + url.QueryEscape("{"+strings.Join(m, ",")+"}")
}

func summary(a Alert) string {
	if s := a.Annotations["summary"]; s != "" {
		return s
	}
	return a.Labels["alertname"]
}

// oneLine keeps markdown from breaking a line: newlines become spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func (f formatter) statusWord(a Alert, wecom bool) string {
	if a.Status == "resolved" {
		if wecom {
			return `<font color="info">` + f.w("resolved") + `</font>`
		}
		return "✅ " + f.w("resolved")
	}
	if wecom {
		return `<font color="warning">` + f.w("firing") + `</font>`
	}
	if a.Labels["severity"] == "critical" {
		return "🔴 " + f.w("firing")
	}
	return "🟠 " + f.w("firing")
}

// detailed renders one alert in full.
func (f formatter) detailed(it *item, wecom bool) string {
	a := it.Alert
	var b strings.Builder
	sev := a.Labels["severity"]
	if wecom {
		fmt.Fprintf(&b, "**%s · %s · %s**\n", f.statusWord(a, true), sev, a.Labels["alertname"])
		fmt.Fprintf(&b, "> %s\n", oneLine(summary(a)))
		if v := a.Annotations["value"]; v != "" {
			fmt.Fprintf(&b, "> %s: %s\n", f.w("value"), oneLine(v))
		}
		fmt.Fprintf(&b, "> %s: %s", f.w("service"), target(a))
		if in := a.Labels["instance"]; in != "" && in != target(a) {
			fmt.Fprintf(&b, " (%s)", in)
		}
		fmt.Fprintf(&b, "\n> %s: %s\n", f.w("since"), f.when(a.StartsAt))
		if a.Status == "resolved" {
			fmt.Fprintf(&b, "> %s: %s\n", f.w("ended"), f.when(a.EndsAt))
		}
	} else {
		fmt.Fprintf(&b, "#### %s · %s · %s\n\n", f.statusWord(a, false), sev, a.Labels["alertname"])
		fmt.Fprintf(&b, "**%s**\n\n", oneLine(summary(a)))
		if v := a.Annotations["value"]; v != "" {
			fmt.Fprintf(&b, "- %s: %s\n", f.w("value"), oneLine(v))
		}
		fmt.Fprintf(&b, "- %s: %s", f.w("service"), target(a))
		if in := a.Labels["instance"]; in != "" && in != target(a) {
			fmt.Fprintf(&b, " (%s)", in)
		}
		fmt.Fprintf(&b, "\n- %s: %s\n", f.w("since"), f.when(a.StartsAt))
		if a.Status == "resolved" {
			fmt.Fprintf(&b, "- %s: %s\n", f.w("ended"), f.when(a.EndsAt))
		}
		b.WriteString("\n")
	}
	var links []string
	if d := a.Annotations["dashboard"]; d != "" {
		links = append(links, fmt.Sprintf("[%s](%s)", f.w("dashboard"), d))
	}
	if s := silenceLink(it); s != "" && a.Status != "resolved" {
		links = append(links, fmt.Sprintf("[%s](%s)", f.w("silence"), s))
	}
	if len(links) > 0 {
		b.WriteString(strings.Join(links, " · ") + "\n")
	}
	b.WriteString("\n")
	return b.String()
}

// compact renders alerts grouped by alert name and status: one heading per group, then each
// target with its value, so that a storm of hundreds of alerts fits in a few messages.
func (f formatter) compact(items []*item, wecom bool) string {
	type group struct {
		status, name, severity, summary, dashboard string
		since                                      time.Time
		entries                                    []string
	}
	var groups []*group
	index := map[string]*group{}
	for _, it := range items {
		a := it.Alert
		k := a.Status + "/" + a.Labels["alertname"] + "/" + a.Labels["severity"]
		g := index[k]
		if g == nil {
			g = &group{status: a.Status, name: a.Labels["alertname"], severity: a.Labels["severity"], summary: oneLine(summary(a)), dashboard: a.Annotations["dashboard"], since: a.StartsAt}
			index[k] = g
			groups = append(groups, g)
		}
		if a.StartsAt.Before(g.since) {
			g.since = a.StartsAt
		}
		e := target(a)
		if v := a.Annotations["value"]; v != "" {
			e += " (" + oneLine(v) + ")"
		}
		g.entries = append(g.entries, e)
	}
	var b strings.Builder
	for _, g := range groups {
		name := g.name
		if g.dashboard != "" {
			name = fmt.Sprintf("[%s](%s)", g.name, g.dashboard)
		}
		status := f.statusWord(Alert{Status: g.status, Labels: map[string]string{"severity": g.severity}}, wecom)
		fmt.Fprintf(&b, "**%s · %s** · %s · %d · %s %s\n", status, name, g.severity, len(g.entries), f.w("since"), g.since.In(f.loc).Format("01-02 15:04"))
		fmt.Fprintf(&b, "> %s\n", g.summary)
		if !wecom {
			b.WriteString("\n")
		}
		b.WriteString(strings.Join(g.entries, " · ") + "\n\n")
	}
	return b.String()
}

// header is the first line of every message; it carries the DingTalk keyword.
func (f formatter) header(items []*item, keyword string, part, parts int) (title, text string) {
	var firing, resolved int
	for _, it := range items {
		if it.Alert.Status == "resolved" {
			resolved++
		} else {
			firing++
		}
	}
	var counts []string
	if firing > 0 {
		counts = append(counts, fmt.Sprintf("%s %d", f.w("firing"), firing))
	}
	if resolved > 0 {
		counts = append(counts, fmt.Sprintf("%s %d", f.w("resolved"), resolved))
	}
	title = "llmmon " + strings.Join(counts, " · ")
	if len(items) == 1 {
		// One alert: its status and summary, like an email subject.
		status := f.w("firing")
		if resolved == 1 {
			status = f.w("resolved")
		}
		title = fmt.Sprintf("[%s] %s", status, oneLine(summary(items[0].Alert)))
	}
	if keyword != "" && !strings.Contains(title, keyword) {
		title = "[" + keyword + "] " + title
	}
	text = "### " + title
	if parts > 1 {
		if f.lang == "zh" {
			text += fmt.Sprintf("（%d/%d）", part, parts)
		} else {
			text += fmt.Sprintf(" (%s %d/%d)", f.w("part"), part, parts)
		}
	}
	return title, text + "\n\n"
}

type dingTalkBody struct {
	MsgType  string `json:"msgtype"`
	Markdown struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	} `json:"markdown"`
	At struct {
		AtMobiles []string `json:"atMobiles,omitempty"`
		IsAtAll   bool     `json:"isAtAll,omitempty"`
	} `json:"at"`
}

type weComBody struct {
	MsgType  string `json:"msgtype"`
	Markdown *struct {
		Content string `json:"content"`
	} `json:"markdown,omitempty"`
	Text *weComText `json:"text,omitempty"`
}

type weComText struct {
	Content             string   `json:"content"`
	MentionedList       []string `json:"mentioned_list,omitempty"`
	MentionedMobileList []string `json:"mentioned_mobile_list,omitempty"`
}

func marshal(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// build renders one message with the given alerts; it returns the request body and the size
// the platform limits (the whole body for DingTalk, the markdown content for WeCom).
func (f formatter) build(r *Receiver, items []*item, detailed bool, part, parts int) ([]byte, int) {
	wecom := r.Kind == KindWeCom
	title, text := f.header(items, r.Keyword, part, parts)
	var b strings.Builder
	b.WriteString(text)
	firing := false
	for _, it := range items {
		if it.Alert.Status != "resolved" {
			firing = true
		}
		if detailed {
			b.WriteString(f.detailed(it, wecom))
		}
	}
	if !detailed {
		b.WriteString(f.compact(items, wecom))
	}
	if !detailed && len(items) > 0 && items[0].ExternalURL != "" {
		fmt.Fprintf(&b, "\n[%s](%s)\n", f.w("all"), strings.TrimRight(items[0].ExternalURL, "/")+"/#/alerts")
	}
	if wecom {
		if firing {
			var ids []string
			for _, m := range r.Mentioned {
				if m != "@all" {
					ids = append(ids, "<@"+m+">")
				}
			}
			if len(ids) > 0 {
				b.WriteString("\n" + strings.Join(ids, " ") + "\n")
			}
		}
		body := weComBody{MsgType: "markdown", Markdown: &struct {
			Content string `json:"content"`
		}{Content: b.String()}}
		return marshal(body), len(body.Markdown.Content)
	}
	var body dingTalkBody
	body.MsgType = "markdown"
	if firing {
		body.At.AtMobiles = r.AtMobiles
		body.At.IsAtAll = r.AtAll
		var at []string
		for _, m := range r.AtMobiles {
			at = append(at, "@"+m)
		}
		if len(at) > 0 {
			b.WriteString("\n" + strings.Join(at, " ") + "\n")
		}
	}
	body.Markdown.Title = title
	body.Markdown.Text = b.String()
	out := marshal(body)
	return out, len(out)
}

func limitFor(r *Receiver) int {
	if r.Kind == KindWeCom {
		return WeComMaxMarkdown
	}
	return DingTalkMaxBody
}

// truncateItem shortens an alert whose own text does not fit in a message.
func truncateItem(it *item, max int) *item {
	c := *it
	c.Alert.Annotations = map[string]string{}
	for k, v := range it.Alert.Annotations {
		if k == "summary" || k == "value" || k == "dashboard" {
			c.Alert.Annotations[k] = cut(v, max)
		}
	}
	return &c
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// pack splits items into as few messages as fit the receiver's byte limit. Each message
// carries its alerts' keys, so that a failed send leaves exactly those alerts pending.
func (f formatter) pack(r *Receiver, items []*item) []message {
	if len(items) == 0 {
		return nil
	}
	limit := limitFor(r)
	detailed := len(items) <= detailedUpTo
	// Room for the "(part 10/12)" marker, which is only known once the split is.
	const partRoom = 32
	fits := func(g []*item) bool {
		_, n := f.build(r, g, detailed, 1, 2)
		return n+partRoom <= limit
	}
	// Greedy: each message takes the longest run of alerts that fits. A message only grows
	// with each alert added, so the run is found by doubling, then bisecting.
	var groups [][]*item
	for i := 0; i < len(items); {
		if !fits(items[i : i+1]) {
			// One alert alone is too long (a huge summary): shorten it until it fits.
			t := items[i]
			for size := 1000; size >= 40; size /= 2 {
				if t = truncateItem(items[i], size); fits([]*item{t}) {
					break
				}
			}
			groups = append(groups, []*item{t})
			i++
			continue
		}
		lo, hi := 1, 2 // items[i:i+lo] fits; find the largest such lo
		for i+hi <= len(items) && fits(items[i:i+hi]) {
			lo, hi = hi, hi*2
		}
		if hi > len(items)-i {
			hi = len(items) - i + 1
		}
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if fits(items[i : i+mid]) {
				lo = mid
			} else {
				hi = mid
			}
		}
		groups = append(groups, items[i:i+lo])
		i += lo
	}
	out := make([]message, 0, len(groups)+1)
	firing := 0
	for i, g := range groups {
		body, _ := f.build(r, g, detailed, i+1, len(groups))
		m := message{body: body}
		for _, it := range g {
			m.keys = append(m.keys, it.key())
			if it.Alert.Status != "resolved" {
				firing++
			}
		}
		out = append(out, m)
	}
	// WeCom markdown cannot @all or @mobile: a short text message after the alerts does.
	if r.Kind == KindWeCom && firing > 0 && (len(r.MentionedMobiles) > 0 || slices.Contains(r.Mentioned, "@all")) {
		var list []string
		if slices.Contains(r.Mentioned, "@all") {
			list = []string{"@all"}
		}
		out = append(out, message{mention: true, body: marshal(weComBody{MsgType: "text", Text: &weComText{
			Content:             fmt.Sprintf(f.w("mention"), firing),
			MentionedList:       list,
			MentionedMobileList: r.MentionedMobiles,
		}})})
	}
	return out
}
