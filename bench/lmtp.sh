#!/usr/bin/env bash
# bench/lmtp.sh — delivery into Dovecot over LMTP (issue 16): smtp-source -> MTA ->
# LMTP (unix socket) -> a private Dovecot's Maildirs, tern against a private Postfix
# (virtual_transport = lmtp:unix:SOCKET), same load, same machine, same run.
#
# Load: MAILBOXES smtp-source processes in parallel, the i-th sending its share of
# MESSAGES messages of SIZE octets, over its share of the SESSIONS sessions, from
# bench@example.test to useri@example.org (one connection per message, HELO, no
# pipelining: smtp-source's defaults). Each MTA accepts into its durable queue and
# delivers every message over LMTP to a Dovecot of its own: two identical private
# Dovecots (bench/dovecot.py, tests/lib/private_dovecot.py), each fresh and empty,
# one for tern, then one for Postfix. Printed, not asserted:
#   accepted msgs/s  = MESSAGES / wall time of the smtp-source processes (every 250
#                      after DATA received)
#   stored msgs/s    = MESSAGES / (last change of a Maildir's new/ or cur/ - start
#                      of the load), once new/ + cur/ hold every message
#   messages stored  = files in new/ + cur/ of every Maildir, counted after the MTA
#                      and Dovecot were stopped
# Two first rows show the ceilings: the same load into smtp-sink (no queue, no disk),
# what the load generator itself sends on this machine; and straight into a third
# fresh Dovecot's LMTP socket (smtp-source -L -d), what the mail store takes.
#
# Environment: MESSAGES (5000) SESSIONS (20) SIZE (2048) TERN_BIN (build/tern)
#   MAILBOXES            Dovecot users the messages are spread over (5; at most SESSIONS)
#   ONLY=tern|postfix    run one side only (and skip the two ceiling rows)
#   TERN_LOG_LEVEL       log_level for tern (info, as a production server logs)
#   DELIVERY_TIMEOUT     seconds to wait, after the load, for the Maildirs to hold
#                        every message (300)
#   KEEP=1               keep the temp dir (configs, logs, queues, Maildirs)
# Exit status: 0 when tern accepted every message, Dovecot stored exactly MESSAGES of
# them (each user its share) and tern exited 0 on SIGTERM (Postfix problems are only
# reported in its table row); 1 when tern failed. Needs root (Postfix's master, and
# Dovecot stores the mail as the user `mail`), postfix, dovecot-core, dovecot-lmtpd.
# Shared code (environment, temp dir, trap, tern, Postfix, report): bench/lib.sh.
set -euo pipefail

MESSAGES=${MESSAGES:-5000}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

MAILBOXES=${MAILBOXES:-5}
[[ $MAILBOXES =~ ^[1-9][0-9]*$ ]] || { echo "$bench_name: MAILBOXES must be a positive integer" >&2; exit 2; }
[ "$MAILBOXES" -le "$SESSIONS" ] || { echo "$bench_name: MAILBOXES ($MAILBOXES) must not exceed SESSIONS ($SESSIONS)" >&2; exit 2; }
[ "$MAILBOXES" -le "$MESSAGES" ] || { echo "$bench_name: MAILBOXES ($MAILBOXES) must not exceed MESSAGES ($MESSAGES)" >&2; exit 2; }
DOMAIN=example.org
DRAIN_TIMEOUT=30   # seconds for the MTA's queue to empty once Dovecot has every message
users=()
for ((i = 1; i <= MAILBOXES; i++)); do users+=("user$i"); done
report_title="Delivery into Dovecot over LMTP (smtp-source -> MTA -> LMTP unix socket -> Maildir): $SESSIONS sessions x $MESSAGES messages x $SIZE octets, to $MAILBOXES users"
report_store="queues, Dovecots and Maildirs"
report_columns="| MTA | accepted msgs/s | stored msgs/s (end to end) | messages stored |"

source_pids=()
dovecot_pid=""
dovecot_log_lines=0  # lines in the Dovecot log when the script stopped it

# Stops the helper, which stops its Dovecot (the whole process group); SIGKILL to the
# helper after 15 s (Dovecot dies with it: PR_SET_PDEATHSIG).
stop_dovecot() {
  [ -n "$dovecot_pid" ] || return 0
  local i
  dovecot_log_lines=$(wc -l <"$dovecot_dir/dovecot.log" 2>/dev/null || echo 0)
  kill -TERM "$dovecot_pid" 2>/dev/null
  for ((i = 0; i < 150; i++)); do kill -0 "$dovecot_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$dovecot_pid" 2>/dev/null; then
    log "bench/dovecot.py (pid $dovecot_pid) still running 15 s after SIGTERM: SIGKILL"
    kill -KILL "$dovecot_pid" 2>/dev/null
  fi
  wait "$dovecot_pid" 2>/dev/null || true
  dovecot_pid=""
}

stop_sources() {
  local p
  for p in "${source_pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  source_pids=()
}

lmtp_cleanup() { set +e; stop_sources; stop_tern; stop_postfix; stop_dovecot; cleanup; }
trap lmtp_cleanup EXIT

# start_dovecot NAME LABEL: a private Dovecot in $work/NAME-dovecot with the users,
# through bench/dovecot.py (its output in $work/NAME-dovecot.out); LABEL names it in
# the command lines. Sets dovecot_dir, dovecot_socket; returns 1 with result_error
# when it does not come up within 40 s.
start_dovecot() {
  local name=$1 label=$2 i out=$work/$1-dovecot.out line
  dovecot_dir=$work/$name-dovecot
  /usr/bin/python3 "$repo/bench/dovecot.py" "$dovecot_dir" "$DOMAIN" "${users[@]}" >"$out" 2>&1 &
  dovecot_pid=$!
  for ((i = 0; i < 400; i++)); do
    line=$(grep -m1 '^ready ' "$out" || true)
    if [ -n "$line" ]; then
      dovecot_socket=${line#ready }
      commands+=("$label ($(dovecot --version 2>/dev/null | cut -d' ' -f1)): /usr/bin/python3 bench/dovecot.py $dovecot_dir $DOMAIN ${users[*]}  # dovecot -c $dovecot_dir/dovecot.conf -F, LMTP on $dovecot_socket")
      return 0
    fi
    kill -0 "$dovecot_pid" 2>/dev/null || break
    sleep 0.1
  done
  result_error="private Dovecot did not start: $(grep -v '^ready' "$out" | head -c 600 | tr '\n' ' ')"
  stop_dovecot
  return 1
}

# share TOTAL I: the I-th of MAILBOXES shares of TOTAL (the first ones get the remainder).
share() { echo $(( $1 / MAILBOXES + ($2 <= $1 % MAILBOXES ? 1 : 0) )); }

# run_split NAME TARGET [OPTIONS...]: the load against TARGET (127.0.0.1:PORT, or
# unix:PATH), MAILBOXES smtp-source processes in parallel, each with OPTIONS too
# (outputs in $work/NAME-source-I.out). Sets source_t0 (start), result_accept
# (msgs/s); on failure result_error, returns 1.
run_split() {
  local name=$1 target=$2 i t1 rc p failed="" shares=""
  shift 2
  result_accept="" result_error=""
  for ((i = 1; i <= MAILBOXES; i++)); do shares+="${shares:+, }user$i -s $(share "$SESSIONS" "$i") -m $(share "$MESSAGES" "$i")"; done
  commands+=("$name load: $MAILBOXES x smtp-source $*${*:+ }-s S -m M -l $SIZE -f $FROM -t userI@$DOMAIN $target in parallel ($shares)")
  sync
  source_t0=$(now)
  for ((i = 1; i <= MAILBOXES; i++)); do
    smtp-source "$@" -s "$(share "$SESSIONS" "$i")" -m "$(share "$MESSAGES" "$i")" -l "$SIZE" -f "$FROM" \
      -t "user$i@$DOMAIN" "$target" >"$work/$name-source-$i.out" 2>&1 &
    source_pids+=($!)
  done
  i=0
  for p in "${source_pids[@]}"; do
    i=$((i + 1))
    rc=0
    wait "$p" || rc=$?
    [ "$rc" -eq 0 ] || failed+="${failed:+; }smtp-source for user$i exit $rc: $(tail -1 "$work/$name-source-$i.out")"
  done
  t1=$(now)
  source_pids=()
  if [ -n "$failed" ]; then
    result_error=$failed
    return 1
  fi
  result_accept=$(calc "$MESSAGES / ($t1 - $source_t0)")
}

# Messages in the Maildirs of $dovecot_dir: files in new/ and cur/ of every user.
maildir_dirs() { local u; for u in "${users[@]}"; do echo "$dovecot_dir/mail/$DOMAIN/$u/Maildir/new" "$dovecot_dir/mail/$DOMAIN/$u/Maildir/cur"; done; }
stored_count() {
  # shellcheck disable=SC2046
  { find $(maildir_dirs) -maxdepth 1 -type f 2>/dev/null || true; } | wc -l
}
# Last change of a new/ or cur/ directory: Dovecot writes a message in tmp/ and renames
# it into new/, so this is when the last message arrived.
stored_last_change() {
  # shellcheck disable=SC2046
  { stat -c %.9Y $(maildir_dirs) 2>/dev/null || true; } | sort -n | tail -1
}
# Per-user counts that are not the user's share, for the notes ("" when all match).
share_mismatches() {
  local i n out=""
  for ((i = 1; i <= MAILBOXES; i++)); do
    n=$(( $(count_files "$dovecot_dir/mail/$DOMAIN/user$i/Maildir/new") + $(count_files "$dovecot_dir/mail/$DOMAIN/user$i/Maildir/cur") ))
    [ "$n" -eq "$(share "$MESSAGES" "$i")" ] || out+="${out:+, }user$i $n of $(share "$MESSAGES" "$i")"
  done
  echo "$out"
}

# lmtp_load NAME WATCH TARGET [OPTIONS...]: the load (run_split), then waits (bounded)
# until the Maildirs hold every message. WATCH: "pid:name" list for wait_for_count.
# Sets result_accept, result_stored, result_error (returns 1 on failure).
lmtp_load() {
  local name=$1 watch=$2
  shift 2
  result_stored=""
  run_split "$name" "$@" || return 1
  wait_for_count 0.2 stored "$watch" stored_count || return 1
  result_stored=$(calc "$MESSAGES / ($(stored_last_change) - $source_t0)")
}

# wait_drained COMMAND...: waits up to DRAIN_TIMEOUT s for COMMAND to print 0
# (messages left in the MTA's queue). Prints what is left.
wait_drained() {
  local i left
  for ((i = 0; i < DRAIN_TIMEOUT * 10; i++)); do
    left=$("$@")
    [ "$left" -eq 0 ] && break
    sleep 0.1
  done
  echo "$left"
}

# final_count: what the Maildirs hold once the MTA and Dovecot are stopped, for the
# messages column; adds a note when a user did not get exactly its share.
final_count() {
  local n bad
  n=$(stored_count)
  bad=$(share_mismatches)
  [ -z "$bad" ] || notes+=("warning: $1: Maildirs not holding each user's share: $bad")
  if [ "$n" -eq "$MESSAGES" ] && [ -z "$bad" ]; then echo "$n"; else echo "MISMATCH: $n stored, $MESSAGES sent"; fi
}

# dovecot_notes NAME: LMTP sessions and problems in the Dovecot log of NAME, up to
# the line where the script stopped it (stopping logs warnings and errors of its own:
# processes killed, logging shut down, auth losing anvil). The helper's start check
# opens 2 connections, not counted.
dovecot_notes() {
  local name=$1 n
  n=$(dovecot_log | grep -c 'lmtp([0-9]*): Info: Connect from' || true)
  notes+=("note: $name: Dovecot logged $(( ${n:-2} - 2 )) LMTP connections (besides the 2 of its start check)")
  n=$(dovecot_log | grep -Eci ': (error|fatal|panic|warning):' || true)
  [ "${n:-0}" -eq 0 ] || notes+=("warning: $name: Dovecot logged $n errors/warnings, first: $(dovecot_log | grep -Ei -m1 ': (error|fatal|panic|warning):')")
}
dovecot_log() { head -n "$dovecot_log_lines" "$dovecot_dir/dovecot.log" 2>/dev/null || true; }

# ---------------------------------------------------------------- Dovecot alone

# The same load straight into a fresh Dovecot's LMTP socket (smtp-source -L, and -d:
# one connection per session for all its messages, as the MTAs keep theirs): what the
# mail store takes on this machine, the ceiling of the MTA rows.
bench_dovecot() {
  local stored messages
  if ! start_dovecot dovecot "Dovecot alone"; then
    rows+=("| Dovecot alone | not run: $result_error | | 0 |")
    return 0
  fi
  if lmtp_load dovecot "$dovecot_pid:dovecot" "unix:$dovecot_socket" -L -d; then
    stored=$result_stored
  else
    stored="failed: $result_error"
  fi
  stop_dovecot
  messages=$(final_count "Dovecot alone")
  rows+=("| Dovecot alone (smtp-source -L -d into its socket: mail store ceiling) | ${result_accept:-failed} | $stored | $messages |")
  dovecot_notes "Dovecot alone"
}

# ---------------------------------------------------------------- smtp-sink

bench_sink_split() {
  if ! start_sink sink; then
    rows+=("| smtp-sink (no queue) | not run: $result_error | | 0 |")
    return 0
  fi
  commands+=("ceiling: $sink_cmd")
  if run_split sink "127.0.0.1:$sink_port"; then
    rows+=("| smtp-sink (no queue: load generator ceiling) | $result_accept | - | - |")
  else
    rows+=("| smtp-sink (no queue) | failed: $result_error | | |")
  fi
  stop_sink
}

# ---------------------------------------------------------------- tern

tern_failed=""
bench_tern() {
  local ok=1 stored left messages n
  start_dovecot tern "tern's Dovecot" || tern_fail "$result_error"
  # bench is a local user of example.test, so that a bounce to the sender lands in a
  # Maildir (counted below); example.org goes to Dovecot.
  tern_domains='["example.test", "example.org"]'
  start_tern '["bench"]' "[domain.\"$DOMAIN\"]
accept_any_user = true
delivery = \"lmtp:unix:$dovecot_socket\""
  if ! lmtp_load tern "$tern_pid:tern $dovecot_pid:dovecot" "127.0.0.1:$tern_port"; then
    ok="" stored="FAILED: $result_error"
    if [ -z "$result_accept" ]; then
      rows+=("| $tern_version | failed: $result_error | | $(stored_count)/$MESSAGES stored |")
      tern_fail "$result_error"
    fi
  else
    stored=$result_stored
  fi
  if kill -0 "$tern_pid" 2>/dev/null; then
    left=$(wait_drained count_files "$tern_dir/data/queue/active")
    [ "$left" -eq 0 ] || notes+=("warning: $left files left in tern's queue/active ${DRAIN_TIMEOUT}s after the Maildirs held every message")
    read_tern_rss
  fi
  stop_tern
  stop_dovecot
  messages=$(final_count tern)
  [[ $messages == MISMATCH* ]] && ok=""
  rows+=("| $tern_version | $result_accept | $stored | $messages |")
  n=$(count_files "$tern_dir/data/mail/example.test/bench/new")
  [ "$n" -eq 0 ] || { notes+=("warning: $n bounces from tern in bench@example.test's Maildir"); ok=""; }
  n=$(grep -c "event=delivered .*path=\"\\?lmtp:" "$tern_dir/tern.log" || true)
  notes+=("note: tern logged $n LMTP deliveries (event=delivered path=lmtp:...)")
  local ev
  for ev in lmtp_connect_failed deferred failed dsn; do
    n=$(grep -c "event=$ev " "$tern_dir/tern.log" || true)
    [ "$n" -eq 0 ] || notes+=("warning: tern logged $n event=$ev, first: $(grep -m1 "event=$ev " "$tern_dir/tern.log")")
  done
  n=$({ grep -E '^[^ ]+ (warning|error|critical) ' "$tern_dir/tern.log" || true; } |
    { grep -o 'event=[a-z_]*' || true; } | sort | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')
  [ -z "$n" ] || notes+=("note: tern's lines at warning or above: $n")
  dovecot_notes tern
  [ "$tern_exit" = 0 ] || tern_fail "tern exited with status $tern_exit after SIGTERM (expected 0)"
  # A mismatch or a timeout still lets Postfix run, for the table; the exit status is 1.
  [ -n "$ok" ] || tern_failed="tern did not store exactly $MESSAGES messages: ${stored#FAILED: }, Maildirs: $messages"
}

# ---------------------------------------------------------------- Postfix

bench_postfix() {
  local stored left messages n
  if ! start_dovecot postfix "Postfix's Dovecot"; then
    postfix_row "$(postconf -h mail_version 2>/dev/null || echo '?')" "not run: $result_error" "" 0
    return 0
  fi
  # Every address at example.org is accepted (virtual_mailbox_maps empty, as tern's
  # accept_any_user) and handed to lmtp(8) on Dovecot's socket; Debian's defaults
  # otherwise: up to 20 parallel LMTP deliveries, connection cache on demand.
  if ! start_postfix "relayhost =
virtual_mailbox_domains = $DOMAIN
virtual_transport = lmtp:unix:$dovecot_socket" "virtual_transport = lmtp:unix:$dovecot_socket"; then
    stop_dovecot
    return 0
  fi
  if lmtp_load postfix "$dovecot_pid:dovecot" "127.0.0.1:$postfix_port"; then
    stored=$result_stored
    left=$(wait_drained postfix_queue_count)
    [ "$left" -eq 0 ] || notes+=("warning: $left messages left in Postfix's queue ${DRAIN_TIMEOUT}s after the Maildirs held every message")
  else
    stored="failed: $result_error"
  fi
  stop_postfix
  stop_dovecot
  messages=$(final_count postfix)
  postfix_row "$postfix_version" "${result_accept:-failed}" "$stored" "$messages"
  n=$(grep -c 'lmtp\[[0-9]*\]: .* status=sent' "$work/postfix/postfix.log" 2>/dev/null || true)
  notes+=("note: Postfix logged ${n:-0} LMTP deliveries (lmtp status=sent)")
  local st
  for st in deferred bounced; do
    n=$(grep -c "status=$st" "$work/postfix/postfix.log" 2>/dev/null || true)
    [ "${n:-0}" -eq 0 ] || notes+=("warning: Postfix logged $n status=$st, first: $(grep -m1 "status=$st" "$work/postfix/postfix.log")")
  done
  dovecot_notes postfix
}

# ---------------------------------------------------------------- main

# Fail before any measurement when the binary under test is missing.
[ "$ONLY" = postfix ] || [ -x "$TERN_BIN" ] || tern_fail "no executable at $TERN_BIN (make build, or set TERN_BIN)"
[ -n "$ONLY" ] || bench_sink_split
[ -n "$ONLY" ] || bench_dovecot
[ "$ONLY" = postfix ] || bench_tern
[ "$ONLY" = tern ] || bench_postfix
[ -z "$tern_failed" ] || tern_fail "$tern_failed"
print_report
