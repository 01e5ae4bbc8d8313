package fake

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/llmmon/llmmon/stack/runtime"
)

func TestRemoveFilesDeletesCopiedFiles(t *testing.T) {
	ctx := context.Background()
	r := New()
	r.AddImage("img:grafana")
	id, err := r.CreateContainer(ctx, spec("grafana"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CopyFiles(ctx, id, "/", []runtime.FileEntry{{Path: "etc/a.json"}, {Path: "etc/b.json"}}); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveFiles(ctx, id, []string{"/etc/a.json"}); err == nil {
		t.Error("removed files in a container that is not running")
	}
	if err := r.StartContainer(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveFiles(ctx, id, []string{"/etc/a.json", "/etc/absent.json"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Copied(id)["/etc/a.json"]; ok {
		t.Error("a.json still there")
	}
	if _, ok := r.Copied(id)["/etc/b.json"]; !ok {
		t.Error("b.json removed")
	}
	r.Fail(MethodRemoveFiles, fmt.Errorf("remove: %w", runtime.ErrNoRemove))
	if err := r.RemoveFiles(ctx, id, []string{"/etc/b.json"}); !errors.Is(err, runtime.ErrNoRemove) {
		t.Errorf("injected failure: %v", err)
	}
	if got := r.Actions()[len(r.Actions())-1]; got != "remove files grafana /etc/b.json" {
		t.Errorf("last action %q", got)
	}
}

func TestListImagesByRepositoryAndLabel(t *testing.T) {
	ctx := context.Background()
	r := New()
	r.AddLabeledImage("llmmon-relay:old", map[string]string{"io.llmmon.managed": "true"})
	if err := r.BuildImage(ctx, "llmmon-relay:new", map[string][]byte{"Dockerfile": nil}, map[string]string{"io.llmmon.managed": "true"}); err != nil {
		t.Fatal(err)
	}
	r.AddImage("llmmon-relay:unlabelled", "other:old")
	list, err := r.ListImages(ctx, "llmmon-relay", map[string]string{"io.llmmon.managed": "true"})
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, im := range list {
		tags = append(tags, im.Tags...)
	}
	if !reflect.DeepEqual(tags, []string{"llmmon-relay:new", "llmmon-relay:old"}) {
		t.Errorf("listed %v", tags)
	}
	if err := r.RemoveImage(ctx, "llmmon-relay:old"); err != nil {
		t.Fatal(err)
	}
	if list, _ := r.ListImages(ctx, "llmmon-relay", map[string]string{"io.llmmon.managed": "true"}); len(list) != 1 {
		t.Errorf("after remove: %v", list)
	}
}
