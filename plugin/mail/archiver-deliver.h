// Delivery context for the capture: the envelope of the LMTP / dovecot-lda delivery in
// progress (from Dovecot's deliver_mail hook) and the message of the current LMTP
// transaction, read once and shared by all of its recipients and mailboxes.
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
  std::string origin;         // "lmtp" or "lda"
  std::string envelope_from;  // "" for the null sender
  std::string envelope_to;    // as given, +detail kept
  std::string original_to;    // ORCPT, or ""
  const struct mail_user* rcpt_user = nullptr;  // compared, never dereferenced
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

// Registers the deliver_mail hook once per process (chaining to the previous one, e.g.
// Sieve's) when this process is LMTP or dovecot-lda; does nothing elsewhere.
void DeliverHookInit();
void DeliverHookDeinit();

// The envelope for a POST_SESSION save into a mailbox of `user`, or nullptr when no
// delivery to that user is known (then it is not a delivery we can describe).
const DeliveryEnvelope* DeliveryEnvelopeFor(const struct mail_user* user);

// The message delivered from `src_mail`, with its trace prefix split off and its header
// summary. When `src_mail` is the current transaction's raw message or the first saved
// copy later recipients are copied from, that is the transaction's capture, read from
// the raw message once; otherwise `src_mail` is read into `scratch`. The pointer stays
// valid until the next delivery (or as long as `scratch`).
Result<CapturedMessage*> CaptureDeliveredMessage(struct mail* src_mail, DeliveryAgent agent,
                                                 const DeliveryEnvelope& envelope,
                                                 CapturedMessage* scratch);

// Records that a delivery save into a mailbox of `user` happened (archived or not).
void NoteDeliverySave(const struct mail_user* user);

// Reads the whole stream of `mail` into `out`. IOError with Dovecot's reason on failure.
Status ReadMailStream(struct mail* mail, std::string* out);

}  // namespace archiver::plugin
