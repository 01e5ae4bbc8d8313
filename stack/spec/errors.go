package spec

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error that comes from bad spec input, so the CLI can exit 2.
var ErrInvalid = errors.New("invalid spec")

// Problem is one error in a spec, with its place.
type Problem struct {
	File string
	Line int
	Col  int
	// Path is the field's path, e.g. targets[0].url.
	Path string
	Msg  string
	Hint string
	// UnsetEnv marks an environment variable that is not set (see LoadIgnoringUnsetSecrets).
	UnsetEnv bool
}

func (p Problem) String() string {
	var b strings.Builder
	file := p.File
	if file == "" {
		file = "<spec>"
	}
	fmt.Fprintf(&b, "%s:%d:%d: ", file, max(p.Line, 1), max(p.Col, 1))
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	if p.Hint != "" {
		b.WriteString("\n    hint: ")
		b.WriteString(p.Hint)
	}
	return b.String()
}

// Problems is every error found in one spec. It is an error that wraps ErrInvalid.
type Problems []Problem

// maxShown is how many problems Error lists; a file with more is rarely a spec, and the first
// ones say what is wrong.
const maxShown = 100

func (ps Problems) Error() string {
	lines := make([]string, 0, min(len(ps), maxShown)+1)
	for i, p := range ps {
		if i == maxShown {
			lines = append(lines, fmt.Sprintf("... and %d more problem(s) not shown", len(ps)-maxShown))
			break
		}
		lines = append(lines, p.String())
	}
	return strings.Join(lines, "\n")
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (ps Problems) Unwrap() error { return ErrInvalid }

func (ps Problems) sorted() Problems {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		return ps[i].Col < ps[j].Col
	})
	return ps
}

// maxSuggestLen is the longest word suggest compares by edit distance: names in a spec are
// short, and the distance costs the product of the two lengths.
const maxSuggestLen = 64

// maxText is the longest message or hint a problem keeps: a value quoted in a message may be
// as long as the file.
const maxText = 300

// clip shortens s to about maxText bytes, cutting at a character boundary.
func clip(s string) string {
	if len(s) <= maxText {
		return s
	}
	cut := maxText - 60
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d bytes in all)", s[:cut], len(s))
}

// suggest returns the candidate closest to s when it is close enough to be a likely typo.
func suggest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	ls := strings.ToLower(s)
	limit := max(2, len(s)/3)
	if len(ls) <= maxSuggestLen {
		for _, c := range candidates {
			lc := strings.ToLower(c)
			// The distance is at least the difference in length: skip what cannot be close
			// (this also keeps long candidates out of the quadratic comparison).
			if len(lc) > len(ls)+limit || len(ls) > len(lc)+limit {
				continue
			}
			if d := levenshtein(ls, lc); d < bestD {
				best, bestD = c, d
			}
		}
	}
	if bestD <= limit {
		return best
	}
	// A prefix or containment also counts (e.g. "interval" for "scrape_interval").
	for _, c := range candidates {
		lc := strings.ToLower(c)
		if len(ls) >= 3 && (strings.Contains(lc, ls) || strings.Contains(ls, lc)) {
			return c
		}
	}
	return ""
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			// transposition counts as one edit
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev[j-1])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// Suggest returns the candidate closest to s when it is close enough to be a typo, or "".
func Suggest(s string, candidates []string) string { return suggest(s, candidates) }
