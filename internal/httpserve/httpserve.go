// Package httpserve runs an HTTP server beside the background work it fronts (the relay's
// deliveries, the remediation agent's actions), with one shutdown for both.
package httpserve

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Run serves h on l and runs work until ctx ends; then the server shuts down within 5 s, and
// Run returns what work returns. When the server fails, work is stopped and the server's error
// is returned.
func Run(ctx context.Context, l net.Listener, h http.Handler, work func(context.Context) error) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- work(ctx) }()
	go func() {
		<-ctx.Done()
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		cancel()
		<-done
		return err
	}
	cancel()
	return <-done
}
