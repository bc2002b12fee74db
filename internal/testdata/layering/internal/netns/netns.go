package netns

// Network is a stack's isolated network.
type Network struct{ Stack string }
