package stack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/llmmon/llmmon/stack/spec"
)

// ErrLocked is returned when another llmmon is changing the same stack and the caller asked not
// to wait.
var ErrLocked = errors.New("the stack is locked")

// lockPoll is how often a waiting run tries the lock again.
const lockPoll = 100 * time.Millisecond

// stackLock is held while a run changes a stack: an flock(2) on DATA_DIR/lock, which the kernel
// releases when the process ends however it ends, so a killed run never leaves it behind.
type stackLock struct{ f *os.File }

func (l *stackLock) release() {
	if l != nil && l.f != nil {
		_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
		_ = l.f.Close()
	}
}

// lockStack takes the stack's lock for verb. When another run holds it, it returns ErrLocked at
// once if noWait is set; otherwise it calls waiting once with the holder's description and
// tries again until it gets the lock or ctx ends.
func lockStack(ctx context.Context, s *spec.Spec, verb string, noWait bool, waiting func(holder string)) (*stackLock, error) {
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(s.DataDir, "lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open the stack's lock file: %w", err)
	}
	told := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		holder := lockHolder(path)
		if noWait {
			f.Close()
			return nil, fmt.Errorf("%w: %s is changing stack %q; wait for it to finish, or run again without --no-wait to wait", ErrLocked, holder, s.Name)
		}
		if !told && waiting != nil {
			waiting(holder)
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(lockPoll):
		}
	}
	// Who holds it, for a run that has to wait.
	_ = f.Truncate(0)
	_, _ = f.WriteAt(fmt.Appendf(nil, "pid %d, llmmon %s, since %s\n", os.Getpid(), verb, time.Now().Format(time.TimeOnly)), 0)
	return &stackLock{f: f}, nil
}

func lockHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(strings.TrimSpace(string(b))) == 0 {
		return "another llmmon"
	}
	return "another llmmon (" + strings.TrimSpace(string(b)) + ")"
}
