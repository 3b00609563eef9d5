// archiver_path values: which name one archive per user (or domain) rather than one for
// the whole server. Header-only, so that archiver-poller (which links only libdovecot)
// applies the same rule as the doveadm commands.
#pragma once

#include <string_view>

namespace archiver {

// True when an archiver_path expands per user: Dovecot variables (%u, %d, …) or a home
// (~). Remote sources live in one archive for the server, so such a path can have none.
inline bool ArchivePathDependsOnUser(std::string_view path) {
  return path.find('%') != std::string_view::npos || path.starts_with('~');
}

}  // namespace archiver
