#!/usr/bin/env bash
# Installs everything the project needs, cached outside the work tree (~/.cache/dataops):
#   - a Python virtualenv with the package (editable) and its dev tools, keyed by the dependency list
#   - etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, KWOK and helm, built from the Go module proxy
#   - the Spark runtime's extra jars (Delta Lake, JDBC drivers) from Maven Central
#   - a real node's containerd, runc and CNI plugins (Debian packages, unpacked; the kubelet is built
#     with the control plane); the runtime images are built by hack/build-images.sh when a test needs them
# Safe to run again: what is cached is reused. Prints the virtualenv path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${DATAOPS_CACHE:-$HOME/.cache/dataops}"
mkdir -p "$CACHE"
PYTHON="${PYTHON:-python3}"

log() { echo "[install] $*" >&2; }

# The virtualenv is keyed by pyproject.toml's dependency section so a dependency change builds a new one.
key=$(sed -n '/^dependencies = \[/,/^\]/p;/^dev = \[/,/^\]/p' pyproject.toml | sha256sum | cut -c1-12)
VENV="$CACHE/venv-$key"
if [ ! -x "$VENV/bin/dataops" ] || [ ! -f "$VENV/.complete" ]; then
  log "creating virtualenv $VENV"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip >&2
  "$VENV/bin/pip" install -q -e ".[dev]" >&2
  touch "$VENV/.complete"
else
  # Re-point the editable install at this checkout (CI uses a fresh clone each time).
  "$VENV/bin/pip" install -q --no-deps --no-build-isolation -e . >&2 2>/dev/null || "$VENV/bin/pip" install -q --no-deps -e . >&2
fi
ln -sfn "$VENV" "$CACHE/venv"

log "control-plane binaries"
bash hack/install-binaries.sh >/dev/null
log "luatest (Argo CD Lua health checks and actions under gopher-lua)"
bash hack/build-luatest.sh >/dev/null
log "Spark runtime jars (Delta Lake, JDBC drivers, Kafka source/sink)"
bash hack/install-jars.sh >/dev/null
log "Kafka, Kafka Connect, Debezium and PostgreSQL"
bash hack/install-streaming.sh
log "real node: containerd, runc, CNI plugins (Debian packages, unpacked), pause"
bash hack/install-node.sh >/dev/null
echo "$VENV"
