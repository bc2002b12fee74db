#!/usr/bin/env bash
# CI: what the CloudFormation export's checker needs (internal/export/
# cloudformation/testdata/check): Node and npm from Debian, then the
# checker's pinned packages (@aws-cdk/aws-service-spec, the AWS resource
# specification) from its package-lock.json. Idempotent: run it before the
# tests, with CI=1 so that they fail rather than skip without the checker.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

check=internal/export/cloudformation/testdata/check
# npm ci installs exactly the lock file's versions, afresh (~2 s).
(cd "$check" && npm ci --no-audit --no-fund --loglevel=error)
