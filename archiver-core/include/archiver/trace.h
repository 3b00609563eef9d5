// Delivery trace headers: the header lines prepended to a message for one delivery (by
// Dovecot's LMTP: Return-Path, Delivered-To, its own Received; by the MTA that runs
// dovecot-lda: Return-Path, X-Original-To, Delivered-To). They belong to one delivery, not
// to the message, so they are split off before the message is hashed.
#pragma once

#include <cstddef>
#include <string_view>

namespace archiver {

enum class DeliveryAgent {
  kLmtp,    // Dovecot's LMTP server: Return-Path, optional Delivered-To, optional Received
  kLda,     // dovecot-lda: prepends nothing itself (an mbox "From " line is consumed by
            // Dovecot), but the MTA that runs it may: Postfix's pipe(8) and local(8) write
            // Return-Path, X-Original-To and Delivered-To (flags R, O, D)
  kAppend,  // IMAP APPEND or another client save: prepends nothing
};

// The agent of a save made by the Dovecot service `service` ("lmtp", "lda"; any other
// service, e.g. "imap" or "doveadm", saves without trace lines: kAppend).
DeliveryAgent AgentOfService(std::string_view service);

// The envelope of one delivery, as the delivering Dovecot knows it.
struct TraceEnvelope {
  std::string_view sender;   // MAIL FROM / dovecot-lda -f ("" for the null sender)
  std::string_view rcpt_to;  // RCPT TO / dovecot-lda -a, as given
  std::string_view orcpt;    // the original recipient, "" if unknown
  std::string_view user;     // the Dovecot user (dovecot-lda -d)
};

// Returns how many leading bytes of `message` are trace headers added for this one
// delivery: by `agent` itself (LMTP), or for dovecot-lda by the MTA that ran it. Only
// header lines in the exact order and form these write them, naming this delivery's
// sender and recipient (compared without case), are counted, so that a Received,
// Return-Path or Delivered-To written by the sender's side stays in the message.
size_t DeliveryTraceLength(std::string_view message, DeliveryAgent agent,
                           const TraceEnvelope& envelope);

}  // namespace archiver
