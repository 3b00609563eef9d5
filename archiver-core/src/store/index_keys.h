// What a delivery is filed under (its idempotency key and its idx_rcpt / idx_from keys)
// and how a ListFilter matches one delivery. Addresses are compared normalised: trimmed,
// surrounding "<>" removed, ASCII letters lowercased.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "archiver/digest.h"
#include "archiver/store/store.h"

namespace archiver::index {

std::string NormalizeAddress(std::string_view address);

// "a+x@b" -> "a@b" (recipient_delimiter "+"); other addresses unchanged.
std::string WithoutDetail(std::string_view normalized_address);

// The idempotency key of a local delivery: SHA-256(0x02 || "user" || 0x00 || id || 0x00 ||
// user || 0x00 || NormalizeAddress(envelope_to) || 0x00 || mailbox). The Dovecot user is
// part of it: the same bytes APPENDed, or delivered with the same envelope, for several
// users are one delivery each.
MessageId DeliveryIdempotencyKey(const MessageId& id, std::string_view user,
                                 std::string_view envelope_to, std::string_view mailbox);

// The key of a local delivery as archives written before the user was part of it file
// it: SHA-256(id || 0x00 || NormalizeAddress(envelope_to) || 0x00 || mailbox). Such an
// entry names a delivery of whichever user came first; readers that find one compare the
// user of the delivery it names (store-format.md, "delivery_keys").
MessageId LegacyDeliveryIdempotencyKey(const MessageId& id, std::string_view envelope_to,
                                       std::string_view mailbox);

// The key of a delivery in delivery_keys: DeliveryIdempotencyKey of its id, user,
// envelope_to and mailbox for a local delivery; for one imported from a remote source
// (record.source set), SHA-256(0x01 || "source" || 0x00 || id || 0x00 || source || 0x00 ||
// folder), so that a message is archived once per source and folder whatever its UID or
// UIDVALIDITY.
MessageId DeliveryIdempotencyKey(const DeliveryRecord& record);

// idx_rcpt keys: the recipient, and the recipient without +detail when that differs.
std::vector<std::string> RcptKeys(const DeliveryRecord& record);
// idx_from keys: the envelope sender and the header From address, without duplicates
// or empty strings.
std::vector<std::string> FromKeys(const DeliveryRecord& record);

// LMDB keys are limited (511 bytes by default): longer index keys are cut. Readers
// re-check every record against the filter, so a cut key only widens the candidates.
std::string_view FitKey(std::string_view key, size_t max_key_size);

// A ListFilter with its address and subject conditions normalised once.
struct PreparedFilter {
  explicit PreparedFilter(const ListFilter& filter);
  uint64_t since_us;
  uint64_t until_us;
  std::string from;
  std::string rcpt;
  std::string user;
  std::string mailbox;
  std::string subject;  // ASCII-lowercased
  std::string source;
  bool load_headers;  // ListFilter::headers, or the filter reads them (from, subject)
  bool Matches(const DeliveryRecord& record) const;
};

}  // namespace archiver::index
