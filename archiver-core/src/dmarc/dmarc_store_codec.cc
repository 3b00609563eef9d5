// Encoding and decoding of the DMARC databases' keys and values (see dmarc_store_codec.h).
// Each value's fields are named once, in a *Layout function that runs with a Writer to
// encode and with a Reader to decode, so the two directions cannot disagree. Values are
// read byte by byte from string_views: stored bytes need no alignment.
#include "dmarc/dmarc_store_codec.h"

#include <cstring>
#include <iterator>

#include "archiver/digest.h"
#include "base/ascii.h"
#include "store/record.h"

namespace archiver::dmarc_codec {
namespace {

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

// Appends a value to a string, its version byte first.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(*out) { Byte(kValueVersion); }

  void Byte(uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void Flag(bool value) { Byte(value ? 1 : 0); }
  void Varint(uint64_t value) { record::PutVarint(value, &out_); }
  // Zigzag: 0, -1, 1, -2, ... become 0, 1, 2, 3, ...
  void Signed(int64_t value) {
    Varint((static_cast<uint64_t>(value) << 1) ^ (value < 0 ? ~0ULL : 0));
  }
  template <typename Integer>
  void Optional(const std::optional<Integer>& value) {
    Flag(value.has_value());
    if (value) Signed(*value);
  }
  void String(std::string_view text) { record::PutString(text, &out_); }
  void Token(std::string_view value) {
    for (size_t i = 0; i < std::size(kTokens); ++i) {
      if (kTokens[i] == value) return Byte(static_cast<uint8_t>(i + 1));
    }
    Byte(0);
    String(value);
  }
  // An enumerated value stored as its name (a string).
  template <typename Enum>
  void Named(Enum value, const char* (*name_of)(Enum),
             std::optional<Enum> (*)(std::string_view)) {
    String(name_of(value));
  }
  void OptionalId(const std::optional<MessageId>& id) {
    Flag(id.has_value());
    if (id) out_.append(View(*id));
  }
  template <typename T, typename Each>
  void List(const std::vector<T>& items, Each each) {
    Varint(items.size());
    for (const T& item : items) each(item);
  }

 private:
  std::string& out_;
};

// Reads a value's fields in order; once one is missing or malformed, every later read
// is a no-op and ok() is false.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return ok_; }

  // The version byte: Corruption for 0 or a newer version.
  Status Version(const char* what) {
    uint8_t version = 0;
    Byte(version);
    if (!ok_) return Status::Corruption(std::string(what) + " value is empty");
    if (version == 0 || version > kValueVersion) {
      return Status::Corruption(std::string(what) + " value has unknown version " +
                                std::to_string(version));
    }
    return Status::Ok();
  }
  // Ok, or Corruption naming `what` when a field was missing or malformed.
  Status Done(const char* what) const {
    if (ok_) return Status::Ok();
    return Status::Corruption(std::string(what) + " value is truncated or malformed");
  }

  void Byte(uint8_t& value) {
    if (!Have(1)) return;
    value = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
  }
  void Flag(bool& value) {
    uint8_t byte = 0;
    Byte(byte);
    value = byte != 0;
  }
  void Varint(uint64_t& value) { ok_ = ok_ && record::GetVarint(&in_, &value); }
  void Varint(uint32_t& value) {
    uint64_t wide = 0;
    Varint(wide);
    ok_ = ok_ && wide <= UINT32_MAX;
    value = static_cast<uint32_t>(wide);
  }
  void Signed(int64_t& value) {
    uint64_t zigzag = 0;
    Varint(zigzag);
    value = static_cast<int64_t>((zigzag >> 1) ^ (~(zigzag & 1) + 1));
  }
  template <typename Integer>
  void Optional(std::optional<Integer>& value) {
    bool present = false;
    Flag(present);
    value.reset();
    int64_t number = 0;
    if (present) Signed(number);
    if (present && ok_) value = static_cast<Integer>(number);
  }
  void View(std::string_view& text) {
    uint64_t length = 0;
    Varint(length);
    if (!Have(length)) return;
    text = in_.substr(0, length);
    in_.remove_prefix(length);
  }
  void String(std::string& text) {
    std::string_view view;
    View(view);
    if (ok_) text.assign(view);
  }
  void TokenView(std::string_view& text) {
    uint8_t token = 0;
    Byte(token);
    if (!ok_) return;
    if (token == 0) return View(text);
    ok_ = token <= std::size(kTokens);
    if (ok_) text = kTokens[token - 1];
  }
  void Token(std::string& text) {
    std::string_view view;
    TokenView(view);
    if (ok_) text.assign(view);
  }
  // An enumerated value stored as its name: malformed when it names no value.
  template <typename Enum>
  void Named(Enum& value, const char* (*)(Enum),
             std::optional<Enum> (*named)(std::string_view)) {
    std::string_view name;
    View(name);
    if (!ok_) return;
    std::optional<Enum> found = named(name);
    ok_ = found.has_value();
    if (ok_) value = *found;
  }
  void OptionalId(std::optional<MessageId>& id) {
    bool present = false;
    Flag(present);
    id.reset();
    if (!present || !Have(sizeof(MessageId))) return;
    std::memcpy(id.emplace().data(), in_.data(), id->size());
    in_.remove_prefix(id->size());
  }
  // Every item takes at least one byte, so a corrupt count cannot make this allocate
  // beyond the value's size.
  template <typename T, typename Each>
  void List(std::vector<T>& items, Each each) {
    uint64_t count = 0;
    Varint(count);
    ok_ = ok_ && count <= in_.size();
    items.assign(ok_ ? count : 0, T{});
    for (T& item : items) each(item);
  }

 private:
  bool Have(uint64_t bytes) {
    ok_ = ok_ && bytes <= in_.size();
    return ok_;
  }
  std::string_view in_;
  bool ok_ = true;
};

// The layouts. `Io` is Writer or Reader; `T` the value type, const for the Writer.

template <typename Io, typename T>
void OriginLayout(Io& io, T& origin) {
  io.Named(origin.kind, DmarcOriginKindName, DmarcOriginKindNamed);
  io.String(origin.detail);
  io.OptionalId(origin.mail);
  io.String(origin.part);
}

template <typename Io, typename T>
void Strings(Io& io, T& texts) {
  io.List(texts, [&](auto& text) { io.String(text); });
}

// The summary's fields come first, so that DecodeRecordCore stops early.
template <typename Io, typename T>
void RecordLayout(Io& io, T& record) {
  io.Flag(record.count_valid);
  io.Varint(record.count);
  io.String(record.source_ip);
  io.Token(record.disposition);
  io.Token(record.dkim);
  io.Token(record.spf);
  io.List(record.reasons, [&](auto& reason) {
    io.Token(reason.type);
    io.String(reason.comment);
  });
  io.String(record.header_from);
  io.String(record.envelope_from);
  io.String(record.envelope_to);
  io.List(record.dkim_results, [&](auto& dkim) {
    io.String(dkim.domain);
    io.String(dkim.selector);
    io.Token(dkim.result);
    io.String(dkim.human_result);
  });
  io.List(record.spf_results, [&](auto& spf) {
    io.String(spf.domain);
    io.Token(spf.scope);
    io.Token(spf.result);
    io.String(spf.human_result);
  });
}

template <typename Io, typename T>
void ReportLayout(Io& io, T& stored) {
  auto& report = stored.report;
  auto& meta = report.meta;
  auto& policy = meta.policy_published;
  auto& tally = stored.tally;
  io.Flag(stored.importing);
  io.Varint(stored.owner_pid);
  io.Varint(stored.heartbeat_us);
  io.Signed(stored.range_key);
  io.Varint(report.imported_us);
  OriginLayout(io, report.origin);
  for (auto* text : {&meta.org_name, &meta.email, &meta.extra_contact_info, &meta.report_id}) {
    io.String(*text);
  }
  io.Optional(meta.begin);
  io.Optional(meta.end);
  Strings(io, meta.errors);
  for (auto* text : {&meta.generator, &meta.version, &meta.schema, &policy.domain, &policy.adkim,
                     &policy.aspf, &policy.p, &policy.sp, &policy.np}) {
    io.String(*text);
  }
  io.Optional(policy.pct);
  for (auto* text : {&policy.fo, &policy.testing, &policy.discovery_method}) io.String(*text);
  for (auto* count : {&report.records, &tally.messages, &tally.dmarc_pass, &tally.dkim_aligned,
                      &tally.spf_aligned, &tally.none, &tally.quarantine, &tally.reject}) {
    io.Varint(*count);
  }
  io.Flag(report.recovered);
  Strings(io, report.parser_messages);
}

template <typename Io, typename T>
void FailureLayout(Io& io, T& failure) {
  auto& report = failure.report;
  io.Varint(failure.imported_us);
  OriginLayout(io, failure.origin);
  for (auto* text :
       {&report.feedback_type, &report.version, &report.user_agent, &report.arrival_date}) {
    io.String(*text);
  }
  io.Optional(report.arrival_time);
  for (auto* text : {&report.source_ip, &report.reported_domain, &report.reporting_mta,
                     &report.original_envelope_id, &report.original_mail_from}) {
    io.String(*text);
  }
  Strings(io, report.original_rcpt_to);
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
  io.Varint(error.time_us);
  io.Named(error.kind, DmarcItemKindName, DmarcItemKindNamed);
  io.String(error.reason);
  OriginLayout(io, error.origin);
}

template <typename Io, typename T>
void MailLayout(Io& io, T& mail) {
  io.Varint(mail.processed_us);
  io.String(mail.user);
  io.String(mail.mailbox);
  for (auto* count : {&mail.reports, &mail.failures, &mail.errors}) io.Varint(*count);
}

template <typename T, typename Layout>
std::string Encode(const T& value, Layout layout) {
  std::string out;
  Writer writer(&out);
  layout(writer, value);
  return out;
}

template <typename T, typename Layout>
Status Decode(std::string_view bytes, const char* what, T* value, Layout layout) {
  Reader reader(bytes);
  if (Status version = reader.Version(what); !version.ok()) return version;
  layout(reader, *value);
  return reader.Done(what);
}

void HashString(Sha256& hash, std::string_view text) {
  std::string prefix;
  record::PutVarint(text.size(), &prefix);
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

void EncodeRecord(const AggregateRecord& record, std::string* out) {
  Writer writer(out);
  RecordLayout(writer, record);
}

Status DecodeRecord(std::string_view value, AggregateRecord* record) {
  return Decode(value, "record", record, [](Reader& in, auto& v) { RecordLayout(in, v); });
}

Status DecodeRecordCore(std::string_view value, RecordCore* core) {
  Reader in(value);
  if (Status version = in.Version("record"); !version.ok()) return version;
  bool count_valid = false;
  in.Flag(count_valid);
  in.Varint(core->count);
  in.View(core->source_ip);
  in.TokenView(core->disposition);
  in.TokenView(core->dkim);
  in.TokenView(core->spf);
  return in.Done("record");
}

std::string EncodeReport(const StoredReport& stored) {
  return Encode(stored, [](Writer& out, const auto& v) { ReportLayout(out, v); });
}

Status DecodeReport(std::string_view value, StoredReport* stored) {
  Status decoded =
      Decode(value, "report", stored, [](Reader& in, auto& v) { ReportLayout(in, v); });
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
  return Decode(value, "failure report", failure,
                [](Reader& in, auto& v) { FailureLayout(in, v); });
}

std::string EncodeError(const DmarcError& error) {
  return Encode(error, [](Writer& out, const auto& v) { ErrorLayout(out, v); });
}

Status DecodeError(std::string_view value, DmarcError* error) {
  return Decode(value, "error", error, [](Reader& in, auto& v) { ErrorLayout(in, v); });
}

std::string EncodeMail(const DmarcMail& mail) {
  return Encode(mail, [](Writer& out, const auto& v) { MailLayout(out, v); });
}

Status DecodeMail(std::string_view value, DmarcMail* mail) {
  return Decode(value, "report mail", mail, [](Reader& in, auto& v) { MailLayout(in, v); });
}

}  // namespace archiver::dmarc_codec
