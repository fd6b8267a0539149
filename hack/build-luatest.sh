#!/usr/bin/env bash
# Builds hack/luatest (runs Argo CD resource-customization Lua with gopher-lua, as Argo CD does)
# once per source version and caches it beside the other binaries:
#   ~/.cache/dataops/bin/luatest-<hash of go.mod, go.sum, *.go>, linked as ~/.cache/dataops/bin/luatest
# Prints the binary's path on the last line. Modules come from the Go module proxy (go.sum pins them).
set -euo pipefail
cd "$(dirname "$0")/luatest"
CACHE="${DATAOPS_CACHE:-$HOME/.cache/dataops}"
BIN="$CACHE/bin"
mkdir -p "$BIN"
key=$(cat go.mod go.sum ./*.go | sha256sum | cut -c1-12)
target="$BIN/luatest-$key"
if [ ! -x "$target" ]; then
  echo "[build-luatest] go build luatest ($key)" >&2
  GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -buildvcs=false -mod=readonly" \
    go build -trimpath -ldflags "-s -w" -o "$target.tmp" .
  mv "$target.tmp" "$target"
fi
ln -sf "$target" "$BIN/luatest"
echo "$target"
