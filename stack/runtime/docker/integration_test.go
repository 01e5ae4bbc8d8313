package docker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/llmmon/llmmon/stack/runtime"
)

// The integration tests (TestIntegration*) use the Docker daemon of this machine. They skip
// under -short, and skip when no daemon answers unless CI=true, where they fail instead. Each
// one labels what it creates with its own project name and removes it when done; the sleeper
// image they share is removed by TestMain.

var sleeper struct {
	once sync.Once
	tag  string
	err  error
}

// TestMain removes the sleeper image after the tests. When it returns, the testing package
// exits with m.Run's result.
func TestMain(m *testing.M) {
	m.Run()
	if sleeper.tag != "" && sleeper.err == nil {
		removeImage(sleeper.tag)
	}
}

func removeImage(tag string) {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, _ = c.ImageRemove(ctx, tag, client.ImageRemoveOptions{Force: true, PruneChildren: true})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// integration returns a Docker on this machine's daemon, or skips (fails when CI=true).
func integration(t *testing.T) *Docker {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: skipped under -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := New(ctx)
	if err == nil {
		_, err = d.Ping(ctx)
		if err != nil {
			d.Close()
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no Docker daemon (CI=true, so not skipping): %v", err)
		}
		t.Skipf("no Docker daemon: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// rawClient returns a plain Docker client, to make and check objects behind llmmon's back.
func rawClient(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.New(client.FromEnv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// project returns a project name unique to this test run and removes, when the test ends,
// everything carrying it.
func project(t *testing.T, d *Docker) string {
	t.Helper()
	name := strings.ToLower(regexp.MustCompile(`[^a-zA-Z0-9]+`).ReplaceAllString(t.Name(), "-"))
	p := "llmmon-itest-" + strings.TrimPrefix(name, "testintegration-") + "-" + randomHex(4)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cs, err := d.ListContainers(ctx, p)
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, c := range cs {
			if err := d.RemoveContainer(ctx, c.ID); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		if err := d.RemoveNetworks(ctx, p); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		vs, err := d.ListVolumes(ctx, p)
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, v := range vs {
			if err := d.RemoveVolume(ctx, v.Name); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return p
}

// sleeperImage builds (once per test binary) an image FROM scratch holding the static sleeper
// program, and returns its tag.
func sleeperImage(t *testing.T, d *Docker) string {
	t.Helper()
	sleeper.once.Do(func() {
		sleeper.tag, sleeper.err = buildSleeper(d)
	})
	if sleeper.err != nil {
		t.Fatalf("build sleeper image: %v", sleeper.err)
	}
	return sleeper.tag
}

func buildSleeper(d *Docker) (string, error) {
	dir, err := os.MkdirTemp("", "llmmon-sleeper-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "sleeper")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./testdata/sleeper")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", errors.New("go build: " + err.Error() + ": " + string(out))
	}
	prog, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tag := "llmmon-itest-sleeper:" + randomHex(4)
	files := map[string][]byte{
		"Dockerfile":  []byte("FROM scratch\nCOPY bin/sleeper /sleeper\nENTRYPOINT [\"/sleeper\"]\n"),
		"bin/sleeper": prog,
	}
	err = d.BuildImage(ctx, tag, files, map[string]string{runtime.LabelManaged: "true", "io.llmmon.test": "sleeper"})
	if err != nil {
		return "", err
	}
	return tag, nil
}

// lineSet returns the lines of s sorted and joined with "|".
func lineSet(s string) string {
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	sort.Strings(lines)
	return strings.Join(lines, "|")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually retries f until it returns nil or the timeout passes, and returns its last error.
func eventually(timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestIntegrationPing(t *testing.T) {
	d := integration(t)
	info, err := d.Ping(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("daemon %+v", info)
}

func TestIntegrationContainerLifecycle(t *testing.T) {
	d := integration(t)
	ctx := testContext(t)
	img := sleeperImage(t, d)
	p := project(t, d)
	lbl := map[string]string{runtime.LabelProject: p, runtime.LabelManaged: "true"}

	// llmmon creates no networks (its containers use host networking): the test makes one with
	// the project's label, for RemoveNetworks.
	created, err := rawClient(t).NetworkCreate(ctx, p+"-net", client.NetworkCreateOptions{Driver: "bridge", Labels: lbl})
	if err != nil {
		t.Fatal(err)
	}
	netID := created.ID
	if err := d.EnsureVolume(ctx, p+"-data", lbl); err != nil {
		t.Fatal(err)
	}
	if err := d.EnsureVolume(ctx, p+"-data", lbl); err != nil {
		t.Fatalf("second EnsureVolume: %v", err)
	}
	cfgDir := t.TempDir()
	writeFile(t, filepath.Join(cfgDir, "hello.txt"), "hello from the host\n")

	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	labels := map[string]string{runtime.LabelProject: p, runtime.LabelComponent: "sleeper", runtime.LabelConfigHash: "abc"}
	spec := runtime.ContainerSpec{
		Name:   p + "-sleeper",
		Image:  img,
		Env:    []string{"SLEEPER_ADDR=" + addr},
		Labels: labels,
		Mounts: []runtime.Mount{
			{Source: cfgDir, Target: "/cfg", ReadOnly: true},
			{Source: p + "-data", Target: "/data", Volume: true},
		},
		Network:     "host",
		Restart:     "unless-stopped",
		StopTimeout: 3 * time.Second,
	}
	id, err := d.CreateContainer(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.CreateContainer(ctx, spec); err == nil {
		t.Error("created a second container with the same name")
	}

	list, err := d.ListContainers(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != id || list[0].State != "created" || list[0].Running {
		t.Fatalf("after create: %+v", list)
	}

	if err := d.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	c, err := d.InspectContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != spec.Name || c.Image != img || !c.Running || c.State != "running" || c.StartedAt.IsZero() ||
		c.Labels[runtime.LabelConfigHash] != "abc" {
		t.Errorf("inspect = %+v", c)
	}
	if byName, err := d.InspectContainer(ctx, spec.Name); err != nil || byName.ID != id {
		t.Errorf("inspect by name: %+v %v", byName, err)
	}

	// The container listens on the host's network, as llmmon's do.
	err = eventually(15*time.Second, func() error {
		resp, err := http.Get("http://" + addr + "/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "sleeper ok\n" {
			return errors.New("body " + string(b))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("http: %v", err)
	}

	// Logs: stdout and stderr, demultiplexed, last n lines.
	var logs string
	err = eventually(10*time.Second, func() error {
		logs, err = d.Logs(ctx, id, 0)
		if err != nil {
			return err
		}
		if !strings.Contains(logs, "listening on") {
			return errors.New("logs so far: " + logs)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// stdout and stderr are separate pipes: their relative order is not guaranteed.
	if got := lineSet(logs); got != "line 1|line 2|line 3 on stderr|listening on "+addr {
		t.Errorf("logs = %q", logs)
	}
	if last, err := d.Logs(ctx, id, 1); err != nil || (last != "line 3 on stderr\n" && last != "listening on "+addr+"\n") {
		t.Errorf("last line = %q, %v", last, err)
	}
	if last, err := d.Logs(ctx, id, 2); err != nil || strings.Count(last, "\n") != 2 {
		t.Errorf("last 2 lines = %q, %v", last, err)
	}

	// Exec (as RemoveFiles does): the image has no shell, so exec the sleeper itself.
	out, code, err := d.execAs(ctx, id, "", []string{"/sleeper", "echo", "hello", "exec"})
	if err != nil || code != 0 || out != "hello exec\n" {
		t.Errorf("exec echo = %q %d %v", out, code, err)
	}
	out, code, err = d.execAs(ctx, id, "", []string{"/sleeper", "cat", "/cfg/hello.txt"})
	if err != nil || code != 0 || out != "hello from the host\n" {
		t.Errorf("exec cat (bind mount) = %q %d %v", out, code, err)
	}
	out, code, err = d.execAs(ctx, id, "", []string{"/sleeper", "exit", "4", "bye"})
	if err != nil || code != 4 || lineSet(out) != "bye|failing" {
		t.Errorf("exec exit = %q %d %v", out, code, err)
	}

	// Remove: graceful (the sleeper exits on SIGTERM), then gone; twice is fine.
	start := time.Now()
	if err := d.RemoveContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("remove took %v", took)
	}
	if _, err := d.InspectContainer(ctx, id); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("inspect after remove: %v", err)
	}
	if err := d.RemoveContainer(ctx, id); err != nil {
		t.Errorf("second remove: %v", err)
	}
	if list, err := d.ListContainers(ctx, p); err != nil || len(list) != 0 {
		t.Errorf("after remove: %+v %v", list, err)
	}

	// The named volume survives the container.
	vols, err := d.ListVolumes(ctx, p)
	if err != nil || len(vols) != 1 || vols[0].Name != p+"-data" || vols[0].Labels[runtime.LabelProject] != p {
		t.Fatalf("volumes = %+v %v", vols, err)
	}
	if err := d.RemoveVolume(ctx, p+"-data"); err != nil {
		t.Error(err)
	}
	if err := d.RemoveVolume(ctx, p+"-data"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("second volume remove: %v", err)
	}

	if err := d.RemoveNetworks(ctx, p); err != nil {
		t.Fatal(err)
	}
	if _, err := rawClient(t).NetworkInspect(ctx, netID, client.NetworkInspectOptions{}); !cerrdefs.IsNotFound(err) {
		t.Errorf("network still there: %v", err)
	}
}

func TestIntegrationForeignObjectsUntouched(t *testing.T) {
	d := integration(t)
	ctx := testContext(t)
	p := project(t, d)
	raw := rawClient(t)
	name := p + "-foreign"

	n, err := raw.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = raw.NetworkRemove(context.Background(), n.ID, client.NetworkRemoveOptions{}) })
	if _, err := raw.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = raw.VolumeRemove(context.Background(), name, client.VolumeRemoveOptions{Force: true}) })

	lbl := map[string]string{runtime.LabelProject: p}
	if err := d.EnsureVolume(ctx, name, lbl); err == nil || !strings.Contains(err.Error(), "not created by llmmon") {
		t.Errorf("ensure volume: %v", err)
	}
	if err := d.RemoveVolume(ctx, name); err == nil {
		t.Error("removed a foreign volume")
	}
	if err := d.RemoveNetworks(ctx, p); err != nil {
		t.Error(err)
	}
	if vols, err := d.ListVolumes(ctx, p); err != nil || len(vols) != 0 {
		t.Errorf("list volumes = %+v %v", vols, err)
	}

	got, err := raw.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
	if err != nil {
		t.Fatalf("foreign network gone: %v", err)
	}
	if len(got.Network.Labels) != 0 {
		t.Errorf("foreign network relabelled: %v", got.Network.Labels)
	}
	v, err := raw.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		t.Fatalf("foreign volume gone: %v", err)
	}
	if len(v.Volume.Labels) != 0 {
		t.Errorf("foreign volume relabelled: %v", v.Volume.Labels)
	}
}

func TestIntegrationUnreachable(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: skipped under -short")
	}
	const host = "unix:///nonexistent.sock"
	d, err := NewWithHost(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	checkUnreachable(t, host, d)
}

func TestIntegrationImages(t *testing.T) {
	d := integration(t)
	ctx := testContext(t)
	img := sleeperImage(t, d)

	if ok, err := d.ImagePresent(ctx, img); err != nil || !ok {
		t.Errorf("present(%s) = %v %v", img, ok, err)
	}
	if ok, err := d.ImagePresent(ctx, "llmmon-itest-absent:"+randomHex(4)); err != nil || ok {
		t.Errorf("present(absent) = %v %v", ok, err)
	}
	ins, err := rawClient(t).ImageInspect(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if ins.Config == nil || ins.Config.Labels["io.llmmon.test"] != "sleeper" {
		t.Errorf("image labels = %+v", ins.Config)
	}

	tag := "llmmon-itest-broken:" + randomHex(4)
	err = d.BuildImage(ctx, tag, map[string][]byte{"Dockerfile": []byte("FROM scratch\nCOPY missing /missing\n")}, nil)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("broken build: %v", err)
	}
	if ok, _ := d.ImagePresent(ctx, tag); ok {
		removeImage(tag)
		t.Error("broken build produced an image")
	}

	// RemoveImage removes an image, and an absent one is not an error.
	rm := "llmmon-itest-remove:" + randomHex(4)
	if err := d.BuildImage(ctx, rm, map[string][]byte{"Dockerfile": []byte("FROM " + img + "\nLABEL io.llmmon.test=remove\n")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveImage(ctx, rm); err != nil {
		t.Errorf("remove: %v", err)
	}
	if ok, _ := d.ImagePresent(ctx, rm); ok {
		removeImage(rm)
		t.Error("image still present after RemoveImage")
	}
	if err := d.RemoveImage(ctx, rm); err != nil {
		t.Errorf("remove an absent image: %v", err)
	}
}

// RemoveFiles deletes a copied file through the image's rm (here the sleeper run as /bin/rm),
// a missing file is not an error, and an image without rm gives runtime.ErrNoRemove.
func TestIntegrationRemoveFiles(t *testing.T) {
	d := integration(t)
	ctx := testContext(t)
	img := sleeperImage(t, d)
	withRm := "llmmon-itest-rm:" + randomHex(4)
	df := "FROM " + img + " AS sleeper\nFROM " + img + "\nCOPY --from=sleeper /sleeper /bin/rm\n"
	if err := d.BuildImage(ctx, withRm, map[string][]byte{"Dockerfile": []byte(df)}, map[string]string{runtime.LabelManaged: "true"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeImage(withRm) })
	project := "llmmon-itest-" + randomHex(4)
	run := func(image string) string {
		id, err := d.CreateContainer(ctx, runtime.ContainerSpec{Name: project + "-" + randomHex(2), Image: image, Labels: map[string]string{runtime.LabelProject: project}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = d.RemoveContainer(context.Background(), id) })
		if err := d.CopyFiles(ctx, id, "/", []runtime.FileEntry{{Path: "etc/x", Dir: true, Mode: 0o755, UID: 472}, {Path: "etc/x/a.json", Data: []byte("{}"), Mode: 0o644, UID: 472}}); err != nil {
			t.Fatal(err)
		}
		if err := d.StartContainer(ctx, id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	id := run(withRm)
	if _, code, _ := d.execAs(ctx, id, "", []string{"/sleeper", "cat", "/etc/x/a.json"}); code != 0 {
		t.Fatal("the file was not copied")
	}
	if err := d.RemoveFiles(ctx, id, []string{"/etc/x/a.json", "/etc/x/absent.json"}); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if out, code, _ := d.execAs(ctx, id, "", []string{"/sleeper", "cat", "/etc/x/a.json"}); code == 0 || !strings.Contains(out, "no such file") {
		t.Errorf("the file is still there: %d %q", code, out)
	}
	if err := d.RemoveFiles(ctx, id, []string{"etc/x/relative"}); err == nil {
		t.Error("a relative path was accepted")
	}
	bare := run(img)
	if err := d.RemoveFiles(ctx, bare, []string{"/etc/x/a.json"}); !errors.Is(err, runtime.ErrNoRemove) {
		t.Errorf("image without rm: %v", err)
	}
}

// ListImages finds the images of one repository by label, and only those.
func TestIntegrationListImages(t *testing.T) {
	d := integration(t)
	ctx := testContext(t)
	img := sleeperImage(t, d)
	repo := "llmmon-itest-list-" + randomHex(4)
	for _, tc := range []struct{ tag, label string }{{"a", "yes"}, {"b", "yes"}, {"c", "no"}} {
		ref := repo + ":" + tc.tag
		if err := d.BuildImage(ctx, ref, map[string][]byte{"Dockerfile": []byte("FROM " + img + "\nLABEL tag=" + tc.tag + "\n")}, map[string]string{"io.llmmon.itest": tc.label}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { removeImage(ref) })
	}
	got, err := d.ListImages(ctx, repo, map[string]string{"io.llmmon.itest": "yes"})
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, im := range got {
		tags = append(tags, strings.Join(im.Tags, ","))
		if im.Labels["io.llmmon.itest"] != "yes" || im.ID == "" {
			t.Errorf("image %+v", im)
		}
	}
	if strings.Join(tags, " ") != repo+":a "+repo+":b" {
		t.Errorf("listed %v", tags)
	}
}

// ReadLink stats a link CopyFiles wrote into a created container and gets its target as an
// absolute path; a missing path and a file that is not a link are runtime.ErrNotFound.
func TestIntegrationReadLink(t *testing.T) {
	d := integration(t)
	ctx := testContext(t)
	img := sleeperImage(t, d)
	p := project(t, d)
	id, err := d.CreateContainer(ctx, runtime.ContainerSpec{Name: p + "-links", Image: img, Labels: map[string]string{runtime.LabelProject: p}})
	if err != nil {
		t.Fatal(err)
	}
	err = d.CopyFiles(ctx, id, "/", []runtime.FileEntry{
		{Path: "etc/x", Dir: true, Mode: 0o755},
		{Path: "etc/x/files-abc", Data: []byte("{}"), Mode: 0o644},
		{Path: "etc/x/.marker", Link: "files-abc", Mode: 0o777},
	})
	if err != nil {
		t.Fatal(err)
	}
	if target, err := d.ReadLink(ctx, id, "/etc/x/.marker"); err != nil || target != "/etc/x/files-abc" {
		t.Errorf("read link = %q, %v", target, err)
	}
	for _, path := range []string{"/etc/x/absent", "/etc/x/files-abc"} {
		if target, err := d.ReadLink(ctx, id, path); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("read link %s = %q, %v", path, target, err)
		}
	}
}
