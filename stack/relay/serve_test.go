package relay

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServe: the relay of a configuration file serves until its context ends, then returns
// nil; a wrong file is ErrBadConfig; a taken port says what to do.
func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "relay.yml")
	if err := os.WriteFile(cfg, []byte("listen: "+addr+"\ntoken: t0k3n\nlanguage: en\ntimezone: UTC\nreceivers:\n  - {name: w, kind: wecom, url: 'http://127.0.0.1:1/send'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, cfg, "") }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/ready")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the relay does not answer on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A second relay on the same port says what to do.
	if err := Serve(t.Context(), cfg, ""); err == nil || !strings.Contains(err.Error(), "relay cannot listen on "+addr) || !strings.Contains(err.Error(), "internal_ports.relay") {
		t.Errorf("second relay on the port: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after its context ended: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not stop")
	}

	bad := filepath.Join(dir, "bad.yml")
	if err := os.WriteFile(bad, []byte("listen: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Serve(t.Context(), bad, ""); !errors.Is(err, ErrBadConfig) {
		t.Errorf("a broken file: %v, want ErrBadConfig", err)
	}
}
