// MessageId: the SHA-256 of a message as the sending MTA transmitted it, and the
// incremental hasher (OpenSSL EVP) that computes it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace archiver {

using MessageId = std::array<uint8_t, 32>;

// 64 lowercase hex digits.
std::string ToHex(const MessageId& id);
// Accepts exactly 64 hex digits (either case); nullopt otherwise.
std::optional<MessageId> MessageIdFromHex(std::string_view hex);
// True when `text` is 1..64 hex digits (a possible id prefix).
bool IsHexPrefix(std::string_view text);

// Incremental SHA-256. Move-only; owns its EVP_MD_CTX.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(std::string_view data);
  // Returns the digest; the hasher is reset and may be reused.
  MessageId Finish();

  static MessageId Of(std::string_view data);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace archiver
