#!/usr/bin/env bash
# Copies the Spark runtime's extra jars (Delta Lake, JDBC drivers, the Kafka source/sink) from Maven Central into the cache.
# Prints the jar directory on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${DATAOPS_CACHE:-$HOME/.cache/dataops}"
key=$(cat hack/jars/pom.xml hack/maven-settings.xml | sha256sum | cut -c1-12)
OUT="$CACHE/jars/spark-$key"
if [ ! -f "$OUT/.complete" ]; then
  echo "[install-jars] fetching Spark runtime jars into $OUT" >&2
  rm -rf "$OUT"
  mkdir -p "$OUT"
  mvn -q -B -s hack/maven-settings.xml -f hack/jars/pom.xml dependency:copy-dependencies -DoutputDirectory="$OUT" -DincludeScope=runtime >&2
  touch "$OUT/.complete"
fi
ln -sfn "$OUT" "$CACHE/jars/spark"
echo "$OUT"
