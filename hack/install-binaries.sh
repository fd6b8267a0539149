#!/usr/bin/env bash
# Builds (once) the real control-plane binaries the project needs and caches them
# outside the work tree, keyed by version:
#   etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet (Go module proxy)
#   kwok                                                                   (fake nodes / pod lifecycles)
#   helm                                                                   (chart tests)
#   promtool, prometheus                                                   (alert rule tests; Debian package)
# Prints the bin directory on the last line. Safe to run repeatedly: cached binaries are reused.
set -euo pipefail

CACHE="${DATAOPS_CACHE:-$HOME/.cache/dataops}"
K8S_VERSION="${DATAOPS_K8S_VERSION:-v1.34.4}"
ETCD_VERSION="${DATAOPS_ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${DATAOPS_KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${DATAOPS_HELM_VERSION:-v3.19.5}"
PROMTOOL_PACKAGE="prometheus"

BIN="$CACHE/bin"
mkdir -p "$BIN"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
export CGO_ENABLED=0
export GOTOOLCHAIN=local

log() { echo "[install-binaries] $*" >&2; }

have() { [ -x "$BIN/$1-$2" ]; }

link() { ln -sf "$BIN/$1-$2" "$BIN/$1"; }

build_kubernetes() {
  local names=(kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet)
  local missing=0
  for n in "${names[@]}"; do have "$n" "$K8S_VERSION" || missing=1; done
  if [ "$missing" = 1 ]; then
    log "building Kubernetes $K8S_VERSION (cold build takes 15-30 minutes on 2 cores)"
    local work="$CACHE/build/kubernetes-$K8S_VERSION"
    mkdir -p "$work"
    local gomod
    gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')
    local staging_version="v0.${K8S_VERSION#v1.}"
    {
      echo "module dataops.dev/k8s-build"
      echo
      echo "go 1.24"
      echo
      echo "require k8s.io/kubernetes $K8S_VERSION"
      echo
      echo "replace ("
      grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" | awk -v v="$staging_version" '{print "\t" $1 " => " $1 " " v}'
      echo ")"
    } > "$work/go.mod"
    local major minor
    major=$(echo "$K8S_VERSION" | sed -E 's/^v([0-9]+)\..*/\1/')
    minor=$(echo "$K8S_VERSION" | sed -E 's/^v[0-9]+\.([0-9]+)\..*/\1/')
    local ld=""
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld="$ld -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
      ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    (
      cd "$work"
      local pkgs=()
      for n in "${names[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$n@$K8S_VERSION"); done
      go get "${pkgs[@]}"
      for n in "${names[@]}"; do
        have "$n" "$K8S_VERSION" && continue
        log "go build $n"
        go build -trimpath -tags=selinux,notest -ldflags "-s -w $ld" -o "$BIN/$n-$K8S_VERSION.tmp" "k8s.io/kubernetes/cmd/$n"
        mv "$BIN/$n-$K8S_VERSION.tmp" "$BIN/$n-$K8S_VERSION"
      done
    )
  fi
  for n in "${names[@]}"; do link "$n" "$K8S_VERSION"; done
}

build_etcd() {
  if ! have etcd "$ETCD_VERSION"; then
    log "building etcd $ETCD_VERSION"
    local work="$CACHE/build/etcd-$ETCD_VERSION"
    mkdir -p "$work"
    cat > "$work/go.mod" <<EOF
module dataops.dev/etcd-build

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION

replace (
	go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 => go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 => go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 => go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
EOF
    (
      cd "$work"
      go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
      go build -trimpath -ldflags "-s -w" -o "$BIN/etcd-$ETCD_VERSION.tmp" go.etcd.io/etcd/server/v3
      mv "$BIN/etcd-$ETCD_VERSION.tmp" "$BIN/etcd-$ETCD_VERSION"
    )
  fi
  link etcd "$ETCD_VERSION"
}

build_kwok() {
  if ! have kwok "$KWOK_VERSION"; then
    log "building kwok $KWOK_VERSION"
    local gobin="$CACHE/build/kwok-$KWOK_VERSION"
    mkdir -p "$gobin"
    GOBIN="$gobin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
    mv "$gobin/kwok" "$BIN/kwok-$KWOK_VERSION"
  fi
  link kwok "$KWOK_VERSION"
  # KWOK v0.8 has no built-in stages: assemble the upstream node and pod stages from its module.
  local stages="$CACHE/kwok-stages-$KWOK_VERSION.yaml"
  if [ ! -s "$stages" ]; then
    local dir
    dir=$(cd "$CACHE" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')
    local d="$dir/kustomize/stage"
    for f in node/fast/node-initialize.yaml node/heartbeat/node-heartbeat.yaml \
             pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      echo "---"
      cat "$d/$f"
    done > "$stages.tmp"
    mv "$stages.tmp" "$stages"
  fi
  ln -sf "$stages" "$CACHE/kwok-stages.yaml"
}

build_helm() {
  if ! have helm "$HELM_VERSION"; then
    log "building helm $HELM_VERSION"
    local gobin="$CACHE/build/helm-$HELM_VERSION"
    mkdir -p "$gobin"
    GOBIN="$gobin" go install -trimpath -ldflags "-s -w" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
    mv "$gobin/helm" "$BIN/helm-$HELM_VERSION"
  fi
  link helm "$HELM_VERSION"
}

fetch_promtool() {
  # promtool and the prometheus server from Debian's prometheus package (unpacked, not installed):
  # promtool unit-tests the alert rules, the server evaluates them on live series in tests.
  if [ ! -x "$BIN/promtool-debian" ] || [ ! -x "$BIN/prometheus-debian" ]; then
    log "fetching promtool and prometheus (Debian package $PROMTOOL_PACKAGE)"
    local work="$CACHE/build/promtool"
    rm -rf "$work" && mkdir -p "$work"
    (cd "$work" && { apt-get download "$PROMTOOL_PACKAGE" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get download "$PROMTOOL_PACKAGE" >/dev/null 2>&1; }; })
    dpkg-deb -x "$work"/prometheus_*.deb "$work/x"
    mv "$work/x/usr/bin/promtool" "$BIN/promtool-debian"
    mv "$work/x/usr/bin/prometheus" "$BIN/prometheus-debian"
    rm -rf "$work"
  fi
  link promtool debian
  link prometheus debian
}

build_etcd
build_kwok
build_kubernetes
build_helm
fetch_promtool
echo "$BIN"
