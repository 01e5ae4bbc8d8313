package report

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"
)

// Mail is an email receiver of the report: the same SMTP settings as the receiver's alerts.
type Mail struct {
	Name      string   `yaml:"name"`
	To        []string `yaml:"to"`
	From      string   `yaml:"from"`
	Smarthost string   `yaml:"smarthost"`
	Username  string   `yaml:"username,omitempty"`
	// PasswordFile holds the SMTP password.
	PasswordFile string `yaml:"password_file,omitempty"`
	// TLS is starttls (the default: required), tls (implicit, as on port 465) or none.
	TLS                string `yaml:"tls,omitempty"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify,omitempty"`
	// Hello is the name given in EHLO (default: this host's name).
	Hello string `yaml:"hello,omitempty"`
}

// Send mails the report: the HTML page with the plots inline (cid:KEY.png), and the Markdown
// as the plain-text alternative. It never puts the password in an error.
func (m Mail) Send(ctx context.Context, subject string, html, text []byte, plots *Plots) error {
	host, portStr, err := net.SplitHostPort(m.Smarthost)
	if err != nil {
		return fmt.Errorf("email %s: smarthost %q is not host:port", m.Name, m.Smarthost)
	}
	port, _ := strconv.Atoi(portStr)
	opts := []mail.Option{mail.WithPort(port), mail.WithTimeout(30 * time.Second),
		mail.WithTLSConfig(&tls.Config{ServerName: host, InsecureSkipVerify: m.InsecureSkipVerify, MinVersion: tls.VersionTLS12})}
	switch {
	case m.TLS == "tls" || (m.TLS == "" && port == 465):
		opts = append(opts, mail.WithSSL())
	case m.TLS == "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if m.Username != "" {
		password, err := ReadSecretFile(m.PasswordFile)
		if err != nil {
			return fmt.Errorf("email %s: read the SMTP password: %w", m.Name, err)
		}
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(m.Username), mail.WithPassword(password))
	}
	if m.Hello != "" {
		opts = append(opts, mail.WithHELO(m.Hello))
	}
	c, err := mail.NewClient(host, opts...)
	if err != nil {
		return fmt.Errorf("email %s: %w", m.Name, err)
	}
	msg := mail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return fmt.Errorf("email %s: the sender %q: %w", m.Name, m.From, err)
	}
	if err := msg.To(m.To...); err != nil {
		return fmt.Errorf("email %s: the recipients: %w", m.Name, err)
	}
	msg.Subject(subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, string(text))
	msg.AddAlternativeString(mail.TypeTextHTML, string(html))
	if plots != nil {
		for _, k := range CurveKeys() {
			if b, ok := plots.PNG[k]; ok {
				if err := msg.EmbedReader(k+".png", bytes.NewReader(b), mail.WithFileContentID(k+".png")); err != nil {
					return fmt.Errorf("email %s: attach the plot %s: %w", m.Name, k, err)
				}
			}
		}
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("email %s: send through %s: %w", m.Name, m.Smarthost, err)
	}
	return nil
}

// ReadSecretFile reads a secret file ("" gives ""), without its trailing newline.
func ReadSecretFile(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// MailImageSrc is the src of a plot in the mailed HTML: the inline part's Content-ID.
func MailImageSrc(key string) string { return "cid:" + key + ".png" }

// Subject is the title of the report's email and robot message.
func (r *Report) Subject(lang string, loc *time.Location) string {
	w, ok := words[lang]
	if !ok {
		w = words["en"]
	}
	if loc == nil {
		loc = time.UTC
	}
	return fmt.Sprintf("%s %s – %s", w["title"], r.Start.In(loc).Format("2006-01-02"), r.End.In(loc).Format("2006-01-02"))
}

// Summary is the report in a few lines of Markdown for a chat robot: per service its
// availability, p95 latency, requests and error budget left, with the change; how many alerts
// fired; the link. It stays under maxBytes, leaving services out (and saying how many) when
// it must.
func (r *Report) Summary(lang string, loc *time.Location, link string, maxBytes int) string {
	w, ok := words[lang]
	if !ok {
		w = words["en"]
	}
	head := "### " + r.Subject(lang, loc) + "\n\n"
	var tail strings.Builder
	var firing time.Duration
	for _, a := range r.Alerts {
		firing += a.Firing
	}
	fmt.Fprintf(&tail, "\n%s\n", fmt.Sprintf(w["summary.alerts"], len(r.Alerts), durationWords(firing)))
	if link != "" {
		fmt.Fprintf(&tail, "\n[%s](%s)\n", w["summary.link"], link)
	}
	var lines []string
	for _, s := range r.Services {
		parts := []string{"**" + s.Target + "**"}
		if s.Availability.Has {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", w["summary.availability"], ratio2(s.Availability.Value), points(s.Availability)))
		} else if s.Uptime.Has {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", w["summary.uptime"], ratio2(s.Uptime.Value), points(s.Uptime)))
		}
		if s.P95.Has {
			parts = append(parts, fmt.Sprintf("p95 %s (%s)", secs(s.P95.Value), change(s.P95)))
		}
		if s.Requests.Has {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", w["summary.requests"], count(s.Requests.Value), change(s.Requests)))
		}
		if s.AvailabilityBudget.Has {
			parts = append(parts, fmt.Sprintf("%s %s", w["summary.budget"], ratio0(s.AvailabilityBudget.Value)))
		}
		lines = append(lines, "- "+strings.Join(parts, " · "))
	}
	body := strings.Join(lines, "\n") + "\n"
	for n := len(lines); len(head)+len(body)+len(tail.String()) > maxBytes && n > 0; n-- {
		body = strings.Join(lines[:n-1], "\n") + "\n- " + fmt.Sprintf(w["summary.more"], len(lines)-n+1) + "\n"
	}
	return head + body + tail.String()
}

func durationWords(d time.Duration) string {
	d = d.Round(time.Minute)
	if d >= time.Hour {
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dm", int(d.Minutes()))
}
