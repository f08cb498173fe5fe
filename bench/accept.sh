#!/usr/bin/env bash
# bench/accept.sh — durable acceptance into a local Maildir: tern against a private
# Postfix, same load, same machine, same run.
#
# Load: Postfix's smtp-source, SESSIONS parallel sessions sending MESSAGES messages of
# SIZE octets to alice@example.test (one connection per message, HELO, no pipelining:
# smtp-source's defaults). Each MTA accepts into a durable queue and delivers into
# a Maildir. Printed, not asserted:
#   accepted msgs/s   = MESSAGES / wall time of smtp-source (every 250 after DATA received)
#   delivered msgs/s  = MESSAGES / (mtime of the last Maildir file - start of smtp-source)
# A first row, smtp-source into smtp-sink (no queue, no disk), shows the ceiling of the
# load generator itself on this machine.
#
# Environment: MESSAGES (10000) SESSIONS (20) SIZE (2048) TERN_BIN (build/tern)
#   ONLY=tern|postfix    run one side only (and skip the smtp-sink ceiling row)
#   TERN_LOG_LEVEL       log_level for tern (info, as a production server logs)
#   DELIVERY_TIMEOUT     seconds to wait for the last Maildir file after the load (300)
#   KEEP=1               keep the temp dir (configs, logs, queues, Maildirs)
# Exit status: 0 when tern ran and delivered everything (Postfix problems are only
# reported in its table row); 1 when tern failed.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
MESSAGES=${MESSAGES:-10000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-2048}
TERN_BIN=$(realpath -m "${TERN_BIN:-$repo/build/tern}")
TERN_LOG_LEVEL=${TERN_LOG_LEVEL:-info}
DELIVERY_TIMEOUT=${DELIVERY_TIMEOUT:-300}
ONLY=${ONLY:-}
KEEP=${KEEP:-0}
FROM=bench@example.test
RCPT=alice@example.test

for v in MESSAGES SESSIONS SIZE DELIVERY_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "accept.sh: $v must be a positive integer" >&2; exit 2; }
done
case $ONLY in ''|tern|postfix) ;; *) echo "accept.sh: ONLY must be tern or postfix" >&2; exit 2 ;; esac
command -v smtp-source >/dev/null || { echo "accept.sh: smtp-source missing: run scripts/deps.sh" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench.XXXXXX")
chmod 755 "$work"   # Postfix's virtual(8) runs as nobody and must reach its Maildir below
tern_pid=""
postfix_dir=""

# Stops what this script started: tern by its pid, Postfix by its own stop command and,
# if its master outlives that, by the pid in its pid file.
cleanup() {
  set +e
  stop_tern
  stop_postfix
  if [ "$KEEP" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "accept.sh: $*" >&2; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.${2:-0}f\", $1 }"; }

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits (bounded, 10 s) until a socket listens on 127.0.0.1:$1, read from /proc/net/tcp
# so that no probe connection shows up in the servers' logs and counters.
# $2: pid that must stay alive meanwhile (optional).
wait_listening() {
  local port=$1 pid=${2:-} hex i
  hex=$(printf '0100007F:%04X' "$port")
  for ((i = 0; i < 100; i++)); do
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
    if awk -v a="$hex" '$2 == a && $4 == "0A" { found = 1 } END { exit !found }' /proc/net/tcp; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

count_files() { { find "$1" -maxdepth 1 -type f 2>/dev/null || true; } | wc -l; }
last_mtime() { { find "$1" -maxdepth 1 -type f -printf '%T@\n' 2>/dev/null || true; } | sort -n | tail -1; }

# Runs the load against 127.0.0.1:$2, then waits for the Maildir $3 to hold every
# message. Sets: result_accept, result_deliver, result_count, result_error.
# $1: name (for files), $4: pid that must stay alive (optional).
run_load() {
  local name=$1 port=$2 maildir=$3 pid=${4:-} t0 t1 rc=0 deadline n last
  result_accept="" result_deliver="" result_count=0 result_error=""
  local cmd=(smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f "$FROM" -t "$RCPT" "127.0.0.1:$port")
  commands+=("$name load: ${cmd[*]}")
  sync
  t0=$(now)
  "${cmd[@]}" >"$work/$name-source.out" 2>&1 || rc=$?
  t1=$(now)
  if [ "$rc" -ne 0 ]; then
    result_error="smtp-source exit $rc: $(tail -1 "$work/$name-source.out")"
    return 1
  fi
  result_accept=$(calc "$MESSAGES / ($t1 - $t0)")
  deadline=$(( $(date +%s) + DELIVERY_TIMEOUT ))
  while :; do
    n=$(count_files "$maildir")
    [ "$n" -ge "$MESSAGES" ] && break
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
      result_count=$n result_error="exited during delivery ($n/$MESSAGES delivered)"
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      result_count=$n result_error="$n/$MESSAGES delivered after ${DELIVERY_TIMEOUT}s"
      return 1
    fi
    sleep 0.5
  done
  result_count=$n
  last=$(last_mtime "$maildir")
  result_deliver=$(calc "$MESSAGES / ($last - $t0)")
}

# ---------------------------------------------------------------- tern

tern_rss=""
tern_exit=""
stop_tern() {
  [ -n "$tern_pid" ] || return 0
  local i
  tern_exit=0
  kill -TERM "$tern_pid" 2>/dev/null
  for ((i = 0; i < 100; i++)); do kill -0 "$tern_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$tern_pid" 2>/dev/null; then
    log "tern (pid $tern_pid) ignored SIGTERM for 10 s: SIGKILL"
    kill -KILL "$tern_pid" 2>/dev/null
  fi
  wait "$tern_pid" 2>/dev/null || tern_exit=$?
  tern_pid=""
}

tern_fail() {
  log "TERN FAILED: $*"
  if [ -f "$work/tern/tern.log" ]; then
    log "last lines of the tern log:"
    tail -20 "$work/tern/tern.log" >&2
  fi
  print_report
  exit 1
}

bench_tern() {
  local dir=$work/tern port conf
  [ -x "$TERN_BIN" ] || tern_fail "no executable at $TERN_BIN (make build, or set TERN_BIN)"
  mkdir -p "$dir"
  port=$(free_port)
  conf=$dir/tern.toml
  # Per-IP and total connection limits above the load's parallelism: every session
  # comes from 127.0.0.1, and a closing connection may still count for a moment.
  cat >"$conf" <<EOF
hostname = "tern.bench.example.test"
data_dir = "$dir/data"
log_level = "$TERN_LOG_LEVEL"

[[listener]]
address = "127.0.0.1:$port"

[local]
domains = ["example.test"]
users = ["alice"]
accept_any_user = false

[limits]
max_connections = $(( SESSIONS * 2 + 1000 ))
max_connections_per_ip = $(( SESSIONS * 2 + 50 ))
EOF
  "$TERN_BIN" check-config --config "$conf" >"$dir/check.out" 2>&1 ||
    tern_fail "tern check-config rejected $conf: $(cat "$dir/check.out")"
  commands+=("tern: (cd $dir && $TERN_BIN serve --config $conf)  # listener 127.0.0.1:$port, log_level $TERN_LOG_LEVEL")
  (cd "$dir" && exec "$TERN_BIN" serve --config "$conf") 2>"$dir/tern.log" &
  tern_pid=$!
  wait_listening "$port" "$tern_pid" || tern_fail "tern did not listen on 127.0.0.1:$port within 10 s"
  local version
  version=$("$TERN_BIN" --version 2>/dev/null || echo tern)
  if ! run_load tern "$port" "$dir/data/mail/example.test/alice/new" "$tern_pid"; then
    rows+=("| $version | ${result_accept:-failed} | FAILED: $result_error | $result_count/$MESSAGES |")
    tern_fail "$result_error"
  fi
  tern_rss=$(awk '/^VmHWM/ { print $2 " " $3 }' "/proc/$tern_pid/status")
  rows+=("| $version | $result_accept | $result_deliver | $result_count |")
  stop_tern
  [ "$tern_exit" = 0 ] || tern_fail "tern exited with status $tern_exit after SIGTERM (expected 0)"
  local left
  left=$(count_files "$dir/data/queue/active")
  [ "$left" -eq 0 ] || notes+=("warning: $left files left in tern's queue/active after every message was delivered")
}

# ---------------------------------------------------------------- load generator ceiling

# smtp-source into smtp-sink (no queue, no disk): the most this load generator can send
# on this machine, to read the other rows against.
bench_sink() {
  local port pid t0 t1 rc=0 user=()
  port=$(free_port)
  [ "$(id -u)" -ne 0 ] || user=(-u nobody)   # smtp-sink refuses to run as root
  smtp-sink "${user[@]}" "127.0.0.1:$port" 100 >"$work/sink.out" 2>&1 &
  pid=$!
  if ! wait_listening "$port" "$pid"; then
    rows+=("| smtp-sink (no queue) | not run: $(tail -1 "$work/sink.out") | | 0 |")
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
    return 0
  fi
  local cmd=(smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f "$FROM" -t "$RCPT" "127.0.0.1:$port")
  commands+=("ceiling: smtp-sink ${user[*]} 127.0.0.1:$port 100; ${cmd[*]}")
  t0=$(now)
  "${cmd[@]}" >"$work/sink-source.out" 2>&1 || rc=$?
  t1=$(now)
  kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  if [ "$rc" -eq 0 ]; then
    rows+=("| smtp-sink (no queue: load generator ceiling) | $(calc "$MESSAGES / ($t1 - $t0)") | - | $MESSAGES |")
  else
    rows+=("| smtp-sink (no queue) | failed: $(tail -1 "$work/sink-source.out") | | |")
  fi
}

# ---------------------------------------------------------------- Postfix

stop_postfix() {
  [ -n "$postfix_dir" ] || return 0
  local pidfile=$work/postfix/queue/pid/master.pid pid i
  pid=$(tr -dc 0-9 <"$pidfile" 2>/dev/null || true)
  postfix -c "$postfix_dir" stop >/dev/null 2>&1
  if [ -n "$pid" ]; then
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      postfix -c "$postfix_dir" abort >/dev/null 2>&1
      sleep 1
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    fi
  fi
  postfix_dir=""
}

postfix_row() { rows+=("| Postfix $1 | $2 | $3 | $4 |"); }

bench_postfix() {
  local dir=$work/postfix port uid gid version out
  if ! command -v postfix >/dev/null || ! command -v postconf >/dev/null; then
    postfix_row "(not installed)" "not run: postfix is not installed (scripts/deps.sh)" "" 0
    return 0
  fi
  mkdir -p "$dir/etc" "$dir/queue" "$dir/mail"
  port=$(free_port)
  uid=$(id -u nobody) gid=$(id -g nobody)
  chown "$uid:$gid" "$dir/mail"
  echo "$RCPT example.test/alice/" >"$dir/vmailbox"
  # Debian's defaults except what a private instance needs: its own queue, data and
  # log, loopback only, no local(8) aliases, virtual(8) delivery into a Maildir.
  # The queue stays durable (Postfix fsyncs each queue file before its 250).
  cat >"$dir/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
maillog_file = $dir/postfix.log
maillog_file_prefixes = $dir
myhostname = postfix.bench.example.test
mydomain = bench.example.test
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
readme_directory = no
default_process_limit = $(( SESSIONS + 100 ))
virtual_mailbox_domains = example.test
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$dir/vmailbox
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
EOF
  # master.cf.dist with chroot off everywhere (a private queue has no etc/ copies)
  # and smtpd on a loopback port.
  awk -v port="$port" '
    /^[^#[:space:]]/ && NF >= 8 { $5 = "n" }
    $1 == "smtp" && $2 == "inet" { $1 = "127.0.0.1:" port }
    { print }' /usr/share/postfix/master.cf.dist >"$dir/etc/master.cf"
  postfix_dir=$dir/etc
  version=$(postconf -c "$dir/etc" -h mail_version 2>/dev/null || echo "?")
  if ! out=$(postfix -c "$dir/etc" check 2>&1); then
    postfix_row "$version" "not run: postfix check failed: ${out:-exit 1, see $dir/postfix.log}" "" 0
    return 0
  fi
  commands+=("Postfix: postfix -c $dir/etc start  # smtpd 127.0.0.1:$port, virtual(8) into $dir/mail")
  if ! out=$(postfix -c "$dir/etc" start 2>&1); then
    postfix_row "$version" "not run: postfix start failed: $(echo "$out" | tail -1)" "" 0
    return 0
  fi
  if ! wait_listening "$port"; then
    postfix_row "$version" "not run: smtpd not listening on 127.0.0.1:$port after 10 s" "" 0
    return 0
  fi
  if run_load postfix "$port" "$dir/mail/example.test/alice/new"; then
    postfix_row "$version" "$result_accept" "$result_deliver" "$result_count"
  else
    postfix_row "$version" "${result_accept:-failed}" "failed: $result_error" "$result_count/$MESSAGES"
  fi
  stop_postfix
}

# ---------------------------------------------------------------- report

rows=()
commands=()
notes=()
print_report() {
  echo
  echo "Durable acceptance into a local Maildir: $SESSIONS sessions x $MESSAGES messages x $SIZE octets"
  echo "($(nproc) cores, load average before the run: $load_before; queues and Maildirs in $work, $(df -PT "$work" | awk 'NR == 2 { print $2 }'))"
  echo
  echo "| MTA | accepted msgs/s | delivered msgs/s (end to end) | messages |"
  echo "|---|---|---|---|"
  local r
  for r in "${rows[@]}"; do echo "$r"; done
  echo
  echo "Command lines:"
  for r in "${commands[@]}"; do echo "  $r"; done
  for r in "${notes[@]}"; do echo "$r"; done
  [ -z "$tern_rss" ] || { echo; echo "tern peak RSS (VmHWM): $tern_rss"; }
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Fail before any measurement when the binary under test is missing.
[ "$ONLY" = postfix ] || [ -x "$TERN_BIN" ] || tern_fail "no executable at $TERN_BIN (make build, or set TERN_BIN)"
[ -n "$ONLY" ] || bench_sink
[ "$ONLY" = postfix ] || bench_tern
[ "$ONLY" = tern ] || bench_postfix
print_report
