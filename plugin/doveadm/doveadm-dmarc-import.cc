// `doveadm dmarc import FILE…`: report files from disk. What a file is, is told by its
// content: a raw XML report is parsed streaming from the file (a 420 MB report never
// sits in memory); gzip, ZIP and zlib payloads go to the pipeline as one part; anything
// else that looks like a mail (.eml, a saved report mail) is walked as one. Small
// reports of many files share durable commits (DmarcStore::Bulk); a file's row is
// printed once the commit that covers it is done.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/archiver-dmarc-mime.h"
#include "common/archiver-units.h"
#include "archiver/input_source.h"
#include "archiver/dmarc/payload.h"
#include "doveadm/doveadm-dmarc-commands.h"
#include "doveadm/doveadm-dmarc-context.h"

namespace archiver::doveadm {
namespace {

// Enough of a file to tell a payload (or a mail's header) by its first bytes.
constexpr size_t kSniffBytes = 64 * 1024;
// Raw XML files have no cap below this unless --max-size sets one.
constexpr uint64_t kDefaultXmlFileCap = 4ULL << 30;
// A file larger than this is not read with the bulk's write lock held (deliveries wait
// for it): what is pending is committed first.
constexpr uint64_t kBulkFileBytes = 1ULL << 20;

struct FileRow {
  DmarcItemResult result = DmarcItemResult::kError;
  uint64_t reports = 0;
  uint64_t records = 0;
  std::string reason;
};

// A header field ("Name: value", RFC 5322 field-name characters) on the first line,
// after an optional mbox "From " line.
bool LooksLikeMail(std::string_view head) {
  if (head.rfind("From ", 0) == 0) {
    size_t end = head.find('\n');
    if (end == std::string_view::npos) return false;
    head.remove_prefix(end + 1);
  }
  size_t colon = head.find(':');
  if (colon == 0 || colon == std::string_view::npos || colon > 76) return false;
  for (char c : head.substr(0, colon))
    if (c <= ' ' || c > '~') return false;
  return true;
}

// Reads `source` to its end into `bytes`.
Status ReadAll(InputSource& source, std::string* bytes) {
  char buffer[64 * 1024];
  for (;;) {
    Result<size_t> got = source.Read(buffer, sizeof(buffer));
    if (!got.ok()) return got.status();
    if (*got == 0) return Status::Ok();
    bytes->append(buffer, *got);
  }
}

bool IsStoreFailure(const Status& status) {
  return status.code() == Status::Code::kIOError || status.code() == Status::Code::kMapFull ||
         status.code() == Status::Code::kInternal;
}

class FileImporter {
 public:
  FileImporter(DmarcStore& dmarc, const plugin::ArchiverSettings& settings, uint64_t max_size)
      : dmarc_(dmarc),
        options_(settings.DmarcOptions(max_size)),
        xml_cap_(max_size != 0 ? max_size : kDefaultXmlFileCap) {
    // Files an administrator chose, not mail anyone may send: only their size is capped
    // (--max-size), not the records or time a report mail may cost.
    options_.budget.max_records = UINT64_MAX;
    options_.budget.max_time = std::chrono::hours(24 * 365);
  }

  // Imports one file into `row`. Bad content is a row error (recorded in the ledger);
  // a non-OK return means the archive could not be written (or the file not read).
  // `source` is the file, opened already (OpenFiles), or why it could not be.
  Status Import(const std::string& path, Result<std::unique_ptr<FileSource>>& source,
                FileRow* row) {
    std::error_code error;
    std::filesystem::path absolute = std::filesystem::absolute(path, error);
    path_ = path;
    origin_ = DmarcOrigin{};
    origin_.kind = DmarcOriginKind::kFile;
    origin_.detail = error ? path : absolute.lexically_normal().string();
    if (!source.ok()) return Fail(row, source.status().message(), std::nullopt);
    std::string head;
    head.resize(kSniffBytes);
    Result<size_t> got = (*source)->Read(head.data(), head.size());
    if (!got.ok()) return Fail(row, got.status().message(), std::nullopt);
    head.resize(*got);
    if (head.empty()) return Fail(row, "empty file", DmarcItemKind::kPayload);
    Status rewound = (*source)->Rewind();
    if (!rewound.ok()) return Fail(row, rewound.message(), std::nullopt);
    switch (DetectPayload(head)) {
      case PayloadKind::kXml:
        return ImportXml(**source, row);
      case PayloadKind::kGzip:
      case PayloadKind::kZip:
      case PayloadKind::kZlib:
        return ImportPayload(**source, path, row);
      case PayloadKind::kUnknown:
        break;
    }
    if (LooksLikeMail(head)) return ImportMail(**source, row);
    return Fail(row, "not a DMARC report: neither XML, gzip, ZIP, zlib nor a mail",
                DmarcItemKind::kPayload);
  }

 private:
  // A row error; recorded in the ledger under `kind` unless there is none (the file
  // could not be read at all: nothing to reprocess). The row names the file already.
  Status Fail(FileRow* row, const std::string& reason, std::optional<DmarcItemKind> kind) {
    row->result = DmarcItemResult::kError;
    row->reason = reason.rfind(path_ + ": ", 0) == 0 ? reason.substr(path_.size() + 2) : reason;
    if (!kind) return Status::Ok();
    return dmarc_.RecordError(*kind, reason, origin_);
  }

  Status ImportXml(FileSource& source, FileRow* row) {
    DmarcImportOptions options = options_.import;
    options.limits.max_input_bytes = static_cast<size_t>(xml_cap_);
    Result<DmarcImportResult> imported = dmarc_.ImportAggregate(source, options, origin_);
    if (!imported.ok()) {
      if (IsStoreFailure(imported.status())) return imported.status();
      return Fail(row, imported.status().message(), DmarcItemKind::kAggregate);
    }
    row->result = imported->outcome == DmarcImportOutcome::kStored ? DmarcItemResult::kOk
                                                                   : DmarcItemResult::kDuplicate;
    row->reports = 1;
    row->records = imported->records;
    return Status::Ok();
  }

  Status ImportPayload(FileSource& source, const std::string& path, FileRow* row) {
    uint64_t cap = options_.unpack.max_output_bytes;
    if (source.size() > cap)
      return Fail(row,
                  "file of " + std::to_string(source.size()) + " bytes exceeds the cap of " +
                      std::to_string(cap) + " bytes (raise it with --max-size)",
                  DmarcItemKind::kPayload);
    std::string bytes;
    Status read = ReadAll(source, &bytes);
    if (!read.ok()) return Fail(row, read.message(), std::nullopt);
    DmarcMailPipeline pipeline(dmarc_, options_, origin_);
    DmarcPart part;
    part.content_type = "application/octet-stream";  // meant as a report: failures are errors
    part.filename = std::filesystem::path(path).filename().string();
    part.body = bytes;
    Status added = pipeline.AddPart(part);
    if (!added.ok()) return added;
    return Finish(pipeline, row);
  }

  Status ImportMail(FileSource& source, FileRow* row) {
    struct istream* input = i_stream_create_fd(source.fd(), IO_BLOCK_SIZE);
    Result<std::vector<DmarcItem>> items = plugin::ReadDmarcMail(input, dmarc_, options_, origin_);
    i_stream_unref(&input);
    if (!items.ok()) return items.status();
    Tally(*items, row);
    return Status::Ok();
  }

  Status Finish(DmarcMailPipeline& pipeline, FileRow* row) {
    Result<std::vector<DmarcItem>> items = pipeline.Finish();
    if (!items.ok()) return items.status();
    Tally(*items, row);
    return Status::Ok();
  }

  static void Tally(const std::vector<DmarcItem>& items, FileRow* row) {
    DmarcItemTally tally = TallyDmarcItems(items);
    row->result = tally.Result();
    row->reports = tally.reports + tally.failures;
    row->records = tally.records;
    row->reason = tally.reasons;
  }

  DmarcStore& dmarc_;
  DmarcPipelineOptions options_;
  uint64_t xml_cap_;
  std::string path_;  // the file being imported, as given
  DmarcOrigin origin_;
};

// Rows of files imported but not committed yet, printed once a commit covers them.
class RowPrinter {
 public:
  void Add(std::string file, FileRow row) { waiting_.push_back({std::move(file), std::move(row)}); }
  // Prints the waiting rows; with a non-OK `lost`, as errors: their commit failed.
  void Print(const Status& lost) {
    for (auto& [file, row] : waiting_) {
      if (!lost.ok()) {
        row.result = DmarcItemResult::kError;
        row.reason = "not committed: " + lost.ToString();
      }
      if (row.result == DmarcItemResult::kError) {
        ++failed_;
        i_error("%s: %s", file.c_str(), row.reason.c_str());
      }
      PrintValue(file.c_str());
      PrintValue(DmarcItemResultName(row.result));
      doveadm_print_num(row.reports);
      doveadm_print_num(row.records);
      PrintValue(row.reason.c_str());
    }
    waiting_.clear();
  }
  uint64_t failed() const { return failed_; }

 private:
  std::vector<std::pair<std::string, FileRow>> waiting_;
  uint64_t failed_ = 0;
};

// The files of the command line, opened (or why not) in their order.
using OpenedFiles = std::vector<Result<std::unique_ptr<FileSource>>>;

bool LargeFile(const Result<std::unique_ptr<FileSource>>& source) {
  return source.ok() && (*source)->size() > kBulkFileBytes;
}

// Every file, opened while the command may still read what only root can: the reports are
// then parsed after DropRootForGood. EX_USAGE when there are more files than the process
// may hold open at once (a file that cannot be opened is that file's row, not a failure).
CommandStatus OpenFiles(const char* const* files, OpenedFiles* out) {
  size_t count = 0;
  while (files[count] != nullptr) ++count;
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < count + 64) {
    limit.rlim_cur = std::min<rlim_t>(limit.rlim_max, count + 64);
    (void)setrlimit(RLIMIT_NOFILE, &limit);
  }
  for (size_t i = 0; i < count; ++i) {
    out->push_back(FileSource::Open(files[i]));
    if (!out->back().ok() && out->back().status().message().find("Too many open files") !=
                                 std::string::npos) {
      return CommandStatus::Failed(EX_USAGE, "dmarc import: " + std::to_string(count) +
                                                 " files are more than can be open at once "
                                                 "here: import them in smaller groups");
    }
  }
  return CommandStatus::Ok();
}

// --max-size into `*max_size`: the cap of one file's size once decompressed, 0 when not
// given. EX_USAGE on a bad value.
CommandStatus MaxSizeOption(struct doveadm_cmd_context* cctx, uint64_t* max_size) {
  const char* text = ParamString(cctx, "max-size");
  *max_size = 0;
  if (text == nullptr) return CommandStatus::Ok();
  Result<uint64_t> size = plugin::ParseSize(text);
  if (size.ok() && *size != 0) {
    *max_size = *size;
    return CommandStatus::Ok();
  }
  return CommandStatus::Failed(
      EX_USAGE, std::string("Invalid --max-size ") + text + ": expected a size such as 500M or 2G");
}

// Imports the files (opened as `sources`) in bulk commits and prints a row for each once
// a commit covers it. Stops at the first file the archive cannot take (ExitCodeFor its
// Status); files that could not be imported make it EX_DATAERR once all are done.
CommandStatus ImportFiles(const char* const* files, OpenedFiles& sources, FileImporter& importer,
                          DmarcStore& dmarc) {
  DmarcStore::Bulk bulk(dmarc);
  doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
  doveadm_print_header_simple("file");
  doveadm_print_header_simple("result");
  doveadm_print_header("reports", "reports", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
  doveadm_print_header("records", "records", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
  doveadm_print_header_simple("reason");
  RowPrinter rows;
  for (size_t index = 0; index < sources.size(); ++index) {
    const uint64_t commits = bulk.commits();
    FileRow row;
    Status status = LargeFile(sources[index]) ? bulk.Commit() : Status::Ok();
    if (status.ok()) status = importer.Import(files[index], sources[index], &row);
    if (sources[index].ok()) sources[index]->reset();  // closes the file
    if (status.ok()) status = bulk.CommitIfDue();
    // A commit made while this file was imported covers every file before it.
    if (bulk.commits() != commits) rows.Print(Status::Ok());
    if (!status.ok()) {
      // The earlier files' writes are committed unless the failure aborted them.
      rows.Print(bulk.Commit());
      row.result = DmarcItemResult::kError;
      row.reason = status.ToString();
      rows.Add(files[index], std::move(row));
      rows.Print(Status::Ok());
      return CommandStatus::Of(status,
                               "Stopped: the archive cannot be written: " + status.ToString());
    }
    rows.Add(files[index], std::move(row));
    if (!bulk.pending()) rows.Print(Status::Ok());
  }
  Status committed = bulk.Commit();
  rows.Print(committed);
  if (!committed.ok())
    return CommandStatus::Of(committed,
                             "Stopped: the archive cannot be written: " + committed.ToString());
  if (rows.failed() > 0)
    return CommandStatus::Failed(EX_DATAERR, std::to_string(rows.failed()) + " of " +
                                                 std::to_string(sources.size()) +
                                                 " files could not be imported");
  return CommandStatus::Ok();
}

}  // namespace

void CmdDmarcImport(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    const char* const* files = nullptr;
    if (!doveadm_cmd_param_array(cctx, "file", &files) || files == nullptr || files[0] == nullptr)
      return CommandStatus::Failed(EX_USAGE, "dmarc import needs at least one file");
    uint64_t max_size = 0;
    if (CommandStatus parsed = MaxSizeOption(cctx, &max_size); !parsed.ok()) return parsed;
    DmarcArchive archive;
    if (CommandStatus opened = OpenDmarcArchive(cctx, true, &archive); !opened.ok()) return opened;
    OpenedFiles sources;
    if (CommandStatus all_open = OpenFiles(files, &sources); !all_open.ok()) return all_open;
    if (CommandStatus dropped = DropRootBeforeParsing(archive); !dropped.ok()) return dropped;
    FileImporter importer(*archive.dmarc, archive.settings, max_size);
    return ImportFiles(files, sources, importer, *archive.dmarc);
  });
}

}  // namespace archiver::doveadm
