#!/usr/bin/env bash
# Kafka 4.1 (KRaft broker + Kafka Connect), the Debezium PostgreSQL and FileStream connector plugins
# from Maven Central, and a PostgreSQL server (Debian's), all cached under ~/.cache/dataops:
#   kafka/libs -> kafka-<key>/libs          classpath of the broker, the tools and Connect
#   connect-plugins -> connect-plugins-<key> plugin.path of Connect (debezium-postgres/, file/)
#   postgres-bin                             bin folder of PostgreSQL (initdb, pg_ctl, postgres, psql)
# Idempotent: a second run only checks the cache.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${DATAOPS_CACHE:-$HOME/.cache/dataops}"
MVN=(mvn -q -B -s hack/maven-settings.xml)
mkdir -p "$CACHE"

key=$(cat hack/streaming/kafka-pom.xml hack/maven-settings.xml | sha256sum | cut -c1-12)
KAFKA="$CACHE/kafka-$key"
if [ ! -f "$KAFKA/.complete" ]; then
  echo "[install-streaming] Kafka broker, tools and Connect into $KAFKA" >&2
  rm -rf "$KAFKA" && mkdir -p "$KAFKA/libs"
  "${MVN[@]}" -f hack/streaming/kafka-pom.xml dependency:copy-dependencies \
    -DoutputDirectory="$KAFKA/libs" -DincludeScope=runtime >&2
  touch "$KAFKA/.complete"
fi
ln -sfn "$KAFKA" "$CACHE/kafka"

key=$(cat hack/streaming/debezium-pom.xml hack/streaming/connect-file-pom.xml hack/maven-settings.xml | sha256sum | cut -c1-12)
PLUGINS="$CACHE/connect-plugins-$key"
if [ ! -f "$PLUGINS/.complete" ]; then
  echo "[install-streaming] Connect plugins (Debezium PostgreSQL, FileStream) into $PLUGINS" >&2
  rm -rf "$PLUGINS" && mkdir -p "$PLUGINS/debezium-postgres" "$PLUGINS/file"
  "${MVN[@]}" -f hack/streaming/debezium-pom.xml dependency:copy-dependencies \
    -DoutputDirectory="$PLUGINS/debezium-postgres" -DincludeScope=runtime >&2
  "${MVN[@]}" -f hack/streaming/connect-file-pom.xml dependency:copy-dependencies \
    -DoutputDirectory="$PLUGINS/file" -DincludeScope=runtime >&2
  touch "$PLUGINS/.complete"
fi
ln -sfn "$PLUGINS" "$CACHE/connect-plugins"

# PostgreSQL: Debian's server when installed, else its packages unpacked into the cache.
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/postgres" ]; then
  PG="$CACHE/postgresql-deb"
  if [ ! -f "$PG/.complete" ]; then
    echo "[install-streaming] PostgreSQL from Debian packages into $PG" >&2
    rm -rf "$PG" && mkdir -p "$PG/debs"
    (cd "$PG/debs" && apt-get download postgresql-15 postgresql-client-15 libpq5 >&2)
    for deb in "$PG"/debs/*.deb; do dpkg-deb -x "$deb" "$PG/root"; done
    touch "$PG/.complete"
  fi
  pg_bin=$(ls -d "$PG"/root/usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
ln -sfn "$pg_bin" "$CACHE/postgres-bin"
echo "[install-streaming] kafka=$CACHE/kafka connect-plugins=$CACHE/connect-plugins postgres-bin=$pg_bin" >&2
