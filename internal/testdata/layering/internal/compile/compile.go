package compile

// Stack is a compiled stack.
type Stack struct{}
