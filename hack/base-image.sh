#!/usr/bin/env bash
# Builds a minimal Debian bookworm base image with mmdebstrap (Debian packages only: no container registry)
# and imports it into buildah's storage. Usage: hack/base-image.sh python|java [--print-ref]
#   python: python3 (3.11) with venv/pip, ca-certificates, netbase, tini, procps -> localhost/dataops-base:<hash>
#   java:   the same plus openjdk-17-jre-headless and nss_wrapper (Spark)    -> localhost/dataops-base-java:<hash>
# <hash> covers the recipe (packages and mmdebstrap options). Prints the image ref on stdout; --print-ref
# prints it without building. Cached: the image in buildah's storage, the rootfs tarball in
# $CACHE/images/base/ (re-imported when the storage was wiped) and the downloaded .debs in
# $CACHE/images/base/debs. Mirrors: DATAOPS_DEBIAN_MIRROR, DATAOPS_DEBIAN_SECURITY_MIRROR.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=hack/images-lib.sh
source hack/images-lib.sh

kind="${1:-}"
packages=(python3 python3-venv ca-certificates netbase tini procps)
case "$kind" in
  python) name=dataops-base ;;
  java)
    name=dataops-base-java
    packages+=(openjdk-17-jre-headless libnss-wrapper)
    ;;
  *) die "usage: hack/base-image.sh python|java [--print-ref]" ;;
esac

# merged /usr is set up by mmdebstrap's hook (the usrmerge package would pull in perl). No recommends; docs,
# man pages and translations left out (copyright files kept; man1/ exists for the JRE's update-alternatives);
# mmdebstrap removes apt's lists and caches. /etc/hosts knows localhost (Kubernetes mounts its own).
recipe=(
  bookworm --variant=apt --format=tar
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --setup-hook='mkdir -p "$1"/usr/share/man/man1'
  --aptopt='APT::Install-Recommends "false"'
  --aptopt='Acquire::Retries "3"'
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --include="$(IFS=,; echo "${packages[*]}")"
  --customize-hook='rm -rf "$1"/var/log/apt/* "$1"/var/log/dpkg.log "$1"/var/cache/ldconfig/aux-cache'
  --customize-hook='printf "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" >"$1"/etc/hosts'
)
hash=$(printf '%s\n' "$kind" "${recipe[@]}" | sha256sum | cut -c1-12)
ref="localhost/$name:$hash"
if [ "${2:-}" = "--print-ref" ]; then
  echo "$ref"
  exit 0
fi

ensure_tools
if image_exists "$ref"; then
  echo "$ref"
  exit 0
fi

mirror="${DATAOPS_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
security="${DATAOPS_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
debs="$IMAGES/base/debs"
mkdir -p "$debs"
rootfs="$IMAGES/base/$name-$hash.tar"
if [ ! -s "$rootfs" ]; then
  log "mmdebstrap bookworm ($kind): ${packages[*]}"
  start=$SECONDS
  tmp="$rootfs.tmp"
  # The .debs are kept for the next base (the recipe from mmdebstrap's man page).
  mmdebstrap "${recipe[@]:1}" \
    --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $debs /var/cache/apt/archives/" \
    --customize-hook="sync-out /var/cache/apt/archives $debs" \
    bookworm "$tmp" \
    "deb $mirror bookworm main" \
    "deb $mirror bookworm-updates main" \
    "deb $security bookworm-security main" >&2
  mv "$tmp" "$rootfs"
  log "rootfs $rootfs: $(du -h "$rootfs" | cut -f1) in $((SECONDS - start))s"
fi

log "importing $rootfs as $ref"
ctr=$(bh from --pull=never scratch)
trap 'bh rm "$ctr" >/dev/null 2>&1 || true' EXIT
bh add "$ctr" "$rootfs" / >&2
bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
  --cmd /bin/bash --label "dev.dataops.base=$kind" --label "dev.dataops.debian=bookworm" "$ctr"
bh commit --rm "$ctr" "$ref" >/dev/null
trap - EXIT
prune_older "$rootfs" "$IMAGES/base/$name-????????????.tar" >/dev/null
for old in $(bh images --format '{{.Name}}:{{.Tag}}' --filter "reference=localhost/$name" 2>/dev/null); do
  if [ "$old" != "$ref" ]; then bh rmi "$old" >/dev/null 2>&1 || true; fi
done
echo "$ref"
