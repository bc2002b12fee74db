package spec

import (
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder walks a yaml.Node tree into the stack types by reflection. It
// does not use yaml's own Decode, which stops at the first error and speaks
// of Go types: it keeps going, collects one error per problem in the
// user's words, and records where every field was written.
type decoder struct {
	file string
	src  *source
	errs ErrorList
}

// errorAt reports a problem at node n.
func (d *decoder) errorAt(n *yaml.Node, path, format string, args ...any) {
	d.errs = append(d.errs, &Error{
		File: d.file, Line: n.Line, Column: n.Column, Path: path,
		Msg: fmt.Sprintf(format, args...),
	})
}

// fail reports that the value at path could not be decoded. The value
// keeps its default, and validation will not complain about it again.
func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.src.failed[path] = true
	d.errorAt(n, path, format, args...)
}

// value decodes n into v, which already holds its defaults.
func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode {
		// Resolving aliases would let a small file expand into a huge
		// one; a stack file is short enough to write out.
		d.fail(n, path, "aliases are not supported: write the value of *%s out in full", n.Value)
		return
	}
	if isNull(n) {
		return
	}
	if d.special(n, v, path) {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(newValue(v.Type()))
		}
		d.value(n, v.Elem(), path)
	case reflect.Struct:
		d.structure(n, v, path)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Slice:
		d.sequence(n, v, path)
	default:
		d.scalar(n, v, path)
	}
}

// special decodes the types with their own YAML forms, and reports whether
// v was one of them.
func (d *decoder) special(n *yaml.Node, v reflect.Value, path string) bool {
	switch p := v.Addr().Interface().(type) {
	case *Duration:
		d.duration(n, p, path)
	case *Matcher:
		d.matcher(n, p, path)
	case *Command:
		d.command(n, p, path)
	case *Build:
		d.build(n, p, path)
	default:
		return false
	}
	return true
}

// newValue returns a new value of type t (a map or list element) with its
// defaults set.
func newValue(t reflect.Type) reflect.Value {
	v := reflect.New(t).Elem()
	if t.Kind() == reflect.Pointer {
		v.Set(reflect.New(t.Elem()))
		if def, ok := v.Interface().(defaulter); ok {
			def.setDefaults()
		}
	} else if def, ok := v.Addr().Interface().(defaulter); ok {
		def.setDefaults() // an element held by value, like a target tracking policy
	}
	return v
}

// structure decodes a mapping into a struct, field by field.
func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	names, index := fieldsOf(v.Type())
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping with fields %s, got %s", strings.Join(names, ", "), describe(n))
		return
	}
	written := make(map[string]bool)
	for i := 0; i < len(n.Content); i += 2 {
		written[n.Content[i].Value] = true
	}
	d.entries(n, path, func(key, val *yaml.Node, p string) {
		i, ok := index[key.Value]
		if !ok {
			d.unknownField(key, p, names)
			// The value was most likely meant for the field the hint
			// names: when that field is not written too, validation stays
			// quiet about it ("command is required"), so that one typo
			// gives one error.
			if field, ok := suggestion(key.Value, names); ok && !written[field] {
				d.src.failed[joinPath(path, field)] = true
			}
			return
		}
		d.value(val, v.Field(i), p)
	})
}

// fieldsOf lists the YAML names of the fields of struct type t, in the
// order of the documentation, and maps each to its field index.
func fieldsOf(t reflect.Type) ([]string, map[string]int) {
	var names []string
	index := make(map[string]int)
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !t.Field(i).IsExported() {
			continue
		}
		names = append(names, name)
		index[name] = i
	}
	return names, index
}

func (d *decoder) unknownField(key *yaml.Node, path string, names []string) {
	if c, ok := synonym(key.Value, names); ok {
		d.errorAt(key, path, "unknown field %q (shoal calls it %q)", key.Value, c)
		return
	}
	if c, ok := closest(key.Value, names); ok {
		d.errorAt(key, path, "unknown field %q (did you mean %q?)", key.Value, c)
		return
	}
	d.errorAt(key, path, "unknown field %q: the fields here are %s", key.Value, strings.Join(names, ", "))
}

// mapping decodes a mapping of names into a Go map.
func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "expected a mapping of names to values, got %s", describe(n))
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	d.entries(n, path, func(key, val *yaml.Node, p string) {
		e := newValue(v.Type().Elem())
		d.value(val, e, p)
		v.SetMapIndex(reflect.ValueOf(key.Value).Convert(v.Type().Key()), e)
	})
}

// entries calls fn for each key and value of mapping n, with the key's
// path, after checking that the key is a plain name and is not repeated,
// and recording where it was written.
func (d *decoder) entries(n *yaml.Node, path string, fn func(key, val *yaml.Node, path string)) {
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i], n.Content[i+1]
		if key.Kind != yaml.ScalarNode || isNull(key) {
			d.errorAt(key, path, "expected a name as key, got %s", describe(key))
			continue
		}
		p := joinPath(path, key.Value)
		if line, dup := seen[key.Value]; dup {
			d.errorAt(key, p, "%q is already defined on line %d: keep only one", key.Value, line)
			continue
		}
		seen[key.Value] = key.Line
		d.src.pos[p] = position{key.Line, key.Column}
		fn(key, val, p)
	}
}

// sequence decodes a list into a slice.
func (d *decoder) sequence(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.MappingNode {
		d.fail(n, path, "expected a list, got a mapping: start each item with \"- \"")
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, path, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, item := range n.Content {
		p := indexPath(path, i)
		d.src.pos[p] = position{item.Line, item.Column}
		e := newValue(v.Type().Elem())
		d.value(item, e, p)
		s.Index(i).Set(e)
	}
	v.Set(s)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names what a node is, for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.DocumentNode:
		return "a document"
	}
	if isNull(n) {
		return "nothing"
	}
	return fmt.Sprintf("%q", n.Value)
}
