#!/usr/bin/env bash
# Install (cached), then run the bundled example pipeline locally with Spark: no cluster needed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(bash hack/install.sh | tail -n 1)
exec "$VENV/bin/dataops" run -f examples/ --lineage console "$@"
