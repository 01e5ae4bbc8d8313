package stack_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/llmmon/llmmon/internal/testenv"
	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/runtime/fake"
	"github.com/llmmon/llmmon/stack/spec"
)

const robotSpec = `notify:
  receivers:
    - name: ding
      dingtalk: {url: "https://oapi.dingtalk.com/robot/send?access_token=abc", secret: SECabc}
`

func relayEngine(t *testing.T, binary string) (*stack.Engine, *fake.Runtime, *spec.Spec) {
	t.Helper()
	e, rt, s, _ := setup(t, robotSpec, stack.WithSelfBinary(binary), stack.WithVersion("1.0"))
	return e, rt, s
}

// With a DingTalk receiver, up builds the relay's image FROM scratch from the llmmon binary and
// runs it; a new binary gets a new image, the container is recreated and the old image removed.
func TestUpBuildsTheRelayImageFromTheBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "llmmon")
	build := exec.Command("go", "build", "-o", bin, "./runtime/docker/testdata/sleeper")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build a static binary: %v\n%s", err, out)
	}
	e, rt, s := relayEngine(t, bin)
	if _, err := e.Up(t.Context(), s, stack.UpOptions{}); err != nil {
		t.Fatal(err)
	}
	relay := findContainer(t, rt, "relay")
	tag := relay.Spec.Image
	if !strings.HasPrefix(tag, stack.RelayImageRepo+":") {
		t.Fatalf("relay image %q", tag)
	}
	ctx, ok := rt.Built(tag)
	if !ok {
		t.Fatalf("image %s was not built", tag)
	}
	want, _ := os.ReadFile(bin)
	if string(ctx["llmmon"]) != string(want) || !strings.HasPrefix(string(ctx["Dockerfile"]), "FROM scratch\nCOPY llmmon /llmmon\n") {
		t.Errorf("build context: Dockerfile %q, binary %d bytes", ctx["Dockerfile"], len(ctx["llmmon"]))
	}
	if got := strings.Join(relay.Spec.Cmd, " "); got != "relay --config /etc/llmmon-relay/relay.yml --listen=127.0.0.1:9095" || relay.Spec.Network != "host" || relay.Spec.User != "65534:65534" {
		t.Errorf("relay container: cmd %q network %q user %q", got, relay.Spec.Network, relay.Spec.User)
	}
	for _, m := range relay.Spec.Mounts {
		if m.Volume && m.Source != "unit_relay-data" {
			t.Errorf("relay volume %q", m.Source)
		}
	}

	// The same binary touched: the same image, nothing recreated.
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(bin, later, later); err != nil {
		t.Fatal(err)
	}
	res, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil || res.ComponentActions["relay"] != "unchanged" {
		t.Fatalf("relay after touching the binary: %q %v", res.ComponentActions["relay"], err)
	}
	// A new llmmon binary: a new image, the relay recreated, the old image removed.
	f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("a new version"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	res, err = e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.ComponentActions["relay"] != "recreate" {
		t.Errorf("relay action %q, want recreate", res.ComponentActions["relay"])
	}
	if nt := findContainer(t, rt, "relay").Spec.Image; nt == tag {
		t.Errorf("relay image unchanged: %s", nt)
	}
	if ok, _ := rt.ImagePresent(t.Context(), tag); ok {
		t.Errorf("old relay image %s not removed; calls %v", tag, rt.Actions())
	}
}

// A dynamically linked llmmon cannot be the relay: up says so before changing anything.
func TestUpRefusesADynamicBinaryForTheRelay(t *testing.T) {
	dyn := "/bin/ls" // linked against libc on every Linux distribution
	if _, err := os.Stat(dyn); err != nil {
		testenv.SkipOrFail(t, "there is no /bin/ls to play a dynamically linked llmmon")
	}
	e, rt, s := relayEngine(t, dyn)
	_, err := e.Up(t.Context(), s, stack.UpOptions{})
	if !errors.Is(err, stack.ErrPreflight) || !strings.Contains(err.Error(), "CGO_ENABLED=0") {
		t.Fatalf("err = %v", err)
	}
	if n := len(rt.Containers()); n != 0 {
		t.Errorf("%d containers created", n)
	}
}

func findContainer(t *testing.T, rt *fake.Runtime, component string) fake.Container {
	t.Helper()
	for _, c := range rt.Containers() {
		if c.Spec.Labels["io.llmmon.component"] == component {
			return c
		}
	}
	t.Fatalf("no %s container", component)
	return fake.Container{}
}
