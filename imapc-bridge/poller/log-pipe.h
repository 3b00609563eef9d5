// Waiting until Dovecot's log process has read a service's log pipe empty.
//
// Dovecot 2.3's log process parses, on its first read of a service's log pipe, only the
// master's handshake: lines that were already in the pipe with it stay in its buffer
// until the next write to that pipe (src/log/log-connection.c, log_connection_input).
// The master forks min_avail services before the log process, so a service that logs
// one line at start and then stays silent (archiver-poller) can lose that line for good.
// Waiting until the pipe holds no unread bytes before the first line avoids it.
#pragma once

namespace archiver::poller {

// Waits, polling every 10 ms, until the pipe `fd` writes into has no unread bytes
// (FIONREAD), at most `max_msecs`. True when it is empty or `fd` is not a pipe (nothing
// to wait for); false when the time ran out with bytes still unread.
bool WaitForPipeDrained(int fd, unsigned max_msecs);

}  // namespace archiver::poller
