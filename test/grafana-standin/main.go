// Command grafana-standin is a STAND-IN for Grafana, not Grafana: no Grafana can be had on the
// machines llmmon is built and tested on. This minimal version implements the part of Grafana's
// documented contract that `llmmon up` checks: GET /api/health, and GET
// /api/datasources/uid/{uid} (basic auth with GF_SECURITY_ADMIN_USER and the password from
// GF_SECURITY_ADMIN_PASSWORD or GF_SECURITY_ADMIN_PASSWORD__FILE), answered from the datasource
// provisioning files under GF_PATHS_PROVISIONING. Like Grafana, it refuses to start when
// GF_PATHS_DATA is not writable.
package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

func env(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func main() {
	addr := os.Getenv("GF_SERVER_HTTP_ADDR") + ":" + env("GF_SERVER_HTTP_PORT", "3000")
	user := env("GF_SECURITY_ADMIN_USER", "admin")
	pass := os.Getenv("GF_SECURITY_ADMIN_PASSWORD")
	if f := os.Getenv("GF_SECURITY_ADMIN_PASSWORD__FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(os.Stderr, "logger=standin level=error msg=\"cannot read admin password file\" error=%q\n", err)
			os.Exit(1)
		}
		pass = strings.TrimSpace(string(b))
	}
	data := env("GF_PATHS_DATA", "/var/lib/grafana")
	if err := os.WriteFile(filepath.Join(data, "grafana-standin.db"), []byte("{}"), 0o600); err != nil {
		fmt.Fprintf(os.Stderr, "GF_PATHS_DATA='%s' is not writable.\n", data)
		os.Exit(1)
	}
	prov := env("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning")
	http.HandleFunc("/api/health", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"commit":"standin","database":"ok","version":"grafana-standin"}`))
	})
	http.HandleFunc("/api/datasources/uid/", func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"invalid username or password"}`))
			return
		}
		uid := strings.TrimPrefix(r.URL.Path, "/api/datasources/uid/")
		files, _ := filepath.Glob(filepath.Join(prov, "datasources", "*.yaml"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if strings.Contains(string(b), "uid: "+uid+"\n") {
				w.Write([]byte(fmt.Sprintf(`{"uid":%q,"type":"prometheus"}`, uid)))
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"message":"Data source not found"}`))
	})
	fmt.Fprintf(os.Stderr, "logger=standin level=info msg=\"HTTP Server Listen\" address=%s\n", addr)
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
