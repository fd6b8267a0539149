#!/usr/bin/env bash
# Installs (once) what a real worker node needs, unpacked into the cache, nothing installed system-wide:
#   containerd + containerd-shim-runc-v2 + ctr, runc, the standard CNI plugins  (Debian packages, dpkg -x)
#   a static pause binary for the pod sandbox image                              (compiled with cc)
# The kubelet itself is built by hack/install-binaries.sh from the same Kubernetes version as the
# control plane. Prints the node's bin directory on the last line.
set -euo pipefail

CACHE="${DATAOPS_CACHE:-$HOME/.cache/dataops}"
PACKAGES=(containerd runc containernetworking-plugins)

log() { echo "[install-node] $*" >&2; }

# The versions Debian serves decide the cache key, so a point release unpacks a new tree.
versions() {
  apt-cache policy "${PACKAGES[@]}" 2>/dev/null | awk '/^[a-z]/{p=$1} /Candidate:/{print p $2}' | tr -d ':'
}
listing=$(versions)
if ! echo "$listing" | grep -q containerd || echo "$listing" | grep -q '(none)'; then
  log "apt-get update (package lists are missing)"
  apt-get update >/dev/null
  listing=$(versions)
fi
key=$(echo "$listing" | sha256sum | cut -c1-12)
NODE="$CACHE/node-$key"

if [ ! -f "$NODE/.complete" ]; then
  log "unpacking ${PACKAGES[*]} into $NODE"
  rm -rf "$NODE" && mkdir -p "$NODE/debs" "$NODE/root"
  (cd "$NODE/debs" && apt-get download "${PACKAGES[@]}" >/dev/null 2>&1)
  for deb in "$NODE"/debs/*.deb; do dpkg-deb -x "$deb" "$NODE/root"; done
  mkdir -p "$NODE/bin" "$NODE/cni"
  for b in containerd containerd-shim-runc-v2 ctr; do ln -sf "../root/usr/bin/$b" "$NODE/bin/$b"; done
  ln -sf ../root/usr/sbin/runc "$NODE/bin/runc"
  for p in bridge host-local loopback portmap; do ln -sf "../root/usr/lib/cni/$p" "$NODE/cni/$p"; done
  rm -rf "$NODE/debs"
  touch "$NODE/.complete"
fi

# The pod sandbox ("pause") process: sleeps until a signal ends it, reaps children.
if [ ! -x "$NODE/pause" ]; then
  log "compiling pause"
  src=$(mktemp -d)
  cat > "$src/pause.c" <<'EOF'
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
static void stop(int sig) { (void)sig; _exit(0); }
static void reap(int sig) { (void)sig; while (waitpid(-1, NULL, WNOHANG) > 0) {} }
int main(void) {
  struct sigaction term = {.sa_handler = stop}, child = {.sa_handler = reap, .sa_flags = SA_NOCLDSTOP};
  sigaction(SIGINT, &term, NULL);
  sigaction(SIGTERM, &term, NULL);
  sigaction(SIGCHLD, &child, NULL);
  for (;;) pause();
  return 1;
}
EOF
  cc -O2 -static -o "$NODE/pause.tmp" "$src/pause.c"
  mv "$NODE/pause.tmp" "$NODE/pause"
  rm -rf "$src"
fi

ln -sfn "$NODE" "$CACHE/node"
echo "$NODE"
