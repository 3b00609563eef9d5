// ScanFolder: a UID search above the checkpoint that prefetches RFC822.SIZE, INTERNALDATE
// and, for DMARC sources, the Subject and From headers (imapc_features rfc822.size and
// fetch-headers make these FETCHes without bodies), then the skip decisions.
#include "source-scan.h"

#include <cstring>

#include "archiver/store/store.h"
#include "source-dovecot.h"

namespace archiver::imapc {
namespace {

const char* const kFilterHeaders[] = {"Subject", "From", nullptr};

// A DMARC source's filters on one message. "" when it is selected, else why not.
std::string FilterReason(const SourceConfig& config, struct mail* mail, uint64_t size,
                         uint64_t now_seconds) {
  if (config.max_size != 0 && size > config.max_size)
    return FormatBytes(size) + " is over --max-size " + FormatBytes(config.max_size);
  if (config.max_age_seconds != 0) {
    time_t received = 0;
    if (mail_get_received_date(mail, &received) == 0 && received > 0 &&
        static_cast<uint64_t>(received) + config.max_age_seconds < now_seconds)
      return "older than --max-age";
  }
  const char* subject = nullptr;
  const char* from = nullptr;
  if (!config.subject_filter.empty() &&
      (mail_get_first_header_utf8(mail, "Subject", &subject) < 0 ||
       !FilterSelects(config.subject_filter, subject)))
    return "the subject does not match --subject-filter";
  if (!config.sender_filter.empty() && (mail_get_first_header_utf8(mail, "From", &from) < 0 ||
                                        !FilterSelects(config.sender_filter, from)))
    return "the sender does not match --sender-filter";
  return "";
}

}  // namespace

RemoteError ScanFolder(RemoteAccount* account, struct mailbox* box,
                       const std::vector<uint32_t>& retry, uint32_t last_uid,
                       const ScanRules& rules, FolderScan* scan) {
  const bool dmarc = rules.config->purpose == SourcePurpose::kDmarc;
  struct mailbox_header_lookup_ctx* headers =
      dmarc ? mailbox_header_lookup_init(box, kFilterHeaders) : nullptr;
  struct mail_search_args* args = mail_search_build_init();
  struct mail_search_arg* range = mail_search_build_add(args, SEARCH_UIDSET);
  p_array_init(&range->value.seqset, args->pool, retry.size() + 1);
  for (uint32_t uid : retry) seq_range_array_add(&range->value.seqset, uid);
  seq_range_array_add_range(&range->value.seqset, last_uid + 1, (uint32_t)-1);
  std::vector<uint32_t> seen;  // the UIDs of `retry` the remote still has
  struct mailbox_transaction_context* transaction = mailbox_transaction_begin(
      box, static_cast<enum mailbox_transaction_flags>(0), "archiver source scan");
  auto fields =
      static_cast<enum mail_fetch_field>(MAIL_FETCH_PHYSICAL_SIZE | MAIL_FETCH_RECEIVED_DATE);
  struct mail_search_context* search =
      mailbox_search_init(transaction, args, nullptr, fields, headers);
  mail_search_args_unref(&args);
  RemoteError failure;
  struct mail* mail = nullptr;
  const std::string context = std::string("folder ") + mailbox_get_vname(box);
  while (failure.ok() && mailbox_search_next(search, &mail)) {
    uoff_t size = 0;
    if (mail->uid <= last_uid) seen.push_back(mail->uid);
    if (mail_get_physical_size(mail, &size) < 0) {
      if (mail->expunged) {  // gone meanwhile: the checkpoint passes over it
        if (mail->uid <= last_uid) seen.pop_back();
        continue;
      }
      RemoteError failed =
          account->MailboxError(box, context + ": UID " + std::to_string(mail->uid));
      if (IsConnectionFailure(failed)) {
        failure = failed;
      } else {
        scan->refused.push_back({mail->uid, 0, failed.reason});
      }
      continue;
    }
    std::string filtered = dmarc ? FilterReason(*rules.config, mail, size, rules.now_seconds) : "";
    FileScannedMessage(mail->uid, size, filtered, rules.max_message_bytes, context, scan);
  }
  if (mailbox_search_deinit(&search) < 0 && failure.ok())
    failure = account->MailboxError(box, context + ": listing the new messages");
  (void)mailbox_transaction_commit(&transaction);
  if (headers != nullptr) mailbox_header_lookup_unref(&headers);
  if (failure.ok()) {
    std::vector<uint32_t> gone = GoneRetries(retry, seen);
    scan->gone.insert(scan->gone.end(), gone.begin(), gone.end());
  }
  return failure;
}

}  // namespace archiver::imapc
