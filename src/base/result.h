#pragma once
// Outcomes as values: every path that handles mail returns Result<T>.
// An Error carries what the SMTP peer is told (reply code + RFC 3463 enhanced
// status code + short text); the detail for the log goes in `detail`.
#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace tern {

struct Error {
  int code = 451;             // RFC 5321 reply code: 4xx temporary, 5xx permanent
  std::string enhanced;       // RFC 3463, e.g. "4.3.0"
  std::string text;           // generic text for the peer
  std::string detail;         // detail for the log only

  bool permanent() const { return code >= 500; }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { assert(ok()); return std::get<0>(v_); }
  const T& value() const { assert(ok()); return std::get<0>(v_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

inline Error temp_error(std::string enhanced, std::string text, std::string detail = {}) {
  return Error{451, std::move(enhanced), std::move(text), std::move(detail)};
}

}  // namespace tern
