// Encoding and decoding of the archive's keys and values (see record.h). A deliveries
// value is one layout run in both directions by the value codec (base/value_codec.h);
// keys and the message header are fixed layouts. Stored bytes need no alignment.
#include "store/record.h"

#include "store/trace_codec.h"

namespace archiver::record {
namespace {

// A version 3 record's packed trace as DecodeDelivery reads it: the bytes stay in the value,
// copied only when the trace is expanded (a listing skips it).
struct StoredTrace {
  TraceForm form = TraceForm::kLiteral;
  uint64_t size = 0;
  uint32_t check = 0;
  std::string_view bytes;
};

bool HasRemoteFields(const DeliveryRecord& record) {
  return !record.source.empty() || !record.folder.empty() || record.uidvalidity != 0 ||
         record.uid != 0 || record.internal_date_us != 0 || !record.flags.empty();
}

// A deliveries value of `version` (the Writer's choice; the Reader's is the value's); `Io` is
// value_codec::Writer or Reader. Version 3 keeps the trace packed (`trace`) and the header
// summary in msg_headers; 1 and 2 hold both as text, 2 with the remote fields.
template <typename Io, typename Record, typename Trace>
void DeliveryLayout(Io& io, Record& record, Trace& trace, uint8_t version) {
  version = io.Version(kDeliveryValueVersion, version);
  auto& headers = record.headers;
  io.Bytes(record.id);
  io.Varint(record.received_us);
  io.Varint(record.size);
  for (auto* text : {&record.origin, &record.envelope_from, &record.envelope_to, &record.user,
                     &record.mailbox}) {
    io.String(*text);
  }
  bool remote = version == 2;
  if (version >= 3) {
    uint8_t form = static_cast<uint8_t>(trace.form);
    io.Byte(form);
    if constexpr (Io::kReading) {
      if (form > static_cast<uint8_t>(TraceForm::kPrimedDeflate1)) io.Fail("an unknown trace form");
      trace.form = static_cast<TraceForm>(form);
    }
    if (trace.form != TraceForm::kLiteral) {
      io.Varint(trace.size);
      io.Varint(trace.check);
    }
    io.String(trace.bytes);
    if constexpr (!Io::kReading) remote = HasRemoteFields(record);
    io.Flag(remote);
    io.Missing(record.trace_prefix, headers);
  } else {
    for (auto* text : {&record.trace_prefix, &headers.from, &headers.from_addr, &headers.to,
                       &headers.cc, &headers.subject, &headers.date, &headers.message_id}) {
      io.String(*text);
    }
  }
  if (remote) {
    io.String(record.source);
    io.String(record.folder);
    io.Varint(record.uidvalidity);
    io.Varint(record.uid);
    io.Varint(record.internal_date_us);
    io.String(record.flags);
  } else {  // a local delivery
    io.Missing(record.source, record.folder, record.uidvalidity, record.uid,
               record.internal_date_us, record.flags);
  }
}

// A msg_headers value.
template <typename Io, typename Headers>
void HeadersLayout(Io& io, Headers& headers) {
  io.Version(kHeadersValueVersion);
  for (auto* text : {&headers.from, &headers.from_addr, &headers.to, &headers.cc, &headers.subject,
                     &headers.date, &headers.message_id}) {
    io.String(*text);
  }
}

}  // namespace

const char* CodecName(Codec codec) {
  switch (codec) {
    case Codec::kNone:
      return "none";
    case Codec::kZlib:
      return "zlib";
  }
  return "unknown";
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
  dest[0] = 1;
  dest[1] = static_cast<char>(codec);
  PutBigEndian64(raw_size, dest + 2);
}

void EncodeMessageHeaderV2(Codec codec, uint64_t raw_size, uint32_t tail_size, uint64_t tail_first,
                           char* dest) {
  dest[0] = 2;
  dest[1] = static_cast<char>(codec);
  PutBigEndian64(raw_size, dest + 2);
  for (int i = 0; i < 4; ++i) dest[10 + i] = static_cast<char>(tail_size >> (24 - 8 * i));
  PutBigEndian64(tail_first, dest + 14);
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
  header->size = kMessageHeaderSize;
  header->tail_size = 0;
  header->tail_first = 0;
  if (header->version >= 2) {
    if (value.size() < kMessageHeaderSizeV2)
      return Status::Corruption("stored record is truncated");
    header->size = kMessageHeaderSizeV2;
    for (int i = 0; i < 4; ++i)
      header->tail_size = header->tail_size << 8 | static_cast<uint8_t>(value[10 + i]);
    header->tail_first = GetBigEndian64(value.data() + 14);
    if (header->tail_size > kMaxTailSize || (header->tail_size == 0) != (header->tail_first == 0)) {
      return Status::Corruption("stored record has an impossible tail (" +
                                std::to_string(header->tail_size) + " bytes at entry " +
                                std::to_string(header->tail_first) + ")");
    }
  }
  if (header->codec == Codec::kNone &&
      value.size() - header->size + header->tail_size != header->raw_size) {
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

std::string EncodeDeliveryVersion(const DeliveryRecord& record, uint8_t version) {
  PackedTrace trace;
  if (version >= 3)
    trace = PackTrace(record.trace_prefix, record.envelope_from, record.envelope_to);
  if (version == 1 && HasRemoteFields(record)) version = 2;
  std::string value;
  value.reserve(64 + record.origin.size() + record.envelope_from.size() +
                record.envelope_to.size() + record.user.size() + record.mailbox.size() +
                trace.bytes.size() + record.source.size() + record.folder.size() +
                record.flags.size());
  value_codec::EncodeTo(
      record,
      [&](value_codec::Writer& out, const DeliveryRecord& v) {
        DeliveryLayout(out, v, trace, version);
      },
      &value);
  return value;
}

std::string EncodeDelivery(const DeliveryRecord& record) {
  return EncodeDeliveryVersion(record, kDeliveryValueVersion);
}

bool DeliveryHoldsHeaders(std::string_view value) {
  return !value.empty() && static_cast<uint8_t>(value[0]) < 3;
}

Status DecodeDelivery(std::string_view value, DeliveryRecord* record,
                      TraceDecoding trace_decoding) {
  // Bytes left over belong to fields added by later versions.
  StoredTrace trace;
  Status decoded = value_codec::Decode(
      value, "delivery record", record,
      [&](value_codec::Reader& in, DeliveryRecord& v) { DeliveryLayout(in, v, trace, 0); });
  if (decoded.ok() && trace_decoding == TraceDecoding::kSkip) record->trace_prefix.clear();
  if (!decoded.ok() || DeliveryHoldsHeaders(value) || trace_decoding == TraceDecoding::kSkip) {
    return decoded;
  }
  const PackedTrace packed{trace.form, trace.size, trace.check, std::string(trace.bytes)};
  return UnpackTrace(packed, record->envelope_from, record->envelope_to, &record->trace_prefix)
      .Annotated("delivery record");
}

std::string EncodeHeaderSummary(const HeaderSummary& headers) {
  std::string value;
  value_codec::EncodeTo(
      headers, [](value_codec::Writer& out, const HeaderSummary& v) { HeadersLayout(out, v); },
      &value);
  return value;
}

Status DecodeHeaderSummary(std::string_view value, HeaderSummary* headers) {
  return value_codec::Decode(
      value, "header summary", headers,
      [](value_codec::Reader& in, HeaderSummary& v) { HeadersLayout(in, v); });
}

}  // namespace archiver::record
