// SourceRegistry management: validation errors naming field and value, add / get /
// edit / pause / resume / remove round trips, sealed passwords, the status lifecycle
// with its backoff, due sources and the bounded activity log.
#include "archiver/sources/sources.h"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "archiver/secret_box.h"
#include "sources/sources_test_util.h"
#include "test_util.h"

namespace archiver {
namespace {

constexpr uint64_t kSecond = 1000000;

SourceConfig Sample(const std::string& name = "old-server") {
  return testing::SampleSource(name);
}

TEST(SourceConfigTest, DefaultsAreValid) {
  SourceConfig config = Sample();
  EXPECT_TRUE(config.Validate().ok());
  EXPECT_EQ(config.port, 993u);
  EXPECT_EQ(config.tls, SourceTls::kImaps);
  EXPECT_TRUE(config.tls_verify);
  EXPECT_EQ(config.folders, std::vector<std::string>{"INBOX"});
  EXPECT_EQ(config.interval_seconds, 900u);
  EXPECT_EQ(config.purpose, SourcePurpose::kArchive);
}

TEST(SourceConfigTest, ValidationNamesFieldAndValue) {
  struct Case {
    std::function<void(SourceConfig*)> change;
    std::vector<std::string> expected;  // substrings of the error
  };
  const Case cases[] = {
      {[](SourceConfig* c) { c->name = "bad name"; }, {"name", "'bad name'"}},
      {[](SourceConfig* c) { c->name = ""; }, {"name", "''"}},
      {[](SourceConfig* c) { c->name = std::string(65, 'a'); }, {"name"}},
      {[](SourceConfig* c) { c->name = "a/b"; }, {"name", "'a/b'"}},
      {[](SourceConfig* c) { c->host = ""; }, {"host", "empty"}},
      {[](SourceConfig* c) { c->host = "a b"; }, {"host", "'a b'"}},
      {[](SourceConfig* c) { c->port = 0; }, {"port", "0"}},
      {[](SourceConfig* c) { c->port = 70000; }, {"port", "70000"}},
      {[](SourceConfig* c) { c->user = "a\r\nb"; }, {"user", "control"}},
      {[](SourceConfig* c) { c->folders.clear(); }, {"folders"}},
      {[](SourceConfig* c) {
         c->folders = {"INBOX", ""};
       },
       {"folder", "empty"}},
      {[](SourceConfig* c) { c->exclude = {"Spam\n"}; }, {"exclude folder", "control"}},
      {[](SourceConfig* c) { c->interval_seconds = 59; }, {"interval", "59"}},
      {[](SourceConfig* c) { c->after = SourceAfter::kDelete; }, {"after", "delete", "DMARC"}},
      {[](SourceConfig* c) { c->subject_filter = "Report"; }, {"subject filter", "'Report'"}},
      {[](SourceConfig* c) { c->sender_filter = "x@y"; }, {"sender filter", "'x@y'"}},
      {[](SourceConfig* c) { c->max_age_seconds = 5; }, {"max age", "5"}},
      {[](SourceConfig* c) { c->max_size = 9; }, {"max size", "9"}},
      {[](SourceConfig* c) {
         c->purpose = SourcePurpose::kDmarc;
         c->after = SourceAfter::kMove;
       },
       {"after move folder", "empty"}},
      {[](SourceConfig* c) {
         c->purpose = SourcePurpose::kDmarc;
         c->after_folder = "Done";
       },
       {"after folder", "'Done'", "seen"}},
  };
  for (const Case& test : cases) {
    SourceConfig config = Sample();
    test.change(&config);
    Status status = config.Validate();
    ASSERT_EQ(status.code(), Status::Code::kInvalidArgument) << test.expected[0];
    for (const std::string& part : test.expected) {
      EXPECT_NE(status.message().find(part), std::string::npos)
          << status.message() << " lacks " << part;
    }
  }
  SourceConfig dmarc = Sample();
  dmarc.purpose = SourcePurpose::kDmarc;
  dmarc.after = SourceAfter::kMove;
  dmarc.after_folder = "Processed";
  dmarc.subject_filter = "Report Domain";
  dmarc.max_size = 10 << 20;
  EXPECT_TRUE(dmarc.Validate().ok()) << dmarc.Validate().ToString();
  SourceConfig all = Sample();
  all.all_folders = true;
  all.folders.clear();
  EXPECT_TRUE(all.Validate().ok());
}

TEST(SourceConfigTest, ParseNames) {
  EXPECT_EQ(*ParseSourceTls("starttls"), SourceTls::kStarttls);
  EXPECT_NE(ParseSourceTls("ssl").status().message().find("'ssl'"), std::string::npos);
  EXPECT_EQ(*ParseSourcePurpose("dmarc"), SourcePurpose::kDmarc);
  EXPECT_FALSE(ParseSourcePurpose("DMARC").ok());
  SourceAfter after = SourceAfter::kNone;
  std::string folder = "stale";
  ASSERT_TRUE(ParseSourceAfter("move:Archive/DMARC", &after, &folder).ok());
  EXPECT_EQ(after, SourceAfter::kMove);
  EXPECT_EQ(folder, "Archive/DMARC");
  ASSERT_TRUE(ParseSourceAfter("delete", &after, &folder).ok());
  EXPECT_EQ(after, SourceAfter::kDelete);
  EXPECT_EQ(folder, "");
  EXPECT_FALSE(ParseSourceAfter("move:", &after, &folder).ok());
  EXPECT_NE(ParseSourceAfter("expunge", &after, &folder).message().find("'expunge'"),
            std::string::npos);
}

class SourceRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::shared_ptr<Store>> opened = Store::Open({.path = dir_.Sub("a"), .sync = false});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = *opened;
  }
  SourceRegistry Registry() { return SourceRegistry(store_, dir_.Sub("sources.key")); }

  testing::TempDir dir_;
  std::shared_ptr<Store> store_;
};

TEST_F(SourceRegistryTest, EmptyArchiveHasNoSources) {
  SourceRegistry registry = Registry();
  Result<std::vector<SourceInfo>> list = registry.List();
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_TRUE(list->empty());
  EXPECT_EQ(registry.Get("x").status().code(), Status::Code::kNotFound);
  EXPECT_TRUE(registry.Due(UINT64_MAX)->empty());
  EXPECT_EQ(registry.Pause("x").code(), Status::Code::kNotFound);
}

TEST_F(SourceRegistryTest, AddGetListEdit) {
  SourceRegistry registry = Registry();
  SourceConfig config = Sample();
  config.folders = {"INBOX", "Sent", "Archiv/2019"};
  config.exclude = {"Junk"};
  config.tls = SourceTls::kStarttls;
  config.port = 143;
  config.tls_verify = false;
  ASSERT_TRUE(registry.Add(config, "s3cret pw").ok());
  EXPECT_EQ(registry.Add(config, "again").code(), Status::Code::kInvalidArgument);
  SourceConfig invalid = Sample("b");
  invalid.port = 0;
  EXPECT_EQ(registry.Add(invalid, "pw").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(registry.Add(Sample("c"), "").code(), Status::Code::kInvalidArgument);

  Result<SourceConfig> got = registry.Get("old-server");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->host, "imap.example.org");
  EXPECT_EQ(got->port, 143u);
  EXPECT_EQ(got->tls, SourceTls::kStarttls);
  EXPECT_FALSE(got->tls_verify);
  EXPECT_EQ(got->folders, config.folders);
  EXPECT_EQ(got->exclude, config.exclude);
  EXPECT_EQ(*registry.Password("old-server"), "s3cret pw");

  Result<SourceInfo> info = registry.Describe("old-server");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->status.state(), SourceState::kImporting);
  EXPECT_GT(info->status.created_us, 0u);
  EXPECT_EQ(info->status.next_due_us, 0u);  // due at once

  ASSERT_TRUE(registry.Add(Sample("a-first"), "pw2").ok());
  Result<std::vector<SourceInfo>> list = registry.List();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].config.name, "a-first");
  EXPECT_EQ((*list)[1].config.name, "old-server");

  config.host = "imap2.example.org";
  ASSERT_TRUE(registry.Update(config, std::nullopt).ok());
  EXPECT_EQ(registry.Get("old-server")->host, "imap2.example.org");
  EXPECT_EQ(*registry.Password("old-server"), "s3cret pw");
  ASSERT_TRUE(registry.Update(config, std::string("new pw")).ok());
  EXPECT_EQ(*registry.Password("old-server"), "new pw");
  EXPECT_EQ(registry.Update(Sample("nobody"), std::nullopt).code(), Status::Code::kNotFound);
  config.interval_seconds = 1;
  EXPECT_EQ(registry.Update(config, std::nullopt).code(), Status::Code::kInvalidArgument);
}

TEST_F(SourceRegistryTest, PasswordIsStoredSealedOnly) {
  SourceRegistry registry = Registry();
  const std::string password = "Tr0ub4dor&3-unique-marker";
  ASSERT_TRUE(registry.Add(Sample(), password).ok());
  store_.reset();  // close, then look at the raw file
  std::ifstream in(dir_.Sub("a") + "/data.mdb", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 0u);
  EXPECT_EQ(bytes.find(password), std::string::npos);
  EXPECT_NE(bytes.find("imap.example.org"), std::string::npos);  // the settings are plain

  // Another key cannot open it; the error does not leak the password.
  Result<std::shared_ptr<Store>> reopened = Store::Open({.path = dir_.Sub("a"), .sync = false});
  ASSERT_TRUE(reopened.ok());
  SourceRegistry other(*reopened, dir_.Sub("other.key"));
  Result<std::string> opened = other.Password("old-server");
  EXPECT_EQ(opened.status().code(), Status::Code::kNotFound);  // no key file, not created
  ASSERT_TRUE(SecretBox::Load(dir_.Sub("other.key")).ok());
  opened = other.Password("old-server");
  EXPECT_EQ(opened.status().code(), Status::Code::kPermissionDenied);
  EXPECT_NE(opened.status().message().find("other.key was replaced"), std::string::npos)
      << opened.status().message();
  EXPECT_EQ(opened.status().message().find(password), std::string::npos);
  EXPECT_EQ(*SourceRegistry(*reopened, dir_.Sub("sources.key")).Password("old-server"), password);
}

TEST_F(SourceRegistryTest, StatusLifecycleAndBackoff) {
  SourceRegistry registry = Registry();
  SourceConfig config = Sample();
  config.interval_seconds = 600;
  ASSERT_TRUE(registry.Add(config, "pw").ok());
  const uint64_t t0 = 1'700'000'000 * kSecond;
  EXPECT_EQ(*registry.Due(t0), std::vector<std::string>{"old-server"});

  // A partial import: still importing, due again after the interval.
  SyncReport partial;
  partial.count = 500;
  ASSERT_TRUE(registry.FinishSync("old-server", partial, t0).ok());
  SourceStatus status = registry.Describe("old-server")->status;
  EXPECT_EQ(status.state(), SourceState::kImporting);
  EXPECT_EQ(status.last_sync_us, t0);
  EXPECT_EQ(status.next_due_us, t0 + 600 * kSecond);
  EXPECT_TRUE(registry.Due(t0 + 599 * kSecond)->empty());

  // Failures: error with its reason, retries after 60, 120, 240, 480, then the interval.
  const uint64_t expected_delays[] = {60, 120, 240, 480, 600, 600};
  uint64_t now = t0 + 600 * kSecond;
  for (uint64_t delay : expected_delays) {
    SyncReport failed;
    failed.ok = false;
    failed.error = "authentication failed";
    ASSERT_TRUE(registry.FinishSync("old-server", failed, now).ok());
    status = registry.Describe("old-server")->status;
    EXPECT_EQ(status.state(), SourceState::kError);
    EXPECT_EQ(status.last_error, "authentication failed");
    EXPECT_EQ(status.last_sync_us, t0);
    EXPECT_EQ(status.last_attempt_us, now);
    EXPECT_EQ(status.next_due_us, now + delay * kSecond) << delay;
    now = status.next_due_us;
  }
  EXPECT_EQ(status.consecutive_failures, 6u);

  // An edit makes it due now with the failures forgotten; the error stays until a sync.
  ASSERT_TRUE(registry.Update(config, std::string("right pw")).ok());
  status = registry.Describe("old-server")->status;
  EXPECT_EQ(status.next_due_us, 0u);
  EXPECT_EQ(status.consecutive_failures, 0u);
  EXPECT_EQ(status.state(), SourceState::kError);

  SyncReport done;
  done.caught_up = true;
  ASSERT_TRUE(registry.FinishSync("old-server", done, now).ok());
  status = registry.Describe("old-server")->status;
  EXPECT_EQ(status.state(), SourceState::kActive);
  EXPECT_EQ(status.last_error, "");

  // Pause: never due; resume: due at once. A later failed sync keeps import_done.
  ASSERT_TRUE(registry.Pause("old-server").ok());
  EXPECT_EQ(registry.Describe("old-server")->status.state(), SourceState::kPaused);
  EXPECT_TRUE(registry.Due(UINT64_MAX)->empty());
  ASSERT_TRUE(registry.Resume("old-server").ok());
  EXPECT_EQ(*registry.Due(now), std::vector<std::string>{"old-server"});
  EXPECT_EQ(registry.Describe("old-server")->status.state(), SourceState::kActive);
}

TEST_F(SourceRegistryTest, ActivityLogIsNewestFirstAndBounded) {
  SourceRegistry registry = Registry();
  ASSERT_TRUE(registry.Add(Sample(), "pw").ok());
  ASSERT_TRUE(registry.Add(Sample("old-server2"), "pw").ok());  // a name with the same prefix
  for (uint64_t i = 1; i <= kSourceLogLimit + 20; ++i) {
    SourceLogEntry entry;
    entry.time_us = i;
    entry.what = "sync";
    entry.count = i;
    if (i % 7 == 0) entry.error = "host unreachable";
    ASSERT_TRUE(registry.AppendLog("old-server", entry).ok());
  }
  Result<std::vector<SourceLogEntry>> entries = testing::LogOf(registry, "old-server");
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), kSourceLogLimit);
  EXPECT_EQ(entries->front().count, kSourceLogLimit + 20);
  EXPECT_EQ(entries->back().count, 21u);  // "add" and the first 20 syncs were dropped
  EXPECT_EQ((*entries)[3].error, (kSourceLogLimit + 17) % 7 == 0 ? "host unreachable" : "");

  Result<std::vector<SourceLogEntry>> other = testing::LogOf(registry, "old-server2");
  ASSERT_TRUE(other.ok());
  ASSERT_EQ(other->size(), 1u);
  EXPECT_EQ(other->front().what, "add");
  EXPECT_EQ(registry.ListLog("nobody", [](const SourceLogEntry&) { return true; }).code(),
            Status::Code::kNotFound);
}

TEST_F(SourceRegistryTest, ReadOnlyArchiveRefusesWritesAndReadsOldArchives) {
  {
    SourceRegistry registry = Registry();
    ASSERT_TRUE(registry.Add(Sample(), "pw").ok());
  }
  store_.reset();
  Result<std::shared_ptr<Store>> reader = Store::Open({.path = dir_.Sub("a"), .read_only = true});
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  SourceRegistry registry(*reader, dir_.Sub("sources.key"));
  EXPECT_EQ(registry.List()->size(), 1u);
  EXPECT_EQ(registry.Add(Sample("b"), "pw").code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(registry.Pause("old-server").code(), Status::Code::kInvalidArgument);

  // An archive made before sources existed: read-only listing finds none.
  testing::TempDir other;
  {
    Result<std::shared_ptr<Store>> plain = Store::Open({.path = other.Sub("b"), .sync = false});
    ASSERT_TRUE(plain.ok());
  }
  Result<std::shared_ptr<Store>> old = Store::Open({.path = other.Sub("b"), .read_only = true});
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(SourceRegistry(*old, "").List()->empty());
  ListFilter filter;
  filter.source = "old-server";
  int rows = 0;
  EXPECT_TRUE((*old)->ListDeliveries(filter, [&](const Delivery&) { return ++rows, true; }).ok());
  EXPECT_EQ(rows, 0);
}

}  // namespace
}  // namespace archiver
