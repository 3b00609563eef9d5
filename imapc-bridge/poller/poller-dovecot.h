// The one place the poller service includes Dovecot's C headers: config.h and lib.h
// first, all inside extern "C", in the order they need under C++.
#pragma once

extern "C" {
#include "config.h"
#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "ioloop.h"
#include "child-wait.h"
#include "restrict-access.h"
#include "settings-parser.h"
#include "master-service.h"
#include "master-service-settings.h"
#if DOVECOT_PREREQ(2, 4, 0)
#include "str-parse.h"
#include "common/archiver-settings-dovecot24.h"
#endif
}
