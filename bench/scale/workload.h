// The scale workload: a deterministic stream of messages and their deliveries (2,000 users,
// 1-8 recipients per message, 5,000 Zipf-skewed senders, two years of received times,
// log-normal body sizes with a tail to megabytes), generated from a seed.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace archiver::bench {

struct WorkloadOptions {
  uint64_t seed = 1;
  uint64_t deliveries = 1'000'000;            // total deliveries; the last message may get fewer
                                              // recipients so that the total is exact
  std::string corpus;                         // mail corpus dir whose bodies are sliced; "" or
                                              // missing: synthesized text
  uint64_t first_us = 1'672'531'200'000'000;  // 2023-01-01T00:00:00Z
  uint64_t span_us = 2ULL * 365 * 86'400'000'000;  // received times spread over two years
  double attachment_share = 0.03;  // messages with a random-bytes attachment; 0: text only
};

// The fixed shape of the workload, also written to the manifest.
inline constexpr int kUsers = 2000;
inline constexpr int kSenders = 5000;
inline constexpr int kMaxRecipients = 8;
inline constexpr double kSenderZipfExponent = 1.0;
inline constexpr const char* kSubjectWord = "invoice";  // in about 1% of subjects

// One delivery of a message: the fields a DeliveryRecord needs beyond the message.
struct WorkloadDelivery {
  std::string user;          // "user0042@example.org"
  std::string envelope_to;   // the user's address, sometimes with a +detail
  std::string mailbox;       // INBOX mostly, some Junk and Lists/…
  std::string trace_prefix;  // Return-Path, Delivered-To, Received, as Dovecot prepends
};

struct WorkloadMessage {
  uint64_t sequence = 0;
  uint64_t received_us = 0;
  std::string envelope_from;  // "" for a bounce (null sender)
  std::string bytes;          // the message in wire form (CRLF)
  std::vector<WorkloadDelivery> deliveries;
};

class Workload {
 public:
  explicit Workload(WorkloadOptions options);

  // The next message and its deliveries; false once options.deliveries were handed out.
  bool Next(WorkloadMessage* message);

  uint64_t delivered() const { return delivered_; }
  // Where the body text comes from, for the manifest ("corpus DIR (K bytes)" or "synthesized").
  const std::string& text_origin() const { return text_origin_; }

  static std::string UserName(int index);      // index 0..kUsers-1
  static std::string SenderAddress(int rank);  // rank 1..kSenders, 1 the busiest

 private:
  double Uniform();      // [0, 1)
  int SenderRank();      // Zipf over 1..kSenders
  int RecipientCount();  // 1..kMaxRecipients, skewed towards 1
  uint64_t BodySize();   // log-normal, capped
  std::string Subject(bool* encoded);
  std::string Body(uint64_t size, const std::string& boundary);
  std::string TextSlice(uint64_t size);

  WorkloadOptions options_;
  std::mt19937_64 random_;
  std::vector<double> sender_cdf_;
  std::string text_pool_;  // CRLF text that bodies are sliced from
  std::string text_origin_;
  uint64_t delivered_ = 0;
  uint64_t sequence_ = 0;
};

// "Mon, 01 Jan 2024 12:00:00 +0000"
std::string Rfc5322Date(uint64_t time_us);
std::string Base64(std::string_view bytes, bool wrap_lines);

}  // namespace archiver::bench
