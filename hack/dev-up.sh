#!/usr/bin/env bash
# The main job: install (cached), then a local control plane with the CRDs, the operator and examples/.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(bash hack/install.sh | tail -n 1)
exec "$VENV/bin/dataops" dev up "$@"
