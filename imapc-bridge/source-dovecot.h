// The one place the imapc bridge includes Dovecot's C headers: config.h and lib.h first,
// all inside extern "C", in the order they need under C++.
#pragma once

extern "C" {
#include "config.h"
#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "ioloop.h"
#include "failures.h"
#include "master-service.h"
#include "mail-user.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-storage-service.h"
#include "mailbox-list.h"
#include "mailbox-list-iter.h"
#include "mail-search-build.h"
#include "seq-range-array.h"
#include "imap-util.h"
#include "wildcard-match.h"
#if !DOVECOT_PREREQ(2, 4, 0)
#include "master-service-ssl-settings.h"  // the imapc user's ssl_client_ca_file
#endif
}
