// Package cmd is llmmon's command line: a thin cobra shell that turns flags into engine calls
// and prints results. All behaviour lives in package stack.
package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/llmmon/llmmon/dashboards"
	"github.com/llmmon/llmmon/rules"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
	"github.com/llmmon/llmmon/templates"
)

// Version is set at build time with -ldflags "-X github.com/llmmon/llmmon/cmd.Version=...".
var Version = "dev"

// Exit codes.
const (
	ExitOK       = 0
	ExitFailure  = 1 // the work failed at run time (Docker, health, network)
	ExitBadInput = 2 // the spec or the command line is wrong
	ExitCanceled = 130
)

// IOStreams are the command's standard streams; data goes to Out, messages to ErrOut.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// usageError marks command-line mistakes (exit 2).
type usageError struct{ error }

// global flags shared by every command.
type globalFlags struct {
	file     string
	verbose  bool
	progress string // progressAuto, ...
	quiet    bool
}

// app is what every command needs.
type app struct {
	streams IOStreams
	flags   *globalFlags
	log     *slog.Logger
	// noSecrets: the command tolerates unset secret variables (see withoutSecrets).
	noSecrets bool
}

// Assets are llmmon's embedded assets.
func Assets() render.Assets {
	return render.Assets{Rules: rules.FS, Templates: templates.FS, Dashboards: dashboards.FS}
}

// Main runs llmmon with os.Args and returns the process exit code.
func Main() int {
	streams := IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return Run(ctx, streams, os.Args[1:])
}

// Run runs llmmon with args and returns the exit code. It is the one place that maps errors to
// exit codes and prints them.
func Run(ctx context.Context, streams IOStreams, args []string) int {
	root := NewRootCmd(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ue usageError
	var ps spec.Problems
	switch {
	case errors.As(err, &ps):
		fmt.Fprintf(streams.ErrOut, "ERROR: the spec has %d problem(s):\n%s\n", len(ps), ps.Error())
		return ExitBadInput
	case errors.Is(err, spec.ErrInvalid):
		fmt.Fprintf(streams.ErrOut, "ERROR: %v\n", err)
		return ExitBadInput
	case errors.As(err, &ue):
		fmt.Fprintf(streams.ErrOut, "ERROR: %v\nRun 'llmmon %s --help' for usage.\n", err, subcommandName(root, args))
		return ExitBadInput
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(streams.ErrOut, "ERROR: interrupted")
		return ExitCanceled
	}
	fmt.Fprintf(streams.ErrOut, "ERROR: %v\n", err)
	var ec interface{ ExitCode() int }
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return ExitFailure
}

func subcommandName(root *cobra.Command, args []string) string {
	c, _, err := root.Find(args)
	if err != nil || c == root {
		return ""
	}
	return c.Name()
}

// NewRootCmd builds the command tree.
func NewRootCmd(streams IOStreams) *cobra.Command {
	flags := &globalFlags{}
	a := &app{streams: streams, flags: flags}
	root := &cobra.Command{
		Use:   "llmmon",
		Short: "A production monitoring stack for LLM serving hosts, in one command",
		Long: `llmmon gives a host that serves large language models (vLLM, SGLang, TGI, llama.cpp,
Triton, LMDeploy or your own service) a complete monitoring stack: Prometheus, Grafana,
Alertmanager, node-exporter and dcgm-exporter, with LLM-aware dashboards and alerts that reach
email, DingTalk and WeCom. A short spec (llmmon.yaml) describes what to watch; with no spec,
llmmon watches this host and the LLM servers it finds on their usual ports.`,
		Example: `  llmmon up                      # start or update the stack from ./llmmon.yaml (or the zero-config default)
  llmmon status                  # components, scrape targets and firing alerts
  llmmon render -o ./out         # write the generated configuration without running anything
  llmmon validate -f prod.yaml   # check a spec and everything generated from it`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			level := slog.LevelInfo
			if flags.verbose {
				level = slog.LevelDebug
			}
			a.log = slog.New(slog.NewTextHandler(streams.ErrOut, &slog.HandlerOptions{Level: level}))
			if !slices.Contains(progressModes, flags.progress) {
				return usageError{fmt.Errorf("--progress %q: use %s", flags.progress, strings.Join(progressModes, ", "))}
			}
			return nil
		},
	}
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentFlags().StringVarP(&flags.file, "file", "f", spec.DefaultFile, "spec file; when the default file is absent, the zero-config default is used")
	root.PersistentFlags().BoolVarP(&flags.verbose, "verbose", "v", false, "print debug messages")
	root.PersistentFlags().StringVar(&flags.progress, "progress", progressAuto, "how to show progress: auto (tty on a terminal, else plain), tty (redrawn pull bars), plain (a line a step, for logs and CI) or json (an event a line)")
	root.PersistentFlags().BoolVarP(&flags.quiet, "quiet", "q", false, "show no progress, only results and errors")
	root.AddCommand(
		newUpCmd(a),
		withoutSecrets(a, newStatusCmd(a)),
		withoutSecrets(a, newDoctorCmd(a)),
		withoutSecrets(a, newDownCmd(a)),
		newAddTargetCmd(a),
		newRemoveTargetCmd(a),
		withoutSecrets(a, newTargetsCmd(a)),
		withoutSecrets(a, newImportDashboardCmd(a)),
		withoutSecrets(a, newRemoveDashboardCmd(a)),
		withoutSecrets(a, newDashboardsCmd(a)),
		newRenderCmd(a),
		newValidateCmd(a),
		newSchemaCmd(a),
		newInitCmd(a),
		newVersionCmd(a),
		newRelayCmd(a),
		newRemediateCmd(a),
		newReportCmd(a),
		newGPUExporterCmd(a),
		newAlertCmd(a),
		withoutSecrets(a, newLogsCmd(a)),
	)
	for _, c := range root.Commands() {
		if c.Args == nil {
			c.Args = noArgs
		}
	}
	return root
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("%q takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

// engine returns an engine without a container runtime (for render, validate).
func (a *app) engine(opts ...stack.Option) *stack.Engine {
	opts = append([]stack.Option{stack.WithLogger(a.log), stack.WithVersion(Version)}, opts...)
	return stack.New(Assets(), opts...)
}

// loadSpec reads the spec named by -f, or the zero-config default when -f was not given and
// ./llmmon.yaml does not exist, and says what the default found.
func (a *app) loadSpec(ctx context.Context, cmd *cobra.Command) (*spec.Spec, *spec.Source, error) {
	s, src, zc, err := stack.LoadSpec(ctx, stack.LoadOptions{Path: a.flags.file, Explicit: cmd.Flags().Changed("file"), IgnoreUnsetSecrets: a.noSecrets})
	if zc != nil {
		fmt.Fprintf(a.streams.ErrOut, "No %s here: using the zero-config default (this host", spec.DefaultFile)
		if zc.Targets > 0 {
			fmt.Fprintf(a.streams.ErrOut, " and %d LLM server(s)", zc.Targets)
		}
		fmt.Fprintln(a.streams.ErrOut, "). `llmmon init` writes it as a spec to edit.")
		for _, n := range zc.Notes {
			fmt.Fprintf(a.streams.ErrOut, "  - %s\n", n)
		}
	}
	return s, src, err
}

// withoutSecrets marks a command that never uses a secret (down, status, logs, targets, alert
// test), or only Grafana's admin password and can do without it (import-dashboard): an unset
// ${VAR} in a secret field is not an error for it. up, render and validate write or check the
// secrets; add-target and remove-target re-render the running stack's configuration, secrets
// included; they all need them.
func withoutSecrets(a *app, c *cobra.Command) *cobra.Command {
	run := c.RunE
	c.RunE = func(cmd *cobra.Command, args []string) error {
		a.noSecrets = true
		return run(cmd, args)
	}
	return c
}
