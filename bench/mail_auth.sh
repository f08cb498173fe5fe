#!/usr/bin/env bash
# bench/mail_auth.sh — what SPF, DKIM verification and DMARC cost tern's acceptance
# (issue 18): tern with the three checks on against the same tern with them off, same
# load, same machine, same run, alternated ROUNDS times.
#
# Load: Postfix's smtp-source, SESSIONS parallel sessions sending MESSAGES copies of one
# real signed message (rsa-sha256, 2048-bit key, relaxed/relaxed, made with dkimpy) from
# someone@sender.test to alice@example.test (one connection per message, HELO, no
# pipelining), with `smtp-source -F FILE`, which sends the file as it is (no header
# lines added; dot-stuffed; LF turned into CRLF). A private dnsmasq serves sender.test:
# SPF `v=spf1 ip4:127.0.0.1 -all`, DMARC `p=reject` and the DKIM key, with a TTL of an
# hour. tern has `[relay] networks = []`, so 127.0.0.1 is a client from outside and its
# mail is checked, and `[dns] servers` pointing at the dnsmasq. Each tern run starts a
# fresh tern, sends WARMUP messages first (DNS cache warm), then the measured load.
# Printed, not asserted:
#   accepted msgs/s   = MESSAGES / wall time of smtp-source (every 250 after DATA received)
#   delivered msgs/s  = MESSAGES / (mtime of the last Maildir file - start of smtp-source)
#   CPU per message   = tern's user+system time from the start of the measured load until
#                       the last message is in the Maildir, / MESSAGES
# Every message delivered with the checks on must carry tern's Authentication-Results with
# spf=pass, dkim=pass and dmarc=pass: all delivered files are read.
# A first row, smtp-source into smtp-sink, shows the load generator's ceiling; a last row
# is a private Postfix, which checks none of the three (they are milters and policy
# services there), on the same load: for scale.
#
# Environment: MESSAGES (5000) SESSIONS (20) TERN_BIN (build/tern) KEEP TERN_LOG_LEVEL
#   DELIVERY_TIMEOUT as accept.sh, and
#   ROUNDS (3)     rounds of (checks off, checks on)
#   WARMUP (100)   messages sent to each fresh tern before the measured load
#   ONLY=tern      skip the smtp-sink and Postfix rows; ONLY=postfix: only Postfix
# Exit status: 0 when every tern run accepted and delivered every message, every message
# of a checks-on run passed the three checks, and tern exited 0 on SIGTERM; 1 otherwise.
# Shared code (environment, temp dir, trap, tern, Postfix, report): bench/lib.sh.
set -euo pipefail

MESSAGES=${MESSAGES:-5000}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-100}
for v in ROUNDS WARMUP; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$bench_name: $v must be a positive integer" >&2; exit 2; }
done
command -v dnsmasq >/dev/null || { echo "$bench_name: dnsmasq missing (dnsmasq-base): run scripts/deps.sh" >&2; exit 1; }
/usr/bin/python3 -c 'import dkim, dns.resolver' 2>/dev/null ||
  { echo "$bench_name: /usr/bin/python3 needs python3-dkim and python3-dnspython: run scripts/deps.sh" >&2; exit 1; }

RCPT=alice@example.test
FROM=someone@sender.test
SELECTOR=bench
HELO=client.sender.test
AUTHSERV=tern.bench.example.test   # lib.sh's tern hostname, the A-R authserv-id
report_title="SPF + DKIM verify + DMARC on vs off: $SESSIONS sessions x $MESSAGES signed messages (rsa-sha256 2048), $ROUNDS rounds"
report_store="queues and Maildirs"
report_columns="| run | accepted msgs/s | delivered msgs/s (end to end) | messages | tern CPU per message | DNS queries during the load | Authentication-Results |"
failed=0

# ---------------------------------------------------------------- the signed message

# A 2048-bit RSA key (openssl), its TXT record, and one message signed with it by
# dkimpy, checked by dkimpy against the record, written with LF line ends for
# smtp-source -F ($work/message.txt). Sets dkim_record.
make_message() {
  openssl genrsa -traditional -out "$work/dkim.pem" 2048 >/dev/null 2>&1
  dkim_record="v=DKIM1; k=rsa; p=$(openssl rsa -in "$work/dkim.pem" -pubout -outform DER 2>/dev/null | base64 -w0)"
  /usr/bin/python3 - "$work/dkim.pem" "$dkim_record" "$work/message.txt" "$SELECTOR" "$FROM" "$RCPT" <<'EOF'
import sys, dkim
pem, record, out, selector, sender, rcpt = sys.argv[1:]
domain = sender.split("@")[1]
line = b"The quick brown fox jumps over the lazy dog; benchmark text for DKIM.\r\n"
body = line * (2048 // len(line) + 1)
head = (f"From: Someone <{sender}>\r\nTo: Alice <{rcpt}>\r\n"
        "Subject: mail_auth benchmark\r\nDate: Mon, 07 Dec 2026 09:00:00 +0000\r\n"
        f"Message-ID: <mail-auth-bench@{domain}>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n").encode()
msg = head + b"\r\n" + body
sig = dkim.sign(msg, selector.encode(), domain.encode(), open(pem, "rb").read(),
                canonicalize=(b"relaxed", b"relaxed"), linesep=b"\r\n")
signed = sig + msg
def dnsfunc(name, timeout=5):
    assert name == f"{selector}._domainkey.{domain}.".encode(), name
    return record.encode()
if not dkim.verify(signed, dnsfunc=dnsfunc):
    sys.exit("dkimpy does not verify its own signature")
with open(out, "wb") as f:
    f.write(signed.replace(b"\r\n", b"\n"))
EOF
}

# ---------------------------------------------------------------- DNS

dns_pid=""
stop_dns() {
  [ -n "$dns_pid" ] || return 0
  kill "$dns_pid" 2>/dev/null
  wait "$dns_pid" 2>/dev/null || true
  dns_pid=""
}
mail_auth_cleanup() { set +e; stop_dns; cleanup; }
trap mail_auth_cleanup EXIT

# dnsmasq on a free loopback port serving sender.test (TTL 1 h: --local-ttl), every
# query logged to $work/dnsmasq.log. A TXT string holds at most 255 octets: the DKIM
# record goes in several (--txt-record=NAME,S1,S2,...), which DKIM joins with nothing
# between (RFC 6376 3.6.2.2). Sets dns_port; checks that the records read back whole.
start_dns() {
  local domain=${FROM#*@} parts=() joined i
  for ((i = 0; i < ${#dkim_record}; i += 250)); do parts+=("${dkim_record:i:250}"); done
  joined=$(IFS=,; echo "${parts[*]}")
  local cmd=(dnsmasq --no-daemon --port=PORT --listen-address=127.0.0.1 --bind-interfaces
    --no-resolv --no-hosts --conf-file=/dev/null --local=/test/ --local-ttl=3600
    --log-queries "--log-facility=$work/dnsmasq.log"
    "--txt-record=$domain,v=spf1 ip4:127.0.0.1 -all"
    "--txt-record=_dmarc.$domain,v=DMARC1; p=reject"
    "--txt-record=$SELECTOR._domainkey.$domain,$joined")
  for i in 1 2 3; do
    dns_port=$(free_port)
    "${cmd[@]/PORT/$dns_port}" >"$work/dnsmasq.out" 2>&1 &
    dns_pid=$!
    wait_listening "$dns_port" "$dns_pid" && break
    stop_dns
  done
  [ -n "$dns_pid" ] || tern_fail "dnsmasq did not start: $(tail -3 "$work/dnsmasq.out")"
  commands+=("DNS: ${cmd[*]/PORT/$dns_port}  # DKIM record cut in ${#parts[@]} strings")
  /usr/bin/python3 - "$dns_port" "$domain" "$SELECTOR" "$dkim_record" <<'EOF' || tern_fail "dnsmasq does not serve the zone as meant"
import sys, dns.resolver
port, domain, selector, record = sys.argv[1:]
r = dns.resolver.Resolver(configure=False)
r.nameservers, r.port, r.lifetime = ["127.0.0.1"], int(port), 5.0
def txt(name):
    return [b"".join(rr.strings).decode() for rr in r.resolve(name, "TXT")]
want = {domain: "v=spf1 ip4:127.0.0.1 -all", "_dmarc." + domain: "v=DMARC1; p=reject",
        f"{selector}._domainkey.{domain}": record}
for name, value in want.items():
    got = txt(name)
    if got != [value]:
        sys.exit(f"{name}: {got!r}, not [{value!r}]")
EOF
}

dns_queries() { grep -c 'query\[' "$work/dnsmasq.log" 2>/dev/null || true; }

# ---------------------------------------------------------------- load

# source_cmd PORT COUNT [SESSIONS]: the smtp-source command line (in the array `cmd`).
source_cmd() {
  cmd=(smtp-source -s "${3:-$SESSIONS}" -m "$2" -F "$work/message.txt" -M "$HELO"
    -f "$FROM" -t "$RCPT" "127.0.0.1:$1")
}

# run_signed_source NAME PORT: the measured load, as lib.sh's run_source but with the
# signed message. Sets source_t0 and result_accept; on failure result_error, returns 1.
run_signed_source() {
  local name=$1 port=$2 t1 rc=0
  result_accept="" result_error=""
  source_cmd "$port" "$MESSAGES"
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

# Files in the Maildir $1 beyond the first $2 (the warm-up).
count_beyond() { echo $(( $(count_files "$1") - $2 )); }

# tern's CPU time (user + system, all threads) in seconds.
tern_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$tern_pid/stat"
}

# check_results DIR: reads every message in the Maildir DIR and prints
# "PASSED TOTAL SUMMARY": files whose Authentication-Results from tern (authserv-id
# AUTHSERV) say spf=pass, dkim=pass and dmarc=pass, files, and a tally of what the
# files carry (e.g. "5100 x spf=pass dkim=pass dmarc=pass"; "no A-R" when none).
check_results() {
  /usr/bin/python3 - "$1" "$AUTHSERV" <<'EOF'
import collections, os, re, sys
folder, authserv = sys.argv[1:]
tally = collections.Counter()
passed = total = 0
for name in os.listdir(folder):
    with open(os.path.join(folder, name), "rb") as f:
        head = f.read(65536).split(b"\n\n", 1)[0].replace(b"\r\n", b"\n")
    total += 1
    fields = re.split(rb"\n(?![ \t])", re.sub(rb"\n[ \t]+", b" ", head))
    results = []
    for field in fields:
        key, _, value = field.partition(b":")
        if key.strip().lower() != b"authentication-results":
            continue
        if value.split(b";", 1)[0].strip().decode(errors="replace").lower() != authserv:
            continue
        value = re.sub(rb"\([^)]*\)", b"", value).decode(errors="replace")  # comments
        results += [f"{m}={r}" for m, r in re.findall(r"(?<![\w.])(spf|dkim|dmarc)=(\w+)", value)]
    key = " ".join(results) if results else "no A-R"
    tally[key] += 1
    if {"spf=pass", "dkim=pass", "dmarc=pass"} <= set(results):
        passed += 1
summary = ", ".join(f"{n} x {k}" for k, n in tally.most_common())
print(passed, total, summary)
EOF
}

# ---------------------------------------------------------------- tern

declare -A accepts delivers cpus
paired_accept="" paired_deliver="" last_off_accept="" last_off_deliver=""

# bench_tern ROUND on|off: a fresh tern with the checks on or off, WARMUP messages, then
# the measured load; adds its row, keeps its figures for the medians.
bench_tern() {
  local round=$1 checks=$2 extra maildir left q0 q1 c0 c1 out passed total summary label
  extra="[relay]
networks = []

[dns]
servers = [\"127.0.0.1:$dns_port\"]"
  if [ "$checks" = off ]; then
    extra+="

[spf]
verify = false

[dkim]
verify = false

[dmarc]
verify = false"
  fi
  label="round $round, checks $checks"
  rm -rf "$work/tern"
  start_tern '["alice"]' "$extra"
  if [ "$round" = 1 ]; then
    notes+=("tern config with the checks $checks: accept.sh's, plus $(tr '\n' ' ' <<<"$extra" | sed 's/  */ /g')")
  else
    unset 'commands[-1]'   # start_tern's command line: the same as in round 1
  fi
  maildir=$tern_dir/data/mail/example.test/alice/new

  # Warm-up: the DNS answers cached (and tern's first connections made).
  source_cmd "$tern_port" "$WARMUP" "$(( SESSIONS < WARMUP ? SESSIONS : WARMUP ))"
  [ "$round" != 1 ] || [ "$checks" != off ] || commands+=("warm-up, each tern: ${cmd[*]}")
  "${cmd[@]}" >"$work/warmup.out" 2>&1 || tern_fail "$label: warm-up: smtp-source: $(tail -1 "$work/warmup.out")"
  local MESSAGES_SAVED=$MESSAGES
  MESSAGES=$WARMUP
  wait_for_count 0.2 delivered "$tern_pid:tern" count_files "$maildir" || tern_fail "$label: warm-up: $result_error"
  MESSAGES=$MESSAGES_SAVED

  q0=$(dns_queries)
  c0=$(tern_cpu)
  if ! run_signed_source "tern-$checks-$round" "$tern_port"; then
    rows+=("| $label | failed | FAILED: $result_error | | | | |")
    tern_fail "$label: $result_error"
  fi
  [ "$round" != 1 ] || [ "$checks" != off ] || commands+=("measured load, each tern: ${cmd[*]}")
  if ! wait_for_count 0.2 delivered "$tern_pid:tern" count_beyond "$maildir" "$WARMUP"; then
    rows+=("| $label | $result_accept | FAILED: $result_error | $wait_count/$MESSAGES | | | |")
    tern_fail "$label: $result_error"
  fi
  c1=$(tern_cpu)
  q1=$(dns_queries)
  result_deliver=$(calc "$MESSAGES / ($(last_mtime "$maildir") - $source_t0)")
  read_tern_rss
  stop_tern
  [ "$tern_exit" = 0 ] || tern_fail "$label: tern exited with status $tern_exit after SIGTERM (expected 0)"
  left=$(count_files "$tern_dir/data/queue/active")
  [ "$left" -eq 0 ] || notes+=("warning: $label: $left files left in tern's queue/active after every message was delivered")

  read -r passed total summary < <(check_results "$maildir")
  local ar="$summary"
  if [ "$checks" = on ] && [ "$passed" -ne "$total" ]; then
    ar="**WARNING: $((total - passed)) of $total without spf=pass dkim=pass dmarc=pass**: $summary"
    failed=1
  fi
  [ "$total" -eq $((MESSAGES + WARMUP)) ] ||
    { ar+=" (**WARNING: $total files, $((MESSAGES + WARMUP)) sent**)"; failed=1; }
  accepts[$checks]+="$result_accept "
  delivers[$checks]+="$result_deliver "
  cpus[$checks]+="$(calc "($c1 - $c0) * 1000 / $MESSAGES" 3) "
  # With the checks on, also the cost against the checks-off run just before (same
  # round, closest in time: the machine's speed drifts less between them).
  local acc=$result_accept del=$result_deliver
  if [ "$checks" = off ]; then
    last_off_accept=$result_accept last_off_deliver=$result_deliver
  else
    paired_accept+="$(calc "100 * ($last_off_accept - $result_accept) / $last_off_accept" 1) "
    paired_deliver+="$(calc "100 * ($last_off_deliver - $result_deliver) / $last_off_deliver" 1) "
    acc+=" ($(calc "100 * ($result_accept - $last_off_accept) / $last_off_accept" 1)%)"
    del+=" ($(calc "100 * ($result_deliver - $last_off_deliver) / $last_off_deliver" 1)%)"
  fi
  rows+=("| $label | $acc | $del | $((total - WARMUP)) (+$WARMUP warm-up) | $(calc "($c1 - $c0) * 1000 / $MESSAGES" 3) ms | $((q1 - q0)) | $ar |")
  notes+=("$label: tern peak RSS $tern_rss")
  tern_rss=""   # print_report's line would name only the last run's
  if [ "$KEEP" = 1 ]; then mv "$work/tern" "$work/tern-$checks-$round"; else rm -rf "$work/tern"; fi
}

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---------------------------------------------------------------- the reference rows

bench_sink_signed() {
  local t0 t1 rc=0
  if ! start_sink sink; then
    rows+=("| smtp-sink (no queue) | not run: $result_error | | 0 | | | |")
    return 0
  fi
  source_cmd "$sink_port" "$MESSAGES"
  commands+=("ceiling: $sink_cmd; ${cmd[*]}")
  t0=$(now)
  "${cmd[@]}" >"$work/sink-source.out" 2>&1 || rc=$?
  t1=$(now)
  stop_sink
  if [ "$rc" -eq 0 ]; then
    rows+=("| smtp-sink (no queue: load generator ceiling) | $(calc "$MESSAGES / ($t1 - $t0)") | - | $MESSAGES | - | - | - |")
  else
    rows+=("| smtp-sink (no queue) | failed: $(tail -1 "$work/sink-source.out") | | | | | |")
  fi
}

# accept.sh's private Postfix (virtual(8) into a Maildir), no checks, same load.
bench_postfix() {
  local dir=$work/postfix uid gid maildir
  uid=$(id -u nobody) gid=$(id -g nobody)
  mkdir -p "$dir/mail"
  chown "$uid:$gid" "$dir/mail"
  echo "$RCPT example.test/alice/" >"$dir/vmailbox"
  start_postfix "relayhost =
virtual_mailbox_domains = example.test
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$dir/vmailbox
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid" "virtual(8) into $dir/mail, no SPF/DKIM/DMARC" || return 0
  maildir=$dir/mail/example.test/alice/new
  if run_signed_source postfix "$postfix_port" &&
    wait_for_count 0.5 delivered "" count_files "$maildir"; then
    postfix_row "$postfix_version (no checks)" "$result_accept" \
      "$(calc "$MESSAGES / ($(last_mtime "$maildir") - $source_t0)")" "$wait_count | - | - | -"
  else
    postfix_row "$postfix_version (no checks)" "${result_accept:-failed}" "failed: $result_error" "${wait_count:-0}/$MESSAGES | | |"
  fi
  stop_postfix
}

# ---------------------------------------------------------------- main

[ "$ONLY" = postfix ] || [ -x "$TERN_BIN" ] || tern_fail "no executable at $TERN_BIN (make build, or set TERN_BIN)"
# Every tern run uses one copy of the binary, taken now: others may rebuild build/ meanwhile.
if [ "$ONLY" != postfix ]; then
  cp "$TERN_BIN" "$work/tern-under-test"
  notes+=("tern binary: copy of $TERN_BIN ($(stat -c '%y' "$TERN_BIN" | cut -d. -f1), $("$TERN_BIN" --version 2>/dev/null)) taken at the start")
  TERN_BIN=$work/tern-under-test
fi
make_message
notes+=("message: $(wc -c <"$work/message.txt") octets as sent by smtp-source (CRLF), DKIM-Signature rsa-sha256 relaxed/relaxed d=${FROM#*@} s=$SELECTOR, 2048-bit key")
[ -n "$ONLY" ] || bench_sink_signed
if [ "$ONLY" != postfix ]; then
  start_dns
  for ((r = 1; r <= ROUNDS; r++)); do
    bench_tern "$r" off
    bench_tern "$r" on
  done
  stop_dns
  a_off=$(median "${accepts[off]}") a_on=$(median "${accepts[on]}")
  d_off=$(median "${delivers[off]}") d_on=$(median "${delivers[on]}")
  c_off=$(median "${cpus[off]}") c_on=$(median "${cpus[on]}")
  rows+=("| **median, checks off** | $(calc "$a_off") | $(calc "$d_off") | | $(calc "$c_off" 3) ms | | |")
  rows+=("| **median, checks on** | $(calc "$a_on") | $(calc "$d_on") | | $(calc "$c_on" 3) ms | | |")
  rows+=("| **cost of the checks** (off − on) / off: of the medians; [median of the rounds' own] | $(calc "100 * ($a_off - $a_on) / $a_off" 1)% [$(calc "$(median "$paired_accept")" 1)%] | $(calc "100 * ($d_off - $d_on) / $d_off" 1)% [$(calc "$(median "$paired_deliver")" 1)%] | | +$(calc "$c_on - $c_off" 3) ms (+$(calc "100 * ($c_on - $c_off) / $c_off" 0)%: a tern short of CPU would lose $(calc "100 * ($c_on - $c_off) / $c_on" 1)% of its rate) | | |")
  notes+=("Issue 18's target: the checks cost at most 30% of acceptance throughput with a warm DNS cache.")
fi
[ "$ONLY" = tern ] || bench_postfix
print_report
if [ "$failed" = 1 ]; then
  log "some messages lacked the expected results (see the Authentication-Results column)"
  exit 1
fi
