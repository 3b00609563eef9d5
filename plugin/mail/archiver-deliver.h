// Delivery context for the capture: the envelope of each LMTP / dovecot-lda delivery
// (from Dovecot's deliver_mail hook, kept by the recipient's ArchiverUser: Dovecot makes a
// mail user per recipient and delivery) and the message of the current LMTP transaction,
// read once and shared by all of its recipients and mailboxes.
#pragma once

#include <string>

#include "common/archiver-dovecot.h"
#include "archiver/digest.h"
#include "archiver/header_summary.h"
#include "archiver/status.h"
#include "archiver/trace.h"

namespace archiver::plugin {

// The envelope of the delivery that Dovecot is running now.
struct DeliveryEnvelope {
  // DeliveryRecord::origin: "lmtp" or "lda" (the service's name for a save the hook did
  // not see). Free text on disk, so it stays a string beside the agent.
  std::string origin;
  DeliveryAgent agent = DeliveryAgent::kAppend;  // what prepended trace lines, if anyone
  std::string envelope_from;  // "" for the null sender
  std::string envelope_to;    // as given, +detail kept
  std::string original_to;    // ORCPT, or ""
  std::string rcpt_username;  // the recipient's user name ("" when not known)
  bool reached_save = false;  // a mailbox save of this delivery was seen
};

// The message of the transaction in progress, as transmitted.
struct CapturedMessage {
  std::string bytes;          // the whole raw stream: trace prefix + message
  size_t prefix_length = 0;   // Dovecot's trace headers at the start of `bytes`
  MessageId id{};             // filled in by the first Archive of it
  bool id_known = false;
  HeaderSummary headers;
};

class ArchiverUser;

// Archives a delivery that Sieve handled without saving it anywhere (discard, redirect,
// reject). Returns 0, or -1 (with ctx->tempfail_error set for a temporary failure) to
// fail the delivery.
using UnsavedDeliveryHandler = int (*)(struct mail_deliver_context* ctx, ArchiverUser& user,
                                       const DeliveryEnvelope& envelope);

// Registers the deliver_mail hook once per process (chaining to the previous one, e.g.
// Sieve's) when this process is LMTP or dovecot-lda; does nothing elsewhere. The hook
// gives each archived recipient its envelope (ArchiverUser::BeginDelivery) and calls
// `unsaved` for a delivery that reached no mailbox.
void DeliverHookInit(UnsavedDeliveryHandler unsaved);
void DeliverHookDeinit();

// The message delivered from `src_mail`, with its trace prefix split off and its header
// summary. When `src_mail` is the current transaction's raw message or
// the first saved copy later recipients are copied from, that is the transaction's
// capture, read from the raw message once; otherwise `src_mail` is read into `scratch`.
// The pointer stays valid until the next delivery (or as long as `scratch`).
Result<CapturedMessage*> CaptureDeliveredMessage(struct mail* src_mail, DeliveryAgent agent,
                                                 const DeliveryEnvelope& envelope,
                                                 CapturedMessage* scratch);

// Reads the whole stream of `mail` into `out`. IOError with Dovecot's reason on failure.
Status ReadMailStream(struct mail* mail, std::string* out);

}  // namespace archiver::plugin
