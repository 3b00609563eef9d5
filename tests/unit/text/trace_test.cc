// DeliveryTraceLength: which leading header lines Dovecot's LMTP added for one delivery.
#include "archiver/trace.h"

#include <gtest/gtest.h>

namespace archiver {
namespace {

const std::string kBody = "From: a@example.org\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody\r\n";
const std::string kReturnPath = "Return-Path: <a@example.org>\r\n";
const std::string kDeliveredTo = "Delivered-To: b+tag@example.com\r\n";
const std::string kReceived =
    "Received: from mx.example.com ([192.0.2.1])\r\n"
    "\tby imap.example.com with LMTP\r\n"
    "\tid 3kL0AZ6lMmYbBgAAdL2sYA\r\n"
    "\t(envelope-from <a@example.org>)\r\n"
    "\tfor <b+tag@example.com>; Wed, 01 May 2024 12:00:00 +0000\r\n";
const std::string kReceivedTls =
    "Received: from unknown ([2001:db8::1])\r\n"
    "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
    "\tby imap.example.com with LMTPS\r\n"
    "\tid abc\r\n"
    "\t(envelope-from <>); Wed, 01 May 2024 12:00:00 +0000\r\n";
const std::string kMtaReceived =
    "Received: from mail.example.org (mail.example.org [198.51.100.7])\r\n"
    "\tby mx.example.com (Postfix) with ESMTPS id 4ABC\r\n"
    "\tfor <b@example.com>; Wed, 01 May 2024 11:59:59 +0000 (UTC)\r\n";

// Exim writes envelope-from too; only "with LMTP" tells Dovecot's record apart.
const std::string kEximReceived =
    "Received: from mail.example.org ([198.51.100.7])\r\n"
    "\tby mx.example.com with esmtps (Exim 4.96)\r\n"
    "\t(envelope-from <a@example.org>)\r\n"
    "\tid 1rABCD-000123-4E\r\n"
    "\tfor b@example.com; Wed, 01 May 2024 11:59:58 +0000\r\n";

std::string ToLf(std::string text) {
  std::string out;
  for (char c : text) {
    if (c != '\r') out.push_back(c);
  }
  return out;
}

TEST(TraceTest, LmtpPrefixes) {
  struct Case {
    std::string name;
    std::string prefix;  // what must be recognised
    std::string rest;    // what must stay in the message
    std::string rcpt_to;
    std::string orcpt;
  } cases[] = {
      {"all three", kReturnPath + kDeliveredTo + kReceived, kBody, "b+tag@example.com", ""},
      {"no Delivered-To (several recipients)", kReturnPath + kReceived, kBody, "x@y", ""},
      {"no Received", kReturnPath + kDeliveredTo, kBody, "b+tag@example.com", ""},
      {"Return-Path only", kReturnPath, kBody, "b@example.com", ""},
      {"null sender, TLS, no for", "Return-Path: <>\r\n" + kReceivedTls, kBody, "", ""},
      {"Delivered-To matches orcpt", kReturnPath + kDeliveredTo + kReceived, kBody,
       "other@example.com", "B+TAG@example.com"},
      {"Delivered-To compared without case", kReturnPath + kDeliveredTo, kBody,
       "<B+Tag@Example.COM>", ""},
      {"sender's Received stays", kReturnPath + kReceived, kMtaReceived + kBody, "x@y", ""},
      {"MTA Received right after Return-Path", kReturnPath, kMtaReceived + kBody, "x@y", ""},
      {"Exim Received with envelope-from stays", kReturnPath, kEximReceived + kBody, "x@y", ""},
      {"Exim Received after Delivered-To stays", kReturnPath + kDeliveredTo, kEximReceived + kBody,
       "b+tag@example.com", ""},
      {"foreign Delivered-To stays", kReturnPath, kDeliveredTo + kReceived + kBody, "someone@else",
       ""},
      {"no recipient known: Delivered-To stays", kReturnPath, kDeliveredTo + kBody, "", ""},
      {"Received without envelope-from stays", kReturnPath,
       "Received: from x ([1.2.3.4])\r\n\tby h with LMTP\r\n\tid 1; date\r\n" + kBody, "", ""},
      {"second Return-Path belongs to the message", kReturnPath, "Return-Path: <old@x>\r\n" + kBody,
       "", ""},
      {"no Return-Path", "", kDeliveredTo + kReceived + kBody, "b+tag@example.com", ""},
      {"Return-Path without brackets", "", "Return-Path: a@example.org\r\n" + kBody, "", ""},
      {"return-path in another case is not Dovecot's", "",
       "return-path: <a@example.org>\r\n" + kBody, "", ""},
      {"prefix only, no body", kReturnPath + kReceived, "", "x@y", ""},
      {"truncated Received", kReturnPath, "Received: from x ([1.2.3.4])\r\n\tby h", "", ""},
      {"empty message", "", "", "", ""},
      // RFC 5321 allows a quoted local part with "; " and ">)" in it; Dovecot writes it
      // as is, so the sender must be matched, not searched for a date separator.
      {"quoted sender with a date separator in it",
       "Return-Path: <\"x; Sun, 22 Nov 2026 01:00:00 +0000\"@example.net>\r\n"
       "Received: from mx ([192.0.2.1])\r\n\tby imap.example.com with LMTP\r\n\tid abc\r\n"
       "\t(envelope-from <\"x; Sun, 22 Nov 2026 01:00:00 +0000\"@example.net>)\r\n"
       "\tfor <b@example.com>; Wed, 01 May 2024 12:00:00 +0000\r\n",
       kBody, "b@example.com", ""},
      {"quoted sender with '>)' in it",
       "Return-Path: <\"a>)b\"@example.net>\r\n"
       "Received: from mx ([192.0.2.1])\r\n\tby imap.example.com with LMTP\r\n\tid abc\r\n"
       "\t(envelope-from <\"a>)b\"@example.net>); Wed, 01 May 2024 12:00:00 +0000\r\n",
       kBody, "", ""},
      {"envelope-from of another sender is not Dovecot's", kReturnPath,
       "Received: from mx ([192.0.2.1])\r\n\tby h with LMTP\r\n\tid 1\r\n"
       "\t(envelope-from <other@example.org>); Wed, 01 May 2024 12:00:00 +0000\r\n" + kBody,
       "", ""},
      // A message may itself start with a whitespace line (seen in real mail): it is not
      // a continuation of Dovecot's one-line Return-Path or of its finished Received.
      {"message starting with a blank-looking line after Received", kReturnPath + kReceived,
       "      \r\nMIME-Version: 1.0\r\n" + kBody, "x@y", ""},
      {"message starting with a blank-looking line after Return-Path", kReturnPath,
       "\t \r\n" + kBody, "x@y", ""},
      {"message starting with a tab line after Delivered-To", kReturnPath + kDeliveredTo,
       "\tfolded?\r\n" + kBody, "b+tag@example.com", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const TraceEnvelope envelope{"a@example.org", c.rcpt_to, c.orcpt, "b"};
    EXPECT_EQ(DeliveryTraceLength(c.prefix + c.rest, DeliveryAgent::kLmtp, envelope),
              c.prefix.size());
    std::string lf_prefix = ToLf(c.prefix);
    EXPECT_EQ(
        DeliveryTraceLength(lf_prefix + ToLf(c.rest), DeliveryAgent::kLmtp, envelope),
        lf_prefix.size())
        << "with LF line endings";
  }
}

TEST(TraceTest, AgentOfTheSavingService) {
  EXPECT_EQ(AgentOfService("lmtp"), DeliveryAgent::kLmtp);
  EXPECT_EQ(AgentOfService("lda"), DeliveryAgent::kLda);
  for (const char* other : {"imap", "doveadm", "pop3", "", "LMTP"})
    EXPECT_EQ(AgentOfService(other), DeliveryAgent::kAppend) << other;
}

TEST(TraceTest, AppendAddsNothing) {
  std::string message = kReturnPath + kDeliveredTo + kReceived + kBody;
  EXPECT_EQ(DeliveryTraceLength(message, DeliveryAgent::kAppend,
                                {"a@example.org", "b+tag@example.com", "", "b"}),
            0u);
}

// What Postfix's pipe(8) with flags=ODRhu (or local(8)) writes before running dovecot-lda
// -f SENDER [-a ORCPT] -d USER: Return-Path, X-Original-To, Delivered-To, in this order.
TEST(TraceTest, MtaPrefixesBeforeLda) {
  const std::string original = "X-Original-To: sales@example.com\n";
  const std::string delivered = "Delivered-To: bob@example.com\n";
  const std::string return_path = "Return-Path: <a@example.org>\n";
  const TraceEnvelope with_a{"a@example.org", "sales@example.com", "", "bob@example.com"};
  struct Case {
    std::string name;
    std::string prefix;  // what must be recognised
    std::string rest;    // what must stay in the message
    TraceEnvelope envelope;
  } cases[] = {
      {"flags=DRhu, -d the recipient", return_path + delivered, ToLf(kBody),
       {"a@example.org", "", "", "bob@example.com"}},
      {"flags=DRhu, -a the recipient", return_path + delivered, ToLf(kBody),
       {"a@example.org", "bob@example.com", "", "bob"}},
      {"flags=ODRhu with -a", return_path + original + delivered, ToLf(kBody), with_a},
      {"flags=D only", delivered, ToLf(kBody), with_a},
      {"flags=R only", return_path, ToLf(kBody), with_a},
      {"case and CRLF", "Return-Path: <A@Example.ORG>\r\nDelivered-To: BOB@example.com\r\n",
       kBody, with_a},
      {"null sender", "Return-Path: <>\n" + delivered, ToLf(kBody),
       {"", "", "", "bob@example.com"}},
      {"a Delivered-To naming someone else stays", return_path,
       "Delivered-To: carol@example.com\n" + ToLf(kBody), with_a},
      {"another sender's Return-Path stays", "",
       "Return-Path: <x@example.net>\n" + delivered + ToLf(kBody), with_a},
      {"out of order stays after it", return_path + delivered,
       original + ToLf(kBody), with_a},
      {"an LMTP Received is not the MTA's", return_path + delivered,
       ToLf(kReceived + kBody), with_a},
      {"no trace", "", ToLf(kBody), with_a},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(DeliveryTraceLength(c.prefix + c.rest, DeliveryAgent::kLda, c.envelope),
              c.prefix.size());
  }
}

}  // namespace
}  // namespace archiver
