package cmd

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/stack/detect"
	"github.com/llmmon/llmmon/stack/spec"
)

func newSchemaCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of the spec, for editor completion and checking",
		Example: `  llmmon schema > llmmon.schema.json
  # then, at the top of llmmon.yaml (VS Code YAML extension):
  # yaml-language-server: $schema=./llmmon.schema.json`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := spec.Schema()
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(a.streams.Out, "%s\n", data)
			return err
		},
	}
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print llmmon's version and the image versions it runs",
		Example: `  llmmon version`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := Version
			if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
				v = bi.Main.Version
			}
			w := a.streams.Out
			fmt.Fprintf(w, "llmmon %s\n", v)
			s := &spec.Spec{}
			s.ApplyDefaults()
			for _, c := range []string{"prometheus", "alertmanager", "grafana", "node-exporter", "dcgm-exporter"} {
				fmt.Fprintf(w, "  %-14s %s\n", c, s.Image(c))
			}
			fmt.Fprintf(w, "  %-14s %s\n", "relay", "llmmon-relay, built locally from this binary (DingTalk and WeCom receivers)")
			return nil
		},
	}
}

func newInitCmd(a *app) *cobra.Command {
	var force, accept bool
	c := &cobra.Command{
		Use:   "init",
		Short: "Write a spec to start from, with the LLM servers found on this host",
		Long: `init probes this host's well-known LLM ports (vLLM 8000, SGLang 30000, TGI and llama.cpp
8080, Triton 8002, LMDeploy 23333), recognises each engine from its metric names and writes
what it found as a commented spec to edit (./llmmon.yaml, or the file named by -f). For an app
of no known engine it shows a targets[].metrics mapping guessed from its metric names, types and
HELP texts, and writes it with --accept.`,
		Example: `  llmmon init && $EDITOR llmmon.yaml && llmmon up`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := a.flags.file
			if _, err := os.Stat(path); err == nil && !force {
				return usageError{fmt.Errorf("%s already exists; use --force to overwrite it", path)}
			} else if err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			s, notes, proposals := detect.DefaultWithProposals(cmd.Context())
			for _, n := range notes {
				fmt.Fprintf(a.streams.ErrOut, "  - %s\n", n)
			}
			for i, t := range s.Targets {
				p := proposals[t.Name]
				if p == nil {
					continue
				}
				if p.Standard == "" {
					fmt.Fprintf(a.streams.ErrOut, "%s serves metrics of no known engine. ", t.Name)
				}
				printProposal(a.streams.ErrOut, p)
				if accept || p.Standard != "" {
					s.Targets[i].Metrics = p.Metrics
				} else {
					fmt.Fprintln(a.streams.ErrOut, "Not written: run `llmmon init --accept` to write it, or map its metrics by hand.")
				}
			}
			data, err := initSpec(s)
			if err != nil {
				return err
			}
			if err := os.WriteFile(path, data, 0o644); err != nil {
				return fmt.Errorf("write %s: %w", path, err)
			}
			fmt.Fprintf(a.streams.ErrOut, "Wrote %s. Edit it, then run `llmmon up`.\n", path)
			return nil
		},
	}
	c.Flags().BoolVar(&force, "force", false, "overwrite an existing file")
	c.Flags().BoolVar(&accept, "accept", false, "write the metrics mapping proposed for apps of no known engine")
	return c
}

func initSpec(s *spec.Spec) ([]byte, error) {
	targets := []byte("targets: []\n")
	if len(s.Targets) > 0 {
		var err error
		targets, err = yaml.Marshal(map[string]any{"targets": s.Targets})
		if err != nil {
			return nil, err
		}
	}
	return []byte(`# llmmon spec, written by ` + "`llmmon init`" + `. Every field is optional except targets[].name and url.
# The full reference with every field: llmmon schema, or the README.
name: llmmon
bind: 127.0.0.1        # where the web UIs listen; 0.0.0.0 opens them to the network
language: en           # alert texts: en or zh
timezone: UTC          # e.g. Asia/Shanghai
gpu: auto              # dcgm-exporter when an NVIDIA GPU is present

# Model services to watch. engine: vllm, sglang, tgi, llamacpp, triton, lmdeploy, custom or auto.
` + string(targets) + `
alerts:
  thresholds:
    error_rate_percent: 5
    ttft_p95: 2s

# Who to notify. Secrets come from the environment (${VAR}) or files (*_file), never this file.
notify:
  receivers: []
  #  - name: oncall
  #    email:
  #      to: [oncall@example.com]
  #      from: llmmon@example.com
  #      smarthost: smtp.example.com:587
  #      username: llmmon@example.com
  #      password: ${SMTP_PASSWORD}
  #  - name: team-chat
  #    dingtalk:
  #      url: ${DINGTALK_WEBHOOK}
  #      secret: ${DINGTALK_SECRET}
`), nil
}
