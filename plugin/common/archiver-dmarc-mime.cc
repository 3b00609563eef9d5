// The MIME walk for DMARC report mails: Dovecot's message parser splits the mail into
// parts, its decoder undoes base64 / quoted-printable, and each part goes to the
// pipeline in MIME order with its type, file name and IMAP part number.
#include "common/archiver-dmarc-mime.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>

#include "archiver/header_summary.h"
#include "archiver/dmarc/payload.h"
#include "archiver/store/store.h"
#include "archiver/time_format.h"

namespace archiver::plugin {
namespace {

// A data-stack frame that is popped however the scope is left.
class DataStackFrame {
 public:
  DataStackFrame() : id_(t_push("archiver-dmarc-mime")) {}
  ~DataStackFrame() { (void)t_pop(&id_); }
  DataStackFrame(const DataStackFrame&) = delete;
  DataStackFrame& operator=(const DataStackFrame&) = delete;

 private:
  data_stack_frame_t id_;
};

bool HeaderIs(const struct message_header_line* hdr, const char* name) {
  return strcasecmp(hdr->name, name) == 0;
}

std::string Lowercase(std::string text) {
  str_lcase(text.data());
  return text;
}

// An RFC 2231 extended value ("utf-8'en'%C3%A9t%C3%A9.xml") as UTF-8.
std::string DecodeExtendedValue(const char* value) {
  const char* charset_end = std::strchr(value, '\'');
  const char* language_end = charset_end == nullptr ? nullptr : std::strchr(charset_end + 1, '\'');
  if (language_end == nullptr) return value;
  std::string bytes;
  for (const char* p = language_end + 1; *p != '\0'; ++p) {
    if (*p == '%' && i_isxdigit(p[1]) && i_isxdigit(p[2])) {
      bytes += static_cast<char>(std::stoi(std::string(p + 1, 2), nullptr, 16));
      p += 2;
    } else {
      bytes += *p;
    }
  }
  std::string charset(value, charset_end);
  if (charset.empty()) return bytes;
  string_t* utf8 = t_str_new(bytes.size() + 16);
  enum charset_result result;
  if (charset_to_utf8_str(charset.c_str(), nullptr, bytes.c_str(), utf8, &result) < 0)
    return bytes;  // an unknown charset: the bytes as sent
  return str_c(utf8);
}

// The "name" (Content-Type) or "filename" (Content-Disposition) parameter of a header
// value after its leading token; RFC 2231 continuations and encodings and RFC 2047
// encoded-words are decoded. "" when absent.
std::string ParameterOf(struct rfc822_parser_context* parser, const char* key) {
  const char* const* params = nullptr;
  (void)rfc2231_parse(parser, &params);
  const size_t key_length = std::strlen(key);
  for (; params[0] != nullptr; params += 2) {
    if (strcasecmp(params[0], key) == 0) return DecodeRfc2047(params[1]);
    if (strncasecmp(params[0], key, key_length) == 0 &&
        std::strcmp(params[0] + key_length, "*") == 0)
      return DecodeExtendedValue(params[1]);
  }
  return "";
}

// Parses a Content-Type ("type/subtype; name=…", `content_type`) or Content-Disposition
// ("attachment; filename=…") value into its leading token, lowercased, and its
// parameter `key`. False when the value does not start with a token.
bool ParseFieldValue(const std::string& value, bool content_type, const char* key,
                     std::string* token, std::string* parameter) {
  DataStackFrame frame;
  struct rfc822_parser_context parser;
  rfc822_parser_init(&parser, reinterpret_cast<const unsigned char*>(value.data()), value.size(),
                     nullptr);
  rfc822_skip_lwsp(&parser);
  string_t* text = t_str_new(64);
  const int parsed = content_type ? rfc822_parse_content_type(&parser, text)
                                  : rfc822_parse_mime_token(&parser, text);
  if (parsed >= 0) {
    *token = Lowercase(str_c(text));
    *parameter = ParameterOf(&parser, key);
  }
  rfc822_parser_deinit(&parser);
  return parsed >= 0;
}

// What the walk knows about one MIME part of the mail.
struct PartInfo {
  std::string path;                // IMAP part number (a multipart's parts are numbered below
                                   // it; the top one and one inside message/rfc822 share
                                   // the number above)
  unsigned depth = 0;              // containers above it, in this mail and the ones it is in
  std::string content_type_value;  // raw header values, parsed at the end of the header
  std::string disposition_value;
  std::string content_type;  // lowercased type/subtype
  std::string filename;
  bool headers_done = false;
  std::string header_block;  // message/rfc822: the embedded message's header block
  bool header_block_cut = false;
  std::string body;         // a leaf: its decoded bytes, up to the limit and one more
  uint64_t body_bytes = 0;  // every decoded byte, kept or not
};

std::string JoinPath(const std::string& prefix, unsigned number) {
  return prefix.empty() ? std::to_string(number) : prefix + "." + std::to_string(number);
}

unsigned ChildNumber(const struct message_part* part) {
  unsigned number = 1;
  for (const struct message_part* sibling = part->parent->children; sibling != part;
       sibling = sibling->next)
    ++number;
  return number;
}

bool IsContainer(const struct message_part* part) {
  return (part->flags & (MESSAGE_PART_FLAG_MULTIPART | MESSAGE_PART_FLAG_MESSAGE_RFC822)) != 0;
}

// A mail attached without message/rfc822 (application/octet-stream, "x.eml"): its bytes
// open with header fields, among them one every mail has.
bool LooksLikeMail(std::string_view bytes) {
  size_t end = bytes.find("\n\n");
  size_t crlf_end = bytes.find("\r\n\r\n");
  if (crlf_end < end) end = crlf_end;
  if (end == std::string_view::npos || end > 256 * 1024) return false;
  std::string headers = Lowercase(std::string("\n") + std::string(bytes.substr(0, end)));
  size_t first_colon = headers.find(':');
  if (first_colon == std::string::npos || first_colon < 2 ||
      headers.find_first_of(" \t\r\n", 1) < first_colon)
    return false;
  for (const char* field : {"\nfrom:", "\nreceived:", "\ncontent-type:", "\nmime-version:"}) {
    if (headers.find(field) != std::string::npos) return true;
  }
  return false;
}

// An input stream over bytes in memory, released however the scope is left.
class MemoryInput {
 public:
  explicit MemoryInput(std::string_view bytes)
      : stream_(i_stream_create_from_data(bytes.data(), bytes.size())) {}
  ~MemoryInput() { i_stream_unref(&stream_); }
  MemoryInput(const MemoryInput&) = delete;
  MemoryInput& operator=(const MemoryInput&) = delete;
  struct istream* get() const {
    return stream_;
  }

 private:
  struct istream* stream_;
};

// Dovecot's message parser and the pool its parts live in, released however the walk
// ends.
class PartParser {
 public:
  PartParser(struct istream* input, const struct message_parser_settings& settings)
      : pool_(pool_alloconly_create("archiver dmarc parts", 4096)),
        parser_(message_parser_init(pool_, input, &settings)) {}
  ~PartParser() {
    Finish();
    pool_unref(&pool_);
  }
  PartParser(const PartParser&) = delete;
  PartParser& operator=(const PartParser&) = delete;

  // The next block; false at the end of the input or when reading it fails.
  bool Next(struct message_block* block) {
    return message_parser_parse_next_block(parser_, block) > 0;
  }
  // Ends the parse: the tree of parts, valid as long as this object.
  const struct message_part* Finish() {
    if (parser_ != nullptr) {
      const char* error = nullptr;
      (void)message_parser_deinit_from_parts(&parser_, &root_, &error);
    }
    return root_;
  }

 private:
  pool_t pool_;
  struct message_parser_ctx* parser_;
  struct message_part* root_ = nullptr;
};

// What a walk shares with the walks of the mails attached to its mail.
struct WalkContext {
  const DmarcWalkLimits& limits;
  uint64_t max_part_bytes;  // decoded bytes of one part
  DmarcMailPipeline& pipeline;
  unsigned parts_left;
};

class MailWalk {
 public:
  explicit MailWalk(WalkContext& context) : context_(context) {
    decoder_ = message_decoder_init(nullptr, MESSAGE_DECODER_FLAG_RETURN_BINARY);
    // The decoder must return every part's bytes untouched: a part it takes for text
    // (text/*, or a Content-Type with a charset) it converts to UTF-8, which would
    // damage a gzip sent as text/plain or XML declaring its own encoding. So it only
    // ever sees a flagless stand-in for the part, and no Content-Type.
    i_zero(&decoder_part_);
  }
  ~MailWalk() { message_decoder_deinit(&decoder_); }
  MailWalk(const MailWalk&) = delete;
  MailWalk& operator=(const MailWalk&) = delete;

  // Walks the mail in `input`; its parts are numbered under `prefix` ("" for a mail
  // itself, "2" for one attached as part 2), `depth` containers deep.
  Status Walk(struct istream* input, const std::string& prefix, unsigned depth);

 private:
  Status OnBlock(struct message_block& block);
  void OnHeader(PartInfo& info, struct message_block& block);
  Status EndHeaders(PartInfo& info);
  Status FinishPart();
  Status HandOver(PartInfo& info);
  Status ReportLimits(const struct message_part* root);

  WalkContext& context_;
  struct message_decoder_context* decoder_ = nullptr;
  struct message_part decoder_part_;
  std::string prefix_;
  unsigned depth_ = 0;
  std::unordered_map<const struct message_part*, PartInfo> parts_;
  const struct message_part* current_ = nullptr;
};

Status MailWalk::Walk(struct istream* input, const std::string& prefix, unsigned depth) {
  prefix_ = prefix;
  depth_ = depth;
  struct message_parser_settings settings;
  i_zero(&settings);
  // Beyond these limits the parser keeps the rest as one part (flagged OVERFLOW).
  settings.max_nested_mime_parts = context_.limits.max_depth - depth + 1;
  // 0 would be Dovecot's default
  settings.max_total_mime_parts = std::max(1u, context_.parts_left);
  PartParser parser(input, settings);
  struct message_block block;
  Status status;
  while (status.ok() && parser.Next(&block)) status = OnBlock(block);
  if (status.ok()) status = FinishPart();
  const struct message_part* root = parser.Finish();
  if (status.ok() && input->stream_errno != 0)
    status = Status::IOError(std::string("reading the mail failed: ") + i_stream_get_error(input));
  if (status.ok() && root != nullptr) {
    context_.parts_left -= std::min(context_.parts_left, root->children_count + 1);
    status = ReportLimits(root);
  }
  return status;
}

Status MailWalk::OnBlock(struct message_block& block) {
  if (block.part != current_) {
    Status finished = FinishPart();
    if (!finished.ok()) return finished;
    current_ = block.part;
    message_decoder_decode_reset(decoder_);
  }
  PartInfo& info = parts_[block.part];
  if (block.hdr != nullptr) {
    OnHeader(info, block);
    return Status::Ok();
  }
  if (block.size == 0) return EndHeaders(info);
  if (IsContainer(block.part)) return Status::Ok();
  struct message_block shadow = block;
  shadow.part = &decoder_part_;
  struct message_block decoded;
  if (!message_decoder_decode_next_block(decoder_, &shadow, &decoded) || decoded.size == 0)
    return Status::Ok();
  info.body_bytes += decoded.size;
  const uint64_t keep = context_.max_part_bytes + 1;
  if (info.body.size() < keep) {
    info.body.append(reinterpret_cast<const char*>(decoded.data),
                     std::min<uint64_t>(decoded.size, keep - info.body.size()));
  }
  return Status::Ok();
}

void MailWalk::OnHeader(PartInfo& info, struct message_block& block) {
  struct message_header_line* hdr = block.hdr;
  const struct message_part* parent = block.part->parent;
  if (parent != nullptr && (parent->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0) {
    // The header of an embedded message: kept whole for its message/rfc822 part.
    PartInfo& container = parts_[parent];
    if (container.header_block.size() + hdr->name_len + hdr->middle_len + hdr->value_len + 2 <=
        context_.max_part_bytes) {
      DataStackFrame frame;
      buffer_t* line = t_buffer_create(hdr->name_len + hdr->middle_len + hdr->value_len + 2);
      message_header_line_write(line, hdr);
      container.header_block.append(static_cast<const char*>(line->data), line->used);
    } else {
      container.header_block_cut = true;
    }
  }
  if (hdr->eoh || !(HeaderIs(hdr, "Content-Type") || HeaderIs(hdr, "Content-Disposition") ||
                    HeaderIs(hdr, "Content-Transfer-Encoding")))
    return;
  if (hdr->continues) {
    hdr->use_full_value = TRUE;  // the value arrives whole with the header's last line
    return;
  }
  std::string_view value(reinterpret_cast<const char*>(hdr->full_value), hdr->full_value_len);
  if (HeaderIs(hdr, "Content-Type")) {
    if (info.content_type_value.empty()) info.content_type_value = value.empty() ? " " : value;
  } else if (HeaderIs(hdr, "Content-Disposition")) {
    if (info.disposition_value.empty()) info.disposition_value = value;
  } else if (message_decoder_parse_cte(hdr) != MESSAGE_CTE_UNKNOWN) {
    // An encoding the decoder does not know leaves the part as it was sent.
    struct message_block shadow = block;
    shadow.part = &decoder_part_;
    struct message_block ignored;
    (void)message_decoder_decode_next_block(decoder_, &shadow, &ignored);
  }
}

Status MailWalk::EndHeaders(PartInfo& info) {
  if (info.headers_done) return Status::Ok();
  info.headers_done = true;
  const struct message_part* part = current_;
  const struct message_part* parent = part->parent;
  std::string token, filename;
  if (!info.content_type_value.empty() &&
      ParseFieldValue(info.content_type_value, true, "name", &token, &filename)) {
    info.content_type = token;
    info.filename = filename;
  }
  if (!info.disposition_value.empty() &&
      ParseFieldValue(info.disposition_value, false, "filename", &token, &filename) &&
      !filename.empty())
    info.filename = filename;
  // Numbers as IMAP gives them (RFC 3501 6.4.5): a mail that is not multipart has its
  // body as part 1; the message inside a message/rfc822 part N is N.1 unless it is a
  // multipart, whose parts are then N.1, N.2, ...
  const bool multipart = (part->flags & MESSAGE_PART_FLAG_MULTIPART) != 0;
  if (parent == nullptr) {
    info.depth = depth_;
    info.path = multipart ? prefix_ : JoinPath(prefix_, 1);
  } else {
    const PartInfo& above = parts_[parent];
    info.depth = above.depth + 1;
    if ((parent->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0)
      info.path = multipart ? above.path : JoinPath(above.path, 1);
    else
      info.path = JoinPath(above.path, ChildNumber(part));
  }

  if (!IsContainer(part)) {
    struct message_block end_of_headers;
    i_zero(&end_of_headers);
    end_of_headers.part = &decoder_part_;
    struct message_block ignored;
    (void)message_decoder_decode_next_block(decoder_, &end_of_headers, &ignored);
  }
  if (parent != nullptr && (parent->flags & MESSAGE_PART_FLAG_MESSAGE_RFC822) != 0) {
    // The embedded message's header is complete: its message/rfc822 part goes first.
    PartInfo& container = parts_[parent];
    if (container.header_block_cut) {
      return context_.pipeline.RecordError(DmarcItemKind::kMail, container.path,
                                           "the header of the attached message is larger than " +
                                               FormatBytes(context_.max_part_bytes) +
                                               " (archiver_dmarc_max_size)");
    }
    DmarcPart handed{"message/rfc822", container.filename, container.path, container.header_block};
    Status added = context_.pipeline.AddPart(handed);
    container.header_block.clear();
    if (!added.ok()) return added;
  }
  return Status::Ok();
}

Status MailWalk::FinishPart() {
  if (current_ == nullptr) return Status::Ok();
  PartInfo& info = parts_[current_];
  // A header cut short by the end of the mail has no end-of-header block.
  Status status = EndHeaders(info);
  if (status.ok() && !IsContainer(current_)) status = HandOver(info);
  info.body.clear();
  info.body.shrink_to_fit();
  current_ = nullptr;
  return status;
}

Status MailWalk::HandOver(PartInfo& info) {
  // Kept whole by the parser beyond the limits: ReportLimits says so.
  if ((current_->flags & MESSAGE_PART_FLAG_OVERFLOW) != 0) return Status::Ok();
  DmarcPart part{info.content_type, info.filename, info.path, info.body};
  const bool container = DetectPayload(info.body) != PayloadKind::kUnknown;
  // A mail attached as a file. Only a declared non-text type: a part without one is
  // text/plain (RFC 2045).
  const bool attached_mail = !container && !info.content_type.empty() &&
                             !info.content_type.starts_with("text/") && LooksLikeMail(info.body);
  if (info.body_bytes > context_.max_part_bytes) {
    // Only a report container or an attached mail this large is an error; anything else
    // (an image, a PDF) is not a report.
    if (!container && !attached_mail) return Status::Ok();
    return context_.pipeline.RecordError(
        DmarcItemKind::kPayload, info.path,
        (info.filename.empty() ? "the attachment" : info.filename) + " is " +
            FormatBytes(info.body_bytes) + " decoded, over archiver_dmarc_max_size (" +
            FormatBytes(context_.max_part_bytes) + "): not read");
  }
  if (attached_mail) {
    // A mail attached as a file: walked as if it were message/rfc822.
    const DmarcWalkLimits& limits = context_.limits;
    if (info.depth + 1 >= limits.max_depth || context_.parts_left == 0) {
      return context_.pipeline.RecordError(
          DmarcItemKind::kMail, info.path,
          "attached mail beyond the limits (" + std::to_string(limits.max_depth) + " levels, " +
              std::to_string(limits.max_parts) + " MIME parts): not read");
    }
    MailWalk inner(context_);
    MemoryInput input(info.body);
    return inner.Walk(input.get(), info.path, info.depth + 1);
  }
  return context_.pipeline.AddPart(part);
}

// Parts the parser kept whole because the mail went beyond the limits.
Status MailWalk::ReportLimits(const struct message_part* root) {
  for (const struct message_part* part = root; part != nullptr; part = part->next) {
    if ((part->flags & MESSAGE_PART_FLAG_OVERFLOW) != 0) {
      auto found = parts_.find(part);
      std::string path = found == parts_.end() ? prefix_ : found->second.path;
      Status recorded = context_.pipeline.RecordError(
          DmarcItemKind::kMail, path,
          context_.parts_left == 0
              ? "more than " + std::to_string(context_.limits.max_parts) +
                    " MIME parts: the rest of the mail was not read"
              : "MIME parts nested deeper than " + std::to_string(context_.limits.max_depth) +
                    " levels: part " + path + " was not read");
      if (!recorded.ok()) return recorded;
    }
    Status inner = ReportLimits(part->children);
    if (!inner.ok()) return inner;
  }
  return Status::Ok();
}

}  // namespace

Result<std::vector<DmarcItem>> ReadDmarcMail(struct istream* input, DmarcStore& store,
                                             const DmarcPipelineOptions& options,
                                             const DmarcOrigin& origin,
                                             const DmarcWalkLimits& limits) {
  DmarcMailPipeline pipeline(store, options, origin);
  WalkContext context{limits, options.unpack.max_output_bytes, pipeline, limits.max_parts};
  MailWalk walk(context);
  Status walked = walk.Walk(input, "", 0);
  if (!walked.ok()) return walked;
  return pipeline.Finish();
}

Result<std::vector<DmarcItem>> ReadDmarcMail(std::string_view mail, DmarcStore& store,
                                             const DmarcPipelineOptions& options,
                                             const DmarcOrigin& origin,
                                             const DmarcWalkLimits& limits) {
  MemoryInput input(mail);
  return ReadDmarcMail(input.get(), store, options, origin, limits);
}

Result<std::vector<DmarcItem>> ReadArchivedDmarcMail(std::string_view mail, DmarcStore& store,
                                                     const DmarcPipelineOptions& options,
                                                     const DmarcOrigin& origin, DmarcMail* noted) {
  Result<std::vector<DmarcItem>> items = ReadDmarcMail(mail, store, options, origin);
  if (!items.ok()) return items;
  const DmarcItemTally tally = TallyDmarcItems(*items);
  noted->reports = static_cast<uint32_t>(tally.reports);
  noted->failures = static_cast<uint32_t>(tally.failures);
  noted->errors = static_cast<uint32_t>(tally.errors);
  noted->processed_us = NowMicros();
  Status written = store.NoteMail(*noted);
  if (!written.ok()) return written;
  return items;
}

}  // namespace archiver::plugin
