package dashimport

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestOnFetchSaysWhatItWaitsFor: before each URL is fetched, the caller is told which (without
// its query, which may hold a token) and for how long at most.
func TestOnFetchSaysWhatItWaitsFor(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"uid":"x","title":"X","panels":[]}`))
	}))
	defer srv.Close()
	var told []string
	_, _, err := Fetch(t.Context(), &http.Client{Timeout: 7 * time.Second}, srv.URL+"/d.json?token=s3cret",
		OnFetch(func(url string, timeout time.Duration) { told = append(told, url+" "+timeout.String()) }))
	if err != nil {
		t.Fatal(err)
	}
	if len(told) != 1 || !strings.HasPrefix(told[0], srv.URL+"/d.json") || !strings.HasSuffix(told[0], " 7s") || strings.Contains(told[0], "s3cret") {
		t.Errorf("told %q", told)
	}
}
