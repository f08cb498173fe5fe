// bench/dkim_sign_bench.cpp — what DKIM costs tern per message (issue 18):
// signing with dkim::MessageSigner (src/dkim/signer.h) an RSA-2048 key, an
// Ed25519 key and both at once (two selectors, one body hash), and verifying
// one signature of each type with dkim::Verifier (src/dkim/verifier.h), the
// key record given (no DNS). Messages of 2 KB and 100 KB. One iteration = one
// message, fed in 16 KiB chunks as it would arrive, so the times printed are
// µs per message. Fresh keys from dkim::generate_key at start.
//
//   cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
//   cmake --build build-bench --target dkim_sign_bench
//   build-bench/bench/dkim_sign_bench [--benchmark_repetitions=5 ...]
//
// The Signature/* rows are the public-key operation alone (dkim::sign_data
// and verify_data over a header hash input of the usual size), to show how
// much of a message's cost is the key and how much the hashing.
#include <benchmark/benchmark.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "dkim/crypto.h"
#include "dkim/keygen.h"
#include "dkim/signer.h"
#include "dkim/verifier.h"

namespace {

using namespace tern::dkim;

constexpr std::string_view kDomain = "example.test";
constexpr std::size_t kChunk = 16 * 1024;
const std::int64_t kNow = 1'796'000'000;  // t= (2026-11)

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "dkim_sign_bench: %s\n", what.c_str());
  std::exit(1);
}

// A plain-text message of about `size` octets: the header fields a mail
// client writes, then 76-character lines.
std::string make_message(std::size_t size) {
  std::string m =
      "From: Alice Example <alice@example.test>\r\n"
      "To: Bob Example <bob@example.org>\r\n"
      "Subject: DKIM signing benchmark\r\n"
      "Date: Mon, 07 Dec 2026 09:00:00 +0000\r\n"
      "Message-ID: <bench.0001@example.test>\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Transfer-Encoding: 8bit\r\n"
      "\r\n";
  const std::string line =
      "The quick brown fox jumps over the lazy dog, and  then  some  more  text.\r\n";
  while (m.size() < size) m += line;
  return m;
}

struct Key {
  std::string record;  // TXT at <selector>._domainkey.example.test
  std::string pem;
  std::unique_ptr<Signer> signer;
  PKeyPtr pkey;  // for the Signature/* rows
  KeyType type;
};

struct Fixture {
  Key rsa, ed;
  std::map<std::size_t, std::string> messages;  // size -> message
};

Key make_key(KeyType type, const std::string& selector) {
  auto generated = generate_key(type, 2048);
  if (!generated) die("generate_key: " + generated.error().detail);
  Key key{generated->dns_record, generated->private_pem, nullptr, nullptr, type};
  auto signer = Signer::create({.domain = std::string(kDomain), .selector = selector}, key.pem);
  if (!signer) die("Signer::create: " + signer.error().detail);
  key.signer = std::make_unique<Signer>(std::move(*signer));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(key.pem.data(), static_cast<int>(key.pem.size())),
                                                &BIO_free);
  key.pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key.pkey) die("PEM_read_bio_PrivateKey failed");
  return key;
}

Fixture& fixture() {
  static Fixture f = [] {
    Fixture f{make_key(KeyType::kRsa, "rsa"), make_key(KeyType::kEd25519, "ed"), {}};
    for (std::size_t size : {2 * 1024, 100 * 1024}) f.messages[size] = make_message(size);
    return f;
  }();
  return f;
}

enum Keys { kRsaKey = 0, kEdKey = 1, kBothKeys = 2 };

std::vector<const Signer*> signers(Keys keys) {
  auto& f = fixture();
  switch (keys) {
    case kRsaKey: return {f.rsa.signer.get()};
    case kEdKey: return {f.ed.signer.get()};
    case kBothKeys: return {f.rsa.signer.get(), f.ed.signer.get()};
  }
  return {};
}

std::vector<std::string> sign_message(const std::string& message, Keys keys) {
  MessageSigner m(signers(keys));
  for (std::size_t at = 0; at < message.size(); at += kChunk) {
    m.feed(std::string_view(message).substr(at, kChunk));
  }
  auto fields = m.finish(kNow);
  if (!fields) die("MessageSigner::finish: " + fields.error().detail);
  return std::move(*fields);
}

// range(0): message size; range(1): Keys.
void BM_Sign(benchmark::State& state) {
  const auto& message = fixture().messages.at(static_cast<std::size_t>(state.range(0)));
  const auto keys = static_cast<Keys>(state.range(1));
  for (auto _ : state) {
    auto fields = sign_message(message, keys);
    benchmark::DoNotOptimize(fields.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * message.size()));
  state.SetLabel(keys == kRsaKey ? "rsa-sha256 2048" : keys == kEdKey ? "ed25519-sha256" : "rsa-2048 + ed25519");
}

// One signature of the given type; the key record is the answer to the
// verifier's key query.
void BM_Verify(benchmark::State& state) {
  auto& f = fixture();
  const auto& plain = f.messages.at(static_cast<std::size_t>(state.range(0)));
  const auto keys = static_cast<Keys>(state.range(1));
  const Key& key = keys == kRsaKey ? f.rsa : f.ed;
  const std::string message = sign_message(plain, keys).at(0) + plain;
  const std::string query = std::string(keys == kRsaKey ? "rsa" : "ed") + "._domainkey." + std::string(kDomain);
  const KeyAnswer answer = KeyAnswer::found({key.record});
  for (auto _ : state) {
    Verifier v;
    for (std::size_t at = 0; at < message.size(); at += kChunk) {
      v.feed(std::string_view(message).substr(at, kChunk));
    }
    v.finish();
    if (v.signature_count() != 1 || v.key_query(0) != query) {
      state.SkipWithError("the verifier did not find the one signature");
      break;
    }
    auto result = v.verify(0, answer, kNow);
    if (result.status != Status::kPass) {
      state.SkipWithError(("not pass: " + result.reason).c_str());
      break;
    }
    benchmark::DoNotOptimize(result);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * message.size()));
  state.SetLabel(keys == kRsaKey ? "rsa-sha256 2048" : "ed25519-sha256");
}

// The public-key operation alone over a header hash input of ~600 octets
// (the signed fields and the DKIM-Signature field without b=).
const std::string kHeaderInput(600, 'h');

void BM_SignatureOnly(benchmark::State& state) {
  const Key& key = state.range(0) == kRsaKey ? fixture().rsa : fixture().ed;
  for (auto _ : state) {
    auto sig = sign_data(key.pkey.get(), key.type, kHeaderInput);
    if (sig.empty()) {
      state.SkipWithError("sign_data failed");
      break;
    }
    benchmark::DoNotOptimize(sig.data());
  }
  state.SetLabel(state.range(0) == kRsaKey ? "rsa-sha256 2048: sign_data" : "ed25519-sha256: sign_data");
}

void BM_VerifyOnly(benchmark::State& state) {
  const Key& key = state.range(0) == kRsaKey ? fixture().rsa : fixture().ed;
  const auto sig = sign_data(key.pkey.get(), key.type, kHeaderInput);
  for (auto _ : state) {
    if (!verify_data(key.pkey.get(), key.type, kHeaderInput, sig)) {
      state.SkipWithError("verify_data failed");
      break;
    }
  }
  state.SetLabel(state.range(0) == kRsaKey ? "rsa-sha256 2048: verify_data" : "ed25519-sha256: verify_data");
}

BENCHMARK(BM_Sign)
    ->ArgNames({"bytes", "keys"})
    ->ArgsProduct({{2 * 1024, 100 * 1024}, {kRsaKey, kEdKey, kBothKeys}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Verify)
    ->ArgNames({"bytes", "key"})
    ->ArgsProduct({{2 * 1024, 100 * 1024}, {kRsaKey, kEdKey}})
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_SignatureOnly)->ArgName("key")->Arg(kRsaKey)->Arg(kEdKey)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_VerifyOnly)->ArgName("key")->Arg(kRsaKey)->Arg(kEdKey)->Unit(benchmark::kMicrosecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  auto& f = fixture();  // keys generated before any timing
  std::printf("keys: rsa-2048 (record %zu octets), ed25519 (record %zu octets); messages %zu and %zu octets\n",
              f.rsa.record.size(), f.ed.record.size(), f.messages.at(2048).size(), f.messages.at(102400).size());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
