// LogCapture: a failure handler that records and chains.
#include "source-log-capture.h"

#include <cstdarg>

#include "source-dovecot.h"

namespace archiver::imapc {
namespace {

LogCapture* active_capture = nullptr;
std::vector<std::string>* active_lines = nullptr;
failure_callback_t* previous_error_handler = nullptr;

void CapturingErrorHandler(const struct failure_context* ctx, const char* format, va_list args) {
  if (active_lines != nullptr) {
    va_list copy;
    va_copy(copy, args);
    char buffer[1024];
    int length = vsnprintf(buffer, sizeof(buffer), format, copy);
    va_end(copy);
    if (length >= 0) {
      try {
        active_lines->emplace_back(buffer);
      } catch (...) {
        // Out of memory while logging: the line still reaches the log below.
      }
    }
  }
  previous_error_handler(ctx, format, args);
}

}  // namespace

LogCapture::LogCapture() {
  i_assert(active_capture == nullptr);
  failure_callback_t* fatal = nullptr;
  failure_callback_t* info = nullptr;
  failure_callback_t* debug = nullptr;
  i_get_failure_handlers(&fatal, &previous_error_handler, &info, &debug);
  active_capture = this;
  active_lines = &lines_;
  i_set_error_handler(CapturingErrorHandler);
}

LogCapture::~LogCapture() {
  i_set_error_handler(previous_error_handler);
  active_capture = nullptr;
  active_lines = nullptr;
}

}  // namespace archiver::imapc
