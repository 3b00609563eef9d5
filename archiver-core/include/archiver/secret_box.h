// SecretBox: authenticated encryption of small secrets (remote source passwords) with
// AES-256-GCM (OpenSSL EVP) under a 32-byte key kept in a file of its own, mode 0600.
// A sealed secret is: version byte (1), 12-byte random nonce, ciphertext, 16-byte tag.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "archiver/status.h"

namespace archiver {

class SecretBox {
 public:
  static constexpr size_t kKeySize = 32;

  // Reads the key from `key_path`. When the file is missing and `create_if_missing`,
  // creates it (mode 0600, whatever the umask; its directory must exist) with 32 random
  // bytes from the operating system. Errors: NotFound (missing, !create_if_missing),
  // IOError (unreadable, not creatable; the message names the path and the reason),
  // Corruption (a file that is not exactly 32 bytes, naming its size).
  static Result<SecretBox> Load(const std::string& key_path, bool create_if_missing = true);

  // A box over an explicit key (tests; callers that hold the key elsewhere).
  explicit SecretBox(const std::array<unsigned char, kKeySize>& key);
  ~SecretBox();  // wipes the key
  SecretBox(SecretBox&& other) noexcept;
  SecretBox& operator=(SecretBox&& other) noexcept;
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;

  // Encrypts `plaintext`, binding `context` (e.g. the source name) as associated data,
  // so that a sealed secret moved to another context no longer opens. IOError only if
  // OpenSSL fails. The plaintext never appears in an error.
  Result<std::string> Seal(std::string_view plaintext, std::string_view context) const;

  // Decrypts what Seal produced with the same key and context. Corruption "wrong key or
  // damaged secret" when authentication fails (another key, another context, any
  // changed byte); Corruption naming the problem for a truncated value or an unknown
  // version.
  Result<std::string> Unseal(std::string_view sealed, std::string_view context) const;

 private:
  std::array<unsigned char, kKeySize> key_{};
};

}  // namespace archiver
