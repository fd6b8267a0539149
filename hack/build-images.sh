#!/usr/bin/env bash
# Builds the project's images without Docker or a registry: buildah (chroot isolation) on Debian bases made
# by mmdebstrap (hack/base-image.sh). Usage: hack/build-images.sh [operator] [spark] [validator]  (all three
# when none is named).
#
# Each image is tagged localhost/dataops-<name>:<hash>, <hash> covering its Dockerfile folder, pyproject.toml,
# operator/, the Spark jars (spark, validator), the base image and these scripts, and written as an
# OCI archive $CACHE/images/<name>-<hash>.tar (import with `ctr -n k8s.io images import`). When that archive
# exists nothing is built. Older archives and tags of the same image are pruned (the newest
# ${DATAOPS_IMAGES_KEEP:-2} stay).
#
# stdout: one line per image, `<name> <ref> <archive>`, and nothing else; progress, timings and sizes go to
# stderr. Caches (buildah storage with its layer cache, bases, pip downloads, archives) live under
# ${DATAOPS_CACHE:-$HOME/.cache/dataops}. Installs buildah and mmdebstrap with apt-get when missing.
# DATAOPS_IMAGES_NO_CHECK=1 skips the smoke test each new image gets before it is archived.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=hack/images-lib.sh
source hack/images-lib.sh

ALL=(operator spark validator)
names=("$@")
[ ${#names[@]} -gt 0 ] || names=("${ALL[@]}")
for name in "${names[@]}"; do
  case " ${ALL[*]} " in *" $name "*) ;; *) die "unknown image '$name' (one of: ${ALL[*]})" ;; esac
done

exec 9>"$IMAGES/.build.lock"
flock 9

started=$SECONDS
base_kind() { if [ "$1" = operator ]; then echo python; else echo java; fi; }
needs_jars() { [ "$1" != operator ]; }

jars=""
for name in "${names[@]}"; do
  if needs_jars "$name"; then
    jars=$(bash hack/install-jars.sh | tail -n 1)
    [ -d "$jars" ] || die "hack/install-jars.sh gave no jar folder"
    break
  fi
done

scripts_hash=$(cat hack/build-images.sh hack/images-lib.sh | sha256sum | cut -c1-12)
# README.md is only the package's long description: the images get a stub, so editing the docs
# rebuilds nothing.
sources_hash=$(hash_paths pyproject.toml operator)
jars_hash=""
[ -z "$jars" ] || jars_hash=$(cd "$jars" && hash_paths .)

image_hash() {
  local name="$1" base="$2"
  {
    echo "$name $base $scripts_hash $sources_hash ${DATAOPS_IMAGES_COMPRESSION:-gzip}"
    hash_paths "runtime-images/$name"
    if needs_jars "$name"; then echo "jars $jars_hash"; fi
  } | sha256sum | cut -c1-12
}

# The build context: the repository's files the Dockerfiles copy (filtered as hash_paths filters them)
# and the jars in runtime-images/jars/.
stage_context() {
  local name="$1" ctx="$2"
  rm -rf "$ctx"
  mkdir -p "$ctx/runtime-images/jars"
  tar -cf - --exclude=__pycache__ --exclude='*.pyc' --exclude='*.egg-info' \
    pyproject.toml operator "runtime-images/$name" | tar -xf - -C "$ctx"
  echo "dataops-operator: see the project's README." > "$ctx/README.md"
  if needs_jars "$name"; then
    cp -l "$jars"/*.jar "$ctx/runtime-images/jars/" 2>/dev/null || cp "$jars"/*.jar "$ctx/runtime-images/jars/"
  fi
}

# Runs a command in a new container of the image as the image's user (chroot isolation, host network).
in_image() {
  local ref="$1" ctr rc=0
  shift
  ctr=$(bh from --pull=never "$ref")
  bh run --isolation chroot --network host "$ctr" -- "$@" >&2 || rc=$?
  bh rm "$ctr" >/dev/null
  return $rc
}

# What each image must do before it is archived: imports, Java, and a local Spark job with a Delta table
# (the spark image through its entrypoint's driver mode). SPARK_LOCAL_IP: the build container's hostname
# does not resolve (a pod's does).
SMOKE_DRIVER='
import sys
from pyspark.sql import SparkSession
import dataops.runtime.spark_job
spark = SparkSession.builder.getOrCreate()
spark.range(5).write.format("delta").save("/tmp/smoke")
count = spark.read.format("delta").load("/tmp/smoke").count()
print("delta rows", count, "driver", spark.conf.get("spark.driver.host"))
sys.exit(0 if count == 5 else 1)
'
SMOKE_VALIDATOR='
import great_expectations, dataops.runtime.validator
from dataops.runtime.session import local_session
spark = local_session(master="local[1]")
spark.range(5).write.format("delta").save("/tmp/smoke")
assert spark.read.format("delta").load("/tmp/smoke").count() == 5
print("delta rows 5, great_expectations", great_expectations.__version__)
'

smoke_test() {
  local name="$1" ref="$2"
  case "$name" in
    operator)
      in_image "$ref" sh -c 'test "$(id -u)" = 10001 && dataops operator --help >/dev/null' \
        && in_image "$ref" python3 -c 'import dataops.operator_main, dataops.handlers.operator'
      ;;
    spark)
      in_image "$ref" sh -c 'test "$(id -u)" = 185 && java -version 2>&1 | head -n 1' \
        && in_image "$ref" env SPARK_LOCAL_IP=127.0.0.1 sh -c '"$SPARK_HOME/bin/spark-submit" --version 2>&1 \
          | grep -m 1 -o "version [0-9.]*"' \
        && in_image "$ref" env SPARK_LOCAL_IP=127.0.0.1 SPARK_DRIVER_BIND_ADDRESS=127.0.0.1 sh -c \
          'printf "%s" "$1" >/tmp/smoke.py && python3 /opt/dataops/entrypoint.py driver --master "local[1]" \
            --conf spark.ui.enabled=false --conf spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension \
            --conf spark.sql.catalog.spark_catalog=org.apache.spark.sql.delta.catalog.DeltaCatalog \
            /tmp/smoke.py >/tmp/smoke.log 2>&1; rc=$?; grep "^delta rows" /tmp/smoke.log || tail -n 40 /tmp/smoke.log
            exit $rc' smoke "$SMOKE_DRIVER"
      ;;
    validator)
      in_image "$ref" sh -c 'test "$(id -u)" = 185 && java -version 2>&1 | head -n 1' \
        && in_image "$ref" env SPARK_LOCAL_IP=127.0.0.1 python3 -c "$SMOKE_VALIDATOR"
      ;;
  esac
}

build_one() {
  local name="$1" ref="$2" archive="$3" base="$4" t0=$SECONDS ctx tmp
  ctx="$STORE/context/$name"
  stage_context "$name" "$ctx"
  log "$name: building $ref on $base"
  local ca=() bundle="${DATAOPS_BUILD_CA_BUNDLE:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
  # The host's CA bundle (it may trust a TLS-inspecting proxy in front of PyPI), for pip during the build:
  # mounted over the base's own bundle, so the image keeps its file and gets no empty mount point.
  if [ -s "$bundle" ]; then
    ca=(--volume "$(readlink -f "$bundle"):/etc/ssl/certs/ca-certificates.crt:ro"
      --build-arg BUILD_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt)
  fi
  bh bud --layers --force-rm --pull=never --isolation chroot --network host "${ca[@]}" \
    --build-arg "BASE_IMAGE=$base" -f "$ctx/runtime-images/$name/Dockerfile" -t "$ref" "$ctx" >&2
  rm -rf "$ctx"
  local built=$((SECONDS - t0)) checked=0
  if [ "${DATAOPS_IMAGES_NO_CHECK:-}" != 1 ]; then
    log "$name: smoke test"
    smoke_test "$name" "$ref" || die "$name: the smoke test of $ref failed"
    checked=$((SECONDS - t0 - built))
  fi
  # gzip layers (buildah 1.28 compresses oci-archive layers even with --disable-compression); zstd is a
  # little faster and smaller, and containerd >= 1.5 imports it: DATAOPS_IMAGES_COMPRESSION=zstd.
  local compress=(--compression-format "${DATAOPS_IMAGES_COMPRESSION:-gzip}")
  log "$name: writing $archive"
  tmp="$archive.tmp"
  rm -f "$tmp"
  bh push --quiet "${compress[@]}" "$ref" "oci-archive:$tmp:$ref" >&2
  mv "$tmp" "$archive"
  # The two newest archives stay (say a working tree's and a CI clone's), with their tags.
  local kept old
  kept=$(prune_older "$archive" "$IMAGES/$name-????????????.tar" "${DATAOPS_IMAGES_KEEP:-2}")
  for old in $(bh images --format '{{.Name}}:{{.Tag}}' --filter "reference=localhost/dataops-$name" 2>/dev/null); do
    if ! grep -qx "${old##*:}" <<<"$kept"; then bh rmi "$old" >/dev/null 2>&1 || true; fi
  done
  log "$name: built in ${built}s, checked in ${checked}s, archived in $((SECONDS - t0 - built - checked))s;" \
    "image $(bh images --format '{{.Size}}' "$ref" 2>/dev/null | head -n 1), archive $(du -h "$archive" | cut -f1)"
}

lines=()
built=0
for name in "${names[@]}"; do
  kind=$(base_kind "$name")
  base=$(bash hack/base-image.sh "$kind" --print-ref)
  hash=$(image_hash "$name" "$base")
  ref="localhost/dataops-$name:$hash"
  archive="$IMAGES/$name-$hash.tar"
  if [ -s "$archive" ]; then
    log "$name: up to date ($archive)"
  else
    ensure_tools
    bh rm --all >/dev/null 2>&1 || true # working containers a killed build left behind (we hold the lock)
    bash hack/base-image.sh "$kind" >/dev/null
    build_one "$name" "$ref" "$archive" "$base"
    built=1
  fi
  lines+=("$name $ref $archive")
done
[ "$built" = 0 ] || prune_dangling
log "done in $((SECONDS - started))s"
printf '%s\n' "${lines[@]}"
