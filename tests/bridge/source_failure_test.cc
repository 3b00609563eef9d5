// The bridge's failure classification without a remote (issue 14, item 7): what imapc's
// texts and log lines become (source-failure.h), table-driven.
#include "source-failure.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace archiver::imapc {
namespace {

TEST(ClassifyRemoteFailureTest, TextsImapcGives) {
  struct Case {
    const char* text;
    FailureKind kind;
  } cases[] = {
      {"dns_lookup(nx.invalid) failed: Name or service not known", FailureKind::kDns},
      {"net_gethostbyname(nx.invalid) failed", FailureKind::kDns},
      {"Host not found", FailureKind::kDns},
      {"No address associated with hostname", FailureKind::kDns},
      {"SSL_connect() failed: certificate verify failed", FailureKind::kTls},
      {"Received invalid SSL certificate: unable to get local issuer certificate",
       FailureKind::kTls},
      {"TLS handshake timed out", FailureKind::kTls},  // TLS before TCP
      {"Authentication failed: [AUTHENTICATIONFAILED] Authentication failed.",
       FailureKind::kAuthentication},
      {"NO [AUTHORIZATIONFAILED] not allowed", FailureKind::kAuthentication},
      {"Login failed", FailureKind::kAuthentication},
      {"connect(127.0.0.1:1) failed: Connection refused", FailureKind::kTcp},
      {"connect(192.0.2.1:993) failed: Connection timed out", FailureKind::kTcp},
      {"No route to host", FailureKind::kTcp},
      {"Network is unreachable", FailureKind::kTcp},
      {"Server disconnected unexpectedly", FailureKind::kTcp},
      {"read() failed: Connection reset by peer", FailureKind::kTcp},
      {"NO [SERVERBUG] Internal error occurred", FailureKind::kRemote},
      {"", FailureKind::kRemote},
  };
  for (const Case& c : cases) EXPECT_EQ(ClassifyRemoteFailure(c.text), c.kind) << c.text;
}

TEST(ClassifyRemoteFailureTest, CaseDoesNotMatter) {
  EXPECT_EQ(ClassifyRemoteFailure("DNS_LOOKUP(x) FAILED"), FailureKind::kDns);
  EXPECT_EQ(ClassifyRemoteFailure("authenticationFAILED"), FailureKind::kAuthentication);
  EXPECT_EQ(ClassifyRemoteFailure("CONNECTION REFUSED"), FailureKind::kTcp);
}

TEST(ClassifyRemoteFailureTest, DnsWinsOverTheRest) {
  // A DNS failure that mentions TLS or a connection is still a DNS failure.
  EXPECT_EQ(ClassifyRemoteFailure("connect(imaps): dns_lookup(x) failed (TLS)"),
            FailureKind::kDns);
}

TEST(FailureKindNameTest, EveryKindHasItsName) {
  EXPECT_STREQ(FailureKindName(FailureKind::kNone), "");
  EXPECT_STREQ(FailureKindName(FailureKind::kDns), "dns");
  EXPECT_STREQ(FailureKindName(FailureKind::kTcp), "tcp");
  EXPECT_STREQ(FailureKindName(FailureKind::kTls), "tls");
  EXPECT_STREQ(FailureKindName(FailureKind::kAuthentication), "authentication");
  EXPECT_STREQ(FailureKindName(FailureKind::kMissingFolder), "missing-folder");
  EXPECT_STREQ(FailureKindName(FailureKind::kRemote), "remote");
  EXPECT_STREQ(FailureKindName(FailureKind::kLocal), "local");
}

TEST(DescribeRemoteFailureTest, TheLastClassifiedLogLineWins) {
  const std::vector<std::string> lines = {
      "imapc(192.0.2.1:993): connect(192.0.2.1:993) failed: Connection refused - retrying",
      "imapc(192.0.2.1:993): Authentication failed: [AUTHENTICATIONFAILED] bad password",
      "imapc(192.0.2.1:993): some note that says nothing",
  };
  const std::vector<std::string> none;
  RemoteError error = DescribeRemoteFailure("connecting to host:993", "Internal error",
                                            {lines, none});
  EXPECT_EQ(error.kind, FailureKind::kAuthentication);
  EXPECT_EQ(error.reason,
            "connecting to host:993: Authentication failed: [AUTHENTICATIONFAILED] bad password");
  EXPECT_FALSE(error.ok());
}

TEST(DescribeRemoteFailureTest, TheOperationsLinesComeBeforeTheSetupLines) {
  const std::vector<std::string> lines = {"imapc(h:143): connect(h:143) failed: Connection refused"};
  const std::vector<std::string> setup = {"imapc(h:143): dns_lookup(h) failed"};
  EXPECT_EQ(DescribeRemoteFailure("folder INBOX", "", {lines, setup}).kind, FailureKind::kTcp);
  const std::vector<std::string> unclassified = {"imapc(h:143): nothing to see"};
  RemoteError from_setup = DescribeRemoteFailure("folder INBOX", "", {unclassified, setup});
  EXPECT_EQ(from_setup.kind, FailureKind::kDns);
  EXPECT_EQ(from_setup.reason, "folder INBOX: dns_lookup(h) failed");
}

TEST(DescribeRemoteFailureTest, WithoutALogLineTheMailErrorSpeaks) {
  const std::vector<std::string> none;
  const std::vector<std::string> unclassified = {"imapc(h:143): nothing to see"};
  RemoteError error = DescribeRemoteFailure("listing the folders",
                                            "Disconnected from server", {unclassified, none});
  EXPECT_EQ(error.kind, FailureKind::kTcp);
  EXPECT_EQ(error.reason, "listing the folders: Disconnected from server");
  EXPECT_EQ(DescribeRemoteFailure("x", "NO [SERVERBUG] oops", {none, none}).kind,
            FailureKind::kRemote);
}

TEST(DescribeRemoteFailureTest, OnlyAnImapcPrefixIsDropped) {
  const std::vector<std::string> lines = {"lib(x): connect(h:1) failed: Connection refused"};
  const std::vector<std::string> none;
  EXPECT_EQ(DescribeRemoteFailure("c", "", {lines, none}).reason,
            "c: lib(x): connect(h:1) failed: Connection refused");
}

TEST(DescribeFolderFailureTest, AMissingFolder) {
  const std::vector<std::string> none;
  const std::vector<std::string> tls = {"imapc(h:993): SSL handshake failed"};
  RemoteError not_found = DescribeFolderFailure("folder Reports", true, "whatever", {tls, none});
  EXPECT_EQ(not_found.kind, FailureKind::kMissingFolder);
  EXPECT_EQ(not_found.reason, "folder Reports: does not exist on the remote");
  EXPECT_EQ(DescribeFolderFailure("f", false, "Mailbox doesn't exist: Reports", {none, none})
                .kind,
            FailureKind::kMissingFolder);
  EXPECT_EQ(DescribeFolderFailure("f", false, "Mailbox DOES NOT EXIST", {none, none}).kind,
            FailureKind::kMissingFolder);
  EXPECT_EQ(DescribeFolderFailure("f", false, "Internal error", {tls, none}).kind,
            FailureKind::kTls);
}

TEST(IsConnectionFailureTest, WhatStopsASync) {
  struct Case {
    FailureKind kind;
    bool stops;
  } cases[] = {
      {FailureKind::kNone, false},          {FailureKind::kRemote, false},
      {FailureKind::kMissingFolder, false}, {FailureKind::kDns, true},
      {FailureKind::kTcp, true},            {FailureKind::kTls, true},
      {FailureKind::kAuthentication, true}, {FailureKind::kLocal, true},
  };
  for (const Case& c : cases)
    EXPECT_EQ(IsConnectionFailure({c.kind, "x"}), c.stops) << FailureKindName(c.kind);
}

}  // namespace
}  // namespace archiver::imapc
