#!/usr/bin/env bash
# Builds a real Nomad for the Nomad exporter's end-to-end test
# (internal/export/nomad/agent_test.go, run by `make test-engines`), once:
# the binary is cached in $SHOAL_ENGINES_DIR (default
# /var/cache/shoal-engines) under a directory named after the versions it
# was built from, so a second run only checks that it is there.
#
# Version: github.com/hashicorp/nomad v1.6.3, the last MPL-2.0 Nomad the
# module proxy serves (v1.7.0 on is under the BSL: not to be used; v1.6.5 on
# are refused by the proxy). Nomad is built as a dependency of a scratch
# module made in a temp dir, which repeats the replace lines of Nomad's own
# go.mod (replace lines of a dependency are ignored).
#
# The api module: Nomad's go.mod replaces github.com/hashicorp/nomad/api
# with ./api, but the nomad module zip leaves api/ out (it is a module of
# its own), and the proxy refuses the api module at v1.6.3's commit. So the
# api module is the pinned MPL-2.0 pseudo-version shoal itself uses
# (NOMAD_API), and Nomad's sources are copied from the module cache and
# patched where they use what that api no longer has
# (.ci/engines-nomad-v1.6.3.patch, 5 files: Job.ConsulToken and
# Job.VaultToken, for Consul and Vault token workflows; JobsParseRequest's
# HCLv1; a quota's RegionLimit type, an Enterprise feature).
#
# Prints the path of the binary on its last line. Needs the Go module proxy
# the first time only, and gcc (cgo: with CGO_ENABLED=0 Nomad 1.6.3 does not
# build on Linux, its exec driver imports runc's nsenter, which is C); ~5 min
# on 2 cores.
set -euo pipefail

NOMAD_VERSION=${NOMAD_VERSION:-v1.6.3}
NOMAD_API=${NOMAD_API:-v0.0.0-20261016150620-df630b26e78a}
ENGINES=${SHOAL_ENGINES_DIR:-/var/cache/shoal-engines}
gover=$(go env GOVERSION)
# The key: the versions, the Go toolchain and the patch's contents.
patch_sum=$(sha256sum "$(dirname "$0")/engines-nomad-$NOMAD_VERSION.patch" 2>/dev/null | cut -c1-12 || echo none)
dir="$ENGINES/nomad-$NOMAD_VERSION-api-${NOMAD_API##*-}-$gover-patch-$patch_sum"
bin="$dir/nomad"

if [ -x "$bin" ] && "$bin" version >/dev/null 2>&1; then
  echo "engines-nomad: cached $("$bin" version | head -1)" >&2
  echo "$bin"
  exit 0
fi

start=$(date +%s)
mkdir -p "$dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Outside any module, so that shoal's go.mod is left as it is.
(cd "$work" && GOFLAGS=-mod=mod go mod download github.com/hashicorp/nomad@"$NOMAD_VERSION" github.com/hashicorp/nomad/api@"$NOMAD_API")
modcache=$(go env GOMODCACHE)
api="$modcache/github.com/hashicorp/nomad/api@$NOMAD_API"
test -f "$api/go.mod" || { echo "engines-nomad: $api missing after go mod download" >&2; exit 1; }
t_dl=$(date +%s)

# Nomad's sources, patched.
patch_file="$(cd "$(dirname "$0")" && pwd)/engines-nomad-$NOMAD_VERSION.patch"
cp -r "$modcache/github.com/hashicorp/nomad@$NOMAD_VERSION" "$work/nomad"
chmod -R u+w "$work/nomad"
if [ -f "$patch_file" ]; then
  (cd "$work/nomad" && patch -s -p1 <"$patch_file")
fi

cat >"$work/go.mod" <<MOD
module shoal.local/engines/nomad

go 1.21

require github.com/hashicorp/nomad $NOMAD_VERSION

// Repeated from github.com/hashicorp/nomad $NOMAD_VERSION's go.mod.
replace (
	github.com/Microsoft/go-winio => github.com/endocrimes/go-winio v0.4.13-0.20190628114223-fb47a8b41948
	github.com/hashicorp/hcl => github.com/hashicorp/hcl v1.0.1-0.20201016140508-a07e7d50bbee
	github.com/armon/go-metrics => github.com/armon/go-metrics v0.0.0-20230509193637-d9ca9af9f1f9
	github.com/hashicorp/nomad => ./nomad
	github.com/hashicorp/nomad/api => $api
)
MOD
# The replace lines must still be Nomad's: fail loudly if its go.mod moved on.
nomadmod="$modcache/github.com/hashicorp/nomad@$NOMAD_VERSION/go.mod"
for pin in 'github.com/endocrimes/go-winio v0.4.13-0.20190628114223-fb47a8b41948' \
  'github.com/hashicorp/hcl v1.0.1-0.20201016140508-a07e7d50bbee' \
  'github.com/armon/go-metrics v0.0.0-20230509193637-d9ca9af9f1f9'; do
  grep -qF "$pin" "$nomadmod" || { echo "engines-nomad: $nomadmod no longer pins $pin" >&2; exit 1; }
done
test "$(grep -c '=>' "$nomadmod")" = 4 || { echo "engines-nomad: $nomadmod has other replace lines now" >&2; exit 1; }

echo "engines-nomad: building nomad $NOMAD_VERSION (api $NOMAD_API) with $gover; ~5 min" >&2
(cd "$work" && CGO_ENABLED=1 GOFLAGS=-mod=mod /usr/bin/time -f 'engines-nomad: build %es, max RSS %M KiB' \
  go build -trimpath -o "$work/nomad.bin" github.com/hashicorp/nomad)
mv "$work/nomad.bin" "$bin"
end=$(date +%s)
echo "engines-nomad: download $((t_dl - start))s, build $((end - t_dl))s, binary $(du -h "$bin" | cut -f1): $("$bin" version | head -1)" >&2
echo "$bin"
