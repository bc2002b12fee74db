package consistency

// Report compares answers.
type Report struct{ Agree bool }
