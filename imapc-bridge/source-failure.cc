// The kinds of remote failure and the classification of imapc's texts (source-failure.h).
#include "source-failure.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>

namespace archiver::imapc {
namespace {

std::string Lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool ContainsAny(const std::string& text, std::initializer_list<const char*> needles) {
  for (const char* needle : needles)
    if (text.find(needle) != std::string::npos) return true;
  return false;
}

// "imapc(127.0.0.1:143): connect(…) failed" → "connect(…) failed".
std::string WithoutLogPrefix(const std::string& line) {
  if (line.rfind("imapc", 0) == 0) {
    size_t end = line.find("): ");
    if (end != std::string::npos) return line.substr(end + 3);
  }
  return line;
}

}  // namespace

const char* FailureKindName(FailureKind kind) {
  switch (kind) {
    case FailureKind::kNone:
      return "";
    case FailureKind::kDns:
      return "dns";
    case FailureKind::kTcp:
      return "tcp";
    case FailureKind::kTls:
      return "tls";
    case FailureKind::kAuthentication:
      return "authentication";
    case FailureKind::kMissingFolder:
      return "missing-folder";
    case FailureKind::kRemote:
      return "remote";
    case FailureKind::kLocal:
      return "local";
  }
  return "remote";
}

FailureKind ClassifyRemoteFailure(const std::string& text) {
  std::string lower = Lowercase(text);
  if (ContainsAny(lower, {"dns_lookup(", "net_gethostbyname(", "name or service not known",
                          "host not found", "no address associated", "unknown host"}))
    return FailureKind::kDns;
  if (ContainsAny(lower, {"ssl", "tls", "certificate", "handshake"})) return FailureKind::kTls;
  if (ContainsAny(lower, {"authenticationfailed", "authentication failed", "authorizationfailed",
                          "login failed", "invalid credentials", "login incorrect"}))
    return FailureKind::kAuthentication;
  if (ContainsAny(lower, {"connect(", "connection refused", "timed out", "no route to host",
                          "network is unreachable", "disconnected", "connection reset"}))
    return FailureKind::kTcp;
  return FailureKind::kRemote;
}

RemoteError DescribeRemoteFailure(const std::string& context, const std::string& mail_error,
                                  const RemoteLog& log) {
  for (const std::vector<std::string>* lines : {&log.lines, &log.setup_lines}) {
    for (auto line = lines->rbegin(); line != lines->rend(); ++line) {
      FailureKind kind = ClassifyRemoteFailure(*line);
      if (kind != FailureKind::kRemote) return {kind, context + ": " + WithoutLogPrefix(*line)};
    }
  }
  return {ClassifyRemoteFailure(mail_error), context + ": " + mail_error};
}

RemoteError DescribeFolderFailure(const std::string& context, bool not_found,
                                  const std::string& mail_error, const RemoteLog& log) {
  if (not_found || ContainsAny(Lowercase(mail_error), {"doesn't exist", "does not exist"}))
    return {FailureKind::kMissingFolder, context + ": does not exist on the remote"};
  return DescribeRemoteFailure(context, mail_error, log);
}

bool IsConnectionFailure(const RemoteError& error) {
  switch (error.kind) {
    case FailureKind::kNone:
    case FailureKind::kRemote:
    case FailureKind::kMissingFolder:
      return false;
    default:
      return true;
  }
}

}  // namespace archiver::imapc
