package stack

import (
	"maps"
	"sync"
	"testing"
)

// CountSecretReads counts the reads of the secret files (DATA_DIR/secrets/*) until the test
// ends; the function returned tells how many times each file, by path, was read so far.
func CountSecretReads(t testing.TB) func() map[string]int {
	var mu sync.Mutex
	n := map[string]int{}
	orig := readSecretFile
	readSecretFile = func(name string) ([]byte, error) {
		mu.Lock()
		n[name]++
		mu.Unlock()
		return orig(name)
	}
	t.Cleanup(func() { readSecretFile = orig })
	return func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(n)
	}
}
