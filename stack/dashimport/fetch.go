// Package dashimport is the core of `llmmon import-dashboard`: it fetches a published Grafana
// dashboard (a JSON file, an http(s) URL or a grafana.com dashboard ID), resolves its
// datasource placeholders to llmmon's fixed Prometheus datasource so that it works from file
// provisioning, checks its queries with Prometheus' parser, tells which panels use metrics the
// stack does not have, and can push it to a running Grafana.
package dashimport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/llmmon/llmmon/stack/spec"
)

// GrafanaComURL is the base of grafana.com's dashboard API; tests point it elsewhere.
var GrafanaComURL = "https://grafana.com"

// ErrOffline is wrapped by the error of Fetch when grafana.com cannot be reached (a DNS, dial
// or timeout error); the error's message tells how to download the dashboard by hand.
var ErrOffline = errors.New("grafana.com is unreachable")

// MaxSize is the largest dashboard Fetch accepts, in bytes: 10 MiB. node-exporter-full, one
// of the largest published dashboards, is 457 KiB; Fetch never reads more than MaxSize+1 bytes
// of any source.
const MaxSize = 10 << 20

// ErrTooLarge is wrapped by the error of Fetch for a dashboard over MaxSize.
var ErrTooLarge = errors.New("dashboard too large")

// tooLarge says how large the source is (size, or "more than" the cap when its size is not
// known before reading) against the cap.
func tooLarge(what string, size int64) error {
	if size > MaxSize {
		return fmt.Errorf("%w: %s is %s, over the %s cap on imported dashboards (published dashboards are well under 1 MiB); is it really a dashboard?", ErrTooLarge, what, humanSize(size), humanSize(MaxSize))
	}
	return fmt.Errorf("%w: %s is more than %s, the cap on imported dashboards (published dashboards are well under 1 MiB); is it really a dashboard?", ErrTooLarge, what, humanSize(MaxSize))
}

// humanSize writes a byte count the way people read it: 512 B, 457 KiB, 10 MiB, 12.5 MiB.
func humanSize(n int64) string {
	switch {
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%d KiB", (n+1<<9)>>10)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}

var (
	// 12239, 12239@3, 12239:3
	idRe = regexp.MustCompile(`^([0-9]+)(?:[@:]([0-9]+))?$`)
	// A grafana.com dashboard page, e.g. https://grafana.com/grafana/dashboards/12239-nvidia-dcgm-exporter-dashboard/
	// (HTML for browsers): fetched through the download API instead.
	gcomPageRe = regexp.MustCompile(`^https?://(?:www\.)?grafana\.com/grafana/dashboards/([0-9]+)(?:-[^/?#]*)?/?(?:[?#].*)?$`)
)

// Fetch reads a dashboard's JSON from source: a JSON file path, an http(s) URL, or a
// grafana.com dashboard ID with an optional revision ("12239", "12239@3" or "12239:3"; a file
// of that name wins). A grafana.com dashboard page URL is fetched through grafana.com's
// download API. origin names where the JSON came from (the absolute file path or the URL).
// When grafana.com cannot be reached the error wraps ErrOffline. c may be nil.
func Fetch(ctx context.Context, c *http.Client, source string, opts ...FetchOption) (data []byte, origin string, err error) {
	var o fetchOpts
	for _, opt := range opts {
		opt(&o)
	}
	source = strings.TrimSpace(source)
	if source == "" {
		return nil, "", errors.New("no dashboard source given: want a JSON file, an http(s) URL or a grafana.com dashboard ID")
	}
	if c == nil {
		c = &http.Client{Timeout: 60 * time.Second}
	}
	if m := gcomPageRe.FindStringSubmatch(source); m != nil {
		return o.fetchGrafanaCom(ctx, c, m[1], "")
	}
	lower := strings.ToLower(source)
	if strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
		data, err := o.get(ctx, c, source)
		if err != nil {
			return nil, source, err
		}
		return data, source, Check(data, redactURL(source))
	}
	if m := idRe.FindStringSubmatch(source); m != nil {
		if st, err := os.Stat(source); err != nil || st.IsDir() {
			return o.fetchGrafanaCom(ctx, c, m[1], m[2])
		}
	}
	data, origin, err = readFile(source)
	if err != nil {
		return nil, origin, err
	}
	return data, origin, Check(data, source)
}

func readFile(path string) ([]byte, string, error) {
	origin := path
	if abs, err := filepath.Abs(path); err == nil {
		origin = abs
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, origin, fmt.Errorf("%w: dashboard %s: %w\n    hint: check the path; a grafana.com dashboard is given by its number, e.g. 12239", spec.ErrInvalid, path, err)
		}
		return nil, origin, fmt.Errorf("%w: read dashboard: %w\n    hint: check the file's permissions", spec.ErrInvalid, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > MaxSize {
		return nil, origin, tooLarge(path, st.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, origin, fmt.Errorf("%w: read dashboard %s: %w\n    hint: give the path of a dashboard JSON file", spec.ErrInvalid, path, err)
	}
	if len(data) > MaxSize {
		return nil, origin, tooLarge(path, 0) // a pipe, or a file that grew
	}
	return data, origin, nil
}

// offlineError is ErrOffline for one dashboard ID: its message is one sentence telling how to
// import the dashboard by hand; the network error stays reachable through errors.As.
type offlineError struct {
	host, id, url string
	cause         error
}

func (e *offlineError) Error() string {
	return fmt.Sprintf("cannot reach %s to download dashboard %s; download %s on a machine with internet access and run: llmmon import-dashboard ./%s.json",
		e.host, e.id, e.url, e.id)
}

func (e *offlineError) Unwrap() []error { return []error{ErrOffline, e.cause} }

func (o fetchOpts) fetchGrafanaCom(ctx context.Context, c *http.Client, id, rev string) ([]byte, string, error) {
	if rev == "" {
		rev = "latest"
	}
	base := strings.TrimRight(GrafanaComURL, "/")
	u := base + "/api/dashboards/" + id + "/revisions/" + rev + "/download"
	data, err := o.get(ctx, c, u)
	if err != nil {
		if ctx.Err() == nil && unreachable(err) {
			host := base
			if pu, perr := url.Parse(base); perr == nil && pu.Host != "" {
				host = pu.Host
			}
			return nil, u, &offlineError{host: host, id: id, url: u, cause: err}
		}
		return nil, u, fmt.Errorf("download grafana.com dashboard %s (revision %s): %w", id, rev, err)
	}
	return data, u, Check(data, u)
}

// unreachable tells a network that cannot reach the host (DNS, dial, timeout) from an answer.
func unreachable(err error) bool {
	var dns *net.DNSError
	var op *net.OpError
	var ne net.Error
	switch {
	case errors.As(err, &dns), errors.As(err, &op):
		return true
	case errors.Is(err, context.DeadlineExceeded):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

// httpStatusError is a non-2xx answer.
type httpStatusError struct {
	url, status, detail string
	code                int
}

func (e *httpStatusError) Error() string {
	msg := fmt.Sprintf("%s answered %s: %s", e.url, e.status, e.detail)
	if e.code == http.StatusNotFound {
		msg += "\n    hint: check the URL, or the grafana.com dashboard number (and revision)"
	}
	return msg
}

// Unwrap makes a 404 bad input (spec.ErrInvalid): the URL or the dashboard ID is wrong.
func (e *httpStatusError) Unwrap() error {
	if e.code == http.StatusNotFound {
		return spec.ErrInvalid
	}
	return nil
}

// FetchOption changes how Fetch fetches.
type FetchOption func(*fetchOpts)

type fetchOpts struct {
	fetching func(url string, timeout time.Duration)
}

// OnFetch is told each URL before Fetch asks for it, with the longest it may wait.
func OnFetch(fn func(url string, timeout time.Duration)) FetchOption {
	return func(o *fetchOpts) { o.fetching = fn }
}

// get fetches u, saying so first.
func (o fetchOpts) get(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	if o.fetching != nil {
		o.fetching(shownURL(u), c.Timeout)
	}
	return get(ctx, c, u)
}

func get(ctx context.Context, c *http.Client, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch dashboard: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "llmmon")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch dashboard: %w", err)
	}
	defer resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	if ok && resp.ContentLength > MaxSize {
		return nil, tooLarge("the dashboard at "+redactURL(u), resp.ContentLength)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("fetch dashboard %s: %w", redactURL(u), err)
	}
	if len(data) > MaxSize {
		if !ok {
			data = data[:MaxSize] // an error page: only its first bytes are shown
		} else {
			return nil, tooLarge("the dashboard at "+redactURL(u), 0)
		}
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		detail := apiMessage(data)
		if detail == "" {
			detail = describe(ct, data)
		}
		return nil, &httpStatusError{url: redactURL(u), status: resp.Status, detail: detail, code: resp.StatusCode}
	}
	if !isJSON(data) {
		return nil, fmt.Errorf("%w: %s did not answer JSON but %s\n    hint: give the address of the dashboard's JSON itself (on GitHub, the Raw link), or download it and import the file", spec.ErrInvalid, redactURL(u), describe(ct, data))
	}
	return data, nil
}

// describe says what came back: the content type and the first bytes.
func describe(ct string, data []byte) string {
	if ct == "" {
		ct = "no content type"
	} else if mt, _, err := mime.ParseMediaType(ct); err == nil {
		ct = mt
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return ct + " with an empty body"
	}
	return ct + " starting with " + head(data)
}

// head quotes the first bytes of data.
func head(data []byte) string {
	data = bytes.TrimSpace(data)
	const n = 80
	if len(data) > n {
		return fmt.Sprintf("%q…", data[:n])
	}
	return fmt.Sprintf("%q", data)
}

// isJSON reports whether data is one JSON value (a UTF-8 byte order mark is allowed).
func isJSON(data []byte) bool {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	return len(bytes.TrimSpace(data)) > 0 && json.Valid(data)
}

// apiMessage returns the "message" field of a JSON error body, or "".
func apiMessage(data []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	return m.Message
}

// redactURL drops a password from a URL's user info.
// shownURL is u for a progress line: without a password, and without its query, which may hold
// a token.
func shownURL(u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return "the dashboard's URL"
	}
	if pu.RawQuery != "" {
		pu.RawQuery = "…"
	}
	return pu.Redacted()
}

func redactURL(u string) string {
	if pu, err := url.Parse(u); err == nil && pu.User != nil {
		return pu.Redacted()
	}
	return u
}
