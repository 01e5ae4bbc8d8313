package stack

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"os"

	"github.com/llmmon/llmmon/stack/runtime"
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

// relayImage is the relay image's tag: it changes whenever the llmmon binary does, so an
// upgraded llmmon rebuilds and recreates its relay.
func (e *Engine) relayImage() string {
	p, err := e.selfBinary()
	if err != nil {
		return RelayImageRepo + ":unknown"
	}
	st, err := os.Stat(p)
	if err != nil {
		return RelayImageRepo + ":unknown"
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s %d %d", e.version, st.Size(), st.ModTime().UnixNano()))
	return RelayImageRepo + ":" + hex.EncodeToString(h[:])[:12]
}

// ErrDynamicBinary is returned when llmmon was built with cgo and cannot run FROM scratch.
var ErrDynamicBinary = errors.New("llmmon is dynamically linked")

// buildRelayImage builds tag FROM scratch with the llmmon binary and the host's CA bundle.
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
	files := map[string][]byte{"llmmon": bin}
	dockerfile := "FROM scratch\nCOPY llmmon /llmmon\n"
	for _, ca := range caBundles {
		if b, err := os.ReadFile(ca); err == nil {
			files["ca-certificates.crt"] = b
			dockerfile += "COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt\n"
			break
		}
	}
	dockerfile += "USER 65534:65534\nENTRYPOINT [\"/llmmon\"]\nCMD [\"relay\"]\n"
	files["Dockerfile"] = []byte(dockerfile)
	labels := map[string]string{runtime.LabelManaged: "true", runtime.LabelComponent: "relay", runtime.LabelVersion: e.version}
	if err := e.rt.BuildImage(ctx, tag, files, labels); err != nil {
		return fmt.Errorf("build the relay image: %w", err)
	}
	return nil
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
