#include "base/base64.h"

#include <gtest/gtest.h>

namespace tern {
namespace {

// RFC 4648 10 test vectors.
TEST(Base64, Rfc4648Vectors) {
  const std::pair<std::string, std::string> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), plain);
  }
}

TEST(Base64, AuthPlainMessage) {
  // RFC 4616 4: authzid NUL authcid NUL passwd.
  EXPECT_EQ(base64_encode(std::string("\0tim\0tanstaaftanstaaf", 21)), "AHRpbQB0YW5zdGFhZnRhbnN0YWFm");
  EXPECT_EQ(base64_encode("\xff\xfe"), "//4=");
}

TEST(Base64, RejectsWhatIsNotBase64) {
  EXPECT_EQ(base64_decode("Zm9"), std::nullopt);     // not a multiple of 4
  EXPECT_EQ(base64_decode("Zm=v"), std::nullopt);    // data after padding
  EXPECT_EQ(base64_decode("Zm9v\r\n"), std::nullopt);
  EXPECT_EQ(base64_decode("Z!9v"), std::nullopt);
  EXPECT_EQ(base64_decode("Zg==Zg=="), std::nullopt);  // padding before the end
}

}  // namespace
}  // namespace tern
