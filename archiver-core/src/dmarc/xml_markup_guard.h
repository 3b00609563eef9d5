// MarkupGuard: bounds the start tags of untrusted XML before libxml2 sees them. libxml2
// checks an element's attributes for duplicates pairwise (quadratic in their number in
// 2.9) and holds a whole start tag in memory, so one tag of many attributes or megabytes
// costs far more than its bytes: the guard measures each start tag as the bytes stream
// past (any chunking) and refuses one too long or with too many attributes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "archiver/status.h"

namespace archiver {

class MarkupGuard {
 public:
  MarkupGuard(size_t max_tag_bytes, size_t max_attributes)
      : max_tag_bytes_(max_tag_bytes), max_attributes_(max_attributes) {}

  // Scans the next `bytes` of the document. LimitExceeded naming the limit when a start
  // tag is longer than max_tag_bytes or has more than max_attributes attributes (then
  // stop feeding the parser); Ok otherwise. Comments, CDATA sections, processing
  // instructions and declarations are passed over, not measured. Bytes are read as
  // ASCII-compatible or UTF-16 alike: only '<', '>', '=', quotes, '!', '?', '-', '[' and
  // ']' matter, and the zero bytes of UTF-16 count towards the length only.
  Status Scan(std::string_view bytes);

 private:
  enum class State : uint8_t {
    kText,
    kOpen,      // after '<'
    kBang,      // after "<!"
    kBangDash,  // after "<!-"
    kTag,       // in a start or end tag, outside quotes
    kQuoted,    // in a start tag, inside an attribute value
    kComment,   // in "<!--" … "-->"
    kCData,     // in "<![" … "]]>"
    kSkip,      // in "<?" … ">" or "<!X" … ">"
  };

  const size_t max_tag_bytes_;
  const size_t max_attributes_;
  State state_ = State::kText;
  bool end_tag_ = false;
  char quote_ = 0;
  uint8_t run_ = 0;        // '-' or ']' just seen in a comment or CDATA section
  size_t tag_bytes_ = 0;
  size_t attributes_ = 0;
};

}  // namespace archiver
