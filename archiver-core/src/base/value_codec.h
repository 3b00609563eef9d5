// The one encoding of stored values (docs/store-format.md, "Values"): a version byte,
// then varints, zigzag varints, length-prefixed strings, one-byte flags and fixed bytes
// in an order that a *Layout(Io& io, T& value) template names once; it runs with a
// Writer to encode and with a Reader to decode, so the two directions cannot disagree.
// Stored bytes are read one at a time from string_views: they need no alignment.
#pragma once

#include <array>
#include <concepts>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archiver/status.h"

namespace archiver::value_codec {

// Big-endian, so that byte order is numeric order (keys, counters).
inline void PutBigEndian64(uint64_t value, char* dest) {
  for (int i = 7; i >= 0; --i) {
    dest[i] = static_cast<char>(value & 0xFF);
    value >>= 8;
  }
}

inline uint64_t GetBigEndian64(const char* src) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = value << 8 | static_cast<unsigned char>(src[i]);
  return value;
}

// Little-endian base 128, at most 10 bytes.
inline void PutVarint(uint64_t value, std::string* out) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>(value | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// Reads a varint from the front of `in` and advances it; false (and `in` unchanged) if
// truncated or beyond 64 bits.
inline bool GetVarint(std::string_view* in, uint64_t* value);

// A varint length, then the bytes.
inline void PutString(std::string_view text, std::string* out) {
  PutVarint(text.size(), out);
  out->append(text);
}

inline bool GetString(std::string_view* in, std::string* text);

// Appends a value's fields to a string. Every method takes what it writes by value or
// const reference; a Layout's value is const when it runs with a Writer.
class Writer {
 public:
  static constexpr bool kReading = false;
  explicit Writer(std::string* out) : out_(*out) {}

  // Writes `written` (a value writes its current version unless its layout says an older
  // one still holds all it has) and returns it, so that a Layout can test it.
  uint8_t Version(uint8_t current, uint8_t written) {
    (void)current;
    Byte(written);
    return written;
  }
  uint8_t Version(uint8_t current) { return Version(current, current); }
  void Byte(uint8_t value) { out_.push_back(static_cast<char>(value)); }
  void Flag(bool value) { Byte(value ? 1 : 0); }
  void Varint(uint64_t value) { PutVarint(value, &out_); }
  // Zigzag: 0, -1, 1, -2, ... become 0, 1, 2, 3, ...
  void Signed(int64_t value) {
    Varint((static_cast<uint64_t>(value) << 1) ^ (value < 0 ? ~0ULL : 0));
  }
  template <typename Enum>
  void EnumValue(Enum value, Enum last) {
    (void)last;
    Varint(static_cast<uint64_t>(value));
  }
  void String(std::string_view text) { PutString(text, &out_); }
  template <size_t N>
  void Bytes(const std::array<uint8_t, N>& bytes) {
    out_.append(reinterpret_cast<const char*>(bytes.data()), N);
  }
  // A flag, then the value when present.
  template <typename T, typename Each>
  void Optional(const std::optional<T>& value, Each each) {
    Flag(value.has_value());
    if (value) each(*value);
  }
  // A count, then each item. `min_item_bytes` only matters to the Reader.
  template <typename T, typename Each>
  void List(const std::vector<T>& items, Each each, size_t min_item_bytes = 1) {
    (void)min_item_bytes;
    Varint(items.size());
    for (const T& item : items) each(item);
  }
  void Strings(const std::vector<std::string>& texts) {
    List(texts, [&](const std::string& text) { String(text); });
  }
  // An enumerated value stored as its name (a string): `name_of` gives it, `named` (the
  // Reader's) finds the value again.
  template <typename Enum>
  void Named(Enum value, const char* (*name_of)(Enum),
             std::optional<Enum> (*named)(std::string_view)) {
    (void)named;
    String(name_of(value));
  }
  // Fields that the version written lacks: nothing to write.
  template <typename... T>
  void Missing(const T&...) {}

 private:
  std::string& out_;
};

// Reads a value's fields in order. After the first missing or malformed field every
// read is a no-op (leaving its target as it was) and Done() reports that first problem.
class Reader {
 public:
  static constexpr bool kReading = true;
  explicit Reader(std::string_view in) : in_(in) {}
  bool ok() const { return problem_ == Problem::kNone; }
  std::string_view rest() const { return in_; }  // the bytes not read yet
  // Ok, or Corruption: "<what> is empty", "<what> has unknown version N", "<what> is
  // truncated", or "<what> has <the malformed field>".
  Status Done(const char* what) const;
  // Marks the value as malformed (`problem` names the field, "a UID beyond 32 bits").
  void Fail(const char* malformed) {
    if (!ok()) return;
    problem_ = Problem::kMalformed;
    malformed_ = malformed;
  }

  // The version read: 1..current. 0 when missing, zero or newer (then failed).
  uint8_t Version(uint8_t current, uint8_t written) {
    (void)written;
    if (!ok()) return 0;
    if (in_.empty()) {
      problem_ = Problem::kEmpty;
      return 0;
    }
    const auto version = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    if (version == 0 || version > current) {
      problem_ = Problem::kUnknownVersion;
      bad_version_ = version;
      return 0;
    }
    return version;
  }
  uint8_t Version(uint8_t current) { return Version(current, current); }
  void Byte(uint8_t& value) {
    if (!Have(1)) return;
    value = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
  }
  // One byte, 0 or 1.
  void Flag(bool& value) {
    uint8_t byte = 0;
    Byte(byte);
    if (byte > 1) return Fail("a flag other than 0 or 1");
    if (ok()) value = byte == 1;
  }
  void Varint(uint64_t& value) {
    if (!ok()) return;
    uint64_t result = 0;
    for (size_t i = 0; i < 10; ++i) {
      if (i == in_.size()) return Truncated();
      const auto byte = static_cast<unsigned char>(in_[i]);
      if (i == 9 && byte > 1) return Fail("a varint beyond 64 bits");
      result |= static_cast<uint64_t>(byte & 0x7F) << (7 * i);
      if ((byte & 0x80) == 0) {
        in_.remove_prefix(i + 1);
        value = result;
        return;
      }
    }
  }
  void Varint(uint32_t& value) {
    uint64_t wide = 0;
    Varint(wide);
    if (wide > UINT32_MAX) return Fail("a number beyond 32 bits");
    if (ok()) value = static_cast<uint32_t>(wide);
  }
  template <std::signed_integral Integer>
  void Signed(Integer& value) {
    uint64_t zigzag = 0;
    Varint(zigzag);
    const auto wide = static_cast<int64_t>((zigzag >> 1) ^ (~(zigzag & 1) + 1));
    if (wide < std::numeric_limits<Integer>::min() || wide > std::numeric_limits<Integer>::max()) {
      return Fail("a signed number out of range");
    }
    if (ok()) value = static_cast<Integer>(wide);
  }
  // A varint no larger than `last`, the enumeration's last value.
  template <typename Enum>
  void EnumValue(Enum& value, Enum last) {
    uint64_t number = 0;
    Varint(number);
    if (number > static_cast<uint64_t>(last)) return Fail("an unknown enumerated value");
    if (ok()) value = static_cast<Enum>(number);
  }
  void String(std::string& text) {
    std::string_view view;
    String(view);
    if (ok()) text.assign(view);
  }
  // An enumerated value stored as its name: malformed when the name is no value's.
  template <typename Enum>
  void Named(Enum& value, const char* (*name_of)(Enum),
             std::optional<Enum> (*named)(std::string_view)) {
    (void)name_of;
    std::string_view name;
    String(name);
    if (!ok()) return;
    std::optional<Enum> found = named(name);
    if (!found) return Fail("an unknown name");
    value = *found;
  }
  // Without copying: `text` points into the value read.
  void String(std::string_view& text) {
    uint64_t length = 0;
    Varint(length);
    if (!Have(length)) return;
    text = in_.substr(0, length);
    in_.remove_prefix(length);
  }
  template <size_t N>
  void Bytes(std::array<uint8_t, N>& bytes) {
    if (!Have(N)) return;
    std::memcpy(bytes.data(), in_.data(), N);
    in_.remove_prefix(N);
  }
  template <typename T, typename Each>
  void Optional(std::optional<T>& value, Each each) {
    bool present = false;
    Flag(present);
    if (!ok()) return;
    value.reset();
    if (present) each(value.emplace());
  }
  // Every item takes at least `min_item_bytes` (>= 1), so a count that the bytes left
  // cannot hold is a truncated value, refused before anything is allocated for it.
  template <typename T, typename Each>
  void List(std::vector<T>& items, Each each, size_t min_item_bytes = 1) {
    uint64_t count = 0;
    Varint(count);
    if (count > in_.size() / min_item_bytes) Truncated();
    if (!ok()) return;
    items.clear();
    items.resize(count);
    for (T& item : items) each(item);
  }
  void Strings(std::vector<std::string>& texts) {
    List(texts, [&](std::string& text) { String(text); });
  }
  // Fields that the version read lacks: their defaults (strings and lists keep their
  // capacity).
  template <typename... T>
  void Missing(T&... values) {
    if (ok()) (Reset(values), ...);
  }

 private:
  enum class Problem : uint8_t { kNone, kEmpty, kUnknownVersion, kTruncated, kMalformed };

  template <typename T>
  static void Reset(T& value) {
    if constexpr (requires { value.clear(); }) {
      value.clear();
    } else {
      value = T{};
    }
  }
  void Truncated() {
    if (ok()) problem_ = Problem::kTruncated;
  }
  bool Have(uint64_t bytes) {
    if (bytes > in_.size()) Truncated();
    return ok();
  }

  std::string_view in_;
  Problem problem_ = Problem::kNone;
  uint8_t bad_version_ = 0;          // kUnknownVersion: the version byte read
  const char* malformed_ = nullptr;  // kMalformed: the field, a static string
};

// Encodes `value` with `layout(writer, value)`, appending to `out`.
template <typename T, typename Layout>
void EncodeTo(const T& value, Layout layout, std::string* out) {
  Writer writer(out);
  layout(writer, value);
}

template <typename T, typename Layout>
std::string Encode(const T& value, Layout layout) {
  std::string out;
  EncodeTo(value, layout, &out);
  return out;
}

// Decodes `bytes` into `*value` with `layout(reader, *value)`. Bytes after the fields the
// layout knows are ignored (later versions append). On Corruption `*value` may be partly
// overwritten.
template <typename T, typename Layout>
Status Decode(std::string_view bytes, const char* what, T* value, Layout layout) {
  Reader reader(bytes);
  layout(reader, *value);
  return reader.Done(what);
}

inline bool GetVarint(std::string_view* in, uint64_t* value) {
  Reader reader(*in);
  reader.Varint(*value);
  if (!reader.ok()) return false;
  *in = reader.rest();
  return true;
}

inline bool GetString(std::string_view* in, std::string* text) {
  Reader reader(*in);
  reader.String(*text);
  if (!reader.ok()) return false;
  *in = reader.rest();
  return true;
}

}  // namespace archiver::value_codec
