// Package remediate is llmmon's remediation agent: an Alertmanager webhook receiver that
// restarts a model service (a Docker container named in the spec, or a command) when one of its
// alerts fires, within limits (actions per window, a cool-down), re-checks the service's health
// after each action, and raises a critical "needs a person" alert through Alertmanager when the
// limit is hit or the action did not help. Each action is kept in a state file, so a restart of
// the agent repeats nothing.
package remediate

import (
	"errors"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the agent's configuration file (rendered by llmmon from the spec).
type Config struct {
	Listen string `yaml:"listen"`
	// Token every webhook request must carry as a bearer token.
	Token string `yaml:"token"`
	// Alertmanager the agent posts its own alerts to, with basic auth.
	AlertmanagerURL  string `yaml:"alertmanager_url"`
	AlertmanagerUser string `yaml:"alertmanager_user"`
	AlertmanagerPass string `yaml:"alertmanager_password"`
	// Where the actions and handled alerts are kept (a named volume in the container).
	StateFile string `yaml:"state_file"`
	// The language of the agent's alert texts (en or zh).
	Language string `yaml:"language"`
	// Grafana's URL, for the links in its alerts.
	GrafanaURL string   `yaml:"grafana_url"`
	Targets    []Target `yaml:"targets"`
}

// Target is one model service the agent may act on.
type Target struct {
	Name string `yaml:"name"`
	// Alerts whose firing triggers an action.
	Alerts []string `yaml:"alerts"`
	// Container to restart (its exact name), or Command to run (argv, no shell).
	Container string   `yaml:"container,omitempty"`
	Command   []string `yaml:"command,omitempty"`
	// Health is the URL that answers 200 when the service is healthy (its metrics endpoint).
	Health     string        `yaml:"health"`
	MaxActions int           `yaml:"max_actions"`
	Window     time.Duration `yaml:"window"`
	Cooldown   time.Duration `yaml:"cooldown"`
	Recheck    time.Duration `yaml:"recheck"`
	DryRun     bool          `yaml:"dry_run,omitempty"`
}

// ErrBadConfig: the configuration file cannot be read or is wrong.
var ErrBadConfig = errors.New("bad remediation configuration")

// LoadConfig reads and checks a configuration file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
	}
	var c Config
	if err := yaml.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, path, err)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadConfig, path, err)
	}
	return &c, nil
}

func (c *Config) check() error {
	if c.StateFile == "" {
		return errors.New("state_file is not set")
	}
	seen := map[string]bool{}
	for _, t := range c.Targets {
		switch {
		case t.Name == "" || seen[t.Name]:
			return fmt.Errorf("target %q: no name, or twice", t.Name)
		case (t.Container == "") == (len(t.Command) == 0):
			return fmt.Errorf("target %s: set a container or a command, not both", t.Name)
		case len(t.Alerts) == 0:
			return fmt.Errorf("target %s: no alerts", t.Name)
		case t.MaxActions < 1 || t.Window <= 0:
			return fmt.Errorf("target %s: max_actions and window must be positive", t.Name)
		}
		seen[t.Name] = true
	}
	return nil
}

func (c *Config) target(name string) *Target {
	for i := range c.Targets {
		if c.Targets[i].Name == name {
			return &c.Targets[i]
		}
	}
	return nil
}
