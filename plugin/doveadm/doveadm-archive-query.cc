// `doveadm archive list|show|fetch|export`: reading the archive.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <initializer_list>
#include <string>
#include <vector>

#include "archiver/time_format.h"
#include "doveadm/doveadm-archive-commands.h"
#include "doveadm/doveadm-archive-context.h"
#include "doveadm/doveadm-termination.h"

namespace archiver::doveadm {
namespace {

std::string Decimal(uint64_t value) { return std::to_string(value); }

// The archive and the message that a show or fetch command names (the positional id: 64
// hex digits or a unique prefix), in `*store` and `*id`. EX_USAGE when the id is missing
// (checked before the archive is opened), else OpenCommandArchive's or the lookup's failure.
CommandStatus OpenNamedMessage(struct doveadm_cmd_context* cctx, std::shared_ptr<Store>* store,
                               MessageId* id) {
  const char* text = ParamString(cctx, "id");
  if (text == nullptr || *text == '\0')
    return CommandStatus::Failed(EX_USAGE,
                                 "Missing message id: the 64 hex digits (or a unique prefix) "
                                 "that doveadm archive list shows");
  if (CommandStatus opened = OpenCommandArchive(cctx, store); !opened.ok()) return opened;
  Result<MessageId> resolved = (*store)->ResolvePrefix(text);
  if (!resolved.ok())
    return CommandStatus::Of(resolved.status(),
                             std::string("Message ") + text + ": " + resolved.status().message());
  *id = *resolved;
  return CommandStatus::Ok();
}

// The fields every delivery row has, in this order, after the command's own first ones.
constexpr const char* kDeliveryFields[] = {"received", "origin", "user", "mailbox", "from", "rcpt"};

void PrintDeliveryFields(const DeliveryRecord& record) {
  PrintValue(FormatTimeUtc(record.received_us).c_str());
  PrintValue(record.origin.c_str());
  PrintValue(record.user.c_str());
  PrintValue(record.mailbox.c_str());
  PrintValue(record.envelope_from.c_str());
  PrintValue(record.envelope_to.c_str());
}

void PrintHeaders(std::initializer_list<const char*> before,
                  std::initializer_list<const char*> after) {
  for (const char* field : before) doveadm_print_header_simple(field);
  for (const char* field : kDeliveryFields) doveadm_print_header_simple(field);
  for (const char* field : after) doveadm_print_header_simple(field);
}

// The --output directory of an eml export, made (0700) when missing, opened without
// following a link; else EX_CANTCREAT saying why not. An existing directory must be ours:
// whoever else owns it could plant links or read what lands there (export runs as root).
CommandStatus OpenExportDirectory(const char* output, int* dir_fd) {
  const std::string path = output;
  if (mkdir(output, 0700) < 0 && errno != EEXIST)
    return CommandStatus::Failed(EX_CANTCREAT,
                                 "mkdir(" + path + ") failed: " + std::strerror(errno));
  *dir_fd = open(output, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (*dir_fd < 0) {
    return CommandStatus::Failed(
        EX_CANTCREAT,
        "open(" + path + ") failed: " + std::strerror(errno) +
            (errno == ELOOP || errno == ENOTDIR ? " (not a directory, or a symbolic link)" : ""));
  }
  struct stat st;
  if (fstat(*dir_fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 022) != 0) {
    close(*dir_fd);
    *dir_fd = -1;
    return CommandStatus::Failed(EX_CANTCREAT,
                                 path +
                                     " belongs to another user or others may write it: "
                                     "export into a directory of your own");
  }
  return CommandStatus::Ok();
}

// Writes all of `data` to `fd`; false with errno set on failure.
bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t written = write(fd, data.data(), data.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(written));
  }
  return true;
}

// Writes an mboxrd entry to `fd`: a From_ line, LF line ends, ">From " quoting of every
// (>*)From line; in pieces of about 64 KiB, so that a large message is not copied whole.
// False with errno set on a failed write.
bool WriteMboxEntry(int fd, const DeliveryRecord& record, std::string_view message) {
  constexpr size_t kPiece = 64 << 10;
  std::time_t seconds = static_cast<std::time_t>(record.received_us / 1000000);
  struct tm tm_utc;
  gmtime_r(&seconds, &tm_utc);
  char date[64];
  strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm_utc);
  std::string entry = "From ";
  entry += record.envelope_from.empty() ? "MAILER-DAEMON" : record.envelope_from;
  entry += " ";
  entry += date;
  entry += "\n";
  size_t start = 0;
  while (start < message.size()) {
    size_t end = message.find('\n', start);
    std::string_view line =
        message.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t quotes = line.find_first_not_of('>');
    if (quotes != std::string_view::npos && line.substr(quotes).rfind("From ", 0) == 0)
      entry += '>';
    entry.append(line);
    entry += '\n';
    if (entry.size() >= kPiece) {
      if (!WriteAll(fd, entry)) return false;
      entry.clear();
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  entry += '\n';
  return WriteAll(fd, entry);
}

// What `archive export` was asked for.
struct ExportRequest {
  ListFilter filter;
  const char* format = nullptr;  // "mbox" or "eml"
  const char* output = nullptr;  // the mbox file, or the directory of .eml files
  bool mbox = false;
};

// The filter options, --format and --output into `*request`; EX_USAGE on a bad value.
CommandStatus ParseExportRequest(struct doveadm_cmd_context* cctx, ExportRequest* request) {
  if (CommandStatus filter = ParseListFilter(cctx, &request->filter); !filter.ok()) return filter;
  request->format = ParamString(cctx, "format");
  request->output = ParamString(cctx, "output");
  if (request->format == nullptr ||
      (std::strcmp(request->format, "mbox") != 0 && std::strcmp(request->format, "eml") != 0))
    return CommandStatus::Failed(EX_USAGE, "--format mbox|eml is required");
  if (request->output == nullptr || *request->output == '\0')
    return CommandStatus::Failed(
        EX_USAGE, "--output PATH is required (an mbox file, or a directory for eml)");
  request->mbox = std::strcmp(request->format, "mbox") == 0;
  return CommandStatus::Ok();
}

// Where an export writes: one mbox file or a directory of .eml files, never overwriting
// anything. Closed (quietly) when destroyed; Finish reports a failed close of the mbox.
class ExportTarget {
 public:
  explicit ExportTarget(const ExportRequest& request)
      : output_(request.output), mbox_(request.mbox) {}
  ~ExportTarget() {
    if (dir_fd_ >= 0) close(dir_fd_);
    if (mbox_fd_ >= 0) close(mbox_fd_);
  }
  ExportTarget(const ExportTarget&) = delete;
  ExportTarget& operator=(const ExportTarget&) = delete;

  // Creates the mbox file or makes and opens the directory. Fails with EX_CANTCREAT.
  CommandStatus Open() {
    if (!mbox_) return OpenExportDirectory(output_, &dir_fd_);
    mbox_fd_ = open(output_, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (mbox_fd_ >= 0) return CommandStatus::Ok();
    return CommandStatus::Failed(EX_CANTCREAT, std::string("open(") + output_ +
                                                   ") failed: " + std::strerror(errno) +
                                                   " (export never overwrites)");
  }

  // Writes one message (an mbox entry, or ID.eml). Fails with EX_CANTCREAT or EX_IOERR:
  // the export stops.
  CommandStatus Write(const DeliveryRecord& record, const std::string& message) {
    bool written;
    if (mbox_) {
      written = WriteMboxEntry(mbox_fd_, record, message);
    } else {
      const std::string name = ToHex(record.id) + ".eml";
      int fd =
          openat(dir_fd_, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      if (fd < 0)
        return CommandStatus::Failed(EX_CANTCREAT, std::string("open(") + output_ + "/" + name +
                                                       ") failed: " + std::strerror(errno) +
                                                       " (export never overwrites)");
      written = WriteAll(fd, message);
      if (close(fd) < 0) written = false;
    }
    if (written) return CommandStatus::Ok();
    return CommandStatus::Failed(
        EX_IOERR, std::string("Writing to ") + output_ + " failed: " + std::strerror(errno));
  }

  // Closes the target; a failed close of the mbox file is EX_IOERR.
  CommandStatus Finish() {
    if (dir_fd_ >= 0) close(dir_fd_);
    dir_fd_ = -1;
    const bool closed = mbox_fd_ < 0 || close(mbox_fd_) == 0;
    mbox_fd_ = -1;
    if (closed) return CommandStatus::Ok();
    return CommandStatus::Failed(
        EX_IOERR, std::string("close(") + output_ + ") failed: " + std::strerror(errno));
  }

 private:
  const char* output_;
  bool mbox_;
  int mbox_fd_ = -1;
  int dir_fd_ = -1;
};

struct ExportCounts {
  uint64_t exported = 0;
  uint64_t bytes = 0;
  uint64_t failed = 0;  // messages that could not be read
};

// Writes the messages `filter` selects as they are read, one per distinct message, oldest
// first (Store::ListDistinctMessages: by each message's newest matching delivery, whose
// sender and time make its mbox From_ line), counting into `*counts`. A message that
// cannot be read is counted, reported and skipped (ReportAndContinue: the others are still
// worth exporting); a write failure ends the export and is returned, as is a failed listing.
// A termination signal stops it between two messages (EX_TEMPFAIL): what was written stays,
// whole messages only.
CommandStatus ExportMessages(const Store& store, const ListFilter& filter, ExportTarget* target,
                             ExportCounts* counts) {
  CommandStatus outcome = CommandStatus::Ok();
  TerminationWatch termination;
  Status listed = store.ListDistinctMessages(filter, [&](const Delivery& delivery) {
    if (termination.Received()) {
      outcome = CommandStatus::Failed(
          EX_TEMPFAIL, "Export interrupted by a termination signal after " +
                           std::to_string(counts->exported) +
                           " messages: the output holds those, whole; run it again for all");
      return false;
    }
    Result<std::string> message = store.ReadMessage(delivery.record.id);
    if (!message.ok()) {
      ReportAndContinue(CommandStatus::Of(message.status(), message.status().ToString()));
      ++counts->failed;
      return true;
    }
    outcome = target->Write(delivery.record, *message);
    if (!outcome.ok()) return false;
    ++counts->exported;
    counts->bytes += message->size();
    return true;
  });
  if (!listed.ok()) return CommandStatus::Of(listed, "Listing failed: " + listed.ToString());
  return outcome;
}

void PrintExportSummary(const ExportRequest& request, const ExportCounts& counts) {
  doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
  for (const char* field : {"format", "output", "messages", "bytes", "failed"})
    doveadm_print_header_simple(field);
  PrintValue(request.format);
  PrintValue(request.output);
  PrintValue(Decimal(counts.exported).c_str());
  PrintValue(Decimal(counts.bytes).c_str());
  PrintValue(Decimal(counts.failed).c_str());
}

}  // namespace

void CmdArchiveList(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    ListFilter filter;
    if (CommandStatus parsed = ParseListFilter(cctx, &filter); !parsed.ok()) return parsed;
    std::shared_ptr<Store> store;
    if (CommandStatus opened = OpenCommandArchive(cctx, &store); !opened.ok()) return opened;
    doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
    PrintHeaders({"id"}, {"subject"});
    doveadm_print_header("size", "size", DOVEADM_PRINT_HEADER_FLAG_RIGHT_JUSTIFY);
    Status status = store->ListDeliveries(filter, [](const Delivery& delivery) {
      const DeliveryRecord& record = delivery.record;
      PrintValue(ToHex(record.id).c_str());
      PrintDeliveryFields(record);
      PrintValue(record.headers.subject.c_str());
      PrintValue(Decimal(record.size).c_str());
      return true;
    });
    if (!status.ok()) return CommandStatus::Of(status, "Listing failed: " + status.ToString());
    return CommandStatus::Ok();
  });
}

void CmdArchiveShow(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    MessageId id{};
    std::shared_ptr<Store> store;
    if (CommandStatus named = OpenNamedMessage(cctx, &store, &id); !named.ok()) return named;
    Result<MessageInfo> info = store->GetInfo(id);
    Result<std::vector<Delivery>> deliveries = store->DeliveriesOf(id);
    if (!info.ok() || !deliveries.ok()) {
      const Status& status = info.ok() ? deliveries.status() : info.status();
      return CommandStatus::Of(status, "Message " + ToHex(id) + ": " + status.message());
    }
    doveadm_print_init(DOVEADM_PRINT_TYPE_FLOW);
    PrintHeaders({"id", "size", "stored_size", "codec", "format", "deliveries", "delivery"},
                 {"header_from", "to", "cc", "subject", "date", "message_id", "trace_bytes"});
    size_t index = 0;
    for (const Delivery& delivery : *deliveries) {
      const DeliveryRecord& record = delivery.record;
      PrintValue(ToHex(info->id).c_str());
      PrintValue(Decimal(info->raw_size).c_str());
      PrintValue(Decimal(info->stored_size).c_str());
      PrintValue(info->codec.c_str());
      PrintValue(Decimal(info->format_version).c_str());
      PrintValue(Decimal(deliveries->size()).c_str());
      PrintValue(Decimal(++index).c_str());
      PrintDeliveryFields(record);
      PrintValue(record.headers.from.c_str());
      PrintValue(record.headers.to.c_str());
      PrintValue(record.headers.cc.c_str());
      PrintValue(record.headers.subject.c_str());
      PrintValue(record.headers.date.c_str());
      PrintValue(record.headers.message_id.c_str());
      PrintValue(Decimal(record.trace_prefix.size()).c_str());
    }
    return CommandStatus::Ok();
  });
}

void CmdArchiveFetch(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    MessageId id{};
    std::shared_ptr<Store> store;
    if (CommandStatus named = OpenNamedMessage(cctx, &store, &id); !named.ok()) return named;
    Result<std::string> message = store->ReadMessage(id);
    if (!message.ok()) return CommandStatus::Of(message.status(), message.status().ToString());
    bool trace = false;
    (void)doveadm_cmd_param_bool(cctx, "trace", &trace);
    const char* rcpt = ParamString(cctx, "rcpt");
    const char* mailbox = ParamString(cctx, "mailbox");
    std::string prefix;
    if (trace || rcpt != nullptr || mailbox != nullptr) {
      Result<std::vector<Delivery>> deliveries = store->DeliveriesOf(id);
      if (!deliveries.ok())
        return CommandStatus::Of(deliveries.status(), deliveries.status().ToString());
      const Delivery* chosen = nullptr;
      for (const Delivery& delivery : *deliveries) {
        if (rcpt != nullptr && strcasecmp(delivery.record.envelope_to.c_str(), rcpt) != 0) continue;
        if (mailbox != nullptr && delivery.record.mailbox != mailbox) continue;
        chosen = &delivery;
        break;
      }
      if (chosen == nullptr)
        return CommandStatus::Failed(DOVEADM_EX_NOTFOUND, "Message " + ToHex(id) +
                                                              " has no delivery matching "
                                                              "--rcpt/--mailbox");
      prefix = chosen->record.trace_prefix;
    }
    if (!WriteAll(STDOUT_FILENO, prefix) || !WriteAll(STDOUT_FILENO, *message))
      return CommandStatus::Failed(EX_IOERR,
                                   std::string("write(stdout) failed: ") + std::strerror(errno));
    return CommandStatus::Ok();
  });
}

void CmdArchiveExport(struct doveadm_cmd_context* cctx) {
  RunCommand([&] {
    ExportRequest request;
    if (CommandStatus parsed = ParseExportRequest(cctx, &request); !parsed.ok()) return parsed;
    std::shared_ptr<Store> store;
    if (CommandStatus opened = OpenCommandArchive(cctx, &store); !opened.ok()) return opened;
    ExportTarget target(request);
    if (CommandStatus open = target.Open(); !open.ok()) return open;
    ExportCounts counts;
    // A failed write or listing ends the export, but what was written is still closed and
    // summed up.
    ReportAndContinue(ExportMessages(*store, request.filter, &target, &counts));
    CommandStatus closed = target.Finish();
    PrintExportSummary(request, counts);
    return closed;
  });
}

}  // namespace archiver::doveadm
