package stack

import (
	"context"
	"github.com/llmmon/llmmon/stack/remediate"
	"net/url"

	"github.com/llmmon/llmmon/stack/relay"
)

// relayAPI is the stack's notification relay (llmmon's own, stack/relay): its status and the
// outcomes of `llmmon alert test`, both behind the relay's token.
type relayAPI struct{ endpoint }

// Status returns the relay's receivers: messages sent, failed and waiting. It takes the stack's
// token, so an answer proves the relay is the stack's.
func (r relayAPI) Status(ctx context.Context) ([]relay.ReceiverStatus, error) {
	var out []relay.ReceiverStatus
	err := r.getJSON(ctx, "/api/v1/status", &out)
	return out, err
}

// TestResults returns what the relay knows of the test alerts of alert test id.
func (r relayAPI) TestResults(ctx context.Context, id string) ([]relay.TestResult, error) {
	var out []relay.TestResult
	err := r.getJSON(ctx, "/api/v1/tests/"+url.PathEscape(id), &out)
	return out, err
}

type remediationAPI struct{ endpoint }

// Status returns each remediated target's actions in its window and its last decision. It
// takes the stack's token, so an answer proves the agent is the stack's.
func (r remediationAPI) Status(ctx context.Context) ([]remediate.TargetStatus, error) {
	var out struct {
		Targets []remediate.TargetStatus `json:"targets"`
	}
	err := r.getJSON(ctx, "/api/v1/status", &out)
	return out.Targets, err
}
