#include "log-pipe.h"

#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace archiver::poller {

bool WaitForPipeDrained(int fd, unsigned max_msecs) {
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) return true;
  constexpr unsigned kStepMsecs = 10;
  for (unsigned waited = 0;; waited += kStepMsecs) {
    int unread = 0;
    if (ioctl(fd, FIONREAD, &unread) < 0 || unread == 0) return true;
    if (waited >= max_msecs) return false;
    usleep(kStepMsecs * 1000);
  }
}

}  // namespace archiver::poller
