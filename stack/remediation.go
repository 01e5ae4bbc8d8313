package stack

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/llmmon/llmmon/stack/remediate"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/runtime/docker"
	"github.com/llmmon/llmmon/stack/spec"
)

// HostRemediationConfig is the configuration of the remediation agent run on the host
// (remediation_agent: host): the spec's remediated targets and the stack's credentials, with
// its state in DATA_DIR/remediation.
func HostRemediationConfig(s *spec.Spec) (*remediate.Config, error) {
	if len(s.Remediated()) == 0 {
		return nil, fmt.Errorf("%w: no target has a remediation: add targets[].remediation to the spec", spec.ErrInvalid)
	}
	creds, err := ReadCredentials(s)
	if err != nil {
		return nil, fmt.Errorf("%w (run `llmmon up` first: the agent posts to the stack's Alertmanager with its credentials)", err)
	}
	return render.RemediationConfig(s, render.Options{Credentials: creds.Render()}, filepath.Join(s.DataDir, "remediation")), nil
}

// LazyDocker is a remediate.Restarter that connects to Docker on its first use, so that an
// agent with command actions only runs without Docker.
type LazyDocker struct {
	mu sync.Mutex
	rt runtime.Runtime
}

func (l *LazyDocker) get(ctx context.Context) (remediate.DockerRestarter, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.rt == nil {
		rt, err := docker.New(ctx)
		if err != nil {
			return remediate.DockerRestarter{}, err
		}
		l.rt = rt
	}
	return remediate.DockerRestarter{RT: l.rt}, nil
}

// ContainerName resolves ref through Docker.
func (l *LazyDocker) ContainerName(ctx context.Context, ref string) (string, error) {
	d, err := l.get(ctx)
	if err != nil {
		return "", err
	}
	return d.ContainerName(ctx, ref)
}

// Restart restarts the named container.
func (l *LazyDocker) Restart(ctx context.Context, name string) error {
	d, err := l.get(ctx)
	if err != nil {
		return err
	}
	return d.Restart(ctx, name)
}
