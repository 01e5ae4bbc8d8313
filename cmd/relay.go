package cmd

import (
	"errors"
	"log/slog"

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
			log := slog.New(slog.NewJSONHandler(a.streams.ErrOut, nil))
			err := relay.Serve(cmd.Context(), config, listen, relay.WithLogger(log))
			if errors.Is(err, relay.ErrBadConfig) {
				return usageError{err}
			}
			return err
		},
	}
	c.Flags().StringVar(&config, "config", "/etc/llmmon-relay/relay.yml", "relay configuration file")
	c.Flags().StringVar(&listen, "listen", "", "address to serve on (default: the configuration's listen)")
	return c
}
