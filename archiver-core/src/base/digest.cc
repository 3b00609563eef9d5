// SHA-256 message ids through OpenSSL's EVP interface, and their hex spelling.
// OpenSSL fails here only when it cannot allocate, which is reported as std::bad_alloc.
#include "archiver/digest.h"

#include <openssl/evp.h>

#include <new>

namespace archiver {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const noexcept { EVP_MD_CTX_free(ctx); }
};

// SHA-256, fetched from the default provider once per process: EVP_sha256() makes
// OpenSSL 3 look the algorithm up again on every use, which costs about as much as
// hashing a small message. Kept for the process's life (never freed: hashing may run
// while statics are destroyed); EVP_sha256() when the fetch fails.
const EVP_MD* Sha256Digest() {
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
  static const EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (fetched != nullptr) return fetched;
#endif
  return EVP_sha256();
}

}  // namespace

std::string ToHex(const MessageId& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex(id.size() * 2, '0');
  for (size_t i = 0; i < id.size(); ++i) {
    hex[2 * i] = kDigits[id[i] >> 4];
    hex[2 * i + 1] = kDigits[id[i] & 0x0f];
  }
  return hex;
}

std::optional<MessageId> MessageIdFromHex(std::string_view hex) {
  MessageId id{};
  if (hex.size() != id.size() * 2) return std::nullopt;
  for (size_t i = 0; i < id.size(); ++i) {
    int high = HexValue(hex[2 * i]);
    int low = HexValue(hex[2 * i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    id[i] = static_cast<uint8_t>(high << 4 | low);
  }
  return id;
}

bool IsHexPrefix(std::string_view text) {
  if (text.empty() || text.size() > 64) return false;
  for (char c : text) {
    if (HexValue(c) < 0) return false;
  }
  return true;
}

struct Sha256::Impl {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx;
  bool started = false;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx.reset(EVP_MD_CTX_new());
  if (!impl_->ctx) throw std::bad_alloc();
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::Update(std::string_view data) {
  if (!impl_->started) {
    if (EVP_DigestInit_ex(impl_->ctx.get(), Sha256Digest(), nullptr) != 1) throw std::bad_alloc();
    impl_->started = true;
  }
  if (!data.empty() && EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) != 1) {
    throw std::bad_alloc();
  }
}

MessageId Sha256::Finish() {
  Update({});  // a hasher that saw no input still yields the digest of ""
  MessageId id{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(impl_->ctx.get(), id.data(), &length) != 1 || length != id.size()) {
    throw std::bad_alloc();
  }
  impl_->started = false;
  return id;
}

MessageId Sha256::Of(std::string_view data) {
  MessageId id{};
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), id.data(), &length, Sha256Digest(), nullptr) != 1 ||
      length != id.size()) {
    throw std::bad_alloc();
  }
  return id;
}

}  // namespace archiver
