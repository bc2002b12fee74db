package routing

import "fmt"

// Error is one thing in a Listener that ALB would refuse. Compile returns
// all of them at once, joined (errors.Join); errors.As finds the first.
type Error struct {
	// Rule is the rule's index in Listener.Rules, or -1 for the default
	// action.
	Rule int
	// Priority is the rule's priority as given (0 for the default action).
	Priority int
	// Field is what is wrong: "priority", "conditions", a condition field
	// ("path-pattern"), or an action's part ("redirect port").
	Field string
	// Problem says what is wrong with it, and what ALB takes instead.
	Problem string
}

func (e *Error) Error() string {
	if e.Rule < 0 {
		return fmt.Sprintf("default action: %s: %s", e.Field, e.Problem)
	}
	return fmt.Sprintf("rule %d: %s: %s", e.Priority, e.Field, e.Problem)
}
