package fault

// Kind is what a fault does.
type Kind string
