package detect

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The driver's per-GPU information file names the model: data-center GPUs go to dcgm-exporter,
// GeForce cards and WSL to llmmon's gpu-exporter.
func TestGPUAt(t *testing.T) {
	info := func(model string) string {
		return "Model: \t\t " + model + "\nIRQ:   \t\t 150\nGPU UUID: \t GPU-00000000\nBus Type: \t PCIe\n"
	}
	for _, tc := range []struct {
		name, want string
		ok         bool
		files      map[string]string
	}{
		{"none", "no NVIDIA GPU driver", false, nil},
		{"h200", "1 NVIDIA GPU(s)", true, map[string]string{"proc/driver/nvidia/gpus/0000:83:00.0/information": info("NVIDIA H200")}},
		{"geforce", "dcgm-exporter does not support NVIDIA GeForce RTX 4080 SUPER; llmmon's gpu-exporter", false, map[string]string{"proc/driver/nvidia/gpus/0000:01:00.0/information": info("NVIDIA GeForce RTX 4080 SUPER")}},
		{"mixed", "2 NVIDIA GPU(s)", true, map[string]string{
			"proc/driver/nvidia/gpus/0000:01:00.0/information": info("NVIDIA GeForce RTX 4090"),
			"proc/driver/nvidia/gpus/0000:02:00.0/information": info("NVIDIA L40S")}},
		{"wsl", "WSL's NVIDIA driver has no DCGM", false, map[string]string{"usr/lib/wsl/lib/nvidia-smi": "#!"}},
	} {
		root := t.TempDir()
		for p, d := range tc.files {
			write(t, filepath.Join(root, p), d)
		}
		k, why := gpuAt(root)
		if (k == gpuDCGM) != tc.ok || (tc.files != nil && !tc.ok && k != gpuSMIOnly) || !strings.Contains(why, tc.want) {
			t.Errorf("%s: %v %q", tc.name, k, why)
		}
	}
}
