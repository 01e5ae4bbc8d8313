// Package replay serves a recorded /metrics exposition of a real server as a live target: the
// recorded text is served as it was printed (its HELP and TYPE lines, label sets, formatting
// and quirks kept), except that the values of counters, histograms and summaries' counts and
// sums grow with time, so that rate() and histogram_quantile() see traffic. Gauges, summary
// quantiles and _created series keep their recorded values.
//
// An inventory taken from an engine's source (a "# INVENTORY FROM SOURCE" file: one line per
// metric family, "name type label1,label2 | HELP text") is first turned into the exposition that
// release prints, with one series per family; the result is marked as generated.
package replay

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Exposition is a recorded or generated /metrics text.
type Exposition struct {
	Name      string // the file it came from
	Generated bool   // made from an inventory, not recorded
	lines     []line
}

type line struct {
	text    string // a comment line, or the part of a sample line before its value
	value   float64
	rest    string // after the value: a timestamp, or ""
	sample  bool
	grows   bool
	family  string
	comment bool
}

// Families returns the metric family names the exposition declares or has samples of, sorted as
// they appear.
func (e *Exposition) Families() []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range e.lines {
		if l.family != "" && !seen[l.family] {
			seen[l.family] = true
			out = append(out, l.family)
		}
	}
	return out
}

// Parse reads a recorded exposition or an inventory (recognised by its first line).
func Parse(name string, data []byte) (*Exposition, error) {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("# INVENTORY FROM SOURCE")) {
		text, err := FromInventory(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		e, err := parseText(name, text)
		if err != nil {
			return nil, err
		}
		e.Generated = true
		return e, nil
	}
	return parseText(name, data)
}

func parseText(name string, data []byte) (*Exposition, error) {
	e := &Exposition{Name: name}
	types := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		t := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(t) == "" {
			continue
		}
		if strings.HasPrefix(t, "#") {
			f := strings.Fields(t)
			l := line{text: t, comment: true}
			if len(f) >= 3 && (f[1] == "HELP" || f[1] == "TYPE") {
				l.family = f[2]
				if f[1] == "TYPE" && len(f) >= 4 {
					types[f[2]] = f[3]
				}
			}
			e.lines = append(e.lines, l)
			continue
		}
		head, val, rest, err := splitSample(t)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, n, err)
		}
		metric := head
		if i := strings.IndexByte(head, '{'); i >= 0 {
			metric = head[:i]
		}
		family, grows := classify(metric, types)
		e.lines = append(e.lines, line{text: head, value: val, rest: rest, sample: true, grows: grows, family: family})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return e, nil
}

// splitSample splits "name{labels} value [timestamp]" at its value, honouring quoted label
// values that contain spaces or braces.
func splitSample(t string) (head string, val float64, rest string, err error) {
	end := 0
	if i := strings.IndexByte(t, '{'); i >= 0 && (strings.IndexByte(t, ' ') < 0 || i < strings.IndexByte(t, ' ')) {
		inQuote, esc := false, false
		end = -1
		for j := i + 1; j < len(t); j++ {
			c := t[j]
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inQuote = !inQuote
			case c == '}' && !inQuote:
				end = j + 1
			}
			if end > 0 {
				break
			}
		}
		if end < 0 {
			return "", 0, "", fmt.Errorf("unterminated label set in %q", t)
		}
	} else {
		end = strings.IndexAny(t, " \t")
		if end < 0 {
			return "", 0, "", fmt.Errorf("sample without a value: %q", t)
		}
	}
	head = t[:end]
	f := strings.Fields(t[end:])
	if len(f) == 0 {
		return "", 0, "", fmt.Errorf("sample without a value: %q", t)
	}
	val, err = strconv.ParseFloat(f[0], 64)
	if err != nil {
		return "", 0, "", fmt.Errorf("bad value in %q: %w", t, err)
	}
	return head, val, strings.Join(f[1:], " "), nil
}

// classify returns the family a sample belongs to and whether its value is cumulative.
func classify(metric string, types map[string]string) (string, bool) {
	if strings.HasSuffix(metric, "_created") {
		return strings.TrimSuffix(metric, "_created"), false
	}
	if typ, ok := types[metric]; ok {
		return metric, typ == "counter"
	}
	for _, suf := range []string{"_bucket", "_count", "_sum", "_total"} {
		base := strings.TrimSuffix(metric, suf)
		if base == metric {
			continue
		}
		switch types[base] {
		case "histogram", "summary", "counter":
			return base, true
		case "":
			if _, ok := types[base]; !ok {
				// No TYPE line (an excerpt that starts mid-family): judged by the suffix.
				return base, true
			}
		}
	}
	return metric, false
}

// At returns the exposition as served t seconds after the start: every cumulative value v
// becomes v + t*(v+1), which keeps histograms consistent (buckets stay ordered, +Inf equals
// _count) and gives every counter a positive rate.
func (e *Exposition) At(t float64) []byte {
	var b bytes.Buffer
	if e.Generated {
		b.WriteString("# Generated by llmmon's replay from an inventory taken from the engine's source, not recorded output.\n")
	}
	for _, l := range e.lines {
		if !l.sample {
			b.WriteString(l.text)
			b.WriteByte('\n')
			continue
		}
		v := l.value
		if l.grows {
			v += t * (v + 1)
		}
		b.WriteString(l.text)
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		if l.rest != "" {
			b.WriteByte(' ')
			b.WriteString(l.rest)
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// Handler serves the exposition on /metrics (any path), growing from the first request.
func (e *Exposition) Handler() http.Handler {
	var once sync.Once
	var start time.Time
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { start = time.Now() })
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write(e.At(time.Since(start).Seconds()))
	})
}
