package proxy

import (
	"net/http"

	"example.com/fake/internal/metrics"
	"example.com/fake/internal/spec"
)

var _ = http.StatusOK
var _ = metrics.Agent
var _ = spec.Name
