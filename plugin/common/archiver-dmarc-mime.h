// The MIME walk for DMARC report mails: Dovecot's message parser and decoder take a
// mail (or a .eml file) apart, and every leaf part, decoded from base64 or
// quoted-printable, goes to the core's DmarcMailPipeline. Used by the delivery hook and
// by `doveadm dmarc import` / `reprocess`, so both read a mail the same way.
#pragma once

#include <string_view>
#include <vector>

#include "common/archiver-dovecot.h"
#include "archiver/dmarc/dmarc_pipeline.h"
#include "archiver/dmarc/dmarc_store.h"
#include "archiver/status.h"

namespace archiver::plugin {

struct DmarcWalkLimits {
  unsigned max_depth = 8;    // multipart / message/rfc822 nesting
  unsigned max_parts = 256;  // MIME parts per mail, attached mails included
};

// Reads one mail for DMARC reports: walks `input` from its current offset to its end
// (an LMTP raw mail, an archived message, a .eml file) and hands every leaf part, and
// each message/rfc822 part's header block, to a DmarcMailPipeline over `store` that
// stores what it finds under `origin` (origin.part is set per part: "2", "2.1", IMAP's
// numbers). Parts inside message/rfc822 (a report forwarded as .eml) and
// multipart/related are walked, and so is an application/octet-stream part whose bytes
// are a mail. The walk's own limits are ledger errors too: a part larger than
// options.unpack.max_output_bytes once decoded (archiver_dmarc_max_size; only when its
// content is a report container: a large image is simply not a report), nesting
// deeper than limits.max_depth, more than limits.max_parts parts. Returns every item,
// in MIME order; a mail in which nothing at all was found has the pipeline's "no DMARC
// report found" error. Non-OK only when reading `input` or the store fails (then some
// of the mail's reports may be stored: reading it again is safe, stored reports are
// found again as duplicates).
Result<std::vector<DmarcItem>> ReadDmarcMail(struct istream* input, DmarcStore& store,
                                             const DmarcPipelineOptions& options,
                                             const DmarcOrigin& origin,
                                             const DmarcWalkLimits& limits = {});

// The same for a mail in memory (a captured delivery, an archived message); `mail` is
// only read during the call.
Result<std::vector<DmarcItem>> ReadDmarcMail(std::string_view mail, DmarcStore& store,
                                             const DmarcPipelineOptions& options,
                                             const DmarcOrigin& origin,
                                             const DmarcWalkLimits& limits = {});

// ReadDmarcMail for a mail the archive holds (origin.mail), then the mail is noted in
// the DMARC ledger (DmarcStore::NoteMail, replacing an earlier note) with what came of
// it: `noted`'s reports, failures, errors and processed_us are filled in, the caller
// sets its id, user and mailbox. What a report delivery gets; reading an archived
// mail again (`doveadm dmarc reprocess`) is the same.
// Errors as for ReadDmarcMail; the note is not written when reading fails.
Result<std::vector<DmarcItem>> ReadArchivedDmarcMail(std::string_view mail, DmarcStore& store,
                                                     const DmarcPipelineOptions& options,
                                                     const DmarcOrigin& origin, DmarcMail* noted);

}  // namespace archiver::plugin
