#!/usr/bin/env bash
# The load balancer benchmark (make bench-lb): shoal against nginx, HAProxy,
# Caddy and a bare net/http httputil.ReverseProxy, in one run, over the same
# two backends, as docs/performance.md describes.
#
# Each balancer runs alone on core 0 (taskset -c 0), round-robin over two
# small backends (bench/peer) with keep-alive to them and no access log;
# wrk and the backends share core 1. For each workload (100 B at 64
# connections, 16 KiB at 64, 100 B at 512) and round, wrk loads each
# balancer in turn for DURATION; the balancer's CPU time during the run
# (utime+stime of its processes, every thread, from /proc/PID/stat) divided
# by the requests wrk completed is its CPU time per request. The table gives
# the median of the rounds, and the ratios to nginx in the same run.
#
#   make bench-lb                        # DURATION=10s ROUNDS=3
#   DURATION=5s ROUNDS=1 make bench-lb   # a quick look
#   bench/lb.sh --json results.json      # also write the figures as JSON
#
# Environment: DURATION (per run, default 10s), ROUNDS (3), WARMUP (2s per
# balancer before the first round), BALANCERS (default "shoal nginx haproxy
# caddy httputil"), SHOAL_BIN (a shoal binary to use instead of building
# ./cmd/shoal), JSON (as --json), NGINX_KEEPALIVE (nginx's upstream
# keepalive, 64), WORKLOADS (default "100b-64 16k-64 100b-512"), PROFILE=1
# (a 10 s CPU profile of shoal under 100 B / 64 connections, through shoal
# up --pprof, written to PROFILE_OUT, default bench/shoal-cpu.pprof).
# Needs Go, wrk, nginx, haproxy, caddy, taskset and curl, and 2 cores.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }

here=$PWD
JSON=${JSON:-}
while [ $# -gt 0 ]; do
  case $1 in
    --json) [ $# -ge 2 ] || { echo "bench-lb: --json needs a file" >&2; exit 2; }; JSON=$2; shift 2 ;;
    --json=*) JSON=${1#--json=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench-lb: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$JSON" ] && [[ $JSON != /* ]]; then JSON=$here/$JSON; fi

cd "$(dirname "$0")/.."
root=$PWD
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2s}
BALANCERS=${BALANCERS:-shoal nginx haproxy caddy httputil}
WORKLOADS=${WORKLOADS:-100b-64 16k-64 100b-512}
NGINX_KEEPALIVE=${NGINX_KEEPALIVE:-64}
PROFILE=${PROFILE:-0}
PROFILE_OUT=${PROFILE_OUT:-$root/bench/shoal-cpu.pprof}

die() { echo "bench-lb: $*" >&2; exit 1; }

# seconds DURATION: wrk's duration (10, 10s, 2m) as whole seconds.
seconds() {
  case $1 in
    *[!0-9smh]* | '' ) return 1 ;;
    *h) echo $(( ${1%h} * 3600 )) ;;
    *m) echo $(( ${1%m} * 60 )) ;;
    *s) echo $(( ${1%s} )) ;;
    *) echo $(( $1 )) ;;
  esac
}
duration_s=$(seconds "$DURATION") || die "DURATION=$DURATION: want whole seconds, like 10s or 1m"
[ "$duration_s" -gt 0 ] || die "DURATION=$DURATION: want at least 1s"
warmup_s=$(seconds "$WARMUP") || die "WARMUP=$WARMUP: want whole seconds, like 2s (0s for none)"
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS=$ROUNDS: want a positive whole number"

apt_line="apt-get install -y nginx haproxy caddy wrk curl util-linux"
for tool in go wrk taskset curl getconf; do
  command -v "$tool" >/dev/null || die "needs $tool: $apt_line (and Go 1.26 from https://go.dev/dl/)"
done
for b in $BALANCERS; do
  case $b in
    shoal | httputil) ;;
    nginx | haproxy | caddy) command -v "$b" >/dev/null || die "needs $b: $apt_line" ;;
    *) die "BALANCERS: unknown balancer $b (shoal nginx haproxy caddy httputil)" ;;
  esac
done
[ "$(nproc --all 2>/dev/null || getconf _NPROCESSORS_ONLN)" -ge 2 ] || die "needs 2 cores (the balancer on core 0, wrk and the backends on core 1)"
taskset -c 0,1 true 2>/dev/null || die "cannot pin to cores 0 and 1 (taskset -c 0,1 failed: a cpuset that excludes them?)"
hz=$(getconf CLK_TCK)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-lb.XXXXXX")
pids=()      # the processes this script started, stopped on exit
extra=()     # their children we know of (nginx's workers), killed if left behind
cleanup() {
  local rc=$? pid i
  trap - EXIT INT TERM
  [ "$rc" -lt 128 ] || echo "bench-lb: interrupted; stopping the balancers and backends" >&2
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
  for ((i = 0; i < 100; i++)); do   # up to 10 s for an orderly stop
    local left=0
    for pid in "${pids[@]}"; do alive "$pid" && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
  for pid in "${extra[@]}"; do
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = nginx ] && kill -KILL "$pid" 2>/dev/null
  done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# alive PID: the process runs (and is not a zombie).
alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ $state != Z* ]]
}

# start NAME CORE OUT CMD...: run CMD on CORE in the background, its output
# in $work/NAME.log (standard output in OUT when given); sets started_pid.
start() {
  local name=$1 core=$2 out=$3
  shift 3
  if [ -n "$out" ]; then
    taskset -c "$core" "$@" >"$out" 2>"$work/$name.log" &
  else
    taskset -c "$core" "$@" >"$work/$name.log" 2>&1 &
  fi
  started_pid=$!
  pids+=("$started_pid")
}

# wait_for WHAT PID SECONDS CMD...: poll CMD every 0.1 s until it succeeds;
# fail with the log of WHAT when PID exits or SECONDS pass.
wait_for() {
  local what=$1 pid=$2 secs=$3 i
  shift 3
  for ((i = 0; i < secs * 10; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    alive "$pid" || { tail -n 20 "$work/$what.log" >&2 || true; die "$what exited before it was ready"; }
    sleep 0.1
  done
  tail -n 20 "$work/$what.log" >&2 || true
  die "$what not ready after ${secs}s"
}

# first_line FILE: FILE has a complete first line (an address printed).
first_line() { [ -s "$1" ] && [ "$(wc -l <"$1")" -ge 1 ]; }

# serves URL: URL answers 200 with a body.
serves() { curl -fsS --max-time 2 -o /dev/null "$1"; }

# cpu_ticks PID...: the CPU time (utime+stime, all threads, clock ticks) the
# processes used so far.
cpu_ticks() {
  local total=0 pid stat f
  for pid in "$@"; do
    stat=$(<"/proc/$pid/stat") || return 1
    stat=${stat##*) }           # after "pid (comm) ": fields 3 on
    read -r -a f <<<"$stat"
    total=$((total + f[11] + f[12]))   # fields 14 utime, 15 stime
  done
  echo "$total"
}

# core0_busy: the clock ticks core 0 was busy so far (user, nice, system,
# irq, softirq, steal), whatever ran there.
core0_busy() {
  local name user nice system irq softirq steal rest
  while read -r name user nice system _ _ irq softirq steal rest; do
    if [ "$name" = cpu0 ]; then
      echo $((user + nice + system + irq + softirq + steal))
      return 0
    fi
  done </proc/stat
  return 1
}

# backend_conns: the connections both backends accepted so far (this
# question's own included).
backend_conns() {
  local total=0 b n
  for b in "${backends[@]}"; do
    n=$(curl -fsS --max-time 2 "http://$b/_conns") || return 1
    total=$((total + n))
  done
  echo "$total"
}

echo "== building shoal and bench/peer"
if [ -n "${SHOAL_BIN:-}" ]; then
  [ -x "$SHOAL_BIN" ] || die "SHOAL_BIN=$SHOAL_BIN is not an executable"
  shoal=$SHOAL_BIN
else
  shoal=$work/shoal
  go build -o "$shoal" ./cmd/shoal ||
    die "go build ./cmd/shoal failed (a change in progress?): retry later, or build a clean checkout (git worktree add /tmp/benchwt HEAD && (cd /tmp/benchwt && go build -o /tmp/shoal ./cmd/shoal)) and run SHOAL_BIN=/tmp/shoal make bench-lb"
fi
(cd bench/peer && go build -o "$work/peer" .) || die "go build in bench/peer failed"
peer=$work/peer
commit=$(git describe --always --dirty 2>/dev/null || echo unknown)
shoal_version=$("$shoal" version 2>&1 | head -n 1)
[ -z "${SHOAL_BIN:-}" ] || commit="checkout $commit, SHOAL_BIN $SHOAL_BIN ($shoal_version)"

echo "== backends: two bench/peer servers on core 1"
backends=()
for i in 1 2; do
  start "backend$i" 1 "$work/backend$i.addr" "$peer" backend -addr 127.0.0.1:0
  wait_for "backend$i" "$started_pid" 10 first_line "$work/backend$i.addr"
  backends+=("$(head -n 1 "$work/backend$i.addr")")
  serves "http://${backends[i-1]}/100" || die "backend$i does not answer GET /100"
done
echo "   ${backends[*]}"

declare -A url measured
free_port() { "$peer" freeport; }

# shoal_healthy: both targets of the generated stack are healthy.
shoal_healthy() {
  local n
  n=$("$shoal" targets --json --state-dir "$work/state" | grep -c '"state": "healthy"') && [ "$n" -eq 2 ]
}

start_shoal() {
  local port pprof_flag=()
  port=$(free_port)
  if [ "$PROFILE" = 1 ] && "$shoal" up -h 2>&1 | grep -q -- '-pprof'; then
    pprof_port=$(free_port)
    pprof_flag=(--pprof "127.0.0.1:$pprof_port")
  fi
  cat >"$work/shoal.yaml" <<EOF
name: bench-lb
load_balancers:
  lb:
    access_log: {enabled: false}
    listeners:
      - port: $port
        default_action:
          forward:
            target_group: backends
target_groups:
  backends:
    algorithm: round_robin
    health_check: {path: /, interval: 5s, timeout: 1s, healthy_threshold: 2, unhealthy_threshold: 2}
    deregistration_delay: 0
    targets: [${backends[0]}, ${backends[1]}]
aws_api:
  enabled: false
EOF
  start shoal 0 "" "$shoal" up -q -f "$work/shoal.yaml" --state-dir "$work/state" "${pprof_flag[@]}"
  shoal_pid=$started_pid
  wait_for shoal "$shoal_pid" 60 shoal_healthy
  url[shoal]=http://127.0.0.1:$port
  # shoal balances in its own process: a child (none in this stack) is not
  # the balancer, so only shoal's PID is measured.
  measured[shoal]=$shoal_pid
  local children
  children=$(ps -o pid= --ppid "$shoal_pid" | xargs) || true
  [ -z "${children// /}" ] || echo "   note: shoal has child processes ($children); they are not measured"
}

start_nginx() {
  local port dir=$work/nginx workers
  port=$(free_port)
  mkdir -p "$dir/tmp"
  cat >"$dir/nginx.conf" <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path $dir/tmp/client;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    upstream backends {
        server ${backends[0]};
        server ${backends[1]};
        keepalive $NGINX_KEEPALIVE;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_max_temp_file_size 0;
        }
    }
}
EOF
  start nginx 0 "" nginx -p "$dir/" -e "$dir/error.log" -c nginx.conf -g 'daemon off;'
  wait_for nginx "$started_pid" 10 serves "http://127.0.0.1:$port/100"
  url[nginx]=http://127.0.0.1:$port
  workers=$(ps -o pid= --ppid "$started_pid" | xargs)
  [ -n "${workers// /}" ] || die "nginx has no worker process"
  # shellcheck disable=SC2206 # a list of PIDs
  extra+=($workers)
  measured[nginx]="$started_pid $workers" # the master, and the worker that balances
}

start_haproxy() {
  local port
  port=$(free_port)
  cat >"$work/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    option http-keep-alive
    http-reuse always
    timeout connect 10s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
frontend web
    bind 127.0.0.1:$port
    default_backend backends
backend backends
    balance roundrobin
    server b1 ${backends[0]}
    server b2 ${backends[1]}
EOF
  haproxy -c -q -f "$work/haproxy.cfg" || die "haproxy rejected $work/haproxy.cfg"
  start haproxy 0 "" haproxy -db -f "$work/haproxy.cfg"
  wait_for haproxy "$started_pid" 10 serves "http://127.0.0.1:$port/100"
  url[haproxy]=http://127.0.0.1:$port
  measured[haproxy]=$started_pid
}

start_caddy() {
  local port dir=$work/caddy
  port=$(free_port)
  mkdir -p "$dir/home" "$dir/config" "$dir/data"
  cat >"$dir/Caddyfile" <<EOF
{
	admin off
	auto_https off
	log {
		output discard
	}
}

http://127.0.0.1:$port {
	reverse_proxy ${backends[0]} ${backends[1]} {
		lb_policy round_robin
	}
}
EOF
  start caddy 0 "" env HOME="$dir/home" XDG_CONFIG_HOME="$dir/config" XDG_DATA_HOME="$dir/data" \
    caddy run --config "$dir/Caddyfile" --adapter caddyfile
  wait_for caddy "$started_pid" 20 serves "http://127.0.0.1:$port/100"
  url[caddy]=http://127.0.0.1:$port
  measured[caddy]=$started_pid # env execs caddy: the same process
}

start_httputil() {
  start httputil 0 "$work/httputil.addr" "$peer" httputil -addr 127.0.0.1:0 -backends "${backends[0]},${backends[1]}"
  wait_for httputil "$started_pid" 10 first_line "$work/httputil.addr"
  url[httputil]=http://$(head -n 1 "$work/httputil.addr")
  wait_for httputil "$started_pid" 10 serves "${url[httputil]}/100"
  measured[httputil]=$started_pid
}

echo "== balancers, each on core 0"
for b in $BALANCERS; do
  "start_$b"
  echo "   $b at ${url[$b]} (measured: PID ${measured[$b]})"
done

# wrk_run CONNS PATH SECONDS BALANCER OUT: wrk on core 1, bounded in time.
wrk_run() {
  timeout --foreground -k 5 $(($3 + 60)) \
    taskset -c 1 wrk -t1 -c"$1" -d"$3s" --timeout 5s --latency "${url[$4]}$2" >"$5" 2>&1 ||
    { cat "$5" >&2; die "wrk against $4 failed"; }
}

if [ "$warmup_s" -gt 0 ]; then
  echo "== warm-up: ${warmup_s}s of 100 B at 512 connections per balancer"
  for b in $BALANCERS; do wrk_run 512 /100 "$warmup_s" "$b" "$work/warmup.txt"; done
fi

workloads=()
for id in $WORKLOADS; do
  case $id in
    100b-64) workloads+=("100b-64|/100|64|100 B, 64 conns") ;;
    16k-64) workloads+=("16k-64|/16k|64|16 KiB, 64 conns") ;;
    100b-512) workloads+=("100b-512|/100|512|100 B, 512 conns") ;;
    *) die "WORKLOADS: unknown workload $id (100b-64 16k-64 100b-512)" ;;
  esac
done
read -r -a order <<<"$BALANCERS"
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== $ROUNDS rounds of ${duration_s}s per balancer and workload (load average before: $load)"
runs=$work/runs.tsv
: >"$runs"
for ((round = 1; round <= ROUNDS; round++)); do
  for w in "${workloads[@]}"; do
    IFS='|' read -r id path conns label <<<"$w"
    for b in "${order[@]}"; do
      out=$work/wrk-$round-$id-$b.txt
      conns_before=$(backend_conns) || die "a backend does not answer"
      # shellcheck disable=SC2086 # a list of PIDs
      before=$(cpu_ticks ${measured[$b]}) || die "$b is gone"
      core0_before=$(core0_busy)
      wrk_run "$conns" "$path" "$duration_s" "$b" "$out"
      core0_after=$(core0_busy)
      # shellcheck disable=SC2086
      after=$(cpu_ticks ${measured[$b]}) || die "$b exited during the run (log: $(tail -n 5 "$work/$b.log"))"
      conns_after=$(backend_conns) || die "a backend does not answer"
      ticks=$((after - before))
      other=$((core0_after - core0_before - ticks))
      printf '%s\t%s\t%s\t%d\t%d\t%d\t%s\t%d\t%d\n' "$b" "$id" "$label" "$round" "$ticks" "$hz" "$out" \
        $((conns_after - conns_before - ${#backends[@]})) "$other" >>"$runs"
      awk -v r="$round/$ROUNDS" -v l="$label" -v b="$b" -v t="$ticks" -v o="$other" -v hz="$hz" '
        / requests in / { n = $1; s = $4 + 0 } /^Requests\/sec/ { rps = $2 } $1 == "99%" { p99 = $2 }
        END { printf "   round %s  %-18s %-9s %9.0f req/s  p99 %-9s %6.1f us/req  core 0: %3.0f%% other\n",
                     r, l, b, rps, p99, (n ? t / hz * 1e6 / n : 0), (s ? (o > 0 ? o : 0) / hz / s * 100 : 0) }' "$out"
    done
  done
  order=("${order[@]:1}" "${order[0]}") # the next round starts with the next balancer
done

if [ "$PROFILE" = 1 ]; then
  if [[ " $BALANCERS " != *" shoal "* ]]; then
    echo "== PROFILE=1: shoal is not among BALANCERS; no profile"
  elif [ -z "${pprof_port:-}" ]; then
    echo "== PROFILE=1: this shoal's up has no --pprof flag (built before commit 1eb6d36?), so there is no profile to take"
  else
    echo "== PROFILE=1: 10 s CPU profile of shoal under 100 B at 64 connections"
    (sleep 1; curl -fsS --max-time 30 -o "$PROFILE_OUT" "http://127.0.0.1:$pprof_port/debug/pprof/profile?seconds=10") &
    prof_pid=$!
    pids+=("$prof_pid")
    wrk_run 64 /100 12 shoal "$work/wrk-profile.txt"
    if wait "$prof_pid"; then echo "   $PROFILE_OUT: go tool pprof -top $PROFILE_OUT"; else echo "   the profile could not be fetched"; fi
  fi
fi

# version TOOL ARGS...: what TOOL says its version is; nothing when it is not installed.
version() { if command -v "$1" >/dev/null; then "$@" 2>&1; fi; }

echo
echo "== results: commit $commit, $(date -u +%Y-%m-%dT%H:%MZ), ${duration_s}s x $ROUNDS rounds, median of the rounds; errors summed"
"$peer" report -runs "$runs" ${JSON:+-json "$JSON"} \
  -meta "commit=$commit" -meta "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" -meta "duration=${duration_s}s" \
  -meta "rounds=$ROUNDS" -meta "loadavg_before=$load" -meta "go=$(go env GOVERSION)" -meta "shoal=$shoal_version" \
  -meta "nginx=$(version nginx -v | sed 's/.*nginx\///')" \
  -meta "haproxy=$(version haproxy -v | awk 'NR==1 {print $3}')" \
  -meta "caddy=$(version caddy version | awk '{print $1}')" \
  -meta "wrk=$(version wrk -v | awk 'NR==1 {print $2}')"
[ -z "$JSON" ] || echo "(JSON: $JSON)"
