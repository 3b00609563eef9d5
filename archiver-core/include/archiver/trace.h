// Delivery trace headers: the header lines that the delivering Dovecot itself prepends
// to a message (LMTP: Return-Path, Delivered-To, its own Received). They belong to one
// delivery, not to the message, so they are split off before the message is hashed.
#pragma once

#include <cstddef>
#include <string_view>

namespace archiver {

enum class DeliveryAgent {
  kLmtp,    // Dovecot's LMTP server: Return-Path, optional Delivered-To, optional Received
  kLda,     // dovecot-lda: prepends nothing (an mbox "From " line is consumed by Dovecot)
  kAppend,  // IMAP APPEND or another client save: prepends nothing
};

// Returns how many leading bytes of `message` are trace headers that `agent` added
// for this delivery. `rcpt_to` is the envelope recipient as given (for recognising
// Dovecot's Delivered-To), `orcpt` the original recipient or "" if unknown. Only
// headers in the exact order and form Dovecot writes them are counted, so a
// Received or Delivered-To header that the sender's MTA wrote stays in the message.
size_t DeliveryTraceLength(std::string_view message, DeliveryAgent agent,
                           std::string_view rcpt_to, std::string_view orcpt);

}  // namespace archiver
