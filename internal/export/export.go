// Package export turns a stack into what a distributed engine takes:
// Kubernetes manifests, an AWS CloudFormation template, a Nomad job. Each
// engine has a package of its own under this one; this package holds what
// they share: the document they return, and how they word what does not
// carry over.
//
// Exporters are pure functions of a validated stack (spec.Parse sets the
// defaults): the same stack gives the same bytes, so that the output can be
// committed and diffed. They never read files or the network.
package export

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/shoalhq/shoal/internal/spec"
)

// Document is an exporter's output: one file, and what did not carry over.
type Document struct {
	// Name is the file name to write under -o DIR, like
	// "catalog.kubernetes.yaml".
	Name string
	// Data is the file's content. Where the format has comments, the
	// warnings are in it too, at the top.
	Data []byte
	// Warnings lists every setting that does not carry over or changes
	// meaning on the engine, each at the stack file's line that sets it.
	Warnings spec.ErrorList
	// More are further files that go with this one when the engine
	// cannot take the stack as one (Nomad runs daemons as a job of their
	// own), each with its own Name and Data; they hold the same warnings.
	More []*Document
}

// Options are the choices an export leaves to the user.
type Options struct {
	// IngressClass is the Kubernetes Ingress class. "alb" writes the AWS
	// Load Balancer Controller's annotations for what ALB alone does
	// (health checks, weighted forwards, fixed responses). Default: none,
	// and those settings are warnings.
	IngressClass string
}

// Warnings collects an exporter's warnings, one per setting and message.
type Warnings struct {
	stack *spec.Stack
	list  spec.ErrorList
	seen  map[string]bool
}

// NewWarnings starts an empty list for stack s.
func NewWarnings(s *spec.Stack) *Warnings {
	return &Warnings{stack: s, seen: map[string]bool{}}
}

// Add records that the field at path (as spec.Stack.ErrorAt takes it, like
// "task_definitions.api.working_dir") does not carry over as written, and
// why. The same path and message twice count once.
func (w *Warnings) Add(path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if key := path + "\x00" + msg; !w.seen[key] {
		w.seen[key] = true
		w.list = append(w.list, w.stack.ErrorAt(path, msg))
	}
}

// List returns the warnings in file order (line, then column, then path),
// so that the output does not depend on the order the exporter went in.
func (w *Warnings) List() spec.ErrorList {
	out := append(spec.ErrorList(nil), w.list...)
	slices.SortStableFunc(out, func(a, b *spec.Error) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), strings.Compare(a.Path, b.Path))
	})
	return out
}

// Comment renders warnings as a comment block for formats that have line
// comments (YAML's "#"), one warning per line, each as file:line:column:
// path: message with the file as the stack was loaded. No warnings give "".
func Comment(prefix string, ws spec.ErrorList) string {
	if len(ws) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s shoal export: %d setting(s) do not carry over exactly:\n", prefix, len(ws))
	for _, w := range ws {
		fmt.Fprintf(&b, "%s   %s\n", prefix, strings.ReplaceAll(w.Error(), "\n", " "))
	}
	return b.String()
}
