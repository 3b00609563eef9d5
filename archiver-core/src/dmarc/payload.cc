// Report payload containers (see payload.h): detection by content and bounded,
// recursive unpacking. zlib goes through compression.h, the one zlib wrapper; ZIP through
// libzip, read from memory, every handle owned by an RAII guard.
#include "archiver/dmarc/payload.h"

#include <zip.h>

#include <algorithm>
#include <limits>
#include <memory>

#include "base/compression.h"

namespace archiver {
namespace {

// Below this much output the ratio cap does not apply: small reports compress well.
constexpr uint64_t kRatioFloor = 1024 * 1024;
constexpr size_t kZipReadChunk = 64 * 1024;
constexpr const char* kNotKnown = "not a known payload (not XML, gzip, zlib or zip)";

bool StartsWith(std::string_view bytes, std::string_view prefix) {
  return bytes.substr(0, prefix.size()) == prefix;
}

bool IsXmlSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// UTF-16 text after its byte-order mark: whitespace, then '<'. `low_first` for LE.
bool Utf16StartsWithTag(std::string_view text, bool low_first) {
  for (size_t i = 0; i + 1 < text.size(); i += 2) {
    char ascii = low_first ? text[i] : text[i + 1];
    char zero = low_first ? text[i + 1] : text[i];
    if (zero != '\0') return false;
    if (ascii == '<') return true;
    if (!IsXmlSpace(ascii)) return false;
  }
  return false;
}

bool LooksLikeXml(std::string_view bytes) {
  if (StartsWith(bytes, "\xFF\xFE")) return Utf16StartsWithTag(bytes.substr(2), true);
  if (StartsWith(bytes, "\xFE\xFF")) return Utf16StartsWithTag(bytes.substr(2), false);
  if (StartsWith(bytes, "\xEF\xBB\xBF")) bytes.remove_prefix(3);
  size_t first = 0;
  while (first < bytes.size() && IsXmlSpace(bytes[first])) ++first;
  return first < bytes.size() && bytes[first] == '<';
}

// RFC 1950: CM = 8 (deflate), CINFO <= 7 (window <= 32K), CMF*256 + FLG a multiple of 31.
bool LooksLikeZlib(std::string_view bytes) {
  if (bytes.size() < 2) return false;
  unsigned cmf = static_cast<unsigned char>(bytes[0]);
  unsigned flg = static_cast<unsigned char>(bytes[1]);
  return (cmf & 0x0F) == 8 && (cmf >> 4) <= 7 && (cmf * 256 + flg) % 31 == 0;
}

uint64_t SaturatingMultiply(uint64_t a, uint64_t b) {
  if (a != 0 && b > std::numeric_limits<uint64_t>::max() / a) {
    return std::numeric_limits<uint64_t>::max();
  }
  return a * b;
}

std::string Quoted(const std::string& name) { return "\"" + name + "\""; }

// libzip's handles. The archive is only read, so it is discarded, never written back.
struct ZipArchiveDiscard {
  void operator()(zip_t* archive) const noexcept { zip_discard(archive); }
};
struct ZipFileClose {
  void operator()(zip_file_t* file) const noexcept { zip_fclose(file); }
};
struct ZipSourceFree {
  void operator()(zip_source_t* source) const noexcept { zip_source_free(source); }
};
using ZipArchive = std::unique_ptr<zip_t, ZipArchiveDiscard>;
using ZipFile = std::unique_ptr<zip_file_t, ZipFileClose>;
using ZipSource = std::unique_ptr<zip_source_t, ZipSourceFree>;

class ZipError {
 public:
  ZipError() { zip_error_init(&error_); }
  ~ZipError() { zip_error_fini(&error_); }
  ZipError(const ZipError&) = delete;
  ZipError& operator=(const ZipError&) = delete;
  zip_error_t* get() { return &error_; }
  std::string message() { return zip_error_strerror(&error_); }

 private:
  zip_error_t error_;
};

// One call of UnpackPayload: the documents found, the notes, and the output budget
// shared by every decompression of the payload.
class Unpacker {
 public:
  Unpacker(const UnpackLimits& limits, std::vector<std::string>* notes)
      : limits_(limits), notes_(notes) {}

  // Unpacks `bytes`, found `depth` containers deep, under the ZIP entry `name`.
  Status Unpack(std::string_view bytes, int depth, const std::string& name);

  std::vector<UnpackedDocument> documents;
  // Set when the last failure was "this is not XML nor a container": skippable in ZIP.
  bool not_a_payload = false;
  std::vector<std::string> skipped;

 private:
  uint64_t Remaining() const {
    return limits_.max_output_bytes - std::min(produced_, limits_.max_output_bytes);
  }
  // Bytes one container may still produce, having produced `layer_output` from `input_size`.
  uint64_t Allowance(uint64_t input_size, uint64_t layer_output) const;
  Status Exceeded(uint64_t input_size, uint64_t layer_output) const;
  Status Inflate(std::string_view input, compression::Framing framing, std::string* out);
  Status UnpackZip(std::string_view bytes, int depth);
  Status ReadZipEntry(zip_t* archive, zip_uint64_t index, uint64_t archive_size, uint64_t* archive_output, std::string* out);
  void Note(std::string note) {
    if (notes_ != nullptr) notes_->push_back(note);
    skipped.push_back(std::move(note));
  }

  const UnpackLimits& limits_;
  std::vector<std::string>* notes_;
  uint64_t produced_ = 0;  // decompressed bytes, every layer counted
};

uint64_t Unpacker::Allowance(uint64_t input_size, uint64_t layer_output) const {
  uint64_t ratio_cap = std::max(kRatioFloor, SaturatingMultiply(limits_.max_ratio, input_size));
  uint64_t ratio_left = ratio_cap > layer_output ? ratio_cap - layer_output : 0;
  return std::min(Remaining(), ratio_left);
}

Status Unpacker::Exceeded(uint64_t input_size, uint64_t layer_output) const {
  uint64_t ratio_cap = std::max(kRatioFloor, SaturatingMultiply(limits_.max_ratio, input_size));
  if (Remaining() <= (ratio_cap > layer_output ? ratio_cap - layer_output : 0)) {
    return Status::LimitExceeded("decompressed payload exceeds " +
                                 std::to_string(limits_.max_output_bytes) +
                                 " bytes (archiver_dmarc_max_size)");
  }
  return Status::LimitExceeded("compression ratio exceeds " + std::to_string(limits_.max_ratio) +
                               ":1 (" + std::to_string(input_size) + " compressed bytes)");
}

Status Unpacker::Inflate(std::string_view input, compression::Framing framing, std::string* out) {
  uint64_t before = out->size();
  uint64_t allowance = Allowance(input.size(), before);
  uint64_t consumed = 0;
  Status status = compression::InflateBounded(input, framing, allowance, out, &consumed);
  produced_ += out->size() - before;
  if (status.code() == Status::Code::kLimitExceeded) return Exceeded(input.size(), before);
  if (status.code() == Status::Code::kCorruption) {
    return Status::InvalidArgument(status.message());
  }
  if (!status.ok()) return status;
  if (framing == compression::Framing::kZlib && consumed != input.size()) {
    Note(std::to_string(input.size() - consumed) + " bytes after the zlib stream ignored");
  }
  return Status::Ok();
}

Status Unpacker::Unpack(std::string_view bytes, int depth, const std::string& name) {
  not_a_payload = false;
  PayloadKind kind = DetectPayload(bytes);
  if (kind == PayloadKind::kXml) {
    documents.push_back({name, std::string(bytes)});
    return Status::Ok();
  }
  if (kind == PayloadKind::kUnknown) {
    not_a_payload = true;
    return Status::InvalidArgument(bytes.empty() ? "empty input" : kNotKnown);
  }
  if (depth >= limits_.max_nesting) {
    return Status::InvalidArgument("containers nested more than " +
                                   std::to_string(limits_.max_nesting) + " deep");
  }
  if (kind == PayloadKind::kZip) return UnpackZip(bytes, depth);

  std::string inflated;
  if (kind == PayloadKind::kZlib) {
    Status status = Inflate(bytes, compression::Framing::kZlib, &inflated);
    if (!status.ok()) return status.Annotated("zlib");
    return Unpack(inflated, depth + 1, name).Annotated("zlib");
  }
  // gzip: concatenated members are one stream; what follows the last one is ignored
  // (zero padding and trailing garbage are common in the wild).
  std::string_view rest = bytes;
  while (StartsWith(rest, "\x1F\x8B")) {
    uint64_t before = inflated.size();
    uint64_t allowance = Allowance(bytes.size(), before);
    uint64_t consumed = 0;
    Status status =
        compression::InflateBounded(rest, compression::Framing::kGzip, allowance, &inflated, &consumed);
    produced_ += inflated.size() - before;
    if (status.code() == Status::Code::kLimitExceeded) {
      return Exceeded(bytes.size(), before).Annotated("gzip");
    }
    if (status.code() == Status::Code::kCorruption) {
      return Status::InvalidArgument(status.message()).Annotated("gzip");
    }
    if (!status.ok()) return status.Annotated("gzip");
    rest.remove_prefix(consumed);
  }
  if (!rest.empty()) {
    bool zeros = std::all_of(rest.begin(), rest.end(), [](char c) { return c == '\0'; });
    Note(std::to_string(rest.size()) + (zeros ? " zero bytes" : " bytes") +
         " after the gzip stream ignored");
  }
  return Unpack(inflated, depth + 1, name).Annotated("gzip");
}

Status Unpacker::UnpackZip(std::string_view bytes, int depth) {
  ZipError error;
  ZipSource source(zip_source_buffer_create(bytes.data(), bytes.size(), 0, error.get()));
  if (source == nullptr) return Status::IOError("zip: " + error.message());
  ZipArchive archive(zip_open_from_source(source.get(), ZIP_RDONLY | ZIP_CHECKCONS, error.get()));
  if (archive == nullptr) return Status::InvalidArgument("zip: corrupt archive: " + error.message());
  source.release();  // the archive owns it now

  zip_int64_t entries = zip_get_num_entries(archive.get(), 0);
  if (entries < 0) return Status::InvalidArgument("zip: cannot count entries");
  if (static_cast<uint64_t>(entries) > limits_.max_zip_entries) {
    return Status::LimitExceeded("zip: " + std::to_string(entries) + " entries, more than " +
                                 std::to_string(limits_.max_zip_entries));
  }
  if (entries == 0) Note("zip: the archive has no entries");
  uint64_t archive_output = 0;
  for (zip_uint64_t index = 0; index < static_cast<zip_uint64_t>(entries); ++index) {
    zip_stat_t stat;
    zip_stat_init(&stat);
    if (zip_stat_index(archive.get(), index, 0, &stat) != 0) {
      return Status::InvalidArgument("zip: entry " + std::to_string(index) + ": " +
                                     zip_strerror(archive.get()));
    }
    std::string name = (stat.valid & ZIP_STAT_NAME) && stat.name != nullptr ? stat.name : "";
    std::string where = "zip entry " + Quoted(name);
    if (!name.empty() && name.back() == '/') continue;  // a directory
    if ((stat.valid & ZIP_STAT_ENCRYPTION_METHOD) && stat.encryption_method != ZIP_EM_NONE) {
      return Status::InvalidArgument(where + " is encrypted");
    }
    std::string content;
    Status status =
        ReadZipEntry(archive.get(), index, bytes.size(), &archive_output, &content);
    if (!status.ok()) return status.Annotated(where);
    size_t found = documents.size();
    status = Unpack(content, depth + 1, name);
    if (!status.ok() && !not_a_payload) return status.Annotated(where);
    if (!status.ok()) {
      documents.resize(found);
      Note(where + ": " + (content.empty() ? std::string("empty") : status.message()));
    }
  }
  not_a_payload = false;
  return Status::Ok();
}

// Reads one entry, bounded twice: by its declared size (checked first) and by what is
// actually read, since declared sizes lie.
Status Unpacker::ReadZipEntry(zip_t* archive, zip_uint64_t index, uint64_t archive_size, uint64_t* archive_output, std::string* out) {
  zip_stat_t stat;
  zip_stat_init(&stat);
  if (zip_stat_index(archive, index, 0, &stat) == 0 && (stat.valid & ZIP_STAT_SIZE) &&
      stat.size > Allowance(archive_size, *archive_output)) {
    return Exceeded(archive_size, *archive_output).Annotated("declared size");
  }
  ZipFile file(zip_fopen_index(archive, index, 0));
  if (file == nullptr) {
    return Status::InvalidArgument(std::string("cannot open: ") + zip_strerror(archive));
  }
  char buffer[kZipReadChunk];
  while (true) {
    zip_int64_t got = zip_fread(file.get(), buffer, sizeof buffer);
    if (got < 0) {
      return Status::InvalidArgument(std::string("corrupt: ") + zip_file_strerror(file.get()));
    }
    if (got == 0) break;
    if (static_cast<uint64_t>(got) > Allowance(archive_size, *archive_output)) {
      return Exceeded(archive_size, *archive_output);
    }
    out->append(buffer, static_cast<size_t>(got));
    *archive_output += static_cast<uint64_t>(got);
    produced_ += static_cast<uint64_t>(got);
  }
  return Status::Ok();
}

}  // namespace

PayloadKind DetectPayload(std::string_view bytes) {
  if (StartsWith(bytes, "\x1F\x8B")) return PayloadKind::kGzip;
  if (StartsWith(bytes, "PK\x03\x04") || StartsWith(bytes, "PK\x05\x06")) return PayloadKind::kZip;
  if (LooksLikeXml(bytes)) return PayloadKind::kXml;
  if (LooksLikeZlib(bytes)) return PayloadKind::kZlib;
  return PayloadKind::kUnknown;
}

const char* PayloadKindName(PayloadKind kind) {
  switch (kind) {
    case PayloadKind::kXml:
      return "xml";
    case PayloadKind::kGzip:
      return "gzip";
    case PayloadKind::kZlib:
      return "zlib";
    case PayloadKind::kZip:
      return "zip";
    case PayloadKind::kUnknown:
      break;
  }
  return "unknown";
}

Result<std::vector<UnpackedDocument>> UnpackPayload(std::string_view bytes,
                                                    const UnpackLimits& limits,
                                                    std::vector<std::string>* notes) {
  if (bytes.empty()) return Status::InvalidArgument("empty input");
  Unpacker unpacker(limits, notes);
  Status status = unpacker.Unpack(bytes, 0, "");
  if (!status.ok()) return status;
  if (unpacker.documents.empty()) {
    std::string why;
    for (const std::string& note : unpacker.skipped) why += (why.empty() ? "" : "; ") + note;
    return Status::InvalidArgument("no XML document in the payload" +
                                   (why.empty() ? std::string() : " (" + why + ")"));
  }
  return std::move(unpacker.documents);
}

}  // namespace archiver
