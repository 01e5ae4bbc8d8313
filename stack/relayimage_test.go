package stack

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/runtime/fake"
	"github.com/llmmon/llmmon/stack/spec"
)

func relaySpec(t testing.TB) *spec.Spec {
	t.Helper()
	text := "name: unit\ndata_dir: " + t.TempDir() + "\nnotify:\n  receivers:\n    - name: ding\n      dingtalk: {url: \"https://oapi.dingtalk.com/robot/send?access_token=abc\", secret: SECabc}\n"
	s, _, err := spec.LoadBytes("unit.yaml", []byte(text), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeBinary(t testing.TB, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// The tag is the hash of the build context: the same bytes anywhere, at any time, give the same
// tag; other bytes another one; and it is the hash of what the image is built from.
func TestRelayTagIsTheContent(t *testing.T) {
	s := relaySpec(t)
	dir := t.TempDir()
	a := writeBinary(t, dir, "a", []byte("llmmon v1"))
	b := writeBinary(t, dir, "b", []byte("llmmon v1"))
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(b, old, old); err != nil {
		t.Fatal(err)
	}
	c := writeBinary(t, dir, "c", []byte("llmmon v2"))
	tag := func(p string) string { return New(render.Assets{}, WithSelfBinary(p)).relayImage(s, false) }
	ta, tb, tc := tag(a), tag(b), tag(c)
	if ta != tb || ta == tc || !strings.HasPrefix(ta, RelayImageRepo+":") || len(ta) != len(RelayImageRepo)+1+16 {
		t.Errorf("tags: same content %s %s, other content %s", ta, tb, tc)
	}
	if got := tag(filepath.Join(dir, "absent")); got != RelayImageRepo+":unknown" {
		t.Errorf("missing binary: %s", got)
	}
	// Without a relay in the spec, nothing is hashed.
	plain := *s
	plain.Notify.Receivers = nil
	if got := New(render.Assets{}, WithSelfBinary(a)).relayImage(&plain, false); got != "" {
		t.Errorf("no relay: %q", got)
	}
	// The tag is the hash of the context the image is built from.
	sum := sha256.Sum256([]byte("llmmon v1"))
	files, err := relayFiles([]byte("llmmon v1"))
	if err != nil {
		t.Fatal(err)
	}
	if got := relayTag(hex.EncodeToString(sum[:]), sumsOf(files)); got != ta {
		t.Errorf("hash of the build context %s, tag %s", got, ta)
	}
}

// The binary's hash is cached in DATA_DIR by path, size, mtime and inode, and recomputed when
// any of them changes.
func TestRelayHashIsCached(t *testing.T) {
	s := relaySpec(t)
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	bin := writeBinary(t, t.TempDir(), "llmmon", []byte("llmmon v1"))
	e := New(render.Assets{}, WithSelfBinary(bin))
	real := e.relayImage(s, false)
	cache := filepath.Join(s.DataDir, relayHashCache)
	st, err := os.Stat(cache)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cache file: %v %v", st, err)
	}
	// A cache entry for this very file is believed (proof that the file is not read again).
	var c hashCache
	b, _ := os.ReadFile(cache)
	if err := json.Unmarshal(b, &c); err != nil || c.Path != bin || c.Size != 9 || c.Inode == 0 {
		t.Fatalf("cache %s: %v", b, err)
	}
	c.SHA256 = strings.Repeat("ab", 32)
	b, _ = json.Marshal(c)
	if err := os.WriteFile(cache, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := e.relayImage(s, false); got == real {
		t.Fatal("the cache was not used")
	}
	// Touched: the key changed, the file is hashed again.
	later := time.Now().Add(time.Minute)
	if err := os.Chtimes(bin, later, later); err != nil {
		t.Fatal(err)
	}
	if got := e.relayImage(s, false); got != real {
		t.Errorf("after touching: %s, want %s", got, real)
	}
	// Replaced by a file of the same size and mtime (a new inode): hashed again.
	st0, _ := os.Stat(bin)
	repl := bin + ".new"
	writeBinary(t, filepath.Dir(bin), "llmmon.new", []byte("llmmon v2"))
	if err := os.Chtimes(repl, st0.ModTime(), st0.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(repl, bin); err != nil {
		t.Fatal(err)
	}
	if got := e.relayImage(s, false); got == real {
		t.Error("a replaced binary of the same size and mtime kept its tag")
	}
}

// After an upgrade every relay image llmmon built is removed but the current one and those a
// container still uses; images llmmon did not build are left alone.
func TestRemoveStaleRelayImages(t *testing.T) {
	ctx := t.Context()
	rt := fake.New()
	built := map[string]string{runtime.LabelManaged: "true", runtime.LabelComponent: "relay", runtime.LabelVersion: "0.9"}
	for _, tag := range []string{"llmmon-relay:old1", "llmmon-relay:old2", "llmmon-relay:inuse", "llmmon-relay:current"} {
		rt.AddLabeledImage(tag, built)
	}
	rt.AddImage("llmmon-relay:foreign", "prom/prometheus:v3.15.0")
	rt.AddLabeledImage("other-relay:old", built)
	// Another stack's relay, stopped, still uses its image.
	rt.AddContainer(fake.Container{Container: runtime.Container{Name: "other-relay", Image: "llmmon-relay:inuse", Labels: map[string]string{runtime.LabelProject: "other", runtime.LabelComponent: "relay"}}})
	e := New(render.Assets{}, WithRuntime(rt))
	if err := e.removeStaleRelayImages(ctx, "llmmon-relay:current"); err != nil {
		t.Fatal(err)
	}
	want := "llmmon-relay:current llmmon-relay:foreign llmmon-relay:inuse other-relay:old prom/prometheus:v3.15.0"
	if got := strings.Join(rt.Images(), " "); got != want {
		t.Errorf("images left: %s\nwant %s", got, want)
	}
	rt.Fail(fake.MethodListImages, runtime.ErrDaemonUnreachable)
	if err := e.removeStaleRelayImages(ctx, "llmmon-relay:current"); err == nil {
		t.Error("a failed listing was not reported")
	}
}

// BenchmarkRelayImage measures the relay tag of a 60 MB binary, the size of llmmon's, hashed
// (the first up after a new binary) and from the cache (every other up).
func BenchmarkRelayImage(b *testing.B) {
	s := relaySpec(b)
	if err := os.MkdirAll(s.DataDir, 0o700); err != nil {
		b.Fatal(err)
	}
	content := make([]byte, 60<<20)
	for i := range content {
		content[i] = byte(i * 31)
	}
	bin := writeBinary(b, b.TempDir(), "llmmon", content)
	e := New(render.Assets{}, WithSelfBinary(bin))
	cache := filepath.Join(s.DataDir, relayHashCache)
	b.Run("hashed", func(b *testing.B) {
		for b.Loop() {
			os.Remove(cache)
			e.relayImage(s, false)
		}
	})
	b.Run("cached", func(b *testing.B) {
		e.relayImage(s, false)
		for b.Loop() {
			e.relayImage(s, false)
		}
	})
}
