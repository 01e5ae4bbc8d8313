package stack_test

import (
	"testing"

	"github.com/llmmon/llmmon/stack"
	"github.com/llmmon/llmmon/stack/render"
	"github.com/llmmon/llmmon/stack/runtime"
)

// want builds a desired component for plan tests.
func want(name, image, hash, files string, reload bool) stack.Desired {
	c := render.Component{Name: name, Image: image, Addr: "127.0.0.1:9090", ConfigPath: "/etc/" + name}
	if reload {
		c.Reload = []string{"/-/reload"}
	}
	if name == "relay" {
		c.BuiltLocally = true
	}
	d := stack.Desired{Component: c, ConfigHash: hash, FilesHash: files,
		Spec: runtime.ContainerSpec{Image: image, Labels: map[string]string{runtime.LabelListen: c.Addr}}}
	if files != "" {
		d.Files = []runtime.FileEntry{{Path: "x.yml", Data: []byte("x")}}
	}
	return d
}

// have builds an observed container for plan tests.
func have(id, comp, image, hash, files, state string) stack.ObservedContainer {
	return stack.ObservedContainer{Files: files, Container: runtime.Container{
		ID: id, Image: image, State: state, Running: state == "running",
		Labels: map[string]string{runtime.LabelComponent: comp, runtime.LabelConfigHash: hash, runtime.LabelListen: "127.0.0.1:9090"},
	}}
}

func TestPlan(t *testing.T) {
	prom := want("prometheus", "prom:3", "h1", "f1", true)
	graf := want("grafana", "graf:12", "g1", "gf1", true)
	node := want("node-exporter", "node:1", "n1", "", false)
	noReload := want("dcgm-exporter", "dcgm:4", "d1", "df1", false)
	relay := want("relay", "llmmon-relay:abc", "r1", "rf1", true)
	present := map[string]bool{"prom:3": true, "graf:12": true, "node:1": true, "dcgm:4": true}
	moved := prom
	moved.Spec.Labels = map[string]string{runtime.LabelListen: "127.0.0.1:9091"}
	cases := []struct {
		name   string
		want   []stack.Desired
		have   []stack.ObservedContainer
		images map[string]bool
		plan   string
	}{
		{"nothing there", []stack.Desired{prom, node}, nil, present,
			"create prometheus: it does not exist\ncreate node-exporter: it does not exist\n"},
		{"images missing: pull, build", []stack.Desired{prom, relay}, nil, map[string]bool{},
			"build llmmon-relay:abc: llmmon builds it from its own binary\npull prom:3: not present locally\ncreate prometheus: it does not exist\ncreate relay: it does not exist\n"},
		{"all as wanted", []stack.Desired{prom, node},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h1", "f1", "running"), have("b", "node-exporter", "node:1", "n1", "", "running")}, present,
			"nothing to do\n"},
		{"created, never started: recreate, never start", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h1", "", "created")}, present,
			"recreate prometheus: created but never started (an earlier run was interrupted)\n"},
		{"created with the right files still recreated", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h1", "f1", "created")}, present,
			"recreate prometheus: created but never started (an earlier run was interrupted)\n"},
		{"files changed: copy and reload", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h1", "f0", "running")}, present,
			"reload prometheus: its files changed\n"},
		{"no marker: files never completely copied", []stack.Desired{graf},
			[]stack.ObservedContainer{have("a", "grafana", "graf:12", "g1", "", "running")}, present,
			"reload grafana: its files were never completely copied\n"},
		{"files changed, no reload: recreate", []stack.Desired{noReload},
			[]stack.ObservedContainer{have("a", "dcgm-exporter", "dcgm:4", "d1", "x", "running")}, present,
			"recreate dcgm-exporter: its files changed and it cannot reload them\n"},
		{"stopped with stale files: copy, then start", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h1", "f0", "exited")}, present,
			"reload prometheus: its files changed\n"},
		{"stopped as wanted: start", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h1", "f1", "exited")}, present,
			"start prometheus: it is exited (exit code 0)\n"},
		{"crash-looping as wanted: left to its restart policy", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h1", "f1", "restarting")}, present,
			"nothing to do\n"},
		{"image change", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:2", "h0", "f1", "running")}, present,
			"recreate prometheus: image prom:2 → prom:3\n"},
		{"port change", []stack.Desired{moved},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h0", "f1", "running")}, present,
			"recreate prometheus: address 127.0.0.1:9090 → 127.0.0.1:9091\n"},
		{"flags change", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h0", "f1", "running")}, present,
			"recreate prometheus: its settings changed\n"},
		{"image change with the image missing: pull first", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:2", "h0", "f1", "running")}, map[string]bool{},
			"pull prom:3: not present locally\nrecreate prometheus: image prom:2 → prom:3\n"},
		{"duplicates: keep the running one that is as wanted", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h0", "f1", "running"), have("b", "prometheus", "prom:3", "h1", "f1", "running"), have("c", "prometheus", "prom:3", "h1", "f1", "created")}, present,
			"remove prometheus: a duplicate left by an interrupted run\nremove prometheus: a duplicate left by an interrupted run\n"},
		{"a component no longer in the spec", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h1", "f1", "running"), have("r", "relay", "llmmon-relay:old", "r0", "x", "running")}, present,
			"remove relay: no longer in the spec\n"},
		{"missing image of a container that stays is not pulled", []stack.Desired{prom},
			[]stack.ObservedContainer{have("a", "prometheus", "prom:3", "h1", "f0", "running")}, map[string]bool{},
			"reload prometheus: its files changed\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := stack.Plan(tc.want, stack.Observed{Containers: tc.have, Images: tc.images}).String()
			if got != tc.plan {
				t.Errorf("plan:\n%s\nwant:\n%s", got, tc.plan)
			}
		})
	}
}
