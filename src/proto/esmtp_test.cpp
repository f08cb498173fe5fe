#include "proto/esmtp.h"

#include <gtest/gtest.h>

namespace tern::proto {
namespace {

TEST(Esmtp, MailParameters) {
  auto p = parse_mail_parameters(" SIZE=1000 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=QQ+2Bx");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->size, 1000u);
  EXPECT_EQ(p->body, Body::k8BitMime);
  EXPECT_TRUE(p->smtputf8);
  EXPECT_EQ(p->ret, Ret::kHdrs);
  EXPECT_EQ(p->envid, "QQ+x");
  EXPECT_TRUE(parse_mail_parameters("").ok());
  EXPECT_EQ(parse_mail_parameters(" body=binarymime")->body, Body::kBinaryMime);
  EXPECT_EQ(parse_mail_parameters(" SIZE=99999999999999999999")->size, UINT64_MAX);
  EXPECT_EQ(parse_mail_parameters(" SIZE=999999999999999999999").error().code, 501);
  EXPECT_EQ(parse_mail_parameters(" AUTH=<>")->auth, "<>");
  EXPECT_EQ(parse_mail_parameters(" AUTH=alice+40example.test")->auth, "alice@example.test");
  EXPECT_EQ(parse_mail_parameters(" AUTH=").error().code, 501);
  EXPECT_EQ(parse_mail_parameters(" AUTH=<> AUTH=<>").error().code, 501);
}

TEST(Esmtp, MailParameterErrors) {
  EXPECT_EQ(parse_mail_parameters(" FOO=BAR").error().code, 555);
  EXPECT_EQ(parse_mail_parameters(" SIZE=abc").error().code, 501);
  EXPECT_EQ(parse_mail_parameters(" SIZE=1 SIZE=2").error().code, 501);
  EXPECT_EQ(parse_mail_parameters(" BODY=9BIT").error().code, 501);
  EXPECT_EQ(parse_mail_parameters(" RET=ALL").error().code, 501);
  EXPECT_EQ(parse_mail_parameters(" SMTPUTF8=yes").error().code, 501);
  EXPECT_EQ(parse_mail_parameters(" ENVID=a+zz").error().code, 501);
  EXPECT_EQ(parse_mail_parameters("SIZE=1").error().code, 501);  // no space after ">"
  EXPECT_EQ(parse_mail_parameters(" ENVID=" + std::string(101, 'a')).error().code, 501);
}

TEST(Esmtp, RcptParameters) {
  auto p = parse_rcpt_parameters(" NOTIFY=SUCCESS,DELAY ORCPT=rfc822;a+2Bb@example.com");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->notify, kNotifySuccess | kNotifyDelay);
  EXPECT_EQ(p->orcpt, "rfc822;a+b@example.com");
  EXPECT_EQ(parse_rcpt_parameters(" NOTIFY=NEVER")->notify, kNotifyNever);
  EXPECT_EQ(parse_rcpt_parameters(" NOTIFY=NEVER,SUCCESS").error().code, 501);
  EXPECT_EQ(parse_rcpt_parameters(" NOTIFY=SOMETIMES").error().code, 501);
  EXPECT_EQ(parse_rcpt_parameters(" NOTIFY=DELAY,DELAY").error().code, 501);
  EXPECT_EQ(parse_rcpt_parameters(" ORCPT=rfc822").error().code, 501);
  EXPECT_EQ(parse_rcpt_parameters(" SIZE=1").error().code, 555);
}

TEST(Esmtp, XtextRoundTrip) {
  std::string raw = "a+b=c d\x01";
  EXPECT_EQ(decode_xtext(encode_xtext(raw)), raw);
  EXPECT_FALSE(decode_xtext("a+2").has_value());
  EXPECT_FALSE(decode_xtext("a+2b").has_value());  // lower-case hex is not xtext
}

}  // namespace
}  // namespace tern::proto
