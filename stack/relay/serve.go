package relay

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/llmmon/llmmon/internal/httpserve"
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
	names := make([]string, 0, len(cfg.Receivers))
	for _, rc := range cfg.Receivers {
		names = append(names, rc.Name+" ("+rc.Kind+")")
	}
	r.log.Info("relay listening", "addr", cfg.Listen, "receivers", names)
	return httpserve.Run(ctx, l, r.Handler(configPath), r.Run)
}

// ErrBadConfig: the relay's configuration file cannot be read or is wrong.
var ErrBadConfig = errors.New("bad relay configuration")
