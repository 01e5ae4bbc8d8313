package docker

import (
	"context"
	"errors"
	"fmt"
	"sort"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/llmmon/llmmon/stack/runtime"
)

// checkOwned returns an error unless an existing object's labels show that llmmon created it
// for the project in want (any project when want is empty).
func checkOwned(kind, name string, have map[string]string, want string) error {
	got, ok := have[runtime.LabelProject]
	if !ok || got == "" {
		return fmt.Errorf("%s %q exists but was not created by llmmon (it has no %s label); "+
			"llmmon will not use or remove it: remove or rename it, or choose another stack name",
			kind, name, runtime.LabelProject)
	}
	if want != "" && got != want {
		return fmt.Errorf("%s %q belongs to llmmon stack %q, not %q", kind, name, got, want)
	}
	return nil
}

// RemoveNetworks removes every network carrying LabelProject=project.
func (d *Docker) RemoveNetworks(ctx context.Context, project string) error {
	list, err := d.api.NetworkList(ctx, client.NetworkListOptions{Filters: projectFilter(project)})
	if err != nil {
		return d.wrap(err, "list networks of project %s", project)
	}
	var errs []error
	for _, n := range list.Items {
		if n.Labels[runtime.LabelProject] != project {
			continue // the filter already guarantees this; never remove anything else
		}
		if _, err := d.api.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil && !cerrdefs.IsNotFound(err) {
			errs = append(errs, d.wrap(err, "remove network %s", n.Name))
		}
	}
	return errors.Join(errs...)
}

// EnsureVolume creates the named volume with labels when it does not exist. labels must carry
// LabelProject. A volume of that name that llmmon did not create for this project is an error
// and is never adopted.
func (d *Docker) EnsureVolume(ctx context.Context, name string, labels map[string]string) error {
	if err := requireProject("volume", name, labels); err != nil {
		return err
	}
	project := labels[runtime.LabelProject]
	ins, err := d.api.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	switch {
	case err == nil:
		return checkOwned("volume", name, ins.Volume.Labels, project)
	case !cerrdefs.IsNotFound(err):
		return d.wrap(err, "inspect volume %s", name)
	}
	created, err := d.api.VolumeCreate(ctx, client.VolumeCreateOptions{Name: name, Driver: "local", Labels: labels})
	if err != nil {
		return d.wrap(err, "create volume %s", name)
	}
	// Creating an existing volume returns it unchanged: someone may have made it meanwhile.
	return checkOwned("volume", name, created.Volume.Labels, project)
}

// InspectVolume implements runtime.Runtime.
func (d *Docker) InspectVolume(ctx context.Context, name string) (runtime.Volume, error) {
	ins, err := d.api.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return runtime.Volume{}, d.wrap(err, "inspect volume %s", name)
	}
	return runtime.Volume{Name: ins.Volume.Name, Labels: ins.Volume.Labels}, nil
}

// ListVolumes returns the volumes carrying LabelProject=project, sorted by name.
func (d *Docker) ListVolumes(ctx context.Context, project string) ([]runtime.Volume, error) {
	resp, err := d.api.VolumeList(ctx, client.VolumeListOptions{Filters: projectFilter(project)})
	if err != nil {
		return nil, d.wrap(err, "list volumes of project %s", project)
	}
	out := make([]runtime.Volume, 0, len(resp.Items))
	for _, v := range resp.Items {
		if v.Labels[runtime.LabelProject] != project {
			continue
		}
		out = append(out, runtime.Volume{Name: v.Name, Labels: v.Labels})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// RemoveVolume removes the named volume. It refuses a volume without LabelProject, and reports
// a missing one as runtime.ErrNotFound.
func (d *Docker) RemoveVolume(ctx context.Context, name string) error {
	ins, err := d.api.VolumeInspect(ctx, name, client.VolumeInspectOptions{})
	if err != nil {
		return d.wrap(err, "inspect volume %s", name)
	}
	if err := checkOwned("volume", name, ins.Volume.Labels, ""); err != nil {
		return err
	}
	if _, err := d.api.VolumeRemove(ctx, name, client.VolumeRemoveOptions{Force: false}); err != nil {
		return d.wrap(err, "remove volume %s", name)
	}
	return nil
}
