// The one hardened XML entry of the core: a libxml2 SAX2 parse of untrusted bytes with
// no entity substitution, no DTD loading, no network, any DOCTYPE rejected, and size,
// depth and text-length caps enforced before and during the parse.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "archiver/input_source.h"
#include "archiver/status.h"

namespace archiver {

struct XmlReaderLimits {
  size_t max_input_bytes = 256u << 20;  // checked before parsing: LimitExceeded
  size_t max_depth = 64;                // element nesting; deeper is LimitExceeded
  size_t max_text_bytes = 64u << 10;    // per text run and per attribute value
  // Checked on the bytes before libxml2 reads them (xml_markup_guard.h): one start tag's
  // length and attribute count.
  size_t max_tag_bytes = 256u << 10;
  size_t max_attributes = 256;
};

// Receives the parse as events. A non-OK Status from any method stops the parse and
// is returned by ParseXml. Views are valid only during the call.
class XmlEventHandler {
 public:
  virtual ~XmlEventHandler() = default;
  // `depth` is 0 for the root element. Attributes are checked against the limits but
  // not passed on: the documents read so far have no use for them.
  virtual Status StartElement(std::string_view local_name, std::string_view namespace_uri,
                              size_t depth) = 0;
  virtual Status EndElement(std::string_view local_name, size_t depth) = 0;
  // Character data (and CDATA) of the innermost open element, possibly in pieces.
  virtual Status Characters(std::string_view text) = 0;
};

enum class XmlParseMode {
  kStrict,   // stop at the first well-formedness error
  kRecover,  // libxml2's XML_PARSE_RECOVER: go on after errors, deliver what it can
};

struct XmlParseReport {
  bool well_formed = true;            // false: libxml2 reported an error (see messages)
  bool empty = false;                 // no byte but whitespace (then not well-formed)
  std::vector<std::string> messages;  // libxml2's errors and warnings, at most kMaxMessages
  static constexpr size_t kMaxMessages = 20;
};

// Parses `input` from where it stands, read in large pieces (any encoding its prolog
// declares, UTF-16 with or without a byte order mark; converted to UTF-8 for the
// handler). Memory stays bounded by the limits whatever the input's size.
// Returns the report when the parse ran to its end (well-formed or not; an input of
// nothing but whitespace is a report with `empty` set); a non-OK Status when a limit was
// exceeded (LimitExceeded: input.size() is checked before parsing, the bytes read while
// parsing), a DOCTYPE was found (InvalidArgument "DOCTYPE not allowed"), reading failed
// (the source's Status), or the handler stopped it. Never reads files or the network.
Result<XmlParseReport> ParseXml(InputSource& input, const XmlReaderLimits& limits,
                                XmlParseMode mode, XmlEventHandler& handler);

// The same over bytes in memory.
Result<XmlParseReport> ParseXml(std::string_view input, const XmlReaderLimits& limits,
                                XmlParseMode mode, XmlEventHandler& handler);

}  // namespace archiver
