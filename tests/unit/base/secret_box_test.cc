// SecretBox: AES-256-GCM round trips, authentication failures (wrong key, other
// context, any changed byte, another version), the key file (created 0600, wrong size,
// unreadable) and its directory (only its owner may change it).
#include "archiver/secret_box.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "test_util.h"

namespace archiver {
namespace {

std::array<unsigned char, SecretBox::kKeySize> KeyOf(unsigned char fill) {
  std::array<unsigned char, SecretBox::kKeySize> key;
  key.fill(fill);
  return key;
}

// A key file as SecretBox accepts it: ours, mode 0600.
void WriteFile(const std::string& path, const std::string& bytes) {
  { std::ofstream(path, std::ios::binary) << bytes; }
  chmod(path.c_str(), 0600);
}

TEST(SecretBoxTest, RoundTrip) {
  SecretBox box(KeyOf(7));
  for (std::string secret : {std::string(), std::string("hunter2"), std::string("ä\0b", 4),
                             testing::RandomBytes(5000, 3)}) {
    Result<std::string> sealed = box.Seal(secret, "source-a");
    ASSERT_TRUE(sealed.ok()) << sealed.status().ToString();
    EXPECT_EQ(sealed->size(), 1 + 12 + secret.size() + 16);
    if (secret.size() >= 4) {
      EXPECT_EQ(sealed->find(secret), std::string::npos);
    }
    Result<std::string> opened = box.Unseal(*sealed, "source-a");
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(*opened, secret);
  }
  // A fresh nonce each time: the same secret seals differently.
  EXPECT_NE(*box.Seal("same", "c"), *box.Seal("same", "c"));
}

TEST(SecretBoxTest, WrongKeyOrContextIsCorruption) {
  SecretBox box(KeyOf(1)), other(KeyOf(2));
  std::string sealed = *box.Seal("password", "source-a");
  Result<std::string> opened = other.Unseal(sealed, "source-a");
  EXPECT_EQ(opened.status().code(), Status::Code::kCorruption);
  EXPECT_EQ(opened.status().message(), "wrong key or damaged secret");
  EXPECT_EQ(box.Unseal(sealed, "source-b").status().code(), Status::Code::kCorruption);
}

TEST(SecretBoxTest, EveryTamperedByteIsDetected) {
  SecretBox box(KeyOf(9));
  const std::string sealed = *box.Seal("correct horse battery", "s");
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string tampered = sealed;
    tampered[i] = static_cast<char>(tampered[i] ^ 0x01);
    Result<std::string> opened = box.Unseal(tampered, "s");
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_EQ(opened.status().code(), Status::Code::kCorruption) << "byte " << i;
    EXPECT_EQ(opened.status().message().find("correct horse"), std::string::npos);
  }
  for (size_t cut = 0; cut < 1 + 12 + 16; ++cut) {
    Result<std::string> opened = box.Unseal(sealed.substr(0, cut), "s");
    EXPECT_EQ(opened.status().code(), Status::Code::kCorruption) << cut;
    EXPECT_NE(opened.status().message().find("truncated"), std::string::npos);
  }
  EXPECT_FALSE(box.Unseal(sealed + "x", "s").ok());
}

TEST(SecretBoxTest, KeyFileIsCreated0600AndReused) {
  testing::TempDir dir;
  const std::string path = dir.Sub("sources.key");
  mode_t old_umask = umask(0);  // the mode must not depend on the umask
  Result<SecretBox> created = SecretBox::Load(path);
  umask(old_umask);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  std::string sealed = *created->Seal("pw", "s");

  Result<SecretBox> loaded = SecretBox::Load(path, false);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(*loaded->Unseal(sealed, "s"), "pw");

  // Another key file: another key.
  Result<SecretBox> second = SecretBox::Load(dir.Sub("other.key"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->Unseal(sealed, "s").status().code(), Status::Code::kCorruption);
}

TEST(SecretBoxTest, KeyFileErrors) {
  testing::TempDir dir;
  Result<SecretBox> missing = SecretBox::Load(dir.Sub("absent.key"), false);
  EXPECT_EQ(missing.status().code(), Status::Code::kNotFound);
  EXPECT_NE(missing.status().message().find("absent.key"), std::string::npos);

  for (size_t size : {0, 16, 31, 33, 64}) {
    const std::string path = dir.Sub("size" + std::to_string(size) + ".key");
    WriteFile(path, std::string(size, 'k'));
    Result<SecretBox> loaded = SecretBox::Load(path);
    EXPECT_EQ(loaded.status().code(), Status::Code::kCorruption) << size;
    EXPECT_NE(loaded.status().message().find(std::to_string(size) + " bytes"), std::string::npos)
        << loaded.status().message();
  }

  // A directory in its place, and a path whose directory does not exist.
  EXPECT_EQ(SecretBox::Load(dir.path()).status().code(), Status::Code::kIOError);
  Result<SecretBox> no_dir = SecretBox::Load(dir.Sub("no/such/dir.key"));
  EXPECT_EQ(no_dir.status().code(), Status::Code::kIOError);
  EXPECT_NE(no_dir.status().message().find("no/such/dir.key"), std::string::npos);

  // Unreadable (skipped as root, who reads anything).
  if (geteuid() != 0) {
    const std::string path = dir.Sub("locked.key");
    WriteFile(path, std::string(32, 'k'));
    chmod(path.c_str(), 0);
    EXPECT_EQ(SecretBox::Load(path).status().code(), Status::Code::kIOError);
  }
  // A symlink is refused (O_NOFOLLOW), not followed to another file.
  const std::string target = dir.Sub("target.key");
  WriteFile(target, std::string(32, 't'));
  ASSERT_EQ(symlink(target.c_str(), dir.Sub("link.key").c_str()), 0);
  Result<SecretBox> linked = SecretBox::Load(dir.Sub("link.key"));
  EXPECT_EQ(linked.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(linked.status().message().find("symbolic link"), std::string::npos);
}

// A key someone else could have planted or could read is refused, naming the problem.
TEST(SecretBoxTest, KeyFileOthersCouldReachIsRefused) {
  testing::TempDir dir;
  const std::string path = dir.Sub("sources.key");
  WriteFile(path, std::string(32, 'k'));
  ASSERT_TRUE(SecretBox::Load(path, false).ok());

  chmod(path.c_str(), 0640);
  Result<SecretBox> loaded = SecretBox::Load(path, false);
  EXPECT_EQ(loaded.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(loaded.status().message().find("mode 0640"), std::string::npos)
      << loaded.status().message();
  chmod(path.c_str(), 0600);

  ASSERT_EQ(link(path.c_str(), dir.Sub("second-name").c_str()), 0);
  loaded = SecretBox::Load(path, false);
  EXPECT_NE(loaded.status().message().find("2 hard links"), std::string::npos);
  ASSERT_EQ(unlink(dir.Sub("second-name").c_str()), 0);

  if (geteuid() == 0) {  // only root can give a file away
    ASSERT_EQ(chown(path.c_str(), 4242, 4242), 0);
    loaded = SecretBox::Load(path, false);
    EXPECT_EQ(loaded.status().code(), Status::Code::kPermissionDenied);
    EXPECT_NE(loaded.status().message().find("belongs to uid 4242"), std::string::npos);
  }
}

TEST(SecretBoxTest, VersionsAreDeclaredAndAuthenticated) {
  SecretBox box(KeyOf(3));
  std::string v1 = *box.Seal("pw", "ctx", SecretBox::kVersion1);
  std::string v2 = *box.Seal("pw", "ctx");
  EXPECT_EQ(*SecretBox::Version(v1), SecretBox::kVersion1);
  EXPECT_EQ(*SecretBox::Version(v2), SecretBox::kVersion2);
  EXPECT_EQ(*box.Unseal(v1, "ctx"), "pw");
  EXPECT_EQ(*box.Unseal(v2, "ctx"), "pw");
  // Relabelled, neither opens: the version is part of what is authenticated.
  std::swap(v1[0], v2[0]);
  EXPECT_EQ(box.Unseal(v1, "ctx").status().code(), Status::Code::kCorruption);
  EXPECT_EQ(box.Unseal(v2, "ctx").status().code(), Status::Code::kCorruption);
  for (std::string unknown : {std::string(), std::string(40, '\0'), std::string(40, '\3')}) {
    EXPECT_EQ(SecretBox::Version(unknown).status().code(), Status::Code::kCorruption);
    EXPECT_EQ(box.Unseal(unknown, "ctx").status().code(), Status::Code::kCorruption);
  }
  EXPECT_EQ(box.Seal("pw", "ctx", 3).status().code(), Status::Code::kInvalidArgument);
}

// A key is created only where nobody else can remove or swap it.
TEST(SecretBoxTest, KeyDirectoryOthersCouldChangeIsRefused) {
  testing::TempDir dir;
  const std::string keys = dir.Sub("keys");
  ASSERT_TRUE(SecretBox::MakeKeyDirectory(keys).ok());
  struct stat st;
  ASSERT_EQ(stat(keys.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_TRUE(SecretBox::MakeKeyDirectory(keys).ok());  // there already: checked only
  EXPECT_TRUE(SecretBox::Load(keys + "/sources.key").ok());

  const std::string shared = dir.Sub("shared");
  ASSERT_EQ(mkdir(shared.c_str(), 0700), 0);
  ASSERT_EQ(chmod(shared.c_str(), 0770), 0);
  Status refused = SecretBox::CheckKeyDirectory(shared);
  EXPECT_EQ(refused.code(), Status::Code::kPermissionDenied);
  EXPECT_NE(refused.message().find("mode 0770"), std::string::npos) << refused.message();
  Result<SecretBox> created = SecretBox::Load(shared + "/sources.key");
  EXPECT_EQ(created.status().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(access((shared + "/sources.key").c_str(), F_OK), -1);
  EXPECT_EQ(SecretBox::MakeKeyDirectory(shared).code(), Status::Code::kPermissionDenied);

  ASSERT_EQ(symlink(keys.c_str(), dir.Sub("link").c_str()), 0);
  refused = SecretBox::MakeKeyDirectory(dir.Sub("link"));
  EXPECT_EQ(refused.code(), Status::Code::kPermissionDenied);
  EXPECT_NE(refused.message().find("symbolic link"), std::string::npos);

  if (geteuid() == 0) {  // only root can give a directory away
    ASSERT_EQ(chown(shared.c_str(), 4242, 4242), 0);
    ASSERT_EQ(chmod(shared.c_str(), 0700), 0);
    refused = SecretBox::CheckKeyDirectory(shared);
    EXPECT_NE(refused.message().find("belongs to uid 4242"), std::string::npos);
  }
}

}  // namespace
}  // namespace archiver
