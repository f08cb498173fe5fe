#include "proto/maildrop.h"

#include <gtest/gtest.h>

#include "proto/sendmail_input.h"

namespace tern::proto {
namespace {

Mailbox mailbox(std::string local, std::string domain) { return Mailbox{std::move(local), std::move(domain)}; }

TEST(Maildrop, RoundTrip) {
  MaildropEnvelope e;
  e.sender.mailbox = mailbox("alice", "example.test");
  e.recipients = {mailbox("bob", "example.test"), mailbox("\"odd one\"", "example.org"),
                  mailbox("j\xc3\xbcrgen", "b\xc3\xbc" "cher.example")};
  e.full_name = "Alice Liddell";
  auto text = serialize_maildrop_envelope(e);
  EXPECT_EQ(text,
            "tern-maildrop 1\nsender alice@example.test\nrecipient bob@example.test\n"
            "recipient \"odd one\"@example.org\nrecipient j\xc3\xbcrgen@b\xc3\xbc" "cher.example\n"
            "fullname Alice Liddell\n\n");
  auto parsed = parse_maildrop_envelope(text + "Subject: x\r\n\r\nbody\r\n");
  ASSERT_TRUE(parsed) << parsed.error().detail;
  EXPECT_EQ(parsed->envelope_size, text.size());
  EXPECT_FALSE(parsed->envelope.sender.null);
  EXPECT_EQ(parsed->envelope.sender.mailbox.to_string(), "alice@example.test");
  ASSERT_EQ(parsed->envelope.recipients.size(), 3u);
  EXPECT_EQ(parsed->envelope.recipients[1].to_string(), "\"odd one\"@example.org");
  EXPECT_EQ(parsed->envelope.full_name, "Alice Liddell");
}

TEST(Maildrop, NullSenderNoFullName) {
  MaildropEnvelope e;
  e.sender.null = true;
  e.recipients = {mailbox("bob", "example.test")};
  auto text = serialize_maildrop_envelope(e);
  EXPECT_EQ(text, "tern-maildrop 1\nsender \nrecipient bob@example.test\n\n");
  auto parsed = parse_maildrop_envelope(text);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->envelope.sender.null);
  EXPECT_EQ(parsed->envelope.full_name, "");
}

TEST(Maildrop, Rejected) {
  std::string_view cases[] = {
      "",
      "garbage",
      "tern-maildrop 1\n",
      "tern-maildrop 2\nsender a@example.test\nrecipient b@example.test\n\n",
      "tern-maildrop 1\r\nsender a@example.test\nrecipient b@example.test\n\n",
      "tern-maildrop 1\nsender a@example.test\n\n",                                   // no recipient
      "tern-maildrop 1\nsender a@example.test\r\nrecipient b@example.test\n\n",       // CR
      "tern-maildrop 1\nrecipient b@example.test\nsender a@example.test\n\n",         // order
      "tern-maildrop 1\nsender a@example.test\nfullname X\nrecipient b@example.test\n\n",
      "tern-maildrop 1\nsender a@example.test\nrecipient b@example.test\nfullname X\nrecipient c@example.test\n\n",
      "tern-maildrop 1\nsender a@example.test\nrecipient b@example.test\nfullname \n\n",
      "tern-maildrop 1\nsender a@example.test\nrecipient b@example.test\nfullname a\tb\n\n",
      "tern-maildrop 1\nsender a@example.test\nrecipient b@example.test\nfullname \xff\n\n",
      "tern-maildrop 1\nsender a@example.test\nrecipient b@example.test\nextra x\n\n",
      "tern-maildrop 1\nsender a@example.test\nrecipient \n\n",
      "tern-maildrop 1\nsender a@example.test\nrecipient <b@example.test>\n\n",
      "tern-maildrop 1\nsender a@example.test\nrecipient b@example.test> x\n\n",
      "tern-maildrop 1\nsender a@example.test\nrecipient b@example.test SIZE=1\n\n",
      "tern-maildrop 1\nsender a@\nrecipient b@example.test\n\n",
      "tern-maildrop 1\nsender  a@example.test\nrecipient b@example.test\n\n",
      "tern-maildrop 1\nsender a@example.test\nrecipient b@example.test\n",  // no end
      "tern-maildrop 1\nsender a@example.test\nrecipient b@exa mple.test\n\n",
  };
  for (auto text : cases) EXPECT_FALSE(parse_maildrop_envelope(text)) << text;
}

TEST(Maildrop, RecipientLimit) {
  std::string text = "tern-maildrop 1\nsender a@example.test\n";
  std::string label(58, 'd');  // the longest path: 256 octets with <>
  for (std::size_t i = 0; i < kMaxMaildropRecipients; ++i) {
    text += "recipient " + std::string(60, 'x') + std::to_string(i) + "@" + label + "." + label + "." + label + ".example\n";
  }
  auto full_name = "fullname " + std::string(kMaxFullName, 'n') + "\n\n";
  EXPECT_LE(text.size() + full_name.size(), kMaxMaildropEnvelope);
  EXPECT_TRUE(parse_maildrop_envelope(text + full_name));
  EXPECT_FALSE(parse_maildrop_envelope(text + "recipient b@example.test\n\n"));
}

TEST(Maildrop, FromField) {
  EXPECT_EQ(from_field_value("", "a@example.test"), "a@example.test");
  EXPECT_EQ(from_field_value("Alice Liddell", "a@example.test"), "Alice Liddell <a@example.test>");
  EXPECT_EQ(from_field_value("Liddell, Alice \"A\"", "a@example.test"),
            "\"Liddell, Alice \\\"A\\\"\" <a@example.test>");
  EXPECT_EQ(from_field_value("J\xc3\xbcrgen", "j@example.test"), "=?UTF-8?B?SsO8cmdlbg==?= <j@example.test>");
  // Long names: several encoded words of at most 75 characters, each whole UTF-8.
  std::string name;
  for (int i = 0; i < 40; ++i) name += "\xc3\xbc";
  auto value = from_field_value(name, "j@example.test");
  std::size_t start = 0;
  int words = 0;
  while (start < value.size() && value[start] == '=') {
    auto end = value.find(' ', start);
    EXPECT_LE(end - start, 75u);
    ++words;
    start = end + 1;
  }
  EXPECT_EQ(words, 2);
}

TEST(Maildrop, CrlfNormalizerAtEverySplit) {
  std::string input = "a\nb\r\nc\rd\n\ne\r";
  std::string expected = "a\r\nb\r\nc\rd\r\n\r\ne\r\n";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    CrlfNormalizer n;
    std::string out;
    n.feed(std::string_view(input).substr(0, cut), out);
    n.feed(std::string_view(input).substr(cut), out);
    n.finish(out);
    EXPECT_EQ(out, expected) << cut;
  }
  CrlfNormalizer n;
  std::string out;
  n.feed("no line end", out);
  n.finish(out);
  EXPECT_EQ(out, "no line end\r\n");
  CrlfNormalizer empty;
  out.clear();
  empty.finish(out);
  EXPECT_EQ(out, "");
}

// ---- what sendmail reads on its standard input

struct Input {
  std::string message;
  std::string recipients;
  bool ok;
};

Input read_input(std::string_view text, SendmailInputOptions options, std::size_t cut = 0) {
  SendmailInput in(options);
  if (cut > 0 && in.feed(text.substr(0, cut))) in.feed(text.substr(cut));
  if (cut == 0) in.feed(text);
  auto finished = in.finish();
  Input out{in.message(), "", finished.ok()};
  for (const auto& r : in.recipients()) out.recipients += r.address() + ";";
  return out;
}

TEST(SendmailInput, LineEndsAndDot) {
  auto in = read_input("Subject: x\n\nline\n..two\n.\nafter\n", {});
  EXPECT_TRUE(in.ok);
  EXPECT_EQ(in.message, "Subject: x\r\n\r\nline\r\n..two\r\n");
  auto keep = read_input("Subject: x\r\n\r\nline\r\n.\r\nafter", {.dot_ends = false});
  EXPECT_EQ(keep.message, "Subject: x\r\n\r\nline\r\n.\r\nafter\r\n");
  auto dot_crlf = read_input("Subject: x\r\n\r\nline\r\n.\r\nafter", {});
  EXPECT_EQ(dot_crlf.message, "Subject: x\r\n\r\nline\r\n");
  auto dot_in_header = read_input("Subject: x\n.\n", {});
  EXPECT_EQ(dot_in_header.message, "Subject: x\r\n");
  auto last_dot_no_lf = read_input("Subject: x\n\nbody\n.", {});
  EXPECT_EQ(last_dot_no_lf.message, "Subject: x\r\n\r\nbody\r\n");
  EXPECT_EQ(read_input("", {}).message, "");
}

TEST(SendmailInput, BccRemovedAndRecipientsTaken) {
  std::string text =
      "From: me@example.test\nTo: Alice <alice@example.test>,\n  bob@example.test\nCc: carol@example.test\n"
      "Bcc: dave@example.test\nResent-Bcc: x@example.test\nBCC: eve\nSubject: hi\n\nTo: not@example.test\n";
  for (std::size_t cut = 0; cut < text.size(); ++cut) {
    auto in = read_input(text, {.extract_recipients = true}, cut);
    ASSERT_TRUE(in.ok);
    EXPECT_EQ(in.message,
              "From: me@example.test\r\nTo: Alice <alice@example.test>,\r\n  bob@example.test\r\n"
              "Cc: carol@example.test\r\nSubject: hi\r\n\r\nTo: not@example.test\r\n")
        << cut;
    EXPECT_EQ(in.recipients, "alice@example.test;bob@example.test;carol@example.test;dave@example.test;eve;");
  }
  // Without -t, Bcc still goes and nothing is taken.
  auto in = read_input(text, {});
  EXPECT_EQ(in.recipients, "");
  EXPECT_EQ(in.message.find("dave"), std::string::npos);
}

TEST(SendmailInput, BodyWithoutEmptyLine) {
  auto in = read_input("To: a@example.test\nnot a field\nmore\n", {.extract_recipients = true});
  EXPECT_EQ(in.message, "To: a@example.test\r\nnot a field\r\nmore\r\n");
  EXPECT_EQ(in.recipients, "a@example.test;");
}

TEST(SendmailInput, BadAddressField) {
  EXPECT_FALSE(read_input("To: <broken\n\nbody\n", {.extract_recipients = true}).ok);
  EXPECT_TRUE(read_input("To: <broken\n\nbody\n", {}).ok);  // not read without -t
}

TEST(SendmailInput, SizeLimit) {
  std::string text = "Subject: x\n\n" + std::string(100, 'a') + "\n";
  std::size_t stored = text.size() + 3;  // three CRLF
  EXPECT_TRUE(read_input(text, {.max_size = stored}).ok);
  EXPECT_FALSE(read_input(text, {.max_size = stored - 1}).ok);
  // One long line without a line end is refused before it is whole.
  SendmailInput in({.max_size = 1000});
  std::string chunk(600, 'x');
  EXPECT_TRUE(in.feed(chunk));
  EXPECT_FALSE(in.feed(chunk));
  EXPECT_FALSE(in.finish());
}

TEST(SendmailInput, EightBit) {
  SendmailInput in({});
  in.feed("Subject: caf\xc3\xa9\n\n");
  ASSERT_TRUE(in.finish());
  EXPECT_TRUE(in.eight_bit());
  SendmailInput ascii({});
  ascii.feed("Subject: x\n\n");
  ASSERT_TRUE(ascii.finish());
  EXPECT_FALSE(ascii.eight_bit());
}

}  // namespace
}  // namespace tern::proto
