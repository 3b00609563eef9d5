// Status: names of the categories and the "Category: message" rendering used in logs.
#include "archiver/status.h"

namespace archiver {

const char* StatusCodeName(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kNotFound:
      return "NotFound";
    case Status::Code::kCorruption:
      return "Corruption";
    case Status::Code::kIOError:
      return "IOError";
    case Status::Code::kInvalidArgument:
      return "InvalidArgument";
    case Status::Code::kLimitExceeded:
      return "LimitExceeded";
    case Status::Code::kMapFull:
      return "MapFull";
    case Status::Code::kAmbiguous:
      return "Ambiguous";
    case Status::Code::kPermissionDenied:
      return "PermissionDenied";
    case Status::Code::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string text = StatusCodeName(code_);
  if (!message_.empty()) {
    text += ": ";
    text += message_;
  }
  return text;
}

}  // namespace archiver
