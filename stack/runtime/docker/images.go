package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/api/types/jsonstream"
	"github.com/moby/moby/client"

	"github.com/llmmon/llmmon/stack/runtime"
)

// ImagePresent reports whether the image ref is available locally.
func (d *Docker) ImagePresent(ctx context.Context, ref string) (bool, error) {
	_, err := d.api.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err) && !isUnreachable(err):
		return false, nil
	default:
		return false, d.wrap(err, "inspect image %s", ref)
	}
}

// PullImage pulls ref, reporting each progress message to fn (which may be nil). An image that
// does not exist in its registry is reported as runtime.ErrImageNotFound.
func (d *Docker) PullImage(ctx context.Context, ref string, fn func(runtime.PullEvent)) error {
	rc, err := d.api.ImagePull(ctx, ref, client.ImagePullOptions{})
	if err != nil {
		if !isUnreachable(err) && (cerrdefs.IsNotFound(err) || isMissingImage(err.Error())) {
			return fmt.Errorf("pull image %s: %w: %w", ref, runtime.ErrImageNotFound, err)
		}
		return d.wrap(err, "pull image %s", ref)
	}
	defer rc.Close()
	dec := json.NewDecoder(rc)
	for {
		var msg streamMessage
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return d.wrap(err, "pull image %s: read progress", ref)
		}
		if text := messageError(msg); text != "" {
			if isMissingImage(text) {
				return fmt.Errorf("pull image %s: %w: %s", ref, runtime.ErrImageNotFound, text)
			}
			return fmt.Errorf("pull image %s: %s", ref, text)
		}
		if fn == nil {
			continue
		}
		ev := runtime.PullEvent{Image: ref, ID: msg.ID, Status: msg.Status}
		if msg.Progress != nil {
			ev.Current, ev.Total = msg.Progress.Current, msg.Progress.Total
		}
		fn(ev)
	}
}

// streamMessage is one message of a pull or build JSON stream. jsonstream.Message lacks the
// deprecated "error" field that daemons still send alongside "errorDetail".
type streamMessage struct {
	jsonstream.Message
	ErrorMessage string `json:"error,omitempty"`
}

// messageError returns the error text carried by a JSON stream message, if any.
func messageError(msg streamMessage) string {
	if msg.Error != nil && msg.Error.Message != "" {
		return msg.Error.Message
	}
	return msg.ErrorMessage
}

// BuildImage builds an image tagged tag, labelled with labels, from the in-memory build context
// files (path -> content, written mode 0755), which must include "Dockerfile". It uses the
// classic builder, which every API version supports and which needs no registry for
// "FROM scratch" images.
func (d *Docker) BuildImage(ctx context.Context, tag string, files map[string][]byte, labels map[string]string) error {
	if _, ok := files["Dockerfile"]; !ok {
		return fmt.Errorf("build image %s: the build context has no Dockerfile", tag)
	}
	buildContext, err := tarFiles(files)
	if err != nil {
		return fmt.Errorf("build image %s: %w", tag, err)
	}
	resp, err := d.api.ImageBuild(ctx, buildContext, client.ImageBuildOptions{
		Tags:        []string{tag},
		Dockerfile:  "Dockerfile",
		Remove:      true,
		ForceRemove: true,
		Labels:      labels,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return d.wrap(err, "build image %s", tag)
	}
	defer resp.Body.Close()

	// Keep the last lines of output to explain a failure.
	const keep = 20
	var lines []string
	dec := json.NewDecoder(resp.Body)
	for {
		var msg streamMessage
		if err := dec.Decode(&msg); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return d.wrap(err, "build image %s: read output", tag)
		}
		if text := messageError(msg); text != "" {
			if len(lines) > 0 {
				return fmt.Errorf("build image %s: %s\n%s", tag, text, strings.Join(lines, "\n"))
			}
			return fmt.Errorf("build image %s: %s", tag, text)
		}
		for _, l := range strings.Split(msg.Stream, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				lines = append(lines, l)
			}
		}
		if len(lines) > keep {
			lines = lines[len(lines)-keep:]
		}
	}
}

// tarFiles returns a tar archive of files, with the parent directories they need, all mode
// 0755 and with a fixed modification time so that identical contexts are identical archives.
func tarFiles(files map[string][]byte) (io.Reader, error) {
	mtime := time.Unix(0, 0)
	names := make([]string, 0, len(files))
	for name := range files {
		clean := path.Clean(name)
		if name == "" || path.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../") || clean != name {
			return nil, fmt.Errorf("invalid build context path %q", name)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	for _, name := range names {
		var parents []string
		for dir := path.Dir(name); dir != "." && !dirs[dir]; dir = path.Dir(dir) {
			parents = append(parents, dir)
			dirs[dir] = true
		}
		for i := len(parents) - 1; i >= 0; i-- {
			hdr := &tar.Header{Typeflag: tar.TypeDir, Name: parents[i] + "/", Mode: 0o755, ModTime: mtime}
			if err := tw.WriteHeader(hdr); err != nil {
				return nil, err
			}
		}
		data := files[name]
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(data)), ModTime: mtime}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return &buf, nil
}

// CopyFiles implements runtime.Runtime.
func (d *Docker) CopyFiles(ctx context.Context, id, dir string, files []runtime.FileEntry) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.Path, Mode: f.Mode, Uid: f.UID, Gid: f.GID, ModTime: time.Unix(0, 0)}
		switch {
		case f.Dir:
			h.Typeflag = tar.TypeDir
			if !strings.HasSuffix(h.Name, "/") {
				h.Name += "/"
			}
		case f.Link != "":
			h.Typeflag, h.Linkname = tar.TypeSymlink, f.Link
		default:
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return fmt.Errorf("copy files to %s: %w", id, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(f.Data); err != nil {
				return fmt.Errorf("copy files to %s: %w", id, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("copy files to %s: %w", id, err)
	}
	if _, err := d.api.CopyToContainer(ctx, id, client.CopyToContainerOptions{DestinationPath: dir, Content: &buf}); err != nil {
		return d.wrap(err, "copy files to %s:%s", short(id), dir)
	}
	return nil
}

// ReadLink implements runtime.Runtime with a stat of the path (HEAD /containers/ID/archive).
func (d *Docker) ReadLink(ctx context.Context, id, path string) (string, error) {
	res, err := d.api.ContainerStatPath(ctx, id, client.ContainerStatPathOptions{Path: path})
	if err != nil {
		return "", d.wrap(err, "stat %s:%s", short(id), path)
	}
	st := res.Stat
	if st.LinkTarget == "" {
		return "", fmt.Errorf("stat %s:%s: not a symbolic link: %w", short(id), path, runtime.ErrNotFound)
	}
	return st.LinkTarget, nil
}

// RemoveImage removes the image ref; an image a container still uses (a conflict) or one that
// is already gone is left alone without an error.
func (d *Docker) RemoveImage(ctx context.Context, ref string) error {
	if _, err := d.api.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true}); err != nil {
		if cerrdefs.IsConflict(err) || cerrdefs.IsNotFound(err) {
			return nil
		}
		return d.wrap(err, "remove image %s", ref)
	}
	return nil
}

// RemoveFiles implements runtime.Runtime: `rm -f -- PATH...` run as root in the container, since
// the Engine API has no call that deletes a file.
func (d *Docker) RemoveFiles(ctx context.Context, id string, paths []string) error {
	if len(paths) == 0 {
		return nil
	}
	for _, p := range paths {
		if !path.IsAbs(p) || path.Clean(p) != p || p == "/" {
			return fmt.Errorf("remove files in %s: %q is not a clean absolute path", short(id), p)
		}
	}
	out, code, err := d.execAs(ctx, id, "0:0", append([]string{"rm", "-f", "--"}, paths...))
	if err != nil {
		if noSuchCommand(err.Error()) {
			return fmt.Errorf("remove %s in container %s: %w", strings.Join(paths, " "), short(id), runtime.ErrNoRemove)
		}
		return err
	}
	if code != 0 {
		if code == 126 || code == 127 || noSuchCommand(out) {
			return fmt.Errorf("remove %s in container %s: %w", strings.Join(paths, " "), short(id), runtime.ErrNoRemove)
		}
		return fmt.Errorf("remove %s in container %s: rm exited with code %d: %s", strings.Join(paths, " "), short(id), code, strings.TrimSpace(out))
	}
	return nil
}

// noSuchCommand recognises the runtime's answer to an exec of a command the image lacks.
func noSuchCommand(s string) bool {
	return strings.Contains(s, "executable file not found") || (strings.Contains(s, "exec") && strings.Contains(s, "no such file or directory"))
}

// ListImages implements runtime.Runtime.
func (d *Docker) ListImages(ctx context.Context, repo string, labels map[string]string) ([]runtime.Image, error) {
	f := make(client.Filters).Add("reference", repo)
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f.Add("label", k+"="+labels[k])
	}
	list, err := d.api.ImageList(ctx, client.ImageListOptions{Filters: f})
	if err != nil {
		return nil, d.wrap(err, "list images %s", repo)
	}
	var out []runtime.Image
	for _, im := range list.Items {
		tags := make([]string, 0, len(im.RepoTags))
		for _, t := range im.RepoTags {
			// The reference filter also matches other registries' repositories of that name.
			if r, _, ok := strings.Cut(t, ":"); ok && r == repo {
				tags = append(tags, t)
			}
		}
		if len(tags) == 0 {
			continue
		}
		sort.Strings(tags)
		out = append(out, runtime.Image{ID: im.ID, Tags: tags, Labels: im.Labels})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tags[0] < out[j].Tags[0] })
	return out, nil
}
