// Index keys and filter matching (see index_keys.h). Matching is the one definition of
// what a filter means; index lookups only narrow the records it is applied to.
#include "store/index_keys.h"

#include "base/ascii.h"

namespace archiver::index {

std::string NormalizeAddress(std::string_view address) {
  size_t begin = address.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return {};
  address = address.substr(begin, address.find_last_not_of(" \t\r\n") - begin + 1);
  if (address.size() >= 2 && address.front() == '<' && address.back() == '>') {
    address = address.substr(1, address.size() - 2);
  }
  return ascii::Lowercase(address);
}

std::string WithoutDetail(std::string_view address) {
  size_t at = address.rfind('@');
  std::string_view local = address.substr(0, at);
  size_t plus = local.find('+');
  if (plus == std::string_view::npos || plus == 0) return std::string(address);
  std::string base(local.substr(0, plus));
  if (at != std::string_view::npos) base.append(address.substr(at));
  return base;
}

namespace {
void UpdateField(Sha256& hasher, std::string_view field) {
  hasher.Update(std::string_view("\0", 1));
  hasher.Update(field);
}
std::string_view Bytes(const MessageId& id) {
  return {reinterpret_cast<const char*>(id.data()), id.size()};
}
}  // namespace

MessageId DeliveryIdempotencyKey(const MessageId& id, std::string_view user,
                                 std::string_view envelope_to, std::string_view mailbox) {
  Sha256 hasher;
  hasher.Update(std::string_view("\x02user", 5));
  UpdateField(hasher, Bytes(id));
  UpdateField(hasher, user);
  UpdateField(hasher, NormalizeAddress(envelope_to));
  UpdateField(hasher, mailbox);
  return hasher.Finish();
}

MessageId LegacyDeliveryIdempotencyKey(const MessageId& id, std::string_view envelope_to,
                                       std::string_view mailbox) {
  Sha256 hasher;
  hasher.Update(Bytes(id));
  UpdateField(hasher, NormalizeAddress(envelope_to));
  UpdateField(hasher, mailbox);
  return hasher.Finish();
}

MessageId DeliveryIdempotencyKey(const DeliveryRecord& record) {
  if (record.source.empty()) {
    return DeliveryIdempotencyKey(record.id, record.user, record.envelope_to, record.mailbox);
  }
  Sha256 hasher;
  hasher.Update(std::string_view("\x01source", 7));
  UpdateField(hasher, Bytes(record.id));
  UpdateField(hasher, record.source);
  UpdateField(hasher, record.folder);
  return hasher.Finish();
}

std::vector<std::string> RcptKeys(const DeliveryRecord& record) {
  std::vector<std::string> keys;
  std::string rcpt = NormalizeAddress(record.envelope_to);
  if (rcpt.empty()) return keys;
  std::string base = WithoutDetail(rcpt);
  keys.push_back(std::move(rcpt));
  if (base != keys.front()) keys.push_back(std::move(base));
  return keys;
}

std::vector<std::string> FromKeys(const DeliveryRecord& record) {
  std::vector<std::string> keys;
  for (std::string_view address :
       {std::string_view(record.envelope_from), std::string_view(record.headers.from_addr)}) {
    std::string key = NormalizeAddress(address);
    if (!key.empty() && (keys.empty() || keys.front() != key)) keys.push_back(std::move(key));
  }
  return keys;
}

std::string_view FitKey(std::string_view key, size_t max_key_size) {
  return key.substr(0, max_key_size);
}

PreparedFilter::PreparedFilter(const ListFilter& filter)
    : since_us(filter.since_us),
      until_us(filter.until_us),
      from(NormalizeAddress(filter.from)),
      rcpt(NormalizeAddress(filter.rcpt)),
      user(filter.user),
      mailbox(filter.mailbox),
      subject(ascii::Lowercase(filter.subject)),
      source(filter.source),
      load_headers(filter.headers || !from.empty() || !subject.empty()) {}

bool PreparedFilter::Matches(const DeliveryRecord& record) const {
  if (record.received_us < since_us || record.received_us >= until_us) return false;
  if (!user.empty() && record.user != user) return false;
  if (!mailbox.empty() && record.mailbox != mailbox) return false;
  if (!source.empty() && record.source != source) return false;
  if (!rcpt.empty()) {
    std::string recipient = NormalizeAddress(record.envelope_to);
    if (recipient != rcpt && WithoutDetail(recipient) != rcpt) return false;
  }
  if (!from.empty() && NormalizeAddress(record.envelope_from) != from &&
      NormalizeAddress(record.headers.from_addr) != from) {
    return false;
  }
  if (!subject.empty() &&
      ascii::Lowercase(record.headers.subject).find(subject) == std::string::npos) {
    return false;
  }
  return true;
}

}  // namespace archiver::index
