package docker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"syscall"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/llmmon/llmmon/stack/runtime"
)

// unreachableError reports a daemon that does not answer. Its message tells the user what to do;
// it matches runtime.ErrDaemonUnreachable and the client's own error with errors.Is/As.
type unreachableError struct {
	host       string
	permission bool
	cause      error
}

func (e *unreachableError) Error() string {
	if e.permission {
		return fmt.Sprintf("permission denied on the Docker daemon socket at %s: "+
			"add your user to the docker group (`sudo usermod -aG docker $USER`, then log in again), "+
			"or set DOCKER_HOST", e.host)
	}
	return fmt.Sprintf("cannot reach the Docker daemon at %s: is it running? "+
		"(start it with `sudo systemctl start docker`, or set DOCKER_HOST)", e.host)
}

func (e *unreachableError) Unwrap() []error { return []error{runtime.ErrDaemonUnreachable, e.cause} }

// isUnreachable reports whether err means that no daemon answered at all.
func isUnreachable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if client.IsErrConnectionFailed(err) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// isPermission reports whether an unreachable daemon's error is a refused socket permission.
// The client reports that with a message of its own that no longer wraps the system error.
func isPermission(err error) bool {
	return errors.Is(err, fs.ErrPermission) ||
		(client.IsErrConnectionFailed(err) && strings.Contains(err.Error(), "permission denied"))
}

// wrap turns a client error into an llmmon error: "<what>: <cause>", wrapping the matching
// runtime sentinel. what is formatted with args.
func (d *Docker) wrap(err error, what string, args ...any) error {
	if err == nil {
		return nil
	}
	if len(args) > 0 {
		what = fmt.Sprintf(what, args...)
	}
	switch {
	case isUnreachable(err):
		return &unreachableError{host: d.host, permission: isPermission(err), cause: err}
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %w: %w", what, runtime.ErrNotFound, err)
	default:
		return fmt.Errorf("%s: %w", what, err)
	}
}

// isPortInUse reports whether a start error means that a published host port is taken, by
// another container ("port is already allocated") or another process ("address already in use").
func isPortInUse(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "port is already allocated") ||
		strings.Contains(msg, "address already in use")
}

// isMissingImage reports whether an error message from a pull means that the image does not
// exist.
func isMissingImage(msg string) bool {
	msg = strings.ToLower(msg)
	for _, s := range []string{
		"manifest unknown",
		"not found",
		"no such image",
		"repository does not exist",
		"pull access denied",
		"name unknown",
	} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
