// Helpers of the DmarcMailPipeline tests: fixtures, containers built in memory (zlib,
// libzip), a fresh archive per case, and feeding a mail's parts.
#pragma once

#include <gtest/gtest.h>
#include <zip.h>
#include <zlib.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "archiver/dmarc/dmarc_pipeline.h"
#include "test_util.h"

namespace archiver {

// GoogleTest prints the items' kinds and results by name.
inline void PrintTo(DmarcItemKind kind, std::ostream* out) { *out << DmarcItemKindName(kind); }
inline void PrintTo(DmarcItemResult result, std::ostream* out) {
  *out << DmarcItemResultName(result);
}

}  // namespace archiver

namespace archiver::pipeline_testing {

inline std::string Fixture(const std::string& name) {
  std::ifstream in(std::string(ARCHIVER_DMARC_FIXTURES) + "/pipeline/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// One gzip member (window_bits 31) or zlib stream (15) of `data`, compressed in one call.
inline std::string Deflate(std::string_view data, int window_bits) {
  z_stream stream = {};
  EXPECT_EQ(deflateInit2(&stream, 6, Z_DEFLATED, window_bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&stream, data.size()), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  stream.avail_in = static_cast<uInt>(data.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}
inline std::string GzipOf(std::string_view data) { return Deflate(data, 31); }
inline std::string ZlibOf(std::string_view data) { return Deflate(data, 15); }

// A ZIP archive written by libzip in memory, entries deflated, names as given ("" too).
inline std::string ZipOf(const std::vector<std::pair<std::string, std::string>>& entries) {
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  zip_source_keep(buffer);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  EXPECT_NE(archive, nullptr);
  for (const auto& [name, content] : entries) {
    zip_source_t* source = zip_source_buffer(archive, content.data(), content.size(), 0);
    EXPECT_GE(zip_file_add(archive, name.c_str(), source, 0), 0) << zip_strerror(archive);
  }
  EXPECT_EQ(zip_close(archive), 0);
  std::string out;
  EXPECT_EQ(zip_source_open(buffer), 0);
  char chunk[4096];
  zip_int64_t got;
  while ((got = zip_source_read(buffer, chunk, sizeof chunk)) > 0) out.append(chunk, got);
  zip_source_close(buffer);
  zip_source_free(buffer);
  zip_error_fini(&error);
  return out;
}

inline DmarcPart Part(std::string type, std::string filename, std::string path,
                      std::string_view body) {
  return DmarcPart{std::move(type), std::move(filename), std::move(path), body};
}

// A fresh archive with its DMARC side.
struct Archive {
  explicit Archive(bool read_only = false) { Reopen(read_only); }
  void Reopen(bool read_only) {
    dmarc.reset();
    store.reset();
    StoreOptions options;
    options.path = dir.Sub("archive");
    options.read_only = read_only;
    options.sync = false;
    auto opened = Store::Open(options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store = *opened;
    dmarc = std::make_unique<DmarcStore>(store);
  }
  std::vector<DmarcError> Errors() const {
    std::vector<DmarcError> errors;
    EXPECT_TRUE(dmarc
                    ->ListErrors([&](const DmarcError& e) {
                      errors.push_back(e);
                      return true;
                    })
                    .ok());
    return errors;
  }
  testing::TempDir dir;
  std::shared_ptr<Store> store;
  std::unique_ptr<DmarcStore> dmarc;
};

inline DmarcOrigin MailOrigin() {
  DmarcOrigin origin;
  origin.kind = DmarcOriginKind::kMail;
  origin.detail = "dmarc@receiver.example INBOX";
  return origin;
}

// Feeds `parts` as one mail; every call must succeed.
inline std::vector<DmarcItem> Feed(Archive& archive, const std::vector<DmarcPart>& parts,
                                   bool quiet = false, DmarcPipelineOptions options = {}) {
  DmarcMailPipeline pipeline(*archive.dmarc, options, MailOrigin());
  for (const DmarcPart& part : parts) {
    Status status = pipeline.AddPart(part);
    EXPECT_TRUE(status.ok()) << part.path << ": " << status.ToString();
  }
  auto items = pipeline.Finish(quiet);
  EXPECT_TRUE(items.ok()) << items.status().ToString();
  return items.ok() ? *items : std::vector<DmarcItem>();
}

// Feeds `parts` as one mail that must yield exactly one error, of `kind`, stored in the
// ledger as reported; returns it as stored.
inline DmarcError OneError(Archive& archive, const std::vector<DmarcPart>& parts,
                           const std::string& kind) {
  std::vector<DmarcItem> items = Feed(archive, parts);
  EXPECT_EQ(items.size(), 1u);
  std::vector<DmarcError> errors = archive.Errors();
  EXPECT_EQ(errors.size(), 1u);
  if (items.size() != 1 || errors.size() != 1) return {};
  EXPECT_EQ(items[0].result, DmarcItemResult::kError);
  EXPECT_EQ(DmarcItemKindName(items[0].kind), kind);
  EXPECT_EQ(DmarcItemKindName(errors[0].kind), kind);
  EXPECT_EQ(errors[0].reason, items[0].reason);
  EXPECT_EQ(errors[0].origin.part, items[0].part);
  return errors[0];
}

}  // namespace archiver::pipeline_testing
