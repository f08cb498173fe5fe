#include "auth/user_db.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "auth/password.h"

namespace tern::auth {
namespace {

namespace fs = std::filesystem;

// Fixed hashes (computing one costs tens of milliseconds).
constexpr const char* kHashA = "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$zwtVrjrUCmXcyLTs6oxLTQlzifSUkF8RHJ./tK5KU79";  // "correct horse"
constexpr const char* kHashB = "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";  // "secret"

std::string normalized(std::string_view address) {
  auto login = normalize_login(address);
  return login ? *login : "ERROR";
}

TEST(Login, ValidAddressesAreLowerCased) {
  EXPECT_EQ(normalized("Alice@Example.TEST"), "alice@example.test");
  EXPECT_EQ(normalized("a.b+tag@example.test"), "a.b+tag@example.test");
  EXPECT_EQ(normalized("o'neil!#$%&*/=?^_`{|}~-@mail.example.test"), "o'neil!#$%&*/=?^_`{|}~-@mail.example.test");
  EXPECT_EQ(normalized("postmaster@localhost"), "postmaster@localhost");
  EXPECT_EQ(normalized("JOSÉ@bücher.example"), "josÉ@bücher.example");  // ASCII letters only
  EXPECT_EQ(normalized(std::string(64, 'a') + "@example.test"), std::string(64, 'a') + "@example.test");
}

TEST(Login, InvalidAddressesAreRefused) {
  const std::string bad[] = {
      "", "alice", "@example.test", "alice@", "a..b@example.test", ".a@example.test", "a.@example.test",
      "a b@example.test", "\"a\"@example.test", "a@b@example.test", "a@-x.example", "a@x_y.example",
      "a@[127.0.0.1]", "a\t@example.test", "a\x01@example.test", "\xff@example.test", "a:b@example.test",
      "a@example..test", "a@.example.test", std::string(65, 'a') + "@example.test", "a\\b@example.test",
      "a(b)@example.test", "a,b@example.test", "a@example.test ",
  };
  for (const auto& address : bad) EXPECT_FALSE(normalize_login(address).ok()) << address;
}

TEST(UsersFormat, RoundTrip) {
  std::string text = std::string("# tern users\n\n   \nalice@example.test:") + kHashA + "\n# bob below\nbob@example.test:" +
                     kHashB + "\n";
  auto file = parse_users(text);
  EXPECT_TRUE(file.problems.empty());
  EXPECT_EQ(file.addresses(), (std::vector<std::string>{"alice@example.test", "bob@example.test"}));
  ASSERT_TRUE(file.find("bob@example.test"));
  EXPECT_EQ(file.find("bob@example.test")->hash, kHashB);
  EXPECT_EQ(format_users(file), text);
  EXPECT_EQ(format_users(parse_users("")), "");
}

TEST(UsersFormat, NormalizesCaseBlanksAndLineEnds) {
  auto file = parse_users(std::string(" Alice@Example.Test:") + kHashA + " \r\nbob@example.test:" + kHashB);
  EXPECT_TRUE(file.problems.empty());
  EXPECT_EQ(format_users(file),
            std::string("alice@example.test:") + kHashA + "\nbob@example.test:" + kHashB + "\n");
}

TEST(UsersFormat, MalformedLinesAreReportedAndKeptVerbatim) {
  std::string text = std::string("alice@example.test:") + kHashA + "\n" +  // 1
                     "no colon here\n" +                                   // 2
                     "not an address:" + kHashA + "\n" +                   // 3
                     "carol@example.test:hunter2\n" +                      // 4: a password, not a hash
                     "dave@example.test:$1$saltsalt$9xy1btjgzLYfb7hivXtC//\n" +  // 5: MD5, weak
                     "ALICE@example.test:" + kHashB + "\n" +                // 6: again
                     "eve@example.test:\n" +                               // 7
                     "bob@example.test:" + kHashB + "\n";                  // 8
  auto file = parse_users(text);
  EXPECT_EQ(file.addresses(), (std::vector<std::string>{"alice@example.test", "bob@example.test"}));
  EXPECT_EQ(file.find("alice@example.test")->hash, kHashA);  // the first line counts
  ASSERT_EQ(file.problems.size(), 6u);
  std::vector<std::size_t> lines;
  for (const auto& p : file.problems) {
    lines.push_back(p.line);
    EXPECT_EQ(p.message.find("hunter2"), std::string::npos);
    EXPECT_EQ(p.message.find('$'), std::string::npos) << p.message;
  }
  EXPECT_EQ(lines, (std::vector<std::size_t>{2, 3, 4, 5, 6, 7}));
  EXPECT_NE(file.problems[3].message.find("dave@example.test"), std::string::npos);
  EXPECT_NE(file.problems[4].message.find("line 1"), std::string::npos);
  EXPECT_EQ(format_users(file), text);  // nothing lost
}

TEST(UsersEdit, AddPasswdDel) {
  auto file = parse_users(std::string("# head\nalice@example.test:") + kHashA + "\nbob@example.test:$1$x$y\n# tail\n");
  EXPECT_FALSE(add_user(file, "alice@example.test", kHashB).ok());
  EXPECT_FALSE(set_password(file, "carol@example.test", kHashB).ok());
  EXPECT_FALSE(remove_user(file, "carol@example.test").ok());
  EXPECT_FALSE(remove_user(file, "bob@example.test").ok());  // only a malformed line: no user

  ASSERT_TRUE(add_user(file, "bob@example.test", kHashB).ok());  // replaces bob's malformed line
  ASSERT_TRUE(add_user(file, "carol@example.test", kHashA).ok());
  EXPECT_EQ(format_users(file), std::string("# head\nalice@example.test:") + kHashA + "\n# tail\nbob@example.test:" +
                                    kHashB + "\ncarol@example.test:" + kHashA + "\n");

  ASSERT_TRUE(set_password(file, "alice@example.test", kHashB).ok());  // in place
  EXPECT_EQ(file.lines[1].address, "alice@example.test");
  EXPECT_EQ(file.lines[1].hash, kHashB);

  ASSERT_TRUE(remove_user(file, "bob@example.test").ok());
  EXPECT_EQ(file.addresses(), (std::vector<std::string>{"alice@example.test", "carol@example.test"}));
  EXPECT_TRUE(parse_users(format_users(file)).problems.empty());
}

TEST(UsersEdit, DelRemovesADuplicateToo) {
  auto file = parse_users(std::string("alice@example.test:") + kHashA + "\nalice@example.test:" + kHashB + "\n");
  ASSERT_EQ(file.problems.size(), 1u);
  ASSERT_TRUE(remove_user(file, "alice@example.test").ok());
  EXPECT_EQ(format_users(file), "");  // the second line must not come back as alice
}

class TempDir : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "tern-auth-XXXXXX").string();
    ASSERT_TRUE(::mkdtemp(pattern.data()));
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  static unsigned mode(const std::string& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
  }
  // Rewrites the file atomically, as `tern user` does.
  void write(const std::string& p, const std::string& text) { ASSERT_TRUE(write_users_file(p, text).ok()); }

  fs::path dir_;
};

using UsersFileIo = TempDir;

TEST_F(UsersFileIo, WriteCreatesDirectoriesAndMode0600) {
  auto old_umask = ::umask(0);
  auto p = path("data/deeper/users");
  auto written = write_users_file(p, "alice@example.test:x\n");
  ::umask(old_umask);
  ASSERT_TRUE(written.ok()) << written.error().detail;
  EXPECT_EQ(mode(p), 0600u);
  EXPECT_EQ(mode(path("data")), 0755u);
  EXPECT_EQ(mode(path("data/deeper")), 0755u);
  auto text = read_users_text(p);
  ASSERT_TRUE(text.ok() && *text);
  EXPECT_EQ(**text, "alice@example.test:x\n");
  EXPECT_EQ(std::distance(fs::directory_iterator(path("data/deeper")), fs::directory_iterator{}), 1);  // no temp file left
}

TEST_F(UsersFileIo, RewriteMakesAnOpenFileMode0600) {
  auto p = path("users");
  std::ofstream(p) << "old\n";
  fs::permissions(p, fs::perms(0644));
  write(p, "new\n");
  EXPECT_EQ(mode(p), 0600u);
  EXPECT_EQ(**read_users_text(p), "new\n");
}

TEST_F(UsersFileIo, MissingFileReadsAsNone) {
  auto text = read_users_text(path("nothing"));
  ASSERT_TRUE(text.ok());
  EXPECT_FALSE(text->has_value());
}

TEST_F(UsersFileIo, WriteFailsWhenTheDirectoryIsAFile) {
  std::ofstream(path("file")) << "x";
  EXPECT_FALSE(write_users_file(path("file/users"), "x\n").ok());
}

TEST_F(UsersFileIo, LockIsExclusive) {
  auto p = path("data/users");
  auto first = UsersFileLock::acquire(p);
  ASSERT_TRUE(first.ok()) << first.error().detail;
  EXPECT_EQ(mode(p + ".lock"), 0600u);
  std::atomic<bool> second_held{false};
  std::thread other([&] {
    auto second = UsersFileLock::acquire(p);
    second_held = second.ok();
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  EXPECT_FALSE(second_held);
  { auto release = std::move(*first); }
  other.join();
  EXPECT_TRUE(second_held);
}

TEST_F(UsersFileIo, RunAsRootWhatIsCreatedBelongsToTheDirectoryOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  constexpr uid_t kUid = 54321;
  constexpr gid_t kGid = 54322;
  fs::create_directory(path("data"));
  ASSERT_EQ(::chown(path("data").c_str(), kUid, kGid), 0);
  auto p = path("data/auth/users");
  ASSERT_TRUE(UsersFileLock::acquire(p).ok());
  write(p, "x\n");
  for (const auto& created : {path("data/auth"), p, p + ".lock"}) {
    struct stat st {};
    ASSERT_EQ(::stat(created.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, kUid) << created;
    EXPECT_EQ(st.st_gid, kGid) << created;
  }
  EXPECT_EQ(mode(p), 0600u);
}

using Store = TempDir;

TEST_F(Store, VerifiesKnownWrongAndUnknown) {
  auto p = path("users");
  write(p, std::string("alice@example.test:") + kHashA + "\nbob@example.test:" + kHashB + "\n");
  UserStore store(p);
  EXPECT_EQ(store.verify("alice@example.test", "correct horse"), UserStore::Verdict::kOk);
  EXPECT_EQ(store.verify("ALICE@Example.Test", "correct horse"), UserStore::Verdict::kOk);
  EXPECT_EQ(store.verify("alice@example.test", "Correct horse"), UserStore::Verdict::kBadCredentials);
  EXPECT_EQ(store.verify("alice@example.test", ""), UserStore::Verdict::kBadCredentials);
  EXPECT_EQ(store.verify("bob@example.test", "secret"), UserStore::Verdict::kOk);
  EXPECT_EQ(store.verify("carol@example.test", "secret"), UserStore::Verdict::kBadCredentials);
  EXPECT_EQ(store.verify("", ""), UserStore::Verdict::kBadCredentials);
  EXPECT_TRUE(store.exists("Bob@Example.test"));
  EXPECT_FALSE(store.exists("carol@example.test"));
}

TEST_F(Store, UnknownLoginCostsAVerificationToo) {
  auto p = path("users");
  write(p, std::string("alice@example.test:") + kHashA + "\n");
  UserStore store(p);
  auto time = [&](const char* login) {
    double best = 1e9;
    for (int i = 0; i < 3; ++i) {
      auto start = std::chrono::steady_clock::now();
      (void)store.verify(login, "wrong");
      best = std::min(best, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
    }
    return best;
  };
  double known = time("alice@example.test");
  double unknown = time("nobody@example.test");
  EXPECT_GT(unknown, known / 3) << "known " << known << " ms, unknown " << unknown << " ms";
}

TEST_F(Store, MissingFileIsNoUsersNotUnavailable) {
  UserStore store(path("data/users"));
  EXPECT_EQ(store.verify("alice@example.test", "correct horse"), UserStore::Verdict::kBadCredentials);
  EXPECT_FALSE(store.exists("alice@example.test"));
  write(path("data/users"), std::string("alice@example.test:") + kHashA + "\n");  // the first `tern user add`
  EXPECT_EQ(store.verify("alice@example.test", "correct horse"), UserStore::Verdict::kOk);
  fs::remove(path("data/users"));
  EXPECT_FALSE(store.exists("alice@example.test"));
}

TEST_F(Store, NeverReadableIsUnavailable) {
  fs::create_directory(path("users"));  // open() works, read() fails: EISDIR
  UserStore store(path("users"));
  EXPECT_EQ(store.verify("alice@example.test", "correct horse"), UserStore::Verdict::kUnavailable);
  EXPECT_FALSE(store.exists("alice@example.test"));
}

TEST_F(Store, ReloadsWhenTheFileChanges) {
  auto p = path("users");
  write(p, std::string("alice@example.test:") + kHashA + "\n");
  UserStore store(p);
  EXPECT_TRUE(store.exists("alice@example.test"));
  EXPECT_FALSE(store.exists("bob@example.test"));
  write(p, std::string("bob@example.test:") + kHashB + "\n");  // right away: same second, same size class
  EXPECT_FALSE(store.exists("alice@example.test"));
  EXPECT_EQ(store.verify("bob@example.test", "secret"), UserStore::Verdict::kOk);
  // Edited in place (same inode), as an editor without a backup copy does.
  std::ofstream(p, std::ios::app) << "alice@example.test:" << kHashA << "\n";
  EXPECT_EQ(store.verify("alice@example.test", "correct horse"), UserStore::Verdict::kOk);
}

TEST_F(Store, BadLinesAreSkippedGoodOnesKept) {
  auto p = path("users");
  write(p, std::string("garbage\nalice@example.test:") + kHashA + "\nbob@example.test:plaintext\n");
  UserStore store(p);
  EXPECT_EQ(store.verify("alice@example.test", "correct horse"), UserStore::Verdict::kOk);
  EXPECT_EQ(store.verify("bob@example.test", "plaintext"), UserStore::Verdict::kBadCredentials);
}

TEST_F(Store, KeepsTheLastGoodContentsWhenTheFileBecomesUnreadable) {
  auto p = path("users");
  write(p, std::string("alice@example.test:") + kHashA + "\n");
  UserStore store(p);
  EXPECT_TRUE(store.exists("alice@example.test"));

  fs::remove(p);
  fs::create_directory(p);  // unreadable as a file, whoever we run as
  EXPECT_EQ(store.verify("alice@example.test", "correct horse"), UserStore::Verdict::kOk);
  EXPECT_TRUE(store.exists("alice@example.test"));

  fs::remove(p);
  write(p, std::string("bob@example.test:") + kHashB + "\n");
  EXPECT_FALSE(store.exists("alice@example.test"));
  EXPECT_TRUE(store.exists("bob@example.test"));

  if (::geteuid() != 0) {  // root reads a mode 000 file anyway
    fs::permissions(p, fs::perms::none);
    EXPECT_TRUE(store.exists("bob@example.test"));
    fs::permissions(dir_, fs::perms::none);  // stat fails: EACCES
    EXPECT_TRUE(store.exists("bob@example.test"));
  }
}

TEST_F(Store, ConcurrentVerificationsWhileTheFileChanges) {
  auto p = path("users");
  write(p, std::string("alice@example.test:") + kHashA + "\n");
  UserStore store(p);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      if (store.verify("alice@example.test", "correct horse") == UserStore::Verdict::kOk) ++ok;
    });
  }
  for (int i = 0; i < 20; ++i) write(p, std::string("alice@example.test:") + kHashA + "\n# " + std::to_string(i) + "\n");
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok, 4);
}

}  // namespace
}  // namespace tern::auth
