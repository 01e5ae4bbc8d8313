package spec

import (
	"strings"
	"testing"
	"time"
)

func TestScheduleNext(t *testing.T) {
	sh, _ := time.LoadLocation("Asia/Shanghai")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	for _, c := range []struct {
		sched string
		loc   *time.Location
		now   string // RFC 3339
		want  string
	}{
		// 2026-12-07 is a Monday.
		{"mon 09:00", sh, "2026-12-07T08:59:00+08:00", "2026-12-07T09:00:00+08:00"},
		{"mon 09:00", sh, "2026-12-07T09:00:00+08:00", "2026-12-14T09:00:00+08:00"},
		{"Sun 23:30", sh, "2026-12-07T10:00:00+08:00", "2026-12-13T23:30:00+08:00"},
		{"daily 08:30", sh, "2026-12-31T09:00:00+08:00", "2027-01-01T08:30:00+08:00"},
		{"monthly 09:00", sh, "2026-12-01T09:00:00+08:00", "2027-01-01T09:00:00+08:00"},
		{"monthly 09:00", sh, "2026-11-30T23:00:00Z", "2026-12-01T09:00:00+08:00"},
		// Across the change to summer time: still 09:00 on the wall clock.
		{"mon 09:00", berlin, "2027-03-24T12:00:00+01:00", "2027-03-29T09:00:00+02:00"},
	} {
		sc, err := ParseSchedule(c.sched)
		if err != nil {
			t.Fatalf("%s: %v", c.sched, err)
		}
		now, _ := time.Parse(time.RFC3339, c.now)
		want, _ := time.Parse(time.RFC3339, c.want)
		if got := sc.Next(now, c.loc); !got.Equal(want) {
			t.Errorf("%s after %s: %s, want %s", c.sched, c.now, got, want)
		}
	}
	for _, bad := range []string{"", "mon", "monday 09:00", "mon 9", "mon 24:00", "mon 09:60", "mon 09:5", "weekly 09:00"} {
		if _, err := ParseSchedule(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestReportSpec(t *testing.T) {
	s, _, err := LoadBytes("r.yaml", []byte(`
notify:
  receivers:
    - {name: mail, email: {to: [a@b.c], from: m@b.c, smarthost: "smtp.b.c:587"}}
    - {name: hook, webhook: {url: "http://h/x"}}
report: {schedule: "monthly 09:00"}
prometheus: {retention: 60d}
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if s.Report.Period.D() != 30*24*time.Hour {
		t.Errorf("monthly period: %s, want 30d", s.Report.Period)
	}
	if rs := s.ReportReceivers(); len(rs) != 1 || rs[0].Name != "mail" {
		t.Errorf("report receivers: %+v, want mail only (a webhook cannot carry it)", rs)
	}
	ps := problemsOf(t, "r.yaml", []byte(`
notify:
  receivers:
    - {name: mail, email: {to: [a@b.c], from: m@b.c, smarthost: "smtp.b.c:587"}}
    - {name: hook, webhook: {url: "http://h/x"}}
report: {schedule: "monday 9:00", period: 30d, receivers: [mial, hook]}
`))
	text := ps.Error()
	for _, want := range []string{"r.yaml:6:", "report.schedule", `unknown day "monday"`, "report.period", "set prometheus.retention to 60d",
		`no receiver named "mial"`, `did you mean "mail"`, `receiver "hook" is a webhook receiver`} {
		if !strings.Contains(text, want) {
			t.Errorf("problems lack %q:\n%s", want, text)
		}
	}
}
