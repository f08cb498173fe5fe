// Canonicalization (RFC 6376 3.4), the body fed at every split point.
#include <gtest/gtest.h>

#include <random>

#include "base/base64.h"
#include "dkim/canon.h"

namespace tern::dkim {
namespace {

std::string header(Canonicalization c, std::string_view field) {
  std::string out;
  canonicalize_header(c, field, out);
  return out;
}

// RFC 6376 3.4.5's example.
TEST(CanonHeader, RelaxedExample) {
  EXPECT_EQ(header(Canonicalization::kRelaxed, "A: X\r\n"), "a:X\r\n");
  EXPECT_EQ(header(Canonicalization::kRelaxed, "B : Y\t\r\n\tZ  \r\n"), "b:Y Z\r\n");
  EXPECT_EQ(header(Canonicalization::kSimple, "B : Y\t\r\n\tZ  \r\n"), "B : Y\t\r\n\tZ  \r\n");
}

TEST(CanonHeader, RelaxedEdges) {
  EXPECT_EQ(header(Canonicalization::kRelaxed, "Subject:\r\n"), "subject:\r\n");
  EXPECT_EQ(header(Canonicalization::kRelaxed, "X-A:   \t \r\n"), "x-a:\r\n");
  EXPECT_EQ(header(Canonicalization::kRelaxed, "To: a,\r\n b\r\n"), "to:a, b\r\n");
  EXPECT_EQ(header(Canonicalization::kRelaxed, "To:a\r\n\tb"), "to:a b\r\n");  // no final CRLF
}

struct StringSink : BodySink {
  std::string text;
  void write(std::string_view bytes) override { text.append(bytes); }
};

// The canonical body computed the plain way, on the whole body at once.
std::string reference(Canonicalization c, std::string body) {
  if (c == Canonicalization::kRelaxed) {
    std::string out;
    std::size_t start = 0;
    while (true) {
      auto end = body.find("\r\n", start);
      std::string line = body.substr(start, end == std::string::npos ? std::string::npos : end - start);
      std::string reduced;
      for (char ch : line) {
        bool wsp = ch == ' ' || ch == '\t';
        if (wsp && !reduced.empty() && reduced.back() == ' ') continue;
        reduced += wsp ? ' ' : ch;
      }
      while (!reduced.empty() && reduced.back() == ' ') reduced.pop_back();
      out += reduced;
      if (end == std::string::npos) break;
      out += "\r\n";
      start = end + 2;
    }
    body = out;
  }
  while (body.size() >= 2 && body.compare(body.size() - 2, 2, "\r\n") == 0) body.resize(body.size() - 2);
  if (body.empty()) return c == Canonicalization::kSimple ? "\r\n" : "";
  return body + "\r\n";
}

std::string streamed(Canonicalization c, std::string_view body, std::vector<std::size_t> cuts) {
  BodyCanonicalizer canon(c);
  StringSink sink;
  std::size_t at = 0;
  for (auto cut : cuts) {
    canon.feed(body.substr(at, cut - at), sink);
    at = cut;
  }
  canon.feed(body.substr(at), sink);
  canon.finish(sink);
  return sink.text;
}

void expect_at_every_split(std::string_view body) {
  for (auto c : {Canonicalization::kSimple, Canonicalization::kRelaxed}) {
    auto want = reference(c, std::string(body));
    for (std::size_t a = 0; a <= body.size(); ++a) {
      ASSERT_EQ(streamed(c, body, {a}), want) << "split " << a << " of " << testing::PrintToString(body);
    }
    std::vector<std::size_t> every;
    for (std::size_t i = 1; i < body.size(); ++i) every.push_back(i);
    ASSERT_EQ(streamed(c, body, every), want) << "byte by byte";
  }
}

TEST(CanonBody, RfcExamples) {
  // RFC 6376 3.4.5.
  std::string body = " C \r\nD \t E\r\n\r\n\r\n";
  EXPECT_EQ(reference(Canonicalization::kRelaxed, body), " C\r\nD E\r\n");
  EXPECT_EQ(reference(Canonicalization::kSimple, body), " C \r\nD \t E\r\n");
  expect_at_every_split(body);
}

TEST(CanonBody, TrickyBodiesAtEverySplit) {
  for (std::string_view body :
       {"", "\r\n", "\r\n\r\n", "a", "a\r\n", "a\r\n\r\n\r\n", "\r\n\r\na", " \t \r\n", "a \r\n \r\n",
        "a\r", "a\rb\r\n", "a\r\r\n", "a\n\nb", "a\r\n\r", " x", "x \t", "\r\n \r\nx\r\n\t\r\n",
        "line one\r\n\r\n  line  two  \r\n\r\n\r\n"}) {
    expect_at_every_split(body);
  }
}

TEST(CanonBody, RandomBodiesAtEverySplit) {
  std::mt19937 random(1234);
  const std::string alphabet = "ab \t\r\n\r\n";
  for (int round = 0; round < 300; ++round) {
    std::string body(random() % 40, ' ');
    for (char& ch : body) ch = alphabet[random() % alphabet.size()];
    expect_at_every_split(body);
  }
}

TEST(CanonBody, LongRunsOfEmptyLinesStayOutOfMemoryUntilContent) {
  std::string empty_lines;
  for (int i = 0; i < 10000; ++i) empty_lines += "\r\n";
  expect_at_every_split("a" + empty_lines.substr(0, 40) + "b");
  auto body = "a" + empty_lines + "b" + empty_lines;
  EXPECT_EQ(streamed(Canonicalization::kRelaxed, body, {5000, 5001}), "a" + empty_lines + "b\r\n");
}

std::string body_hash(Canonicalization c, std::string_view body, std::optional<std::uint64_t> limit,
                      std::size_t chunk = 1) {
  BodyHasher hasher(c, limit);
  for (std::size_t at = 0; at < body.size(); at += chunk) hasher.feed(body.substr(at, chunk));
  return base64_encode(hasher.finish());
}

// The well-known hashes of an empty body (RFC 6376 3.4.3, 3.4.4).
TEST(BodyHash, EmptyBodies) {
  EXPECT_EQ(body_hash(Canonicalization::kSimple, "", std::nullopt),
            "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
  EXPECT_EQ(body_hash(Canonicalization::kRelaxed, "\r\n\r\n", std::nullopt),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

TEST(BodyHash, LengthLimitCountsCanonicalOctets) {
  // l=3 of "a  b\r\n" relaxed is "a b".
  EXPECT_EQ(body_hash(Canonicalization::kRelaxed, "a  b\r\nmore\r\n", 3), base64_encode(sha256("a b")));
  BodyHasher hasher(Canonicalization::kRelaxed, 3);
  hasher.feed("a  b\r\nmore\r\n");
  hasher.finish();
  EXPECT_EQ(hasher.canonical_length(), 11u);  // "a b\r\nmore\r\n"
  EXPECT_EQ(body_hash(Canonicalization::kSimple, "abc", 0), base64_encode(sha256("")));
}

TEST(BodyHash, ChunkSizeDoesNotMatter) {
  std::string body;
  for (int i = 0; i < 3000; ++i) body += (i % 7 == 0) ? "\r\n\r\n" : "word \t ";
  for (auto c : {Canonicalization::kSimple, Canonicalization::kRelaxed}) {
    auto whole = body_hash(c, body, std::nullopt, body.size());
    for (std::size_t chunk : {1, 2, 3, 1023, 1024, 1025, 4096}) {
      EXPECT_EQ(body_hash(c, body, std::nullopt, chunk), whole) << chunk;
    }
    EXPECT_EQ(whole, base64_encode(sha256(reference(c, body))));
  }
}

}  // namespace
}  // namespace tern::dkim
