package spec

import (
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Where the remediation agent runs.
const (
	RemediationAgentContainer = "container"
	RemediationAgentHost      = "host"
)

// Remediation modes.
const (
	RemediationOn     = "on"
	RemediationDryRun = "dry-run"
)

func (r *Remediation) applyDefaults() {
	if len(r.Alerts) == 0 {
		r.Alerts = []string{"LLMServiceDown"}
	}
	if r.MaxActions == 0 {
		r.MaxActions = 3
	}
	if r.Window == 0 {
		r.Window = Duration(time.Hour)
	}
	if r.Cooldown == 0 {
		r.Cooldown = Duration(5 * time.Minute)
	}
	if r.Recheck == 0 {
		r.Recheck = Duration(2 * time.Minute)
	}
	if r.Mode == "" {
		r.Mode = RemediationOn
	}
}

// Remediated returns the targets with a remediation.
func (s *Spec) Remediated() []Target {
	var out []Target
	for _, t := range s.Targets {
		if t.Remediation != nil {
			out = append(out, t)
		}
	}
	return out
}

// RemediationContainer reports whether llmmon runs the remediation agent as a container.
func (s *Spec) RemediationContainer() bool {
	return len(s.Remediated()) > 0 && s.RemediationAgent != RemediationAgentHost
}

// dockerNameRe is what Docker accepts as a container name.
var dockerNameRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func (v *validator) remediation(s *Spec, alertNames []string) {
	if s.RemediationAgent != RemediationAgentContainer && s.RemediationAgent != RemediationAgentHost {
		v.add("remediation_agent", fmt.Sprintf("unknown remediation_agent %q", s.RemediationAgent), "use container (llmmon runs it, for container restarts) or host (you run `llmmon remediate` on the host, for commands)")
	}
	for i, t := range s.Targets {
		r := t.Remediation
		if r == nil {
			continue
		}
		p := fmt.Sprintf("targets[%d].remediation", i)
		switch {
		case r.Container == "" && len(r.Command) == 0:
			v.add(p, "remediation says neither what to restart nor what to run", "add `container: NAME` (the service's Docker container) or `command: [systemctl, restart, UNIT]`")
		case r.Container != "" && len(r.Command) > 0:
			v.add(p+".command", "set container or command, not both", "remove one of the two")
		case r.Container != "" && !dockerNameRe.MatchString(r.Container):
			v.add(p+".container", fmt.Sprintf("invalid container name %q", r.Container), "write the exact name `docker ps` shows, e.g. vllm-chat")
		case len(r.Command) > 0 && s.RemediationAgent != RemediationAgentHost:
			v.add(p+".command", "a command runs on the host, and the agent llmmon runs is a container", "set remediation_agent: host and run `llmmon remediate -f SPEC` on the host (the README has a systemd unit), or restart a container instead")
		case len(r.Command) > 0 && r.Command[0] == "":
			v.add(p+".command", "the command's first word is empty", "write the program and its arguments as a list, e.g. [systemctl, restart, vllm]")
		}
		for j, a := range r.Alerts {
			if alertNames != nil && !slices.Contains(alertNames, a) {
				hint := "use an alert of llmmon's, e.g. LLMServiceDown"
				if sug := suggest(a, alertNames); sug != "" {
					hint = fmt.Sprintf("did you mean %q? ", sug) + hint
				}
				v.add(fmt.Sprintf("%s.alerts[%d]", p, j), fmt.Sprintf("no alert named %q", a), hint)
			}
		}
		if r.MaxActions < 0 {
			v.add(p+".max_actions", "max_actions must be positive", "3 (the default) is usual")
		}
		if r.Window != 0 && r.Window.D() < time.Minute {
			v.add(p+".window", fmt.Sprintf("window %s is too short", r.Window), "use at least 1m; the default is 1h")
		}
		if r.Recheck != 0 && r.Recheck.D() < 5*time.Second {
			v.add(p+".recheck", fmt.Sprintf("recheck %s is too short for a model to load", r.Recheck), "use at least 5s; the default is 2m")
		}
		if r.Mode != "" && r.Mode != RemediationOn && r.Mode != RemediationDryRun {
			v.add(p+".mode", fmt.Sprintf("unknown mode %q", r.Mode), "use on or dry-run")
		}
	}
}
