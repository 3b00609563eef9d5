// DMARC reports at delivery: a delivery that archiver_dmarc_mailboxes names (by
// recipient, or by user and mailbox) is read for DMARC reports right after it is
// archived. Report problems never fail or hold up the delivery.
#pragma once

#include "mail/archiver-deliver.h"
#include "common/archiver-dovecot.h"
#include "mail/archiver-user.h"

namespace archiver::plugin {

// When `user`'s settings make this delivery of `message` (archived already: its id is
// known) into `mailbox` ("" when saved in none) a DMARC report delivery, runs the
// report pipeline over it and notes the mail in the DMARC ledger. Unreadable reports
// become ledger errors and a warning; a failing archive is logged as an error that
// names `doveadm dmarc reprocess`. Never throws, never fails the delivery.
void ProcessDmarcDelivery(ArchiverUser& user, const CapturedMessage& message,
                          const DeliveryEnvelope& envelope, const char* mailbox,
                          struct event* event);

}  // namespace archiver::plugin
