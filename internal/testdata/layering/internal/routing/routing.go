package routing

// Table is a compiled listener.
type Table struct{}
