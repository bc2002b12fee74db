#!/usr/bin/env bash
# A real Kubernetes control plane for the exporter's end-to-end test
# (internal/export/kubernetes/controlplane_test.go, `make test-engines`),
# built from pinned modules through the Go module proxy and cached:
#
#   $SHOAL_ENGINES_DIR/kubernetes-v1.36.3/  kube-apiserver, kube-controller-manager,
#                                           kube-scheduler (k8s.io/kubernetes v1.36.3,
#                                           its staging modules replaced to v0.36.3)
#   $SHOAL_ENGINES_DIR/etcd-v3.6.16/        etcd (go.etcd.io/etcd/server/v3)
#   $SHOAL_ENGINES_DIR/kwok-v0.8.0/         kwok (sigs.k8s.io/kwok) and stages.yaml, its
#                                           node and pod lifecycles
#
# SHOAL_ENGINES_DIR defaults to /var/cache/shoal-engines. Each directory is
# keyed by version and written only once its binaries are complete, so a
# second run does nothing. Cold, on 2 cores: kube-apiserver ~10 min
# (~2.2 GB RSS), controller-manager and scheduler a few minutes more, etcd
# ~1 min, kwok ~3 min. Timings are printed. The versions here are the ones
# the test expects (see engineVersions in controlplane_test.go).
set -euo pipefail

K8S_VERSION=v1.36.3
STAGING_VERSION=v0.36.3
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0

DIR="${SHOAL_ENGINES_DIR:-/var/cache/shoal-engines}"
mkdir -p "$DIR"
export GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

timed() { # label command...: runs the command, prints its wall time and peak RSS
  local label="$1" start end
  shift
  start=$(date +%s)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "$label: %e s wall, %M KB peak RSS" "$@"
  else
    "$@"
  fi
  end=$(date +%s)
  echo "== $label: $((end - start)) s"
}

# --- etcd -------------------------------------------------------------------
etcd_dir="$DIR/etcd-$ETCD_VERSION"
if [ -x "$etcd_dir/etcd" ]; then
  echo "== etcd $ETCD_VERSION: cached in $etcd_dir"
else
  m="$work/etcd"
  mkdir -p "$m"
  # etcd's modules carry replace lines, so `go install` refuses them: build
  # the server's main package as a dependency of a scratch module.
  cat >"$m/go.mod" <<EOF
module shoal-engines/etcd

go 1.26.0

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
EOF
  cat >"$m/tools.go" <<'EOF'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
EOF
  (cd "$m" && timed "etcd $ETCD_VERSION: go mod tidy" go mod tidy)
  (cd "$m" && timed "etcd $ETCD_VERSION: build" go build -trimpath -o "$m/bin/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$etcd_dir.tmp" && mkdir -p "$etcd_dir.tmp" && mv "$m/bin/etcd" "$etcd_dir.tmp/" && mv "$etcd_dir.tmp" "$etcd_dir"
fi

# --- kwok -------------------------------------------------------------------
kwok_dir="$DIR/kwok-$KWOK_VERSION"
if [ -x "$kwok_dir/kwok" ]; then
  echo "== kwok $KWOK_VERSION: cached in $kwok_dir"
else
  rm -rf "$kwok_dir.tmp" && mkdir -p "$kwok_dir.tmp"
  timed "kwok $KWOK_VERSION: go install" env GOBIN="$kwok_dir.tmp" go install -trimpath "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  mv "$kwok_dir.tmp" "$kwok_dir"
fi
# kwok alone (without kwokctl) simulates nothing until it is given stages:
# kwokctl's defaults, the fast node and pod lifecycles with node leases,
# from the module's kustomize directory, for `kwok --config`.
if [ ! -f "$kwok_dir/stages.yaml" ]; then
  src="$(cd / && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')/kustomize/stage"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    echo "---"
    cat "$src/$f"
  done >"$kwok_dir/stages.yaml.tmp"
  mv "$kwok_dir/stages.yaml.tmp" "$kwok_dir/stages.yaml"
fi

# --- kube-apiserver, kube-controller-manager, kube-scheduler -----------------
k8s_dir="$DIR/kubernetes-$K8S_VERSION"
if [ -x "$k8s_dir/kube-apiserver" ] && [ -x "$k8s_dir/kube-controller-manager" ] && [ -x "$k8s_dir/kube-scheduler" ]; then
  echo "== kubernetes $K8S_VERSION: cached in $k8s_dir"
else
  m="$work/kubernetes"
  mkdir -p "$m/bin"
  # k8s.io/kubernetes points its staging modules at ./staging/src/...; a
  # module that depends on it replaces each with its published version.
  mod="$(cd / && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  {
    echo "module shoal-engines/kubernetes"
    echo
    echo "go 1.26.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9.-]*\) => ./staging/src/.*#\t\1 => \1 '"$STAGING_VERSION"'#p' "$mod"
    echo ")"
  } >"$m/go.mod"
  cat >"$m/tools.go" <<'EOF'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
)
EOF
  (cd "$m" && timed "kubernetes $K8S_VERSION: go mod tidy" go mod tidy)
  # What `kubectl version` and /version report (the module build says v0.0.0).
  minor="${K8S_VERSION#v1.}"
  minor="${minor%%.*}"
  ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
  for cmd in kube-apiserver kube-controller-manager kube-scheduler; do
    (cd "$m" && timed "$cmd $K8S_VERSION: build" go build -trimpath -ldflags "$ldflags" -o "$m/bin/$cmd" "k8s.io/kubernetes/cmd/$cmd")
  done
  rm -rf "$k8s_dir.tmp" && mv "$m/bin" "$k8s_dir.tmp" && mv "$k8s_dir.tmp" "$k8s_dir"
fi

ls -l "$etcd_dir" "$kwok_dir" "$k8s_dir"
