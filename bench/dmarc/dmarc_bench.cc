// archiver-dmarc-bench: the core-level measurements behind bench/dmarc/run. Each
// subcommand does one thing in a fresh process and prints one JSON line, so that the
// peak resident size (getrusage ru_maxrss) is that of the work measured alone.
//
//   generate FILE RECORDS            a realistic aggregate report of RECORDS records
//   import-files ARCHIVE [--no-sync | --commit-each] FILE...
//                                    each file through DmarcMailPipeline (one part),
//                                    as doveadm dmarc import does: durable commits
//                                    shared by many files (DmarcStore::Bulk); or with
//                                    the archive's flushes off; or one durable commit
//                                    per report
//   import-large ARCHIVE FILE        DmarcStore::ImportAggregate over a FileSource
//   sax FILE                         a bare libxml2 SAX2 parse: the practical limit
//   summary ARCHIVE DOMAIN TOP       DmarcStore::Summarize of DOMAIN (TOP rows, 0 all),
//                                    without doveadm's start: the store's own time
#include <fcntl.h>
#include <libxml/parser.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "../bench_clock.h"
#include "archiver/dmarc/dmarc_pipeline.h"
#include "archiver/dmarc/dmarc_store.h"
#include "archiver/input_source.h"

namespace {

using archiver::Result;
using archiver::Status;
using archiver::bench::Clock;
using archiver::bench::CpuSeconds;
using archiver::bench::SecondsSince;

long PeakResidentKiB() {
  struct rusage usage = {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "archiver-dmarc-bench: %s\n", what.c_str());
  return 1;
}

// A report that looks like a large receiver's daily report: many sources, most
// passing, some forwarded or spoofed, each with DKIM and SPF auth_results.
int Generate(const std::string& path, uint64_t records) {
  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) return Fail(path + ": " + std::strerror(errno));
  std::fputs(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>\n  <version>1.0</version>\n"
      "  <report_metadata>\n    <org_name>bench.receiver.example</org_name>\n"
      "    <email>dmarc-reports@bench.receiver.example</email>\n"
      "    <report_id>bench-1000000-records</report_id>\n"
      "    <date_range><begin>1714521600</begin><end>1714607999</end></date_range>\n"
      "  </report_metadata>\n  <policy_published>\n    <domain>example.com</domain>\n"
      "    <adkim>r</adkim><aspf>r</aspf><p>quarantine</p><sp>none</sp><pct>100</pct>\n"
      "  </policy_published>\n",
      out);
  std::mt19937_64 random(20240501);
  const char* selectors[] = {"s2024", "google", "selector1", "mail"};
  for (uint64_t i = 0; i < records; ++i) {
    uint64_t r = random();
    bool spoofed = r % 10 == 0, forwarded = r % 10 == 1;
    const char* dkim = spoofed ? "fail" : "pass";
    const char* spf = spoofed || forwarded ? "fail" : "pass";
    const char* disposition = spoofed ? "quarantine" : "none";
    std::fprintf(
        out,
        "<record>\n<row>\n<source_ip>%u.%u.%u.%u</source_ip>\n<count>%u</count>\n"
        "<policy_evaluated>\n<disposition>%s</disposition>\n<dkim>%s</dkim>\n<spf>%s</spf>\n"
        "%s</policy_evaluated>\n</row>\n<identifiers>\n<header_from>example.com</header_from>\n"
        "</identifiers>\n<auth_results>\n<dkim>\n<domain>%s</domain>\n<selector>%s</selector>\n"
        "<result>%s</result>\n</dkim>\n<spf>\n<domain>%s</domain>\n<result>%s</result>\n"
        "</spf>\n</auth_results>\n</record>\n",
        static_cast<unsigned>(10 + (r >> 8) % 200), static_cast<unsigned>((r >> 16) & 255),
        static_cast<unsigned>((r >> 24) & 255), static_cast<unsigned>((r >> 32) & 255),
        static_cast<unsigned>(1 + (r >> 40) % 50), disposition, dkim, spf,
        forwarded ? "<reason><type>forwarded</type></reason>\n" : "",
        spoofed ? "spoofer.example" : "example.com", selectors[(r >> 48) % 4], dkim,
        forwarded ? "lists.example.org" : "example.com", spf);
  }
  std::fputs("</feedback>\n", out);
  if (std::fclose(out) != 0) return Fail(path + ": write failed");
  return 0;
}

Result<std::unique_ptr<archiver::DmarcStore>> OpenArchive(const std::string& path, bool sync) {
  archiver::StoreOptions options;
  options.path = path;
  options.sync = sync;
  auto store = archiver::Store::Open(options);
  if (!store.ok()) return store.status();
  return std::make_unique<archiver::DmarcStore>(*store);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

enum class Commits { kBulk, kNoSync, kEach };

int ImportFiles(const std::string& archive, Commits commits,
                const std::vector<std::string>& files) {
  auto started = Clock::now();
  auto dmarc = OpenArchive(archive, commits != Commits::kNoSync);
  if (!dmarc.ok()) return Fail(dmarc.status().ToString());
  std::optional<archiver::DmarcStore::Bulk> bulk;
  if (commits == Commits::kBulk) bulk.emplace(**dmarc);
  uint64_t stored = 0, duplicates = 0, errors = 0, records = 0, messages = 0;
  for (const std::string& file : files) {
    std::string bytes = ReadFile(file);
    archiver::DmarcOrigin origin;
    origin.kind = archiver::DmarcOriginKind::kFile;
    origin.detail = file;
    archiver::DmarcMailPipeline pipeline(**dmarc, {}, origin);
    std::string name = file.substr(file.rfind('/') + 1);
    Status status = pipeline.AddPart({"application/octet-stream", name, "1", bytes});
    if (!status.ok()) return Fail(file + ": " + status.ToString());
    auto items = pipeline.Finish();
    if (!items.ok()) return Fail(file + ": " + items.status().ToString());
    if (bulk) status = bulk->CommitIfDue();
    if (!status.ok()) return Fail(file + ": " + status.ToString());
    for (const archiver::DmarcItem& item : *items) {
      stored += item.result == archiver::DmarcItemResult::kOk;
      duplicates += item.result == archiver::DmarcItemResult::kDuplicate;
      errors += item.result == archiver::DmarcItemResult::kError;
      records += item.records;
      messages += item.messages;
    }
  }
  if (bulk) {
    Status committed = bulk->Commit();
    if (!committed.ok()) return Fail(committed.ToString());
  }
  std::printf("{\"seconds\": %.6f, \"files\": %zu, \"stored\": %" PRIu64
              ", \"duplicates\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"records\": %" PRIu64
              ", \"messages\": %" PRIu64 ", \"maxrss_kib\": %ld}\n",
              SecondsSince(started), files.size(), stored, duplicates, errors, records, messages,
              PeakResidentKiB());
  return errors == 0 ? 0 : 2;
}

int ImportLarge(const std::string& archive, const std::string& file) {
  auto dmarc = OpenArchive(archive, true);
  if (!dmarc.ok()) return Fail(dmarc.status().ToString());
  auto source = archiver::FileSource::Open(file);
  if (!source.ok()) return Fail(source.status().ToString());
  archiver::DmarcOrigin origin;
  origin.kind = archiver::DmarcOriginKind::kFile;
  origin.detail = file;
  archiver::DmarcImportOptions options;
  // The default 256 MiB input cap is lifted: this report is larger on purpose.
  options.limits.max_input_bytes = std::numeric_limits<size_t>::max();
  auto started = Clock::now();
  double cpu_started = CpuSeconds();
  auto imported = (*dmarc)->ImportAggregate(**source, options, origin);
  double seconds = SecondsSince(started);
  double cpu_seconds = CpuSeconds() - cpu_started;
  if (!imported.ok()) return Fail(imported.status().ToString());
  std::printf("{\"seconds\": %.6f, \"cpu_seconds\": %.6f, \"records\": %" PRIu64
              ", \"messages\": %" PRIu64 ", \"maxrss_kib\": %ld}\n",
              seconds, cpu_seconds, imported->records, imported->messages, PeakResidentKiB());
  return 0;
}

int Summary(const std::string& archive, const std::string& domain, uint64_t top) {
  archiver::StoreOptions options;
  options.path = archive;
  options.read_only = true;
  auto store = archiver::Store::Open(options);
  if (!store.ok()) return Fail(store.status().ToString());
  auto dmarc = std::make_unique<archiver::DmarcStore>(*store);
  archiver::DmarcFilter filter;
  filter.domain = domain;
  auto started = Clock::now();
  auto summary = dmarc->Summarize(filter, top);
  double seconds = SecondsSince(started);
  if (!summary.ok()) return Fail(summary.status().ToString());
  std::printf("{\"seconds\": %.6f, \"messages\": %" PRIu64 ", \"source_ips\": %" PRIu64
              ", \"ip_rows\": %zu, \"org_rows\": %zu, \"reports_from_records\": %" PRIu64
              ", \"maxrss_kib\": %ld}\n",
              seconds, summary->total.messages, summary->source_ips, summary->by_source_ip.size(),
              summary->by_org.size(), summary->reports_from_records, PeakResidentKiB());
  return 0;
}

struct SaxCounts {
  uint64_t elements = 0;
  uint64_t text_bytes = 0;
};

int Sax(const std::string& file) {
  int fd = open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Fail(file + ": " + std::strerror(errno));
  xmlSAXHandler sax;
  std::memset(&sax, 0, sizeof sax);
  sax.initialized = XML_SAX2_MAGIC;
  sax.startElementNs = [](void* context, const xmlChar*, const xmlChar*, const xmlChar*, int,
                          const xmlChar**, int, int,
                          const xmlChar**) { ++static_cast<SaxCounts*>(context)->elements; };
  sax.characters = [](void* context, const xmlChar*, int length) {
    static_cast<SaxCounts*>(context)->text_bytes += static_cast<uint64_t>(length);
  };
  SaxCounts counts;
  auto started = Clock::now();
  double cpu_started = CpuSeconds();
  xmlParserCtxtPtr ctxt = xmlCreatePushParserCtxt(&sax, &counts, nullptr, 0, file.c_str());
  xmlCtxtUseOptions(ctxt, XML_PARSE_NONET);
  std::vector<char> buffer(128u << 10);
  ssize_t got;
  int rc = 0;
  while ((got = read(fd, buffer.data(), buffer.size())) > 0 && rc == 0) {
    rc = xmlParseChunk(ctxt, buffer.data(), static_cast<int>(got), 0);
  }
  if (rc == 0) rc = xmlParseChunk(ctxt, nullptr, 0, 1);
  bool well_formed = ctxt->wellFormed != 0;
  xmlFreeParserCtxt(ctxt);
  close(fd);
  double seconds = SecondsSince(started);
  double cpu_seconds = CpuSeconds() - cpu_started;
  if (rc != 0 || !well_formed) return Fail(file + ": not well-formed");
  std::printf("{\"seconds\": %.6f, \"cpu_seconds\": %.6f, \"elements\": %" PRIu64
              ", \"text_bytes\": %" PRIu64 ", \"maxrss_kib\": %ld}\n",
              seconds, cpu_seconds, counts.elements, counts.text_bytes, PeakResidentKiB());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() == 3 && args[0] == "generate") return Generate(args[1], std::stoull(args[2]));
  if (args.size() == 3 && args[0] == "import-large") return ImportLarge(args[1], args[2]);
  if (args.size() == 2 && args[0] == "sax") return Sax(args[1]);
  if (args.size() == 4 && args[0] == "summary") {
    return Summary(args[1], args[2], std::stoull(args[3]));
  }
  if (args.size() >= 2 && args[0] == "import-files") {
    const std::string option = args.size() > 2 ? args[2] : "";
    Commits commits = option == "--no-sync"       ? Commits::kNoSync
                      : option == "--commit-each" ? Commits::kEach
                                                  : Commits::kBulk;
    return ImportFiles(args[1], commits,
                       {args.begin() + (commits == Commits::kBulk ? 2 : 3), args.end()});
  }
  std::fprintf(
      stderr,
      "usage: archiver-dmarc-bench generate FILE RECORDS\n"
      "       archiver-dmarc-bench import-files ARCHIVE [--no-sync | --commit-each] FILE...\n"
      "       archiver-dmarc-bench import-large ARCHIVE FILE\n"
      "       archiver-dmarc-bench sax FILE\n"
      "       archiver-dmarc-bench summary ARCHIVE DOMAIN TOP\n");
  return 64;
}
