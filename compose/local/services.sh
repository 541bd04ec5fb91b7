#!/usr/bin/env bash
# Centinela's local services on 127.0.0.1: PostgreSQL and Redis from Debian's packages, and a
# single-node Apache Kafka broker (KRaft) assembled from Maven Central jars with mvn.
#
#   compose/local/services.sh start  [postgres] [redis] [kafka]   install when missing, start, wait
#   compose/local/services.sh stop   [postgres] [redis] [kafka]
#   compose/local/services.sh status [postgres] [redis] [kafka]
#
# Idempotent: a running service is reused. Settings (environment):
#   CENTINELA_SERVICES_DIR  data, logs and pid files   (default: <repo>/.services)
#   CENTINELA_CACHE_DIR     Kafka jars                  (default: <repo>/.cache)
#   CENTINELA_PG_PORT 55432, CENTINELA_REDIS_PORT 56379,
#   CENTINELA_KAFKA_PORT 59092, CENTINELA_KAFKA_CONTROLLER_PORT (Kafka port + 1)
#   CI=true                 a service that cannot start fails the run (exit 1); elsewhere a warning
# The URLs are written to $CENTINELA_SERVICES_DIR/env (CENTINELA_POSTGRES, CENTINELA_REDIS, CENTINELA_KAFKA).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SERVICES=${CENTINELA_SERVICES_DIR:-$ROOT/.services}
CACHE=${CENTINELA_CACHE_DIR:-$ROOT/.cache}
PG_PORT=${CENTINELA_PG_PORT:-55432}
REDIS_PORT=${CENTINELA_REDIS_PORT:-56379}
KAFKA_PORT=${CENTINELA_KAFKA_PORT:-59092}
KAFKA_CONTROLLER_PORT=${CENTINELA_KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}
KAFKA_LIBS=$CACHE/kafka/libs
PG_USER=centinela
PG_DB=centinela
case "${CI:-}" in 1 | true | TRUE | yes) STRICT=1 ;; *) STRICT=0 ;; esac
APT_UPDATED=0

log() { printf '[services] %s\n' "$*" >&2; }
now() { date +%s.%N; }
is_root() { [ "$(id -u)" = 0 ]; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_until() { # wait_until SECONDS COMMAND... : poll every 0.2 s
  local deadline=$((SECONDS + $1))
  shift
  while ! "$@"; do
    [ "$SECONDS" -ge "$deadline" ] && return 1
    sleep 0.2
  done
}

apt_install() { # apt_install PACKAGE...: only as root, `apt-get update` once per run
  if ! is_root; then
    log "missing $*: install it (apt-get install -y $*) or run as root"
    return 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || return 1
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

as_pg() { # run a PostgreSQL program as the postgres user when we are root (PostgreSQL refuses root)
  if is_root; then runuser -u postgres -- "$@"; else "$@"; fi
}

# ------------------------------------------------------------------------------------------ postgres

pg_data() { # the data directory; when the postgres user cannot reach $SERVICES, a private one in /var/tmp
  local dir=$SERVICES/postgres
  if is_root && ! runuser -u postgres -- test -x "$SERVICES"; then
    local link=$dir
    dir=/var/tmp/centinela-pg-$(printf '%s' "$SERVICES" | md5sum | cut -c1-12)
    [ -L "$link" ] || ln -sfn "$dir" "$link"
  fi
  printf '%s' "$dir"
}

pg_ready() { "$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

install_postgres() { [ -n "$(pg_bin)" ] || apt_install postgresql; }

start_postgres() {
  local bin data
  bin=$(pg_bin)
  data=$(pg_data)
  if pg_ready; then
    log "postgres: reusing the server on 127.0.0.1:$PG_PORT"
    return 0
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    log "postgres: initdb $data"
    mkdir -p "$data"
    is_root && chown postgres: "$data" && chmod 700 "$data"
    as_pg "$bin/initdb" -D "$data" -U "$PG_USER" -E UTF8 --no-locale --auth=trust >"$SERVICES/postgres-initdb.log" 2>&1 || {
      cat "$SERVICES/postgres-initdb.log" >&2
      return 1
    }
    cat >>"$data/postgresql.conf" <<EOF
# Centinela dev server: loopback only.
listen_addresses = '127.0.0.1'
unix_socket_directories = '$data'
max_connections = 200
shared_buffers = 256MB
max_wal_size = 2GB
EOF
    # Loopback only, no passwords: this is a throw-away development server.
    printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$data/pg_hba.conf"
  fi
  as_pg "$bin/pg_ctl" -D "$data" -l "$data/server.log" -o "-p $PG_PORT" -w -t 60 start >/dev/null || {
    tail -n 20 "$data/server.log" >&2
    return 1
  }
  if ! "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" "$PG_DB" || return 1
  fi
  log "postgres: ready on 127.0.0.1:$PG_PORT"
}

stop_postgres() {
  local bin data
  bin=$(pg_bin)
  data=$(pg_data)
  [ -n "$bin" ] && [ -f "$data/postmaster.pid" ] || return 0
  as_pg "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null 2>&1 && log "postgres: stopped"
  return 0
}

# ------------------------------------------------------------------------------------------ redis

redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

install_redis() { command -v redis-server >/dev/null || apt_install redis-server; }

start_redis() {
  if redis_ready; then
    log "redis: reusing the server on 127.0.0.1:$REDIS_PORT"
    return 0
  fi
  mkdir -p "$SERVICES/redis"
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --protected-mode yes --daemonize yes \
    --dir "$SERVICES/redis" --pidfile "$SERVICES/redis/redis.pid" --logfile "$SERVICES/redis/redis.log" \
    --save 60 1000 --appendonly yes --appendfsync everysec || return 1
  wait_until 30 redis_ready || {
    tail -n 20 "$SERVICES/redis/redis.log" >&2
    return 1
  }
  log "redis: ready on 127.0.0.1:$REDIS_PORT"
}

stop_redis() {
  command -v redis-cli >/dev/null || return 0
  redis_ready || return 0
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown >/dev/null 2>&1
  wait_until 30 bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$REDIS_PORT) 2>/dev/null"
  log "redis: stopped"
}

# ------------------------------------------------------------------------------------------ kafka

KAFKA_JVM_OPTS=${CENTINELA_KAFKA_JVM_OPTS:--Xms256m -Xmx768m -XX:+UseG1GC}

kafka_java() { # java -cp <jars> CLASS ARGS...
  # shellcheck disable=SC2086 # the options are a list of words
  exec_java java $KAFKA_JVM_OPTS -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$HERE/kafka-log4j2.properties" -Dkafka.logs.dir="$SERVICES/kafka" \
    -cp "$KAFKA_LIBS/*" "$@"
}

install_kafka() {
  local missing=()
  command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
  command -v mvn >/dev/null || missing+=(maven)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

kafka_fetch() {
  [ -f "$KAFKA_LIBS/.complete" ] && return 0
  log "kafka: fetching the broker's jars from Maven Central into $KAFKA_LIBS"
  rm -rf "$KAFKA_LIBS"
  mkdir -p "$CACHE"
  mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" dependency:copy-dependencies -DincludeScope=runtime \
    -DoutputDirectory="$KAFKA_LIBS" >"$CACHE/kafka-mvn.log" 2>&1 || {
    tail -n 30 "$CACHE/kafka-mvn.log" >&2
    return 1
  }
  touch "$KAFKA_LIBS/.complete"
}

exec_java() { # the JVM in the foreground, or detached in its own session when KAFKA_DETACH=1
  if [ "${KAFKA_DETACH:-0}" = 1 ]; then exec setsid "$@"; else "$@"; fi
}

kafka_pid() { # the pid of our running broker, if any
  local pid
  pid=$(cat "$SERVICES/kafka/kafka.pid" 2>/dev/null) || return 1
  kill -0 "$pid" 2>/dev/null && printf '%s' "$pid"
}

kafka_started() { grep -q 'Kafka Server started' "$SERVICES/kafka/server.log" 2>/dev/null && port_open "$KAFKA_PORT"; }

kafka_settled() { kafka_started || ! kafka_pid >/dev/null; } # started, or the JVM has exited

start_kafka() {
  kafka_fetch || return 1
  if kafka_pid >/dev/null && port_open "$KAFKA_PORT"; then
    log "kafka: reusing the broker on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  if port_open "$KAFKA_PORT"; then
    log "kafka: reusing the broker already listening on 127.0.0.1:$KAFKA_PORT"
    return 0
  fi
  local dir=$SERVICES/kafka
  mkdir -p "$dir/data"
  sed -e "s|@PORT@|$KAFKA_PORT|g" -e "s|@CONTROLLER_PORT@|$KAFKA_CONTROLLER_PORT|g" -e "s|@DATA@|$dir/data|g" \
    "$HERE/kafka-server.properties.in" >"$dir/server.properties"
  if [ ! -f "$dir/data/meta.properties" ]; then
    local cluster
    # A cluster id is 16 random bytes in URL-safe base64 without padding (what `random-uuid` prints).
    # One starting with '-' would be read as an option by kafka-storage, so draw again.
    cluster=-
    while [ "${cluster#-}" != "$cluster" ]; do
      cluster=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    done
    KAFKA_JVM_OPTS="-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC" \
      kafka_java kafka.tools.StorageTool format -t "$cluster" -c "$dir/server.properties" \
      >"$dir/format.log" 2>&1 || {
      cat "$dir/format.log" >&2
      return 1
    }
  fi
  : >"$dir/server.log"
  # setsid: the broker outlives this script and the terminal or make that ran it.
  KAFKA_DETACH=1 kafka_java kafka.Kafka "$dir/server.properties" >"$dir/stdout.log" 2>&1 </dev/null &
  echo $! >"$dir/kafka.pid"
  wait_until 120 kafka_settled
  kafka_started || {
    tail -n 30 "$dir/server.log" "$dir/stdout.log" >&2
    return 1
  }
  log "kafka: ready on 127.0.0.1:$KAFKA_PORT"
}

stop_kafka() {
  local pid
  pid=$(kafka_pid) || return 0
  kill -TERM "$pid" 2>/dev/null
  wait_until 60 bash -c "! kill -0 $pid 2>/dev/null" || kill -KILL "$pid" 2>/dev/null
  rm -f "$SERVICES/kafka/kafka.pid"
  log "kafka: stopped"
}

# ------------------------------------------------------------------------------------------ main

write_env() {
  cat >"$SERVICES/env" <<EOF
CENTINELA_POSTGRES=postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB
CENTINELA_REDIS=redis://127.0.0.1:$REDIS_PORT/0
CENTINELA_KAFKA=kafka://127.0.0.1:$KAFKA_PORT
EOF
}

status_one() {
  case $1 in
  postgres) [ -n "$(pg_bin)" ] && pg_ready ;;
  redis) command -v redis-cli >/dev/null && redis_ready ;;
  kafka) port_open "$KAFKA_PORT" ;;
  esac
}

main() {
  local action=${1:-start}
  shift || true
  local names=("$@")
  [ ${#names[@]} -eq 0 ] && names=(postgres redis kafka)
  for name in "${names[@]}"; do
    case $name in postgres | redis | kafka) ;; *)
      log "unknown service '$name' (expected postgres, redis or kafka)"
      exit 2
      ;;
    esac
  done
  mkdir -p "$SERVICES"
  local failed=0 started
  started=$(now)
  case $action in
  start)
    # Install one after the other (apt holds a lock), then start all at once and wait for each.
    local ok=() pids=()
    for name in "${names[@]}"; do
      if "install_$name"; then ok+=("$name"); else
        log "$name: could not be installed"
        failed=1
      fi
    done
    for name in "${ok[@]}"; do
      "start_$name" &
      pids+=($!)
    done
    for i in "${!pids[@]}"; do
      if ! wait "${pids[$i]}"; then
        log "${ok[$i]}: could not start"
        failed=1
      fi
    done
    write_env
    log "$(printf 'started in %.1f s; URLs in %s' "$(awk "BEGIN { print $(now) - $started }")" "$SERVICES/env")"
    if [ "$failed" = 1 ]; then
      [ "$STRICT" = 1 ] && exit 1
      log "continuing without the failed services (CI is not set): their tests will be skipped"
    fi
    ;;
  stop)
    for name in "${names[@]}"; do "stop_$name"; done
    ;;
  status)
    for name in "${names[@]}"; do
      if status_one "$name"; then echo "$name: up"; else
        echo "$name: down"
        failed=1
      fi
    done
    exit "$failed"
    ;;
  *)
    log "unknown action '$action' (expected start, stop or status)"
    exit 2
    ;;
  esac
}

main "$@"
