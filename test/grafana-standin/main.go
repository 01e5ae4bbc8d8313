// Command grafana-standin is a STAND-IN for Grafana, not Grafana. No Grafana build can be had
// on llmmon's test machines, so this program implements the documented contract of the parts
// of Grafana that llmmon uses, and llmmon's Grafana code is tested against it. It announces
// itself as "grafana-standin" everywhere: in its /api/health version, in its logs, in its UI stub.
//
// Configuration comes from Grafana's own environment variables: GF_SERVER_HTTP_ADDR (default
// all interfaces), GF_SERVER_HTTP_PORT (3000), GF_SECURITY_ADMIN_USER (admin),
// GF_SECURITY_ADMIN_PASSWORD (admin) or GF_SECURITY_ADMIN_PASSWORD__FILE (Grafana's __FILE
// convention: the password is read from that file, trimmed), GF_PATHS_PROVISIONING
// (/etc/grafana/provisioning), GF_PATHS_DATA (/var/lib/grafana), GF_AUTH_ANONYMOUS_ENABLED
// (false) and GF_AUTH_ANONYMOUS_ORG_ROLE (Viewer). GF_STANDIN_RESCAN_SECONDS, which only the
// stand-in knows, overrides every dashboard provider's updateIntervalSeconds.
//
// On start, like Grafana, it needs a writable data directory ($GF_PATHS_DATA/grafana.db holds,
// as JSON, the folders, data sources and dashboards) and exits 1 with
// "GF_PATHS_DATA='…' is not writable." otherwise. It then applies the provisioning files:
// datasources/*.yaml|yml (a bad file stops the start, as it does Grafana's) and the dashboard
// providers of dashboards/*.yaml|yml, whose *.json files it loads, and re-reads every
// updateIntervalSeconds (default 10). Provisioning values may use $VAR / ${VAR} (and $$).
// Like Grafana at start and on a dashboards reload, it deletes the dashboards of providers that
// are gone, whatever their disableDeletion; a dashboard whose file is gone is deleted when its
// provider has disableDeletion: false, and kept but no longer provisioned when true.
//
// HTTP API (JSON; basic auth with the admin user, a server admin, on every /api route but
// /api/health; anonymous requests only when GF_AUTH_ANONYMOUS_ENABLED, with that org role, which
// is never allowed /api/admin: 403):
//
//	GET  /api/health
//	GET  /api/datasources, /api/datasources/uid/{uid}, /api/datasources/name/{name}
//	GET  /api/datasources/uid/{uid}/health               (Prometheus: instant query 1+1)
//	ANY  /api/datasources/proxy/uid/{uid}/{path...}      (reverse proxy to the data source URL)
//	GET  /api/search?type=dash-db|dash-folder&query=&tag=&folderUIDs=&dashboardUIDs=&limit=
//	GET  /api/dashboards/uid/{uid}, DELETE /api/dashboards/uid/{uid}
//	POST /api/dashboards/db, POST /api/dashboards/import
//	GET  /api/folders, POST /api/folders, GET /api/folders/{uid}
//	POST /api/admin/provisioning/dashboards/reload       (re-reads the providers and their files
//	                                                     before answering {"message":"Dashboards config reloaded"})
//	POST /api/admin/provisioning/datasources/reload      ({"message":"Datasources config reloaded"})
//
// Run as "rm" (its image also has it as /bin/rm, since the image has no shell), it is a minimal
// rm [-f] [--] FILE..., so that llmmon can delete a provisioned dashboard's file in it with
// `docker exec … rm -f`, as in Grafana's own image.
//
// Anything else under /api answers 404 {"message":"Not found"}.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
	anonymous      bool          // GF_AUTH_ANONYMOUS_ENABLED
	anonymousRole  string        // GF_AUTH_ANONYMOUS_ORG_ROLE: Viewer, Editor or Admin
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
	c.anonymousRole = def("GF_AUTH_ANONYMOUS_ORG_ROLE", "Viewer")
	if v := getenv("GF_AUTH_ANONYMOUS_ENABLED"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("GF_AUTH_ANONYMOUS_ENABLED=%q: want true or false", v)
		}
		c.anonymous = b
	}
	if r := c.anonymousRole; r != "Viewer" && r != "Editor" && r != "Admin" {
		return c, fmt.Errorf("GF_AUTH_ANONYMOUS_ORG_ROLE=%q: want Viewer, Editor or Admin", r)
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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := &server{cfg: cfg, log: lg, store: st, warned: map[string]string{}, getenv: getenv, baseCtx: ctx}
	if err := s.provisionDatasources(getenv); err != nil {
		lg.error("Failed to provision data sources", "error", err)
		fmt.Fprintf(stderr, "Error: ✗ Datasource provisioning error: %v\n", err)
		return 1
	}
	_ = s.provisionDashboards(false) // errors are logged; the good providers are used
	defer s.stopDashboardPolling()

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.addr, cfg.port))
	if err != nil {
		lg.error("Failed to start the HTTP server", "error", err)
		return 1
	}
	lg.info("HTTP Server Listen", "address", ln.Addr().String(), "protocol", "http", "subUrl", "", "socket", "")
	srv := &http.Server{Handler: s.routes(), ReadHeaderTimeout: 30 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	if ready != nil {
		ready(ln.Addr().String())
	}
	<-ctx.Done()
	lg.info("Shutdown started", "reason", "context done")
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	_ = srv.Shutdown(sctx)
	return 0
}

func main() {
	if filepath.Base(os.Args[0]) == "rm" {
		os.Exit(rm(os.Args[1:], os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Getenv, os.Stderr, nil)
	stop()
	os.Exit(code)
}

// rm is a minimal rm(1): rm [-f] [--] FILE...; with -f a missing file is not an error.
func rm(args []string, stderr io.Writer) int {
	force, code := false, 0
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		if strings.Trim(a, "-f") != "" {
			fmt.Fprintf(stderr, "rm: unknown option %s\n", a)
			return 1
		}
		force = true
	}
	if len(args) == 0 && !force {
		fmt.Fprintln(stderr, "rm: missing operand")
		return 1
	}
	for _, p := range args {
		if err := os.Remove(p); err != nil && !(force && errors.Is(err, fs.ErrNotExist)) {
			fmt.Fprintf(stderr, "rm: %v\n", err)
			code = 1
		}
	}
	return code
}
