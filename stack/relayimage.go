package stack

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/report"
	"github.com/llmmon/llmmon/stack/runtime"
	"github.com/llmmon/llmmon/stack/spec"
)

// RelayImageRepo is the repository of the relay image llmmon builds from its own binary.
const RelayImageRepo = "llmmon-relay"

// caBundles are where Debian, Fedora and Alpine keep the system's CA certificates; the relay
// image gets the host's bundle so it can reach https://oapi.dingtalk.com and qyapi.weixin.qq.com.
var caBundles = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"}

// selfBinary is the llmmon executable the relay image is built from.
func (e *Engine) selfBinary() (string, error) {
	if e.binary != "" {
		return e.binary, nil
	}
	p, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the llmmon executable for the relay image: %w", err)
	}
	return p, nil
}

// relayImage is the tag of the image llmmon builds from its own binary for the relay and the
// GPU exporter: a hash of the image's build context (the llmmon binary, the host's CA bundle and
// C library, the Dockerfile), so it changes exactly when the image would. It is "" when the
// stack runs neither. Hashing a 60 MB binary takes about 75 ms, half a
// no-op up, so the binary's hash is cached in DATA_DIR, keyed by its path, size, modification
// time and inode.
func (e *Engine) relayImage(s *spec.Spec, gpuExporter bool) string {
	if !render.NeedsRelay(s) && !gpuExporter && !s.RemediationContainer() {
		return ""
	}
	p, err := e.selfBinary()
	if err != nil {
		return RelayImageRepo + ":unknown"
	}
	sum, err := cachedFileHash(filepath.Join(s.DataDir, relayHashCache), p)
	if err != nil {
		return RelayImageRepo + ":unknown"
	}
	small, libs := relayContext()
	sums := sumsOf(small)
	// The C library is a few MB: hashed once, then cached like the binary.
	for _, l := range libs {
		h, err := cachedFileHash(filepath.Join(s.DataDir, "relay-image-hash-"+filepath.Base(l.to)+".json"), l.from)
		if err != nil {
			return RelayImageRepo + ":unknown"
		}
		sums[l.name()] = h
	}
	return relayTag(sum, sums)
}

// relayHashCache is the file below DATA_DIR that caches the llmmon binary's hash.
const relayHashCache = "relay-image-hash.json"

// relayContext returns the image's build context but the binary and the C library: the
// Dockerfile and the host's CA bundle (when it has one); and the C library's files, by path.
func relayContext() (map[string][]byte, []libC) {
	files := map[string][]byte{}
	dockerfile := "FROM scratch\nCOPY llmmon /llmmon\n"
	for _, ca := range caBundles {
		if b, err := os.ReadFile(ca); err == nil {
			files["ca-certificates.crt"] = b
			dockerfile += "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
			break
		}
	}
	// The GPU exporter runs nvidia-smi, which Docker's NVIDIA runtime puts into the container
	// and which needs the C library that an image FROM scratch lacks: the host's, whose driver
	// nvidia-smi was built for.
	libs := hostLibC()
	// The report's plots draw Chinese with a CJK font; the image carries the host's, if it has one.
	if f, err := report.FindCJKFont(); err == nil {
		libs = append(libs, libC{f, report.CJKFontPaths[0]})
	}
	for _, l := range libs {
		dockerfile += "COPY " + l.name() + " " + l.to + "\n"
	}
	dockerfile += "USER 65534:65534\nENTRYPOINT [\"/llmmon\"]\nCMD [\"relay\"]\n"
	files["Dockerfile"] = []byte(dockerfile)
	return files, libs
}

// relayFiles returns the whole build context, bin (when not nil) as "llmmon".
func relayFiles(bin []byte) (map[string][]byte, error) {
	files, libs := relayContext()
	for _, l := range libs {
		b, err := os.ReadFile(l.from)
		if err != nil {
			return nil, fmt.Errorf("read %s for the image: %w", l.from, err)
		}
		files[l.name()] = b
	}
	if bin != nil {
		files["llmmon"] = bin
	}
	return files, nil
}

// sumsOf returns the hex sha256 of each file.
func sumsOf(files map[string][]byte) map[string]string {
	out := make(map[string]string, len(files))
	for n, b := range files {
		sum := sha256.Sum256(b)
		out[n] = hex.EncodeToString(sum[:])
	}
	return out
}

// relayTag hashes a build context: the binary's sha256 (binSum, hex) and the other files'
// (sums), each named, in name order.
func relayTag(binSum string, sums map[string]string) string {
	h := sha256.New()
	fmt.Fprintf(h, "llmmon sha256:%s\n", binSum)
	names := make([]string, 0, len(sums))
	for n := range sums {
		if n != "llmmon" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(h, "%s sha256:%s\n", n, sums[n])
	}
	return RelayImageRepo + ":" + hex.EncodeToString(h.Sum(nil))[:16]
}

// fileKey identifies one version of a file without reading it.
type fileKey struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	MTimeNS int64  `json:"mtime_ns"`
	Inode   uint64 `json:"inode"`
}

type hashCache struct {
	fileKey
	SHA256 string `json:"sha256"`
}

// cachedFileHash returns the hex sha256 of the file at path, from cache when the cache holds
// the hash of the same path, size, modification time and inode, and updates cache otherwise
// (failing to write it is not an error: the hash is then computed again next time).
func cachedFileHash(cache, path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	key := fileKey{Path: path, Size: st.Size(), MTimeNS: st.ModTime().UnixNano(), Inode: inode(st)}
	var c hashCache
	if b, err := os.ReadFile(cache); err == nil && json.Unmarshal(b, &c) == nil && c.fileKey == key && len(c.SHA256) == 64 {
		return c.SHA256, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	c = hashCache{fileKey: key, SHA256: hex.EncodeToString(h.Sum(nil))}
	if b, err := json.Marshal(c); err == nil {
		if _, err := os.Stat(filepath.Dir(cache)); err == nil {
			_ = render.WriteFileAtomic(cache, b, 0o600)
		}
	}
	return c.SHA256, nil
}

// ErrDynamicBinary is returned when llmmon was built with cgo and cannot run FROM scratch.
var ErrDynamicBinary = errors.New("llmmon is dynamically linked")

// buildRelayImage builds tag FROM scratch with the llmmon binary and the host's CA bundle. The
// tag must be the hash of what it reads (relayImage), or the binary changed meanwhile.
func (e *Engine) buildRelayImage(ctx context.Context, tag string) error {
	p, err := e.selfBinary()
	if err != nil {
		return err
	}
	if err := checkStatic(p); err != nil {
		return err
	}
	bin, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read %s for the relay image: %w", p, err)
	}
	files, err := relayFiles(bin)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(bin)
	if got := relayTag(hex.EncodeToString(sum[:]), sumsOf(files)); got != tag {
		return fmt.Errorf("%s changed while llmmon ran (its content is %s, not %s); run llmmon up again", p, got, tag)
	}
	labels := map[string]string{runtime.LabelManaged: "true", runtime.LabelComponent: "relay", runtime.LabelVersion: e.version}
	if err := e.rt.BuildImage(ctx, tag, files, labels); err != nil {
		return fmt.Errorf("build the relay image: %w", err)
	}
	return nil
}

// relayImageLabels select the relay images llmmon built.
var relayImageLabels = map[string]string{runtime.LabelManaged: "true", runtime.LabelComponent: "relay"}

// removeStaleRelayImages removes every relay image llmmon built (repository RelayImageRepo,
// labels relayImageLabels) but keep: the images of the binaries an upgrade replaced. An image a
// container still uses, of this stack or any other on the host, is kept by RemoveImage. The
// images that could not be removed are returned as one error; nothing depends on their removal.
func (e *Engine) removeStaleRelayImages(ctx context.Context, keep string) error {
	images, err := e.rt.ListImages(ctx, RelayImageRepo, relayImageLabels)
	if err != nil {
		return fmt.Errorf("list the old relay images: %w", err)
	}
	var errs []error
	for _, im := range images {
		for _, tag := range im.Tags {
			if tag == keep {
				continue
			}
			if err := e.rt.RemoveImage(ctx, tag); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// checkStatic refuses a binary that needs a dynamic loader, which an image FROM scratch lacks.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not a Linux executable, so it cannot be the relay (%v); run a Linux build of llmmon", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%w (%s): the relay container needs a static build; rebuild with CGO_ENABLED=0 (make build)", ErrDynamicBinary, path)
		}
	}
	return nil
}

// libC is a large file of the host the image carries (the C library, the CJK font), hashed once
// and cached: where it is on the host, and where the image has it (nvidia-smi looks for the C
// library there, the report for the font).
type libC struct {
	from, to string
}

// name is the file's name in the build context.
func (l libC) name() string { return "lib/" + filepath.Base(l.to) }

// libCNames are the libraries nvidia-smi links (glibc on x86-64).
var libCNames = []string{"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1"}

// hostLibC returns the host's x86-64 glibc loader and libraries, or nothing on a host without
// them (then the GPU exporter cannot run nvidia-smi, and says so in its exit code metric).
func hostLibC() []libC {
	const loader = "/lib64/ld-linux-x86-64.so.2"
	if _, err := os.Stat(loader); err != nil {
		return nil
	}
	out := []libC{{loader, loader}}
	for _, n := range libCNames {
		for _, dir := range []string{"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64"} {
			if p := filepath.Join(dir, n); fileExists(p) {
				out = append(out, libC{p, "/lib/x86_64-linux-gnu/" + n})
				break
			}
		}
	}
	return out
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
