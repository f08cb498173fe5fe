#pragma once
// Tests only: a dns::Lookup that answers from a zone held in memory, in the
// `dns` format of the SPF conformance suite (conformance/spf/README.md):
//   {"name": {"A": [..], "AAAA": [..], "MX": [{"preference", "exchange"}],
//             "PTR": [..], "TXT": [[strings], ..], "CNAME": [..], "timeout": true}}
// No entry → NXDOMAIN; an entry without the type → NODATA, or a temporary
// failure when "timeout" is set. CNAMEs are followed; a loop is a temporary
// failure, as a resolver's SERVFAIL would be.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "base/text.h"
#include "dns/lookup.h"
#include "spf/check_host.h"

namespace tern::spf::testing {

class TestZone : public dns::Lookup {
 public:
  explicit TestZone(nlohmann::json zone) : zone_(std::move(zone)) {}

  boost::asio::awaitable<dns::Answer> lookup(std::string name, dns::RecordType type) override {
    queries.push_back(std::string(type_name(type)) + " " + name);
    co_return answer(name, type, 0);
  }

  std::vector<std::string> queries;  // "TXT example.com", in order

 private:
  static std::string normalise(std::string_view name) {
    std::string out = to_lower(name);
    if (!out.empty() && out.back() == '.') out.pop_back();
    return out;
  }

  static const char* type_name(dns::RecordType type) {
    switch (type) {
      case dns::RecordType::kA: return "A";
      case dns::RecordType::kAaaa: return "AAAA";
      case dns::RecordType::kMx: return "MX";
      case dns::RecordType::kPtr: return "PTR";
      case dns::RecordType::kTxt: return "TXT";
    }
    return "?";
  }

  dns::Answer answer(const std::string& name, dns::RecordType type, int depth) const {
    dns::Answer out;
    auto entry = zone_.find(normalise(name));
    if (entry == zone_.end()) {
      out.status = dns::Status::kNxDomain;
      return out;
    }
    const char* key = type_name(type);
    if (!entry->contains(key)) {
      if (entry->contains("CNAME")) {
        if (depth >= 10) {
          out.status = dns::Status::kTempFail;
          out.detail = "CNAME chain too long at " + name;
          return out;
        }
        return answer(entry->at("CNAME").at(0).get<std::string>(), type, depth + 1);
      }
      out.status = entry->value("timeout", false) ? dns::Status::kTempFail : dns::Status::kNoData;
      if (out.status == dns::Status::kTempFail) out.detail = "timeout for " + name;
      return out;
    }
    out.status = dns::Status::kOk;
    for (const auto& value : entry->at(key)) fill(out, type, value);
    return out;
  }

  static void fill(dns::Answer& out, dns::RecordType type, const nlohmann::json& value) {
    switch (type) {
      case dns::RecordType::kA:
      case dns::RecordType::kAaaa: {
        boost::system::error_code ec;
        auto address = boost::asio::ip::make_address(value.get<std::string>(), ec);
        if (ec) throw std::runtime_error("bad address in test zone: " + value.dump());
        out.addresses.push_back(address);
        return;
      }
      case dns::RecordType::kMx:
        out.mx.push_back({value.at("preference").get<std::uint16_t>(),
                          normalise(value.at("exchange").get<std::string>())});
        return;
      case dns::RecordType::kPtr:
        out.names.push_back(normalise(value.get<std::string>()));
        return;
      case dns::RecordType::kTxt: {
        std::string text;  // RFC 7208 3.3: character-strings joined with nothing between
        for (const auto& piece : value) text += piece.get<std::string>();
        out.texts.push_back(std::move(text));
        return;
      }
    }
  }

  nlohmann::json zone_;
};

// Runs check_host() to completion on an io_context of its own.
inline Outcome run_check_host(dns::Lookup& dns, const Request& request) {
  boost::asio::io_context io;
  std::optional<Outcome> outcome;
  boost::asio::co_spawn(io, check_host(dns, request), [&](std::exception_ptr error, Outcome result) {
    if (error) std::rethrow_exception(error);
    outcome = std::move(result);
  });
  io.run();
  return *outcome;
}

inline Request request_for(std::string_view ip, std::string_view mail_from, std::string_view helo) {
  return mail_from_request(boost::asio::ip::make_address(std::string(ip)), mail_from, helo, "",
                           std::chrono::system_clock::time_point{});
}

}  // namespace tern::spf::testing
