// How a remote source fails: the kinds callers report and choose exit codes by (DNS, TCP,
// TLS, authentication, missing folder, …), and the classification of the texts imapc
// gives (the mail error and what it logged meanwhile) into them. Plain C++: no Dovecot.
#pragma once

#include <string>
#include <vector>

namespace archiver::imapc {

enum class FailureKind {
  kNone,
  kDns,             // the host name does not resolve
  kTcp,             // no TCP connection (refused, unreachable, timed out)
  kTls,             // TLS handshake failed, certificate not trusted
  kAuthentication,  // the server refused the login
  kMissingFolder,   // a configured folder does not exist on the remote
  kRemote,          // anything else the remote or the connection did wrong
  kLocal,           // a local failure (settings, memory, archive)
};

// "dns", "tcp", "tls", "authentication", "missing-folder", "remote", "local" ("" for kNone).
const char* FailureKindName(FailureKind kind);

// A bridge operation returns its outcome as a RemoteError, ok() on success, marked
// [[nodiscard]]; one that also produces a value fills an out-param for it (never bool
// plus a RemoteError* out-param).
struct RemoteError {
  FailureKind kind = FailureKind::kNone;
  std::string reason;  // human-readable, e.g. "authentication failed: [AUTHENTICATIONFAILED] …"
  bool ok() const { return kind == FailureKind::kNone; }
};

// Classifies an error text as imapc reports it (the mail error plus the log lines of the
// attempt). kRemote when nothing more specific matches.
FailureKind ClassifyRemoteFailure(const std::string& text);

// What imapc logged while an account was open: it reports DNS, TCP and TLS failures only
// there. `lines`: since the operation began; `setup_lines`: while the account was set up
// (Dovecot 2.4 connects then, and later calls fail with a generic error).
struct RemoteLog {
  const std::vector<std::string>& lines;
  const std::vector<std::string>& setup_lines;
};

// The error of an operation that failed with `mail_error`: the last classified line of
// log.lines, else of log.setup_lines (imapc logs retries first, the final failure last),
// its "imapc(host:port): " prefix dropped; else `mail_error` as it classifies. The
// reason starts with `context`.
RemoteError DescribeRemoteFailure(const std::string& context, const std::string& mail_error,
                                  const RemoteLog& log);

// A folder's error: kMissingFolder when the storage said "not found" (`not_found`) or its
// text says the folder does not exist; else as DescribeRemoteFailure.
RemoteError DescribeFolderFailure(const std::string& context, bool not_found,
                                  const std::string& mail_error, const RemoteLog& log);

// True when `error` is about the connection or the account (DNS, TCP, TLS,
// authentication, local) rather than one message: the sync must stop then.
bool IsConnectionFailure(const RemoteError& error);

}  // namespace archiver::imapc
