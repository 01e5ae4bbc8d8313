package relay

import (
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack/spec"
)

func TestNextReport(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	sc, _ := spec.ParseSchedule("mon 09:00")
	at := func(s string) time.Time { v, _ := time.ParseInLocation("2006-01-02 15:04", s, sh); return v }
	for _, c := range []struct{ name, last, now, want string }{
		// 2026-12-07 is a Monday.
		{"first start, before the time", "", "2026-12-07 08:00", "2026-12-07 09:00"},
		{"sent this week: next week", "2026-12-07 09:00", "2026-12-07 09:05", "2026-12-14 09:00"},
		{"restart right after sending: not again", "2026-12-07 09:00", "2026-12-07 09:00", "2026-12-14 09:00"},
		{"down at 09:00, back at 15:00: sent late", "2026-11-30 09:00", "2026-12-07 15:00", "2026-12-07 09:00"},
		{"down at 09:00, back the next day: skipped", "2026-11-30 09:00", "2026-12-08 10:00", "2026-12-14 09:00"},
		{"first start after the time: nothing to catch up on", "", "2026-12-07 15:00", "2026-12-14 09:00"},
	} {
		var last time.Time
		if c.last != "" {
			last = at(c.last)
		}
		if got := nextReport(sc, sh, last, at(c.now)); !got.Equal(at(c.want)) {
			t.Errorf("%s: due %s, want %s", c.name, got.In(sh).Format("2006-01-02 15:04"), c.want)
		}
	}
}
