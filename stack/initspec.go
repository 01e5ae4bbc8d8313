package stack

import (
	"context"
	"errors"
	"fmt"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/llmmon/llmmon/stack/detect"
	"github.com/llmmon/llmmon/stack/spec"
)

// ErrExists: init would overwrite a file, and was not told to.
var ErrExists = errors.New("the file already exists; use --force to overwrite it")

// InitOptions control Init.
type InitOptions struct {
	Force  bool // overwrite an existing file
	Accept bool // write the mapping proposed for each app of no known engine
}

// InitResult says what Init found and wrote.
type InitResult struct {
	Notes []string // what the probe found and what not
	// Proposals are the mappings proposed for apps of no known engine, by target name;
	// Written says which of them went into the file.
	Proposals map[string]*detect.Proposal
	Written   map[string]bool
}

// Init probes this host for LLM servers and writes what it found to path as a commented spec to
// edit. A mapping proposed for an app by a standard's names (OpenTelemetry GenAI) is written; one
// guessed from the app's own names only with Accept.
func Init(ctx context.Context, path string, o InitOptions) (*InitResult, error) {
	if _, err := os.Stat(path); err == nil && !o.Force {
		return nil, fmt.Errorf("%s: %w", path, ErrExists)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	s, notes, proposals := detect.DefaultWithProposals(ctx)
	res := &InitResult{Notes: notes, Proposals: proposals, Written: map[string]bool{}}
	for i, t := range s.Targets {
		if p := proposals[t.Name]; p != nil && (o.Accept || p.Standard != "") {
			s.Targets[i].Metrics = p.Metrics
			res.Written[t.Name] = true
		}
	}
	data, err := StarterSpec(s.Targets)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return res, nil
}

// StarterSpec is the commented spec init writes, with targets.
func StarterSpec(targets []spec.Target) ([]byte, error) {
	list := []byte("targets: []\n")
	if len(targets) > 0 {
		var err error
		if list, err = yaml.Marshal(map[string]any{"targets": targets}); err != nil {
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
` + string(list) + `
alerts:
  thresholds:
    error_rate_percent: 5
    ttft_p95: 2s

# Service level objectives, with burn-rate alerts and the error budget on the overview.
# Uncomment to set them for every service (availability 99.5 %, TTFT under 2.5s for 99 %, 28d).
# slo: {availability: 99.5, latency: {metric: ttft, threshold: 2.5s, objective: 99}}

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
