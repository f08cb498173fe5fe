#pragma once
// Password hashes for SMTP AUTH: crypt(3) strings from libxcrypt.
//
// New hashes are yescrypt ("$y$", libxcrypt's default cost), the default of
// Debian 12's PAM. Verification takes any strong crypt(3) scheme, so that
// hashes made by mkpasswd, Dovecot (BLF-CRYPT, SHA512-CRYPT, ...) or
// /etc/shadow can be copied in: yescrypt "$y$", gost-yescrypt "$gy$",
// scrypt "$7$", bcrypt "$2b$"/"$2y$"/"$2a$", SHA-512 "$6$", SHA-256 "$5$".
// DES, MD5 ("$1$") and other weak schemes are refused.
//
// A verification costs tens of milliseconds of CPU and ~16 MB of memory
// (yescrypt): call these on a worker thread, never on an event loop.
#include <string>
#include <string_view>

#include "base/result.h"

namespace tern::auth {

// The longest password accepted (octets): libxcrypt's limit
// (CRYPT_MAX_PASSPHRASE_SIZE, 512, with the NUL). No person types more.
inline constexpr std::size_t kMaxPasswordLength = 511;

// A new yescrypt hash of `password` with a fresh random salt. Errors: an
// empty password, one holding NUL, one longer than kMaxPasswordLength, or
// libxcrypt failing (no randomness).
Result<std::string> hash_password(std::string_view password);

// True when `password` matches `hash`. False for a malformed or unsupported
// hash (never throws, never crashes). The comparison of the computed hash is
// constant-time.
bool verify_password(std::string_view password, std::string_view hash);

// True when `hash` names a scheme verify_password accepts and holds only the
// characters a crypt(3) string may hold (no ':', no space, no control).
// Cheap: it does not compute anything.
bool is_supported_hash(std::string_view hash);

}  // namespace tern::auth
