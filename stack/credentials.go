package stack

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/spec"
)

// APIUser is the user llmmon and Grafana log in to Prometheus and Alertmanager as.
const APIUser = render.APIUser

// Names of the secrets llmmon generates, files in DATA_DIR/secrets.
const (
	secretGrafanaPassword = "grafana-admin-password"
	secretAPIPassword     = "llmmon-password"
	secretAPIPasswordHash = "llmmon-password.bcrypt"
	secretRelayToken      = "relay-token"
)

// ErrNoCredentials is returned by read-only commands when the stack's generated credentials
// are missing: the stack was never started by this llmmon (with this data directory).
var ErrNoCredentials = errors.New("no credentials")

// Credentials are the secrets llmmon generates once per data directory: the password of user
// APIUser on Prometheus and Alertmanager (with its bcrypt hash, cached so that renders are
// deterministic) and the token Alertmanager shows the relay.
type Credentials struct {
	APIPassword     string
	APIPasswordHash string
	RelayToken      string
	// APIPasswordFile is where the password is kept (for the user: the web UIs ask for it).
	APIPasswordFile string
}

// Render returns the credentials as the renderer takes them.
func (c *Credentials) Render() render.Credentials {
	return render.Credentials{APIPassword: c.APIPassword, APIPasswordHash: c.APIPasswordHash, RelayToken: c.RelayToken}
}

func secretsDir(s *spec.Spec) string { return filepath.Join(s.DataDir, "secrets") }

// APIPasswordFile is the file that holds the password of user APIUser on the stack's
// Prometheus and Alertmanager.
func APIPasswordFile(s *spec.Spec) string { return filepath.Join(secretsDir(s), secretAPIPassword) }

// readSecretFile reads a secret file; the tests count the reads through it.
var readSecretFile = os.ReadFile

// readSecret returns a named secret of the data directory, or "" when it is absent or empty.
func readSecret(s *spec.Spec, name string) (string, string, error) {
	file := filepath.Join(secretsDir(s), name)
	b, err := readSecretFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return "", file, nil
	}
	if err != nil {
		return "", file, fmt.Errorf("read %s: %w", file, err)
	}
	return strings.TrimSpace(string(b)), file, nil
}

// writeSecret stores a secret 0600 in the data directory's secrets folder (0700).
func writeSecret(s *spec.Spec, name, value string) (string, error) {
	dir := secretsDir(s)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create %s: %w", dir, err)
	}
	file := filepath.Join(dir, name)
	if err := render.WriteFileAtomic(file, []byte(value+"\n"), 0o600); err != nil {
		return "", err
	}
	return file, nil
}

// secret gets a named secret of the data directory, generating and storing it (0600) the first
// time: 18 random bytes, base64url.
func secret(s *spec.Spec, name string) (string, string, error) {
	v, file, err := readSecret(s, name)
	if err != nil || v != "" {
		return v, file, err
	}
	buf := make([]byte, 18)
	if _, err := rand.Read(buf); err != nil {
		return "", "", fmt.Errorf("generate %s: %w", name, err)
	}
	v = base64.RawURLEncoding.EncodeToString(buf)
	file, err = writeSecret(s, name, v)
	return v, file, err
}

// EnsureCredentials returns the stack's credentials, generating (and storing 0600) those that
// are missing. The bcrypt hash is reused while it matches the password, so an `up` with
// nothing changed changes no file.
func EnsureCredentials(s *spec.Spec) (*Credentials, error) {
	pw, pwFile, err := secret(s, secretAPIPassword)
	if err != nil {
		return nil, err
	}
	token, _, err := secret(s, secretRelayToken)
	if err != nil {
		return nil, err
	}
	stored, _, err := readSecret(s, secretAPIPasswordHash)
	if err != nil {
		return nil, err
	}
	// The file holds the bcrypt hash and, on a second line, the password's SHA-256: checking
	// that costs microseconds, where bcrypt's own check costs some 60 ms on every up.
	hash, sum := splitHashFile(stored)
	fp := fingerprint(pw)
	if hash == "" || sum != fp {
		if hash == "" || bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) != nil {
			h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
			if err != nil {
				return nil, fmt.Errorf("hash the %s password: %w", APIUser, err)
			}
			hash = string(h)
		}
		if _, err := writeSecret(s, secretAPIPasswordHash, hash+"\n"+fp); err != nil {
			return nil, err
		}
	}
	return &Credentials{APIPassword: pw, APIPasswordHash: hash, RelayToken: token, APIPasswordFile: pwFile}, nil
}

// ReadCredentials returns the stack's credentials without creating anything; it fails with
// ErrNoCredentials when they are missing. Read-only commands (status, targets, alert test)
// use it.
func ReadCredentials(s *spec.Spec) (*Credentials, error) {
	c := &Credentials{}
	var err error
	if c.APIPassword, c.APIPasswordFile, err = readSecret(s, secretAPIPassword); err != nil {
		return nil, err
	}
	if c.RelayToken, _, err = readSecret(s, secretRelayToken); err != nil {
		return nil, err
	}
	stored, _, err := readSecret(s, secretAPIPasswordHash)
	if err != nil {
		return nil, err
	}
	c.APIPasswordHash, _ = splitHashFile(stored)
	if c.APIPassword == "" || c.RelayToken == "" {
		return nil, fmt.Errorf("%w for stack %q in %s: it was never started by this llmmon with this data_dir; run llmmon up", ErrNoCredentials, s.Name, secretsDir(s))
	}
	return c, nil
}

// splitHashFile returns the bcrypt hash and the password's fingerprint kept in the hash file
// (an older file has only the hash).
func splitHashFile(v string) (hash, sum string) {
	hash, sum, _ = strings.Cut(v, "\n")
	return strings.TrimSpace(hash), strings.TrimSpace(sum)
}

// fingerprint is the SHA-256 of a password, hex: what tells that the cached bcrypt hash is the
// password's, without bcrypt's deliberately slow check.
func fingerprint(pw string) string {
	h := sha256.Sum256([]byte(pw))
	return "sha256:" + hex.EncodeToString(h[:])
}

// ephemeralCredentials are fresh credentials kept nowhere, for a bundle rendered for a stack
// that has none yet (`llmmon render`, `llmmon validate`).
func ephemeralCredentials() (*Credentials, error) {
	gen := func() (string, error) {
		buf := make([]byte, 18)
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("generate credentials: %w", err)
		}
		return base64.RawURLEncoding.EncodeToString(buf), nil
	}
	pw, err := gen()
	if err != nil {
		return nil, err
	}
	token, err := gen()
	if err != nil {
		return nil, err
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return nil, fmt.Errorf("hash the %s password: %w", APIUser, err)
	}
	return &Credentials{APIPassword: pw, APIPasswordHash: string(h), RelayToken: token}, nil
}

// grafanaPassword returns the admin password: the spec's, or the one stored in the data
// directory, generated (and stored 0600) on first use.
func grafanaPassword(s *spec.Spec) (string, string, error) {
	if s.Grafana.AdminPassword != "" {
		return s.Grafana.AdminPassword.Value(), "", nil
	}
	return secret(s, secretGrafanaPassword)
}

// readGrafanaPassword is grafanaPassword for read-only commands: it never creates the file
// ("" when there is none).
func readGrafanaPassword(s *spec.Spec) (string, string, error) {
	if s.Grafana.AdminPassword != "" {
		return s.Grafana.AdminPassword.Value(), "", nil
	}
	return readSecret(s, secretGrafanaPassword)
}
