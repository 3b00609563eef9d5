// The deliver_mail hook (envelope of each LMTP / dovecot-lda delivery) and the capture
// of the current transaction's message. Dovecot mail processes are single-threaded, so
// process-wide state is safe here.
#include "mail/archiver-deliver.h"

#include "mail/archiver-storage.h"

#include <cstring>

// libdovecot-lda is linked only into lmtp and dovecot-lda: referenced weakly so that
// the plugin also loads into imap and doveadm, where these are null.
extern "C" {
deliver_mail_func_t* mail_deliver_hook_set(deliver_mail_func_t* new_hook) __attribute__((weak));
}

namespace archiver::plugin {
namespace {

deliver_mail_func_t* previous_deliver_mail = nullptr;
bool hook_registered = false;

// The latest delivery started in this process. Every LMTP/LDA delivery runs our hook
// before it saves anything, so a POST_SESSION save always belongs to this one.
DeliveryEnvelope current_envelope;
bool envelope_valid = false;

// The raw message of the current transaction, and the first saved copy of it that
// LMTP copies later recipients from (to allow hard links).
struct TransactionCapture {
  struct mail* raw_mail = nullptr;
  const struct mail* first_copy = nullptr;
  bool captured = false;
  CapturedMessage message;

  void Reset(struct mail* raw) {
    raw_mail = raw;
    first_copy = nullptr;
    captured = false;
    message = CapturedMessage();
  }
};
TransactionCapture transaction;

bool IsRawMail(const struct mail* mail) {
  return mail != nullptr && mail->box != nullptr && mail->box->storage != nullptr &&
         std::strcmp(mail->box->storage->name, "raw") == 0;
}

std::string AddressText(const struct smtp_address* address) {
  if (address == nullptr) return "";
  const char* encoded = smtp_address_encode(address);
  return encoded == nullptr ? "" : encoded;
}

extern "C" int ArchiverDeliverMail(struct mail_deliver_context* ctx,
                                   struct mail_storage** storage_r) {
  try {
    current_envelope.origin =
        ctx->rcpt_user != nullptr && ctx->rcpt_user->service != nullptr &&
                std::strcmp(ctx->rcpt_user->service, "lda") == 0
            ? "lda"
            : "lmtp";
    current_envelope.envelope_from = AddressText(ctx->mail_from);
    current_envelope.envelope_to = AddressText(ctx->rcpt_to);
    current_envelope.original_to = AddressText(ctx->rcpt_params.orcpt.addr);
    current_envelope.rcpt_user = ctx->rcpt_user;
    current_envelope.reached_save = false;
    envelope_valid = true;

    if (IsRawMail(ctx->src_mail)) {
      // A new transaction (or a recipient read from the raw message again): an
      // allocator may hand out the same address for a new message, so never reuse.
      transaction.Reset(ctx->src_mail);
    } else if (transaction.raw_mail != nullptr) {
      // LMTP passes a non-raw source only for later recipients of a transaction, and
      // then it is the first saved copy of that transaction's raw message.
      transaction.first_copy = ctx->src_mail;
    }
  } catch (...) {
    envelope_valid = false;  // the save then archives without envelope knowledge
  }
  if (previous_deliver_mail == nullptr)
    return -1;  // Dovecot then saves to the default mailbox, as without any hook
  int ret = previous_deliver_mail(ctx, storage_r);
  // Sieve handled the message (ret > 0; 0 or less makes Dovecot save it to the default
  // mailbox) without saving it anywhere (discard, redirect, reject):
  // it was still delivered to this server, so it is still archived.
  if (ret > 0 && envelope_valid && !current_envelope.reached_save &&
      ArchiveUnsavedDelivery(ctx, current_envelope) < 0)
    return -1;
  return ret;
}

}  // namespace

void DeliverHookInit() {
  if (mail_deliver_hook_set == nullptr || hook_registered) return;
  previous_deliver_mail = mail_deliver_hook_set(ArchiverDeliverMail);
  hook_registered = true;
}

void DeliverHookDeinit() {
  if (!hook_registered) return;
  deliver_mail_func_t* current = mail_deliver_hook_set(previous_deliver_mail);
  // Someone installed a hook over ours: leave theirs in place.
  if (current != ArchiverDeliverMail) mail_deliver_hook_set(current);
  previous_deliver_mail = nullptr;
  hook_registered = false;
  transaction.Reset(nullptr);
  envelope_valid = false;
}

const DeliveryEnvelope* DeliveryEnvelopeFor(const struct mail_user* user) {
  if (!envelope_valid || current_envelope.rcpt_user != user) return nullptr;
  return &current_envelope;
}

void NoteDeliverySave(const struct mail_user* user) {
  if (envelope_valid && current_envelope.rcpt_user == user) current_envelope.reached_save = true;
}

Status ReadMailStream(struct mail* mail, std::string* out) {
  struct istream* input = nullptr;
  if (mail_get_stream(mail, nullptr, nullptr, &input) < 0) {
    enum mail_error error;
    return Status::IOError(std::string("reading the message failed: ") +
                           mailbox_get_last_internal_error(mail->box, &error));
  }
  i_stream_seek(input, 0);
  uoff_t size = 0;
  if (i_stream_get_size(input, TRUE, &size) > 0) out->reserve(size);
  const unsigned char* data = nullptr;
  size_t length = 0;
  while (i_stream_read_more(input, &data, &length) > 0) {
    out->append(reinterpret_cast<const char*>(data), length);
    i_stream_skip(input, length);
  }
  if (input->stream_errno != 0) {
    return Status::IOError(std::string("reading the message failed: ") +
                           i_stream_get_error(input));
  }
  return Status::Ok();
}

Result<CapturedMessage*> CaptureDeliveredMessage(struct mail* src_mail, DeliveryAgent agent,
                                                 const DeliveryEnvelope& envelope,
                                                 CapturedMessage* scratch) {
  CapturedMessage* message = scratch;
  struct mail* source = src_mail;
  const bool of_transaction = src_mail != nullptr && transaction.raw_mail != nullptr &&
                              (src_mail == transaction.raw_mail || src_mail == transaction.first_copy);
  if (of_transaction) {
    message = &transaction.message;
    if (transaction.captured) return message;
    source = transaction.raw_mail;  // the bytes as transmitted, not a saved copy's
  }
  Status read = ReadMailStream(source, &message->bytes);
  if (!read.ok()) return read;
  const char* user = envelope.rcpt_user != nullptr ? envelope.rcpt_user->username : nullptr;
  message->prefix_length = DeliveryTraceLength(
      message->bytes, agent,
      {envelope.envelope_from, envelope.envelope_to, envelope.original_to,
       user != nullptr ? user : ""});
  message->headers =
      SummarizeHeaders(std::string_view(message->bytes).substr(message->prefix_length));
  if (of_transaction) transaction.captured = true;
  return message;
}

}  // namespace archiver::plugin
