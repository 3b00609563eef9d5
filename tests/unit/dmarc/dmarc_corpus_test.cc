// The shared corpus through the whole DMARC pipeline: every aggregate report file (xml,
// gzip, zip, zlib) as the one part of an import, each into a fresh archive, checked
// against counts that Python's standard library computed (bench/dmarc/corpus_oracle.py
// --cxx prints the table below). The .eml files need the Dovecot MIME walk: the
// integration tests cover them.
#include <dirent.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

#include "archiver/dmarc/dmarc_pipeline.h"
#include "test_util.h"

namespace archiver {
namespace {

// The oracle's outcomes (see corpus_oracle.py).
enum Outcome { kOk, kMalformed, kNotDmarc, kEmpty, kNoReport };

struct Expected {
  const char* file;
  Outcome outcome;
  uint64_t records;  // kMalformed: records complete before the first error
  uint64_t messages;
};

// python3 bench/dmarc/corpus_oracle.py --cxx
const Expected kCorpus[] = {
    {"bbustin+dmarc_aggregate_parser/dmarc.xml", kOk, 1, 1},
    {"christianlouis+dmarq/rfc9990-multi-auth-overrides.xml", kOk, 2, 15},
    {"christianlouis+dmarq/rfc9990-namespaced-legacy-fields.xml", kOk, 1, 3},
    {"christianlouis+dmarq/rfc9990-treewalk-extension.xml", kOk, 1, 5},
    {"codemacherUG+dmarc-lighthouse/aggregate-report-v1.xml", kOk, 1, 12},
    {"cry-inc+dmarc-report-viewer/acme.xml", kOk, 1, 2},
    {"cry-inc+dmarc-report-viewer/aol.xml", kOk, 1, 1},
    {"cry-inc+dmarc-report-viewer/gmxnet.xml", kOk, 1, 1},
    {"cry-inc+dmarc-report-viewer/hardfail.xml", kOk, 1, 1},
    {"cry-inc+dmarc-report-viewer/mailru.xml", kOk, 1, 1},
    {"cry-inc+dmarc-report-viewer/outlook.xml", kOk, 2, 3},
    {"cry-inc+dmarc-report-viewer/webde.xml", kOk, 1, 1},
    {"domainaware+parsedmarc/!large-example.com!1711897200!1711983600.xml", kOk, 2286, 2286},
    {"domainaware+parsedmarc/addisonfoods.com!example.com!1536105600!1536191999.xml", kOk, 1, 1},
    {"domainaware+parsedmarc/changed-input.xml", kOk, 20, 3047},
    {"domainaware+parsedmarc/empty.xml", kEmpty, 0, 0},
    {"domainaware+parsedmarc/empty_reason.xml", kOk, 1, 2},
    {"domainaware+parsedmarc/"
     "estadocuenta1.infonacot.gob.mx!example.com!1536853302!1536939702!2940.xml.zip",
     kOk, 1, 1},
    {"domainaware+parsedmarc/example.net!example.com!1529366400!1529452799.xml", kOk, 1, 1},
    {"domainaware+parsedmarc/fastmail.com!example.com!1516060800!1516147199!102675056.xml.gz", kOk,
     1, 1},
    {"domainaware+parsedmarc/invalid_xml.xml", kMalformed, 0, 0},
    {"domainaware+parsedmarc/nice-input.xml", kOk, 20, 3047},
    {"domainaware+parsedmarc/nice-input.xml.gz", kOk, 20, 3047},
    {"domainaware+parsedmarc/old_draft_from_wiki.xml", kOk, 1, 2},
    {"domainaware+parsedmarc/protection.outlook.com!example.com!1711756800!1711843200.xml", kOk, 1,
     1},
    {"domainaware+parsedmarc/rfc9990-example.net!example.com!1700000000!1700086399.xml", kOk, 2, 7},
    {"domainaware+parsedmarc/usssa.com!example.com!1538784000!1538870399.xml", kOk, 2, 2},
    {"georgestarcher+dmarcgo/aol.com!georgestarcher.com!1342497600!1342584000.zlib", kOk, 1, 1},
    {"georgestarcher+dmarcgo/receiver.example!example.test!1782172800!1782259199!synthetic.xml",
     kOk, 2, 7},
    {"georgestarcher+dmarcgo/yahoo.com!georgestarcher.com!1781740800!1781827199.xml", kOk, 1, 1},
    {"keltia+dmarc-cat/bad.zip", kEmpty, 0, 0},
    {"keltia+dmarc-cat/example.com!keltia.net!1538604008!1538690408.xml.gz", kOk, 1, 1},
    {"keltia+dmarc-cat/google.com!keltia.net!1538438400!1538524799.zip", kOk, 2, 2},
    {"keltia+dmarc-cat/notempty.txt.gz", kNoReport, 0, 0},
    {"keltia+dmarc-cat/notempty.zip", kNoReport, 0, 0},
    {"msimerson+mail-dmarc/test_dmarc.xml", kOk, 1, 1},
    {"msimerson+mail-dmarc/test_dmarc.xml.gz", kOk, 1, 1},
    {"stalwartlabs+mail-auth/001.xml", kOk, 1, 123},
    {"stalwartlabs+mail-auth/003.xml", kOk, 4, 9},
    {"stalwartlabs+mail-auth/005.xml", kOk, 1, 1},
    {"tierpod+dmarc-report-converter/test.xml.gz.gz", kOk, 2, 7},
    {"tierpod+dmarc-report-converter/test.xml.zip", kOk, 2, 7},
    {"tierpod+dmarc-report-converter/test_empty.xml", kOk, 1, 0},
    {"trollByte+dmarc/google-report.xml", kOk, 2, 128},
    {"trollByte+dmarc/malformed.xml", kMalformed, 0, 0},
    {"trollByte+dmarc/malformed_report.xml", kNotDmarc, 0, 0},
    {"trollByte+dmarc/multiple_auth_results.xml", kOk, 1, 7},
    {"trollByte+dmarc/multiple_records.xml", kOk, 3, 14},
    {"trollByte+dmarc/yahoo-report.xml", kOk, 3, 104},
};

// What the reason of a stored error must say, per outcome.
const char* ExpectedReason(Outcome outcome) {
  switch (outcome) {
    case kNotDmarc:
      return "root element is <";
    case kEmpty:
      return "empty";
    case kNoReport:
      return "not a known payload";
    default:
      return "";
  }
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool IsReportFile(const std::string& name) {
  for (const char* extension : {".xml", ".gz", ".zip", ".zlib"}) {
    std::string_view e(extension);
    if (name.size() > e.size() && name.compare(name.size() - e.size(), e.size(), e) == 0) {
      return true;
    }
  }
  return false;
}

// The corpus's aggregate report files (not its mails), as "source/name".
std::set<std::string> CorpusFiles(const std::string& dir) {
  std::set<std::string> files;
  DIR* top = opendir(dir.c_str());
  if (top == nullptr) return files;
  while (dirent* source = readdir(top)) {
    if (source->d_name[0] == '.') continue;
    DIR* sub = opendir((dir + "/" + source->d_name).c_str());
    if (sub == nullptr) continue;
    while (dirent* file = readdir(sub)) {
      if (IsReportFile(file->d_name))
        files.insert(std::string(source->d_name) + "/" + file->d_name);
    }
    closedir(sub);
  }
  closedir(top);
  return files;
}

TEST(DmarcCorpusTest, EveryAggregateFileThroughThePipeline) {
  const std::string dir = testing::DmarcCorpusDir("aggregate");
  if (dir.empty()) GTEST_SKIP() << "no DMARC corpus beside the checkout";
  std::set<std::string> listed;
  for (const Expected& e : kCorpus) listed.insert(e.file);
  EXPECT_EQ(CorpusFiles(dir), listed) << "the corpus changed: run corpus_oracle.py --cxx";

  for (const Expected& e : kCorpus) {
    SCOPED_TRACE(e.file);
    std::string bytes = ReadFile(dir + "/" + e.file);
    std::string name = std::string(e.file).substr(std::string(e.file).find('/') + 1);
    testing::TempDir temp;
    StoreOptions options;
    options.path = temp.Sub("archive");
    options.sync = false;
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    DmarcStore dmarc(*store);
    DmarcOrigin origin;
    origin.kind = DmarcOriginKind::kFile;
    origin.detail = dir + "/" + e.file;
    DmarcMailPipeline pipeline(dmarc, {}, origin);
    ASSERT_TRUE(pipeline.AddPart({"application/octet-stream", name, "1", bytes}).ok());
    auto items = pipeline.Finish();
    ASSERT_TRUE(items.ok()) << items.status().ToString();
    ASSERT_EQ(items->size(), 1u);
    const DmarcItem& item = (*items)[0];

    std::vector<DmarcError> errors;
    ASSERT_TRUE(dmarc
                    .ListErrors([&](const DmarcError& error) {
                      errors.push_back(error);
                      return true;
                    })
                    .ok());
    bool stored = item.result == DmarcItemResult::kOk;
    if (e.outcome == kMalformed) {
      // Either a stored error or a recovery that says so, never a silent success.
      if (stored) {
        EXPECT_TRUE(item.recovered);
        EXPECT_GE(item.records, e.records);
        auto report = dmarc.GetReport(item.id);
        ASSERT_TRUE(report.ok()) << report.status().ToString();
        EXPECT_TRUE(report->recovered);
        EXPECT_FALSE(report->parser_messages.empty());
      } else {
        ASSERT_EQ(errors.size(), 1u);
        EXPECT_FALSE(errors[0].reason.empty());
      }
      continue;
    }
    if (e.outcome != kOk) {
      EXPECT_EQ(item.result, DmarcItemResult::kError);
      ASSERT_EQ(errors.size(), 1u);
      EXPECT_EQ(errors[0].reason, item.reason);
      EXPECT_EQ(errors[0].origin.kind, DmarcOriginKind::kFile);
      EXPECT_EQ(errors[0].origin.part.substr(0, 1), "1");
      EXPECT_NE(errors[0].reason.find(ExpectedReason(e.outcome)), std::string::npos)
          << errors[0].reason;
      continue;
    }
    ASSERT_TRUE(stored) << item.reason;
    EXPECT_TRUE(errors.empty());
    EXPECT_FALSE(item.recovered);
    EXPECT_EQ(item.records, e.records);
    EXPECT_EQ(item.messages, e.messages);
    auto report = dmarc.GetReport(item.id);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    EXPECT_EQ(report->records, e.records);
    EXPECT_EQ(report->messages, e.messages);
    uint64_t records = 0, messages = 0;
    ASSERT_TRUE(dmarc
                    .ListRecords(item.id,
                                 [&](const AggregateRecord& record) {
                                   ++records;
                                   messages += record.count;
                                   return true;
                                 })
                    .ok());
    EXPECT_EQ(records, e.records);
    EXPECT_EQ(messages, e.messages);
  }
}

}  // namespace
}  // namespace archiver
