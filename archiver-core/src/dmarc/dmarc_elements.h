// The DMARC aggregate report's elements and value sets, as the parser's state machine
// sees them: which element may hold which, and the known values of each enumeration.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace archiver::dmarc {

inline constexpr std::string_view kDmarc2Namespace = "urn:ietf:params:xml:ns:dmarc-2.0";

// Every element the parser knows, by position in the document. Anything else (and
// everything below it) is kIgnored: extensions never fail a report.
enum class Node : uint8_t {
  kIgnored,
  kFeedback,
  kVersion,
  kReportMetadata,
  kOrgName,
  kEmail,
  kExtraContactInfo,
  kReportId,
  kDateRange,
  kBegin,
  kEnd,
  kError,
  kGenerator,
  kPolicyPublished,
  kDomain,
  kAdkim,
  kAspf,
  kP,
  kSp,
  kNp,
  kPct,
  kFo,
  kTesting,
  kDiscoveryMethod,
  kRecord,
  kRow,
  kSourceIp,
  kCount,
  kPolicyEvaluated,
  kDisposition,
  kEvaluatedDkim,
  kEvaluatedSpf,
  kReason,
  kReasonType,
  kReasonComment,
  kIdentifiers,
  kHeaderFrom,
  kEnvelopeFrom,
  kEnvelopeTo,
  kAuthResults,
  kDkim,
  kDkimDomain,
  kDkimSelector,
  kDkimResult,
  kDkimHumanResult,
  kSpf,
  kSpfDomain,
  kSpfScope,
  kSpfResult,
  kSpfHumanResult,
};

// The node of element `name` inside `parent`; kIgnored when the schema has no such child.
Node ChildOf(Node parent, std::string_view name);

// True for elements whose text is a value; the others only hold elements.
bool HoldsText(Node node);

// Known values of the enumerations, lowercase.
inline constexpr std::string_view kPolicies[] = {"none", "quarantine", "reject"};
inline constexpr std::string_view kAlignments[] = {"r", "s"};
inline constexpr std::string_view kDispositions[] = {"none", "quarantine", "reject", "pass"};
inline constexpr std::string_view kPassFail[] = {"pass", "fail"};
inline constexpr std::string_view kReasonTypes[] = {
    "forwarded",    "sampled_out", "trusted_forwarder", "mailing_list",
    "local_policy", "other",       "policy_test_mode"};
inline constexpr std::string_view kDkimResults[] = {"none",    "pass",      "fail",     "policy",
                                                    "neutral", "temperror", "permerror"};
inline constexpr std::string_view kSpfResults[] = {"none",     "neutral",   "pass",     "fail",
                                                   "softfail", "temperror", "permerror"};
inline constexpr std::string_view kSpfScopes[] = {"helo", "mfrom"};
inline constexpr std::string_view kYesNo[] = {"y", "n"};
inline constexpr std::string_view kDiscoveryMethods[] = {"psl", "treewalk"};

// Lowercases `value` when it is one of `known` (compared case-insensitively); an unknown
// value is kept as written.
void Normalize(std::string& value, std::span<const std::string_view> known);

// Decimal digits only: no sign, no spaces, no overflow; nullopt otherwise.
std::optional<uint64_t> ParseUnsigned(std::string_view text);

// Seconds since the epoch, optionally negative; a fractional part ("1536105600.0") is
// dropped; nullopt when not a number.
std::optional<int64_t> ParseEpoch(std::string_view text);

}  // namespace archiver::dmarc
