// FetchMessages (source-fetch.h): a UID search over the batch with the stream, the
// INTERNALDATE and the flags prefetched, then each message read whole.
#include "source-fetch.h"

#include <string>

#include "source-dovecot.h"

namespace archiver::imapc {
namespace {

const enum mail_fetch_field kFetchFields =
    static_cast<enum mail_fetch_field>(MAIL_FETCH_STREAM_HEADER | MAIL_FETCH_STREAM_BODY |
                                       MAIL_FETCH_RECEIVED_DATE | MAIL_FETCH_FLAGS);

// Reads a remote message: its bytes, INTERNALDATE and flags. False when imapc could not
// give it (the mailbox's last error says why); `expunged` tells a message removed on the
// remote meanwhile (then it is skipped).
bool ReadRemoteMessage(struct mail* mail, RemoteMessage* message, bool* expunged) {
  *expunged = false;
  message->uid = mail->uid;
  struct istream* input = nullptr;
  if (mail_get_stream(mail, nullptr, nullptr, &input) < 0) {
    *expunged = mail->expunged;
    return false;
  }
  const unsigned char* data = nullptr;
  size_t length = 0;
  while (i_stream_read_more(input, &data, &length) > 0) {
    message->bytes.append(reinterpret_cast<const char*>(data), length);
    i_stream_skip(input, length);
  }
  if (input->stream_errno != 0) return false;
  time_t received = 0;
  if (mail_get_received_date(mail, &received) == 0 && received > 0)
    message->internal_date_us = static_cast<uint64_t>(received) * 1000000;
  string_t* flags = t_str_new(64);
  imap_write_flags(flags, static_cast<enum mail_flags>(mail_get_flags(mail) & ~MAIL_RECENT),
                   mail_get_keywords(mail));
  message->flags = str_c(flags);
  return true;
}

}  // namespace

RemoteError FetchMessages(RemoteAccount* account, struct mailbox* box,
                          const std::vector<ScannedMessage>& take, size_t begin, size_t end,
                          uint64_t max_message_bytes, FetchedMessages* fetched) {
  struct mail_search_args* args = mail_search_build_init();
  struct mail_search_arg* range = mail_search_build_add(args, SEARCH_UIDSET);
  p_array_init(&range->value.seqset, args->pool, end - begin);
  for (size_t i = begin; i < end; ++i) seq_range_array_add(&range->value.seqset, take[i].uid);
  struct mailbox_transaction_context* transaction = mailbox_transaction_begin(
      box, static_cast<enum mailbox_transaction_flags>(0), "archiver source sync");
  struct mail_search_context* search =
      mailbox_search_init(transaction, args, nullptr, kFetchFields, nullptr);
  mail_search_args_unref(&args);
  const std::string context = std::string("folder ") + mailbox_get_vname(box);
  RemoteError failure;
  struct mail* mail = nullptr;
  while (failure.ok() && mailbox_search_next(search, &mail)) {
    RemoteMessage message;
    bool expunged = false;
    if (!ReadRemoteMessage(mail, &message, &expunged)) {
      if (expunged) {  // gone on the remote: the checkpoint passes over it
        fetched->expunged.push_back(mail->uid);
        continue;
      }
      RemoteError failed =
          account->MailboxError(box, context + ": UID " + std::to_string(mail->uid));
      if (IsConnectionFailure(failed)) {
        failure = failed;
        fetched->lost_at = mail->uid;
      } else {
        fetched->refused.push_back({mail->uid, 0, failed.reason});
      }
      continue;
    }
    if (max_message_bytes != 0 && message.bytes.size() > max_message_bytes) {
      fetched->oversized.push_back(
          {message.uid, SkipKind::kOversized,
           OversizedReason(context, message.uid, message.bytes.size(), max_message_bytes)});
      continue;
    }
    fetched->messages.push_back(std::move(message));
  }
  if (mailbox_search_deinit(&search) < 0 && failure.ok())
    failure = account->MailboxError(box, context + ": fetching");
  (void)mailbox_transaction_commit(&transaction);
  return failure;
}

}  // namespace archiver::imapc
