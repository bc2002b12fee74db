package routing

import (
	"errors"
	"slices"
)

// Table is a compiled listener: rules sorted by priority, patterns
// compiled. It is immutable, and safe for any number of goroutines.
type Table struct {
	rules []rule
	def   Action
	// transforms is whether any rule has transforms.
	transforms bool
}

// rule is a compiled Rule; src is the Rule it was compiled from.
type rule struct {
	priority int
	conds    []cond
	action   Action
	// transforms are the rule's, compiled; nil when it has none.
	transforms []CompiledTransform
	src        Rule
}

// Compile checks l as ALB would and compiles it. The error lists
// everything ALB would refuse, each an *Error naming the rule (by
// priority) or the default action, and the field. The Table keeps a copy
// of l: changing l afterwards does not change it.
func Compile(l Listener) (*Table, error) {
	c := compiler{scheme: l.Scheme}
	t := &Table{def: c.action(-1, 0, l.Default)}
	seen := map[int]int{} // priority → index of the first rule with it
	for i, r := range l.Rules {
		c.priority(i, r.Priority, seen)
		cr := rule{priority: r.Priority, conds: c.conditions(i, r), action: c.action(i, r.Priority, r.Action),
			transforms: c.transforms(i, r)}
		t.transforms = t.transforms || len(cr.transforms) > 0
		cr.src = cloneRule(r)
		cr.src.Action = cr.action
		t.rules = append(t.rules, cr)
	}
	if len(c.errs) > 0 {
		return nil, errors.Join(c.errs...)
	}
	slices.SortFunc(t.rules, func(a, b rule) int { return a.priority - b.priority })
	return t, nil
}

// Match returns the action for r and the priority of the rule that chose
// it: the first rule, lowest priority first, whose conditions all match,
// or the default action with priority 0. The action belongs to the Table:
// do not change it. Match does not allocate, unless a path pattern meets a
// path with percent escapes or dot segments.
func (t *Table) Match(r *Request) (*Action, int) {
	if len(t.rules) == 0 || r == nil {
		return &t.def, 0
	}
	v := view{r: r}
	for i := range t.rules {
		if t.rules[i].matches(&v) {
			return &t.rules[i].action, t.rules[i].priority
		}
	}
	return &t.def, 0
}

// Transforms returns the compiled transforms of the rule of that priority
// (as Match returns it), for Rewrite; nil for the default action (0), a rule
// without transforms, or a table with none. It does not allocate. The
// transforms belong to the Table: do not change them.
func (t *Table) Transforms(priority int) []CompiledTransform {
	if !t.transforms || priority == 0 {
		return nil
	}
	i, found := slices.BinarySearchFunc(t.rules, priority, func(r rule, p int) int { return r.priority - p })
	if !found {
		return nil
	}
	return t.rules[i].transforms
}

func (r *rule) matches(v *view) bool {
	for i := range r.conds {
		if !r.conds[i].matches(v) {
			return false
		}
	}
	return true
}

// Explanation is why a request goes where it goes.
type Explanation struct {
	// Steps are the rules evaluated, in order: every rule up to the one
	// that matched, or all of them when the default action was taken.
	Steps []Step
	// Matched is the priority of the rule that matched, 0 for the default
	// action.
	Matched int
	Action  Action
}

// Step is one rule evaluated.
type Step struct {
	Priority int
	Matched  bool
	// Conditions are all the rule's conditions, each evaluated (Match
	// stops at the first that fails).
	Conditions []ConditionResult
}

// ConditionResult is one condition evaluated.
type ConditionResult struct {
	Field   Field
	Matched bool
	// Why says what was compared with what: "path /api/x does not match
	// /admin*".
	Why string
}

// Explain evaluates r as Match does, and says why each rule it evaluated
// matched or not.
func (t *Table) Explain(r *Request) Explanation {
	if r == nil {
		r = &Request{}
	}
	v := view{r: r}
	var e Explanation
	for i := range t.rules {
		cr := &t.rules[i]
		s := Step{Priority: cr.priority, Matched: true}
		for j := range cr.conds {
			res := cr.conds[j].explain(&v)
			s.Matched = s.Matched && res.Matched
			s.Conditions = append(s.Conditions, res)
		}
		e.Steps = append(e.Steps, s)
		if s.Matched {
			e.Matched, e.Action = cr.priority, cloneAction(cr.action)
			return e
		}
	}
	e.Action = cloneAction(t.def)
	return e
}

// Rules returns the rules in evaluation order (a copy).
func (t *Table) Rules() []Rule {
	out := make([]Rule, len(t.rules))
	for i := range t.rules {
		out[i] = cloneRule(t.rules[i].src)
	}
	return out
}

// Default returns the default action (a copy).
func (t *Table) Default() Action { return cloneAction(t.def) }

func cloneRule(r Rule) Rule {
	r.Conditions = slices.Clone(r.Conditions)
	for i, c := range r.Conditions {
		r.Conditions[i].Values = slices.Clone(c.Values)
		r.Conditions[i].Query = slices.Clone(c.Query)
		r.Conditions[i].CIDRs = slices.Clone(c.CIDRs)
	}
	r.Action = cloneAction(r.Action)
	r.Transforms = slices.Clone(r.Transforms)
	return r
}

func cloneAction(a Action) Action {
	if a.Forward != nil {
		f := *a.Forward
		f.Groups = slices.Clone(f.Groups)
		a.Forward = &f
	}
	if a.Redirect != nil {
		rd := *a.Redirect
		a.Redirect = &rd
	}
	if a.Fixed != nil {
		fx := *a.Fixed
		a.Fixed = &fx
	}
	return a
}
