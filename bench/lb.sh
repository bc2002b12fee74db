#!/usr/bin/env bash
# Load balancer throughput, shoal against HAProxy, in one run: the bundled
# example's three catalog tasks are put behind shoal's listener and behind an
# HAProxy round-robin backend with the same health check, then wrk loads each
# for the same bounded time on loopback. Prints requests/s, latency and the
# ratio. Needs wrk and haproxy (apt-get install wrk haproxy).
#
#   make bench-lb            # DURATION=10s CONNECTIONS=32 by default
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-32}
for tool in wrk haproxy; do
  command -v "$tool" >/dev/null || { echo "bench-lb needs $tool: apt-get install wrk haproxy" >&2; exit 1; }
done

work=$(mktemp -d)
shoal_pid="" haproxy_pid=""
cleanup() {
  [ -n "$haproxy_pid" ] && kill "$haproxy_pid" 2>/dev/null || true
  if [ -n "$shoal_pid" ]; then kill -TERM "$shoal_pid" 2>/dev/null || true; wait "$shoal_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
shoal_port=$(free_port)
haproxy_port=$(free_port)

go build -o "$work/shoal" ./cmd/shoal
sed -e "s/- port: 8080/- port: $shoal_port/" \
    -e "s|DATABASE_URL: sqlite:catalog.db|DATABASE_URL: sqlite://$work/catalog.db|" \
    -e "s|    port: 3000|    port: 3000\n    working_dir: $PWD/examples/catalog|" \
    examples/catalog/shoal.yaml > "$work/shoal.yaml"
"$work/shoal" up -f "$work/shoal.yaml" --state-dir "$work/state" > "$work/shoal.log" 2>&1 &
shoal_pid=$!

for _ in $(seq 1 600); do
  "$work/shoal" status --json --state-dir "$work/state" 2>/dev/null | grep -q '"steady_state": true' && break
  sleep 0.1
done
"$work/shoal" status --state-dir "$work/state"

targets=$("$work/shoal" targets --json --state-dir "$work/state" | python3 -c 'import json,sys; print(" ".join(t["target"] for t in json.load(sys.stdin)))')
{
  echo "global"
  echo "  maxconn 4096"
  echo "defaults"
  echo "  mode http"
  echo "  timeout connect 10s"
  echo "  timeout client 60s"
  echo "  timeout server 60s"
  echo "frontend web"
  echo "  bind 127.0.0.1:$haproxy_port"
  echo "  default_backend api"
  echo "backend api"
  echo "  balance roundrobin"
  echo "  option httpchk GET /"
  echo "  option forwardfor"
  i=0
  for t in $targets; do i=$((i+1)); echo "  server task$i $t check inter 2s"; done
} > "$work/haproxy.cfg"
haproxy -f "$work/haproxy.cfg" > "$work/haproxy.log" 2>&1 &
haproxy_pid=$!
for _ in $(seq 1 100); do curl -fs -o /dev/null "http://127.0.0.1:$haproxy_port/" && break; sleep 0.1; done

load() { wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "$1"; }
echo "== shoal   http://127.0.0.1:$shoal_port/"
shoal_out=$(load "http://127.0.0.1:$shoal_port/"); echo "$shoal_out"
echo "== haproxy http://127.0.0.1:$haproxy_port/"
haproxy_out=$(load "http://127.0.0.1:$haproxy_port/"); echo "$haproxy_out"

rps() { awk '/^Requests\/sec/ {print $2}' <<<"$1"; }
p99() { awk '$1=="99%" {print $2}' <<<"$1"; }
non2xx() { awk '/Non-2xx/ {n=$NF} END {print n+0}' <<<"$1"; }
echo
echo "shoal:   $(rps "$shoal_out") req/s, p99 $(p99 "$shoal_out"), non-2xx $(non2xx "$shoal_out")"
echo "haproxy: $(rps "$haproxy_out") req/s, p99 $(p99 "$haproxy_out"), non-2xx $(non2xx "$haproxy_out")"
python3 -c "print('shoal/haproxy throughput ratio: %.2f' % ($(rps "$shoal_out")/$(rps "$haproxy_out")))"
