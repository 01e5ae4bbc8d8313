package stack

import (
	"context"
	"errors"
	"os"

	"github.com/llmmon/llmmon/stack/detect"
	"github.com/llmmon/llmmon/stack/spec"
)

// LoadOptions say which spec a command works on.
type LoadOptions struct {
	// Path is the spec file; Explicit says the user named it (then it must exist).
	Path     string
	Explicit bool
	// IgnoreUnsetSecrets: a ${VAR} secret that is not set is not an error (for commands that
	// never use a secret).
	IgnoreUnsetSecrets bool
}

// ZeroConfig is what the zero-config default found, when no spec file was used.
type ZeroConfig struct {
	Targets int      // LLM servers found
	Notes   []string // what was found and what was not
}

// LoadSpec reads the spec a command works on: the file, or, when the default file is absent
// and none was named, the zero-config default built by probing this host (zc says what it
// found; nil when a file was read).
func LoadSpec(ctx context.Context, o LoadOptions) (s *spec.Spec, src *spec.Source, zc *ZeroConfig, err error) {
	if !o.Explicit {
		if _, err := os.Stat(o.Path); errors.Is(err, os.ErrNotExist) {
			s, notes := detect.Default(ctx)
			s.ApplyDefaults()
			if err := s.Validate(nil); err != nil {
				return nil, nil, nil, err
			}
			return s, nil, &ZeroConfig{Targets: len(s.Targets), Notes: notes}, nil
		}
	}
	if o.IgnoreUnsetSecrets {
		s, src, err = spec.LoadIgnoringUnsetSecrets(o.Path, os.LookupEnv)
	} else {
		s, src, err = spec.Load(o.Path, os.LookupEnv)
	}
	return s, src, nil, err
}
