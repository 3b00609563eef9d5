// The one place the glue includes Dovecot's C headers: config.h and lib.h first, all
// inside extern "C", in the order Dovecot's headers need under C++.
#pragma once

extern "C" {
#include "config.h"
#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "ioloop.h"
#include "module-context.h"
#include "wildcard-match.h"
#include "mail-user.h"
#include "mail-storage.h"
#include "mail-storage-private.h"
#include "mail-storage-hooks.h"
#include "mail-deliver.h"
#include "smtp-address.h"
#include "buffer.h"
#include "charset-utf8.h"
#include "message-parser.h"
#include "message-decoder.h"
#include "message-header-parser.h"
#include "rfc822-parser.h"
#include "rfc2231-parser.h"
}
