package autoscale

// Decision is a new desired count.
type Decision struct{ Desired int }
