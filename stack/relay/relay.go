package relay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// TestLabel marks a synthetic alert sent by `llmmon alert test`; the relay records the
// outcome of every delivery that carries it.
const TestLabel = "llmmon_test"

// Relay delivers Alertmanager notifications to robots.
type Relay struct {
	log     *slog.Logger
	client  *http.Client
	now     func() time.Time
	metrics *metrics

	mu      sync.Mutex
	cfg     *Config
	fmt     formatter
	queues  map[string]*queue
	seq     uint64
	ctx     context.Context
	running bool
	wg      sync.WaitGroup

	tests *testLog
	// reportMem is the report's state when there is no state file.
	reportMem reportState
	dirty     chan struct{}
	ready     atomic.Bool
}

// Option configures a Relay.
type Option func(*Relay)

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(r *Relay) { r.log = l } }

// WithHTTPClient sets the client used to reach the robots.
func WithHTTPClient(c *http.Client) Option { return func(r *Relay) { r.client = c } }

// WithClock sets the clock (tests).
func WithClock(now func() time.Time) Option { return func(r *Relay) { r.now = now } }

// New returns a relay for cfg, which must have passed Check.
func New(cfg *Config, opts ...Option) (*Relay, error) {
	r := &Relay{
		log:    slog.New(slog.DiscardHandler),
		client: &http.Client{Timeout: 15 * time.Second},
		now:    time.Now,
		queues: map[string]*queue{},
		tests:  newTestLog(),
		dirty:  make(chan struct{}, 1),
	}
	for _, o := range opts {
		o(r)
	}
	r.metrics = newMetrics(r)
	if err := r.apply(cfg); err != nil {
		return nil, err
	}
	if cfg.StateFile != "" {
		if err := r.loadState(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// queue is one receiver's undelivered alerts and its sender.
type queue struct {
	name string
	wake chan struct{}
	stop context.CancelFunc

	mu      sync.Mutex
	rcv     Receiver
	pending map[string]*item
	sent    []time.Time // send attempts in the last minute
	failing *DeliveryError
	okAt    time.Time
	nOK     int // messages accepted
	nFailed int // messages refused or unanswered
}

func (r *Relay) apply(cfg *Config) error {
	loc, err := time.LoadLocation(cfg.Timezone)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cfg = cfg
	r.fmt = formatter{lang: cfg.Language, loc: loc}
	keep := map[string]bool{}
	for _, rc := range cfg.Receivers {
		keep[rc.Name] = true
		q := r.queues[rc.Name]
		if q == nil {
			q = &queue{name: rc.Name, wake: make(chan struct{}, 1), pending: map[string]*item{}}
			r.queues[rc.Name] = q
			if r.running {
				r.start(q)
			}
		}
		q.mu.Lock()
		q.rcv = rc
		q.mu.Unlock()
		r.metrics.register(rc.Name)
	}
	for name, q := range r.queues {
		if !keep[name] {
			q.mu.Lock()
			n := len(q.pending)
			q.pending = map[string]*item{}
			q.mu.Unlock()
			if n > 0 {
				r.metrics.dropped.WithLabelValues(name, "receiver_removed").Add(float64(n))
				r.log.Warn("receiver removed from the configuration; its undelivered alerts are dropped", "receiver", name, "alerts", n)
			}
			if q.stop != nil {
				q.stop()
			}
			delete(r.queues, name)
		}
	}
	r.markDirty()
	return nil
}

// Reload re-reads the configuration from path; pending alerts of receivers that remain are kept.
func (r *Relay) Reload(path string) error {
	cfg, err := LoadConfig(path)
	if err != nil {
		return err
	}
	r.mu.Lock()
	cfg.StateFile, cfg.Listen = r.cfg.StateFile, r.cfg.Listen
	r.mu.Unlock()
	return r.apply(cfg)
}

// Run delivers until ctx is done, then saves the undelivered alerts.
func (r *Relay) Run(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	r.running = true
	for _, q := range r.queues {
		r.start(q)
	}
	r.mu.Unlock()
	r.ready.Store(true)
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.reportLoop(ctx)
	}()
	r.persistLoop(ctx)
	r.wg.Wait()
	return r.saveState()
}

// start runs q's sender; r.mu is held.
func (r *Relay) start(q *queue) {
	ctx, cancel := context.WithCancel(r.ctx)
	q.stop = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.sender(ctx, q)
	}()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// ErrUnknownReceiver is returned for a notification to a receiver the relay does not have.
var ErrUnknownReceiver = errors.New("unknown receiver")

// ErrQueueFull is returned when a receiver has too many undelivered alerts; Alertmanager retries.
var ErrQueueFull = errors.New("too many undelivered alerts")

// Enqueue accepts a notification for receiver.
func (r *Relay) Enqueue(receiver string, n *Notification) error {
	r.mu.Lock()
	q := r.queues[receiver]
	max := r.cfg.MaxPending
	r.mu.Unlock()
	if q == nil {
		return fmt.Errorf("%w %q", ErrUnknownReceiver, receiver)
	}
	now := r.now()
	q.mu.Lock()
	if len(q.pending)+len(n.Alerts) > max {
		q.mu.Unlock()
		return ErrQueueFull
	}
	for _, a := range n.Alerts {
		it := &item{Alert: a, ExternalURL: n.ExternalURL, Received: now, Seq: atomic.AddUint64(&r.seq, 1)}
		if old, ok := q.pending[it.key()]; ok {
			it.Seq, it.Received = old.Seq, old.Received
		}
		q.pending[it.key()] = it
	}
	q.mu.Unlock()
	r.metrics.received.WithLabelValues(receiver).Add(float64(len(n.Alerts)))
	r.markDirty()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// sender is a receiver's delivery loop: it waits for alerts, lets a batch gather, and sends
// as many messages as the rate limit allows, retrying failures with backoff.
func (r *Relay) sender(ctx context.Context, q *queue) {
	backoff := time.Duration(0)
	for {
		q.mu.Lock()
		n := len(q.pending)
		q.mu.Unlock()
		if n == 0 {
			select {
			case <-ctx.Done():
				return
			case <-q.wake:
				continue
			}
		}
		wait := r.batchWait()
		if backoff > wait {
			wait = backoff
		}
		if d := q.rateWait(r.now()); d > wait {
			wait = d
		}
		if !sleep(ctx, wait) {
			return
		}
		if q.rateWait(r.now()) > 0 {
			continue
		}
		err := r.sendBatch(ctx, q)
		var de *DeliveryError
		switch {
		case err == nil:
			backoff = 0
		case errors.As(err, &de) && de.Retry:
			backoff = nextBackoff(backoff, de)
		default:
			backoff = 0
		}
	}
}

func nextBackoff(prev time.Duration, e *DeliveryError) time.Duration {
	if e.Code == 130101 || e.Code == 45009 || e.HTTPStatus == 429 {
		// Throttled: the window is a minute long.
		return 30 * time.Second
	}
	if prev == 0 {
		return time.Second
	}
	if prev*2 > time.Minute {
		return time.Minute
	}
	return prev * 2
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (r *Relay) batchWait() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg.BatchWait
}

// rateWait is how long until the receiver may send another message.
func (q *queue) rateWait(now time.Time) time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	limit := q.rcv.MessagesPerMinute
	if limit < 0 {
		return 0
	}
	window := time.Minute + time.Second
	i := 0
	for i < len(q.sent) && now.Sub(q.sent[i]) >= window {
		i++
	}
	q.sent = q.sent[i:]
	if len(q.sent) < limit {
		return 0
	}
	return q.sent[0].Add(window).Sub(now)
}

func (q *queue) budget(now time.Time) int {
	if q.rateWait(now) > 0 {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.rcv.MessagesPerMinute < 0 {
		return 1 << 30
	}
	return q.rcv.MessagesPerMinute - len(q.sent)
}

// sendBatch packs every pending alert into messages and sends those the rate limit allows,
// in order; it stops at the first failure.
func (r *Relay) sendBatch(ctx context.Context, q *queue) error {
	q.mu.Lock()
	rcv := q.rcv
	items := make([]*item, 0, len(q.pending))
	for _, it := range q.pending {
		items = append(items, it)
	}
	q.mu.Unlock()
	sortItems(items)
	r.mu.Lock()
	f := r.fmt
	r.mu.Unlock()
	msgs := f.pack(&rcv, items)
	byKey := map[string]*item{}
	for _, it := range items {
		byKey[it.key()] = it
	}
	budget := q.budget(r.now())
	for i, m := range msgs {
		if i >= budget {
			return nil
		}
		q.mu.Lock()
		q.sent = append(q.sent, r.now())
		q.mu.Unlock()
		err := r.post(ctx, &rcv, m.body)
		var tests []string
		for _, k := range m.keys {
			if id := byKey[k].Alert.Labels[TestLabel]; id != "" {
				tests = append(tests, id)
			}
		}
		if err != nil {
			de := asDeliveryError(rcv.Kind, err)
			r.metrics.failed.WithLabelValues(rcv.Name, de.Reason(rcv.Kind)).Inc()
			for _, id := range tests {
				r.tests.record(id, rcv.Name, de, r.now())
			}
			q.mu.Lock()
			q.failing = de
			q.nFailed++
			q.mu.Unlock()
			if de.Retry {
				r.metrics.retried.WithLabelValues(rcv.Name).Inc()
				r.log.Warn("delivery failed; will retry", "receiver", rcv.Name, "kind", rcv.Kind, "alerts", len(m.keys), "error", de.Words)
				return de
			}
			// The platform refused the message for good (wrong key, signature): retrying
			// cannot help, so its alerts are dropped and counted.
			r.log.Error("delivery refused; alerts dropped", "receiver", rcv.Name, "kind", rcv.Kind, "alerts", len(m.keys), "error", de.Words)
			r.remove(q, m.keys, func(n int) { r.metrics.dropped.WithLabelValues(rcv.Name, de.Reason(rcv.Kind)).Add(float64(n)) })
			return de
		}
		for _, id := range tests {
			r.tests.record(id, rcv.Name, nil, r.now())
		}
		q.mu.Lock()
		q.failing = nil
		q.okAt = r.now()
		q.nOK++
		q.mu.Unlock()
		r.metrics.messages.WithLabelValues(rcv.Name).Inc()
		r.metrics.lastOK.WithLabelValues(rcv.Name).SetToCurrentTime()
		r.remove(q, m.keys, func(n int) { r.metrics.delivered.WithLabelValues(rcv.Name).Add(float64(n)) })
		r.log.Info("delivered", "receiver", rcv.Name, "kind", rcv.Kind, "alerts", len(m.keys), "bytes", len(m.body))
	}
	return nil
}

// remove takes delivered (or dropped) alerts out of the queue, unless a newer notification
// replaced them meanwhile.
func (r *Relay) remove(q *queue, keys []string, count func(int)) {
	q.mu.Lock()
	n := 0
	for _, k := range keys {
		if _, ok := q.pending[k]; ok {
			delete(q.pending, k)
			n++
		}
	}
	q.mu.Unlock()
	if n > 0 {
		count(n)
	}
	r.markDirty()
}

func sortItems(items []*item) {
	rank := func(it *item) int {
		switch {
		case it.Alert.Status == "resolved":
			return 2
		case it.Alert.Labels["severity"] == "critical":
			return 0
		}
		return 1
	}
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra < rb
		}
		return a.Seq < b.Seq
	})
}

func asDeliveryError(kind string, err error) *DeliveryError {
	var de *DeliveryError
	if errors.As(err, &de) {
		return de
	}
	return networkError(kind, err)
}

// Sign returns a DingTalk signature: base64(HMAC-SHA256(secret, timestamp+"\n"+secret)).
func Sign(secret string, timestampMS int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(timestampMS, 10) + "\n" + secret))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// post sends one message and interprets the platform's answer.
func (r *Relay) post(ctx context.Context, rcv *Receiver, body []byte) error {
	u, err := url.Parse(rcv.URL)
	if err != nil {
		return &DeliveryError{Words: "the webhook URL is not valid"}
	}
	if rcv.Kind == KindDingTalk && rcv.Secret != "" {
		ts := r.now().UnixMilli()
		q := u.Query()
		q.Set("timestamp", strconv.FormatInt(ts, 10))
		q.Set("sign", Sign(rcv.Secret, ts))
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return networkError(rcv.Kind, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := r.client.Do(req)
	if err != nil {
		return networkError(rcv.Kind, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var ans struct {
		ErrCode *int   `json:"errcode"`
		ErrMsg  string `json:"errmsg"`
	}
	jsonErr := json.Unmarshal(data, &ans)
	if jsonErr == nil && ans.ErrCode != nil && *ans.ErrCode != 0 {
		return platformError(rcv.Kind, *ans.ErrCode, ans.ErrMsg)
	}
	if resp.StatusCode != http.StatusOK {
		return httpError(rcv.Kind, resp.StatusCode)
	}
	if jsonErr != nil || ans.ErrCode == nil {
		return &DeliveryError{HTTPStatus: resp.StatusCode, Words: fmt.Sprintf("%s answered with something that is not a robot API response; is the webhook URL right?", platformName(rcv.Kind))}
	}
	return nil
}

// ReceiverStatus is what the relay knows about one robot.
type ReceiverStatus struct {
	Name        string    `json:"name"`
	Kind        string    `json:"kind"`
	Pending     int       `json:"pending"`
	Sent        int       `json:"sent"`
	Failed      int       `json:"failed"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
}

// Status reports every receiver, sorted by name.
func (r *Relay) Status() []ReceiverStatus {
	r.mu.Lock()
	qs := make([]*queue, 0, len(r.queues))
	for _, q := range r.queues {
		qs = append(qs, q)
	}
	r.mu.Unlock()
	out := make([]ReceiverStatus, 0, len(qs))
	for _, q := range qs {
		q.mu.Lock()
		s := ReceiverStatus{Name: q.name, Kind: q.rcv.Kind, Pending: len(q.pending), Sent: q.nOK, Failed: q.nFailed, LastSuccess: q.okAt}
		if q.failing != nil {
			s.LastError = q.failing.Words
		}
		q.mu.Unlock()
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// --- persistence: undelivered alerts survive a restart ---

type stateFile struct {
	Pending map[string][]*item `json:"pending"`
	// Sent are each receiver's sends in the last minute, so that a restart does not reset the
	// rate limit.
	Sent map[string][]time.Time `json:"sent,omitempty"`
}

func (r *Relay) markDirty() {
	select {
	case r.dirty <- struct{}{}:
	default:
	}
}

func (r *Relay) persistLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.dirty:
			if err := r.saveState(); err != nil {
				r.log.Error("cannot save undelivered alerts", "error", err)
			}
			sleep(ctx, time.Second) // at most one write a second
		}
	}
}

func (r *Relay) saveState() error {
	r.mu.Lock()
	path := r.cfg.StateFile
	qs := make(map[string]*queue, len(r.queues))
	for k, v := range r.queues {
		qs[k] = v
	}
	r.mu.Unlock()
	if path == "" {
		return nil
	}
	st := stateFile{Pending: map[string][]*item{}, Sent: map[string][]time.Time{}}
	for name, q := range qs {
		q.mu.Lock()
		for _, it := range q.pending {
			st.Pending[name] = append(st.Pending[name], it)
		}
		if len(q.sent) > 0 {
			st.Sent[name] = append([]time.Time(nil), q.sent...)
		}
		q.mu.Unlock()
		sortItems(st.Pending[name])
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("save undelivered alerts: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("save undelivered alerts: %w", err)
	}
	return nil
}

func (r *Relay) loadState() error {
	b, err := os.ReadFile(r.cfg.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(filepath.Dir(r.cfg.StateFile), 0o700)
	}
	if err != nil {
		return fmt.Errorf("read undelivered alerts: %w", err)
	}
	var st stateFile
	if err := json.Unmarshal(b, &st); err != nil {
		r.log.Error("the saved undelivered alerts are unreadable; starting empty", "file", r.cfg.StateFile, "error", err)
		return nil
	}
	for name, sent := range st.Sent {
		if q := r.queues[name]; q != nil {
			q.sent = sent
		}
	}
	for name, items := range st.Pending {
		q := r.queues[name]
		if q == nil {
			r.metrics.dropped.WithLabelValues(name, "receiver_removed").Add(float64(len(items)))
			continue
		}
		for _, it := range items {
			if it.Seq > r.seq {
				r.seq = it.Seq
			}
			q.pending[it.key()] = it
		}
		if len(items) > 0 {
			r.log.Info("undelivered alerts restored", "receiver", name, "alerts", len(items))
		}
	}
	return nil
}

// --- the outcome of `llmmon alert test` deliveries ---

// TestResult is the outcome of delivering a test alert to one receiver.
type TestResult struct {
	Receiver  string    `json:"receiver"`
	Delivered bool      `json:"delivered"`
	Error     string    `json:"error,omitempty"`
	Code      int       `json:"code,omitempty"`
	Retrying  bool      `json:"retrying,omitempty"`
	At        time.Time `json:"at"`
}

type testLog struct {
	mu    sync.Mutex
	order []string
	res   map[string]map[string]TestResult
}

func newTestLog() *testLog { return &testLog{res: map[string]map[string]TestResult{}} }

func (t *testLog) record(id, receiver string, err *DeliveryError, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := t.res[id]
	if m == nil {
		m = map[string]TestResult{}
		t.res[id] = m
		t.order = append(t.order, id)
		if len(t.order) > 200 {
			delete(t.res, t.order[0])
			t.order = t.order[1:]
		}
	}
	res := TestResult{Receiver: receiver, Delivered: err == nil, At: at}
	if err != nil {
		res.Error, res.Code, res.Retrying = err.Words, err.Code, err.Retry
	}
	m[receiver] = res
}

// TestResults returns what happened to the test alert id, per receiver.
func (r *Relay) TestResults(id string) []TestResult {
	r.tests.mu.Lock()
	defer r.tests.mu.Unlock()
	out := make([]TestResult, 0, len(r.tests.res[id]))
	for _, v := range r.tests.res[id] {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Receiver < out[j].Receiver })
	return out
}
