#!/usr/bin/env bash
# The project's test command (README, .ci/run): install (cached), static checks, then the whole test suite.
# Extra arguments go to pytest, e.g. `hack/test.sh tests/unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=$(bash hack/install.sh | tail -n 1)
export PATH="$VENV/bin:$PATH"
started=$(date +%s)

echo "== static checks"
ruff check operator tests benchmarks
ruff format --check operator tests benchmarks
mypy
lint-imports --no-cache >/dev/null
echo "import layers: kept"
dataops crds generate --check

echo "== tests"
set +e
python -m pytest -q -p no:cacheprovider --durations=40 "$@"
rc=$?
set -e
echo "== wall time: $(( $(date +%s) - started ))s"
# pytest exits 5 when a selection holds no tests: not a failure.
if [ "$rc" -eq 5 ]; then exit 0; fi
exit "$rc"
