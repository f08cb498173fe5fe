#!/usr/bin/env bash
# bench/queue_scale.sh — looking at a big queue: `tern queue list --json` and `tern queue
# summary --json` with N deferred messages (issue target: under 2 s with 100,000, without
# stalling SMTP sessions), beside a private Postfix's `postqueue -j` and `qshape
# deferred`, same machine, same run.
#
# Fill: each MTA relays to a loopback port where nothing listens (tern: [relay]
# smarthost; Postfix: relayhost), retries an hour apart, so every message is tried once,
# deferred, and stays queued. Load: DOMAINS smtp-source processes in parallel, the I-th
# sending its share of N messages of SIZE octets from bench@example.test to x@dI.test
# (SESSIONS sessions in all, at least one per domain), so that the summary has DOMAINS
# rows. The script waits (bounded) until every message has been deferred (tern: a file
# per message in queue/state; Postfix: queue/deferred), then checks the listing's count.
# Measured, printed, not asserted:
#   list JSON    wall time (EPOCHREALTIME around the command) of `tern queue list --json`
#                (Postfix: `postqueue -c DIR -j`), stdout to /dev/null: min / median of
#                RUNS runs, after one untimed run whose output is kept to count and size
#   summary      the same for `tern queue summary --json` (Postfix: `qshape -c DIR
#                deferred`, which reads every queue file itself: no daemon involved)
#   SMTP         bench/smtp_probe.py for PROBE_SECONDS: complete transactions one after
#                the other (connect, EHLO, MAIL, RCPT to x@probe.test, DATA, QUIT;
#                20 ms apart), each timed from connect to the reply to QUIT: p50 / p99 /
#                max in ms, once idle and once while a shell loop runs the list JSON
#                command back to back (its runs are counted and timed too)
#
# Environment: N (100000; MESSAGES is its alias) SESSIONS (20) SIZE (2048) TERN_BIN
#   (build/tern; the script copies it into its temp dir and runs the copy)
#   DOMAINS (20)         recipient domains d1.test .. dDOMAINS.test
#   RUNS (3)             timed runs of each listing command
#   PROBE_SECONDS (10)   length of each SMTP probe
#   FILL_TIMEOUT (600)   seconds allowed for each MTA's fill (smtp-source); a Postfix
#                        still filling then is measured with what it had accepted, and
#                        its row says so (tern not filling in time fails the run)
#   DELIVERY_TIMEOUT     seconds to wait, after the fill, for every message to be
#                        deferred (300)
#   ONLY=tern|postfix    run one side only
#   TERN_LOG_LEVEL       log_level for tern (info, as a production server logs)
#   KEEP=1               keep the temp dir (configs, logs, queues, listings)
# Duration with the defaults on 2 cores: ~12 minutes, most of it Postfix's fill (~330
# msgs/s: ~5 minutes) and removing the ~400,000 queue files at the end (~2-4 minutes);
# ONLY=tern ~2 minutes.
# Exit status: 0 when tern filled, listed and summarised every message (right counts) and
# exited 0 on SIGTERM, whatever the times; 1 when tern failed (Postfix problems are only
# reported in its row). Times over the 2 s target are printed as a TARGET MISSED note.
# Shared code (environment, temp dir, trap, tern, Postfix, report): bench/lib.sh.
set -euo pipefail
export LC_NUMERIC=C   # EPOCHREALTIME and awk with a decimal point

N=${N:-${MESSAGES:-100000}}
MESSAGES=$N
DOMAINS=${DOMAINS:-20}
RUNS=${RUNS:-3}
PROBE_SECONDS=${PROBE_SECONDS:-10}
FILL_TIMEOUT=${FILL_TIMEOUT:-600}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

for v in DOMAINS RUNS PROBE_SECONDS FILL_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$bench_name: $v must be a positive integer" >&2; exit 2; }
done
command -v timeout >/dev/null || { echo "$bench_name: timeout (coreutils) missing" >&2; exit 1; }

probe_py=$repo/bench/smtp_probe.py
PROBE_RCPT=x@probe.test
TARGET=2   # seconds: the issue's target for list and summary
LOOP_MAX=10000   # bound on the back-to-back listing loop during the probe
report_title="Listing a big queue: $MESSAGES deferred messages x $SIZE octets to $DOMAINS domains (filled by $(( SESSIONS > DOMAINS ? SESSIONS : DOMAINS )) sessions)"
report_store="queues"
report_columns="| MTA | messages listed | list JSON: min / median of $RUNS (s) | list JSON size | summary: min / median of $RUNS (s) | SMTP p50 / p99 / max idle (ms) | SMTP p50 / p99 / max during list loop (ms) |"

fill_pids=()
loop_pid=""
scale_cleanup() {
  set +e
  local p
  for p in "${fill_pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -z "$loop_pid" ] || { touch "$work/loop.stop"; kill "$loop_pid" 2>/dev/null; wait "$loop_pid" 2>/dev/null; }
  cleanup
}
trap scale_cleanup EXIT

# ---------------------------------------------------------------- helpers

secs() { calc "$2 - $1" 3; }
# Sets children_cpu_s: CPU seconds (user + system) used so far by this shell's waited-for
# children (`times`, run in this shell: a subshell would not see them).
children_cpu() {
  times >"$work/times.out"
  children_cpu_s=$(tail -1 "$work/times.out" |
    awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); sub(/s$/, "", p[2]); s += p[1] * 60 + p[2] } printf "%.3f", s }')
}
cpu_ticks() { awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# fill NAME PORT: DOMAINS smtp-source processes in parallel, each under `timeout
# FILL_TIMEOUT`. Sets fill_t0, fill_secs, fill_rc (0, 124 when the timeout struck, or
# another smtp-source exit status), fill_error.
fill() {
  local name=$1 port=$2 per rest sess i m p rc
  per=$(( MESSAGES / DOMAINS )) rest=$(( MESSAGES % DOMAINS ))
  sess=$(( SESSIONS / DOMAINS )); [ "$sess" -ge 1 ] || sess=1
  commands+=("$name fill: for I in 1..$DOMAINS: timeout $FILL_TIMEOUT smtp-source -s $sess -m $per$([ "$rest" -eq 0 ] || echo " (+1 for I <= $rest)") -l $SIZE -f $FROM -t x@dI.test 127.0.0.1:$port &  (all $DOMAINS in parallel)")
  fill_rc=0 fill_error="" fill_pids=()
  sync
  fill_t0=$(now)
  for ((i = 1; i <= DOMAINS; i++)); do
    m=$(( per + (i <= rest ? 1 : 0) ))
    [ "$m" -gt 0 ] || continue
    timeout "$FILL_TIMEOUT" smtp-source -s "$sess" -m "$m" -l "$SIZE" -f "$FROM" -t "x@d$i.test" \
      "127.0.0.1:$port" >"$work/$name-source-$i.out" 2>&1 &
    fill_pids+=($!)
  done
  for p in "${fill_pids[@]}"; do
    rc=0
    wait "$p" || rc=$?
    if [ "$rc" -ne 0 ] && [ "$fill_rc" -eq 0 ]; then
      fill_rc=$rc
      fill_error="smtp-source exit $rc: $(tail -1 "$work/$name-source-"*.out 2>/dev/null | grep -v '^==>' | grep . | head -1 || true)"
      [ "$rc" -ne 124 ] || fill_error="fill not done after FILL_TIMEOUT=${FILL_TIMEOUT}s"
    fi
  done
  fill_pids=()
  fill_secs=$(secs "$fill_t0" "$(now)")
}

# wait_settled TARGET PIDWATCH COUNT_CMD...: polls COUNT_CMD every second until it prints
# at least TARGET, for at most DELIVERY_TIMEOUT s; PIDWATCH (or "") must stay alive.
# Sets settled_count; returns 1 on timeout or death.
wait_settled() {
  local target=$1 watch=$2 deadline
  shift 2
  deadline=$(( $(date +%s) + DELIVERY_TIMEOUT ))
  while :; do
    settled_count=$("$@")
    [ "$settled_count" -ge "$target" ] && return 0
    if [ -n "$watch" ] && ! kill -0 "$watch" 2>/dev/null; then return 1; fi
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 1
  done
}

# time_runs NAME CMD...: one untimed run with stdout kept in $work/NAME.out (sets
# out_bytes, out_secs, out_rc), then RUNS timed runs with stdout to /dev/null. Sets
# t_min, t_med (seconds, 3 decimals), t_all, t_rc (the first non-zero exit status, or 0).
time_runs() {
  local name=$1 t0 t1 i rc sorted
  shift
  t0=$EPOCHREALTIME; out_rc=0
  "$@" >"$work/$name.out" 2>"$work/$name.err" || out_rc=$?
  t1=$EPOCHREALTIME
  out_secs=$(secs "$t0" "$t1")
  out_bytes=$(stat -c %s "$work/$name.out")
  local ts=() c0
  t_rc=0
  children_cpu
  c0=$children_cpu_s
  for ((i = 0; i < RUNS; i++)); do
    rc=0
    t0=$EPOCHREALTIME
    "$@" >/dev/null 2>>"$work/$name.err" || rc=$?
    t1=$EPOCHREALTIME
    [ "$rc" -eq 0 ] || [ "$t_rc" -ne 0 ] || t_rc=$rc
    ts+=("$(secs "$t0" "$t1")")
  done
  sorted=$(printf '%s\n' "${ts[@]}" | sort -n)
  t_min=$(head -1 <<<"$sorted")
  t_med=$(sed -n "$(( (RUNS + 1) / 2 ))p" <<<"$sorted")
  t_all=${ts[*]}
  children_cpu
  t_client_cpu=$(calc "($children_cpu_s - $c0) / $RUNS" 3)
}

human_bytes() { awk -v b="$1" 'BEGIN { if (b >= 1048576) printf "%.1f MB", b / 1048576; else printf "%.1f KB", b / 1024 }'; }
over_target() { awk -v t="$1" -v m="$TARGET" 'BEGIN { exit !(t > m) }'; }

# probe NAME PORT: the SMTP probe for PROBE_SECONDS; sets probe_line (its output) and
# probe_cell ("p50 / p99 / max", or what went wrong).
probe() {
  local name=$1 port=$2 rc=0
  probe_line=$(timeout $(( PROBE_SECONDS + 120 )) /usr/bin/python3 "$probe_py" 127.0.0.1 "$port" \
    "$PROBE_SECONDS" "$PROBE_RCPT" --out "$work/$name-probe.ms" 2>"$work/$name-probe.err") || rc=$?
  if [[ $probe_line =~ p50=([0-9.]+)\ p99=([0-9.]+)\ max=([0-9.]+) ]]; then
    probe_cell="${BASH_REMATCH[1]} / ${BASH_REMATCH[2]} / ${BASH_REMATCH[3]}"
    [[ $probe_line =~ errors=0 ]] || probe_cell+=" ($(grep -o 'errors=[0-9]*' <<<"$probe_line"))"
  else
    probe_cell="probe failed (exit $rc): ${probe_line:-$(tail -1 "$work/$name-probe.err")}"
  fi
}

# loop_start NAME CMD...: runs CMD back to back (stdout to /dev/null) in the background
# until $work/loop.stop exists (at most LOOP_MAX runs), one "start end status" line per run
# in $work/NAME-loop.times. loop_stop waits for the run in progress (bounded) and sets
# loop_summary.
loop_start() {
  local name=$1
  shift
  rm -f "$work/loop.stop"
  loop_file=$work/$name-loop.times
  : >"$loop_file"
  (
    i=0
    while [ ! -e "$work/loop.stop" ] && [ "$i" -lt "$LOOP_MAX" ]; do
      t0=$EPOCHREALTIME rc=0
      "$@" >/dev/null 2>>"$work/$name-loop.err" || rc=$?
      echo "$t0 $EPOCHREALTIME $rc" >>"$loop_file"
      i=$((i + 1))
    done
  ) &
  loop_pid=$!
  sleep 0.3   # the first listing is under way when the probe starts
}
loop_stop() {
  local i
  touch "$work/loop.stop"
  for ((i = 0; i < 600; i++)); do kill -0 "$loop_pid" 2>/dev/null || break; sleep 0.1; done
  kill "$loop_pid" 2>/dev/null || true
  wait "$loop_pid" 2>/dev/null || true
  loop_pid=""
  loop_summary=$(awk '{ n++; d = $2 - $1; s += d; if (d > mx) mx = d; if ($3 != 0) bad++ }
    END { if (n) printf "%d runs, mean %.3f s, max %.3f s%s", n, s / n, mx, bad ? ", " bad " failed" : "";
          else printf "no run" }' "$loop_file")
}

# ---------------------------------------------------------------- tern

tern_problems=()
bench_tern() {
  local dead conf t_fill n_list n_deferred n_sum src cpu0 cpu1 list_cell sum_cell idle during hwm
  # A private copy: a rebuild of build/tern during the run must not change the binary.
  cp "$TERN_BIN" "$work/tern-bin"
  TERN_BIN=$work/tern-bin
  dead=$(free_port)   # nothing listens there: every delivery is refused and deferred
  tern_domains='["local.test"]'
  start_tern '["alice"]' "[relay]
smarthost = \"127.0.0.1:$dead\"
networks = [\"127.0.0.0/8\"]

[queue]
retry_interval = \"1h\"
max_retry_interval = \"1h\""
  conf=$tern_dir/tern.toml
  commands+=("tern's smarthost: 127.0.0.1:$dead (nothing listens); retry_interval = max_retry_interval = 1h; binary copied from $(realpath -m "${TERN_BIN_SRC}") ($(stat -c %y "$TERN_BIN_SRC" | cut -d. -f1))")

  fill tern "$tern_port"
  kill -0 "$tern_pid" 2>/dev/null || tern_fail "tern exited during the fill"
  [ "$fill_rc" -eq 0 ] || tern_fail "fill: $fill_error"
  if ! wait_settled "$MESSAGES" "$tern_pid" count_files "$tern_dir/data/queue/state"; then
    rows+=("| $tern_version | FAILED: $settled_count/$MESSAGES deferred after ${DELIVERY_TIMEOUT}s | | | | | |")
    tern_fail "$settled_count/$MESSAGES messages deferred (files in queue/state) ${DELIVERY_TIMEOUT}s after the fill"
  fi
  t_fill=$(now)
  notes+=("note: tern fill: accepted $(calc "$MESSAGES / $fill_secs") msgs/s ($fill_secs s); all $MESSAGES deferred $(secs "$fill_t0" "$t_fill") s after the fill started; VmHWM $(awk '/^VmHWM/ { print $2 " " $3 }' "/proc/$tern_pid/status")")
  sleep 2   # let the last deferrals' writes settle
  notes+=("note: load average before tern's measurements: $(cut -d' ' -f1-3 /proc/loadavg)")

  # list --json
  cpu0=$(cpu_ticks "$tern_pid")
  time_runs tern-list "$TERN_BIN" queue list --json --config "$conf"
  cpu1=$(cpu_ticks "$tern_pid")
  commands+=("tern list: $TERN_BIN queue list --json --config $conf")
  [ "$out_rc" -eq 0 ] && [ "$t_rc" -eq 0 ] ||
    tern_problems+=("tern queue list --json exited $out_rc (timed runs: $t_rc): $(head -3 "$work/tern-list.err")")
  read -r n_list n_deferred src < <(/usr/bin/python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    m = d.get("messages", [])
    print(len(m), sum(1 for x in m if x.get("state") == "deferred"), d.get("source", "?"))
except Exception as e:
    print(-1, -1, "unparsable:" + type(e).__name__)' "$work/tern-list.out")
  list_cell="$t_min / $t_med"
  notes+=("note: tern list --json: untimed first run $out_secs s; timed runs $t_all s; CPU per timed run: server $(calc "($cpu1 - $cpu0) / $(getconf CLK_TCK) / $RUNS" 3) s, client $t_client_cpu s; $n_list messages, $n_deferred deferred, source $src")
  [ "$n_list" = "$MESSAGES" ] && [ "$n_deferred" = "$MESSAGES" ] ||
    tern_problems+=("tern queue list --json listed $n_list messages ($n_deferred deferred), expected $MESSAGES deferred")
  [ "$src" = server ] || tern_problems+=("tern queue list --json: source \"$src\", expected \"server\" (the running server answering)")
  over_target "$t_med" && notes+=("TARGET MISSED: tern queue list --json median $t_med s > ${TARGET} s with $MESSAGES messages")
  local list_bytes=$out_bytes

  # summary --json
  cpu0=$(cpu_ticks "$tern_pid")
  time_runs tern-summary "$TERN_BIN" queue summary --json --config "$conf"
  cpu1=$(cpu_ticks "$tern_pid")
  commands+=("tern summary: $TERN_BIN queue summary --json --config $conf")
  [ "$out_rc" -eq 0 ] && [ "$t_rc" -eq 0 ] ||
    tern_problems+=("tern queue summary --json exited $out_rc (timed runs: $t_rc): $(head -3 "$work/tern-summary.err")")
  read -r n_sum src < <(/usr/bin/python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(d.get("total", {}).get("total", -1), "%s, %d domain rows" % (d.get("source", "?"), len(d.get("domains", []))))
except Exception as e:
    print(-1, "unparsable:" + type(e).__name__)' "$work/tern-summary.out")
  sum_cell="$t_min / $t_med"
  notes+=("note: tern summary --json: untimed first run $out_secs s; timed runs $t_all s; CPU per timed run: server $(calc "($cpu1 - $cpu0) / $(getconf CLK_TCK) / $RUNS" 3) s, client $t_client_cpu s; total $n_sum, source ${src}; $(human_bytes "$out_bytes")")
  [ "$n_sum" = "$MESSAGES" ] || tern_problems+=("tern queue summary --json total $n_sum, expected $MESSAGES")
  over_target "$t_med" && notes+=("TARGET MISSED: tern queue summary --json median $t_med s > ${TARGET} s with $MESSAGES messages")

  # SMTP probe, idle then during a list loop
  probe tern-idle "$tern_port"
  idle=$probe_cell
  notes+=("note: tern probe idle: $probe_line")
  loop_start tern "$TERN_BIN" queue list --json --config "$conf"
  probe tern-list "$tern_port"
  during=$probe_cell
  loop_stop
  notes+=("note: tern probe during the list loop: $probe_line; the loop: $loop_summary")
  kill -0 "$tern_pid" 2>/dev/null || tern_problems+=("tern exited during the measurements")

  hwm=$(awk '/^VmHWM/ { print $2 " " $3 }' "/proc/$tern_pid/status" 2>/dev/null || true)
  notes+=("note: tern VmHWM after the measurements: $hwm")
  rows+=("| $tern_version | $n_list | $list_cell | $(human_bytes "$list_bytes") | $sum_cell | $idle | $during |")
  stop_tern
  [ "$tern_exit" = 0 ] || tern_problems+=("tern exited with status $tern_exit after SIGTERM (expected 0)")
  local n
  n=$(awk '$2 != "info" && $0 !~ /event=deferred/' "$tern_dir/tern.log" | wc -l)
  [ "$n" -eq 0 ] || notes+=("warning: tern logged $n lines above info other than event=deferred; the first: $(awk '$2 != "info" && $0 !~ /event=deferred/' "$tern_dir/tern.log" | head -1)")
  if [ "${#tern_problems[@]}" -gt 0 ]; then
    local p
    for p in "${tern_problems[@]}"; do notes+=("TERN PROBLEM: $p"); done
    tern_fail "${tern_problems[0]}"
  fi
}

# ---------------------------------------------------------------- Postfix

count_postfix_deferred() { { find "$work/postfix/queue/deferred" -type f 2>/dev/null || true; } | wc -l; }

bench_postfix() {
  local dead pdir target label="" n_list list_cell sum_cell idle during n_qshape
  dead=$(free_port)
  start_postfix "relayhost = [127.0.0.1]:$dead
disable_dns_lookups = yes
queue_run_delay = 1h
minimal_backoff_time = 1h
maximal_backoff_time = 1h" "relayhost [127.0.0.1]:$dead (nothing listens), retries 1h apart" || return 0
  pdir=$work/postfix/etc
  fill postfix "$postfix_port"
  target=$MESSAGES
  if [ "$fill_rc" -ne 0 ]; then
    # Measure what it accepted: wait until every queued message is deferred.
    sleep 2
    target=$(postfix_queue_count)
    label=" (fill incomplete: $fill_error; $target queued)"
    notes+=("note: Postfix fill stopped: $fill_error after $fill_secs s; measuring the $target messages it had queued")
    [ "$target" -gt 0 ] || { postfix_row "$postfix_version" "fill failed: $fill_error" "" "| | |"; stop_postfix; return 0; }
  fi
  if ! wait_settled "$target" "" count_postfix_deferred; then
    notes+=("note: Postfix: only $settled_count/$target deferred ${DELIVERY_TIMEOUT}s after the fill; measuring anyway")
    label+=" (only $settled_count deferred)"
  fi
  notes+=("note: Postfix fill: accepted $(calc "$target / $fill_secs") msgs/s ($fill_secs s); $settled_count deferred $(secs "$fill_t0" "$(now)") s after the fill started")
  sleep 2
  notes+=("note: load average before Postfix's measurements: $(cut -d' ' -f1-3 /proc/loadavg)")

  time_runs postfix-list postqueue -c "$pdir" -j
  commands+=("Postfix list: postqueue -c $pdir -j")
  n_list=$(grep -c '"queue_id"' "$work/postfix-list.out" || true)
  list_cell="$t_min / $t_med"
  [ "$out_rc" -eq 0 ] && [ "$t_rc" -eq 0 ] || list_cell+=" (exit $out_rc/$t_rc: $(head -1 "$work/postfix-list.err"))"
  notes+=("note: Postfix postqueue -j: untimed first run $out_secs s; timed runs $t_all s; postqueue CPU $t_client_cpu s per run (showq's not counted); $n_list messages (JSON lines)")
  local list_bytes=$out_bytes

  if command -v qshape >/dev/null; then
    time_runs postfix-summary qshape -c "$pdir" deferred
    commands+=("Postfix summary: qshape -c $pdir deferred")
    n_qshape=$(awk '$1 == "TOTAL" { print $2; exit }' "$work/postfix-summary.out")
    sum_cell="$t_min / $t_med (qshape)"
    [ "$out_rc" -eq 0 ] && [ "$t_rc" -eq 0 ] || sum_cell+=" (exit $out_rc/$t_rc: $(head -1 "$work/postfix-summary.err"))"
    notes+=("note: Postfix qshape deferred: untimed first run $out_secs s; timed runs $t_all s; qshape CPU $t_client_cpu s per run; TOTAL $n_qshape; $(human_bytes "$out_bytes")")
  else
    sum_cell="(no qshape)"
  fi

  probe postfix-idle "$postfix_port"
  idle=$probe_cell
  notes+=("note: Postfix probe idle: $probe_line")
  loop_start postfix postqueue -c "$pdir" -j
  probe postfix-list "$postfix_port"
  during=$probe_cell
  loop_stop
  notes+=("note: Postfix probe during the postqueue -j loop: $probe_line; the loop: $loop_summary")
  rows+=("| Postfix $postfix_version$label | $n_list | $list_cell | $(human_bytes "$list_bytes") | $sum_cell | $idle | $during |")
  stop_postfix
}

# ---------------------------------------------------------------- main

TERN_BIN_SRC=$TERN_BIN
[ "$ONLY" = postfix ] || [ -x "$TERN_BIN" ] || tern_fail "no executable at $TERN_BIN (make build, or set TERN_BIN)"
[ -x "$probe_py" ] || [ -f "$probe_py" ] || { echo "$bench_name: $probe_py missing" >&2; exit 1; }
[ "$ONLY" = postfix ] || bench_tern
[ "$ONLY" = tern ] || bench_postfix
print_report
