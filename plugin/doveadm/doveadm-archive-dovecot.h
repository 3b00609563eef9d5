// Dovecot's C headers for the doveadm module, in the order they need under C++.
#pragma once

extern "C" {
#include "config.h"
#include "lib.h"
#include "array.h"
#include "str.h"
#include "lib-signals.h"
#include "master-service.h"
#include "master-service-settings.h"
#include "mail-user.h"
#include "mail-storage.h"
#include "mail-storage-service.h"
#include "doveadm.h"
#include "doveadm-mail.h"
#include "doveadm-cmd.h"
#if DOVECOT_PREREQ(2, 4, 0)
#include "doveadm-cmd-parse.h"
#endif
#include "doveadm-print.h"
#include "doveadm-util.h"
}
