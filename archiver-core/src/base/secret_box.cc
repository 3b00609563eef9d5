// SecretBox (secret_box.h): AES-256-GCM through OpenSSL's EVP interface, the key file
// read or created with O_NOFOLLOW and mode 0600, the key wiped when the box goes away.
#include "archiver/secret_box.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <memory>

namespace archiver {
namespace {

constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// Closes the descriptor it owns.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  // close() with its error, once.
  int Close() { return close(std::exchange(fd_, -1)); }

 private:
  int fd_;
};

Status Errno(const std::string& what, const std::string& path) {
  return Status::IOError("secret key file " + path + ": " + what + ": " + std::strerror(errno));
}

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

std::string Octal(mode_t mode) {
  char text[8];
  std::snprintf(text, sizeof(text), "%04o", static_cast<unsigned>(mode & 07777));
  return text;
}

// Writes 32 random bytes to a new file `path` (O_EXCL: never replaces one; *exists is
// set when there is one already).
Status CreateKeyFile(const std::string& path, std::array<unsigned char, SecretBox::kKeySize>* key,
                     bool* exists) {
  *exists = false;
  const std::string dir = DirectoryOf(path);
  if (Status checked = SecretBox::CheckKeyDirectory(dir); !checked.ok()) {
    return checked.Annotated("secret key file " + path + " not created");
  }
  if (RAND_bytes(key->data(), static_cast<int>(key->size())) != 1) {
    return Status::IOError("secret key file " + path + ": no random bytes from OpenSSL");
  }
  FileDescriptor fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    *exists = errno == EEXIST;
    return Errno("create", path);
  }
  if (fchmod(fd.get(), 0600) != 0) return Errno("chmod", path);
  size_t written = 0;
  while (written < key->size()) {
    ssize_t n = write(fd.get(), key->data() + written, key->size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      unlink(path.c_str());
      return Errno("write", path);
    }
    written += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0 || fd.Close() != 0) {
    unlink(path.c_str());
    return Errno("write", path);
  }
  // The file's name is durable only once its directory is: a crash must not lose the key
  // that passwords were just sealed with.
  FileDescriptor dir_fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() < 0 || fsync(dir_fd.get()) != 0) return Errno("fsync its directory", path);
  return Status::Ok();
}

// Whoever else could write the key file could have replaced it with a key of theirs, and
// would then read every password sealed with it; whoever else could read it, reads them.
Status CheckKeyFile(const struct stat& st, const std::string& path) {
  const std::string about = "secret key file " + path;
  if (!S_ISREG(st.st_mode)) return Status::IOError(about + " is not a file");
  if (st.st_nlink != 1) {
    return Status::PermissionDenied(about + " has " + std::to_string(st.st_nlink) +
                                    " hard links: refusing a key another name can reach");
  }
  if (st.st_uid != geteuid()) {
    return Status::PermissionDenied(about + " belongs to uid " + std::to_string(st.st_uid) +
                                    ", not to uid " + std::to_string(geteuid()) +
                                    " that reads it: someone else may have replaced it");
  }
  if ((st.st_mode & 077) != 0) {
    return Status::PermissionDenied(about + " has mode " + Octal(st.st_mode) +
                                    ": others may read or change it (chmod 600 it)");
  }
  return Status::Ok();
}

Status ReadKeyFile(int raw_fd, const std::string& path,
                   std::array<unsigned char, SecretBox::kKeySize>* key) {
  FileDescriptor fd(raw_fd);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Errno("stat", path);
  Status trusted = CheckKeyFile(st, path);
  if (!trusted.ok()) return trusted;
  if (st.st_size != static_cast<off_t>(key->size())) {
    return Status::Corruption("secret key file " + path + " has " + std::to_string(st.st_size) +
                              " bytes, not " + std::to_string(key->size()));
  }
  size_t done = 0;
  while (done < key->size()) {
    ssize_t n = read(fd.get(), key->data() + done, key->size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("read", path);
    if (n == 0) return Status::IOError("secret key file " + path + " shrank while read");
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status CipherError(const char* what) {
  return Status::IOError(std::string("AES-256-GCM: ") + what + " failed");
}

// Feeds the associated data of a `version` secret: from version 2 the version byte too,
// so that no secret reads as sealed under another version's contract.
bool AddAssociatedData(EVP_CIPHER_CTX* ctx, unsigned char version, std::string_view context,
                       bool encrypt) {
  auto update = encrypt ? &EVP_EncryptUpdate : &EVP_DecryptUpdate;
  int length = 0;
  if (version >= SecretBox::kVersion2 && update(ctx, nullptr, &length, &version, 1) != 1)
    return false;
  return update(ctx, nullptr, &length, reinterpret_cast<const unsigned char*>(context.data()),
                static_cast<int>(context.size())) == 1;
}

}  // namespace

Result<SecretBox> SecretBox::Load(const std::string& key_path, bool create_if_missing) {
  std::array<unsigned char, kKeySize> key{};
  Status status;
  int fd = open(key_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) {
    status = ReadKeyFile(fd, key_path, &key);
  } else if (errno == ELOOP) {
    status = Status::PermissionDenied("secret key file " + key_path +
                                      " is a symbolic link: refusing to follow it");
  } else if (errno != ENOENT) {
    status = Errno("open", key_path);
  } else if (!create_if_missing) {
    status = Status::NotFound("secret key file " + key_path + " does not exist");
  } else {
    bool exists = false;
    status = CreateKeyFile(key_path, &key, &exists);
    if (exists) {
      // Another process created it meanwhile: use that one.
      fd = open(key_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      status = fd >= 0 ? ReadKeyFile(fd, key_path, &key) : Errno("open", key_path);
    }
  }
  if (!status.ok()) {
    OPENSSL_cleanse(key.data(), key.size());
    return status;
  }
  SecretBox box(key);
  OPENSSL_cleanse(key.data(), key.size());
  return box;
}

Status SecretBox::MakeKeyDirectory(const std::string& dir) {
  if (mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::IOError("secret key directory " + dir + ": create: " + std::strerror(errno));
  }
  return CheckKeyDirectory(dir);
}

Status SecretBox::CheckKeyDirectory(const std::string& dir) {
  const std::string about = "secret key directory " + dir;
  struct stat st;
  if (lstat(dir.c_str(), &st) != 0) {
    return Status::IOError(about + ": stat: " + std::strerror(errno));
  }
  if (S_ISLNK(st.st_mode)) {
    return Status::PermissionDenied(about + " is a symbolic link: refusing to follow it");
  }
  if (!S_ISDIR(st.st_mode)) return Status::IOError(about + " is not a directory");
  if (st.st_uid != geteuid() && st.st_uid != 0) {
    return Status::PermissionDenied(about + " belongs to uid " + std::to_string(st.st_uid) +
                                    ": its owner could remove or replace the key");
  }
  if ((st.st_mode & 022) != 0) {
    return Status::PermissionDenied(about + " has mode " + Octal(st.st_mode) +
                                    ": others may remove or replace the key in it");
  }
  return Status::Ok();
}

SecretBox::SecretBox(const std::array<unsigned char, kKeySize>& key) : key_(key) {}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

SecretBox::SecretBox(SecretBox&& other) noexcept : key_(other.key_) {
  OPENSSL_cleanse(other.key_.data(), other.key_.size());
}

SecretBox& SecretBox::operator=(SecretBox&& other) noexcept {
  if (this != &other) {
    key_ = other.key_;
    OPENSSL_cleanse(other.key_.data(), other.key_.size());
  }
  return *this;
}

Result<unsigned char> SecretBox::Version(std::string_view sealed) {
  if (sealed.empty()) return Status::Corruption("sealed secret is empty");
  const auto version = static_cast<unsigned char>(sealed[0]);
  if (version != kVersion1 && version != kVersion2) {
    return Status::Corruption("sealed secret has unknown version " + std::to_string(version));
  }
  return version;
}

Result<std::string> SecretBox::Seal(std::string_view plaintext, std::string_view context,
                                    unsigned char version) const {
  if (version != kVersion1 && version != kVersion2) {
    return Status::InvalidArgument("no sealed secret format version " + std::to_string(version));
  }
  std::string sealed(1 + kNonceSize + plaintext.size() + kTagSize, '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  out[0] = version;
  unsigned char* nonce = out + 1;
  unsigned char* ciphertext = nonce + kNonceSize;
  if (RAND_bytes(nonce, kNonceSize) != 1) return CipherError("nonce generation");
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int length = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      !AddAssociatedData(ctx.get(), version, context, true) ||
      EVP_EncryptUpdate(ctx.get(), ciphertext, &length,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), ciphertext + length, &length) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize,
                          ciphertext + plaintext.size()) != 1) {
    return CipherError("encryption");
  }
  return sealed;
}

Result<std::string> SecretBox::Unseal(std::string_view sealed, std::string_view context) const {
  if (sealed.size() < 1 + kNonceSize + kTagSize) {
    return Status::Corruption("sealed secret is truncated (" + std::to_string(sealed.size()) +
                              " bytes)");
  }
  Result<unsigned char> version = Version(sealed);
  if (!version.ok()) return version.status();
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  const unsigned char* nonce = in + 1;
  const unsigned char* ciphertext = nonce + kNonceSize;
  const size_t text_size = sealed.size() - 1 - kNonceSize - kTagSize;
  std::string plaintext(text_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  unsigned char tag[kTagSize];
  std::memcpy(tag, ciphertext + text_size, kTagSize);
  CipherContext ctx(EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  int length = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_.data(), nonce) != 1 ||
      !AddAssociatedData(ctx.get(), *version, context, false) ||
      EVP_DecryptUpdate(ctx.get(), out, &length, ciphertext, static_cast<int>(text_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return CipherError("decryption");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), out + length, &length) != 1) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return Status::Corruption("wrong key or damaged secret");
  }
  return plaintext;
}

}  // namespace archiver
