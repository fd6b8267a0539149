# Shared by hack/base-image.sh and hack/build-images.sh (sourced, not run).
# Everything lives under ${DATAOPS_CACHE:-$HOME/.cache/dataops}: buildah's storage in containers/<driver>/,
# base rootfs tarballs and OCI archives in images/, pip's download cache for RUN steps in containers/tmp/.
CACHE="${DATAOPS_CACHE:-$HOME/.cache/dataops}"
IMAGES="$CACHE/images"
STORE="$CACHE/containers"
mkdir -p "$IMAGES" "$STORE/tmp"
# buildah keeps RUN --mount=type=cache folders and its temporary files under TMPDIR: keep them in the cache too.
export TMPDIR="$STORE/tmp"

log() { echo "[images] $*" >&2; }
die() { echo "[images] error: $*" >&2; exit 1; }

# buildah and mmdebstrap come from Debian (bookworm: buildah 1.28, mmdebstrap 1.3).
ensure_tools() {
  local missing=()
  command -v buildah >/dev/null || missing+=(buildah)
  command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || die "needs ${missing[*]} (apt-get install ${missing[*]}) or root to install them"
  log "installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 \
    || { apt-get update -q >&2 && apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; }
}

# overlay when the kernel allows it here (fast, layers shared on disk), vfs otherwise; chosen once per cache.
storage_driver() {
  if [ -n "${DATAOPS_STORAGE_DRIVER:-}" ]; then
    echo "$DATAOPS_STORAGE_DRIVER"
    return
  fi
  if [ ! -s "$STORE/driver" ]; then
    local probe="$STORE/probe" driver=vfs ctr
    rm -rf "$probe"
    if ctr=$(buildah --root "$probe/root" --runroot "$probe/runroot" --storage-driver overlay \
      from --pull=never scratch 2>/dev/null) \
      && buildah --root "$probe/root" --runroot "$probe/runroot" --storage-driver overlay \
        mount "$ctr" >/dev/null 2>&1; then
      driver=overlay
    fi
    buildah --root "$probe/root" --runroot "$probe/runroot" --storage-driver overlay rm -a >/dev/null 2>&1 || true
    rm -rf "$probe" 2>/dev/null || true
    echo "$driver" >"$STORE/driver"
  fi
  cat "$STORE/driver"
}

bh() {
  local driver
  driver=$(storage_driver)
  buildah --root "$STORE/$driver/root" --runroot "$STORE/$driver/runroot" --storage-driver "$driver" "$@"
}

image_exists() { bh inspect --type image "$1" >/dev/null 2>&1; }

# Content hash of files and folders (paths relative to the current directory); caches and bytecode ignored.
hash_paths() {
  find "$@" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' -print0 \
    | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum | cut -c1-12
}

# Removes the files matching a glob except `keep` and the newest others up to `count` in all (older hashes
# of the same image). Prints the hashes kept (the 12 characters before .tar).
prune_older() {
  local keep="$1" pattern="$2" count="${3:-1}" f n=1
  echo "$keep" | sed -E 's/.*-([0-9a-f]{12})\.tar$/\1/'
  # shellcheck disable=SC2086
  for f in $(ls -1t $pattern 2>/dev/null); do
    [ "$f" = "$keep" ] && continue
    if [ "$n" -lt "$count" ]; then
      n=$((n + 1))
      echo "$f" | sed -E 's/.*-([0-9a-f]{12})\.tar$/\1/'
    else
      log "pruning $f"
      rm -f "$f"
    fi
  done
}

# Untagged images nothing builds on any more (layer-cache chains of older inputs or bases), leaf by leaf.
prune_dangling() {
  local i removed
  for i in $(seq 1 30); do
    removed=$(bh rmi --prune 2>/dev/null || true)
    [ -n "$removed" ] || break
  done
}
