// SecretBox: authenticated encryption of small secrets (remote source passwords) with
// AES-256-GCM (OpenSSL EVP) under a 32-byte key kept in a file of its own, mode 0600.
// A sealed secret is: version byte, 12-byte random nonce, ciphertext, 16-byte tag.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "archiver/status.h"

namespace archiver {

class SecretBox {
 public:
  static constexpr size_t kKeySize = 32;
  // The versions of the sealed format. What `context` holds is the caller's contract; the
  // version tells a reader which contract a secret was sealed under, so that it can refuse
  // an old one. Version 1: the associated data is the context. Version 2: the version
  // byte, then the context.
  static constexpr unsigned char kVersion1 = 1;
  static constexpr unsigned char kVersion2 = 2;

  // Reads the key from `key_path`. When the file is missing and `create_if_missing`,
  // creates it (mode 0600, whatever the umask; its directory must exist and pass
  // CheckKeyDirectory) with 32 random bytes from the operating system. Errors: NotFound
  // (missing, !create_if_missing), IOError (unreadable, not creatable; the message names
  // the path and the reason), PermissionDenied (a file or directory someone else could
  // have replaced: see CheckKeyDirectory; a symbolic link, a file with other links, of
  // another owner or that others may read), Corruption (a file that is not exactly 32
  // bytes, naming its size).
  static Result<SecretBox> Load(const std::string& key_path, bool create_if_missing = true);

  // Creates directory `dir` (mode 0700) when it is missing, its parent existing, then
  // checks it as CheckKeyDirectory does. IOError naming the path when it cannot.
  static Status MakeKeyDirectory(const std::string& dir);

  // Ok when `dir` is a directory (not a symbolic link) that belongs to this process's
  // effective uid or to root and that neither its group nor others may write: nobody
  // else can remove or swap a key file in it. PermissionDenied naming the path otherwise.
  static Status CheckKeyDirectory(const std::string& dir);

  // A box over an explicit key (tests; callers that hold the key elsewhere).
  explicit SecretBox(const std::array<unsigned char, kKeySize>& key);
  ~SecretBox();  // wipes the key
  SecretBox(SecretBox&& other) noexcept;
  SecretBox& operator=(SecretBox&& other) noexcept;
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;

  // The version a sealed secret declares (its first byte): kVersion1 or kVersion2.
  // Corruption for an empty value or an unknown version. Says nothing of authenticity.
  static Result<unsigned char> Version(std::string_view sealed);

  // Encrypts `plaintext` in format `version`, binding `context` as associated data, so
  // that a sealed secret moved to another context no longer opens. InvalidArgument for
  // an unknown version; IOError only if OpenSSL fails. The plaintext never appears in
  // an error.
  Result<std::string> Seal(std::string_view plaintext, std::string_view context,
                           unsigned char version = kVersion2) const;

  // Decrypts what Seal produced (either version) with the same key and context.
  // Corruption "wrong key or damaged secret" when authentication fails (another key,
  // another context, any changed byte); Corruption naming the problem for a truncated
  // value or an unknown version.
  Result<std::string> Unseal(std::string_view sealed, std::string_view context) const;

 private:
  std::array<unsigned char, kKeySize> key_{};
};

}  // namespace archiver
