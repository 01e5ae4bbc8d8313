// Command grafana-standin is a STAND-IN for Grafana, not Grafana. No Grafana build can be had
// on llmmon's test machines, so this program implements the documented contract of the parts
// of Grafana that llmmon uses, and llmmon's Grafana code is tested against it. It announces
// itself as "grafana-standin" everywhere: in its /api/health version, in its logs, in its UI stub.
//
// Configuration comes from Grafana's own environment variables: GF_SERVER_HTTP_ADDR (default
// all interfaces), GF_SERVER_HTTP_PORT (3000), GF_SECURITY_ADMIN_USER (admin),
// GF_SECURITY_ADMIN_PASSWORD (admin) or GF_SECURITY_ADMIN_PASSWORD__FILE (Grafana's __FILE
// convention: the password is read from that file, trimmed), GF_PATHS_PROVISIONING
// (/etc/grafana/provisioning) and GF_PATHS_DATA (/var/lib/grafana). GF_STANDIN_RESCAN_SECONDS,
// which only the stand-in knows, overrides every dashboard provider's updateIntervalSeconds.
//
// On start, like Grafana, it needs a writable data directory ($GF_PATHS_DATA/grafana.db holds,
// as JSON, the folders, data sources and dashboards) and exits 1 with
// "GF_PATHS_DATA='…' is not writable." otherwise. It then applies the provisioning files:
// datasources/*.yaml|yml (a bad file stops the start, as it does Grafana's) and the dashboard
// providers of dashboards/*.yaml|yml, whose *.json files it loads, and re-reads every
// updateIntervalSeconds (default 10). Provisioning values may use $VAR / ${VAR} (and $$).
//
// HTTP API (JSON; basic auth with the admin user on every /api route but /api/health):
//
//	GET  /api/health
//	GET  /api/datasources, /api/datasources/uid/{uid}, /api/datasources/name/{name}
//	GET  /api/datasources/uid/{uid}/health               (Prometheus: instant query 1+1)
//	ANY  /api/datasources/proxy/uid/{uid}/{path...}      (reverse proxy to the data source URL)
//	GET  /api/search?type=dash-db|dash-folder&query=&tag=&folderUIDs=&dashboardUIDs=&limit=
//	GET  /api/dashboards/uid/{uid}, DELETE /api/dashboards/uid/{uid}
//	POST /api/dashboards/db, POST /api/dashboards/import
//	GET  /api/folders, POST /api/folders, GET /api/folders/{uid}
//
// Anything else under /api answers 404 {"message":"Not found"}.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const standinVersion = "grafana-standin"

type config struct {
	addr, port     string
	user, password string
	provDir        string
	dataDir        string
	rescan         time.Duration // 0: use each provider's updateIntervalSeconds
}

func loadConfig(getenv func(string) string) (config, error) {
	def := func(k, d string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return d
	}
	c := config{
		addr:     getenv("GF_SERVER_HTTP_ADDR"),
		port:     def("GF_SERVER_HTTP_PORT", "3000"),
		user:     def("GF_SECURITY_ADMIN_USER", "admin"),
		password: def("GF_SECURITY_ADMIN_PASSWORD", "admin"),
		provDir:  def("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"),
		dataDir:  def("GF_PATHS_DATA", "/var/lib/grafana"),
	}
	if p, err := strconv.Atoi(c.port); err != nil || p < 0 || p > 65535 {
		return c, fmt.Errorf("GF_SERVER_HTTP_PORT=%q is not a port", c.port)
	}
	if f := getenv("GF_SECURITY_ADMIN_PASSWORD__FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return c, fmt.Errorf("GF_SECURITY_ADMIN_PASSWORD__FILE: %w", err)
		}
		c.password = strings.TrimSpace(string(b))
	}
	if v := getenv("GF_STANDIN_RESCAN_SECONDS"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			return c, fmt.Errorf("GF_STANDIN_RESCAN_SECONDS=%q: want a positive number of seconds", v)
		}
		c.rescan = time.Duration(f * float64(time.Second))
	}
	return c, nil
}

// logger writes Grafana-style logfmt lines: logger=standin t=… level=… msg="…" key=value….
type logger struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logger) log(level, msg string, kv ...any) {
	var b strings.Builder
	fmt.Fprintf(&b, "logger=standin t=%s level=%s msg=%s", time.Now().UTC().Format(time.RFC3339Nano), level, logfmtValue(msg))
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, " %v=%s", kv[i], logfmtValue(fmt.Sprint(kv[i+1])))
	}
	b.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, b.String())
}

func logfmtValue(s string) string {
	if s == "" || strings.ContainsAny(s, " \"=\t\n") {
		return strconv.Quote(s)
	}
	return s
}

func (l *logger) info(msg string, kv ...any)  { l.log("info", msg, kv...) }
func (l *logger) warn(msg string, kv ...any)  { l.log("warn", msg, kv...) }
func (l *logger) error(msg string, kv ...any) { l.log("error", msg, kv...) }

// run starts the stand-in and serves until ctx is done. It returns the process exit code.
// ready, if not nil, is called with the listen address once the server accepts connections.
func run(ctx context.Context, getenv func(string) string, stderr io.Writer, ready func(addr string)) int {
	lg := &logger{w: stderr}
	cfg, err := loadConfig(getenv)
	if err != nil {
		lg.error("Invalid configuration", "error", err)
		return 1
	}
	lg.info("Starting grafana-standin (a stand-in for Grafana, not Grafana)", "version", standinVersion, "commit", "standin")
	lg.info("Config loaded from", "file", "environment")
	lg.info("Path Data", "path", cfg.dataDir)
	lg.info("Path Provisioning", "path", cfg.provDir)

	st, err := openStore(filepath.Join(cfg.dataDir, "grafana.db"))
	if err != nil {
		var nw notWritableError
		if errors.As(err, &nw) {
			// The same two lines as Grafana's Docker entrypoint.
			fmt.Fprintf(stderr, "GF_PATHS_DATA='%s' is not writable.\n", cfg.dataDir)
			fmt.Fprintln(stderr, "You may have issues with file permissions, more information here: http://docs.grafana.org/installation/docker/#migrate-to-v51-or-later")
			lg.error("Data directory is not writable", "path", cfg.dataDir, "error", nw.err)
			return 1
		}
		lg.error("Failed to open the database", "error", err)
		return 1
	}
	s := &server{cfg: cfg, log: lg, store: st, warned: map[string]string{}}
	if err := s.provisionDatasources(getenv); err != nil {
		lg.error("Failed to provision data sources", "error", err)
		fmt.Fprintf(stderr, "Error: ✗ Datasource provisioning error: %v\n", err)
		return 1
	}
	providers := s.readProviders(getenv)
	for _, p := range providers {
		s.scanProvider(p)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.addr, cfg.port))
	if err != nil {
		lg.error("Failed to start the HTTP server", "error", err)
		return 1
	}
	lg.info("HTTP Server Listen", "address", ln.Addr().String(), "protocol", "http", "subUrl", "", "socket", "")
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range providers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.rescanLoop(ctx, p)
		}()
	}
	if ready != nil {
		ready(ln.Addr().String())
	}
	<-ctx.Done()
	lg.info("Shutdown started", "reason", "context done")
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	wg.Wait()
	return 0
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Getenv, os.Stderr, nil)
	stop()
	os.Exit(code)
}
