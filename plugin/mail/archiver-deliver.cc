// The deliver_mail hook (the envelope of each LMTP / dovecot-lda delivery, handed to the
// recipient's ArchiverUser) and the capture of the current transaction's message.
#include "mail/archiver-deliver.h"

#include "mail/archiver-user.h"

#include <cstring>

// libdovecot-lda is linked only into lmtp and dovecot-lda: referenced weakly so that
// the plugin also loads into imap and doveadm, where these are null.
extern "C" {
deliver_mail_func_t* mail_deliver_hook_set(deliver_mail_func_t* new_hook) __attribute__((weak));
}

namespace archiver::plugin {
namespace {

deliver_mail_func_t* previous_deliver_mail = nullptr;
UnsavedDeliveryHandler unsaved_delivery = nullptr;
bool hook_registered = false;

// The raw message of the current transaction, and the first saved copy of it that
// LMTP copies later recipients from (to allow hard links). The plugin's one process-wide
// state: a transaction's recipients are separate mail users, and the raw user that owns
// the raw message is made without plugins on 2.4, so no Dovecot object that our plugin
// can reach spans the transaction. Dovecot mail processes are single-threaded and an
// LMTP process delivers one transaction at a time, so this is always the current one.
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

DeliveryEnvelope EnvelopeOf(const struct mail_deliver_context* ctx) {
  DeliveryEnvelope envelope;
  const bool lda = ctx->rcpt_user != nullptr && ctx->rcpt_user->service != nullptr &&
                   std::strcmp(ctx->rcpt_user->service, "lda") == 0;
  envelope.origin = lda ? "lda" : "lmtp";
  envelope.agent = lda ? DeliveryAgent::kLda : DeliveryAgent::kLmtp;
  envelope.envelope_from = AddressText(ctx->mail_from);
  envelope.envelope_to = AddressText(ctx->rcpt_to);
  envelope.original_to = AddressText(ctx->rcpt_params.orcpt.addr);
  if (ctx->rcpt_user != nullptr && ctx->rcpt_user->username != nullptr)
    envelope.rcpt_username = ctx->rcpt_user->username;
  return envelope;
}

extern "C" int ArchiverDeliverMail(struct mail_deliver_context* ctx,
                                   struct mail_storage** storage_r) {
  ArchiverUser* user = ctx->rcpt_user != nullptr ? ArchiverUserGet(ctx->rcpt_user) : nullptr;
  try {
    if (user != nullptr) user->BeginDelivery(EnvelopeOf(ctx));
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
    if (user != nullptr) user->EndDelivery();  // its saves archive without the envelope
  }
  if (previous_deliver_mail == nullptr)
    return -1;  // Dovecot then saves to the default mailbox, as without any hook
  int ret = previous_deliver_mail(ctx, storage_r);
  // Sieve handled the message (ret > 0; 0 or less makes Dovecot save it to the default
  // mailbox) without saving it anywhere (discard, redirect, reject):
  // it was still delivered to this server, so it is still archived.
  const DeliveryEnvelope* envelope = user != nullptr ? user->delivery() : nullptr;
  if (ret > 0 && envelope != nullptr && !envelope->reached_save &&
      unsaved_delivery(ctx, *user, *envelope) < 0)
    return -1;
  return ret;
}

}  // namespace

void DeliverHookInit(UnsavedDeliveryHandler unsaved) {
  if (mail_deliver_hook_set == nullptr || hook_registered) return;
  unsaved_delivery = unsaved;
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
  message->prefix_length = DeliveryTraceLength(
      message->bytes, agent,
      {envelope.envelope_from, envelope.envelope_to, envelope.original_to,
       envelope.rcpt_username});
  message->headers =
      SummarizeHeaders(std::string_view(message->bytes).substr(message->prefix_length));
  if (of_transaction) transaction.captured = true;
  return message;
}

}  // namespace archiver::plugin
