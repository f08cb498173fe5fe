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
#   TERN_EXTRA           TOML appended to tern's config (e.g. to turn the mail checks off)
#   DELIVERY_TIMEOUT     seconds to wait for the last Maildir file after the load (300)
#   KEEP=1               keep the temp dir (configs, logs, queues, Maildirs)
# Exit status: 0 when tern ran and delivered everything (Postfix problems are only
# reported in its table row); 1 when tern failed.
# Shared code (environment, temp dir, trap, tern, Postfix, report): bench/lib.sh.
set -euo pipefail

# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

RCPT=alice@example.test
report_title="Durable acceptance into a local Maildir: $SESSIONS sessions x $MESSAGES messages x $SIZE octets"
report_store="queues and Maildirs"
report_columns="| MTA | accepted msgs/s | delivered msgs/s (end to end) | messages |"

# Runs the load against 127.0.0.1:$2, then waits for the Maildir $3 to hold every
# message. Sets: result_accept, result_deliver, result_count, result_error.
# $1: name (for files), $4: pid of the MTA, which must stay alive (optional).
run_load() {
  local name=$1 port=$2 maildir=$3 pid=${4:-} last
  result_deliver="" result_count=0
  run_source "$name" "$port" || return 1
  if ! wait_for_count 0.5 delivered "${pid:+$pid:$name}" count_files "$maildir"; then
    result_count=$wait_count
    return 1
  fi
  result_count=$wait_count
  last=$(last_mtime "$maildir")
  result_deliver=$(calc "$MESSAGES / ($last - $source_t0)")
}

# ---------------------------------------------------------------- tern

bench_tern() {
  start_tern '["alice"]' "${TERN_EXTRA:-}"
  if ! run_load tern "$tern_port" "$tern_dir/data/mail/example.test/alice/new" "$tern_pid"; then
    rows+=("| $tern_version | ${result_accept:-failed} | FAILED: $result_error | $result_count/$MESSAGES |")
    tern_fail "$result_error"
  fi
  read_tern_rss
  rows+=("| $tern_version | $result_accept | $result_deliver | $result_count |")
  stop_tern
  [ "$tern_exit" = 0 ] || tern_fail "tern exited with status $tern_exit after SIGTERM (expected 0)"
  local left
  left=$(count_files "$tern_dir/data/queue/active")
  [ "$left" -eq 0 ] || notes+=("warning: $left files left in tern's queue/active after every message was delivered")
}

# ---------------------------------------------------------------- Postfix

bench_postfix() {
  local dir=$work/postfix uid gid
  uid=$(id -u nobody) gid=$(id -g nobody)
  mkdir -p "$dir/mail"
  chown "$uid:$gid" "$dir/mail"
  echo "$RCPT example.test/alice/" >"$dir/vmailbox"
  # virtual(8) delivery of alice@example.test into a Maildir, as nobody.
  start_postfix "relayhost =
virtual_mailbox_domains = example.test
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$dir/vmailbox
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid" "virtual(8) into $dir/mail" || return 0
  if run_load postfix "$postfix_port" "$dir/mail/example.test/alice/new"; then
    postfix_row "$postfix_version" "$result_accept" "$result_deliver" "$result_count"
  else
    postfix_row "$postfix_version" "${result_accept:-failed}" "failed: $result_error" "$result_count/$MESSAGES"
  fi
  stop_postfix
}

# ---------------------------------------------------------------- main

# Fail before any measurement when the binary under test is missing.
[ "$ONLY" = postfix ] || [ -x "$TERN_BIN" ] || tern_fail "no executable at $TERN_BIN (make build, or set TERN_BIN)"
[ -n "$ONLY" ] || bench_sink
[ "$ONLY" = postfix ] || bench_tern
[ "$ONLY" = tern ] || bench_postfix
print_report
