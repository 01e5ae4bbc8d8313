package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"io"
	"io/fs"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// smtpSink is a real SMTP server (go-smtp) in the test process. It offers STARTTLS with a
// self-signed certificate and AUTH PLAIN, accepts mail only after a successful AUTH, and records
// every AUTH attempt (with whether the connection was TLS at that moment) and every message.
// AUTH is deliberately allowed before STARTTLS too, so that a client that sends its password in
// clear text is recorded rather than merely refused.
type smtpSink struct {
	addr, user, pass string
	srv              *smtp.Server

	mu    sync.Mutex
	auths []smtpAuth
	msgs  []smtpMsg
	log   bytes.Buffer
}

type smtpAuth struct {
	helo, user string
	ok, tls    bool
}

type smtpMsg struct {
	from, user string
	to         []string
	tls        bool
	data       []byte
	at         time.Time
}

func startSMTPSink(t *testing.T, user, pass string) *smtpSink {
	return startSMTPSinkTLS(t, user, pass, false)
}

// startSMTPSinkTLS starts a sink; implicit makes it speak TLS from the first byte (as on port
// 465) instead of offering STARTTLS.
func startSMTPSinkTLS(t *testing.T, user, pass string, implicit bool) *smtpSink {
	t.Helper()
	var l net.Listener
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSignedCert(t)
	if implicit {
		l = tls.NewListener(l, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	k := &smtpSink{addr: l.Addr().String(), user: user, pass: pass}
	k.srv = smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{sink: k, conn: c}, nil
	}))
	k.srv.Domain = "mx.llmmon.test"
	k.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	k.srv.AllowInsecureAuth = true // recorded, and then asserted never to happen
	k.srv.ReadTimeout = 30 * time.Second
	k.srv.WriteTimeout = 30 * time.Second
	k.srv.MaxMessageBytes = 1 << 20
	k.srv.ErrorLog = sinkLogger{k}
	go k.srv.Serve(l)
	t.Cleanup(func() { k.srv.Close() })
	return k
}

type sinkLogger struct{ k *smtpSink }

func (l sinkLogger) Printf(format string, v ...any) {
	l.k.mu.Lock()
	defer l.k.mu.Unlock()
	fmt.Fprintf(&l.k.log, format+"\n", v...)
}

func (l sinkLogger) Println(v ...any) {
	l.k.mu.Lock()
	defer l.k.mu.Unlock()
	fmt.Fprintln(&l.k.log, v...)
}

func (k *smtpSink) snapshot() ([]smtpAuth, []smtpMsg) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.auths), slices.Clone(k.msgs)
}

func (k *smtpSink) String() string {
	auths, msgs := k.snapshot()
	var b strings.Builder
	fmt.Fprintf(&b, "SMTP sink %s: %d AUTH attempts, %d messages\n", k.addr, len(auths), len(msgs))
	for _, a := range auths {
		fmt.Fprintf(&b, "  AUTH helo=%s user=%s ok=%v tls=%v\n", a.helo, a.user, a.ok, a.tls)
	}
	for _, m := range msgs {
		subject := ""
		if p, err := parseMail(m.data); err == nil {
			subject = p.subject
		}
		fmt.Fprintf(&b, "  MAIL %s from=%s to=%v %q\n", m.at.Format(time.TimeOnly), m.from, m.to, subject)
	}
	k.mu.Lock()
	b.WriteString(k.log.String())
	k.mu.Unlock()
	return b.String()
}

type smtpSession struct {
	sink    *smtpSink
	conn    *smtp.Conn
	user    string
	authTLS bool
	from    string
	to      []string
}

func (s *smtpSession) isTLS() bool { _, ok := s.conn.TLSConnectionState(); return ok }

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	if mech != sasl.Plain {
		return nil, smtp.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		ok := (identity == "" || identity == username) && username == s.sink.user && password == s.sink.pass
		s.sink.mu.Lock()
		s.sink.auths = append(s.sink.auths, smtpAuth{helo: s.conn.Hostname(), user: username, ok: ok, tls: s.isTLS()})
		s.sink.mu.Unlock()
		if !ok {
			return smtp.ErrAuthFailed
		}
		s.user, s.authTLS = username, s.isTLS()
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, smtpMsg{from: s.from, to: s.to, user: s.user, tls: s.authTLS && s.isTLS(), data: b, at: time.Now()})
	s.sink.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset() { s.from, s.to = "", nil }

func (s *smtpSession) Logout() error { return nil }

func selfSignedCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "mx.llmmon.test"},
		DNSNames:     []string{"mx.llmmon.test", "localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// parsedMail is a message read with the standard library only.
type parsedMail struct {
	header      mail.Header
	subject     string
	contentType string
	parts       []mailPart
}

type mailPart struct {
	contentType, encoding, body string
}

func (p *parsedMail) part(mediaType string) (mailPart, bool) {
	for _, pt := range p.parts {
		if mt, _, _ := mime.ParseMediaType(pt.contentType); mt == mediaType {
			return pt, true
		}
	}
	return mailPart{}, false
}

func parseMail(data []byte) (*parsedMail, error) {
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	p := &parsedMail{header: m.Header, contentType: m.Header.Get("Content-Type")}
	if p.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		return nil, fmt.Errorf("subject: %w", err)
	}
	mt, params, err := mime.ParseMediaType(p.contentType)
	if err != nil {
		return nil, fmt.Errorf("content-type %q: %w", p.contentType, err)
	}
	if !strings.HasPrefix(mt, "multipart/") {
		return p, nil
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		// NextRawPart keeps Content-Transfer-Encoding, so the decoding below is ours.
		part, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("multipart: %w", err)
		}
		pt := mailPart{contentType: part.Header.Get("Content-Type"), encoding: part.Header.Get("Content-Transfer-Encoding")}
		var r io.Reader = part
		if strings.EqualFold(pt.encoding, "quoted-printable") {
			r = quotedprintable.NewReader(part)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, fmt.Errorf("part %s: %w", pt.contentType, err)
		}
		pt.body = string(b)
		p.parts = append(p.parts, pt)
	}
	return p, nil
}

// waitMail waits for a message to rcpt whose parsed form satisfies match.
func (k *smtpSink) waitMail(t *testing.T, what, rcpt string, timeout time.Duration, match func(*parsedMail) bool) (smtpMsg, *parsedMail) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		_, msgs := k.snapshot()
		for _, m := range msgs {
			if !slices.Contains(m.to, rcpt) {
				continue
			}
			p, err := parseMail(m.data)
			if err != nil {
				t.Fatalf("a message from Alertmanager does not parse: %v\n%s", err, m.data)
			}
			if match(p) {
				return m, p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s mail to %s after %s\n%s", what, rcpt, timeout, k)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func addresses(t *testing.T, h mail.Header, key string) []string {
	t.Helper()
	list, err := h.AddressList(key)
	if err != nil {
		t.Fatalf("%s header %q: %v", key, h.Get(key), err)
	}
	var out []string
	for _, a := range list {
		out = append(out, a.Address)
	}
	return out
}

// TestIntegrationEmailDelivery: the real Alertmanager of an llmmon stack mails a real SMTP server
// (STARTTLS with a self-signed certificate, AUTH PLAIN) when a model service goes down, and mails
// again when it recovers; the message is read back and checked header by header and part by
// part. A second receiver with a wrong password is refused by the server and delivers nothing.
// The SMTP passwords never show in llmmon's output, in alertmanager.yml or in the container's
// settings; they live only in the 0600/0400 secret files.
func TestIntegrationEmailDelivery(t *testing.T) {
	requireImages(t)
	token := make([]byte, 8)
	rand.Read(token)
	marker := hex.EncodeToString(token) // unique, so a leak is found even if the rest is escaped
	password := `Pw#` + marker + `:"q'\&%`
	badPassword := "wrong-" + marker + "-x"
	// Set before newStack: its `down` cleanup loads the spec too, and needs the variable.
	t.Setenv("LLMMON_TEST_SMTP_PASSWORD", password)

	sink := startSMTPSink(t, "llmmon-smtp", password)
	// tls: tls on a port other than 465 must still mean implicit TLS.
	implicitSink := startSMTPSinkTLS(t, "llmmon-smtp", password, true)

	// The server itself: wrong credentials are refused after STARTTLS, with 535.
	probe, err := smtp.DialStartTLS(sink.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("STARTTLS to the test SMTP server: %v", err)
	}
	var smtpErr *smtp.SMTPError
	if err := probe.Auth(sasl.NewPlainClient("", "llmmon-smtp", "not-the-password")); !errors.As(err, &smtpErr) || smtpErr.Code != 535 {
		t.Fatalf("the test SMTP server accepted or mishandled a wrong password: %v", err)
	}
	if err := probe.Mail("x@example.test", nil); err == nil {
		t.Fatal("the test SMTP server takes MAIL without AUTH")
	}
	probe.Close()
	probeAuths, _ := sink.snapshot()

	// The model service: serves 500 (scrape fails, up == 0) until healthy is set.
	var healthy atomic.Bool
	model := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, "engine crashed", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		io.WriteString(w, "# TYPE vllm:num_requests_running gauge\nvllm:num_requests_running{model_name=\"m\"} 0\n")
	}))
	defer model.Close()

	e := newStack(t, "")
	badFile := filepath.Join(e.dir, "bad-smtp-password")
	if err := os.WriteFile(badFile, []byte(badPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.write(t, fmt.Sprintf(`targets:
  - {name: mailtgt, engine: vllm, url: %q}
notify:
  receivers:
    - name: oncall-mail
      email:
        to: [oncall@example.test, "Ops Team <ops@example.test>"]
        from: llmmon@example.test
        smarthost: %s
        username: llmmon-smtp
        password: ${LLMMON_TEST_SMTP_PASSWORD}
        tls: starttls
        insecure_skip_verify: true
    - name: bad-mail
      email:
        to: [nobody@example.test]
        from: llmmon@example.test
        smarthost: %s
        username: llmmon-smtp
        password_file: %s
        tls: starttls
        insecure_skip_verify: true
    - name: implicit-tls-mail
      email:
        to: [tls@example.test]
        from: llmmon@example.test
        smarthost: %s
        username: llmmon-smtp
        password: ${LLMMON_TEST_SMTP_PASSWORD}
        tls: tls
        insecure_skip_verify: true
  route:
    critical: [oncall-mail, bad-mail, implicit-tls-mail]
    warning: []
    group_wait: 1s
    group_interval: 5s
    repeat_interval: 1h
report: {schedule: "mon 09:00", receivers: [oncall-mail]}
`, model.URL, sink.addr, sink.addr, badFile, implicitSink.addr))
	if code, out := e.run(t, "validate"); code != 0 {
		t.Fatalf("validate: %d\n%s", code, out)
	}
	start := time.Now()
	code, upOut := e.run(t, "up", "--timeout", "120s")
	if code != 0 {
		t.Fatalf("up: %d\n%s", code, upOut)
	}
	t.Logf("up took %s", time.Since(start).Round(time.Second))
	t.Cleanup(func() {
		if t.Failed() {
			if am := e.containers(t)["alertmanager"]; am != "" {
				out, _ := exec.Command("docker", "logs", "--tail", "40", am).CombinedOutput()
				t.Logf("alertmanager log:\n%s", out)
			}
			t.Log(sink)
		}
	})
	amURL := fmt.Sprintf("http://127.0.0.1:%d", e.am)
	grafURL := fmt.Sprintf("http://127.0.0.1:%d", e.graf)
	subject := "Model service mailtgt is down"

	// FIRING.
	fired, p := sink.waitMail(t, "FIRING", "oncall@example.test", 3*time.Minute, func(p *parsedMail) bool {
		return strings.Contains(p.subject, "FIRING") && strings.Contains(p.subject, subject)
	})
	t.Logf("FIRING mail %s after up; subject %q", fired.at.Sub(start).Round(time.Second), p.subject)
	if p.subject != "[FIRING:1] "+subject {
		t.Errorf("subject %q, want %q", p.subject, "[FIRING:1] "+subject)
	}
	if fired.from != "llmmon@example.test" {
		t.Errorf("envelope from %q", fired.from)
	}
	if got := strings.Join(fired.to, ","); got != "oncall@example.test,ops@example.test" {
		t.Errorf("envelope recipients %q", got)
	}
	if got := strings.Join(addresses(t, p.header, "To"), ","); got != "oncall@example.test,ops@example.test" {
		t.Errorf("To header %q -> %q", p.header.Get("To"), got)
	}
	if got := addresses(t, p.header, "From"); len(got) != 1 || got[0] != "llmmon@example.test" {
		t.Errorf("From header %q", p.header.Get("From"))
	}
	if _, err := p.header.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
	if p.header.Get("Message-Id") == "" {
		t.Error("no Message-Id")
	}
	if fired.user != "llmmon-smtp" || !fired.tls {
		t.Errorf("mail sent as %q, over TLS: %v", fired.user, fired.tls)
	}
	if mt, _, _ := mime.ParseMediaType(p.contentType); mt != "multipart/alternative" {
		t.Errorf("Content-Type %q, want multipart/alternative", p.contentType)
	}
	plain, ok := p.part("text/plain")
	if !ok {
		t.Fatalf("no text/plain part: %+v", p.parts)
	}
	html, ok := p.part("text/html")
	if !ok {
		t.Fatalf("no text/html part: %+v", p.parts)
	}
	for _, pt := range []mailPart{plain, html} {
		if !strings.EqualFold(pt.encoding, "quoted-printable") || !strings.Contains(strings.ToLower(pt.contentType), "charset=utf-8") {
			t.Errorf("part %q with encoding %q", pt.contentType, pt.encoding)
		}
	}
	silence := amURL + "/#/silences/new?filter=%7Balertname%3D%22LLMServiceDown%22%2Ctarget%3D%22mailtgt%22%7D"
	for _, want := range []string{
		"FIRING · critical · LLMServiceDown",
		subject,
		"Prometheus cannot scrape mailtgt (vllm) at " + strings.TrimPrefix(model.URL, "http://"),
		"Service: mailtgt",
		"What to do: Check the process",
		"Dashboard: " + grafURL + "/d/",
		"var-target=mailtgt",
		"Silence: " + silence,
	} {
		if !strings.Contains(plain.body, want) {
			t.Errorf("text/plain part lacks %q:\n%s", want, plain.body)
		}
	}
	if !regexp.MustCompile(`Since: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC`).MatchString(plain.body) {
		t.Errorf("text/plain part has no UTC start time:\n%s", plain.body)
	}
	for _, want := range []string{
		`<meta name="viewport" content="width=device-width,initial-scale=1">`,
		`<meta charset="utf-8">`,
		`href="` + silence + `"`,
		`href="` + grafURL + `/d/`,
		"FIRING · critical · LLMServiceDown",
		subject,
		"mailtgt",
		"#cf222e", // critical colour
		"llmmon · " + amURL,
	} {
		if !strings.Contains(html.body, want) {
			t.Errorf("text/html part lacks %q:\n%s", want, html.body)
		}
	}

	// The wrong password: refused, over TLS, and nothing delivered for that receiver.
	deadline := time.Now().Add(30 * time.Second)
	for {
		auths, _ := sink.snapshot()
		refused := 0
		for _, a := range auths[len(probeAuths):] {
			if !a.ok {
				refused++
			}
		}
		if refused > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bad-mail receiver never tried to authenticate\n%s", sink)
		}
		time.Sleep(time.Second)
	}
	// Alertmanager counts the refused deliveries as failed email notifications.
	deadline = time.Now().Add(30 * time.Second)
	for failedEmailNotifications(t, e, amURL) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("alertmanager_notifications_failed_total{integration=\"email\"} stays 0 although the server refuses bad-mail")
		}
		time.Sleep(time.Second)
	}

	// The secrets.
	checkSecrets(t, e, upOut, []string{password, badPassword, marker})

	// RESOLVED.
	healthy.Store(true)
	recovered := time.Now()
	resolved, r := sink.waitMail(t, "RESOLVED", "oncall@example.test", 2*time.Minute, func(p *parsedMail) bool {
		return strings.Contains(p.subject, "RESOLVED") && strings.Contains(p.subject, subject)
	})
	t.Logf("RESOLVED mail %s after recovery; subject %q", resolved.at.Sub(recovered).Round(time.Second), r.subject)
	if r.subject != "[RESOLVED] "+subject {
		t.Errorf("subject %q, want %q", r.subject, "[RESOLVED] "+subject)
	}
	if got := strings.Join(resolved.to, ","); got != "oncall@example.test,ops@example.test" || !resolved.tls {
		t.Errorf("resolved mail to %q over TLS %v", got, resolved.tls)
	}
	if rp, ok := r.part("text/plain"); !ok || !strings.Contains(rp.body, "RESOLVED · critical · LLMServiceDown") || !strings.Contains(rp.body, "Service: mailtgt") {
		t.Errorf("resolved text/plain part: %+v", r.parts)
	}
	if rh, ok := r.part("text/html"); !ok || !strings.Contains(rh.body, "RESOLVED · critical · LLMServiceDown") || !strings.Contains(rh.body, "#1a7f37") {
		t.Errorf("resolved text/html part: %+v", r.parts)
	}

	// The service report, sent now by the relay the way the schedule sends it: the HTML page
	// with its plots inline, the Markdown as the text part, through the same SMTP settings.
	if code, out := e.run(t, "report", "--send"); code != 0 || !strings.Contains(out, "oncall-mail") {
		t.Fatalf("report --send: exit %d\n%s", code, out)
	}
	rm, _ := sink.waitMail(t, "report", "oncall@example.test", time.Minute, func(p *parsedMail) bool {
		return strings.HasPrefix(p.subject, "LLM service report ")
	})
	checkReportMail(t, rm.data)
	if !rm.tls || rm.user != "llmmon-smtp" {
		t.Errorf("the report was sent as %q, over TLS %v", rm.user, rm.tls)
	}

	// Implicit TLS (tls: tls) on a port that is not 465.
	im, _ := implicitSink.waitMail(t, "FIRING over implicit TLS", "tls@example.test", time.Minute, func(p *parsedMail) bool {
		return strings.Contains(p.subject, subject)
	})
	if !im.tls {
		t.Errorf("tls: tls delivered without TLS")
	}

	// The whole conversation: every AUTH by Alertmanager was over TLS, only the good password
	// got in, one FIRING and one RESOLVED mail for the outage (no repeats), nothing for bad-mail.
	auths, msgs := sink.snapshot()
	for _, a := range auths[len(probeAuths):] {
		if !a.tls {
			t.Errorf("AUTH without TLS: %+v", a)
		}
	}
	var firing, resolvedN int
	for _, m := range msgs {
		if slices.Contains(m.to, "nobody@example.test") {
			t.Errorf("a message for bad-mail was delivered: %v", m.to)
		}
		if !m.tls || m.user != "llmmon-smtp" {
			t.Errorf("message to %v sent as %q, TLS %v", m.to, m.user, m.tls)
		}
		pm, err := parseMail(m.data)
		if err != nil || !strings.Contains(pm.subject, subject) {
			continue
		}
		switch {
		case strings.HasPrefix(pm.subject, "[FIRING"):
			firing++
		case strings.HasPrefix(pm.subject, "[RESOLVED]"):
			resolvedN++
		}
	}
	if firing != 1 || resolvedN != 1 {
		t.Errorf("%d FIRING and %d RESOLVED mails for one outage, want 1 and 1\n%s", firing, resolvedN, sink)
	}

	// alert test: the good receiver gets the test mail; the wrong password is put in plain words.
	code, out := e.run(t, "alert", "test", "--receiver", "oncall-mail", "--receiver", "bad-mail", "--timeout", "60s")
	if code != 1 || !regexp.MustCompile(`oncall-mail\s+email\s+delivered`).MatchString(out) ||
		!strings.Contains(out, "the SMTP server refused the login: check username and password") || strings.Contains(out, badPassword) {
		t.Errorf("alert test: exit %d\n%s", code, out)
	}
	sink.waitMail(t, "test alert", "oncall@example.test", 30*time.Second, func(p *parsedMail) bool {
		return strings.Contains(p.subject, "Test alert from llmmon")
	})
}

// failedEmailNotifications sums alertmanager_notifications_failed_total{integration="email"}.
func failedEmailNotifications(t *testing.T, e *stackEnv, amURL string) float64 {
	t.Helper()
	resp := e.get(t, amURL+"/metrics")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "alertmanager_notifications_failed_total{") && strings.Contains(l, `integration="email"`) {
			var v float64
			fmt.Sscanf(l[strings.LastIndex(l, " ")+1:], "%g", &v)
			sum += v
		}
	}
	return sum
}

// checkSecrets: no secret in llmmon's output, in any generated file other than the secret files
// (0600 on the host), in the running Alertmanager's configuration, or in its container settings;
// inside the container the secret files are 0400.
func checkSecrets(t *testing.T, e *stackEnv, upOut string, secrets []string) {
	t.Helper()
	leak := func(where, text string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("secret %q appears in %s", s, where)
			}
		}
	}
	leak("`llmmon up` output", upOut)
	for _, args := range [][]string{{"status"}, {"status", "-o", "json"}, {"targets"}, {"render", "-o", filepath.Join(e.dir, "rendered"), "--offline"}} {
		code, out := e.run(t, args...)
		if code > 1 || strings.TrimSpace(out) == "" {
			t.Errorf("llmmon %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
		leak("`llmmon "+strings.Join(args, " ")+"` output", out)
	}

	gen := filepath.Join(e.dir, "data", "generated", "alertmanager")
	amYml := readFile(t, filepath.Join(gen, "alertmanager.yml"))
	leak("generated alertmanager.yml", amYml)
	if !strings.Contains(amYml, "auth_password_file: /etc/alertmanager/secrets/oncall-mail-smtp-password") {
		t.Errorf("alertmanager.yml does not point at the password file:\n%s", amYml)
	}
	for name, want := range map[string]string{"oncall-mail-smtp-password": secrets[0], "bad-mail-smtp-password": secrets[1]} {
		p := filepath.Join(gen, "secrets", name)
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("secret file: %v", err)
			continue
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", p, st.Mode().Perm())
		}
		if got := readFile(t, p); got != want {
			t.Errorf("%s holds %q, want the password", p, got)
		}
	}
	// Every other file under the data directory (and the rendered copy) is free of secrets.
	for _, root := range []string{filepath.Join(e.dir, "data"), filepath.Join(e.dir, "rendered")} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if filepath.Base(filepath.Dir(p)) == "secrets" {
				if info, err := d.Info(); err == nil && info.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s has mode %v", p, info.Mode().Perm())
				}
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			leak(p, string(b))
			return nil
		})
	}

	// Inside the running container.
	am := e.containers(t)["alertmanager"]
	out, err := exec.Command("docker", "inspect", am).CombinedOutput()
	if err != nil {
		t.Fatalf("docker inspect: %v\n%s", err, out)
	}
	leak("`docker inspect` of the Alertmanager container", string(out))
	tarball, err := exec.Command("docker", "cp", am+":/etc/alertmanager", "-").Output()
	if err != nil {
		t.Fatalf("docker cp: %v", err)
	}
	tr := tar.NewReader(bytes.NewReader(tarball))
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		name := strings.TrimPrefix(h.Name, "alertmanager/")
		seen[name] = true
		switch name {
		case "secrets/oncall-mail-smtp-password", "secrets/bad-mail-smtp-password", "secrets/implicit-tls-mail-smtp-password":
			if h.Mode&0o777 != 0o400 {
				t.Errorf("container file %s has mode %o, want 0400", name, h.Mode&0o777)
			}
		default:
			leak("container file /etc/alertmanager/"+name, string(b))
		}
	}
	if !seen["alertmanager.yml"] || !seen["secrets/oncall-mail-smtp-password"] {
		t.Errorf("unexpected /etc/alertmanager in the container: %v", seen)
	}
}

// checkReportMail checks the report's email: an HTML part whose every cid: image is an inline
// PNG part of the message, the Markdown as the text part, and the service's figures in both.
func checkReportMail(t *testing.T, data []byte) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	type leaf struct {
		contentType, cid string
		body             []byte
	}
	var leaves []leaf
	var walk func(h textprotoHeader, body io.Reader)
	walk = func(h textprotoHeader, body io.Reader) {
		mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
		if err != nil {
			t.Fatalf("Content-Type %q: %v", h.Get("Content-Type"), err)
		}
		if strings.HasPrefix(mt, "multipart/") {
			mr := multipart.NewReader(body, params["boundary"])
			for {
				p, err := mr.NextRawPart()
				if err == io.EOF {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				walk(p.Header, p)
			}
		}
		var r io.Reader = body
		switch strings.ToLower(h.Get("Content-Transfer-Encoding")) {
		case "quoted-printable":
			r = quotedprintable.NewReader(body)
		case "base64":
			r = base64.NewDecoder(base64.StdEncoding, body)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("part %s: %v", mt, err)
		}
		leaves = append(leaves, leaf{mt, strings.Trim(h.Get("Content-Id"), "<>"), b})
	}
	walk(textprotoHeader(m.Header), m.Body)
	var html, text string
	images := map[string][]byte{}
	for _, l := range leaves {
		switch l.contentType {
		case "text/html":
			html = string(l.body)
		case "text/plain":
			text = string(l.body)
		case "image/png":
			images[l.cid] = l.body
		}
	}
	refs := regexp.MustCompile(`src="cid:([^"]+)"`).FindAllStringSubmatch(html, -1)
	if len(refs) == 0 {
		t.Errorf("the report's HTML shows no plots:\n%s", html)
	}
	for _, ref := range refs {
		b, ok := images[ref[1]]
		if !ok {
			t.Errorf("the HTML shows cid:%s, which the message does not carry (it has %d images)", ref[1], len(images))
			continue
		}
		if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() != 900 {
			t.Errorf("image %s: not a 900 px wide PNG: %v", ref[1], err)
		}
	}
	for _, want := range []string{"mailtgt", "Uptime (scrapes answered)", "LLMServiceDown"} {
		if !strings.Contains(html, want) || !strings.Contains(text, want) {
			t.Errorf("the report's HTML or text lacks %q:\nHTML:\n%s\ntext:\n%s", want, html, text)
		}
	}
}

// textprotoHeader is what both a message's and a part's header give: Get.
type textprotoHeader interface{ Get(string) string }
