# bench/lib.sh — shared by the benchmark scripts (accept.sh, relay.sh, restart.sh, lmtp.sh); source it, do
# not run it. It reads the common environment, makes the temp dir, sets the EXIT trap
# that stops everything a script started, and provides:
#   helpers        log now calc free_port wait_listening count_files last_mtime
#                  wait_for_count
#   load           run_source (smtp-source against one port, timed)
#   smtp-sink      start_sink stop_sink sink_counter bench_sink (the ceiling row)
#   tern           start_tern stop_tern tern_fail
#   Postfix        start_postfix stop_postfix postfix_queue_count postfix_row
#   report         print_report (rows, commands, notes; title and columns from the script)
# The sourcing script sets RCPT, report_title, report_store and report_columns.
# shellcheck shell=bash disable=SC2034,SC2154  # variables shared with the scripts

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bench_name=$(basename "$0")
MESSAGES=${MESSAGES:-10000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-2048}
TERN_BIN=$(realpath -m "${TERN_BIN:-$repo/build/tern}")
TERN_LOG_LEVEL=${TERN_LOG_LEVEL:-info}
DELIVERY_TIMEOUT=${DELIVERY_TIMEOUT:-300}
ONLY=${ONLY:-}
KEEP=${KEEP:-0}
FROM=bench@example.test

for v in MESSAGES SESSIONS SIZE DELIVERY_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$bench_name: $v must be a positive integer" >&2; exit 2; }
done
case $ONLY in ''|tern|postfix) ;; *) echo "$bench_name: ONLY must be tern or postfix" >&2; exit 2 ;; esac
command -v smtp-source >/dev/null || { echo "$bench_name: smtp-source missing: run scripts/deps.sh" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tern-bench.XXXXXX")
chmod 755 "$work"   # Postfix's virtual(8) runs as nobody and must reach its Maildir below
tern_pid=""
sink_pid=""
postfix_dir=""
rows=()
commands=()
notes=()
tern_rss=""
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

# Stops what the script started: tern and smtp-sink by their pids, Postfix by its own
# stop command and, if its master outlives that, by the pid in its pid file.
cleanup() {
  set +e
  stop_tern
  stop_sink
  stop_postfix
  if [ "$KEEP" = 1 ]; then echo "kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers

log() { echo "$bench_name: $*" >&2; }
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

# wait_for_count INTERVAL WHAT WATCH COMMAND [ARGS...]
# Runs COMMAND every INTERVAL seconds until the first word it prints is at least
# MESSAGES, for at most DELIVERY_TIMEOUT seconds. WATCH: space-separated "pid:name"
# of processes that must stay alive meanwhile ("" for none). WHAT: what the count
# counts, for the error ("delivered"). Sets wait_out (COMMAND's last output) and
# wait_count; on failure sets result_error and returns 1.
wait_for_count() {
  local interval=$1 what=$2 watch=$3 deadline w
  shift 3
  deadline=$(( $(date +%s) + DELIVERY_TIMEOUT ))
  while :; do
    wait_out=$("$@")
    wait_count=${wait_out%% *}
    [ "$wait_count" -ge "$MESSAGES" ] && return 0
    for w in $watch; do
      if ! kill -0 "${w%%:*}" 2>/dev/null; then
        result_error="${w#*:} exited during delivery ($wait_count/$MESSAGES $what)"
        return 1
      fi
    done
    if [ "$(date +%s)" -ge "$deadline" ]; then
      result_error="$wait_count/$MESSAGES $what after ${DELIVERY_TIMEOUT}s"
      return 1
    fi
    sleep "$interval"
  done
}

# ---------------------------------------------------------------- load

# run_source NAME PORT: smtp-source, SESSIONS sessions x MESSAGES messages x SIZE
# octets from FROM to RCPT, against 127.0.0.1:PORT; output in $work/NAME-source.out.
# Sets source_t0 (start), result_accept (msgs/s); on failure result_error, returns 1.
run_source() {
  local name=$1 port=$2 t1 rc=0
  result_accept="" result_error=""
  local cmd=(smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f "$FROM" -t "$RCPT" "127.0.0.1:$port")
  commands+=("$name load: ${cmd[*]}")
  sync
  source_t0=$(now)
  "${cmd[@]}" >"$work/$name-source.out" 2>&1 || rc=$?
  t1=$(now)
  if [ "$rc" -ne 0 ]; then
    result_error="smtp-source exit $rc: $(tail -1 "$work/$name-source.out")"
    return 1
  fi
  result_accept=$(calc "$MESSAGES / ($t1 - $source_t0)")
}

# ---------------------------------------------------------------- smtp-sink

# start_sink NAME [OPTIONS...]: smtp-sink on a free loopback port (as nobody when run
# as root: it refuses to run as root), stdout in $work/NAME-sink.out, stderr in
# $work/NAME-sink.err. Sets sink_pid, sink_port, sink_cmd; returns 1 (with
# result_error) when it does not listen within 10 s.
start_sink() {
  local name=$1 user=()
  shift
  sink_port=$(free_port)
  [ "$(id -u)" -ne 0 ] || user=(-u nobody)
  sink_cmd="smtp-sink ${user[*]}${user[*]:+ }$*${*:+ }127.0.0.1:$sink_port 100"
  smtp-sink "${user[@]}" "$@" "127.0.0.1:$sink_port" 100 >"$work/$name-sink.out" 2>"$work/$name-sink.err" &
  sink_pid=$!
  if ! wait_listening "$sink_port" "$sink_pid"; then
    result_error="smtp-sink did not listen on 127.0.0.1:$sink_port: $(tail -1 "$work/$name-sink.err")"
    stop_sink
    return 1
  fi
}

stop_sink() {
  [ -n "$sink_pid" ] || return 0
  kill "$sink_pid" 2>/dev/null
  wait "$sink_pid" 2>/dev/null || true
  sink_pid=""
}

# sink_counter FILE: the output of `smtp-sink -c` is one "sess=N quit=N mesg=N" record
# per event, each ended by \r, written as it happens. Prints the mesg counter of the
# last complete record (0 before the first) and then the file's modification time,
# read after the counter: so it is no earlier than the last counted message.
sink_counter() {
  local s n=0
  s=$(tail -c 200 "$1" 2>/dev/null || true)
  if [[ $s == *$'\r'* ]]; then
    s=${s%$'\r'*}
    s=${s##*$'\r'}
    [[ $s =~ mesg=([0-9]+) ]] && n=${BASH_REMATCH[1]}
  fi
  echo "$n $(stat -c %.9Y "$1" 2>/dev/null || echo 0)"
}

# smtp-source into smtp-sink (no queue, no disk): the most this load generator can send
# on this machine, to read the other rows against.
bench_sink() {
  local t0 t1 rc=0
  if ! start_sink sink; then
    rows+=("| smtp-sink (no queue) | not run: $result_error | | 0 |")
    return 0
  fi
  local cmd=(smtp-source -s "$SESSIONS" -m "$MESSAGES" -l "$SIZE" -f "$FROM" -t "$RCPT" "127.0.0.1:$sink_port")
  commands+=("ceiling: $sink_cmd; ${cmd[*]}")
  t0=$(now)
  "${cmd[@]}" >"$work/sink-source.out" 2>&1 || rc=$?
  t1=$(now)
  stop_sink
  if [ "$rc" -eq 0 ]; then
    rows+=("| smtp-sink (no queue: load generator ceiling) | $(calc "$MESSAGES / ($t1 - $t0)") | - | $MESSAGES |")
  else
    rows+=("| smtp-sink (no queue) | failed: $(tail -1 "$work/sink-source.out") | | |")
  fi
}

# ---------------------------------------------------------------- tern

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

# start_tern USERS [EXTRA_TOML]: `tern serve` in $work/tern (data_dir data/) on a free
# loopback port, local domain example.test with USERS (a TOML array), after `tern
# check-config`. tern_domains (a TOML array) replaces the local domains when set.
# Sets tern_dir, tern_port, tern_pid, tern_version; tern_fail on error.
start_tern() {
  local users=$1 extra=${2:-} conf domains=${tern_domains:-'["example.test"]'}
  tern_dir=$work/tern
  [ -x "$TERN_BIN" ] || tern_fail "no executable at $TERN_BIN (make build, or set TERN_BIN)"
  mkdir -p "$tern_dir"
  tern_port=$(free_port)
  conf=$tern_dir/tern.toml
  # Per-IP and total connection limits above the load's parallelism: every session
  # comes from 127.0.0.1, and a closing connection may still count for a moment.
  cat >"$conf" <<EOF
hostname = "tern.bench.example.test"
data_dir = "$tern_dir/data"
log_level = "$TERN_LOG_LEVEL"

[[listener]]
address = "127.0.0.1:$tern_port"

[local]
domains = $domains
users = $users
accept_any_user = false

[limits]
max_connections = $(( SESSIONS * 2 + 1000 ))
max_connections_per_ip = $(( SESSIONS * 2 + 50 ))
EOF
  [ -z "$extra" ] || printf '\n%s\n' "$extra" >>"$conf"
  "$TERN_BIN" check-config --config "$conf" >"$tern_dir/check.out" 2>&1 ||
    tern_fail "tern check-config rejected $conf: $(cat "$tern_dir/check.out")"
  commands+=("tern: (cd $tern_dir && $TERN_BIN serve --config $conf)  # listener 127.0.0.1:$tern_port, log_level $TERN_LOG_LEVEL")
  (cd "$tern_dir" && exec "$TERN_BIN" serve --config "$conf") 2>"$tern_dir/tern.log" &
  tern_pid=$!
  wait_listening "$tern_port" "$tern_pid" || tern_fail "tern did not listen on 127.0.0.1:$tern_port within 10 s"
  tern_version=$("$TERN_BIN" --version 2>/dev/null || echo tern)
}

# Peak resident memory of the running tern, for the report.
read_tern_rss() { tern_rss=$(awk '/^VmHWM/ { print $2 " " $3 }' "/proc/$tern_pid/status"); }

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

# start_postfix EXTRA_MAIN_CF WHAT: a private Postfix in $work/postfix (queue/, data/,
# etc/, postfix.log), smtpd on a free loopback port. EXTRA_MAIN_CF: main.cf lines of
# the benchmark (delivery, relayhost); WHAT: a comment for the command line. Sets
# postfix_port, postfix_version; when it cannot run, adds its "not run" row and
# returns 1. The script must create $work/postfix first if EXTRA_MAIN_CF refers to it.
start_postfix() {
  local extra=$1 what=$2 dir=$work/postfix out
  postfix_version="(not installed)"
  if ! command -v postfix >/dev/null || ! command -v postconf >/dev/null; then
    postfix_row "$postfix_version" "not run: postfix is not installed (scripts/deps.sh)" "" 0
    return 1
  fi
  mkdir -p "$dir/etc" "$dir/queue"
  postfix_port=$(free_port)
  # Debian's defaults except what a private instance needs: its own queue, data and
  # log, loopback only, no local(8) aliases; the script adds how mail leaves.
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
alias_maps =
alias_database =
biff = no
append_dot_mydomain = no
readme_directory = no
default_process_limit = $(( SESSIONS + 100 ))
$extra
EOF
  # master.cf.dist with chroot off everywhere (a private queue has no etc/ copies)
  # and smtpd on a loopback port.
  awk -v port="$postfix_port" '
    /^[^#[:space:]]/ && NF >= 8 { $5 = "n" }
    $1 == "smtp" && $2 == "inet" { $1 = "127.0.0.1:" port }
    { print }' /usr/share/postfix/master.cf.dist >"$dir/etc/master.cf"
  postfix_dir=$dir/etc
  postfix_version=$(postconf -c "$dir/etc" -h mail_version 2>/dev/null || echo "?")
  if ! out=$(postfix -c "$dir/etc" check 2>&1); then
    postfix_row "$postfix_version" "not run: postfix check failed: ${out:-exit 1, see $dir/postfix.log}" "" 0
    return 1
  fi
  commands+=("Postfix: postfix -c $dir/etc start  # smtpd 127.0.0.1:$postfix_port, $what")
  if ! out=$(postfix -c "$dir/etc" start 2>&1); then
    postfix_row "$postfix_version" "not run: postfix start failed: $(echo "$out" | tail -1)" "" 0
    return 1
  fi
  if ! wait_listening "$postfix_port"; then
    postfix_row "$postfix_version" "not run: smtpd not listening on 127.0.0.1:$postfix_port after 10 s" "" 0
    return 1
  fi
}

# Messages in the private Postfix's queue (maildrop, incoming, active, deferred, hold).
postfix_queue_count() {
  local q=$work/postfix/queue
  { find "$q/maildrop" "$q/incoming" "$q/active" "$q/deferred" "$q/hold" -type f 2>/dev/null || true; } | wc -l
}

# ---------------------------------------------------------------- report

# report_title: first line; report_store: what lives in $work ("queues and Maildirs");
# report_columns: the table's header row.
print_report() {
  echo
  echo "$report_title"
  echo "($(nproc) cores, load average before the run: $load_before; $report_store in $work, $(df -PT "$work" | awk 'NR == 2 { print $2 }'))"
  echo
  echo "$report_columns"
  awk -F'|' '{ s = "|"; for (i = 2; i < NF; i++) s = s "---|"; print s }' <<<"$report_columns"
  local r
  for r in "${rows[@]}"; do echo "$r"; done
  echo
  echo "Command lines:"
  for r in "${commands[@]}"; do echo "  $r"; done
  for r in "${notes[@]}"; do echo "$r"; done
  [ -z "$tern_rss" ] || { echo; echo "tern peak RSS (VmHWM): $tern_rss"; }
}
