package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack/relay"
)

func newRelayCmd(a *app) *cobra.Command {
	var config, listen string
	c := &cobra.Command{
		Use:   "relay",
		Short: "Run the notification relay for DingTalk and WeCom robots (up runs it for you)",
		Long: `relay receives Alertmanager's webhook notifications and delivers them to DingTalk custom
robots and WeCom group robots: it signs DingTalk requests, keeps each message under the
platform's byte limit, batches alerts to stay under 20 messages a minute per robot, retries
with backoff, and keeps undelivered alerts on disk until the robot answers again.

llmmon up runs it as a container of the stack, built locally from this very binary, whenever
the spec has a dingtalk or wecom receiver; its configuration (generated from the spec, 0600)
is the file relay/relay.yml of llmmon render. Run it by hand only to debug.`,
		Example: `  llmmon render -o /tmp/out && llmmon relay --config /tmp/out/relay/relay.yml`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := relay.LoadConfig(config)
			if err != nil {
				return usageError{err}
			}
			if listen != "" {
				cfg.Listen = listen
			}
			log := slog.New(slog.NewJSONHandler(a.streams.ErrOut, nil))
			r, err := relay.New(cfg, relay.WithLogger(log))
			if err != nil {
				return err
			}
			l, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return fmt.Errorf("relay cannot listen on %s (%w); stop what holds the port or change internal_ports.relay in the spec", cfg.Listen, err)
			}
			srv := &http.Server{Handler: r.Handler(config), ReadHeaderTimeout: 10 * time.Second}
			ctx, cancel := context.WithCancel(cmd.Context())
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
			log.Info("relay listening", "addr", cfg.Listen, "receivers", names)
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
				cancel()
				<-done
				return err
			}
			cancel()
			return <-done
		},
	}
	c.Flags().StringVar(&config, "config", "/etc/llmmon-relay/relay.yml", "relay configuration file")
	c.Flags().StringVar(&listen, "listen", "", "address to serve on (default: the configuration's listen)")
	return c
}
