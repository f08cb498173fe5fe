#!/usr/bin/env bash
# Installs every Debian package that tern's build, tests and benchmarks need.
# Idempotent: packages already present are skipped; apt runs only when needed.
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build ccache pkg-config
  libboost1.81-dev libssl-dev libunbound-dev libtomlplusplus-dev
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libcpp-httplib-dev
  # unit tests, benchmarks, fuzzing
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  # real peers for integration tests and benchmarks
  python3 python3-aiosmtpd swaks libnet-ssleay-perl postfix dnsmasq-base procps openssl
  # t-28: Postfix's SASL client needs Cyrus SASL's PLAIN/LOGIN plugins
  libsasl2-modules
  # t-12: small ext4 file systems on loop devices (mkfs.ext4, mount)
  e2fsprogs mount
  # issue 16: a private Dovecot as the LMTP mail store
  dovecot-core dovecot-lmtpd
  # issue 17: /metrics parsed by Prometheus' own parser, the dashboard in a real browser
  python3-prometheus-client chromium curl
  # issue 18: mail authentication (libpsl for DMARC's organisational domain) and its
  # independent peers: dkimpy, pyspf, Authentication-Results and DMARC parsers, Mail::DKIM
  libpsl-dev publicsuffix python3-dkim python3-nacl python3-spf python3-dnslib
  python3-authres python3-authheaders libmail-dkim-perl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
# Postfix asks how to configure itself; we only use its tools and private instances.
echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
# dovecot-core enables and starts a system Dovecot (IMAP/POP3 on 143/993 and
# /run/dovecot); tests run their own private instance (tests/lib/private_dovecot.py),
# so stop and disable the system one, only when this run installed dovecot-core (a
# Dovecot set up on purpose before is left alone). Guarded: no systemctl, no unit, or
# no running systemd (a container: stop fails, disable still removes the symlink) is
# fine. `list-unit-files` works without a running systemd; `systemctl cat` does not.
if [[ " ${missing[*]} " == *" dovecot-core "* ]] && command -v systemctl >/dev/null 2>&1 \
    && systemctl list-unit-files dovecot.service >/dev/null 2>&1; then
  $sudo systemctl stop dovecot.service dovecot.socket >/dev/null 2>&1 || true
  $sudo systemctl disable dovecot.service dovecot.socket >/dev/null 2>&1 || true
fi
