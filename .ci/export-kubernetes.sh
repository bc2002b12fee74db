#!/usr/bin/env bash
# What the Kubernetes exporter's tests need (internal/export/kubernetes,
# TestExport_Kubeconform), installed once, offline afterwards:
# - kubeconform v0.8.0 in /usr/local/bin (go install, ~20 s the first
#   time);
# - the k8s.io/kubernetes v1.36.3 module in the module cache, for
#   api/openapi-spec/swagger.json, from which the test makes the JSON
#   schemas (~5 s to download; the test converts it in under a second).
# Idempotent: a second run does nothing but check. With CI=1 the test
# fails, rather than skips, when either is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

KUBECONFORM=github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0
KUBERNETES=k8s.io/kubernetes@v1.36.3

# A go-installed kubeconform says "development" to -v: its build info says
# which module version it is.
if ! command -v kubeconform >/dev/null 2>&1 ||
  ! go version -m "$(command -v kubeconform)" | grep -q 'github.com/yannh/kubeconform[[:space:]]*v0.8.0'; then
  GOBIN=/usr/local/bin go install "$KUBECONFORM"
fi

swagger="$(go env GOMODCACHE)/$KUBERNETES/api/openapi-spec/swagger.json"
if [ ! -f "$swagger" ]; then
  # Outside the module, so that go.mod is left as it is.
  (cd / && go mod download "$KUBERNETES")
fi
test -f "$swagger" || { echo "export-kubernetes: $swagger is missing after go mod download" >&2; exit 1; }
