#pragma once
// Canonicalization (RFC 6376 3.4): simple and relaxed, for header fields and
// for the body. The body side is streamed: fed the body in chunks cut at any
// byte, it holds back only what it cannot decide yet (a CR, a run of
// whitespace, a count of empty lines), so its memory does not grow with the
// message.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dkim/crypto.h"

namespace tern::dkim {

enum class Canonicalization { kSimple, kRelaxed };

// Appends the canonical form of one header field (name, colon, value and its
// CRLF) to `out` (RFC 6376 3.4.1, 3.4.2).
void canonicalize_header(Canonicalization c, std::string_view field, std::string& out);

// Receives canonical body bytes.
class BodySink {
 public:
  virtual void write(std::string_view bytes) = 0;

 protected:
  ~BodySink() = default;
};

class BodyCanonicalizer {
 public:
  explicit BodyCanonicalizer(Canonicalization c) : relaxed_(c == Canonicalization::kRelaxed) {}

  // Body bytes (after the empty line that ends the header section).
  void feed(std::string_view chunk, BodySink& sink);
  // The end of the body: the final CRLF as the canonical form wants it.
  void finish(BodySink& sink);

 private:
  std::size_t run_end(std::string_view chunk, std::size_t i) const;
  void content(std::string_view run, BodySink& sink);
  void emit(std::string_view bytes, BodySink& sink);
  void flush(BodySink& sink);

  bool relaxed_;
  bool cr_ = false;             // a CR whose LF may come in the next chunk
  bool wsp_ = false;            // relaxed: whitespace seen, one SP if the line goes on
  bool any_ = false;            // some content was written
  std::uint64_t held_crlf_ = 0;  // line ends not written yet: they may all be trailing
  std::size_t used_ = 0;
  char buffer_[1024];
};

// The body hash (bh=, RFC 6376 3.7): SHA-256 of the canonical body, or of
// its first `limit` octets when the signature has l=.
class BodyHasher : private BodySink {
 public:
  BodyHasher(Canonicalization c, std::optional<std::uint64_t> limit)
      : canon_(c), limit_(limit) {}

  void feed(std::string_view chunk) { canon_.feed(chunk, *this); }
  std::string finish();  // the digest; empty if OpenSSL failed
  // Octets of the whole canonical body, past l= too.
  std::uint64_t canonical_length() const { return length_; }

 private:
  void write(std::string_view bytes) override;

  BodyCanonicalizer canon_;
  std::optional<std::uint64_t> limit_;
  std::uint64_t length_ = 0;
  Sha256 hash_;
};

}  // namespace tern::dkim
