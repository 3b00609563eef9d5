// Stored byte layouts: varints, big-endian keys, message headers, delivery records.
#include "store/record.h"

#include <gtest/gtest.h>

#include <cstring>

#include "store/trace_codec.h"

namespace archiver::record {
namespace {

TEST(RecordTest, VarintRoundTrip) {
  const uint64_t values[] = {0,          1,         127, 128, 300, 16383, 16384, (1ULL << 32) - 1,
                             1ULL << 63, UINT64_MAX};
  for (uint64_t value : values) {
    std::string bytes;
    PutVarint(value, &bytes);
    std::string_view in = bytes;
    uint64_t decoded = 0;
    ASSERT_TRUE(GetVarint(&in, &decoded)) << value;
    EXPECT_EQ(decoded, value);
    EXPECT_TRUE(in.empty());
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      std::string_view truncated = std::string_view(bytes).substr(0, cut);
      EXPECT_FALSE(GetVarint(&truncated, &decoded)) << value << " cut at " << cut;
    }
  }
  std::string too_long(10, '\xFF');
  too_long.push_back('\x01');
  std::string_view in = too_long;
  uint64_t decoded;
  EXPECT_FALSE(GetVarint(&in, &decoded));
  std::string overflow = std::string(9, '\xFF') + "\x02";
  in = overflow;
  EXPECT_FALSE(GetVarint(&in, &decoded));
}

TEST(RecordTest, DeliveryKeysSortInTimeOrder) {
  DeliveryKey earlier{1000, 99}, later{1001, 1}, same_time{1000, 100};
  auto a = EncodeDeliveryKey(earlier), b = EncodeDeliveryKey(later),
       c = EncodeDeliveryKey(same_time);
  EXPECT_LT(std::memcmp(a.data(), b.data(), a.size()), 0);
  EXPECT_LT(std::memcmp(a.data(), c.data(), a.size()), 0);
  DeliveryKey decoded;
  ASSERT_TRUE(DecodeDeliveryKey({b.data(), b.size()}, &decoded));
  EXPECT_EQ(decoded, later);
  EXPECT_FALSE(DecodeDeliveryKey("short", &decoded));
}

DeliveryRecord SampleRecord() {
  DeliveryRecord record;
  for (size_t i = 0; i < record.id.size(); ++i) record.id[i] = static_cast<uint8_t>(i * 9);
  record.received_us = 1714567890123456;
  record.origin = "lmtp";
  record.envelope_from = "a@example.org";
  record.envelope_to = "b+tag@example.com";
  record.user = "b";
  record.mailbox = "INBOX";
  record.headers.from = "Jörg <a@example.org>";
  record.headers.from_addr = "a@example.org";
  record.headers.to = "b@example.com";
  record.headers.cc = std::string("nul\0byte", 8);
  record.headers.subject = "Grüße";
  record.headers.date = "Wed, 1 May 2024";
  record.headers.message_id = "<x@y>";
  record.size = 12345;
  record.trace_prefix = "Return-Path: <a@example.org>\r\n";
  return record;
}

void ExpectSame(const DeliveryRecord& a, const DeliveryRecord& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.received_us, b.received_us);
  EXPECT_EQ(a.origin, b.origin);
  EXPECT_EQ(a.envelope_from, b.envelope_from);
  EXPECT_EQ(a.envelope_to, b.envelope_to);
  EXPECT_EQ(a.user, b.user);
  EXPECT_EQ(a.mailbox, b.mailbox);
  EXPECT_EQ(a.headers.from, b.headers.from);
  EXPECT_EQ(a.headers.from_addr, b.headers.from_addr);
  EXPECT_EQ(a.headers.to, b.headers.to);
  EXPECT_EQ(a.headers.cc, b.headers.cc);
  EXPECT_EQ(a.headers.subject, b.headers.subject);
  EXPECT_EQ(a.headers.date, b.headers.date);
  EXPECT_EQ(a.headers.message_id, b.headers.message_id);
  EXPECT_EQ(a.size, b.size);
  EXPECT_EQ(a.trace_prefix, b.trace_prefix);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.folder, b.folder);
  EXPECT_EQ(a.uidvalidity, b.uidvalidity);
  EXPECT_EQ(a.uid, b.uid);
  EXPECT_EQ(a.internal_date_us, b.internal_date_us);
  EXPECT_EQ(a.flags, b.flags);
}

DeliveryRecord SampleRemoteRecord() {
  DeliveryRecord record = SampleRecord();
  record.origin = "imap";
  record.source = "old-server";
  record.folder = "Archiv/2019";
  record.uidvalidity = 4000000000u;
  record.uid = 4294967295u;
  record.internal_date_us = 1514764800000000;
  record.flags = "\\Seen \\Flagged $Label1";
  return record;
}

// A version 1 value, byte by byte as the code before remote sources wrote it.
std::string VersionOneValue(const DeliveryRecord& record) {
  const HeaderSummary& headers = record.headers;
  std::string value(1, '\x01');
  value.append(reinterpret_cast<const char*>(record.id.data()), record.id.size());
  PutVarint(record.received_us, &value);
  PutVarint(record.size, &value);
  for (const std::string* text :
       {&record.origin, &record.envelope_from, &record.envelope_to, &record.user, &record.mailbox,
        &record.trace_prefix, &headers.from, &headers.from_addr, &headers.to, &headers.cc,
        &headers.subject, &headers.date, &headers.message_id}) {
    PutString(*text, &value);
  }
  return value;
}

// What Dovecot's LMTP prepends: the compact form keeps a fraction of it.
std::string LmtpTrace(const DeliveryRecord& record) {
  return "Return-Path: <" + record.envelope_from + ">\r\nDelivered-To: " + record.envelope_to +
         "\r\nReceived: from mail.example.net ([192.0.2.15])\r\n\tby mx1.example.org with LMTP"
         "\r\n\tid 8OZxJ8Yxb2V7BwAAiPwFxg\r\n\t(envelope-from <" +
         record.envelope_from + ">)\r\n\tfor <" + record.envelope_to +
         ">; Mon, 07 Dec 2026 19:00:00 +0000\r\n";
}

DeliveryRecord WithoutHeaders(DeliveryRecord record) {
  record.headers = {};
  return record;
}

TEST(RecordTest, DeliveryRoundTrip) {
  DeliveryRecord record = SampleRecord();
  std::string value = EncodeDelivery(record);
  EXPECT_EQ(value[0], static_cast<char>(kDeliveryValueVersion));
  EXPECT_FALSE(DeliveryHoldsHeaders(value));  // they go to msg_headers
  DeliveryRecord decoded;
  ASSERT_TRUE(DecodeDelivery(value, &decoded).ok());
  ExpectSame(decoded, WithoutHeaders(record));

  DeliveryRecord empty;
  ASSERT_TRUE(DecodeDelivery(EncodeDelivery(empty), &decoded).ok());
  ExpectSame(decoded, empty);

  DeliveryRecord remote = SampleRemoteRecord();
  value = EncodeDelivery(remote);
  ASSERT_TRUE(DecodeDelivery(value, &decoded).ok());
  ExpectSame(decoded, WithoutHeaders(remote));

  // A local record decoded into one that had remote fields: they are cleared.
  decoded = SampleRemoteRecord();
  ASSERT_TRUE(DecodeDelivery(EncodeDelivery(record), &decoded).ok());
  EXPECT_TRUE(decoded.source.empty());
  EXPECT_EQ(decoded.uid, 0u);
}

TEST(RecordTest, TheTraceIsPackedAndSkippedOnRequest) {
  DeliveryRecord record = SampleRecord();
  record.trace_prefix = LmtpTrace(record);
  const std::string value = EncodeDelivery(record);
  const std::string old = EncodeDeliveryVersion(record, 1);
  // About 300 bytes of trace take under 100: the envelope and Dovecot's wording are primed.
  const PackedTrace packed =
      PackTrace(record.trace_prefix, record.envelope_from, record.envelope_to);
  EXPECT_EQ(packed.form, TraceForm::kPrimedDeflate1);
  EXPECT_LT(packed.bytes.size(), record.trace_prefix.size() / 3);
  EXPECT_LT(value.size() + record.trace_prefix.size() - 100, old.size());
  DeliveryRecord decoded;
  ASSERT_TRUE(DecodeDelivery(value, &decoded).ok());
  EXPECT_EQ(decoded.trace_prefix, record.trace_prefix);
  ASSERT_TRUE(DecodeDelivery(value, &decoded, TraceDecoding::kSkip).ok());
  EXPECT_TRUE(decoded.trace_prefix.empty());
  EXPECT_EQ(decoded.mailbox, record.mailbox);

  // A trace unlike Dovecot's (here: bytes that do not compress) is kept as it is.
  record.trace_prefix = std::string("\x01\x7f\xfe", 3);
  ASSERT_TRUE(DecodeDelivery(EncodeDelivery(record), &decoded).ok());
  EXPECT_EQ(decoded.trace_prefix, record.trace_prefix);

  // A damaged packed trace is Corruption, never a different trace, whichever byte of the
  // stream changes (the CRC-32 catches what inflation does not; a flipped padding bit of
  // the last byte changes nothing).
  record.trace_prefix = LmtpTrace(record);
  const std::string intact = EncodeDelivery(record);
  const size_t trace_at = intact.find("INBOX") + 5;  // form byte, size, CRC, stream
  ASSERT_EQ(intact[trace_at], '\x01');
  for (size_t at = trace_at + 9; at < intact.size() - 1; ++at) {
    std::string damaged = intact;
    damaged[at] = static_cast<char>(damaged[at] ^ 0x20);
    const Status status = DecodeDelivery(damaged, &decoded);
    if (status.ok()) {
      EXPECT_EQ(decoded.trace_prefix, record.trace_prefix) << at;
    } else {
      EXPECT_EQ(status.code(), Status::Code::kCorruption) << at;
    }
  }
  std::string unknown_form = EncodeDelivery(record);
  unknown_form[trace_at] = '\x07';
  EXPECT_EQ(DecodeDelivery(unknown_form, &decoded).code(), Status::Code::kCorruption);
}

TEST(RecordTest, OlderVersionsStillRead) {
  const DeliveryRecord local = SampleRecord();
  const std::string v1 = VersionOneValue(local);
  ASSERT_EQ(v1[0], '\x01');
  EXPECT_EQ(EncodeDeliveryVersion(local, 1), v1);  // what version 1 software wrote, byte for byte
  EXPECT_TRUE(DeliveryHoldsHeaders(v1));
  DeliveryRecord decoded = SampleRemoteRecord();  // stale remote fields must be cleared
  ASSERT_TRUE(DecodeDelivery(v1, &decoded).ok());
  ExpectSame(decoded, local);
  EXPECT_TRUE(decoded.source.empty());
  EXPECT_EQ(decoded.uid, 0u);
  for (size_t cut = 1; cut < v1.size(); ++cut) {
    EXPECT_EQ(DecodeDelivery(v1.substr(0, cut), &decoded).code(), Status::Code::kCorruption);
  }
  const DeliveryRecord remote = SampleRemoteRecord();
  const std::string v2 = EncodeDeliveryVersion(remote, 1);  // remote fields need 2
  ASSERT_EQ(v2[0], '\x02');
  const std::string remote_v1 = VersionOneValue(remote);
  EXPECT_EQ(v2.substr(1, remote_v1.size() - 1), remote_v1.substr(1));  // 2 appends to 1
  ASSERT_TRUE(DecodeDelivery(v2, &decoded).ok());
  ExpectSame(decoded, remote);
}

TEST(RecordTest, HeaderSummaryRoundTrip) {
  const HeaderSummary headers = SampleRecord().headers;
  const std::string value = EncodeHeaderSummary(headers);
  EXPECT_EQ(value[0], static_cast<char>(kHeadersValueVersion));
  HeaderSummary decoded;
  ASSERT_TRUE(DecodeHeaderSummary(value, &decoded).ok());
  EXPECT_EQ(decoded.from, headers.from);
  EXPECT_EQ(decoded.from_addr, headers.from_addr);
  EXPECT_EQ(decoded.to, headers.to);
  EXPECT_EQ(decoded.cc, headers.cc);
  EXPECT_EQ(decoded.subject, headers.subject);
  EXPECT_EQ(decoded.date, headers.date);
  EXPECT_EQ(decoded.message_id, headers.message_id);
  for (size_t cut = 0; cut < value.size(); ++cut) {
    EXPECT_EQ(DecodeHeaderSummary(value.substr(0, cut), &decoded).code(),
              Status::Code::kCorruption);
  }
  std::string newer = value;
  newer[0] = static_cast<char>(kHeadersValueVersion + 1);
  EXPECT_EQ(DecodeHeaderSummary(newer, &decoded).code(), Status::Code::kCorruption);
}

TEST(RecordTest, RemoteUidsBeyond32BitsAreCorruption) {
  DeliveryRecord record;
  record.source = "s";
  std::string value = EncodeDelivery(record);
  // The tail is: source "s", folder "", uidvalidity 0, uid 0, date 0, flags "".
  ASSERT_EQ(value.substr(value.size() - 7), std::string("\x01s\0\0\0\0\0", 7));
  std::string big = value.substr(0, value.size() - 4);
  PutVarint(uint64_t{1} << 32, &big);
  big.append(std::string("\0\0\0", 3));  // uid, internal date, flags
  DeliveryRecord decoded;
  EXPECT_EQ(DecodeDelivery(big, &decoded).code(), Status::Code::kCorruption);
}

TEST(RecordTest, DeliveryDecodingIsStrictAboutTruncationOnly) {
  std::string value = EncodeDelivery(SampleRemoteRecord());
  DeliveryRecord decoded;
  for (size_t cut = 0; cut < value.size(); ++cut) {
    Status status = DecodeDelivery(value.substr(0, cut), &decoded);
    EXPECT_EQ(status.code(), Status::Code::kCorruption) << "cut at " << cut;
  }
  // A later version of the same major layout may append fields: they are ignored.
  EXPECT_TRUE(DecodeDelivery(value + "future fields", &decoded).ok());
  std::string newer = value;
  newer[0] = static_cast<char>(kDeliveryValueVersion + 1);
  EXPECT_EQ(DecodeDelivery(newer, &decoded).code(), Status::Code::kCorruption);
  newer[0] = 0;
  EXPECT_EQ(DecodeDelivery(newer, &decoded).code(), Status::Code::kCorruption);
}

TEST(RecordTest, MessageHeader) {
  std::string value(kMessageHeaderSize, '\0');
  EncodeMessageHeader(Codec::kNone, 5, value.data());
  value += "hello";
  MessageHeader header;
  ASSERT_TRUE(DecodeMessageHeader(value, &header).ok());
  EXPECT_EQ(header.version, 1u);
  EXPECT_EQ(header.codec, Codec::kNone);
  EXPECT_EQ(header.raw_size, 5u);
  EXPECT_EQ(header.size, kMessageHeaderSize);
  EXPECT_EQ(header.tail_size, 0u);

  auto with = [&](size_t offset, char byte) {
    std::string changed = value;
    changed[offset] = byte;
    return changed;
  };
  std::string absurd(kMessageHeaderSize, '\0');
  EncodeMessageHeader(Codec::kZlib, kMaxRawSize + 1, absurd.data());
  struct Case {
    std::string name;
    std::string value;
  } cases[] = {
      {"empty", ""},
      {"short header", value.substr(0, kMessageHeaderSize - 1)},
      {"version 0", with(0, 0)},
      {"newer version", with(0, static_cast<char>(kMessageValueVersion + 1))},
      {"unknown codec", with(1, 7)},
      {"payload shorter than raw size", value.substr(0, value.size() - 1)},
      {"payload longer than raw size", value + "!"},
      {"absurd raw size", absurd + "x"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DecodeMessageHeader(c.value, &header).code(), Status::Code::kCorruption) << c.name;
  }
}

// Version 2: the head after a longer header, the tail's size and first entry.
TEST(RecordTest, MessageHeaderWithTail) {
  std::string value(kMessageHeaderSizeV2, '\0');
  EncodeMessageHeaderV2(Codec::kNone, 12, 7, 0x0102030405, value.data());
  EXPECT_EQ(value.substr(10, 12), std::string("\0\0\0\x07\0\0\0\x01\x02\x03\x04\x05", 12));
  value += "hello";  // the head: 5 bytes, and 7 in the tail
  MessageHeader header;
  ASSERT_TRUE(DecodeMessageHeader(value, &header).ok());
  EXPECT_EQ(header.version, 2u);
  EXPECT_EQ(header.size, kMessageHeaderSizeV2);
  EXPECT_EQ(header.raw_size, 12u);
  EXPECT_EQ(header.tail_size, 7u);
  EXPECT_EQ(header.tail_first, 0x0102030405u);

  std::string no_tail(kMessageHeaderSizeV2, '\0');
  EncodeMessageHeaderV2(Codec::kZlib, 1000, 0, 0, no_tail.data());
  ASSERT_TRUE(DecodeMessageHeader(no_tail + "zz", &header).ok());
  EXPECT_EQ(header.tail_size, 0u);

  auto encoded = [](uint64_t raw, uint32_t tail, uint64_t first) {
    std::string header_bytes(kMessageHeaderSizeV2, '\0');
    EncodeMessageHeaderV2(Codec::kZlib, raw, tail, first, header_bytes.data());
    return header_bytes;
  };
  struct Case {
    std::string name;
    std::string value;
  } cases[] = {
      {"header cut", value.substr(0, kMessageHeaderSizeV2 - 1)},
      {"tail without a first entry", encoded(100, 10, 0)},
      {"first entry without a tail", encoded(100, 0, 9)},
      {"tail beyond 1 MiB", encoded(100, kMaxTailSize + 1, 9)},
      {"codec none, head and tail longer than raw size", value + "!"},
      {"codec none, head and tail shorter than raw size", value.substr(0, value.size() - 1)},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DecodeMessageHeader(c.value, &header).code(), Status::Code::kCorruption) << c.name;
  }
}

TEST(RecordTest, Counters) {
  auto bytes = EncodeCounter(0x0102030405060708ULL);
  EXPECT_EQ(std::string(bytes.data(), 8), "\x01\x02\x03\x04\x05\x06\x07\x08");
  uint64_t value;
  ASSERT_TRUE(DecodeCounter({bytes.data(), 8}, &value));
  EXPECT_EQ(value, 0x0102030405060708ULL);
  EXPECT_FALSE(DecodeCounter("1234567", &value));
  EXPECT_STREQ(CodecName(Codec::kZlib), "zlib");
  EXPECT_STREQ(CodecName(Codec::kNone), "none");
}

}  // namespace
}  // namespace archiver::record
