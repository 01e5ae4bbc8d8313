package gpuexp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ErrNoNvidiaSMI: the nvidia-smi to run is not there.
var ErrNoNvidiaSMI = errors.New("nvidia-smi not found: install the NVIDIA driver, or give its path with --nvidia-smi")

// Server is the exporter listening on its address.
type Server struct {
	Addr string // where it listens, e.g. 127.0.0.1:9835
	SMI  string // the nvidia-smi it runs
	ln   net.Listener
	srv  *http.Server
}

// Listen finds nvidia-smi (a name on PATH or a path) and binds listen; Serve then serves.
func Listen(listen, smi string, timeout time.Duration) (*Server, error) {
	path, err := exec.LookPath(smi)
	if err != nil {
		return nil, ErrNoNvidiaSMI
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(Command(path), timeout))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (is another exporter there? choose another with --listen): %w", listen, err)
	}
	return &Server{Addr: ln.Addr().String(), SMI: path, ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

// Serve serves /metrics until ctx ends, then returns nil.
func (s *Server) Serve(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		_ = s.srv.Close()
	}()
	if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
