package replay

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseRecording(t *testing.T) {
	rec := "# step 0 unix_ms 1000 scrape_ms 12.5\na 1\n# step 1 when after unix_ms 6000\na 2\nb 3\n"
	steps, err := ParseRecording([]byte(rec))
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || steps[0].N != 0 || steps[0].UnixMS != 1000 || steps[0].Attrs["scrape_ms"] != "12.5" ||
		string(steps[0].Body) != "a 1\n" || steps[1].Attrs["when"] != "after" || string(steps[1].Body) != "a 2\nb 3\n" {
		t.Fatalf("%+v", steps)
	}
	for _, bad := range []string{"", "a 1\n# step 0 unix_ms 1\n", "# step x unix_ms 1\n", "# step 0 when\n", "# step 0 unix_ms soon\n"} {
		if _, err := ParseRecording([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestStepped(t *testing.T) {
	steps := []Step{{N: 0, Body: []byte("s 0\n")}, {N: 1, Body: []byte("s 1\n")}, {N: 2, Body: []byte("s 2\n")}}
	s := NewStepped(steps, time.Second)
	t0 := time.Now()
	if s.Index(t0.Add(time.Hour)) != 0 {
		t.Error("not started, but not at the first step")
	}
	s.Start(t0)
	for d, want := range map[time.Duration]int{-time.Second: 0, 0: 0, 999 * time.Millisecond: 0, time.Second: 1, 2500 * time.Millisecond: 2, time.Hour: 2} {
		if got := s.Index(t0.Add(d)); got != want {
			t.Errorf("at %v: step %d, want %d", d, got, want)
		}
	}
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.HasPrefix(w.Body.String(), "s 0") || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("served %q (%s)", w.Body, w.Header().Get("Content-Type"))
	}
}
