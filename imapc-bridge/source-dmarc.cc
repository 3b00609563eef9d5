// DMARC sources: the batch's mails through the glue's reader, then the --after action
// through imapc (flags and expunges are pushed by a mailbox sync; a move is imapc's UID
// COPY followed by an expunge, as Dovecot 2.3's imapc has no MOVE of its own).
#include "source-dmarc.h"

#include "archiver/digest.h"
#include "source-dovecot.h"

namespace archiver::imapc {
namespace {

void AddError(std::string* errors, const std::string& text) {
  if (!errors->empty()) *errors += "; ";
  *errors += text;
}

// The move target, created when the remote does not have it yet; `*opened` is null when
// it fails.
RemoteError OpenTarget(struct mailbox* box, const std::string& folder, struct mailbox** opened) {
  *opened = nullptr;
  struct mailbox* target = mailbox_alloc(mailbox_get_namespace(box)->list, folder.c_str(),
                                         static_cast<enum mailbox_flags>(0));
  enum mail_error code = MAIL_ERROR_NONE;
  if (mailbox_open(target) < 0) {
    (void)mailbox_get_last_internal_error(target, &code);
    if (code == MAIL_ERROR_NOTFOUND && mailbox_create(target, nullptr, false) < 0) {
      (void)mailbox_get_last_internal_error(target, &code);
      if (code != MAIL_ERROR_EXISTS) code = MAIL_ERROR_TEMP;
    }
    if (code != MAIL_ERROR_NOTFOUND && code != MAIL_ERROR_EXISTS) {
      RemoteError failure{FailureKind::kRemote, "folder " + folder + ": " +
                                                    mailbox_get_last_internal_error(target, &code)};
      mailbox_free(&target);
      return failure;
    }
  }
  *opened = target;
  return {};
}

}  // namespace

void AddDmarcTally(DmarcTally* total, const DmarcTally& folder) {
  total->mails += folder.mails;
  total->reports += folder.reports;
  total->failures += folder.failures;
  total->failed += folder.failed;
  total->filtered += folder.filtered;
  total->acted += folder.acted;
  if (!folder.errors.empty()) AddError(&total->errors, folder.errors);
}

std::string DmarcFolderSummary(const std::string& folder, const DmarcTally& tally,
                               SourceAfter after) {
  return "dmarc " + folder + ": " + std::to_string(tally.mails) + " mails with reports (" +
         std::to_string(tally.reports) + " aggregate, " + std::to_string(tally.failures) +
         " failure), " + std::to_string(tally.failed) + " failed, " +
         std::to_string(tally.filtered) + " skipped by the filters, " +
         std::to_string(tally.acted) + " " + SourceAfterName(after);
}

Status ReadBatchReports(const DmarcMailReader& reader, const std::string& source,
                        const std::string& folder, const std::vector<uint32_t>& uids,
                        const std::vector<std::string_view>& mails, std::vector<uint32_t>* act,
                        DmarcTally* tally) {
  if (!reader) return Status::InvalidArgument("this process cannot read DMARC reports");
  for (size_t i = 0; i < mails.size(); ++i) {
    DmarcOrigin origin;
    origin.kind = DmarcOriginKind::kImap;
    origin.detail = source + "/" + folder;
    origin.mail = Sha256::Of(mails[i]);  // the archived id: ArchiveBatch stores it so
    DmarcMail noted;
    noted.mail = *origin.mail;
    noted.user = source;
    noted.mailbox = folder;
    Status read = reader(mails[i], origin, &noted);
    if (!read.ok()) return read;
    tally->reports += noted.reports;
    tally->failures += noted.failures;
    if (noted.reports + noted.failures > 0) {
      ++tally->mails;
      act->push_back(uids[i]);
    } else {
      ++tally->failed;
      AddError(&tally->errors, "UID " + std::to_string(uids[i]) + " (mail " + ToHex(*origin.mail) +
                                   "): no readable DMARC report");
    }
  }
  return Status::Ok();
}

RemoteError ApplyAfterAction(struct mailbox* box, const SourceConfig& config,
                             const std::vector<uint32_t>& uids) {
  if (uids.empty() || config.after == SourceAfter::kNone) return {};
  struct mailbox* target = nullptr;
  struct mailbox_transaction_context* target_transaction = nullptr;
  if (config.after == SourceAfter::kMove) {
    RemoteError failure = OpenTarget(box, config.after_folder, &target);
    if (!failure.ok()) return failure;
    // imapc saves (here: UID COPY) only in external transactions.
    target_transaction =
        mailbox_transaction_begin(target, MAILBOX_TRANSACTION_FLAG_EXTERNAL, "archiver DMARC move");
  }
  // Not external: the flag changes and expunges must be synced to the remote.
  struct mailbox_transaction_context* transaction = mailbox_transaction_begin(
      box, static_cast<enum mailbox_transaction_flags>(0), "archiver DMARC after");
  struct mail* mail = mail_alloc(transaction, static_cast<enum mail_fetch_field>(0), nullptr);
  RemoteError failure;
  for (uint32_t uid : uids) {
    if (!mail_set_uid(mail, uid)) continue;  // expunged on the remote meanwhile
    if (config.after == SourceAfter::kSeen) {
      mail_update_flags(mail, MODIFY_ADD, MAIL_SEEN);
    } else if (config.after == SourceAfter::kDelete) {
      mail_expunge(mail);
    } else {
      struct mail_save_context* save = mailbox_save_alloc(target_transaction);
      if (mailbox_move(&save, mail) < 0) {
        enum mail_error code;
        failure = {FailureKind::kRemote, "moving UID " + std::to_string(uid) + " to " +
                                             config.after_folder + ": " +
                                             mailbox_get_last_internal_error(target, &code)};
        break;
      }
    }
  }
  mail_free(&mail);
  enum mail_error code;
  if (target_transaction != nullptr) {
    if (!failure.ok()) {
      mailbox_transaction_rollback(&target_transaction);
    } else if (mailbox_transaction_commit(&target_transaction) < 0) {
      failure = {FailureKind::kRemote, "moving to " + config.after_folder + ": " +
                                           mailbox_get_last_internal_error(target, &code)};
    }
  }
  if (!failure.ok()) {  // nothing copied is expunged from the source
    mailbox_transaction_rollback(&transaction);
  } else if (mailbox_transaction_commit(&transaction) < 0 ||
             mailbox_sync(box, static_cast<enum mailbox_sync_flags>(0)) < 0) {
    failure = {FailureKind::kRemote, std::string(SourceAfterName(config.after)) + ": " +
                                         mailbox_get_last_internal_error(box, &code)};
  }
  if (target != nullptr) mailbox_free(&target);
  return failure;
}

}  // namespace archiver::imapc
