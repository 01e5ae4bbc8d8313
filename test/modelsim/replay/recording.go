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

// Step is one scrape of a recording taken on a real host (test/gpurun/record.py): what the server
// answered at that moment, and the recorder's notes about it.
type Step struct {
	N      int               // step number, one every 5 s from the recording's start
	UnixMS int64             // when the recorder asked
	Attrs  map[string]string // the other "key value" pairs of the step's header line
	Body   []byte            // the answer, as served
}

// ParseRecording reads a recording: per step a header line "# step N key value ..." (unix_ms
// among the keys), then the answer. Lines before the first header are not allowed.
func ParseRecording(data []byte) ([]Step, error) {
	var steps []Step
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if strings.HasPrefix(line, "# step ") {
			f := strings.Fields(line)[2:]
			if len(f)%2 != 1 {
				return nil, fmt.Errorf("line %d: want \"# step N key value ...\", got %q", n, line)
			}
			num, err := strconv.Atoi(f[0])
			if err != nil {
				return nil, fmt.Errorf("line %d: step number %q: %w", n, f[0], err)
			}
			s := Step{N: num, Attrs: map[string]string{}}
			for i := 1; i < len(f); i += 2 {
				s.Attrs[f[i]] = f[i+1]
			}
			if s.UnixMS, err = strconv.ParseInt(s.Attrs["unix_ms"], 10, 64); err != nil {
				return nil, fmt.Errorf("line %d: unix_ms %q: %w", n, s.Attrs["unix_ms"], err)
			}
			delete(s.Attrs, "unix_ms")
			steps = append(steps, s)
			continue
		}
		if len(steps) == 0 {
			return nil, fmt.Errorf("line %d: text before the first \"# step\" line", n)
		}
		s := &steps[len(steps)-1]
		s.Body = append(append(s.Body, line...), '\n')
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("no \"# step\" lines: not a recording")
	}
	return steps, nil
}

// Stepped serves the steps' answers in turn, as the recorded server answered them: the first
// until Start, then each for `every`; after the last it keeps serving the last. Nothing is
// altered: counters move as they moved on the real host.
type Stepped struct {
	steps []Step
	every time.Duration
	mu    sync.Mutex
	start time.Time
}

// NewStepped serves steps, one each `every` once started.
func NewStepped(steps []Step, every time.Duration) *Stepped {
	return &Stepped{steps: steps, every: every}
}

// Start makes the step served at t the first, and advances one step each `every` after it.
func (s *Stepped) Start(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start = t
}

// Index is the step served at t.
func (s *Stepped) Index(t time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.start.IsZero() || t.Before(s.start) {
		return 0
	}
	return min(int(t.Sub(s.start)/s.every), len(s.steps)-1)
}

// ServeHTTP writes the answer of the step due now.
func (s *Stepped) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write(s.steps[s.Index(time.Now())].Body)
}
