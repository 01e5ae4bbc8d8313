package cmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/detect"
	"github.com/llmmon/llmmon/stack/spec"
)

// specForEdit loads the spec file for add/remove-target; with no file, an empty spec whose file
// will be created.
func (a *app) specForEdit(cmd *cobra.Command) (*spec.Spec, error) {
	if _, err := os.Stat(a.flags.file); errors.Is(err, os.ErrNotExist) {
		s := &spec.Spec{}
		s.ApplyDefaults()
		return s, nil
	}
	s, _, err := spec.Load(a.flags.file, os.LookupEnv)
	return s, err
}

func newAddTargetCmd(a *app) *cobra.Command {
	var engine string
	var labels []string
	var force, accept, noMapping bool
	var wait time.Duration
	c := &cobra.Command{
		Use:   "add-target NAME URL",
		Short: "Add a model service to the spec and to the running stack, without restarting Prometheus",
		Long: `add-target probes URL's metrics endpoint and recognises the engine from its metric names,
adds the target to the spec file (its comments and layout survive) and, when the stack runs,
to Prometheus' file-based service discovery (a reload, never a restart), with the engine's rules
and dashboards attached. It waits until Prometheus has scraped the new target and says so.

When that first scrape fails (for example the response is over the body_size limit, or has
more samples than the samples limit), add-target stops waiting, says why and what to do, and
exits 1; the target stays in the spec (it is valid) and Prometheus keeps trying it.
With --force the failure is reported and the exit code is 0.

An app whose metrics are of no known engine gets a proposed targets[].metrics mapping, guessed
from its metric names, types and HELP texts. add-target shows it and changes nothing (exit 2)
until you choose: --accept writes the target with that mapping, --no-mapping without one.`,
		Example: `  llmmon add-target qwen http://127.0.0.1:8000
  llmmon add-target embed 10.0.0.7:30000 --engine sglang --label team=search
  llmmon add-target later 10.0.0.9:8000 --force   # not running yet
  llmmon add-target chatglm 127.0.0.1:8001 --accept   # an app: write the proposed mapping`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageError{fmt.Errorf("add-target takes NAME and URL, got %d argument(s)", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.specForEdit(cmd)
			if err != nil {
				return err
			}
			t := spec.Target{Name: args[0], URL: args[1], Engine: engine, Labels: map[string]string{}}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return usageError{fmt.Errorf("--label %q: write key=value", l)}
				}
				t.Labels[k] = v
			}
			return a.withRuntime(cmd, func(e *stack.Engine) error {
				if accept && noMapping {
					return usageError{errors.New("--accept and --no-mapping exclude each other")}
				}
				progress, done := a.progress()
				res, err := e.AddTarget(cmd.Context(), a.flags.file, s, t, stack.AddTargetOptions{Force: force, Wait: wait, Accept: accept, NoMapping: noMapping, Up: stack.UpOptions{Progress: progress}})
				done()
				if res == nil {
					return err
				}
				w := a.streams.ErrOut
				if res.Proposal != nil && (!noMapping || res.Proposal.Standard != "") {
					printProposal(w, res.Proposal)
				}
				if errors.Is(err, stack.ErrNeedsMapping) {
					fmt.Fprintf(w, "Add it with this mapping: llmmon add-target %s %s --accept\nor without one (its dashboards then show only whether it is up): --no-mapping\n", t.Name, t.URL)
					return exitError{err, ExitBadInput}
				}
				fmt.Fprintf(w, "Added %s (%s) to %s", t.Name, res.Engine, a.flags.file)
				if res.Note != "" {
					fmt.Fprintf(w, "; %s", res.Note)
				}
				fmt.Fprintln(w, ".")
				switch {
				case err != nil:
					// The first scrape failed: the error says why and what to do.
					return err
				case !res.Running:
					fmt.Fprintln(w, "The stack is not running: `llmmon up` starts it with this target.")
				case res.Scraped:
					fmt.Fprintf(w, "Prometheus scraped it %s after it was added (no restart).\n", res.Waited.Round(100*time.Millisecond))
				case res.Failed:
					fmt.Fprintf(w, "Prometheus' first scrape failed (kept, --force): %s\n", res.LastErr)
				case res.LastErr != "":
					fmt.Fprintf(w, "Prometheus has not scraped it successfully yet: %s\n", res.LastErr)
				default:
					fmt.Fprintln(w, "Prometheus has not scraped it yet; `llmmon targets` shows its state.")
				}
				return nil
			})
		},
	}
	c.Flags().StringVar(&engine, "engine", "auto", "engine: auto, vllm, sglang, tgi, llamacpp, triton, lmdeploy, custom")
	c.Flags().StringArrayVar(&labels, "label", nil, "extra label key=value (repeatable)")
	c.Flags().BoolVar(&force, "force", false, "add the target even if it does not answer now")
	c.Flags().DurationVar(&wait, "wait", time.Minute, "how long to wait for the first scrape")
	c.Flags().BoolVar(&accept, "accept", false, "for an app of no known engine: write the proposed metrics mapping")
	c.Flags().BoolVar(&noMapping, "no-mapping", false, "for an app of no known engine: add it without a mapping")
	return c
}

// printProposal shows a proposed mapping as the YAML it would write, with why each role was
// chosen and what was left out.
func printProposal(w io.Writer, p *detect.Proposal) {
	if p.Standard != "" {
		fmt.Fprintf(w, "Its metrics follow the %s; written as this mapping (targets[].metrics):\n", p.Standard)
	} else {
		fmt.Fprintln(w, "Proposed mapping of its metrics (targets[].metrics), from their names, types and HELP texts:")
	}
	fmt.Fprintln(w, "    metrics:")
	for _, r := range spec.Roles {
		ref := p.Metrics.Ref(r.Name)
		if ref == nil {
			continue
		}
		n := &yaml.Node{}
		_ = n.Encode(ref)
		n.Style = yaml.FlowStyle
		b, _ := yaml.Marshal(n)
		fmt.Fprintf(w, "      %s: %s   # %s\n", r.Name, strings.TrimSpace(string(b)), p.Why[r.Name])
	}
	if len(p.Unmapped) > 0 {
		fmt.Fprintf(w, "Not mapped: %s.\n", strings.Join(p.Unmapped, ", "))
	}
}
