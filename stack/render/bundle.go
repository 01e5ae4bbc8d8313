// Package render turns a spec into the bundle of files the stack runs on: prometheus.yml with
// file-based service discovery, rule files, alertmanager.yml with its templates, Grafana
// provisioning and dashboards. Output is deterministic: the same spec gives the same bytes.
package render

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// File is one generated file.
type File struct {
	Data []byte
	// Mode is 0644, or 0600 for files that hold secrets.
	Mode fs.FileMode
}

// Bundle is every generated file, by slash-separated path relative to the bundle root.
type Bundle struct {
	Files map[string]File
}

func newBundle() *Bundle { return &Bundle{Files: map[string]File{}} }

func (b *Bundle) add(path string, data []byte) { b.Files[path] = File{Data: data, Mode: 0o644} }

func (b *Bundle) addSecret(path string, data []byte) { b.Files[path] = File{Data: data, Mode: 0o600} }

// Paths returns the file paths in sorted order.
func (b *Bundle) Paths() []string {
	ps := make([]string, 0, len(b.Files))
	for p := range b.Files {
		ps = append(ps, p)
	}
	sort.Strings(ps)
	return ps
}

// Under returns the files below prefix (a directory such as "prometheus/"), keyed by their path
// relative to it.
func (b *Bundle) Under(prefix string) map[string]File {
	out := map[string]File{}
	for p, f := range b.Files {
		if rel, ok := strings.CutPrefix(p, prefix); ok {
			out[rel] = f
		}
	}
	return out
}

// Hash returns a stable digest of the files below prefix ("" for all).
func (b *Bundle) Hash(prefix string) string {
	h := sha256.New()
	for _, p := range b.Paths() {
		if !strings.HasPrefix(p, prefix) {
			continue
		}
		f := b.Files[p]
		fmt.Fprintf(h, "%s\x00%o\x00%d\x00", p, f.Mode, len(f.Data))
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Write writes the bundle below dir, creating directories 0755 (0700 when they hold secrets) and
// each file with its mode, atomically (temp file and rename). Files under dir that are not in the
// bundle are left alone.
func (b *Bundle) Write(dir string) error {
	for _, p := range b.Paths() {
		f := b.Files[p]
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("create directory for %s: %w", p, err)
		}
		if f.Mode == 0o600 {
			// The directory of a secret lists only to its owner.
			if err := os.Chmod(filepath.Dir(dst), 0o700); err != nil {
				return fmt.Errorf("protect the directory of %s: %w", p, err)
			}
		}
		if err := WriteFileAtomic(dst, f.Data, f.Mode); err != nil {
			return err
		}
	}
	return nil
}

// WriteFileAtomic writes data to path with mode through a temporary file and a rename, so that a
// reader (or a crash) never sees half a file, and a secret is never briefly world-readable.
func WriteFileAtomic(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
