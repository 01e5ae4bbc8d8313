package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Serve runs the relay of the configuration file configPath on listen (the configuration's
// own address when empty) until ctx ends: it delivers what is pending, serves Alertmanager's
// webhooks and its API, and shuts down within 5 s. It returns only on an error or when ctx
// ends; ErrBadConfig-wrapped errors mean the configuration file is wrong.
func Serve(ctx context.Context, configPath, listen string, opts ...Option) error {
	cfg, err := LoadConfig(configPath)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	if listen != "" {
		cfg.Listen = listen
	}
	r, err := New(cfg, opts...)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("relay cannot listen on %s (%w); stop what holds the port or change internal_ports.relay in the spec", cfg.Listen, err)
	}
	srv := &http.Server{Handler: r.Handler(configPath), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	names := make([]string, 0, len(cfg.Receivers))
	for _, rc := range cfg.Receivers {
		names = append(names, rc.Name+" ("+rc.Kind+")")
	}
	r.log.Info("relay listening", "addr", cfg.Listen, "receivers", names)
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		cancel()
		<-done
		return err
	}
	cancel()
	return <-done
}

// ErrBadConfig: the relay's configuration file cannot be read or is wrong.
var ErrBadConfig = errors.New("bad relay configuration")
