package spec

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed report schedule.
type Schedule struct {
	Every        string // week, day or month
	Weekday      time.Weekday
	Hour, Minute int
}

// ParseSchedule reads "mon 09:00", "daily 09:00" or "monthly 09:00".
func ParseSchedule(s string) (Schedule, error) {
	f := strings.Fields(strings.ToLower(s))
	if len(f) != 2 {
		return Schedule{}, fmt.Errorf("want a day and a time, e.g. \"mon 09:00\"")
	}
	var sc Schedule
	switch day := f[0]; {
	case day == "daily":
		sc.Every = "day"
	case day == "monthly":
		sc.Every = "month"
	case slices.Contains(weekdays, day):
		sc.Every = "week"
		sc.Weekday = time.Weekday((slices.Index(weekdays, day) + 1) % 7)
	default:
		return Schedule{}, fmt.Errorf("unknown day %q", f[0])
	}
	hh, mm, ok := strings.Cut(f[1], ":")
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if !ok || err1 != nil || err2 != nil || h < 0 || h > 23 || m < 0 || m > 59 || len(mm) != 2 {
		return Schedule{}, fmt.Errorf("invalid time %q", f[1])
	}
	sc.Hour, sc.Minute = h, m
	return sc, nil
}

// Next is the first time after t (in loc) the schedule says.
func (sc Schedule) Next(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	at := func(y int, mo time.Month, d int) time.Time { return time.Date(y, mo, d, sc.Hour, sc.Minute, 0, 0, loc) }
	switch sc.Every {
	case "month":
		n := at(t.Year(), t.Month(), 1)
		if !n.After(t) {
			n = at(t.Year(), t.Month()+1, 1)
		}
		return n
	case "week":
		n := at(t.Year(), t.Month(), t.Day()+(int(sc.Weekday)-int(t.Weekday())+7)%7)
		if !n.After(t) {
			n = at(t.Year(), t.Month(), t.Day()+(int(sc.Weekday)-int(t.Weekday())+7)%7+7)
		}
		return n
	}
	n := at(t.Year(), t.Month(), t.Day())
	if !n.After(t) {
		n = at(t.Year(), t.Month(), t.Day()+1)
	}
	return n
}

// DefaultPeriod is what a report of the schedule covers when the spec does not say.
func (sc Schedule) DefaultPeriod() Duration {
	switch sc.Every {
	case "day":
		return Duration(24 * time.Hour)
	case "month":
		return Duration(30 * 24 * time.Hour)
	}
	return Duration(7 * 24 * time.Hour)
}

// ReportKinds are the receiver kinds a scheduled report goes to.
var ReportKinds = []string{"email", "dingtalk", "wecom"}

// ReportReceivers are the receivers of the scheduled report, in the spec's order.
func (s *Spec) ReportReceivers() []Receiver {
	if s.Report == nil {
		return nil
	}
	var out []Receiver
	for _, r := range s.Notify.Receivers {
		if !slices.Contains(ReportKinds, r.Kind()) {
			continue
		}
		if len(s.Report.Receivers) == 0 || slices.Contains(s.Report.Receivers, r.Name) {
			out = append(out, r)
		}
	}
	return out
}

func (v *validator) report(s *Spec) {
	r := s.Report
	if r == nil {
		return
	}
	if _, err := ParseSchedule(r.Schedule); err != nil {
		v.add("report.schedule", fmt.Sprintf("schedule %q: %v", r.Schedule, err), "write a day and a 24-hour time in the spec's timezone: \"mon 09:00\" (weekly), \"daily 08:30\" or \"monthly 09:00\" (the first of the month)")
	}
	if r.Period != 0 && (r.Period.D() < time.Hour || r.Period.D() > 90*24*time.Hour) {
		v.add("report.period", fmt.Sprintf("period %s is out of range", r.Period), "use 1h to 90d; Prometheus must also keep twice the period (prometheus.retention) for the comparison with the period before")
	}
	if r.Period.D() > 0 && s.Prometheus.Retention.D() > 0 && 2*r.Period.D() > s.Prometheus.Retention.D() {
		v.add("report.period", fmt.Sprintf("a report of %s compares it with the %s before, but Prometheus keeps only %s", r.Period, r.Period, s.Prometheus.Retention), fmt.Sprintf("set prometheus.retention to %s or more", Duration(2*r.Period.D())))
	}
	names := map[string]string{}
	var usable []string
	for _, rc := range s.Notify.Receivers {
		names[rc.Name] = rc.Kind()
		if slices.Contains(ReportKinds, rc.Kind()) {
			usable = append(usable, rc.Name)
		}
	}
	for i, n := range r.Receivers {
		p := fmt.Sprintf("report.receivers[%d]", i)
		kind, ok := names[n]
		switch {
		case !ok:
			hint := "name a receiver of notify.receivers"
			if sug := v.suggest(n, usable); sug != "" {
				hint = fmt.Sprintf("did you mean %q? ", sug) + hint
			}
			v.add(p, fmt.Sprintf("no receiver named %q", n), hint)
		case !slices.Contains(ReportKinds, kind):
			v.add(p, fmt.Sprintf("receiver %q is a %s receiver, which cannot carry the report", n, kind), "the report goes to email, dingtalk and wecom receivers")
		}
	}
	if len(r.Receivers) == 0 && len(usable) == 0 {
		v.addKey("report", "the report has nowhere to go: there is no email, dingtalk or wecom receiver", "add one under notify.receivers, or remove report")
	}
}
