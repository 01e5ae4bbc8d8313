package cmd

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Run(context.Background(), IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut}, args)
	return code, out.String(), errOut.String()
}

var wantRe = regexp.MustCompile(`^# want: (\d+):(\d+) (.*)$`)

// problemLineRe matches the first line of one problem in the CLI's output: FILE:LINE:COL: ...
var problemLineRe = regexp.MustCompile(`^\S+:\d+:\d+: `)

// checkHints fails when a problem in stderr is not followed by its hint line.
func checkHints(t *testing.T, stderr string) {
	t.Helper()
	lines := strings.Split(stderr, "\n")
	n := 0
	for i, l := range lines {
		if !problemLineRe.MatchString(l) {
			continue
		}
		n++
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "    hint: ") || len(strings.TrimSpace(strings.TrimPrefix(lines[i+1], "    hint: "))) == 0 {
			t.Errorf("problem without a hint: %q\n%s", l, stderr)
		}
	}
	if n == 0 && !strings.Contains(stderr, "hint: ") {
		t.Errorf("no problem and no hint in:\n%s", stderr)
	}
}

// TestBadSpecCorpus: every spec in stack/spec/testdata/invalid exits 2 with a message that
// points at the line and column its first line names, and says what its first line says.
func TestBadSpecCorpus(t *testing.T) {
	files, _ := filepath.Glob("../stack/spec/testdata/invalid/*.yaml")
	if len(files) < 30 {
		t.Fatalf("want at least 30 invalid specs, found %d", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, _ := os.ReadFile(f)
			first, _, _ := strings.Cut(string(data), "\n")
			m := wantRe.FindStringSubmatch(first)
			if m == nil {
				t.Fatalf("first line must be `# want: LINE:COL text`, got %q", first)
			}
			code, stdout, stderr := runCLI(t, "validate", "--offline", "-f", f)
			if code != ExitBadInput {
				t.Fatalf("exit code %d, want 2\n%s%s", code, stdout, stderr)
			}
			place := fmt.Sprintf("%s:%s:%s:", f, m[1], m[2])
			if !strings.Contains(stderr, place) {
				t.Errorf("message does not point at %s:\n%s", place, stderr)
			}
			if !strings.Contains(stderr, m[3]) {
				t.Errorf("message does not say %q:\n%s", m[3], stderr)
			}
			checkHints(t, stderr)
		})
	}
}

// TestBadSpecGenerated covers inputs that are not committed as files: an empty file, binary
// garbage, a multi-megabyte file, a missing file.
func TestBadSpecGenerated(t *testing.T) {
	dir := t.TempDir()
	garbage := make([]byte, 4096)
	for i := range garbage {
		garbage[i] = byte(i*7 + i/13)
	}
	huge := bytes.Repeat([]byte("# padding line of a far too large spec file\n"), 100000)
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty.yaml", nil, "1:1: the spec file is empty"},
		{"garbage.bin", garbage, "binary data at byte 0"},
		{"huge.yaml", huge, "the file is 4.2 MiB (4400000 bytes); a spec is a few kilobytes"},
		{"just-over.yaml", bytes.Repeat([]byte("#"), 1<<20+1), "the file is 1.0 MiB (1048577 bytes)"},
		{"nul.yaml", []byte("name: a\nbind: 127.0.0.1\x00\n"), "2:16: binary data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			os.WriteFile(p, c.data, 0o644)
			code, _, stderr := runCLI(t, "validate", "--offline", "-f", p)
			if code != ExitBadInput || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, want 2 and %q in:\n%s", code, c.want, stderr)
			}
			checkHints(t, stderr)
			if strings.Contains(c.name, "huge") || strings.Contains(c.name, "over") {
				if want := "at most 1 MiB (1048576 bytes)"; !strings.Contains(stderr, want) {
					t.Errorf("the limit is not stated as %q:\n%s", want, stderr)
				}
			}
		})
	}
	code, _, stderr := runCLI(t, "validate", "-f", filepath.Join(dir, "absent.yaml"))
	if code != ExitBadInput || !strings.Contains(stderr, "no such file") {
		t.Fatalf("missing file: exit %d\n%s", code, stderr)
	}
	checkHints(t, stderr)
	code, _, stderr = runCLI(t, "validate", "-f", dir)
	if code != ExitBadInput || !strings.Contains(stderr, "hint: ") {
		t.Fatalf("a directory as the spec: exit %d\n%s", code, stderr)
	}
}

// TestAllErrorsAtOnce: several problems in one file are all reported, in file order.
func TestAllErrorsAtOnce(t *testing.T) {
	p := filepath.Join(t.TempDir(), "multi.yaml")
	os.WriteFile(p, []byte("targts: []\nlanguage: fr\ntargets:\n  - name: a\n    engine: vlm\n    url: ftp://x\n"), 0o644)
	code, _, stderr := runCLI(t, "validate", "--offline", "-f", p)
	if code != 2 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{":1:1: targts", ":2:11: language", ":5:13: targets[0].engine", ":6:10: targets[0].url", "4 problem(s)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("missing %q in:\n%s", want, stderr)
		}
	}
}

// TestSecretsNeverEchoed: a bad secret value is reported without its value.
func TestSecretsNeverEchoed(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.yaml")
	os.WriteFile(p, []byte("notify:\n  receivers:\n    - name: dt\n      dingtalk:\n        url: https://oapi.dingtalk.com/robot/send?access_token=TOPSECRETTOKEN\n        secret: NOTSECPREFIXED-HUSH\n"), 0o644)
	code, stdout, stderr := runCLI(t, "validate", "--offline", "-f", p)
	if code != 2 {
		t.Fatalf("exit %d", code)
	}
	if strings.Contains(stdout+stderr, "HUSH") || strings.Contains(stdout+stderr, "TOPSECRETTOKEN") {
		t.Fatalf("secret echoed:\n%s", stderr)
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	if code, _, _ := runCLI(t, "render"); code != ExitBadInput {
		t.Errorf("render without -o: exit %d", code)
	}
	if code, _, _ := runCLI(t, "validate", "--no-such-flag"); code != ExitBadInput {
		t.Errorf("unknown flag: exit %d", code)
	}
	if code, _, _ := runCLI(t, "validate", "extra"); code != ExitBadInput {
		t.Errorf("extra argument: exit %d", code)
	}
}

func TestRenderExample(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runCLI(t, "render", "--offline", "--compose", "-f", "../examples/llmmon.yaml", "-o", dir)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	for _, f := range []string{"prometheus/prometheus.yml", "alertmanager/alertmanager.yml", "docker-compose.yml", "grafana/provisioning/datasources/llmmon.yaml"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	code, out, _ := runCLI(t, "schema")
	if code != 0 || !strings.Contains(out, `"scrape_interval"`) || !strings.Contains(out, "Inference engine") {
		t.Fatalf("schema: exit %d", code)
	}
}

// TestImportDashboardBadInput: a malformed dashboard exits 2 and says where (FILE:line:col and
// the JSON path), what is wrong, and what to do; so does a missing file.
func TestImportDashboardBadInput(t *testing.T) {
	dir := t.TempDir()
	specFile := filepath.Join(dir, "llmmon.yaml")
	os.WriteFile(specFile, []byte("name: badinput-import\ndata_dir: "+filepath.Join(dir, "data")+"\nprometheus: {port: 1}\n"), 0o644)
	cases := []struct{ name, json, want string }{
		{"syntax.json", "{\n  \"title\": \"A\",\n  \"panels\": [\n    {\"id\": 1,}\n  ]\n}\n", ":4:14: not valid JSON"},
		{"types.json", "{\"title\": \"A\",\n \"panels\": [{\"targets\": {\"expr\": \"up\"}}]}", ":2:25: panels[0].targets: targets must be a list ([...]), got an object"},
		{"datasource.json", "{\"apiVersion\": 1,\n \"datasources\": [{\"name\": \"x\"}]}", ":1:1: not a Grafana dashboard"},
		{"page.json", "<!DOCTYPE html>\n<html></html>", ":1:1: the file is not JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(dir, c.name)
			os.WriteFile(p, []byte(c.json), 0o644)
			code, _, stderr := runCLI(t, "import-dashboard", "-f", specFile, p)
			if code != ExitBadInput {
				t.Fatalf("exit %d, want 2\n%s", code, stderr)
			}
			if !strings.Contains(stderr, p+c.want) {
				t.Errorf("want %q in:\n%s", p+c.want, stderr)
			}
			if !strings.Contains(stderr, "\n    hint: ") {
				t.Errorf("no hint in:\n%s", stderr)
			}
		})
	}
	code, _, stderr := runCLI(t, "import-dashboard", "-f", specFile, filepath.Join(dir, "absent.json"))
	if code != ExitBadInput || !strings.Contains(stderr, "no such file") || !strings.Contains(stderr, "hint: ") {
		t.Fatalf("absent file: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "dashboards")); err == nil {
		t.Error("a bad dashboard left files in the data directory")
	}
}

// TestImportDashboardWithoutSecrets: import-dashboard uses none of the notification secrets,
// so their unset variables are not an error; an unset Grafana password only keeps it from
// pushing, and it says so.
func TestImportDashboardWithoutSecrets(t *testing.T) {
	dir := t.TempDir()
	dash := filepath.Join(dir, "dash.json")
	os.WriteFile(dash, []byte(`{"title": "Imported without secrets", "uid": "nosecrets", "panels": [{"id": 1, "type": "timeseries", "title": "up", "targets": [{"refId": "A", "expr": "up"}]}]}`), 0o644)
	base := "name: badinput-nosecrets\ndata_dir: " + filepath.Join(dir, "data") + "\nprometheus: {port: 1}\n" +
		"notify:\n  receivers:\n    - name: ding\n      dingtalk: {url: \"${LLMMON_TEST_UNSET_DT_URL}\", secret: \"${LLMMON_TEST_UNSET_DT_SECRET}\"}\n"
	for _, c := range []struct{ name, extra, want string }{
		{"notification secrets", "", "Kept in "},
		{"grafana password", "grafana: {admin_password: \"${LLMMON_TEST_UNSET_GF_PW}\"}\n", "LLMMON_TEST_UNSET_GF_PW, which is not set"},
	} {
		t.Run(c.name, func(t *testing.T) {
			specFile := filepath.Join(dir, "llmmon.yaml")
			os.WriteFile(specFile, []byte(base+c.extra), 0o644)
			// validate still needs them: it checks what up would write.
			if code, _, stderr := runCLI(t, "validate", "--offline", "-f", specFile); code != ExitBadInput || !strings.Contains(stderr, "LLMMON_TEST_UNSET_DT_URL is not set") {
				t.Fatalf("validate: exit %d\n%s", code, stderr)
			}
			code, _, stderr := runCLI(t, "import-dashboard", "-f", specFile, dash)
			if code != ExitOK {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("want %q in:\n%s", c.want, stderr)
			}
			kept := filepath.Join(dir, "data", "dashboards", "imported", "nosecrets.json")
			if _, err := os.Stat(kept); err != nil {
				t.Errorf("not kept: %v\n%s", err, stderr)
			}
			if _, err := os.Stat(filepath.Join(dir, "data", "secrets", "grafana-admin-password")); err == nil {
				t.Error("a Grafana password was generated for a spec that names its own")
			}
		})
	}
}
