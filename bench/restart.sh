#!/usr/bin/env bash
# bench/restart.sh — restart with a full queue: how long an MTA holding MESSAGES deferred
# messages takes to stop, and to come back and answer 220 (design target: 100,000
# queued messages in under 5 s, ../shared/DESIGN.md). tern, then a private Postfix,
# same machine, same run.
#
# Fill: each MTA relays to a smarthost on a loopback port where nothing listens (tern:
# [relay] smarthost; Postfix: relayhost), with retries an hour apart, so every message
# is tried once, deferred, and stays queued. Load: Postfix's smtp-source, SESSIONS
# sessions sending MESSAGES messages of SIZE octets from bench@example.test to
# x@remote.test. The script waits (bounded) until every message has been deferred
# (tern: a file per message in queue/state; Postfix: queue/deferred).
# Measured, printed, not asserted, for an empty queue first and then the full one:
#   stop                 SIGTERM (tern) or `postfix stop` until the process (Postfix's
#                        master) has exited, polled every 10 ms
#   start to 220         exec of `tern serve` (or `postfix start`) until a client
#                        connecting every 10 ms gets the 220 greeting
#   start to recovered   until tern's `event=recovered count=N` line (its timestamp)
#   start to idle        until tern's CPU time stops growing for 1 s (sampled every
#                        20 ms): the scheduler has loaded every recovered message once
#                        and put it back to wait (none is due for an hour)
#   RSS                  tern's VmRSS / VmHWM once idle
#
# Environment: MESSAGES (100000) SESSIONS (20) SIZE (2048) TERN_BIN (build/tern)
#   ONLY=tern|postfix    run one side only
#   TERN_LOG_LEVEL       log_level for tern (info, as a production server logs)
#   DELIVERY_TIMEOUT     seconds to wait, after the load, for every message to be
#                        deferred (300)
#   RESTART_TIMEOUT      seconds to wait for the 220, and again for tern to go idle (120)
#   COLD=1               drop the page cache (root) before each measured start, so
#                        the queue is read from the disk as after a reboot
#   KEEP=1               keep the temp dir (configs, logs, queues, probe outputs)
# Exit status: 0 when tern filled, stopped with status 0, restarted and recovered
# every message; 1 when tern failed (Postfix problems are only reported in its rows).
# Shared code (environment, temp dir, trap, tern, Postfix, report): bench/lib.sh.
set -euo pipefail
export LC_NUMERIC=C   # EPOCHREALTIME and awk with a decimal point

MESSAGES=${MESSAGES:-100000}
RESTART_TIMEOUT=${RESTART_TIMEOUT:-120}
COLD=${COLD:-0}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

[[ $RESTART_TIMEOUT =~ ^[1-9][0-9]*$ ]] || { echo "$bench_name: RESTART_TIMEOUT must be a positive integer" >&2; exit 2; }
if [ "$COLD" = 1 ] && [ "$(id -u)" -ne 0 ]; then echo "$bench_name: COLD=1 needs root" >&2; exit 2; fi

RCPT=x@remote.test
STOP_TIMEOUT=30   # seconds after SIGTERM / postfix stop before the script kills
report_title="Restart with a full queue: $MESSAGES deferred messages x $SIZE octets (filled by $SESSIONS sessions)"
report_store="queues"
report_columns="| MTA | messages queued | stop | start to 220 | start to recovered line | start to idle | RSS once idle (VmRSS / VmHWM) |"
[ "$COLD" = 1 ] && report_title+="; page cache dropped before each start"

# The probe: started before the MTA, it connects to 127.0.0.1:PORT every 10 ms until a
# connection is answered, reads the greeting (prints t220=EPOCH when it is a 220,
# error=... otherwise), says QUIT. With IDLE=1 it then samples the CPU time of the pid
# in PIDFILE every 20 ms until it has not grown for 1 s: busy_until=EPOCH of the last
# growth, cpu=seconds of CPU used since exec (user and system). It gives up after
# TIMEOUT s each time. It touches READY once it runs.
# shellcheck disable=SC2016
probe_py='
import os, socket, sys, time
port, ready, pidfile, timeout, idle = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4]), sys.argv[5] == "1"
tick = os.sysconf("SC_CLK_TCK")

def pid():
    try:
        with open(pidfile) as f:
            return int(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0

def stat(p):
    try:
        with open("/proc/%d/stat" % p) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if fields[0] == "Z" else (int(fields[11]), int(fields[12]))  # utime, stime

open(ready, "w").close()
deadline = time.time() + timeout
while True:
    if time.time() > deadline:
        print("error=no 220 within %ds" % timeout); sys.exit(1)
    p = pid()
    if p and stat(p) is None:
        print("error=exited before answering"); sys.exit(1)
    s = socket.socket()
    s.settimeout(max(1.0, deadline - time.time()))
    try:
        s.connect(("127.0.0.1", port))
    except ConnectionRefusedError:
        s.close(); time.sleep(0.01); continue
    buf = b""
    try:
        while b"\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    except OSError as e:
        print("error=no greeting: %s" % e); sys.exit(1)
    t220 = time.time()
    line = buf.split(b"\n")[0].decode("utf-8", "replace").strip()
    if not line.startswith("220"):
        print("error=greeting %r" % line); sys.exit(1)
    print("t220=%.6f" % t220, flush=True)
    try:
        s.sendall(b"QUIT\r\n"); s.recv(4096)
    except OSError:
        pass
    s.close()
    break
if not idle:
    sys.exit(0)
p = pid()
last = stat(p)
busy_until = t220
deadline = time.time() + timeout
while True:
    time.sleep(0.02)
    now = time.time()
    cpu = stat(p)
    if cpu is None:
        print("error=exited before going idle"); sys.exit(1)
    if cpu != last:
        last, busy_until = cpu, now
    elif now - busy_until >= 1.0:
        break
    if now > deadline:
        print("still_busy=1"); break
print("busy_until=%.6f" % busy_until)
print("cpu=%.2f s: user %.2f, sys %.2f" % (sum(last) / tick, last[0] / tick, last[1] / tick))
'

probe_pid=""
stop_probe() {
  [ -n "$probe_pid" ] || return 0
  kill "$probe_pid" 2>/dev/null
  wait "$probe_pid" 2>/dev/null || true
  probe_pid=""
}
restart_cleanup() { stop_probe; cleanup; }
trap restart_cleanup EXIT

# ---------------------------------------------------------------- helpers

secs() { calc "$2 - $1" 3; }   # secs T0 T1: seconds from T0 to T1, 3 decimals
# Alive and not a zombie (bash reaps its children, but do not count on when).
proc_alive() {
  local s
  { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
  s=${s##*) }
  [ "${s%% *}" != Z ]
}
drop_caches() {
  [ "$COLD" = 1 ] || return 0
  sync
  echo 3 >/proc/sys/vm/drop_caches
}
# The first line matching $2 in file $1 from byte $3 on (empty if none).
log_find() { tail -c +"$(( $3 + 1 ))" "$1" | grep -m1 -- "$2" || true; }
# The time of a tern log line (its timestamp: local time, milliseconds) as Unix time.
log_time() { date -d "${1%% *}" +%s.%N; }

# timed_start NAME PORT PIDFILE IDLE STARTER: runs the probe, then STARTER (a function
# that starts the MTA and writes its pid to PIDFILE, "-" for none), and waits for the
# probe. Sets start_t0 (EPOCHREALTIME just before STARTER), probe_t220, probe_busy,
# probe_cpu, probe_error.
timed_start() {
  local name=$1 port=$2 pidfile=$3 idle=$4 starter=$5 i out=$work/$1-probe.out ready=$work/$1-probe.ready
  rm -f "$ready"
  [ "$pidfile" = - ] || rm -f "$pidfile"
  drop_caches
  /usr/bin/python3 -c "$probe_py" "$port" "$ready" "$pidfile" "$RESTART_TIMEOUT" "$idle" >"$out" 2>&1 &
  probe_pid=$!
  for ((i = 0; i < 500; i++)); do [ -e "$ready" ] && break; sleep 0.01; done
  start_t0=$EPOCHREALTIME
  "$starter"
  wait "$probe_pid" 2>/dev/null || true
  probe_pid=""
  probe_t220=$(sed -n 's/^t220=//p' "$out")
  probe_busy=$(sed -n 's/^busy_until=//p' "$out")
  probe_cpu=$(sed -n 's/^cpu=//p' "$out")
  probe_error=$(sed -n 's/^error=//p' "$out")
  grep -q '^still_busy=1' "$out" && probe_busy="still busy after ${RESTART_TIMEOUT}s"
  [ -n "$probe_t220" ] || [ -n "$probe_error" ] || probe_error="probe: $(tail -1 "$out")"
  return 0
}

# ---------------------------------------------------------------- tern

launch_tern() {
  (cd "$tern_dir" && exec "$TERN_BIN" serve --config "$tern_dir/tern.toml") 2>>"$tern_dir/tern.log" &
  tern_pid=$!
  echo "$tern_pid" >"$work/tern.pid"
}

# SIGTERM, then polls every 10 ms until tern has exited (SIGKILL after STOP_TIMEOUT).
# Sets stop_time (seconds, or a failure) and tern_exit.
timed_stop_tern() {
  local t0 t1 i
  t0=$EPOCHREALTIME
  kill -TERM "$tern_pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 100; i++)); do proc_alive "$tern_pid" || break; sleep 0.01; done
  t1=$EPOCHREALTIME
  stop_time="$(secs "$t0" "$t1") s"
  if proc_alive "$tern_pid"; then
    stop_time="no exit ${STOP_TIMEOUT}s after SIGTERM: SIGKILL"
    kill -KILL "$tern_pid" 2>/dev/null || true
  fi
  tern_exit=0
  wait "$tern_pid" 2>/dev/null || tern_exit=$?
  tern_pid=""
  [ "$tern_exit" = 0 ] || { stop_time+=" (exit status $tern_exit)"; tern_problem="tern exited with status $tern_exit after SIGTERM"; }
}

# measure_tern_start NAME LABEL: starts tern again on the same data_dir and listener and
# measures it; adds the table row. The previous stop's figure is in stop_time.
measure_tern_start() {
  local name=$1 label=$2 queued offset rec started rss hwm t220 tr ti count
  queued=$(count_files "$tern_dir/data/queue/active")
  offset=$(stat -c %s "$tern_dir/tern.log")
  timed_start "tern-$name" "$tern_port" "$work/tern.pid" 1 launch_tern
  if [ -n "$probe_error" ]; then
    rows+=("| $tern_version ($label) | $queued | $stop_time | FAILED: $probe_error | | | |")
    tern_fail "restart with $queued queued messages: $probe_error"
  fi
  t220="$(secs "$start_t0" "$probe_t220") s"
  tr="(no line)" count=""
  rec=$(log_find "$tern_dir/tern.log" 'event=recovered count=' "$offset")
  if [ -n "$rec" ]; then
    [[ $rec =~ count=([0-9]+) ]] && count=${BASH_REMATCH[1]}
    tr="$(secs "$start_t0" "$(log_time "$rec")") s (count=$count)"
    [ "$count" = "$queued" ] || tern_problem="tern recovered $count messages, $queued were in queue/active"
  else
    tern_problem="no event=recovered line after the restart"
  fi
  started=$(log_find "$tern_dir/tern.log" 'event=started' "$offset")
  [ -z "$started" ] || notes+=("note: tern ($label): event=started $(secs "$start_t0" "$(log_time "$started")") s after exec")
  if [[ $probe_busy =~ ^[0-9] ]]; then ti="$(secs "$start_t0" "$probe_busy") s"; else ti=$probe_busy; fi
  [ -z "$probe_cpu" ] || ti+=" (CPU $probe_cpu)"
  rss=$(awk '/^VmRSS/ { print $2 " " $3 }' "/proc/$tern_pid/status")
  hwm=$(awk '/^VmHWM/ { print $2 " " $3 }' "/proc/$tern_pid/status")
  rows+=("| $tern_version ($label) | $queued | $stop_time | $t220 | $tr | $ti | $rss / $hwm |")
  restart_offset=$offset
}

# Log lines from byte $1 on at levels above info, and deferrals; for the notes.
tern_log_notes() {
  local what=$1 offset=$2 n
  n=$(tail -c +"$(( offset + 1 ))" "$tern_dir/tern.log" | awk '$2 != "info" && $0 !~ /event=deferred/' | wc -l)
  if [ "$n" -gt 0 ]; then
    notes+=("warning: tern logged $n lines above info other than event=deferred $what; the first:")
    while IFS= read -r line; do notes+=("    $line"); done < <(tail -c +"$(( offset + 1 ))" "$tern_dir/tern.log" |
      awk '$2 != "info" && $0 !~ /event=deferred/' | head -5)
  fi
}

tern_problem=""
bench_tern() {
  local users='["bench"]' dead t_fill deferred offset hwm_full sample
  dead=$(free_port)   # nothing listens there: every delivery is refused and deferred
  start_tern "$users" "[relay]
smarthost = \"127.0.0.1:$dead\"

[queue]
retry_interval = \"1h\"
max_retry_interval = \"1h\""
  echo "$tern_pid" >"$work/tern.pid"
  commands+=("tern's smarthost: 127.0.0.1:$dead (nothing listens); retry_interval = max_retry_interval = 1h")

  # 1. empty queue: stop the first start, start again.
  timed_stop_tern
  measure_tern_start empty "empty queue"
  tern_log_notes "after the restart with the empty queue" "$restart_offset"

  # 2. fill the queue on the tern just started, wait until every message was deferred.
  offset=$(stat -c %s "$tern_dir/tern.log")
  if ! run_source tern "$tern_port"; then
    rows+=("| $tern_version | fill failed: $result_error | | | | | |")
    tern_fail "$result_error"
  fi
  if ! wait_for_count 1 "deferred (files in queue/state)" "$tern_pid:tern" count_files "$tern_dir/data/queue/state"; then
    rows+=("| $tern_version | fill: $result_error | | | | | |")
    tern_fail "$result_error"
  fi
  t_fill=$(now)
  hwm_full=$(awk '/^VmHWM/ { print $2 " " $3 }' "/proc/$tern_pid/status")
  deferred=$(tail -c +"$(( offset + 1 ))" "$tern_dir/tern.log" | grep -c 'event=deferred' || true)
  sample=$(tail -c +"$(( offset + 1 ))" "$tern_dir/tern.log" | grep -m1 'event=deferred' || true)
  notes+=("note: tern fill: accepted $result_accept msgs/s; all $MESSAGES deferred $(secs "$source_t0" "$t_fill") s after the load started; $deferred event=deferred lines; VmHWM $hwm_full")
  notes+=("    e.g. ${sample#* * }")
  tern_log_notes "during the fill" "$offset"

  # 3. full queue: stop, start again, wait for idle.
  timed_stop_tern
  measure_tern_start full "full queue"
  deferred=$(tail -c +"$(( restart_offset + 1 ))" "$tern_dir/tern.log" | grep -c 'event=deferred' || true)
  [ "$deferred" -eq 0 ] || notes+=("warning: tern logged $deferred event=deferred lines after the restart (nothing was due for an hour)")
  tern_log_notes "after the restart with the full queue" "$restart_offset"
  timed_stop_tern
  notes+=("note: tern, stop after the measured restart (full queue, scheduler idle): $stop_time")
  [ -z "$tern_problem" ] || tern_fail "$tern_problem"
}

# ---------------------------------------------------------------- Postfix

pf_dir=""
start_postfix_again() {
  postfix_dir=$pf_dir/etc
  local rc=0 t1
  postfix -c "$pf_dir/etc" start >"$work/postfix-start.out" 2>&1 || rc=$?
  t1=$EPOCHREALTIME
  postfix_start_cmd="\`postfix start\` returned after $(secs "$start_t0" "$t1") s"
  [ "$rc" -eq 0 ] || postfix_start_cmd="postfix start failed: $(tail -1 "$work/postfix-start.out")"
}

# `postfix stop`, then polls every 10 ms until its master has exited. Sets stop_time.
timed_stop_postfix() {
  local pid t0 t1 i
  pid=$(tr -dc 0-9 <"$pf_dir/queue/pid/master.pid" 2>/dev/null || true)
  t0=$EPOCHREALTIME
  postfix -c "$pf_dir/etc" stop >/dev/null 2>&1 || true
  if [ -z "$pid" ]; then stop_time="(no master.pid)"; stop_postfix; return 0; fi
  for ((i = 0; i < STOP_TIMEOUT * 100; i++)); do proc_alive "$pid" || break; sleep 0.01; done
  t1=$EPOCHREALTIME
  stop_time="$(secs "$t0" "$t1") s"
  if proc_alive "$pid"; then
    stop_time="master still running ${STOP_TIMEOUT}s after postfix stop"
    stop_postfix   # lib.sh: abort, then SIGKILL
  fi
  postfix_dir=""
}

measure_postfix_start() {
  local name=$1 label=$2 queued
  queued=$(postfix_queue_count)
  postfix_start_cmd=""
  timed_start "postfix-$name" "$postfix_port" - 0 start_postfix_again
  if [ -n "$probe_error" ]; then
    postfix_row "$postfix_version ($label)" "$queued | $stop_time | failed: $probe_error; $postfix_start_cmd" "-" "- | -"
    return 1
  fi
  postfix_row "$postfix_version ($label)" "$queued | $stop_time" "$(secs "$start_t0" "$probe_t220") s ($postfix_start_cmd)" "- | - | -"
}

bench_postfix() {
  local dead
  pf_dir=$work/postfix
  dead=$(free_port)
  start_postfix "relayhost = [127.0.0.1]:$dead
disable_dns_lookups = yes
queue_run_delay = 1h
minimal_backoff_time = 1h
maximal_backoff_time = 1h" "relayhost [127.0.0.1]:$dead (nothing listens), retries 1h apart" || return 0
  timed_stop_postfix
  measure_postfix_start empty "empty queue" || { stop_postfix; return 0; }
  if ! run_source postfix "$postfix_port"; then
    postfix_row "$postfix_version" "fill failed: $result_error" "" "| | |"
    stop_postfix
    return 0
  fi
  if ! wait_for_count 1 "deferred (files in queue/deferred)" "" count_deferred_postfix; then
    postfix_row "$postfix_version" "fill: $result_error" "" "| | |"
    stop_postfix
    return 0
  fi
  notes+=("note: Postfix fill: accepted $result_accept msgs/s; all $MESSAGES deferred $(secs "$source_t0" "$(now)") s after the load started")
  timed_stop_postfix
  measure_postfix_start full "full queue" || { stop_postfix; return 0; }
  timed_stop_postfix
  notes+=("note: Postfix, stop after the measured restart (full queue): $stop_time")
}

count_deferred_postfix() { { find "$pf_dir/queue/deferred" -type f 2>/dev/null || true; } | wc -l; }

# ---------------------------------------------------------------- main

[ "$ONLY" = postfix ] || [ -x "$TERN_BIN" ] || tern_fail "no executable at $TERN_BIN (make build, or set TERN_BIN)"
[ "$ONLY" = postfix ] || bench_tern
[ "$ONLY" = tern ] || bench_postfix
print_report
