// MarkupGuard (xml_markup_guard.h): a byte-at-a-time state machine over the markup, so
// that a tag cut across chunks is measured whole.
#include "dmarc/xml_markup_guard.h"

#include <string>

namespace archiver {

// Over 60 lines: one switch over the states, so that the per-byte loop stays one tight
// function and each state's transitions read in one place.
Status MarkupGuard::Scan(std::string_view bytes) {
  for (char c : bytes) {
    switch (state_) {
      case State::kText:
        if (c == '<') state_ = State::kOpen;
        break;
      case State::kOpen:
        if (c == '\0') break;  // UTF-16
        if (c == '!') {
          state_ = State::kBang;
        } else if (c == '?') {
          state_ = State::kSkip;
        } else {
          state_ = State::kTag;
          end_tag_ = c == '/';
          tag_bytes_ = 2;
          attributes_ = 0;
          if (c == '>') state_ = State::kText;
        }
        break;
      case State::kBang:
        if (c == '\0') break;
        state_ = c == '-' ? State::kBangDash : c == '[' ? State::kCData : State::kSkip;
        run_ = 0;
        break;
      case State::kBangDash:
        if (c == '\0') break;
        state_ = c == '-' ? State::kComment : State::kSkip;
        run_ = 0;
        break;
      case State::kComment:
        if (c == '\0') break;
        if (c == '>' && run_ >= 2) state_ = State::kText;
        run_ = c == '-' ? static_cast<uint8_t>(run_ < 2 ? run_ + 1 : 2) : 0;
        break;
      case State::kCData:
        if (c == '\0') break;
        if (c == '>' && run_ >= 2) state_ = State::kText;
        run_ = c == ']' ? static_cast<uint8_t>(run_ < 2 ? run_ + 1 : 2) : 0;
        break;
      case State::kSkip:
        if (c == '>') state_ = State::kText;
        break;
      case State::kTag:
      case State::kQuoted:
        if (++tag_bytes_ > max_tag_bytes_) {
          return Status::LimitExceeded("XML tag longer than " + std::to_string(max_tag_bytes_) +
                                       " bytes");
        }
        if (state_ == State::kQuoted) {
          if (c == quote_) state_ = State::kTag;
        } else if (c == '"' || c == '\'') {
          if (!end_tag_) {
            state_ = State::kQuoted;
            quote_ = c;
          }
        } else if (c == '=') {
          if (!end_tag_ && ++attributes_ > max_attributes_) {
            return Status::LimitExceeded("XML element with more than " +
                                         std::to_string(max_attributes_) + " attributes");
          }
        } else if (c == '>') {
          state_ = State::kText;
        }
        break;
    }
  }
  return Status::Ok();
}

}  // namespace archiver
