package dashimport_test

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack/dashimport"
)

// countingBody is an endless JSON-looking body that counts the bytes read from it.
type countingBody struct{ n *int64 }

func (b countingBody) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	*b.n += int64(len(p))
	return len(p), nil
}

func (countingBody) Close() error { return nil }

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A dashboard over the cap is refused with its size and the cap, without reading more than
// cap+1 bytes, whether it is a file, a URL or a grafana.com ID.
func TestFetchRefusesDashboardsOverTheCap(t *testing.T) {
	t.Run("file", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "huge.json")
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		// Sparse: 12.5 MiB that take no disk; the size comes from stat, nothing is read.
		if err := f.Truncate(dashimport.MaxSize + dashimport.MaxSize/4); err != nil {
			t.Fatal(err)
		}
		f.Close()
		_, _, err = dashimport.Fetch(t.Context(), nil, p)
		if !errors.Is(err, dashimport.ErrTooLarge) || !strings.Contains(err.Error(), "is 12.5 MiB, over the 10 MiB cap") || !strings.Contains(err.Error(), p) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("file at the cap", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "big.json")
		data := []byte(`{"title":"big","x":"` + strings.Repeat("a", dashimport.MaxSize-len(`{"title":"big","x":""}`)) + `"}`)
		if len(data) != dashimport.MaxSize {
			t.Fatalf("setup: %d bytes", len(data))
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, _, err := dashimport.Fetch(t.Context(), nil, p); err != nil || len(got) != dashimport.MaxSize {
			t.Errorf("a dashboard of exactly the cap: %d bytes, %v", len(got), err)
		}
	})
	for _, tc := range []struct {
		name, source string
		length       int64 // Content-Length; -1 unknown (chunked)
		want         string
	}{
		{"url with a length", "https://example.com/d.json", 40 << 20, "the dashboard at https://example.com/d.json is 40 MiB, over the 10 MiB cap"},
		{"url without a length", "https://example.com/d.json", -1, "the dashboard at https://example.com/d.json is more than 10 MiB, the cap"},
		{"grafana.com id", "12239", -1, "/api/dashboards/12239/revisions/latest/download is more than 10 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			setGrafanaCom(t, "https://grafana.example")
			var read int64
			c := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 200, Status: "200 OK", Header: http.Header{"Content-Type": {"application/json"}},
					ContentLength: tc.length, Body: countingBody{&read}, Request: r}, nil
			})}
			_, _, err := dashimport.Fetch(t.Context(), c, tc.source)
			if !errors.Is(err, dashimport.ErrTooLarge) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want %q", err, tc.want)
			}
			if read > dashimport.MaxSize+1 {
				t.Errorf("read %d bytes, cap %d", read, dashimport.MaxSize)
			}
			if tc.length > 0 && read != 0 {
				t.Errorf("read %d bytes of a body whose length is over the cap", read)
			}
		})
	}
}

var _ io.ReadCloser = countingBody{}
