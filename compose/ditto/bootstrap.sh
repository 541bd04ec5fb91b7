#!/bin/sh
# Create Centinela's policy and Kafka connection in Eclipse Ditto through its HTTP API.
# Idempotent: PUT creates or replaces. Needs curl (the compose service uses the curl image).
#   DITTO_URL (default http://localhost:8080), DITTO_USER, DITTO_PASSWORD, DITTO_DEVOPS_PASSWORD
# The policy id is the one in policy-centinela.json.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
DITTO_URL=${DITTO_URL:-http://localhost:8080}
POLICY_ID=org.centinela:centinela
: "${DITTO_USER:?set DITTO_USER}"
: "${DITTO_PASSWORD:?set DITTO_PASSWORD}"
: "${DITTO_DEVOPS_PASSWORD:?set DITTO_DEVOPS_PASSWORD}"

echo "waiting for Ditto at $DITTO_URL"
tries=0
until curl -fsS -o /dev/null "$DITTO_URL/status/health"; do
  tries=$((tries + 1))
  if [ "$tries" -ge 90 ]; then
    echo "Ditto at $DITTO_URL did not become healthy in 180 s" >&2
    exit 1
  fi
  sleep 2
done

put() { # put URL FILE USER:PASSWORD
  code=$(curl -sS -o /tmp/ditto-response.json -w '%{http_code}' -X PUT -u "$3" \
    -H 'Content-Type: application/json' --data-binary "@$2" "$1")
  case $code in
  200 | 201 | 204) echo "PUT $1 -> $code" ;;
  *)
    echo "PUT $1 -> $code" >&2
    cat /tmp/ditto-response.json >&2
    exit 1
    ;;
  esac
}

put "$DITTO_URL/api/2/policies/$POLICY_ID" "$HERE/policy-centinela.json" "$DITTO_USER:$DITTO_PASSWORD"
put "$DITTO_URL/api/2/connections/centinela-kafka" "$HERE/connection-kafka.json" "devops:$DITTO_DEVOPS_PASSWORD"
echo "Ditto is set up: policy $POLICY_ID, connection centinela-kafka"
