#!/usr/bin/env bash
# bench/tls.sh — TLS on the server side (issue 15): tern against a private Postfix with
# STARTTLS, same client, same machine, same run. Three parts, one table each, printed,
# not asserted:
#   1. durable acceptance over STARTTLS: SESSIONS concurrent sessions send MESSAGES
#      messages of SIZE octets to alice@example.test (Maildir); each session connects
#      once, does STARTTLS once, then sends its share of the messages; the same load
#      without STARTTLS first, so the cost of TLS shows.
#   2. handshake cost: HANDSHAKES sequential connections (EHLO, STARTTLS, handshake,
#      EHLO, QUIT) per variant: full TLS 1.3 / 1.2 handshakes, and resumed ones, each
#      offering the session of the connection before it (ticket, or TLS 1.2 session id).
#   3. memory per idle connection: IDLE_CONNECTIONS connections held open on a fresh
#      tern (STARTTLS done, EHLO answered), VmRSS before and after; again without TLS on
#      another fresh tern; POSTFIX_IDLE_CONNECTIONS on a fresh Postfix (PSS and RSS of
#      its smtpd processes, one per connection).
# The client is Python (/usr/bin/python3, ssl): smtp-source has no STARTTLS. Its code is
# below (written to the temp dir); it speaks the same SMTP to both MTAs.
#
# Environment: MESSAGES (10000) SESSIONS (20) SIZE (2048) TERN_BIN (build/tern)
#   HANDSHAKES (500)             connections per variant in part 2
#   IDLE_CONNECTIONS (10000)     connections held open on tern in part 3
#   POSTFIX_IDLE_CONNECTIONS (100)  the same on Postfix (a process each)
#   CLIENT_PROCS (4)             client processes sharing the sessions of part 1
#   CERT_KEY=ec|rsa              the certificate's key: ECDSA P-256 (default) or RSA 2048
#   PARTS (123)                  which parts to run, e.g. PARTS=3
#   ONLY=tern|postfix            run one side only
#   TERN_LOG_LEVEL               log_level for tern (info, as a production server logs)
#   DELIVERY_TIMEOUT             seconds to wait for the last Maildir file after a load (300)
#   IDLE_TIMEOUT (300)           seconds allowed to open the idle connections
#   KEEP=1                       keep the temp dir (configs, certificate, logs, Maildirs)
# Exit status: 0 when every tern measurement ran (all messages accepted and delivered,
# every connection opened) and tern exited 0 on SIGTERM; 1 when tern failed (Postfix
# problems are only reported in its rows).
# Shared code (environment, temp dir, trap, Postfix, helpers): bench/lib.sh.
set -euo pipefail
export LC_NUMERIC=C

MESSAGES=${MESSAGES:-10000}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

HANDSHAKES=${HANDSHAKES:-500}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-10000}
POSTFIX_IDLE_CONNECTIONS=${POSTFIX_IDLE_CONNECTIONS:-100}
CLIENT_PROCS=${CLIENT_PROCS:-4}
CERT_KEY=${CERT_KEY:-ec}
PARTS=${PARTS:-123}
IDLE_TIMEOUT=${IDLE_TIMEOUT:-300}
for v in HANDSHAKES IDLE_CONNECTIONS POSTFIX_IDLE_CONNECTIONS CLIENT_PROCS IDLE_TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "$bench_name: $v must be a positive integer" >&2; exit 2; }
done
case $CERT_KEY in ec|rsa) ;; *) echo "$bench_name: CERT_KEY must be ec or rsa" >&2; exit 2 ;; esac
[[ $PARTS =~ ^[123]+$ ]] || { echo "$bench_name: PARTS must be made of the digits 1, 2, 3" >&2; exit 2; }

# ---------------------------------------------------------------- the client

client=$work/tls_client.py
cat >"$client" <<'PY'
# SMTP client of bench/tls.sh: the same code drives tern and Postfix. Three modes, each
# printing key=value lines (the script reads them with sed):
#   load PORT SESSIONS MESSAGES SIZE TLS PROCS
#       SESSIONS concurrent sessions (threads spread over PROCS processes); each
#       connects once, EHLO, [STARTTLS, handshake, EHLO,] then its share of MESSAGES x
#       (MAIL, RCPT, DATA, message of SIZE octets), each command waiting for its reply
#       (no pipelining), then QUIT. Prints t0 (Unix time of the start), wall, ok,
#       failed_sessions, error (the first), tls (version and cipher), cpu (user+sys of
#       the client processes).
#   handshake PORT COUNT VARIANT
#       COUNT sequential connections: EHLO, then for VARIANT != plain STARTTLS, the
#       handshake, EHLO; then QUIT. VARIANT: plain, full13, resume13, full12, resume12
#       (TLS 1.2 with a session ticket), resume12id (TLS 1.2, tickets off: session id).
#       resume*: each handshake offers the session of the connection before it.
#       Prints wall, ok, error, reused (handshakes the server resumed), hs_median_ms,
#       hs_mean_ms (the handshake alone, from the 220 to STARTTLS to its end), tls.
#   idle PORT COUNT TLS READY CHECK RESULT TIMEOUT
#       Opens COUNT connections (at most 100 being set up at a time, one process,
#       non-blocking sockets), each: 220, EHLO, [STARTTLS, handshake, EHLO]; then holds
#       them idle. Writes READY (opened, failed, error, tls, setup_s) once every
#       connection is idle or failed, waits for the file CHECK to exist, sends NOOP on
#       every connection, and writes RESULT (alive: 250 replies to the NOOP, closed:
#       connections the server closed while idle) before it exits.
import multiprocessing
import os
import resource
from queue import Empty
import selectors
import socket
import ssl
import statistics
import sys
import threading
import time

HOST = "127.0.0.1"
EHLO = b"EHLO client.bench.example.test\r\n"
MAIL = b"MAIL FROM:<bench@example.test>\r\n"
RCPT = b"RCPT TO:<alice@example.test>\r\n"
TIMEOUT = 120


class SmtpError(Exception):
    pass


def client_context(version="any", tickets=True):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE   # a self-signed bench certificate
    if version == "1.2":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif version == "1.3":
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


def tls_text(sock):
    return "%s %s" % (sock.version(), sock.cipher()[0])


class Conn:
    """A blocking SMTP conversation on a plain or TLS socket."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def expect(self, code):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i + 1], self.buf[i + 1:]
                if line[3:4] == b"-":
                    continue
                if line[:3] != b"%d" % code:
                    raise SmtpError("expected %d, got %r" % (code, line.strip().decode(errors="replace")))
                return
            data = self.sock.recv(65536)
            if not data:
                raise SmtpError("connection closed by the server")
            self.buf += data

    def cmd(self, data, code):
        self.sock.sendall(data)
        self.expect(code)

    def starttls(self, ctx, session=None, times=None):
        self.cmd(b"STARTTLS\r\n", 220)
        if self.buf:
            raise SmtpError("bytes after the 220 to STARTTLS")
        h0 = time.perf_counter()
        self.sock = ctx.wrap_socket(self.sock, session=session)   # the handshake
        if times is not None:
            times.append(time.perf_counter() - h0)
        return self.sock


def connect(port):
    s = socket.create_connection((HOST, port), timeout=TIMEOUT)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c = Conn(s)
    c.expect(220)
    c.cmd(EHLO, 250)
    return c


def make_message(size):
    head = (b"From: <bench@example.test>\r\nTo: <alice@example.test>\r\n"
            b"Subject: tls bench\r\n\r\n")
    line = b"x" * 78 + b"\r\n"
    body = line * (size // 80)
    rest = size % 80
    if rest >= 2:
        body += b"x" * (rest - 2) + b"\r\n"
    return head + body + b".\r\n"


# ---------------------------------------------------------------- load

def load_session(port, tls, count, msg, out):
    ok = 0
    try:
        c = connect(port)
        if tls:
            out["tls"] = tls_text(c.starttls(client_context()))
            c.cmd(EHLO, 250)
        for _ in range(count):
            c.cmd(MAIL, 250)
            c.cmd(RCPT, 250)
            c.cmd(b"DATA\r\n", 354)
            c.cmd(msg, 250)
            ok += 1
        c.cmd(b"QUIT\r\n", 221)
        c.sock.close()
    except Exception as e:
        out["error"] = "%s: %s" % (type(e).__name__, e)
    out["ok"] = ok


def load_process(port, tls, counts, msg, go, queue):
    outs = [{} for _ in counts]
    threads = [threading.Thread(target=load_session, args=(port, tls, n, msg, o))
               for n, o in zip(counts, outs)]
    go.wait()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(outs)


def mode_load(port, sessions, messages, size, tls, procs):
    msg = make_message(size)
    share = [messages // sessions + (1 if i < messages % sessions else 0) for i in range(sessions)]
    groups = [g for g in (share[i::procs] for i in range(procs)) if g]
    mp = multiprocessing.get_context("fork")
    go, queue = mp.Event(), mp.Queue()
    procs = [mp.Process(target=load_process, args=(port, tls, g, msg, go, queue)) for g in groups]
    for p in procs:
        p.start()
    time.sleep(0.3)   # every process waits on go
    t0 = time.time()
    go.set()
    outs, got = [], 0
    while got < len(procs):
        try:
            outs += queue.get(timeout=1)
            got += 1
        except Empty:
            if not any(p.is_alive() for p in procs) and queue.empty():
                break
    t1 = time.time()
    for p in procs:
        p.join()
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    errors = [o["error"] for o in outs if "error" in o]
    errors += ["a client process died"] * (len(procs) - got)
    print("t0=%.6f" % t0)
    print("wall=%.6f" % (t1 - t0))
    print("ok=%d" % sum(o["ok"] for o in outs))
    print("failed_sessions=%d" % len(errors))
    print("error=%s" % (errors[0] if errors else ""))
    print("tls=%s" % next((o["tls"] for o in outs if "tls" in o), "-"))
    print("cpu=%.2f" % (ru.ru_utime + ru.ru_stime))


# ---------------------------------------------------------------- handshake

def mode_handshake(port, count, variant):
    ctx = None
    if variant != "plain":
        ctx = client_context("1.3" if variant.endswith("13") else "1.2",
                             tickets=variant != "resume12id")
    resume = variant.startswith("resume")
    prev, times, reused, ok, error, tls = None, [], 0, 0, "", "-"
    t0 = time.perf_counter()
    for _ in range(count):
        try:
            c = connect(port)
            if ctx:
                s = c.starttls(ctx, session=prev, times=times)
                c.cmd(EHLO, 250)
                reused += s.session_reused
                tls = tls_text(s)
            c.cmd(b"QUIT\r\n", 221)
            if ctx and resume:
                prev = c.sock.session   # the ticket arrives after the handshake
            c.sock.close()
            ok += 1
        except Exception as e:
            error = error or "%s: %s" % (type(e).__name__, e)
    wall = time.perf_counter() - t0
    print("wall=%.6f" % wall)
    print("ok=%d" % ok)
    print("error=%s" % error)
    print("reused=%d" % reused)
    print("hs_median_ms=%.3f" % (statistics.median(times) * 1000 if times else 0))
    print("hs_mean_ms=%.3f" % (statistics.mean(times) * 1000 if times else 0))
    print("tls=%s" % tls)


# ---------------------------------------------------------------- idle

class Idle:
    __slots__ = ("sock", "buf", "out", "state")

    def __init__(self, sock):
        self.sock, self.buf, self.out, self.state = sock, b"", b"", "greet"


def write_file(path, lines):
    with open(path + ".tmp", "w") as f:
        f.write("".join("%s\n" % l for l in lines))
    os.rename(path + ".tmp", path)


def mode_idle(port, count, tls, ready, check, result, timeout):
    ctx = client_context() if tls else None
    sel = selectors.DefaultSelector()
    st = {"started": 0, "setup": 0, "idle": 0, "failed": 0, "error": "", "tls": "-",
          "alive": 0, "closed": 0}
    live = []

    def fail(c, why):
        if c.state in ("idle", "noop"):
            st["closed"] += 1
            st["idle"] -= 1
        else:
            st["failed"] += 1
            st["setup"] -= 1
            st["error"] = st["error"] or why
        c.state = "dead"
        try:
            sel.unregister(c.sock)
        except (KeyError, ValueError):
            pass
        c.sock.close()

    def flush(c):
        try:
            while c.out:
                c.out = c.out[c.sock.send(c.out):]
        except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            pass
        sel.modify(c.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0), c)

    def send(c, data, state):
        c.state = state
        c.out += data
        flush(c)

    def handshake(c):
        try:
            c.sock.do_handshake()
        except ssl.SSLWantReadError:
            sel.modify(c.sock, selectors.EVENT_READ, c)
            return
        except ssl.SSLWantWriteError:
            sel.modify(c.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
            return
        st["tls"] = tls_text(c.sock)
        send(c, EHLO, "ehlo2")

    def reached_idle(c):
        c.state = "idle"
        st["setup"] -= 1
        st["idle"] += 1

    def on_reply(c, line):
        code = line[:3]
        s = c.state
        if s == "greet" and code == b"220":
            send(c, EHLO, "ehlo1")
        elif s == "ehlo1" and code == b"250":
            if ctx:
                send(c, b"STARTTLS\r\n", "starttls")
            else:
                reached_idle(c)
        elif s == "starttls" and code == b"220":
            if c.buf:
                return fail(c, "bytes after the 220 to STARTTLS")
            sel.unregister(c.sock)
            c.sock = ctx.wrap_socket(c.sock, do_handshake_on_connect=False)
            sel.register(c.sock, selectors.EVENT_READ, c)
            c.state = "handshake"
            handshake(c)
        elif s == "ehlo2" and code == b"250":
            reached_idle(c)
        elif s == "noop" and code == b"250":
            c.state = "checked"
            st["alive"] += 1
        else:
            fail(c, "state %s: unexpected reply %r" % (s, line.strip().decode(errors="replace")))

    def on_read(c):
        if c.state == "handshake":
            return handshake(c)
        try:
            while True:
                data = c.sock.recv(65536)
                if not data:
                    return fail(c, "connection closed by the server")
                c.buf += data
                if not (isinstance(c.sock, ssl.SSLSocket) and c.sock.pending()) and len(data) < 65536:
                    break
        except (BlockingIOError, ssl.SSLWantReadError):
            pass
        except OSError as e:
            return fail(c, "%s: %s" % (type(e).__name__, e))
        while c.state != "dead":
            i = c.buf.find(b"\n")
            if i < 0:
                break
            line, c.buf = c.buf[:i + 1], c.buf[i + 1:]
            if line[3:4] != b"-":
                on_reply(c, line)

    def start_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.connect_ex((HOST, port))
        c = Idle(s)
        live.append(c)
        sel.register(s, selectors.EVENT_READ, c)
        st["started"] += 1
        st["setup"] += 1

    def step(wait):
        for key, events in sel.select(wait):
            c = key.data
            if c.state == "dead":
                continue
            if events & selectors.EVENT_WRITE:
                if c.state == "handshake":
                    handshake(c)
                else:
                    flush(c)
            if events & selectors.EVENT_READ and c.state != "dead":
                on_read(c)

    t0 = time.time()
    deadline = t0 + timeout
    while (st["started"] < count or st["setup"] > 0) and time.time() < deadline:
        while st["started"] < count and st["setup"] < 100:
            start_one()
        step(0.5)
    setup_s = time.time() - t0
    write_file(ready, ["opened=%d" % st["idle"], "failed=%d" % (st["failed"] + st["setup"]),
                       "error=%s" % (st["error"] or ("setup timed out" if st["setup"] else "")),
                       "tls=%s" % st["tls"], "setup_s=%.1f" % setup_s])
    while not os.path.exists(check):
        step(0.2)
    for c in live:
        if c.state == "idle":
            send(c, b"NOOP\r\n", "noop")
    deadline = time.time() + 60
    while any(c.state == "noop" for c in live) and time.time() < deadline:
        step(0.5)
    write_file(result, ["alive=%d" % st["alive"], "closed=%d" % st["closed"]])


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    a = sys.argv[3:]
    if mode == "load":
        mode_load(port, int(a[0]), int(a[1]), int(a[2]), a[3] == "1", int(a[4]))
    elif mode == "handshake":
        mode_handshake(port, int(a[0]), a[1])
    elif mode == "idle":
        mode_idle(port, int(a[0]), a[1] == "1", a[2], a[3], a[4], float(a[5]))
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
PY

client_pid=""
stop_client() {
  [ -n "$client_pid" ] || return 0
  kill "$client_pid" 2>/dev/null
  wait "$client_pid" 2>/dev/null || true
  client_pid=""
}
tls_cleanup() { stop_client; cleanup; }
trap tls_cleanup EXIT

# ---------------------------------------------------------------- helpers

# The value of KEY in a file of key=value lines ($1 file, $2 key).
val() { sed -n "s/^$2=//p" "$1" 2>/dev/null | head -1; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
# Files in the Maildir $2 beyond the $1 there before the run (first word: the count).
count_since() { echo $(( $(count_files "$2") - $1 )); }
# CPU seconds used by process $1 and by the children it has reaped.
proc_cpu() {
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f\n", ($12 + $13 + $14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0
}
tern_cpu() { proc_cpu "$tern_pid"; }
postfix_master() { tr -dc 0-9 <"$work/postfix/queue/pid/master.pid" 2>/dev/null || true; }
# CPU seconds of the whole private Postfix: its master (with the children it reaped)
# and the live children (smtpd, cleanup, qmgr, virtual, tlsmgr, ...).
postfix_cpu() {
  local m p total
  m=$(postfix_master)
  total=$(proc_cpu "$m")
  for p in $(pgrep -P "$m" || true); do total=$(calc "$total + $(proc_cpu "$p")" 2); done
  echo "$total"
}
tern_rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$tern_pid/status"; }
# "COUNT PSS_KB RSS_KB" summed over the smtpd processes of the private Postfix.
postfix_smtpd_mem() {
  local m p n=0 pss=0 rss=0 a b
  m=$(postfix_master)
  for p in $(pgrep -P "$m" -x smtpd || true); do
    read -r a b < <(awk '/^Pss:/ { p = $2 } /^Rss:/ { r = $2 } END { print p + 0, r + 0 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo "0 0")
    n=$((n + 1)) pss=$((pss + a)) rss=$((rss + b))
  done
  echo "$n $pss $rss"
}
mb() { calc "$1 / 1024" 1; }

# The certificate both MTAs present: self-signed, made here.
make_cert() {
  local key_opts
  mkdir -p "$work/tls"
  if [ "$CERT_KEY" = rsa ]; then key_opts=(-newkey rsa:2048); cert_desc="RSA 2048";
  else key_opts=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); cert_desc="ECDSA P-256"; fi
  openssl req -x509 "${key_opts[@]}" -nodes -days 2 -subj "/CN=bench.example.test" \
    -keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" >"$work/tls/openssl.out" 2>&1 ||
    { log "openssl could not make the certificate: $(tail -1 "$work/tls/openssl.out")"; exit 1; }
  chmod 600 "$work/tls/key.pem"
  commands+=("certificate: openssl req -x509 ${key_opts[*]} -nodes -days 2 -subj /CN=bench.example.test -keyout $work/tls/key.pem -out $work/tls/cert.pem")
}

# ---------------------------------------------------------------- tern

# tern_up NAME MAX_CONNECTIONS: a fresh `tern serve` in $work/tern (the directory of the
# tern before it is renamed $work/tern-ITS_NAME), listener role mx on a free loopback
# port, [tls] with the bench certificate, local domain example.test, user alice.
tern_name=""
tern_up() {
  local name=$1 max=$2 conf
  [ -z "$tern_name" ] || mv "$work/tern" "$work/tern-$tern_name"
  tern_name=$name tern_dir=$work/tern
  mkdir -p "$tern_dir"
  tern_port=$(free_port)
  conf=$tern_dir/tern.toml
  cat >"$conf" <<EOF
hostname = "tern.bench.example.test"
data_dir = "$tern_dir/data"
log_level = "$TERN_LOG_LEVEL"

[[listener]]
address = "127.0.0.1:$tern_port"
role = "mx"

[local]
domains = ["example.test"]
users = ["alice"]
accept_any_user = false

[limits]
max_connections = $max
max_connections_per_ip = $max

[tls]
certificate = "$work/tls/cert.pem"
key = "$work/tls/key.pem"
EOF
  "$TERN_BIN" check-config --config "$conf" >"$tern_dir/check.out" 2>&1 ||
    tern_fail "tern check-config rejected $conf: $(cat "$tern_dir/check.out")"
  commands+=("tern ($name): (cd $tern_dir && $TERN_BIN serve --config $conf)  # 127.0.0.1:$tern_port, max_connections(_per_ip) $max, log_level $TERN_LOG_LEVEL")
  (cd "$tern_dir" && exec "$TERN_BIN" serve --config "$conf") 2>"$tern_dir/tern.log" &
  tern_pid=$!
  wait_listening "$tern_port" "$tern_pid" || tern_fail "tern did not listen on 127.0.0.1:$tern_port within 10 s"
  tern_version=$("$TERN_BIN" --version 2>/dev/null || echo tern)
}

tern_down() {
  local bad
  stop_tern
  [ "$tern_exit" = 0 ] || tern_fail "tern ($tern_name) exited with status $tern_exit after SIGTERM (expected 0)"
  bad=$(grep -E '^[^ ]+ (warn|error|critical) ' "$tern_dir/tern.log" | grep -v 'event=data_dir_unsafe' || true)
  [ -z "$bad" ] || notes+=("tern ($tern_name) logged $(wc -l <<<"$bad") lines at warn or above, first: $(head -1 <<<"$bad")")
}

# ---------------------------------------------------------------- Postfix

# postfix_up: a fresh private Postfix (lib.sh's, queue kept across restarts) with
# STARTTLS offered (smtpd_tls_security_level = may, the bench certificate, a session
# cache for TLS 1.2 session ids; tickets are on by default) and virtual(8) delivery of
# alice@example.test into a Maildir, as accept.sh. Returns 1 (postfix_error set) when
# it cannot run.
postfix_up() {
  local dir=$work/postfix uid gid limit=$(( SESSIONS + 100 ))
  uid=$(id -u nobody) gid=$(id -g nobody)
  mkdir -p "$dir/mail"
  chown "$uid:$gid" "$dir/mail"
  echo "alice@example.test example.test/alice/" >"$dir/vmailbox"
  [ "$POSTFIX_IDLE_CONNECTIONS" -lt $(( limit - 10 )) ] || limit=$(( POSTFIX_IDLE_CONNECTIONS + 20 ))
  rows=()
  start_postfix "relayhost =
virtual_mailbox_domains = example.test
virtual_mailbox_base = $dir/mail
virtual_mailbox_maps = texthash:$dir/vmailbox
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
default_process_limit = $limit
smtpd_tls_security_level = may
smtpd_tls_cert_file = $work/tls/cert.pem
smtpd_tls_key_file = $work/tls/key.pem
smtpd_tls_session_cache_database = btree:\${data_directory}/smtpd_scache" \
    "STARTTLS offered (smtpd_tls_security_level = may, session cache and tickets), virtual(8) into $dir/mail, default_process_limit $limit" || {
    postfix_error=$(sed -n 's/^| Postfix [^|]* | \([^|]*\) |.*/\1/p' <<<"${rows[0]:-}")
    return 1
  }
}

# ---------------------------------------------------------------- part 1: acceptance

rows1=()
# accept_run MTA TLS PORT MAILDIR CPU_FUNCTION PID: the load (with STARTTLS when TLS
# is 1), then the wait for MESSAGES new files in MAILDIR. PID: tern's, which must stay
# alive meanwhile ("" for Postfix). Adds a row to rows1; returns 1 when the MTA failed.
accept_run() {
  local mta=$1 tls=$2 port=$3 maildir=$4 cpufn=$5 pid=$6 out base cpu0 cpu1 ok wall t0 last how rc=0
  out=$work/$mta-load-tls$tls.out
  how="plaintext"; [ "$tls" = 0 ] || how="STARTTLS"
  base=$(count_files "$maildir")
  local cmd=(/usr/bin/python3 "$client" load "$port" "$SESSIONS" "$MESSAGES" "$SIZE" "$tls" "$CLIENT_PROCS")
  commands+=("$mta $how load: ${cmd[*]}")
  sync
  cpu0=$($cpufn)
  "${cmd[@]}" >"$out" 2>&1 || rc=$?
  ok=$(val "$out" ok) wall=$(val "$out" wall) t0=$(val "$out" t0)
  [ "$tls" = 0 ] || how="STARTTLS ($(val "$out" tls))"
  if [ "$rc" -ne 0 ] || [ "${ok:-0}" -ne "$MESSAGES" ]; then
    rows1+=("| $mta | $how | FAILED: ${ok:-0}/$MESSAGES accepted, $(val "$out" failed_sessions) sessions failed: $(val "$out" error)$(tail -1 "$out" | grep -v = || true) | | | | |")
    return 1
  fi
  if ! wait_for_count 0.5 delivered "${pid:+$pid:tern}" count_since "$base" "$maildir"; then
    rows1+=("| $mta | $how | $(calc "$ok / $wall") | FAILED: $result_error | $wait_count | | |")
    return 1
  fi
  cpu1=$($cpufn)
  last=$(last_mtime "$maildir")
  rows1+=("| $mta | $how | $(calc "$ok / $wall") | $(calc "$MESSAGES / ($last - $t0)") | $wait_count | $(calc "($cpu1 - $cpu0) * 1000 / $MESSAGES" 2) | $(val "$out" cpu) s in $(calc "$wall" 1) s |")
}

# ---------------------------------------------------------------- part 2: handshakes

rows2=()
variants="plain full13 resume13 full12 resume12 resume12id"
variant_text() {
  case $1 in
    plain) echo "no TLS: EHLO, QUIT" ;;
    full13) echo "TLS 1.3, full handshake" ;;
    resume13) echo "TLS 1.3, resumed (ticket)" ;;
    full12) echo "TLS 1.2, full handshake" ;;
    resume12) echo "TLS 1.2, resumed (ticket)" ;;
    resume12id) echo "TLS 1.2, resumed (session id, client sends no ticket extension)" ;;
  esac
}
# handshake_runs MTA PORT CPU_FUNCTION: every variant, HANDSHAKES connections each.
handshake_runs() {
  local mta=$1 port=$2 cpufn=$3 v out cpu0 cpu1 ok wall hs reused rc
  commands+=("$mta handshakes: /usr/bin/python3 $client handshake $port $HANDSHAKES VARIANT  # VARIANT: $variants")
  for v in $variants; do
    out=$work/$mta-handshake-$v.out rc=0
    cpu0=$($cpufn)
    /usr/bin/python3 "$client" handshake "$port" "$HANDSHAKES" "$v" >"$out" 2>&1 || rc=$?
    cpu1=$($cpufn)
    ok=$(val "$out" ok) wall=$(val "$out" wall)
    if [ "$rc" -ne 0 ] || [ -z "$ok" ] || [ "$ok" -eq 0 ]; then
      rows2+=("| $mta | $(variant_text "$v") | FAILED: $(val "$out" error)$(tail -1 "$out" | grep -v = || true) | | | | | |")
      continue
    fi
    hs="-" reused="-"
    if [ "$v" != plain ]; then
      hs="$(val "$out" hs_median_ms) ($(val "$out" hs_mean_ms))"
      reused="$(val "$out" reused)/$ok"
    fi
    local err
    err=$(val "$out" error)
    rows2+=("| $mta | $(variant_text "$v") | $(calc "$ok / $wall") | $(calc "$wall * 1000 / $ok" 2) | $hs | $(calc "($cpu1 - $cpu0) * 1000 / $ok" 2) | $reused | $(val "$out" tls)${err:+; $((HANDSHAKES - ok)) failed: $err} |")
  done
}

# ---------------------------------------------------------------- part 3: idle memory

rows3=()
# idle_run MTA TLS PORT COUNT PID MEM_FUNCTION: the idle client in the background; once
# every connection is set up, SETTLE s of quiet, then MEM_FUNCTION, then the NOOP check.
# Sets idle_opened, idle_failed, idle_error, idle_tls, idle_setup, idle_alive,
# idle_closed, idle_mem; returns 1 when the client did not get that far.
idle_run() {
  local mta=$1 tls=$2 port=$3 count=$4 pid=$5 memfn=$6 name deadline
  name=$mta-idle-tls$tls
  local ready=$work/$name.ready check=$work/$name.check result=$work/$name.result
  rm -f "$ready" "$check" "$result"
  commands+=("$mta idle: /usr/bin/python3 $client idle $port $count $tls READY CHECK RESULT $IDLE_TIMEOUT")
  /usr/bin/python3 "$client" idle "$port" "$count" "$tls" "$ready" "$check" "$result" "$IDLE_TIMEOUT" >"$work/$name.out" 2>&1 &
  client_pid=$!
  deadline=$(( $(date +%s) + IDLE_TIMEOUT + 30 ))
  idle_error=""
  while [ ! -e "$ready" ]; do
    if ! kill -0 "$client_pid" 2>/dev/null; then idle_error="client exited: $(tail -1 "$work/$name.out")"; break; fi
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then idle_error="$mta exited"; break; fi
    if [ "$(date +%s)" -ge "$deadline" ]; then idle_error="no connections set up after $((IDLE_TIMEOUT + 30)) s"; break; fi
    sleep 0.2
  done
  if [ -n "$idle_error" ]; then stop_client; return 1; fi
  idle_opened=$(val "$ready" opened) idle_failed=$(val "$ready" failed) idle_error=$(val "$ready" error)
  idle_tls=$(val "$ready" tls) idle_setup=$(val "$ready" setup_s)
  sleep 2
  idle_mem=$($memfn)
  touch "$check"
  wait "$client_pid" 2>/dev/null || true
  client_pid=""
  idle_alive=$(val "$result" alive) idle_closed=$(val "$result" closed)
}

held_text() {   # the "connections" cell
  local s="$idle_opened of $1 opened in ${idle_setup} s, ${idle_alive:-?} answered a NOOP after the reading"
  [ "${idle_failed:-0}" = 0 ] || s="$s; $idle_failed failed: $idle_error"
  [ "${idle_closed:-0}" = 0 ] || s="$s; $idle_closed closed by the server while idle"
  echo "$s"
}

tern_idle() {
  local tls=$1 before how=plaintext
  [ "$tls" = 0 ] || how=STARTTLS
  tern_up "idle-$how" $(( IDLE_CONNECTIONS + 1000 ))
  sleep 1
  before=$(tern_rss_kb)
  if ! idle_run tern "$tls" "$tern_port" "$IDLE_CONNECTIONS" "$tern_pid" tern_rss_kb; then
    rows3+=("| $tern_version | $how | FAILED: $idle_error | | | |")
    tern_fail "idle connections ($how): $idle_error"
  fi
  [ "$tls" = 0 ] || how="STARTTLS ($idle_tls)"
  rows3+=("| $tern_version | $how | $(held_text "$IDLE_CONNECTIONS") | VmRSS $(mb "$before") MB | VmRSS $(mb "$idle_mem") MB | $(calc "($idle_mem - $before) / $idle_opened" 1) KB |")
  tern_down
  [ "$idle_opened" = "$IDLE_CONNECTIONS" ] || tern_fail "only $idle_opened of $IDLE_CONNECTIONS idle connections opened ($how): $idle_error"
}

postfix_idle() {
  local tls=$1 how=plaintext n pss rss n0 pss0 rss0
  [ "$tls" = 0 ] || how=STARTTLS
  stop_postfix
  if ! postfix_up; then
    rows3+=("| Postfix $postfix_version | $how | not run: $postfix_error | | | |")
    return 0
  fi
  sleep 1
  read -r n0 pss0 rss0 < <(postfix_smtpd_mem)
  if ! idle_run postfix "$tls" "$postfix_port" "$POSTFIX_IDLE_CONNECTIONS" "" postfix_smtpd_mem; then
    rows3+=("| Postfix $postfix_version | $how | failed: $idle_error | | | |")
    return 0
  fi
  read -r n pss rss <<<"$idle_mem"
  [ "$tls" = 0 ] || how="STARTTLS ($idle_tls)"
  rows3+=("| Postfix $postfix_version | $how | $(held_text "$POSTFIX_IDLE_CONNECTIONS") | $n0 smtpd: PSS $(mb "$pss0") MB (RSS $(mb "$rss0") MB) | $n smtpd: PSS $(mb "$pss") MB (RSS $(mb "$rss") MB) | PSS $(calc "($pss - $pss0) / $idle_opened" 0) KB (RSS $(calc "($rss - $rss0) / $idle_opened" 0) KB) |")
}

# ---------------------------------------------------------------- report

load1="" load2="" load3=""
print_table() {   # TITLE LOAD COLUMNS ROW...
  local title=$1 load=$2 columns=$3 r
  shift 3
  [ $# -gt 0 ] || return 0
  echo
  echo "$title"
  echo "(load average at the start of this part: $load)"
  echo
  echo "$columns"
  awk -F'|' '{ s = "|"; for (i = 2; i < NF; i++) s = s "---|"; print s }' <<<"$columns"
  for r in "$@"; do echo "$r"; done
}
print_report() {
  local r
  echo
  echo "TLS on the server side (issue 15): tern beside a private Postfix, one Python client for both"
  echo "($(nproc) cores, load average before the run: $load_before; certificate ${cert_desc:-?}, self-signed;"
  echo " client: $client_version; Maildirs in $work, $(df -PT "$work" | awk 'NR == 2 { print $2 }'))"
  print_table "1. Durable acceptance: $SESSIONS sessions x $MESSAGES messages x $SIZE octets, one connection per session (STARTTLS once), no pipelining" \
    "$load1" "| MTA | session | accepted msgs/s | delivered msgs/s (end to end) | messages | MTA CPU ms per message | client CPU |" "${rows1[@]}"
  print_table "2. Handshakes: $HANDSHAKES sequential connections per row, each 220, EHLO, [STARTTLS, handshake, EHLO,] QUIT" \
    "$load2" "| MTA | handshake | connections/s | ms per connection | ms per handshake, client side: median (mean) | MTA CPU ms per connection | resumed | negotiated |" "${rows2[@]}"
  print_table "3. Memory per idle connection (fresh MTA for each row; connections idle after the EHLO that follows STARTTLS, or after the first EHLO)" \
    "$load3" "| MTA | session | connections | memory before | memory with the connections open | per connection |" "${rows3[@]}"
  echo
  echo "Command lines:"
  for r in "${commands[@]}"; do echo "  $r"; done
  for r in "${notes[@]}"; do echo "$r"; done
}

# ---------------------------------------------------------------- main

[ "$ONLY" = postfix ] || [ -x "$TERN_BIN" ] || tern_fail "no executable at $TERN_BIN (make build, or set TERN_BIN)"
client_version=$(/usr/bin/python3 -c 'import ssl, sys; print("Python %s, %s" % (sys.version.split()[0], ssl.OPENSSL_VERSION))')
# Part 3 needs a file descriptor per connection, in tern and in the client.
hard=$(ulimit -Hn)
if [[ $PARTS == *3* ]] && [ "$hard" != unlimited ] && [ "$hard" -lt $(( IDLE_CONNECTIONS + 200 )) ]; then
  echo "$bench_name: IDLE_CONNECTIONS=$IDLE_CONNECTIONS needs more open files than the hard limit ($hard)" >&2
  exit 2
fi
ulimit -Sn "$hard"
make_cert

if [[ $PARTS == *[12]* ]]; then
  if [ "$ONLY" != postfix ]; then
    tern_up main $(( SESSIONS * 2 + 1000 ))
    if [[ $PARTS == *1* ]]; then
      load1=$(loadavg)
      for tls in 0 1; do
        accept_run "$tern_version" "$tls" "$tern_port" "$tern_dir/data/mail/example.test/alice/new" tern_cpu "$tern_pid" ||
          tern_fail "acceptance ($([ "$tls" = 1 ] && echo STARTTLS || echo plaintext)): ${rows1[-1]}"
      done
    fi
    if [[ $PARTS == *2* ]]; then
      load2=$(loadavg)
      handshake_runs "$tern_version" "$tern_port" tern_cpu
      [[ "${rows2[*]}" != *FAILED* && "${rows2[*]}" != *" failed: "* ]] || tern_fail "a handshake variant failed"
    fi
    tern_down
  fi
  if [ "$ONLY" != tern ]; then
    if postfix_up; then
      if [[ $PARTS == *1* ]]; then
        [ -n "$load1" ] || load1=$(loadavg)
        for tls in 0 1; do
          accept_run "Postfix $postfix_version" "$tls" "$postfix_port" "$work/postfix/mail/example.test/alice/new" postfix_cpu "" || true
        done
      fi
      if [[ $PARTS == *2* ]]; then
        [ -n "$load2" ] || load2=$(loadavg)
        handshake_runs "Postfix $postfix_version" "$postfix_port" postfix_cpu
      fi
      stop_postfix
    else
      [[ $PARTS != *1* ]] || rows1+=("| Postfix $postfix_version | - | not run: $postfix_error | | | | |")
      [[ $PARTS != *2* ]] || rows2+=("| Postfix $postfix_version | - | not run: $postfix_error | | | | | |")
    fi
  fi
fi

if [[ $PARTS == *3* ]]; then
  load3=$(loadavg)
  if [ "$ONLY" != postfix ]; then
    tern_idle 1
    tern_idle 0
  fi
  if [ "$ONLY" != tern ]; then
    postfix_idle 1
    postfix_idle 0
    stop_postfix
  fi
fi

notes+=("" "Client CPU: user+sys of the client processes over the load; MTA CPU: tern's process, or the whole private Postfix (master, the children it reaped, and its live children), from just before the client started until the last message was in the Maildir (part 1) or the client exited (part 2).")
notes+=("Part 3: tern's VmRSS (/proc/PID/status) 1 s after its start and 2 s after the last connection was set up, on a fresh process for each row; Postfix: PSS and RSS (/proc/PID/smaps_rollup) summed over its smtpd processes (one per connection), fresh instance for each row. Both MTAs have the certificate configured in every row.")
print_report
