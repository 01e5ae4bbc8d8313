package cmd

import (
	"errors"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/remediate"
	"github.com/llmmon/llmmon/stack/spec"
)

func newRemediateCmd(a *app) *cobra.Command {
	var config string
	c := &cobra.Command{
		Use:   "remediate",
		Short: "Run the remediation agent that restarts dead model services (up runs it for you)",
		Long: `remediate receives the alerts that targets[].remediation names from Alertmanager and
restarts the service: its Docker container (by exact name; no other container is touched) or a
command. At most max_actions per window, a cool-down between two, a health check of the
service's metrics endpoint after each; when the limit is hit or the service stays unhealthy it
raises LLMAutoRecoveryFailed (critical) through Alertmanager. Each alert episode is acted on
once, and remembered on disk, so neither Alertmanager's repeats nor a restart of the agent
repeat an action.

With remediation_agent: container (the default) llmmon up runs it as a container of the stack
with the Docker socket. For command actions (a systemd unit, say) set remediation_agent: host
and run it on the host with the spec: llmmon remediate -f SPEC (as a systemd unit; the README
has one).`,
		Example: `  llmmon remediate -f /etc/llmmon/llmmon.yaml`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewJSONHandler(a.streams.ErrOut, nil))
			var cfg *remediate.Config
			var err error
			if config != "" {
				cfg, err = remediate.LoadConfig(config)
			} else {
				var s *spec.Spec
				if s, _, err = a.loadSpec(cmd.Context(), cmd); err != nil {
					return err
				}
				cfg, err = stack.HostRemediationConfig(s)
			}
			if errors.Is(err, remediate.ErrBadConfig) || errors.Is(err, spec.ErrInvalid) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			return remediate.Serve(cmd.Context(), cfg, &stack.LazyDocker{}, remediate.WithLogger(log))
		},
	}
	c.Flags().StringVar(&config, "config", "", "the agent's configuration file (the container's); without it, from the spec (-f)")
	return c
}
