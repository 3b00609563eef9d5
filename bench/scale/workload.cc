// The scale workload's generator (see workload.h): every choice comes from one
// std::mt19937_64 seeded with options.seed, so one seed gives the same archive.
#include "workload.h"

#include <time.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace archiver::bench {
namespace {

constexpr uint64_t kMaxTextPool = 32ULL << 20;
// Body text: log-normal around a median of 3 KB. Some messages carry an attachment
// (random bytes, as compressed formats are; WorkloadOptions::attachment_share of them),
// log-normal around 200 KB, up to 12 MB.
constexpr double kTextMedian = 3000, kTextSigma = 1.3;
constexpr double kAttachmentMedian = 200'000, kAttachmentSigma = 1.2;
constexpr uint64_t kMaxText = 2ULL << 20, kMaxAttachment = 12ULL << 20;
constexpr int kListSenders = 50;  // the busiest ranks are mailing lists and newsletters
// Recipients per message, 1..8: mean about 3.2 deliveries per message.
constexpr double kRecipientWeights[kMaxRecipients] = {30, 20, 14, 10, 8, 7, 6, 5};

const char* const kWords[] = {
    "meeting",      "report",   "update",     "project", "budget",     "review",   "schedule",
    "draft",        "proposal", "contract",   "order",   "delivery",   "shipment", "payment",
    "account",      "release",  "notes",      "minutes", "agenda",     "question", "request",
    "reminder",     "summary",  "weekly",     "monthly", "quarterly",  "team",     "customer",
    "support",      "ticket",   "issue",      "status",  "plan",       "roadmap",  "design",
    "feedback",     "offer",    "newsletter", "event",   "invitation", "travel",   "booking",
    "confirmation", "password", "security",   "alert",   "backup",     "server"};
const char* const kUnicodeWords[] = {"Grüße",  "Überblick", "réunion", "café", "naïve",
                                     "Zürich", "Ærø",       "Straße",  "año",  "jalapeño"};
const char* const kFirstNames[] = {"Anna", "Ben",  "Chloe", "David", "Eva",  "Farid", "Greta",
                                   "Hiro", "Ines", "Jonas", "Kofi",  "Lena", "Marek", "Nora"};
const char* const kLastNames[] = {"Berg",   "Costa", "Dubois", "Evans",    "Fischer", "Garcia",
                                  "Hansen", "Ito",   "Jensen", "Kowalski", "Larsen",  "Mueller"};
constexpr const char* kUserDomain = "example.org";

template <typename T, size_t N>
const T& Pick(const T (&table)[N], uint64_t value) {
  return table[value % N];
}

// The corpus messages' bodies (after the first empty line), with CRLF line ends.
std::string CorpusText(const std::string& corpus) {
  std::string pool;
  std::error_code error;
  if (corpus.empty() || !std::filesystem::is_directory(corpus, error)) return pool;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(corpus, error)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && entry.file_size() <= (1u << 20) && name != "MANIFEST.tsv" &&
        name != "SOURCES.md")
      files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());  // directory order is not deterministic
  for (const auto& path : files) {
    std::ifstream file(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
    size_t body = text.find("\n\n");
    size_t crlf_body = text.find("\r\n\r\n");
    if (crlf_body != std::string::npos && (body == std::string::npos || crlf_body < body))
      body = crlf_body + 2;
    if (body == std::string::npos) continue;
    for (size_t i = body + 2; i < text.size() && pool.size() < kMaxTextPool; ++i) {
      const char c = text[i];
      if (c == '\r') continue;
      if (c == '\n') pool += '\r';
      pool += c == '\0' ? ' ' : c;
    }
  }
  return pool;
}

std::string SynthesizedText(std::mt19937_64& random) {
  std::string pool;
  while (pool.size() < (4u << 20)) {
    for (uint64_t words = 6 + random() % 10; words > 0; --words) {
      pool += Pick(kWords, random());
      pool += words > 1 ? ' ' : '.';
    }
    pool += "\r\n";
  }
  return pool;
}

}  // namespace

std::string Rfc5322Date(uint64_t time_us) {
  const time_t seconds = static_cast<time_t>(time_us / 1'000'000);
  struct tm tm = {};
  gmtime_r(&seconds, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return text;
}

std::string Base64(std::string_view bytes, bool wrap_lines) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve(bytes.size() * 4 / 3 + bytes.size() / 38 + 8);
  size_t line = 0;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t chunk = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) chunk |= static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[(chunk >> 18) & 63];
    out += kAlphabet[(chunk >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(chunk >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kAlphabet[chunk & 63] : '=';
    if (wrap_lines && (line += 4) == 76) {
      out += "\r\n";
      line = 0;
    }
  }
  if (wrap_lines && line > 0) out += "\r\n";
  return out;
}

Workload::Workload(WorkloadOptions options) : options_(std::move(options)), random_(options_.seed) {
  double total = 0;
  for (int rank = 1; rank <= kSenders; ++rank) {
    total += 1.0 / std::pow(rank, kSenderZipfExponent);
    sender_cdf_.push_back(total);
  }
  for (double& value : sender_cdf_) value /= total;
  text_pool_ = CorpusText(options_.corpus);
  if (text_pool_.size() >= (1u << 20)) {
    text_origin_ = "corpus " + options_.corpus + " (" + std::to_string(text_pool_.size()) +
                   " bytes of bodies)";
  } else {
    text_pool_ = SynthesizedText(random_);
    text_origin_ = "synthesized";
  }
}

std::string Workload::UserName(int index) {
  char name[64];
  std::snprintf(name, sizeof name, "user%04d@%s", index + 1, kUserDomain);
  return name;
}

std::string Workload::SenderAddress(int rank) {
  char address[96];
  if (rank <= kListSenders) {
    std::snprintf(address, sizeof address, "list%02d@lists%d.example.net", rank, rank % 7);
  } else {
    std::snprintf(address, sizeof address, "%s.%s%d@mail%d.example.com", Pick(kFirstNames, rank),
                  Pick(kLastNames, rank / 14), rank, rank % 97);
    for (char* c = address; *c != '\0'; ++c) *c = static_cast<char>(std::tolower(*c));
  }
  return address;
}

double Workload::Uniform() { return static_cast<double>(random_() >> 11) * 0x1.0p-53; }

int Workload::SenderRank() {
  const double u = Uniform();
  return static_cast<int>(std::lower_bound(sender_cdf_.begin(), sender_cdf_.end(), u) -
                          sender_cdf_.begin()) +
         1;
}

int Workload::RecipientCount() {
  double total = 0;
  for (double weight : kRecipientWeights) total += weight;
  double u = Uniform() * total;
  for (int count = 1; count <= kMaxRecipients; ++count) {
    u -= kRecipientWeights[count - 1];
    if (u < 0) return count;
  }
  return kMaxRecipients;
}

uint64_t Workload::BodySize() {
  // Box-Muller: the library's distributions differ between standard libraries.
  const double normal = std::sqrt(-2 * std::log(1 - Uniform())) * std::cos(2 * M_PI * Uniform());
  return std::min<uint64_t>(
      kMaxText, static_cast<uint64_t>(kTextMedian * std::exp(kTextSigma * normal)) + 40);
}

std::string Workload::TextSlice(uint64_t size) {
  // From the start of a line, whole lines, wrapping around the pool.
  size_t at = text_pool_.find("\r\n", random_() % text_pool_.size());
  at = at == std::string::npos ? 0 : at + 2;
  std::string text;
  text.reserve(size + 200);
  while (text.size() < size) {
    size_t end = text_pool_.find("\r\n", at);
    if (end == std::string::npos) {
      at = 0;
      continue;
    }
    text.append(text_pool_, at, end + 2 - at);
    at = end + 2;
  }
  return text;
}

std::string Workload::Subject(bool* encoded) {
  std::string subject = Uniform() < 0.25 ? "Re: " : "";
  const uint64_t words = 3 + random_() % 7;
  const bool with_word = Uniform() < 0.01;
  *encoded = Uniform() < 0.08;
  for (uint64_t i = 0; i < words; ++i) {
    if (i > 0) subject += ' ';
    subject += (*encoded && i == 1) ? Pick(kUnicodeWords, random_()) : Pick(kWords, random_());
  }
  if (with_word)
    subject += std::string(" ") + kSubjectWord + " " + std::to_string(random_() % 90000);
  if (*encoded) subject = "=?UTF-8?B?" + Base64(subject, false) + "?=";
  return subject;
}

std::string Workload::Body(uint64_t size, const std::string& boundary) {
  if (boundary.empty()) return TextSlice(size);
  const double normal = std::sqrt(-2 * std::log(1 - Uniform())) * std::cos(2 * M_PI * Uniform());
  const uint64_t attachment = std::min<uint64_t>(
      kMaxAttachment,
      static_cast<uint64_t>(kAttachmentMedian * std::exp(kAttachmentSigma * normal)));
  std::string bytes(attachment, '\0');
  for (size_t i = 0; i < bytes.size(); i += 8) {
    const uint64_t value = random_();
    for (size_t j = 0; j < 8 && i + j < bytes.size(); ++j)
      bytes[i + j] = static_cast<char>(value >> (8 * j));
  }
  return "This is a multi-part message in MIME format.\r\n\r\n--" + boundary +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" +
         TextSlice(size) + "\r\n--" + boundary +
         "\r\nContent-Type: application/pdf; name=\"document.pdf\"\r\n"
         "Content-Transfer-Encoding: base64\r\n"
         "Content-Disposition: attachment; filename=\"document.pdf\"\r\n\r\n" +
         Base64(bytes, true) + "--" + boundary + "--\r\n";
}

bool Workload::Next(WorkloadMessage* message) {
  if (delivered_ >= options_.deliveries) return false;
  const int recipients =
      static_cast<int>(std::min<uint64_t>(RecipientCount(), options_.deliveries - delivered_));
  message->sequence = ++sequence_;
  // Time order, as mail arrives: this message's place in the stream, plus jitter within
  // the slot its deliveries take.
  const double slot =
      static_cast<double>(options_.span_us) / static_cast<double>(options_.deliveries);
  message->received_us =
      options_.first_us +
      static_cast<uint64_t>(slot * (static_cast<double>(delivered_) + Uniform() * recipients));
  const int rank = SenderRank();
  const bool bounce = Uniform() < 0.01;
  const std::string sender = SenderAddress(rank);
  const std::string sender_domain = sender.substr(sender.find('@') + 1);
  message->envelope_from = bounce ? "" : sender;

  std::vector<int> users;
  while (static_cast<int>(users.size()) < recipients) {
    const int user = static_cast<int>(random_() % kUsers);
    if (std::find(users.begin(), users.end(), user) == users.end()) users.push_back(user);
  }
  const std::string date = Rfc5322Date(message->received_us - 2'000'000 - random_() % 60'000'000);
  char token[40];
  std::snprintf(token, sizeof token, "%016llx", static_cast<unsigned long long>(random_()));
  bool encoded = false;
  const std::string subject = Subject(&encoded);
  const bool attachment = Uniform() < options_.attachment_share;
  const std::string boundary = attachment ? std::string("=_scale_") + token : "";

  std::string& m = message->bytes;
  m.clear();
  m += "Received: from " + std::string("out") + std::to_string(rank % 5) + "." + sender_domain +
       " (out." + sender_domain + " [198.51.100." + std::to_string(rank % 250) + "])\r\n\tby mx." +
       kUserDomain + " (Postfix) with ESMTPS id " + std::string(token, 10) + "\r\n\tfor <" +
       Workload::UserName(users[0]) + ">; " + Rfc5322Date(message->received_us) + "\r\n";
  m += "Received: from client.internal ([10.0." + std::to_string(rank % 200) + ".7])\r\n\tby out." +
       sender_domain + " with ESMTPSA; " + date + "\r\n";
  if (!bounce && Uniform() < 0.6) {
    std::string signature(256, '\0');
    for (char& c : signature) c = static_cast<char>(random_());
    m += "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=" + sender_domain +
         "; s=s2024;\r\n\th=from:to:subject:date:message-id; bh=" +
         Base64(signature.substr(0, 32), false) + ";\r\n\tb=" + Base64(signature, false) + "\r\n";
  }
  if (bounce) {
    m += "From: Mail Delivery System <MAILER-DAEMON@" + sender_domain + ">\r\n";
  } else {
    m += "From: " + std::string(Pick(kFirstNames, rank)) + " " + Pick(kLastNames, rank / 14) +
         " <" + sender + ">\r\n";
  }
  std::string to, cc;
  for (size_t i = 0; i < users.size(); ++i) {
    std::string& list = i < 4 ? to : cc;
    list += (list.empty() ? "" : ", ") + Workload::UserName(users[i]);
  }
  m += "To: " + to + "\r\n";
  if (!cc.empty()) m += "Cc: " + cc + "\r\n";
  m += "Subject: " + subject + "\r\nDate: " + date + "\r\nMessage-ID: <" +
       std::to_string(message->sequence) + "." + token + "@" + sender_domain + ">\r\n";
  if (rank <= kListSenders)
    m +=
        "List-Id: <list" + std::to_string(rank) + "." + sender_domain + ">\r\nPrecedence: bulk\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += attachment
           ? "Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n"
           : "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n";
  m += "\r\n" + Body(BodySize(), boundary);

  message->deliveries.clear();
  for (int user : users) {
    WorkloadDelivery delivery;
    delivery.user = Workload::UserName(user);
    delivery.envelope_to = delivery.user;
    if (Uniform() < 0.05) delivery.envelope_to.insert(delivery.user.find('@'), "+archive");
    const double where = Uniform();
    delivery.mailbox = rank <= kListSenders && where < 0.7 ? "Lists/list" + std::to_string(rank)
                       : where > 0.96                      ? "Junk"
                                                           : "INBOX";
    delivery.trace_prefix =
        "Return-Path: <" + message->envelope_from + ">\r\nDelivered-To: " + delivery.envelope_to +
        "\r\nReceived: from mx." + kUserDomain + "\r\n\tby imap." + kUserDomain + " with LMTP id " +
        std::string(token + 6, 10) + "\r\n\t(envelope-from <" + message->envelope_from +
        ">)\r\n\tfor <" + delivery.envelope_to + ">; " + Rfc5322Date(message->received_us) + "\r\n";
    message->deliveries.push_back(std::move(delivery));
  }
  delivered_ += static_cast<uint64_t>(recipients);
  return true;
}

}  // namespace archiver::bench
