#!/usr/bin/env bash
# bench/relay.sh — relaying to a smarthost: smtp-source -> MTA -> smtp-sink, tern against
# a private Postfix, same load, same machine, same run.
#
# Load: Postfix's smtp-source, SESSIONS parallel sessions sending MESSAGES messages of
# SIZE octets from bench@example.test to sink@remote.test (one connection per message,
# HELO, no pipelining: smtp-source's defaults). Each MTA accepts into its durable queue
# and relays everything to its own smtp-sink on a loopback port (tern:
# [relay] smarthost; Postfix: relayhost = [127.0.0.1]:PORT, disable_dns_lookups = yes).
# smtp-sink runs with -c and its counters tell how many messages it received.
# Printed, not asserted:
#   accepted msgs/s    = MESSAGES / wall time of smtp-source (every 250 after DATA received)
#   end-to-end msgs/s  = MESSAGES / (time smtp-sink counted the last message - start of
#                        smtp-source)
#   messages           = messages smtp-sink received, counted after the MTA was stopped;
#                        anything but MESSAGES is printed as a MISMATCH
# A first row, smtp-source into smtp-sink directly (no MTA), shows the ceiling of the
# load generator itself on this machine.
#
# Environment: MESSAGES (10000) SESSIONS (20) SIZE (2048) TERN_BIN (build/tern)
#   ONLY=tern|postfix    run one side only (and skip the smtp-sink ceiling row)
#   TERN_LOG_LEVEL       log_level for tern (info, as a production server logs)
#   DELIVERY_TIMEOUT     seconds to wait, after the load, for smtp-sink to count every
#                        message (300)
#   KEEP=1               keep the temp dir (configs, logs, queues, smtp-sink counters)
# Exit status: 0 when tern relayed every message, smtp-sink received exactly MESSAGES
# and tern exited 0 on SIGTERM (Postfix problems are only reported in its table row);
# 1 when tern failed.
# Shared code (environment, temp dir, trap, tern, Postfix, report): bench/lib.sh.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

RCPT=sink@remote.test
DRAIN_TIMEOUT=30   # seconds for the MTA's queue to empty once smtp-sink has them all
report_title="Relay to a smarthost (smtp-source -> MTA -> smtp-sink): $SESSIONS sessions x $MESSAGES messages x $SIZE octets"
report_store="queues"
report_columns="| MTA | accepted msgs/s | end-to-end msgs/s | messages |"

# relay_load NAME PORT WATCH: runs the load against the MTA on 127.0.0.1:PORT, then
# waits (bounded) until the smtp-sink started for NAME has counted every message.
# WATCH: "pid:name" list for wait_for_count. Sets result_accept, result_e2e and
# result_error (returns 1 on failure).
relay_load() {
  local name=$1 port=$2 watch=$3 last
  result_e2e=""
  run_source "$name" "$port" || return 1
  wait_for_count 0.1 "received by smtp-sink" "$watch" sink_counter "$work/$name-sink.out" || return 1
  last=${wait_out#* }
  result_e2e=$(calc "$MESSAGES / ($last - $source_t0)")
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

# final_count NAME: what smtp-sink counted, read once the MTA and the sink are stopped
# (nothing can arrive any more), formatted for the messages column.
final_count() {
  local n
  n=$(sink_counter "$work/$1-sink.out")
  n=${n%% *}
  if [ "$n" -eq "$MESSAGES" ]; then echo "$n"; else echo "MISMATCH: $n received, $MESSAGES sent"; fi
}

# ---------------------------------------------------------------- tern

tern_failed=""
bench_tern() {
  local ok=1 e2e left messages n
  start_sink tern -c || tern_fail "$result_error"
  commands+=("tern's smarthost: $sink_cmd")
  # bench is a local user so that a bounce to the sender lands in a Maildir: counted below.
  start_tern '["alice", "bench"]' "[relay]
smarthost = \"127.0.0.1:$sink_port\""
  if ! relay_load tern "$tern_port" "$tern_pid:tern $sink_pid:smtp-sink"; then
    ok="" e2e="FAILED: $result_error"
    if [ -z "$result_accept" ]; then
      # smtp-source failed: tern's log tells why; the sink's count is still reported.
      rows+=("| $tern_version | failed: $result_error | | $(sink_counter "$work/tern-sink.out" | cut -d' ' -f1)/$MESSAGES received |")
      tern_fail "$result_error"
    fi
  else
    e2e=$result_e2e
  fi
  if kill -0 "$tern_pid" 2>/dev/null; then
    left=$(wait_drained count_files "$tern_dir/data/queue/active")
    [ "$left" -eq 0 ] || notes+=("warning: $left files left in tern's queue/active ${DRAIN_TIMEOUT}s after the wait for smtp-sink")
    read_tern_rss
  fi
  stop_tern
  stop_sink
  messages=$(final_count tern)
  [[ $messages == MISMATCH* ]] && ok=""
  rows+=("| $tern_version | $result_accept | $e2e | $messages |")
  n=$(count_files "$tern_dir/data/mail/example.test/bench/new")
  [ "$n" -eq 0 ] || { notes+=("warning: $n bounces from tern in bench@example.test's Maildir"); ok=""; }
  n=$(grep -c 'event=deferred' "$tern_dir/tern.log" || true)
  [ "$n" -eq 0 ] || notes+=("note: tern logged $n deferred deliveries (event=deferred)")
  [ "$tern_exit" = 0 ] || tern_fail "tern exited with status $tern_exit after SIGTERM (expected 0)"
  # A mismatch or a timeout still lets Postfix run, for the table; the exit status is 1.
  [ -n "$ok" ] || tern_failed="tern did not relay exactly $MESSAGES messages: ${e2e#FAILED: }, smtp-sink: $messages"
}

# ---------------------------------------------------------------- Postfix

bench_postfix() {
  local e2e left messages n
  if ! start_sink postfix -c; then
    postfix_row "$(postconf -h mail_version 2>/dev/null || echo '?')" "not run: $result_error" "" 0
    return 0
  fi
  commands+=("Postfix's relayhost: $sink_cmd")
  if ! start_postfix "relayhost = [127.0.0.1]:$sink_port
disable_dns_lookups = yes" "relayhost [127.0.0.1]:$sink_port"; then
    stop_sink
    return 0
  fi
  if relay_load postfix "$postfix_port" "$sink_pid:smtp-sink"; then
    e2e=$result_e2e
    left=$(wait_drained postfix_queue_count)
    [ "$left" -eq 0 ] || notes+=("warning: $left messages left in Postfix's queue ${DRAIN_TIMEOUT}s after the wait for smtp-sink")
  else
    e2e="failed: $result_error"
  fi
  stop_postfix
  stop_sink
  messages=$(final_count postfix)
  postfix_row "$postfix_version" "${result_accept:-failed}" "$e2e" "$messages"
  n=$(grep -c 'status=deferred' "$work/postfix/postfix.log" 2>/dev/null || true)
  [ "${n:-0}" -eq 0 ] || notes+=("note: Postfix logged $n deferred deliveries (status=deferred)")
}

# ---------------------------------------------------------------- main

# Fail before any measurement when the binary under test is missing.
[ "$ONLY" = postfix ] || [ -x "$TERN_BIN" ] || tern_fail "no executable at $TERN_BIN (make build, or set TERN_BIN)"
[ -n "$ONLY" ] || bench_sink
[ "$ONLY" = postfix ] || bench_tern
[ "$ONLY" = tern ] || bench_postfix
[ -z "$tern_failed" ] || tern_fail "$tern_failed"
print_report
