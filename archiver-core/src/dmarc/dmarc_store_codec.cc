// Encoding and decoding of the DMARC databases' keys and values (see dmarc_store_codec.h).
// Each value's fields are named once, in a *Layout function that the value codec
// (base/value_codec.h) runs with a Writer to encode and with a Reader to decode; the
// one-byte tokens for enumerated values are DMARC's own, on top of it.
#include "dmarc/dmarc_store_codec.h"

#include <iterator>

#include "archiver/digest.h"
#include "base/ascii.h"
#include "base/value_codec.h"
#include "store/record.h"

namespace archiver::dmarc_codec {
namespace {

using value_codec::Decode;
using value_codec::Encode;
using value_codec::EncodeTo;
using value_codec::Reader;
using value_codec::Writer;

// Enumerated values stored as one byte: 0 means a literal string follows, k >= 1 the
// (k-1)-th entry. Append only: the positions are part of the format.
constexpr std::string_view kTokens[] = {
    "",
    "none",
    "quarantine",
    "reject",
    "pass",
    "fail",
    "softfail",
    "neutral",
    "temperror",
    "permerror",
    "policy",
    "mfrom",
    "helo",
    "forwarded",
    "local_policy",
    "mailing_list",
    "other",
    "sampled_out",
    "trusted_forwarder",
    "arc",
};

// A token: one byte, then the literal string after a 0.
void Token(Writer& io, std::string_view value) {
  for (size_t i = 0; i < std::size(kTokens); ++i) {
    if (kTokens[i] == value) return io.Byte(static_cast<uint8_t>(i + 1));
  }
  io.Byte(0);
  io.String(value);
}

// `Text` is std::string, or std::string_view pointing into the value or into kTokens.
template <typename Text>
void Token(Reader& io, Text& text) {
  uint8_t token = 0;
  io.Byte(token);
  if (!io.ok()) return;
  if (token == 0) return io.String(text);
  if (token > std::size(kTokens)) return io.Fail("an unknown token");
  text = kTokens[token - 1];
}

template <typename Io, typename Id>
void OptionalId(Io& io, Id& id) {
  io.Optional(id, [&](auto& bytes) { io.Bytes(bytes); });
}

template <typename Io, typename Integer>
void OptionalSigned(Io& io, Integer& value) {
  io.Optional(value, [&](auto& number) { io.Signed(number); });
}

// The layouts. `Io` is Writer or Reader; `T` the value type, const for the Writer. Every
// value starts with its version byte.

template <typename Io, typename T>
void OriginLayout(Io& io, T& origin) {
  io.Named(origin.kind, DmarcOriginKindName, DmarcOriginKindNamed);
  io.String(origin.detail);
  OptionalId(io, origin.mail);
  io.String(origin.part);
}

// The version and the summary's fields: the head of a records value, all that
// DecodeRecordCore reads. `T` is AggregateRecord or RecordCore.
template <typename Io, typename Flag, typename T>
void RecordHeadLayout(Io& io, Flag& count_valid, T& record) {
  io.Version(kValueVersion);
  io.Flag(count_valid);
  io.Varint(record.count);
  io.String(record.source_ip);
  Token(io, record.disposition);
  Token(io, record.dkim);
  Token(io, record.spf);
}

template <typename Io, typename T>
void RecordLayout(Io& io, T& record) {
  RecordHeadLayout(io, record.count_valid, record);
  io.List(record.reasons, [&](auto& reason) {
    Token(io, reason.type);
    io.String(reason.comment);
  });
  io.String(record.header_from);
  io.String(record.envelope_from);
  io.String(record.envelope_to);
  io.List(record.dkim_results, [&](auto& dkim) {
    io.String(dkim.domain);
    io.String(dkim.selector);
    Token(io, dkim.result);
    io.String(dkim.human_result);
  });
  io.List(record.spf_results, [&](auto& spf) {
    io.String(spf.domain);
    Token(io, spf.scope);
    Token(io, spf.result);
    io.String(spf.human_result);
  });
}

template <typename Io, typename T>
void ReportLayout(Io& io, T& stored) {
  auto& report = stored.report;
  auto& meta = report.meta;
  auto& policy = meta.policy_published;
  auto& tally = stored.tally;
  const uint8_t version = io.Version(kReportVersion);
  io.Flag(stored.importing);
  io.Varint(stored.owner_pid);
  io.Varint(stored.heartbeat_us);
  io.Signed(stored.range_key);
  io.Varint(report.imported_us);
  OriginLayout(io, report.origin);
  for (auto* text : {&meta.org_name, &meta.email, &meta.extra_contact_info, &meta.report_id}) {
    io.String(*text);
  }
  OptionalSigned(io, meta.begin);
  OptionalSigned(io, meta.end);
  io.Strings(meta.errors);
  for (auto* text : {&meta.generator, &meta.version, &meta.schema, &policy.domain, &policy.adkim,
                     &policy.aspf, &policy.p, &policy.sp, &policy.np}) {
    io.String(*text);
  }
  OptionalSigned(io, policy.pct);
  for (auto* text : {&policy.fo, &policy.testing, &policy.discovery_method}) io.String(*text);
  for (auto* count : {&report.records, &tally.messages, &tally.dmarc_pass, &tally.dkim_aligned,
                      &tally.spf_aligned, &tally.none, &tally.quarantine, &tally.reject}) {
    io.Varint(*count);
  }
  io.Flag(report.recovered);
  io.Strings(report.parser_messages);
  if (version >= 2) {
    io.Varint(stored.rolled_up);
    io.Varint(stored.source_ips);
  } else {
    io.Missing(stored.rolled_up, stored.source_ips);
  }
}

// A source's counts within one report.
template <typename Io, typename T>
void RollupLayout(Io& io, T& tally) {
  io.Version(kValueVersion);
  for (auto* count : {&tally.messages, &tally.dmarc_pass, &tally.dkim_aligned, &tally.spf_aligned,
                      &tally.none, &tally.quarantine, &tally.reject}) {
    io.Varint(*count);
  }
}

template <typename Io, typename T>
void FailureLayout(Io& io, T& failure) {
  auto& report = failure.report;
  io.Version(kValueVersion);
  io.Varint(failure.imported_us);
  OriginLayout(io, failure.origin);
  for (auto* text :
       {&report.feedback_type, &report.version, &report.user_agent, &report.arrival_date}) {
    io.String(*text);
  }
  OptionalSigned(io, report.arrival_time);
  for (auto* text : {&report.source_ip, &report.reported_domain, &report.reporting_mta,
                     &report.original_envelope_id, &report.original_mail_from}) {
    io.String(*text);
  }
  io.Strings(report.original_rcpt_to);
  for (auto* text : {&report.authentication_results, &report.auth_failure, &report.delivery_result,
                     &report.identity_alignment, &report.dkim_domain, &report.dkim_identity,
                     &report.dkim_selector, &report.spf_dns}) {
    io.String(*text);
  }
  io.List(report.fields, [&](auto& field) {
    io.String(field.first);
    io.String(field.second);
  });
  io.Flag(report.is_dmarc);
  for (auto* text : {&report.original_headers, &report.original_from, &report.original_to,
                     &report.original_subject, &report.original_date, &report.original_message_id,
                     &report.policy_domain}) {
    io.String(*text);
  }
}

template <typename Io, typename T>
void ErrorLayout(Io& io, T& error) {
  io.Version(kValueVersion);
  io.Varint(error.time_us);
  io.Named(error.kind, DmarcItemKindName, DmarcItemKindNamed);
  io.String(error.reason);
  OriginLayout(io, error.origin);
}

template <typename Io, typename T>
void MailLayout(Io& io, T& mail) {
  io.Version(kValueVersion);
  io.Varint(mail.processed_us);
  io.String(mail.user);
  io.String(mail.mailbox);
  for (auto* count : {&mail.reports, &mail.failures, &mail.errors}) io.Varint(*count);
}

void HashString(Sha256& hash, std::string_view text) {
  std::string prefix;
  value_codec::PutVarint(text.size(), &prefix);
  hash.Update(prefix);
  hash.Update(text);
}

}  // namespace

IdKey EncodeId(uint64_t id) { return record::EncodeCounter(id); }

bool DecodeId(std::string_view bytes, uint64_t* id) { return record::DecodeCounter(bytes, id); }

RecordKey EncodeRecordKey(uint64_t report, uint32_t index) {
  RecordKey key;
  record::PutBigEndian64(report, key.data());
  for (int i = 3; i >= 0; --i) {
    key[8 + i] = static_cast<char>(index & 0xFF);
    index >>= 8;
  }
  return key;
}

bool DecodeRecordKey(std::string_view bytes, uint64_t* report, uint32_t* index) {
  if (bytes.size() != kRecordKeySize) return false;
  *report = record::GetBigEndian64(bytes.data());
  *index = 0;
  for (size_t i = 8; i < kRecordKeySize; ++i) {
    *index = *index << 8 | static_cast<unsigned char>(bytes[i]);
  }
  return true;
}

TimeKey EncodeTimeKey(int64_t time, uint64_t id) {
  TimeKey key;
  record::PutBigEndian64(static_cast<uint64_t>(time) ^ (1ULL << 63), key.data());
  record::PutBigEndian64(id, key.data() + 8);
  return key;
}

bool DecodeTimeKey(std::string_view bytes, int64_t* time, uint64_t* id) {
  if (bytes.size() != kTimeKeySize) return false;
  *time = static_cast<int64_t>(record::GetBigEndian64(bytes.data()) ^ (1ULL << 63));
  *id = record::GetBigEndian64(bytes.data() + 8);
  return true;
}

std::string RollupPrefix(uint64_t report, char kind) {
  std::string key(kRollupPrefixSize, '\0');
  record::PutBigEndian64(report, key.data());
  key[8] = kind;
  return key;
}

std::string RollupSourceKey(uint64_t report, std::string_view source_ip) {
  return RollupPrefix(report, kRollupSource).append(source_ip);
}

std::string RollupTopKey(uint64_t report, uint64_t messages, std::string_view source_ip) {
  std::string key = RollupPrefix(report, kRollupTop);
  key.resize(kRollupTopHeadSize);
  record::PutBigEndian64(UINT64_MAX - messages, key.data() + kRollupPrefixSize);
  return key.append(source_ip);
}

bool DecodeRollupPrefix(std::string_view key, uint64_t* report, char* kind) {
  if (key.size() < kRollupPrefixSize) return false;
  *report = record::GetBigEndian64(key.data());
  *kind = key[8];
  return true;
}

std::string_view RollupSourceOf(std::string_view source_key) {
  return source_key.substr(std::min(source_key.size(), kRollupPrefixSize));
}

bool DecodeRollupTopKey(std::string_view key, uint64_t* messages, std::string_view* source_ip) {
  if (key.size() < kRollupTopHeadSize) return false;
  *messages = UINT64_MAX - record::GetBigEndian64(key.data() + kRollupPrefixSize);
  *source_ip = key.substr(kRollupTopHeadSize);
  return true;
}

std::string EncodeRollup(const DmarcTally& tally) {
  return Encode(tally, [](Writer& out, const auto& v) { RollupLayout(out, v); });
}

Status DecodeRollup(std::string_view value, DmarcTally* tally) {
  *tally = {};
  Status decoded =
      Decode(value, "rollup value", tally, [](Reader& in, auto& v) { RollupLayout(in, v); });
  tally->reports = 1;
  return decoded;
}

MessageId ReportDedupKey(const AggregateReportMeta& meta) {
  Sha256 hash;
  HashString(hash, ascii::Lowercase(meta.org_name));
  HashString(hash, meta.report_id);
  if (meta.report_id.empty()) {
    HashString(hash, ascii::Lowercase(meta.policy_published.domain));
    HashString(hash, meta.begin ? std::to_string(*meta.begin) : "");
    HashString(hash, meta.end ? std::to_string(*meta.end) : "");
  }
  return hash.Finish();
}

MessageId FailureDedupKey(const FailureReport& report) {
  Sha256 hash;
  for (const auto& [name, value] : report.fields) {
    HashString(hash, ascii::Lowercase(name));
    HashString(hash, value);
  }
  HashString(hash, report.original_headers);
  return hash.Finish();
}

MessageId ErrorDedupKey(std::string_view reason, const DmarcOrigin& origin) {
  Sha256 hash;
  if (origin.mail) {
    HashString(hash, "mail");
    HashString(hash, View(*origin.mail));
  } else {
    HashString(hash, DmarcOriginKindName(origin.kind));
    HashString(hash, origin.detail);
  }
  HashString(hash, origin.part);
  HashString(hash, reason);
  return hash.Finish();
}

void CountRecord(uint64_t count, std::string_view disposition, std::string_view dkim,
                 std::string_view spf, DmarcTally* tally) {
  const bool dkim_pass = ascii::EqualsIgnoreCase(dkim, "pass");
  const bool spf_pass = ascii::EqualsIgnoreCase(spf, "pass");
  tally->messages += count;
  if (dkim_pass || spf_pass) tally->dmarc_pass += count;
  if (dkim_pass) tally->dkim_aligned += count;
  if (spf_pass) tally->spf_aligned += count;
  if (ascii::EqualsIgnoreCase(disposition, "none")) tally->none += count;
  if (ascii::EqualsIgnoreCase(disposition, "quarantine")) tally->quarantine += count;
  if (ascii::EqualsIgnoreCase(disposition, "reject")) tally->reject += count;
}

void AddTally(const DmarcTally& from, DmarcTally* to) {
  to->messages += from.messages;
  to->dmarc_pass += from.dmarc_pass;
  to->dkim_aligned += from.dkim_aligned;
  to->spf_aligned += from.spf_aligned;
  to->none += from.none;
  to->quarantine += from.quarantine;
  to->reject += from.reject;
  to->reports += from.reports;
}

void EncodeRecord(const AggregateRecord& record, std::string* out) {
  EncodeTo(
      record, [](Writer& writer, const auto& v) { RecordLayout(writer, v); }, out);
}

Status DecodeRecord(std::string_view value, AggregateRecord* record) {
  return Decode(value, "record value", record, [](Reader& in, auto& v) { RecordLayout(in, v); });
}

Status DecodeRecordCore(std::string_view value, RecordCore* core) {
  return Decode(value, "record value", core, [](Reader& in, RecordCore& v) {
    bool count_valid = false;
    RecordHeadLayout(in, count_valid, v);
  });
}

std::string EncodeReport(const StoredReport& stored) {
  return Encode(stored, [](Writer& out, const auto& v) { ReportLayout(out, v); });
}

Status DecodeReport(std::string_view value, StoredReport* stored) {
  Status decoded =
      Decode(value, "report value", stored, [](Reader& in, auto& v) { ReportLayout(in, v); });
  if (!decoded.ok()) return decoded;
  const DmarcTally& tally = stored->tally;
  stored->tally.reports = 1;
  stored->report.messages = tally.messages;
  stored->report.pass = tally.dmarc_pass;
  stored->report.fail = tally.messages - std::min(tally.messages, tally.dmarc_pass);
  return Status::Ok();
}

std::string EncodeFailure(const DmarcFailure& failure) {
  return Encode(failure, [](Writer& out, const auto& v) { FailureLayout(out, v); });
}

Status DecodeFailure(std::string_view value, DmarcFailure* failure) {
  return Decode(value, "failure report value", failure,
                [](Reader& in, auto& v) { FailureLayout(in, v); });
}

std::string EncodeError(const DmarcError& error) {
  return Encode(error, [](Writer& out, const auto& v) { ErrorLayout(out, v); });
}

Status DecodeError(std::string_view value, DmarcError* error) {
  return Decode(value, "error value", error, [](Reader& in, auto& v) { ErrorLayout(in, v); });
}

std::string EncodeMail(const DmarcMail& mail) {
  return Encode(mail, [](Writer& out, const auto& v) { MailLayout(out, v); });
}

Status DecodeMail(std::string_view value, DmarcMail* mail) {
  return Decode(value, "report mail value", mail, [](Reader& in, auto& v) { MailLayout(in, v); });
}

}  // namespace archiver::dmarc_codec
