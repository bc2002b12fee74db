package instance

// Instance is a host for tasks.
type Instance struct{ Name string }
