// Package internal_test checks the layering docs/architecture.md states:
// which of shoal's packages may import which. It reads every package's
// imports with go/build for each platform shoal builds for, so that the go
// test cache notices any change to an import (go/build opens the files
// itself), and fails naming the package, the import and the rule it breaks.
package internal_test

import (
	"bufio"
	"errors"
	"fmt"
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rule is one line of the table in docs/architecture.md ("Import rules").
// Packages are named relative to the module ("internal/proxy"); a path whose
// first element has a dot is outside it ("go.yaml.in/yaml/v3").
type rule struct {
	what string   // the rule, as the failure states it
	from []string // the packages it binds; all for every package in the module
	// except lists packages of from that the rule does not bind.
	except []string
	// only, when not nil, lists all the packages (beyond the standard
	// library) that from may import directly.
	only []string
	// never lists packages that from must not depend on, directly or through
	// another package of the module; anyOfShoal stands for every one.
	// With from all, only direct imports count (each importer is checked).
	never []string
}

const (
	all        = "..."
	anyOfShoal = "..."
)

var rules = []rule{
	{
		what:  "internal/sched imports nothing of shoal's: it is a pure function of its arguments",
		from:  []string{"internal/sched"},
		never: []string{anyOfShoal},
	},
	{
		what: "internal/spec imports only the standard library, go.yaml.in/yaml/v3 and internal/secgroup",
		from: []string{"internal/spec"},
		only: []string{"go.yaml.in/yaml/v3", "internal/secgroup"},
	},
	{
		what:  "internal/proxy and internal/driver never import internal/agent, internal/sched, internal/cli, internal/admin or internal/store",
		from:  []string{"internal/proxy", "internal/driver"},
		never: []string{"internal/agent", "internal/sched", "internal/cli", "internal/admin", "internal/store"},
	},
	{
		what:  "internal/proxy, internal/driver and internal/agent do not import internal/spec: they take their configuration in types of their own, made by internal/compile",
		from:  []string{"internal/proxy", "internal/driver", "internal/agent"},
		never: []string{"internal/spec"},
	},
	{
		what:   "only _test.go files import internal/testkit and internal/clock/clocktest: they are not compiled into shoal",
		from:   []string{all},
		except: []string{"internal/testkit", "internal/clock/clocktest"},
		never:  []string{"internal/testkit", "internal/clock/clocktest"},
	},
	{
		what:  "internal/instance, internal/endpoint, internal/consistency and internal/netns import nothing of shoal's: leaves the others build on",
		from:  []string{"internal/instance", "internal/endpoint", "internal/consistency", "internal/netns"},
		never: []string{anyOfShoal},
	},
	{
		what: "cmd/shoal imports only internal/cli and internal/driver (and the standard library)",
		from: []string{"cmd/shoal"},
		only: []string{"internal/cli", "internal/driver"},
	},
	{
		what: "internal/autoscale imports only the standard library: its decisions are pure functions of their arguments",
		from: []string{"internal/autoscale"},
		only: []string{},
	},
	{
		what: "internal/routing imports only the standard library: the rule table is pure, compiled once and matched without I/O",
		from: []string{"internal/routing"},
		only: []string{},
	},
	{
		what: "internal/awsapi imports only internal/agent, internal/proxy, internal/routing, internal/compile, internal/spec and internal/driver: it acts through the agent and holds no state",
		from: []string{"internal/awsapi"},
		only: []string{"internal/agent", "internal/proxy", "internal/routing", "internal/compile", "internal/spec", "internal/driver"},
	},
	{
		what:  "internal/strategy imports nothing of shoal's: it is a pure function of its arguments",
		from:  []string{"internal/strategy"},
		never: []string{anyOfShoal},
	},
	{
		what:  "internal/secgroup imports nothing of shoal's: the security-group model is pure, shared by every enforcement of it",
		from:  []string{"internal/secgroup"},
		never: []string{anyOfShoal},
	},
	{
		what: "internal/fault imports only the standard library: the fault kinds, their checks and their table are pure, timed by the caller",
		from: []string{"internal/fault"},
		only: []string{},
	},
	{
		what:  "internal/export and its engines' packages never import what runs a stack (agent, proxy, driver, sched, store, admin, cli): an export is a pure function of the stack file",
		from:  []string{"internal/export", "internal/export/cloudformation", "internal/export/kubernetes", "internal/export/nomad"},
		never: []string{"internal/agent", "internal/proxy", "internal/driver", "internal/sched", "internal/store", "internal/admin", "internal/cli"},
	},
}

// platforms are those shoal is built for (see CROSS in the Makefile): a
// file for one of them only is checked too.
var platforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}

func TestLayering(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range checkTree(t, root, rules) {
		t.Error(v)
	}
}

// TestLayering_CatchesViolations runs the same check on a small module in
// testdata/layering that breaks every rule once (one of them on darwin
// only, one through a package in between) and keeps each rule's exceptions:
// the check finds what it should, and only that.
func TestLayering_CatchesViolations(t *testing.T) {
	got := checkTree(t, filepath.Join("testdata", "layering"), rules)
	want := []string{
		`cmd/shoal imports internal/agent (cmd/shoal/main.go:4)` + "\n\trule: " + rules[6].what,
		`internal/agent imports internal/testkit (internal/agent/agent.go:3)` + "\n\trule: " + rules[4].what,
		`internal/awsapi imports internal/store (internal/awsapi/awsapi.go:5)` + "\n\trule: " + rules[9].what,
		`internal/driver imports internal/store (internal/driver/driver_darwin.go:3) on darwin/amd64, darwin/arm64` + "\n\trule: " + rules[2].what,
		`internal/export imports internal/store (internal/export/export.go:3)` + "\n\trule: " + rules[13].what,
		`internal/proxy imports internal/agent through internal/metrics (internal/proxy/proxy.go:6)` + "\n\trule: " + rules[2].what,
		`internal/proxy imports internal/spec (internal/proxy/proxy.go:7)` + "\n\trule: " + rules[3].what,
		`internal/sched imports internal/clock (internal/sched/sched.go:4)` + "\n\trule: " + rules[0].what,
		`internal/secgroup imports internal/clock (internal/secgroup/secgroup.go:3)` + "\n\trule: " + rules[11].what,
		`internal/spec imports github.com/pkg/errors (internal/spec/spec.go:5)` + "\n\trule: " + rules[1].what,
		`internal/strategy imports internal/clock (internal/strategy/strategy.go:3)` + "\n\trule: " + rules[10].what,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("violations in testdata/layering (-want +got):\n%s", diff)
	}
}

// pkg is one package of the module: its non-test imports and where each is.
type pkg struct {
	imports []string          // import paths, sorted
	pos     map[string]string // import path → "dir/file.go:line", relative to the root
}

// checkTree loads the module at root for every platform and returns its
// violations of rules, sorted; one that holds on some platforms only says on
// which.
func checkTree(t *testing.T, root string, rules []rule) []string {
	t.Helper()
	module, err := modulePath(root)
	if err != nil {
		t.Fatal(err)
	}
	on := map[string][]string{} // violation → platforms
	for _, p := range platforms {
		pkgs, err := load(root, p)
		if err != nil {
			t.Fatal(err)
		}
		for _, problem := range checkRulesExist(module, pkgs, rules) {
			t.Errorf("%s: %s", p, problem)
		}
		for _, v := range check(module, pkgs, rules) {
			on[v] = append(on[v], p)
		}
	}
	var out []string
	for v, ps := range on {
		if len(ps) < len(platforms) {
			head, rest, _ := strings.Cut(v, "\n")
			v = head + " on " + strings.Join(ps, ", ") + "\n" + rest
		}
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// load reads the non-test imports of every package under root for one
// GOOS/GOARCH, skipping testdata, hidden folders and other modules. Packages
// are keyed by their path relative to root ("." for root itself).
func load(root, platform string) (map[string]*pkg, error) {
	ctxt := build.Default
	ctxt.GOOS, ctxt.GOARCH, _ = strings.Cut(platform, "/")
	ctxt.CgoEnabled = false
	pkgs := map[string]*pkg{}
	err := filepath.WalkDir(root, func(dir string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if dir != root {
			name := d.Name()
			if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return filepath.SkipDir // a module of its own
			}
		}
		bp, err := ctxt.ImportDir(dir, 0)
		if err != nil {
			var noGo *build.NoGoError
			if errors.As(err, &noGo) {
				return nil
			}
			return fmt.Errorf("%s: %w", dir, err)
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			return err
		}
		p := &pkg{imports: bp.Imports, pos: map[string]string{}}
		for imp, ps := range bp.ImportPos {
			if file, err := filepath.Rel(root, ps[0].Filename); err == nil {
				p.pos[imp] = fmt.Sprintf("%s:%d", filepath.ToSlash(file), ps[0].Line)
			}
		}
		pkgs[filepath.ToSlash(rel)] = p
		return nil
	})
	return pkgs, err
}

// check returns the violations of rules in pkgs, named relative to module.
func check(module string, pkgs map[string]*pkg, rules []rule) []string {
	rel := func(imp string) (string, bool) { // the package of the module imp names
		if imp == module {
			return ".", true
		}
		r, ok := strings.CutPrefix(imp, module+"/")
		return r, ok
	}
	var out []string
	report := func(r rule, from, imp, via, pos string) {
		if via != "" {
			via = " through " + via
		}
		out = append(out, fmt.Sprintf("%s imports %s%s (%s)\n\trule: %s", from, imp, via, pos, r.what))
	}
	for _, r := range rules {
		for _, from := range bound(r, pkgs) {
			p := pkgs[from]
			if r.only != nil {
				for _, imp := range p.imports {
					name, ours := rel(imp)
					if !ours {
						name = imp
					}
					if !slices.Contains(r.only, name) && (ours || !isStd(imp)) {
						report(r, from, name, "", p.pos[imp])
					}
				}
			}
			forbidden := func(name string) bool {
				return name != from && (slices.Contains(r.never, name) || slices.Contains(r.never, anyOfShoal))
			}
			// Breadth first through the module's packages, so that the
			// path reported is a shortest one.
			seen := map[string]bool{from: true}
			type step struct{ name, via, pos string }
			queue := []step{}
			for _, imp := range p.imports {
				if name, ours := rel(imp); ours && !seen[name] {
					seen[name] = true
					queue = append(queue, step{name, "", p.pos[imp]})
				}
			}
			for len(queue) > 0 {
				s := queue[0]
				queue = queue[1:]
				if forbidden(s.name) {
					report(r, from, s.name, s.via, s.pos)
					continue
				}
				next := pkgs[s.name]
				if next == nil || slices.Contains(r.from, all) {
					continue // outside the tree, or only direct imports count
				}
				via := s.name
				if s.via != "" {
					via = s.via + " → " + s.name
				}
				for _, imp := range next.imports {
					if name, ours := rel(imp); ours && !seen[name] {
						seen[name] = true
						queue = append(queue, step{name, via, s.pos})
					}
				}
			}
		}
	}
	return out
}

// bound returns the packages of pkgs that r binds, sorted.
func bound(r rule, pkgs map[string]*pkg) []string {
	var out []string
	for name := range pkgs {
		if (slices.Contains(r.from, all) || slices.Contains(r.from, name)) && !slices.Contains(r.except, name) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// checkRulesExist reports rules that name a package of the module that is
// not there (any more): such a rule would pass without checking anything.
func checkRulesExist(module string, pkgs map[string]*pkg, rules []rule) []string {
	var out []string
	for _, r := range rules {
		for _, names := range [][]string{r.from, r.except, r.only, r.never} {
			for _, name := range names {
				if name == all || !isStd(name) {
					continue // every package, or one outside the module
				}
				if pkgs[name] == nil {
					out = append(out, fmt.Sprintf("rule %q names %s/%s, which is not a package: update the rule", r.what, module, name))
				}
			}
		}
	}
	return out
}

// isStd reports whether an import path is of the standard library: its first
// element has no dot.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// moduleRoot is the folder of the go.mod above the working directory.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// modulePath reads the module line of root/go.mod.
func modulePath(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "module "); ok {
			return strings.Trim(strings.TrimSpace(m), `"`), nil
		}
	}
	return "", fmt.Errorf("%s/go.mod has no module line", root)
}
