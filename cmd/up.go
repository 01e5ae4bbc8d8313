package cmd

import (
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/runtime/docker"
	"github.com/llmmon/llmmon/stack/spec"
)

// withRuntime connects to Docker once for the whole command.
func (a *app) withRuntime(cmd *cobra.Command, fn func(e *stack.Engine) error) error {
	rt, err := docker.New(cmd.Context())
	if err != nil {
		return err
	}
	defer rt.Close()
	return fn(a.engine(stack.WithRuntime(rt)))
}

func newUpCmd(a *app) *cobra.Command {
	var timeout time.Duration
	var dryRun, noWait bool
	var fleet spec.Fleet
	c := &cobra.Command{
		Use:   "up",
		Short: "Start or update the stack and wait until every part is healthy",
		Long: `up renders and validates the configuration, checks that nothing is in the way (Docker
answers, ports are free, images are present or pullable) and only then converges: it creates
what is missing, hot-reloads Prometheus and Alertmanager when only their files changed,
recreates a container only when its image or flags changed (its data volume stays), and
removes components no longer in the spec. Running it again with nothing changed changes
nothing. It waits until Prometheus has loaded its rules and sees its targets, Alertmanager is
connected and Grafana has its datasource.

It plans from what is really there (each container's labels, state and the files it holds),
so a run that was interrupted, even killed, is finished by the next one. Only one up or down
changes a stack at a time: a second one waits for the first (or fails with --no-wait).`,
		Example: `  llmmon up
  llmmon up --dry-run              # print the plan and the preflight's verdict; change nothing
  llmmon up -f prod.yaml --timeout 5m
  llmmon up --role agent --central http://central:9090 --central-password-file ./central-password`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, src, err := a.loadSpec(cmd.Context(), cmd)
			if err != nil {
				return err
			}
			if fleet.Role != "" || fleet.Central != "" || fleet.CentralPasswordFile != "" {
				if err := s.OverrideFleet(fleet, src); err != nil {
					return err
				}
			}
			return a.withRuntime(cmd, func(e *stack.Engine) error {
				w := a.streams.ErrOut
				progress, done := a.progress()
				res, err := e.Up(cmd.Context(), s, stack.UpOptions{
					HealthTimeout: timeout,
					DryRun:        dryRun,
					NoWait:        noWait,
					Progress:      progress,
				})
				done()
				if dryRun && res != nil {
					printPlan(a.streams.Out, s.Name, res.Plan)
				}
				if err != nil {
					return err
				}
				for _, n := range res.Notes {
					fmt.Fprintf(w, "note: %s\n", n)
				}
				if dryRun {
					fmt.Fprintf(w, "Dry run: the preflight passed; nothing was changed.\n")
					return nil
				}
				if !res.Changed {
					fmt.Fprintf(w, "Stack %q is up to date (%s).\n", s.Name, res.Elapsed.Round(time.Millisecond))
				} else {
					fmt.Fprintf(w, "Stack %q is up and healthy (%s).\n", s.Name, res.Elapsed.Round(100*time.Millisecond))
				}
				names := make([]string, 0, len(res.URLs))
				for n := range res.URLs {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					fmt.Fprintf(a.streams.Out, "  %-13s %s\n", n, res.URLs[n])
				}
				if s.Role() == spec.RoleAgent {
					fmt.Fprintf(a.streams.Out, "  Prometheus (agent mode) login: %s, password in %s (mode 0600)\n", stack.APIUser, stack.APIPasswordFile(s))
					return nil
				}
				if res.PasswordFile != "" {
					fmt.Fprintf(a.streams.Out, "  Grafana login: %s, password in %s (mode 0600)\n", s.Grafana.AdminUser, res.PasswordFile)
				}
				fmt.Fprintf(a.streams.Out, "  Prometheus and Alertmanager login: %s, password in %s (mode 0600)\n", stack.APIUser, stack.APIPasswordFile(s))
				return nil
			})
		},
	}
	c.Flags().DurationVar(&timeout, "timeout", 3*time.Minute, "how long to wait for every component to become healthy")
	c.Flags().StringVar(&fleet.Role, "role", "", "this host's role in a fleet: agent (send everything to a central stack), central or standalone; overrides fleet.role")
	c.Flags().StringVar(&fleet.Central, "central", "", "with --role agent: the central stack's Prometheus, http://host:9090; overrides fleet.central")
	c.Flags().StringVar(&fleet.CentralPasswordFile, "central-password-file", "", "with --role agent: a file holding the central Prometheus' llmmon password; overrides fleet.central_password_file")
	c.Flags().BoolVar(&dryRun, "dry-run", false, "print what up would do and check that it can, without changing anything")
	c.Flags().BoolVar(&noWait, "no-wait", false, "fail at once when another llmmon is changing this stack, instead of waiting")
	return c
}

// printPlan prints the steps of a plan, one a line, for up --dry-run.
func printPlan(out io.Writer, name string, p stack.Steps) {
	if len(p) == 0 {
		fmt.Fprintf(out, "Stack %q is as the spec wants it: nothing to do.\n", name)
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "STEP\tCOMPONENT\tCAUSE")
	for _, st := range p {
		subject := st.Component
		if st.Op == stack.OpPull || st.Op == stack.OpBuild {
			subject = st.Image
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", st.Op, subject, st.Cause)
	}
	w.Flush()
}

type exitError struct {
	error
	code int
}

func (e exitError) ExitCode() int { return e.code }
