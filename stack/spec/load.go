package spec

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// DefaultFile is the spec file read when -f is not given.
const DefaultFile = "llmmon.yaml"

// Load reads, decodes, defaults and validates the spec at path, and resolves *_file secrets.
// Every problem in the file is reported at once, as Problems (which wraps ErrInvalid).
func Load(path string, env LookupEnv) (*Spec, *Source, error) {
	data, err := ReadSpecFile(path)
	if err != nil {
		return nil, nil, err
	}
	return LoadBytes(path, data, env)
}

// LoadIgnoringUnsetSecrets is Load for commands that never use a secret (down, status, logs,
// alert test): a field whose environment variable is not set is left empty instead of being an
// error, so that a stack can be inspected or taken down from a shell without its secrets.
func LoadIgnoringUnsetSecrets(path string, env LookupEnv) (*Spec, *Source, error) {
	data, err := ReadSpecFile(path)
	if err != nil {
		return nil, nil, err
	}
	return load(path, data, env, true)
}

// LoadBytes is Load for spec text already in memory; file names it in messages.
func LoadBytes(file string, data []byte, env LookupEnv) (*Spec, *Source, error) {
	return load(file, data, env, false)
}

func load(file string, data []byte, env LookupEnv, ignoreUnset bool) (*Spec, *Source, error) {
	s, src, err := Parse(file, data, env)
	if s == nil {
		return nil, src, err
	}
	var decodeProblems Problems
	errors.As(err, &decodeProblems)
	s.ApplyDefaults()
	if verr := s.Validate(src); verr != nil || len(decodeProblems) > 0 {
		var vps Problems
		errors.As(verr, &vps)
		if ignoreUnset {
			decodeProblems, vps = dropUnset(decodeProblems, vps)
		}
		if len(decodeProblems)+len(vps) > 0 {
			return nil, src, mergeProblems(decodeProblems, vps)
		}
	}
	if ignoreUnset {
		_ = s.ResolveSecretFiles() // secrets are not used; a missing file is not an error here
		return s, src, nil
	}
	if err := s.ResolveSecretFiles(); err != nil {
		return nil, src, err
	}
	return s, src, nil
}

// ResolveSecretFiles reads every *_file secret into its value field.
func (s *Spec) ResolveSecretFiles() error {
	read := func(dst *Secret, file string) error {
		if file == "" {
			return nil
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("%w: cannot read the secret file %s: %v\n    hint: create the file, or fix its path in the spec", ErrInvalid, file, unwrapPathErr(err))
		}
		*dst = Secret(strings.TrimRight(string(b), "\r\n"))
		return nil
	}
	errs := []error{read(&s.Grafana.AdminPassword, s.Grafana.AdminPasswordFile)}
	if f := s.Fleet; f != nil {
		errs = append(errs, read(&f.CentralPassword, f.CentralPasswordFile))
	}
	for i := range s.RemoteWrite {
		rw := &s.RemoteWrite[i]
		var ca Secret
		errs = append(errs, read(&rw.Password, rw.PasswordFile), read(&rw.BearerToken, rw.BearerTokenFile), read(&ca, rw.CAFile))
		rw.CAData = ca.Value() + "\n"
	}
	for i := range s.Notify.Receivers {
		r := &s.Notify.Receivers[i]
		if e := r.Email; e != nil {
			errs = append(errs, read(&e.Password, e.PasswordFile))
		}
		if d := r.DingTalk; d != nil {
			errs = append(errs, read(&d.URL, d.URLFile), read(&d.Secret, d.SecretFile))
		}
		if w := r.WeCom; w != nil {
			errs = append(errs, read(&w.URL, w.URLFile))
		}
		if w := r.WeComApp; w != nil {
			errs = append(errs, read(&w.Secret, w.SecretFile))
		}
		if w := r.Webhook; w != nil {
			errs = append(errs, read(&w.URL, w.URLFile), read(&w.BearerToken, w.BearerTokenFile))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// mergeProblems joins decoding and validation problems, leaving out validation problems about a
// field whose decoding already failed, or about a field above it (its value is missing, so the
// second message would only repeat the first).
func mergeProblems(decoded, validated Problems) Problems {
	out := append(Problems{}, decoded...)
	failed := map[string]bool{} // the paths of failed fields and of every field above them
	for _, d := range decoded {
		if d.Path != "" {
			addAncestors(failed, d.Path, ".[")
		}
	}
	for _, v := range validated {
		if !failed[v.Path] {
			out = append(out, v)
		}
	}
	return out.sorted()
}

// addAncestors puts path and every path above it (cut at one of seps) into set.
func addAncestors(set map[string]bool, path, seps string) {
	for p := path; p != "" && !set[p]; {
		set[p] = true
		i := strings.LastIndexAny(p, seps)
		if i < 0 {
			break
		}
		p = p[:i]
	}
}

// dropUnset removes the problems of unset environment variables, and the validation problems
// of the fields that held them, or are above or below them (an empty URL is "required").
func dropUnset(dec, val Problems) (Problems, Problems) {
	unset := map[string]bool{}
	above := map[string]bool{} // unset fields and the fields above them
	var keep Problems
	for _, p := range dec {
		if p.UnsetEnv {
			unset[p.Path] = true
			addAncestors(above, p.Path, ".")
			continue
		}
		keep = append(keep, p)
	}
	var keepV Problems
	for _, p := range val {
		drop := above[p.Path]
		for q := p.Path; !drop; {
			i := strings.LastIndexByte(q, '.')
			if i < 0 {
				break
			}
			q = q[:i]
			drop = unset[q]
		}
		if !drop {
			keepV = append(keepV, p)
		}
	}
	return keep, keepV
}
