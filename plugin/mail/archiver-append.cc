// APPEND capture: the client's message is archived byte for byte as it sent it (the
// backend may rewrite line endings), by reading a tee of the save's input beside the
// backend, and archived when the save is finished, before its transaction commits.
#include <memory>
#include <unordered_map>

extern "C" {
#include "istream-tee.h"
}

#include "mail/archiver-storage.h"
#include "archiver/time_format.h"

namespace archiver::plugin {
namespace {

// One APPEND being saved: the backend reads one child of the tee, we read the other.
struct AppendCapture {
  struct istream* backend_input = nullptr;
  struct istream* archive_input = nullptr;
  CapturedMessage message;
  Status read_error;

  ~AppendCapture() {
    if (backend_input != nullptr) i_stream_unref(&backend_input);
    if (archive_input != nullptr) i_stream_unref(&archive_input);
  }

  // Reads what the tee has for us, so the backend's child is never kept waiting.
  void Drain() {
    const unsigned char* data = nullptr;
    size_t size = 0;
    while (i_stream_read_more(archive_input, &data, &size) > 0) {
      message.bytes.append(reinterpret_cast<const char*>(data), size);
      i_stream_skip(archive_input, size);
    }
    if (archive_input->stream_errno != 0 && read_error.ok())
      read_error = Status::IOError(std::string("reading the appended message failed: ") +
                                   i_stream_get_error(archive_input));
  }
};

// Saves in progress in this process (Dovecot mail processes are single-threaded).
std::unordered_map<const struct mail_save_context*, std::unique_ptr<AppendCapture>> captures;

AppendCapture* CaptureOf(const struct mail_save_context* ctx) {
  auto found = captures.find(ctx);
  return found == captures.end() ? nullptr : found->second.get();
}

std::unique_ptr<AppendCapture> TakeCapture(const struct mail_save_context* ctx) {
  auto found = captures.find(ctx);
  if (found == captures.end()) return nullptr;
  std::unique_ptr<AppendCapture> capture = std::move(found->second);
  captures.erase(found);
  return capture;
}

bool IsClientAppend(const struct mail_save_context* ctx, const struct mailbox* box) {
  return !ctx->copying_via_save && !ctx->copying_or_moving &&
         (box->flags & MAILBOX_FLAG_POST_SESSION) == 0;
}

extern "C" int ArchiverSaveBegin(struct mail_save_context* ctx, struct istream* input) {
  struct mailbox* box = ctx->transaction->box;
  archiver_mailbox* abox = ArchiverMailboxContext(box);
  std::unique_ptr<AppendCapture> capture;
  try {
    if (IsClientAppend(ctx, box) && CapturingUser(box, false) != nullptr) {
      capture = std::make_unique<AppendCapture>();
      struct tee_istream* tee = tee_i_stream_create(input);
      capture->backend_input = tee_i_stream_create_child(tee);
      capture->archive_input = tee_i_stream_create_child(tee);
    }
  } catch (...) {
    capture.reset();  // allocation failed: the save fails below rather than go unarchived
    mail_storage_set_error(box->storage, MAIL_ERROR_TEMP,
                           "Archive temporarily unavailable, try again later");
    return -1;
  }
  if (capture == nullptr) return abox->module_ctx.super.save_begin(ctx, input);
  if (abox->module_ctx.super.save_begin(ctx, capture->backend_input) < 0) return -1;
  capture->Drain();
  captures[ctx] = std::move(capture);
  return 0;
}

extern "C" int ArchiverSaveContinue(struct mail_save_context* ctx) {
  archiver_mailbox* abox = ArchiverMailboxContext(ctx->transaction->box);
  AppendCapture* capture = CaptureOf(ctx);
  for (;;) {
    if (abox->module_ctx.super.save_continue(ctx) < 0) return -1;
    if (capture == nullptr) return 0;
    capture->Drain();
    // The backend stopped only because our child had not read yet: let it go on now.
    if (!tee_i_stream_child_is_waiting(capture->backend_input)) return 0;
  }
}

extern "C" int ArchiverSaveFinish(struct mail_save_context* ctx) {
  struct mailbox* box = ctx->transaction->box;
  archiver_mailbox* abox = ArchiverMailboxContext(box);
  std::unique_ptr<AppendCapture> capture = TakeCapture(ctx);
  if (capture != nullptr) capture->Drain();
  if (abox->module_ctx.super.save_finish(ctx) < 0) return -1;
  if (capture == nullptr) return 0;
  ArchiverUser* user = CapturingUser(box, false);
  if (user == nullptr) return 0;
  bool refused_for_good = false;
  Status status = Guarded([&] {
    if (!capture->read_error.ok()) return capture->read_error;
    if (!capture->archive_input->eof)
      return Status::IOError("the appended message was not read to its end");
    capture->message.headers = SummarizeHeaders(capture->message.bytes);
    DeliveryRecord record;
    record.received_us = NowMicros();
    record.origin = "append";
    record.user = user->username();
    record.mailbox = mailbox_get_vname(box);
    return ArchiveInto(*user, capture->message, std::move(record), &refused_for_good);
  });
  if (status.ok()) return 0;
  return HandleFailure(*user, box, status, refused_for_good ? MAIL_ERROR_LIMIT : MAIL_ERROR_TEMP);
}

extern "C" void ArchiverSaveCancel(struct mail_save_context* ctx) {
  archiver_mailbox* abox = ArchiverMailboxContext(ctx->transaction->box);
  TakeCapture(ctx);  // dropped: nothing was saved, nothing is archived
  abox->module_ctx.super.save_cancel(ctx);
}

}  // namespace

void InstallAppendCapture(struct mailbox_vfuncs* vlast) {
  vlast->save_begin = ArchiverSaveBegin;
  vlast->save_continue = ArchiverSaveContinue;
  vlast->save_finish = ArchiverSaveFinish;
  vlast->save_cancel = ArchiverSaveCancel;
}

}  // namespace archiver::plugin
