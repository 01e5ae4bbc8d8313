package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

// AddTargetToFile appends a target to the spec file's targets list, editing the YAML document
// so that the user's comments and layout survive. A missing file is created.
func AddTargetToFile(path string, t Target) error {
	return editFile(path, func(root *yaml.Node) error {
		seq := targetsNode(root, true)
		for _, item := range seq.Content {
			if nameOf(item) == t.Name {
				return fmt.Errorf("%w: a target named %q already exists in %s", ErrInvalid, t.Name, path)
			}
		}
		item := &yaml.Node{Kind: yaml.MappingNode}
		add := func(k, v string) {
			if v != "" {
				item.Content = append(item.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode, Value: v, Style: quoteStyle(seq, k)})
			}
		}
		add("name", t.Name)
		add("engine", t.Engine)
		add("url", t.URL)
		add("metrics_path", t.MetricsPath)
		if t.ScrapeInterval != 0 {
			add("scrape_interval", t.ScrapeInterval.String())
		}
		if len(t.Labels) > 0 {
			m := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
			for _, k := range sortedKeys(t.Labels) {
				m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode, Value: t.Labels[k]})
			}
			item.Content = append(item.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "labels"}, m)
		}
		if t.Metrics != nil {
			m := &yaml.Node{}
			if err := m.Encode(t.Metrics); err != nil {
				return err
			}
			for i := 1; i < len(m.Content); i += 2 {
				m.Content[i].Style = yaml.FlowStyle // one role a line
			}
			item.Content = append(item.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "metrics"}, m)
		}
		if len(seq.Content) > 0 && seq.Content[0].Style == yaml.FlowStyle {
			item.Style = yaml.FlowStyle
		}
		seq.Content = append(seq.Content, item)
		if seq.Style == yaml.FlowStyle && len(seq.Content) > 1 {
			seq.Style = 0
		}
		return nil
	})
}

// quoteStyle is how the user quotes key's value in the targets already there (double or single
// quotes), so that a new target's values look like its neighbours'; 0 (plain, quoted only where
// YAML needs it) when they do not quote it.
func quoteStyle(seq *yaml.Node, key string) yaml.Style {
	for _, item := range seq.Content {
		if item.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(item.Content); i += 2 {
			if item.Content[i].Value == key {
				return item.Content[i+1].Style & (yaml.DoubleQuotedStyle | yaml.SingleQuotedStyle)
			}
		}
	}
	return 0
}

// RemoveTargetFromFile removes the target named name from the spec file's targets list.
func RemoveTargetFromFile(path, name string) error {
	return editFile(path, func(root *yaml.Node) error {
		seq := targetsNode(root, false)
		if seq != nil {
			for i, item := range seq.Content {
				if nameOf(item) == name {
					seq.Content = append(seq.Content[:i], seq.Content[i+1:]...)
					return nil
				}
			}
		}
		return fmt.Errorf("%w: no target named %q in %s", ErrInvalid, name, path)
	})
}

func nameOf(item *yaml.Node) string {
	if item.Kind != yaml.MappingNode {
		return ""
	}
	for i := 0; i+1 < len(item.Content); i += 2 {
		if item.Content[i].Value == "name" {
			return item.Content[i+1].Value
		}
	}
	return ""
}

// targetsNode returns the targets sequence of the document, creating it when create is set.
func targetsNode(root *yaml.Node, create bool) *yaml.Node {
	doc := root.Content[0]
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "targets" {
			v := doc.Content[i+1]
			if v.Kind != yaml.SequenceNode {
				// "targets:" with nothing after it, or "targets: []".
				*v = yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			}
			return v
		}
	}
	if !create {
		return nil
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "targets"}, seq)
	return seq
}

func editFile(path string, edit func(root *yaml.Node) error) error {
	data, err := os.ReadFile(path)
	mode := fs.FileMode(0o644)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		data = []byte("# llmmon spec, created by llmmon add-target. See `llmmon schema` for every field.\n{}\n")
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	default:
		if st, err := os.Stat(path); err == nil {
			mode = st.Mode().Perm()
		}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	if root.Kind == 0 || len(root.Content) == 0 {
		root = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if root.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("%w: %s is not a YAML mapping", ErrInvalid, path)
	}
	if root.Content[0].Style == yaml.FlowStyle {
		root.Content[0].Style = 0
	}
	if err := edit(&root); err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return err
	}
	enc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".llmmon-spec-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return err
	}
	tmp.Chmod(mode)
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
