package endpoint

// Endpoint is a local address for a service.
type Endpoint struct{ Addr string }
