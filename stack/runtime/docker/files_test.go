package docker

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"

	"github.com/llmmon/llmmon/stack/runtime"
)

// execAPI answers one exec with out and code, recording the options it was created with.
func execAPI(out string, code int, opts *client.ExecCreateOptions) *fakeAPI {
	return &fakeAPI{
		execCreate: func(_ string, o client.ExecCreateOptions) (client.ExecCreateResult, error) {
			*opts = o
			return client.ExecCreateResult{ID: "e1"}, nil
		},
		execAttach:  func(string) (client.HijackedResponse, error) { return hijacked(multiplexed("", out)), nil },
		execInspect: func(string) (client.ExecInspectResult, error) { return client.ExecInspectResult{ExitCode: code}, nil },
	}
}

func TestRemoveFiles(t *testing.T) {
	ctx := context.Background()
	var o client.ExecCreateOptions
	d := NewWithClient(execAPI("", 0, &o))
	d.execPoll = time.Millisecond
	if err := d.RemoveFiles(ctx, "c1", []string{"/etc/grafana/dashboards/imported/a.json", "/etc/b"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"rm", "-f", "--", "/etc/grafana/dashboards/imported/a.json", "/etc/b"}; !reflect.DeepEqual(o.Cmd, want) || o.User != "0:0" {
		t.Errorf("exec %q as %q", o.Cmd, o.User)
	}
	for _, bad := range []string{"etc/a", "/etc/../a", "/", "/etc/a/"} {
		if err := d.RemoveFiles(ctx, "c1", []string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// No rm in the image: the runtime's answer, as an exit code or as the exec's output.
	for _, tc := range []struct {
		out  string
		code int
	}{
		{`OCI runtime exec failed: exec failed: unable to start container process: exec: "rm": executable file not found in $PATH: unknown`, 126},
		{"", 127},
	} {
		d := NewWithClient(execAPI(tc.out, tc.code, &o))
		if err := d.RemoveFiles(ctx, "c1", []string{"/a"}); !errors.Is(err, runtime.ErrNoRemove) {
			t.Errorf("%d %q: %v", tc.code, tc.out, err)
		}
	}
	d = NewWithClient(execAPI("rm: can't remove '/a': Read-only file system", 1, &o))
	if err := d.RemoveFiles(ctx, "c1", []string{"/a"}); err == nil || errors.Is(err, runtime.ErrNoRemove) || !strings.Contains(err.Error(), "Read-only file system") {
		t.Errorf("rm failing: %v", err)
	}
	if err := NewWithClient(&fakeAPI{}).RemoveFiles(ctx, "c1", nil); err != nil {
		t.Errorf("nothing to remove: %v", err)
	}
}

func TestListImages(t *testing.T) {
	var got client.ImageListOptions
	api := &fakeAPI{imageList: func(o client.ImageListOptions) ([]image.Summary, error) {
		got = o
		return []image.Summary{
			{ID: "sha256:2", RepoTags: []string{"llmmon-relay:bbb"}, Labels: map[string]string{"io.llmmon.managed": "true"}},
			{ID: "sha256:1", RepoTags: []string{"example.com/llmmon-relay:x", "llmmon-relay:aaa"}, Labels: map[string]string{"io.llmmon.managed": "true"}},
			{ID: "sha256:3", RepoTags: []string{"example.com/llmmon-relay:y"}}, // another registry's repository
		}, nil
	}}
	list, err := NewWithClient(api).ListImages(context.Background(), "llmmon-relay", map[string]string{"io.llmmon.managed": "true", "io.llmmon.component": "relay"})
	if err != nil {
		t.Fatal(err)
	}
	want := client.Filters{
		"reference": {"llmmon-relay": true},
		"label":     {"io.llmmon.component=relay": true, "io.llmmon.managed=true": true},
	}
	if !reflect.DeepEqual(got.Filters, want) {
		t.Errorf("filters %v", got.Filters)
	}
	if len(list) != 2 || list[0].ID != "sha256:1" || !reflect.DeepEqual(list[0].Tags, []string{"llmmon-relay:aaa"}) || list[1].Tags[0] != "llmmon-relay:bbb" {
		t.Errorf("listed %+v", list)
	}
}
