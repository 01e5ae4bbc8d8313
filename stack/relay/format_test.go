package relay

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// Every alert lands in exactly one message, and every message is under the platform's limit,
// whatever the number and size of the alerts.
func TestPackCoversEveryAlertUnderTheLimit(t *testing.T) {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	rng := rand.New(rand.NewPCG(1, 2))
	for _, lang := range []string{"en", "zh"} {
		f := formatter{lang: lang, loc: loc}
		for _, r := range []Receiver{{Name: "d", Kind: KindDingTalk, Keyword: "告警", AtMobiles: []string{"13800000000"}}, {Name: "w", Kind: KindWeCom, Mentioned: []string{"a", "@all"}}} {
			for _, n := range []int{1, 3, 5, 6, 40, 500, 2000} {
				items := make([]*item, n)
				for i := range items {
					a := alertN(i, []string{"firing", "resolved"}[rng.IntN(2)], []string{"critical", "warning"}[rng.IntN(2)])
					a.Labels["alertname"] = fmt.Sprintf("Alert%d", rng.IntN(7))
					a.Annotations["summary"] = strings.Repeat("模型服务异常 ", rng.IntN(40))
					items[i] = &item{Alert: a, ExternalURL: "http://127.0.0.1:9093", Seq: uint64(i)}
				}
				msgs := f.pack(&r, items)
				seen := map[string]int{}
				for _, m := range msgs {
					size := len(m.body)
					if r.Kind == KindWeCom {
						var b weComBody
						if err := json.Unmarshal(m.body, &b); err != nil {
							t.Fatal(err)
						}
						if b.Markdown != nil {
							size = len(b.Markdown.Content)
						} else {
							size = len(b.Text.Content)
						}
					}
					if size > limitFor(&r) {
						t.Errorf("%s/%s/%d: message of %d bytes over %d", lang, r.Kind, n, size, limitFor(&r))
					}
					if r.Kind == KindDingTalk && !strings.Contains(string(m.body), "告警") {
						t.Errorf("%s/%d: keyword missing", lang, n)
					}
					for _, k := range m.keys {
						seen[k]++
					}
				}
				if parts := len(msgs); r.Kind == KindDingTalk && parts > 1 {
					marker := fmt.Sprintf("(part 1/%d)", parts)
					if lang == "zh" {
						marker = fmt.Sprintf("（1/%d）", parts)
					}
					if !strings.Contains(string(msgs[0].body), marker) {
						t.Errorf("%s/%d: first of %d messages lacks %q", lang, n, parts, marker)
					}
				}
				for _, it := range items {
					if seen[it.key()] != 1 {
						t.Errorf("%s/%s/%d: alert %s in %d messages", lang, r.Kind, n, it.key(), seen[it.key()])
					}
				}
			}
		}
	}
}
