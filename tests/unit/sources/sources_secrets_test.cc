// Source passwords bound to their server: the binding's encoding, passwords that refuse
// to open once the stored host, port, user or TLS settings were changed behind the
// registry's back, edits that carry a password to new settings, and the one-time move of
// version-1 passwords from the key older versions kept in the archive directory.
#include "sources/sources_secrets.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <iterator>

#include "raw_source_entries.h"
#include "sources/sources_test_util.h"
#include "test_util.h"

namespace archiver {
namespace {

using internal::SameSecretBinding;
using internal::SourceSecretBinding;

const std::string kPassword = "app-password-marker-7";

SourceConfig Sample(const std::string& name = "old-server") {
  return testing::SampleSource(name);
}

struct BoundChange {
  const char* field;
  std::function<void(SourceConfig*)> change;
};

// Each changes one field a password is bound to, to a value an attacker could use.
const BoundChange kBoundChanges[] = {
    {"name", [](SourceConfig* c) { c->name = "other-server"; }},
    {"host", [](SourceConfig* c) { c->host = "attacker.example.net"; }},
    {"port", [](SourceConfig* c) { c->port = 10993; }},
    {"user", [](SourceConfig* c) { c->user = "mallory@example.org"; }},
    {"tls", [](SourceConfig* c) { c->tls = SourceTls::kNone; }},
    {"tls_verify", [](SourceConfig* c) { c->tls_verify = false; }},
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(SourceSecretBindingTest, CoversExactlyTheFieldsThatChooseTheServer) {
  const SourceConfig base = Sample();
  for (const BoundChange& bound : kBoundChanges) {
    SourceConfig changed = base;
    bound.change(&changed);
    EXPECT_NE(SourceSecretBinding(changed), SourceSecretBinding(base)) << bound.field;
    EXPECT_FALSE(SameSecretBinding(changed, base)) << bound.field;
  }
  SourceConfig unbound = base;  // what to fetch, not where to send the password
  unbound.folders = {"Sent"};
  unbound.all_folders = true;
  unbound.interval_seconds = 3600;
  unbound.purpose = SourcePurpose::kDmarc;
  EXPECT_EQ(SourceSecretBinding(unbound), SourceSecretBinding(base));
}

TEST(SourceSecretBindingTest, EncodingIsLengthPrefixedAndUnambiguous) {
  SourceConfig config = Sample("n");
  config.host = "h";
  config.user = "u";
  config.port = 143;
  config.tls = SourceTls::kStarttls;
  const std::string label = "dovecot-archiver source password";
  const std::string expected = std::string("\0\0\0", 3) + static_cast<char>(label.size()) + label +
                               std::string("\0\0\0\1n\0\0\0\1h\0\0\0\003143\0\0\0\1u", 22) +
                               std::string("\0\0\0\010starttls\0\0\0\003yes", 19);
  EXPECT_EQ(SourceSecretBinding(config), expected);

  // Moving bytes from one field to its neighbour changes the encoding.
  SourceConfig a = Sample("ab"), b = Sample("a");
  a.host = "c";
  b.host = "bc";
  EXPECT_NE(SourceSecretBinding(a), SourceSecretBinding(b));
  a = Sample();
  b = Sample();
  a.host = "imap.example.org993";  // host "…org993", port 993 vs host "…org", port 993993
  b.port = 993993;
  EXPECT_NE(SourceSecretBinding(a), SourceSecretBinding(b));
}

class SourceSecretsTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    Result<std::shared_ptr<Store>> opened = Store::Open({.path = Archive(), .sync = false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = *opened;
  }
  std::string Archive() const { return dir_.Sub("a"); }
  std::string KeyPath() const { return dir_.Sub("sources.key"); }
  std::string LegacyKeyPath() const { return Archive() + "/sources.key"; }
  SourceRegistry Registry() { return SourceRegistry(store_, KeyPath(), LegacyKeyPath()); }

  // Writes straight into the closed archive, as its writers could, then reopens it.
  void BehindTheBack(const std::function<Status(const std::string&)>& write) {
    store_.reset();
    Status written = write(Archive());
    ASSERT_TRUE(written.ok()) << written.ToString();
    Open();
  }
  void ChangeStoredConfig(const std::function<void(SourceConfig*)>& change) {
    BehindTheBack([&](const std::string& dir) {
      return testing_tools::ChangeRawSourceConfig(dir, "old-server", change);
    });
  }
  std::string StoredSecret() {
    std::string sealed;
    store_.reset();
    EXPECT_TRUE(testing_tools::ChangeRawEntry(Archive(), "src_secrets", "old-server",
                                              [&](std::string* value) {
                                                sealed = *value;
                                                return Status::Ok();
                                              })
                    .ok());
    Open();
    return sealed;
  }
  // An older version's install: its key in the archive directory, the passwords sealed
  // under it bound to the name only (`stranger` seals `other` under another key).
  void InstallVersion1(const std::string& other = "", const SecretBox* stranger = nullptr) {
    ASSERT_TRUE(Registry().Add(Sample(), "placeholder").ok());
    if (!other.empty()) {
      ASSERT_TRUE(Registry().Add(Sample(other), "placeholder").ok());
    }
    ASSERT_EQ(unlink(KeyPath().c_str()), 0);
    Result<SecretBox> legacy = SecretBox::Load(LegacyKeyPath());
    ASSERT_TRUE(legacy.ok()) << legacy.status().ToString();
    Result<std::string> sealed = legacy->Seal(kPassword, "old-server", SecretBox::kVersion1);
    ASSERT_TRUE(sealed.ok());
    BehindTheBack([&](const std::string& dir) {
      Status written = testing_tools::WriteRawSourceSecret(dir, "old-server", *sealed);
      if (written.ok() && stranger != nullptr) {
        written = testing_tools::WriteRawSourceSecret(
            dir, other, *stranger->Seal("x", other, SecretBox::kVersion1));
      }
      return written;
    });
  }

  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
};

TEST_F(SourceSecretsTest, PasswordRefusedWhenABoundSettingWasChangedBehindTheBack) {
  for (const BoundChange& bound : kBoundChanges) {
    if (std::string(bound.field) == "name") continue;  // the key of the record: below
    SCOPED_TRACE(bound.field);
    ASSERT_TRUE(Registry().Add(Sample(), kPassword).ok());
    ASSERT_EQ(*Registry().Password("old-server"), kPassword);
    ChangeStoredConfig(bound.change);
    Result<std::string> opened = Registry().Password("old-server");
    EXPECT_EQ(opened.status().code(), Status::Code::kPermissionDenied);
    const std::string& message = opened.status().message();
    EXPECT_NE(message.find("stored settings of source old-server"), std::string::npos) << message;
    EXPECT_NE(message.find("doveadm archive source edit old-server --password-stdin"),
              std::string::npos);
    EXPECT_EQ(message.find(kPassword), std::string::npos);
    // The settings a caller read earlier are checked the same way.
    SourceConfig changed = Sample();
    bound.change(&changed);
    EXPECT_EQ(Registry().Password(changed).status().code(), Status::Code::kPermissionDenied);
    EXPECT_EQ(*Registry().Password(Sample()), kPassword);
    ASSERT_TRUE(Registry().Remove("old-server").ok());
  }
}

TEST_F(SourceSecretsTest, PasswordMovedToAnotherSourceDoesNotOpen) {
  ASSERT_TRUE(Registry().Add(Sample("old-server"), kPassword).ok());
  ASSERT_TRUE(Registry().Add(Sample("other-server"), "other").ok());
  const std::string sealed = StoredSecret();
  BehindTheBack([&](const std::string& dir) {
    return testing_tools::WriteRawSourceSecret(dir, "other-server", sealed);
  });
  EXPECT_EQ(Registry().Password("other-server").status().code(), Status::Code::kPermissionDenied);
}

TEST_F(SourceSecretsTest, UnboundSettingsMayChange) {
  ASSERT_TRUE(Registry().Add(Sample(), kPassword).ok());
  ChangeStoredConfig([](SourceConfig* config) {
    config->folders = {"INBOX", "Sent"};
    config->interval_seconds = 7200;
  });
  EXPECT_EQ(*Registry().Password("old-server"), kPassword);
}

TEST_F(SourceSecretsTest, EditCarriesThePasswordToNewSettingsOnlyFromTheAuthenticOnes) {
  ASSERT_TRUE(Registry().Add(Sample(), kPassword).ok());
  const std::string before = StoredSecret();
  SourceConfig moved = Sample();
  moved.host = "imap2.example.org";
  moved.port = 143;
  moved.tls = SourceTls::kStarttls;
  ASSERT_TRUE(Registry().Update(moved, std::nullopt).ok());
  EXPECT_EQ(*Registry().Password("old-server"), kPassword);
  EXPECT_NE(StoredSecret(), before);  // sealed again, for the new settings

  // Settings redirected behind the back: an edit cannot launder them.
  ChangeStoredConfig([](SourceConfig* config) { config->host = "attacker.example.net"; });
  SourceConfig edited = Sample();
  edited.host = "attacker.example.net";
  edited.port = 993;
  Status refused = Registry().Update(edited, std::nullopt);
  EXPECT_EQ(refused.code(), Status::Code::kPermissionDenied) << refused.ToString();
  EXPECT_EQ(Registry().Password("old-server").status().code(), Status::Code::kPermissionDenied);
  // A new password given with the edit is the admin's word for the new settings.
  ASSERT_TRUE(Registry().Update(edited, std::string("re-entered")).ok());
  EXPECT_EQ(*Registry().Password("old-server"), "re-entered");
}

TEST_F(SourceSecretsTest, Version1OpensOnlyUntilTheLegacyKeyIsMoved) {
  InstallVersion1();
  ASSERT_EQ(access(KeyPath().c_str(), F_OK), -1);
  EXPECT_EQ(*Registry().Password("old-server"), kPassword);  // an older install works on
  const std::string version1 = StoredSecret();
  const std::string legacy_key = ReadFile(LegacyKeyPath());

  Result<LegacyKeyMigration> migration = Registry().MigrateLegacyKey();
  ASSERT_TRUE(migration.ok()) << migration.status().ToString();
  EXPECT_TRUE(migration->found);
  EXPECT_TRUE(migration->removed);
  EXPECT_EQ(migration->resealed, 1u);
  EXPECT_TRUE(migration->unopened.empty());
  EXPECT_EQ(access(LegacyKeyPath().c_str(), F_OK), -1);
  struct stat st;
  ASSERT_EQ(stat(KeyPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(StoredSecret()[0], SecretBox::kVersion2);
  EXPECT_EQ(*Registry().Password("old-server"), kPassword);
  bool logged = false;
  ASSERT_TRUE(Registry()
                  .ListLog("old-server",
                           [&](const SourceLogEntry& entry) {
                             logged |= entry.what == "reseal";
                             return true;
                           })
                  .ok());
  EXPECT_TRUE(logged);

  // Now bound: redirecting the settings fails it.
  ChangeStoredConfig([](SourceConfig* config) { config->host = "attacker.example.net"; });
  EXPECT_EQ(Registry().Password("old-server").status().code(), Status::Code::kPermissionDenied);
  // The old secret and even the old key, put back by the archive's writers, stay unused.
  BehindTheBack([&](const std::string& dir) {
    return testing_tools::WriteRawSourceSecret(dir, "old-server", version1);
  });
  { std::ofstream(LegacyKeyPath(), std::ios::binary) << legacy_key; }
  ASSERT_EQ(chmod(LegacyKeyPath().c_str(), 0600), 0);
  Result<std::string> opened = Registry().Password("old-server");
  EXPECT_EQ(opened.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(opened.status().message().find("older version"), std::string::npos);
  migration = Registry().MigrateLegacyKey();
  ASSERT_TRUE(migration.ok());
  EXPECT_TRUE(migration->found);
  EXPECT_FALSE(migration->removed);
  EXPECT_EQ(migration->resealed, 0u);
  EXPECT_EQ(Registry().Password("old-server").status().code(), Status::Code::kPermissionDenied);
}

TEST_F(SourceSecretsTest, Version1WithoutALegacyKeyIsRefused) {
  InstallVersion1();
  SourceRegistry explicit_key(store_, KeyPath());  // archiver_sources_key set: no legacy key
  Result<std::string> opened = explicit_key.Password("old-server");
  EXPECT_EQ(opened.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(opened.status().message().find("--password-stdin"), std::string::npos);
  Result<LegacyKeyMigration> migration = explicit_key.MigrateLegacyKey();
  ASSERT_TRUE(migration.ok());
  EXPECT_FALSE(migration->found);
}

TEST_F(SourceSecretsTest, MigrationKeepsWhatTheLegacyKeyCannotOpen) {
  Result<SecretBox> stranger = SecretBox::Load(dir_.Sub("stranger.key"));
  ASSERT_TRUE(stranger.ok());
  InstallVersion1("second", &*stranger);
  Result<LegacyKeyMigration> migration = Registry().MigrateLegacyKey();
  ASSERT_TRUE(migration.ok()) << migration.status().ToString();
  EXPECT_EQ(migration->resealed, 1u);
  EXPECT_EQ(migration->unopened, std::vector<std::string>{"second"});
  EXPECT_EQ(*Registry().Password("old-server"), kPassword);
  EXPECT_EQ(Registry().Password("second").status().code(), Status::Code::kPermissionDenied);
}

TEST_F(SourceSecretsTest, UntrustedLegacyKeyIsNeitherUsedNorRemoved) {
  InstallVersion1();
  ASSERT_EQ(chmod(LegacyKeyPath().c_str(), 0644), 0);
  Result<LegacyKeyMigration> migration = Registry().MigrateLegacyKey();
  EXPECT_EQ(migration.status().code(), Status::Code::kPermissionDenied);
  EXPECT_EQ(access(LegacyKeyPath().c_str(), F_OK), 0);
  EXPECT_EQ(access(KeyPath().c_str(), F_OK), -1);
  EXPECT_EQ(Registry().Password("old-server").status().code(), Status::Code::kPermissionDenied);
}

}  // namespace
}  // namespace archiver
