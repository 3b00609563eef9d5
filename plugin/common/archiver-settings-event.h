// Dovecot 2.4: the archiver_* settings read through an event (settings_get), the typed
// struct of archiver-settings-dovecot24.h turned into the text the parser of
// archiver-settings.h reads on both majors, and 2.4's load-time check built on it.
#pragma once

#include <string>

#include "common/archiver-settings.h"

struct event;

namespace archiver::plugin {

// Reads the settings that apply to `event` (a mail user's, doveadm's set_event, a service's
// root event) and parses them. `expand`: %{variables} expanded (false: raw, e.g. to tell
// whether archiver_path depends on the user). OK, or InvalidArgument with the message to
// show (a value Dovecot could not read or expand, or ParseArchiverSettings' error).
Status ReadArchiverSettings(struct event* event, bool expand, bool require_path,
                            ArchiverSettings* settings);

// Dovecot 2.3's %u/%d/%h style variable in `path` ("%u"), "" when there is none: 2.4 takes
// such a "%" literally, so every user's mail would go to one directory named "%u".
std::string OldStyleVariable(const std::string& path);

}  // namespace archiver::plugin
