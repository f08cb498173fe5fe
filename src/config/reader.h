#pragma once
// Inside config/: reads typed values out of TOML tables and reports the
// first problem with its key and position. Each table lists the keys it
// knows; anything else is an error. One file per group of tables uses it
// (config.cpp, mail_auth.cpp).
#include <fmt/format.h>
#include <toml++/toml.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/text.h"
#include "config/config.h"

namespace tern::config {

inline Error config_error(std::string_view source, const toml::source_region& where, std::string message) {
  return Error{0, "", fmt::format("{}:{}:{}: {}", source, where.begin.line, where.begin.column, message), ""};
}

// Reads typed values out of a TOML table and reports the first problem with
// its key and position. Each table lists the keys it knows; anything else
// is an error.
class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  std::optional<Error> error;

  template <class F>
  void table(const toml::table& t, std::string_view prefix, const std::map<std::string, F>& keys) {
    for (const auto& [key, node] : t) {
      if (error) return;
      auto name = prefix.empty() ? std::string(key.str()) : fmt::format("{}.{}", prefix, key.str());
      auto it = keys.find(std::string(key.str()));
      if (it == keys.end()) {
        fail(node, fmt::format("unknown key '{}'", name));
      } else {
        it->second(node, name);
      }
    }
  }

  void string(const toml::node& node, const std::string& name, std::string& out) {
    if (auto v = node.value<std::string>()) {
      out = *v;
    } else {
      fail(node, fmt::format("'{}' must be a string", name));
    }
  }

  template <class Int>
  void integer(const toml::node& node, const std::string& name, Int& out, std::int64_t min = 0) {
    auto v = node.value<std::int64_t>();
    if (!node.is_integer() || !v || *v < min) {
      fail(node, fmt::format("'{}' must be an integer >= {}", name, min));
      return;
    }
    out = static_cast<Int>(*v);
  }

  void boolean(const toml::node& node, const std::string& name, bool& out) {
    if (auto v = node.value<bool>()) {
      out = *v;
    } else {
      fail(node, fmt::format("'{}' must be true or false", name));
    }
  }

  void duration(const toml::node& node, const std::string& name, std::chrono::seconds& out) {
    auto text = node.value<std::string>();
    auto parsed = text ? parse_duration(*text) : std::nullopt;
    if (!parsed) {
      fail(node, fmt::format("'{}' must be a duration such as \"30s\", \"5m\", \"4h\", \"5d\"", name));
      return;
    }
    out = *parsed;
  }

  // A time limit: 0 would fail every conversation at once.
  void timeout(const toml::node& node, const std::string& name, std::chrono::seconds& out) {
    duration(node, name, out);
    if (!error && out.count() <= 0) fail(node, fmt::format("'{}' must be more than 0", name));
  }

  void strings(const toml::node& node, const std::string& name, std::vector<std::string>& out) {
    const auto* array = node.as_array();
    if (!array) return fail(node, fmt::format("'{}' must be an array of strings", name));
    out.clear();
    for (const auto& item : *array) {
      auto v = item.value<std::string>();
      if (!v) return fail(item, fmt::format("'{}' must hold only strings", name));
      out.push_back(to_lower(*v));
    }
  }

  void fail(const toml::node& node, std::string message) {
    if (!error) error = config_error(source_, node.source(), std::move(message));
  }

 private:
  std::string_view source_;
};

using Handler = std::function<void(const toml::node&, const std::string&)>;

// A host name (RFC 1035 2.3.1, RFC 1123 2.1); with `utf8`, U-labels too.
bool is_host_name(std::string_view name, bool utf8 = false);

// The tables of config/mail_auth.cpp: [spf], [dkim], [dmarc], [srs], [arc].
void read_spf(Reader& r, const toml::node& node, Spf& spf);
void read_dkim(Reader& r, const toml::node& node, Dkim& dkim);
void read_dmarc(Reader& r, const toml::node& node, Dmarc& dmarc);
void read_srs(Reader& r, const toml::node& node, Srs& srs);
void read_arc(Reader& r, const toml::node& node, Arc& arc);

}  // namespace tern::config
