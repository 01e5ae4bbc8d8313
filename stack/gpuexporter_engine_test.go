package stack_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/runtime"
)

// On a host whose GPUs dcgm-exporter does not support (a GeForce card), gpu: auto runs llmmon's
// nvidia-smi exporter from the image llmmon builds of its own binary (with the host's C library
// for nvidia-smi), with Docker's NVIDIA runtime, and Prometheus scrapes it; without the runtime
// it runs nothing and says what to do, and Prometheus is not told to scrape it.
func TestGPUAutoRunsTheNvidiaSMIExporterOnGeForce(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "llmmon")
	build := exec.Command("go", "build", "-o", bin, "./runtime/docker/testdata/sleeper")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build a static binary: %v\n%s", err, out)
	}
	geforce := stack.WithNvidiaSMIDetector(func() (bool, string) {
		return true, "dcgm-exporter does not support NVIDIA GeForce RTX 4090; llmmon's gpu-exporter reads them through nvidia-smi"
	})
	e, rt, s, _ := setup(t, "", stack.WithSelfBinary(bin), geforce)
	s.GPU = "auto"
	rt.SetInfo(runtime.Info{NvidiaRuntime: true})
	res, err := e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := findContainer(t, rt, "gpu-exporter")
	if !strings.HasPrefix(c.Spec.Image, stack.RelayImageRepo+":") || !c.Spec.GPUs || c.Spec.Network != "host" ||
		strings.Join(c.Spec.Cmd, " ") != "gpu-exporter --listen=127.0.0.1:9835 --nvidia-smi=/usr/bin/nvidia-smi" ||
		strings.Join(c.Spec.Env, " ") != "NVIDIA_DRIVER_CAPABILITIES=utility" {
		t.Errorf("gpu-exporter container: %+v", c.Spec)
	}
	ctx, ok := rt.Built(c.Spec.Image)
	if !ok {
		t.Fatalf("image %s was not built", c.Spec.Image)
	}
	if _, err := os.Stat("/lib64/ld-linux-x86-64.so.2"); err == nil {
		if len(ctx["lib/libc.so.6"]) == 0 || !strings.Contains(string(ctx["Dockerfile"]), "COPY lib/libc.so.6 /lib/x86_64-linux-gnu/libc.so.6") ||
			!strings.Contains(string(ctx["Dockerfile"]), "COPY lib/ld-linux-x86-64.so.2 /lib64/ld-linux-x86-64.so.2") {
			t.Errorf("the image has no C library for nvidia-smi: %s", ctx["Dockerfile"])
		}
	}
	cfg, err := os.ReadFile(filepath.Join(s.DataDir, "generated", "prometheus", "prometheus.yml"))
	if err != nil || !strings.Contains(string(cfg), "job_name: nvidia-smi") || !strings.Contains(string(cfg), "127.0.0.1:9835") {
		t.Errorf("prometheus does not scrape the exporter: %v", err)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "GPU metrics from llmmon's gpu-exporter") {
		t.Errorf("notes: %q", res.Notes)
	}

	// The same host without Docker's NVIDIA runtime: no exporter, no scrape job, a note.
	e, rt, s, _ = setup(t, "", stack.WithSelfBinary(bin), geforce)
	s.GPU = "auto"
	res, err = e.Up(t.Context(), s, stack.UpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rt.Containers() {
		if c.Spec.Labels["io.llmmon.component"] == "gpu-exporter" {
			t.Error("a gpu-exporter without the NVIDIA runtime")
		}
	}
	cfg, _ = os.ReadFile(filepath.Join(s.DataDir, "generated", "prometheus", "prometheus.yml"))
	if strings.Contains(string(cfg), "nvidia-smi") || !strings.Contains(strings.Join(res.Notes, "\n"), "no NVIDIA runtime; install the NVIDIA Container Toolkit, or run `llmmon gpu-exporter` on the host") {
		t.Errorf("without the runtime: notes %q", res.Notes)
	}
}
