// Encoding and decoding of the archive's keys and values (see record.h). Decoders read
// byte by byte from string_views, so stored values need no alignment.
#include "store/record.h"

#include <cstring>

namespace archiver::record {

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "none";
    case Codec::kZlib:
      return "zlib";
  }
  return "unknown";
}

void PutBigEndian64(uint64_t value, char* dest) {
  for (int i = 7; i >= 0; --i) {
    dest[i] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
}

uint64_t GetBigEndian64(const char* src) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | static_cast<unsigned char>(src[i]);
  return value;
}

void PutVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

bool GetVarint(std::string_view* in, uint64_t* value) {
  uint64_t result = 0;
  for (size_t i = 0; i < in->size() && i < 10; ++i) {
    auto byte = static_cast<unsigned char>((*in)[i]);
    if (i == 9 && byte > 1) return false;  // would overflow 64 bits
    result |= static_cast<uint64_t>(byte & 0x7F) << (7 * i);
    if ((byte & 0x80) == 0) {
      in->remove_prefix(i + 1);
      *value = result;
      return true;
    }
  }
  return false;
}

void PutString(std::string_view text, std::string* out) {
  PutVarint(text.size(), out);
  out->append(text);
}

bool GetString(std::string_view* in, std::string* text) {
  uint64_t length;
  if (!GetVarint(in, &length) || length > in->size()) return false;
  text->assign(in->substr(0, length));
  in->remove_prefix(length);
  return true;
}

std::array<char, 8> EncodeCounter(uint64_t value) {
  std::array<char, 8> bytes;
  PutBigEndian64(value, bytes.data());
  return bytes;
}

bool DecodeCounter(std::string_view bytes, uint64_t* value) {
  if (bytes.size() != 8) return false;
  *value = GetBigEndian64(bytes.data());
  return true;
}

void EncodeMessageHeader(Codec codec, uint64_t raw_size, char* dest) {
  dest[0] = static_cast<char>(kMessageValueVersion);
  dest[1] = static_cast<char>(codec);
  PutBigEndian64(raw_size, dest + 2);
}

Status DecodeMessageHeader(std::string_view value, MessageHeader* header) {
  if (value.size() < kMessageHeaderSize) return Status::Corruption("stored record is truncated");
  header->version = static_cast<uint8_t>(value[0]);
  if (header->version == 0 || header->version > kMessageValueVersion) {
    return Status::Corruption("stored record has unknown version " +
                              std::to_string(header->version));
  }
  auto codec = static_cast<uint8_t>(value[1]);
  if (codec > static_cast<uint8_t>(Codec::kZlib)) {
    return Status::Corruption("stored record has unknown codec " + std::to_string(codec));
  }
  header->codec = static_cast<Codec>(codec);
  header->raw_size = GetBigEndian64(value.data() + 2);
  if (header->raw_size > kMaxRawSize) {
    return Status::Corruption("stored record claims an impossible size " +
                              std::to_string(header->raw_size));
  }
  if (header->codec == Codec::kNone && value.size() - kMessageHeaderSize != header->raw_size) {
    return Status::Corruption("stored payload length differs from its recorded size");
  }
  return Status::Ok();
}

DeliveryKeyBytes EncodeDeliveryKey(const DeliveryKey& key) {
  DeliveryKeyBytes bytes;
  PutBigEndian64(key.received_us, bytes.data());
  PutBigEndian64(key.sequence, bytes.data() + 8);
  return bytes;
}

bool DecodeDeliveryKey(std::string_view bytes, DeliveryKey* key) {
  if (bytes.size() != kDeliveryKeySize) return false;
  key->received_us = GetBigEndian64(bytes.data());
  key->sequence = GetBigEndian64(bytes.data() + 8);
  return true;
}

std::string EncodeDelivery(const DeliveryRecord& record) {
  const HeaderSummary& headers = record.headers;
  std::string value;
  value.reserve(64 + record.origin.size() + record.envelope_from.size() +
                record.envelope_to.size() + record.user.size() + record.mailbox.size() +
                record.trace_prefix.size() + headers.from.size() + headers.from_addr.size() +
                headers.to.size() + headers.cc.size() + headers.subject.size() +
                headers.date.size() + headers.message_id.size() + record.source.size() +
                record.folder.size() + record.flags.size());
  const bool remote = !record.source.empty() || !record.folder.empty() ||
                      record.uidvalidity != 0 || record.uid != 0 ||
                      record.internal_date_us != 0 || !record.flags.empty();
  value.push_back(static_cast<char>(remote ? kDeliveryValueVersion : 1));
  value.append(reinterpret_cast<const char*>(record.id.data()), record.id.size());
  PutVarint(record.received_us, &value);
  PutVarint(record.size, &value);
  for (const std::string* text :
       {&record.origin, &record.envelope_from, &record.envelope_to, &record.user, &record.mailbox,
        &record.trace_prefix, &headers.from, &headers.from_addr, &headers.to, &headers.cc,
        &headers.subject, &headers.date, &headers.message_id}) {
    PutString(*text, &value);
  }
  if (!remote) return value;
  PutString(record.source, &value);
  PutString(record.folder, &value);
  PutVarint(record.uidvalidity, &value);
  PutVarint(record.uid, &value);
  PutVarint(record.internal_date_us, &value);
  PutString(record.flags, &value);
  return value;
}

Status DecodeDelivery(std::string_view value, DeliveryRecord* record) {
  if (value.empty()) return Status::Corruption("delivery record is empty");
  auto version = static_cast<uint8_t>(value[0]);
  if (version == 0 || version > kDeliveryValueVersion) {
    return Status::Corruption("delivery record has unknown version " + std::to_string(version));
  }
  value.remove_prefix(1);
  if (value.size() < record->id.size()) return Status::Corruption("delivery record is truncated");
  std::memcpy(record->id.data(), value.data(), record->id.size());
  value.remove_prefix(record->id.size());
  HeaderSummary& headers = record->headers;
  bool ok = GetVarint(&value, &record->received_us) && GetVarint(&value, &record->size);
  for (std::string* text :
       {&record->origin, &record->envelope_from, &record->envelope_to, &record->user,
        &record->mailbox, &record->trace_prefix, &headers.from, &headers.from_addr, &headers.to,
        &headers.cc, &headers.subject, &headers.date, &headers.message_id}) {
    ok = ok && GetString(&value, text);
  }
  if (ok && version >= 2) {
    uint64_t uidvalidity = 0, uid = 0;
    ok = GetString(&value, &record->source) && GetString(&value, &record->folder) &&
         GetVarint(&value, &uidvalidity) && GetVarint(&value, &uid) &&
         GetVarint(&value, &record->internal_date_us) && GetString(&value, &record->flags);
    if (ok && (uidvalidity > UINT32_MAX || uid > UINT32_MAX)) {
      return Status::Corruption("delivery record has a UID beyond 32 bits");
    }
    record->uidvalidity = static_cast<uint32_t>(uidvalidity);
    record->uid = static_cast<uint32_t>(uid);
  } else if (ok) {  // version 1: a local delivery
    record->source.clear();
    record->folder.clear();
    record->uidvalidity = record->uid = 0;
    record->internal_date_us = 0;
    record->flags.clear();
  }
  if (!ok) return Status::Corruption("delivery record is truncated");
  return Status::Ok();  // bytes left over belong to fields added by later versions
}

}  // namespace archiver::record
