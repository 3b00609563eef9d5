// The Reader's report of a value it could not read (see value_codec.h). Everything else
// of the codec is inline: it runs for every field of every value a query reads.
#include "base/value_codec.h"

namespace archiver::value_codec {

Status Reader::Done(const char* what) const {
  if (ok()) return Status::Ok();
  std::string message(what);
  switch (problem_) {
    case Problem::kNone:
      break;
    case Problem::kEmpty:
      message += " is empty";
      break;
    case Problem::kUnknownVersion:
      message += " has unknown version " + std::to_string(bad_version_);
      break;
    case Problem::kTruncated:
      message += " is truncated";
      break;
    case Problem::kMalformed:
      message += " has ";
      message += malformed_;
      break;
  }
  return Status::Corruption(message);
}

}  // namespace archiver::value_codec
