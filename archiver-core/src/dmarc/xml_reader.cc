// The hardened libxml2 SAX2 entry (see xml_reader.h): libxml2 pulls the input through
// a read callback over an InputSource, so the document is never held whole and never
// fetched.
#include "dmarc/xml_reader.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlversion.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "base/ascii.h"
#include "dmarc/xml_markup_guard.h"

namespace archiver {
namespace {

#if LIBXML_VERSION >= 21200
using XmlErrorArg = const xmlError*;
#else
using XmlErrorArg = xmlErrorPtr;
#endif

struct ParserCtxtDeleter {
  void operator()(xmlParserCtxt* ctxt) const noexcept { xmlFreeParserCtxt(ctxt); }
};
using ParserCtxtPtr = std::unique_ptr<xmlParserCtxt, ParserCtxtDeleter>;

// Per-parse state reached from the SAX callbacks through ctxt->userData.
struct SaxState {
  XmlEventHandler* handler = nullptr;
  const XmlReaderLimits* limits = nullptr;
  xmlParserCtxt* ctxt = nullptr;
  // Local names of the open elements (interned in the parser's dictionary, so valid
  // for the whole parse).
  std::vector<const xmlChar*> open;
  size_t text_run = 0;  // bytes of character data since the last tag
  Status stop;          // why we stopped the parser, if we did
  XmlParseReport report;

  void Stop(Status status) {
    if (stop.ok()) stop = std::move(status);
    xmlStopParser(ctxt);
  }
  bool Stopped() const { return !stop.ok(); }
};

SaxState* StateOf(void* context) { return static_cast<SaxState*>(context); }

// libxml2 asks for 4000 bytes at a time; the source is read in large pieces instead (a
// read(2) each) and libxml2's requests are served from them. Counts the bytes against
// the input limit and notes whether anything but whitespace was read.
class ChunkedInput {
 public:
  static constexpr size_t kChunkBytes = 128u << 10;

  ChunkedInput(InputSource& source, SaxState& state)
      : source_(source),
        state_(state),
        buffer_(new char[kChunkBytes]),
        guard_(state.limits->max_tag_bytes, state.limits->max_attributes) {}

  // Reads the next chunk when the current one is used up, the source read until the
  // chunk is full or the input ends. False at the end of the input or when reading
  // failed or went past the limit (the parse's stop Status says which).
  bool Fill() {
    if (begin_ < end_) return true;
    if (state_.Stopped()) return false;
    begin_ = 0;
    end_ = 0;
    while (end_ < kChunkBytes) {
      Result<size_t> got = source_.Read(buffer_.get() + end_, kChunkBytes - end_);
      if (!got.ok()) {
        state_.stop = got.status();
        return false;
      }
      if (*got == 0) break;
      Status guarded = guard_.Scan(std::string_view(buffer_.get() + end_, *got));
      if (!guarded.ok()) {
        state_.stop = Status::LimitExceeded("XML input '" + source_.name() + "': " +
                                            guarded.message());
        return false;
      }
      end_ += *got;
      total_ += *got;
      if (total_ > state_.limits->max_input_bytes) {
        state_.stop =
            Status::LimitExceeded("XML input '" + source_.name() + "' exceeds the limit of " +
                                  std::to_string(state_.limits->max_input_bytes) + " bytes");
        return false;
      }
    }
    if (!saw_content_) {
      saw_content_ = !ascii::Trim(std::string_view(buffer_.get(), end_)).empty();
    }
    return end_ > 0;
  }

  // The bytes read but not yet handed to libxml2.
  std::string_view Pending() const {
    return std::string_view(buffer_.get() + begin_, end_ - begin_);
  }
  bool saw_content() const { return saw_content_; }

  // libxml2's read callback: `length` bytes unless the input ends first (libxml2 takes
  // a short read for the end of a piece of input it cannot yet decide on), 0 at the
  // end, -1 on failure. A failure has already stopped the parse with its Status:
  // libxml2 only sees an early end.
  static int Read(void* context, char* buffer, int length) {
    auto* input = static_cast<ChunkedInput*>(context);
    size_t wanted = length > 0 ? static_cast<size_t>(length) : 0;
    size_t served = 0;
    while (served < wanted && input->Fill()) {
      size_t n = std::min(wanted - served, input->end_ - input->begin_);
      std::memcpy(buffer + served, input->buffer_.get() + input->begin_, n);
      input->begin_ += n;
      served += n;
    }
    if (input->state_.Stopped()) return -1;
    return static_cast<int>(served);
  }

 private:
  InputSource& source_;
  SaxState& state_;
  std::unique_ptr<char[]> buffer_;
  MarkupGuard guard_;  // sees every byte before libxml2 does
  size_t begin_ = 0;
  size_t end_ = 0;
  uint64_t total_ = 0;
  bool saw_content_ = false;
};

// UTF-16 without a byte order mark is detected by libxml2 only when the document opens
// with "<?": one that opens with an element or whitespace is told by its zero bytes.
xmlCharEncoding SniffUtf16(std::string_view head) {
  if (head.size() < 4) return XML_CHAR_ENCODING_NONE;
  auto opens = [](char c) { return c == '<' || c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  auto is_zero = [](char c) { return c == '\0'; };
  if (opens(head[0]) && is_zero(head[1]) && !is_zero(head[2]) && is_zero(head[3]) &&
      head.substr(0, 4) != std::string_view("<\0?\0", 4)) {
    return XML_CHAR_ENCODING_UTF16LE;
  }
  if (is_zero(head[0]) && opens(head[1]) && is_zero(head[2]) && !is_zero(head[3]) &&
      head.substr(0, 4) != std::string_view("\0<\0?", 4)) {
    return XML_CHAR_ENCODING_UTF16BE;
  }
  return XML_CHAR_ENCODING_NONE;
}

std::string_view View(const xmlChar* text) {
  return text == nullptr ? std::string_view()
                         : std::string_view(reinterpret_cast<const char*>(text));
}

size_t ParserOpenElements(const SaxState* state) {
  return state->ctxt->nameNr > 0 ? static_cast<size_t>(state->ctxt->nameNr) : 0;
}

[[gnu::noinline]] void DeliverDroppedEnds(SaxState* state) {
  while (state->open.size() > ParserOpenElements(state) && !state->Stopped()) {
    const xmlChar* name = state->open.back();
    state->open.pop_back();
    state->text_run = 0;
    Status status = state->handler->EndElement(View(name), state->open.size());
    if (!status.ok()) state->Stop(std::move(status));
  }
}

// In recover mode libxml2 sometimes drops an element it opened (an unterminated start
// tag) without an end event. Its own count of open elements tells: the handler gets the
// missing end events, so its view of the nesting matches the parser's. Runs before every
// event, hence the inline test and the out-of-line repair.
inline void Resync(SaxState* state) {
  if (state->open.size() > ParserOpenElements(state)) DeliverDroppedEnds(state);
}

void OnStartElement(void* context, const xmlChar* local_name, const xmlChar* /*prefix*/,
                    const xmlChar* uri, int /*nb_namespaces*/, const xmlChar** /*namespaces*/,
                    int nb_attributes, int /*nb_defaulted*/, const xmlChar** attributes) {
  SaxState* state = StateOf(context);
  Resync(state);  // before the new element is counted by the parser
  if (state->Stopped()) return;
  if (state->open.size() >= state->limits->max_depth) {
    state->Stop(Status::LimitExceeded("XML nested deeper than " +
                                      std::to_string(state->limits->max_depth) + " elements"));
    return;
  }
  // Attributes come as (local name, prefix, URI, value begin, value end) quintuples.
  for (int i = 0; i < nb_attributes; ++i) {
    const xmlChar* begin = attributes[i * 5 + 3];
    const xmlChar* end = attributes[i * 5 + 4];
    if (static_cast<size_t>(end - begin) > state->limits->max_text_bytes) {
      state->Stop(Status::LimitExceeded("XML attribute longer than " +
                                        std::to_string(state->limits->max_text_bytes) + " bytes"));
      return;
    }
  }
  state->text_run = 0;
  Status status = state->handler->StartElement(View(local_name), View(uri), state->open.size());
  state->open.push_back(local_name);
  if (!status.ok()) state->Stop(std::move(status));
}

void OnEndElement(void* context, const xmlChar* local_name, const xmlChar* /*prefix*/,
                  const xmlChar* /*uri*/) {
  SaxState* state = StateOf(context);
  Resync(state);  // the closing element is still counted by the parser
  if (state->Stopped() || state->open.empty()) return;
  state->open.pop_back();
  state->text_run = 0;
  Status status = state->handler->EndElement(View(local_name), state->open.size());
  if (!status.ok()) state->Stop(std::move(status));
}

void OnCharacters(void* context, const xmlChar* text, int length) {
  SaxState* state = StateOf(context);
  Resync(state);
  if (state->Stopped()) return;
  state->text_run += static_cast<size_t>(length);
  if (state->text_run > state->limits->max_text_bytes) {
    state->Stop(Status::LimitExceeded("XML text longer than " +
                                      std::to_string(state->limits->max_text_bytes) + " bytes"));
    return;
  }
  Status status = state->handler->Characters(
      std::string_view(reinterpret_cast<const char*>(text), static_cast<size_t>(length)));
  if (!status.ok()) state->Stop(std::move(status));
}

// Any document type declaration is refused before its internal subset is read: this
// is what keeps entity expansion (billion laughs) and external entities (XXE) out.
void OnInternalSubset(void* context, const xmlChar* /*name*/, const xmlChar* /*external_id*/,
                      const xmlChar* /*system_id*/) {
  StateOf(context)->Stop(Status::InvalidArgument("DOCTYPE not allowed"));
}

void OnEntityDecl(void* context, const xmlChar* /*name*/, int /*type*/,
                  const xmlChar* /*public_id*/, const xmlChar* /*system_id*/,
                  xmlChar* /*content*/) {
  StateOf(context)->Stop(Status::InvalidArgument("DOCTYPE not allowed"));
}

void OnError(void* context, XmlErrorArg error) {
  SaxState* state = StateOf(context);
  if (error == nullptr || state == nullptr) return;
  if (error->level >= XML_ERR_ERROR) state->report.well_formed = false;
  std::string_view text = error->message != nullptr ? error->message : "unknown error";
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  // libxml2's own caps (10 MB values, nesting 256, ...) have no error code of their own
  // in 2.9: they are told by their messages and reported as the limits they are.
  for (std::string_view cap : {"too long", "huge text", "Excessive depth", "Huge input"}) {
    if (state->ctxt != nullptr && text.find(cap) != std::string_view::npos) {
      state->Stop(Status::LimitExceeded("libxml2 limit: " + std::string(text.substr(0, 200))));
      break;
    }
  }
  if (state->report.messages.size() >= XmlParseReport::kMaxMessages) return;
  std::string message = "line " + std::to_string(error->line) + ": ";
  message.append(text.substr(0, 300));
  state->report.messages.push_back(std::move(message));
}

// Errors libxml2 raises outside the parser context (encoding conversion, I/O) go to the
// thread's structured handler: route them to this parse for its duration, then restore.
class ErrorHandlerScope {
 public:
  explicit ErrorHandlerScope(SaxState* state)
      : saved_handler_(xmlStructuredError), saved_context_(xmlStructuredErrorContext) {
    xmlSetStructuredErrorFunc(state, &OnError);
  }
  ~ErrorHandlerScope() { xmlSetStructuredErrorFunc(saved_context_, saved_handler_); }
  ErrorHandlerScope(const ErrorHandlerScope&) = delete;
  ErrorHandlerScope& operator=(const ErrorHandlerScope&) = delete;

 private:
  xmlStructuredErrorFunc saved_handler_;
  void* saved_context_;
};

xmlSAXHandler MakeSaxHandler() {
  xmlSAXHandler sax;
  std::memset(&sax, 0, sizeof(sax));
  sax.initialized = XML_SAX2_MAGIC;
  sax.startElementNs = &OnStartElement;
  sax.endElementNs = &OnEndElement;
  sax.characters = &OnCharacters;
  sax.cdataBlock = &OnCharacters;
  sax.ignorableWhitespace = &OnCharacters;
  sax.internalSubset = &OnInternalSubset;
  sax.externalSubset = &OnInternalSubset;
  sax.entityDecl = &OnEntityDecl;
  // No getEntity and no resolveEntity: an entity reference other than the five
  // predefined ones is an error, and nothing outside the input is ever opened.
  sax.serror = &OnError;
  return sax;
}

// The options of every parse: no entity substitution, no DTD loading, no network.
void Harden(xmlParserCtxtPtr ctxt, XmlParseMode mode) {
  // XML_PARSE_NOENT (entity substitution) and XML_PARSE_DTDLOAD are deliberately absent.
  int options = XML_PARSE_NONET | XML_PARSE_NOXINCNODE;
  if (mode == XmlParseMode::kRecover) options |= XML_PARSE_RECOVER;
  xmlCtxtUseOptions(ctxt, options);
  // Process-wide defaults (xmlSubstituteEntitiesDefault, xmlLoadExtDtdDefaultValue) must
  // not leak in from whoever else uses libxml2 in this process.
  ctxt->replaceEntities = 0;
  ctxt->loadsubset = 0;
  ctxt->validate = 0;
}

}  // namespace

Result<XmlParseReport> ParseXml(InputSource& input, const XmlReaderLimits& limits,
                                XmlParseMode mode, XmlEventHandler& handler) {
  uint64_t size = input.size();
  if (size != UINT64_MAX && size > limits.max_input_bytes) {
    return Status::LimitExceeded("XML input '" + input.name() + "' of " + std::to_string(size) +
                                 " bytes exceeds the limit of " +
                                 std::to_string(limits.max_input_bytes));
  }
  static std::once_flag init_once;
  std::call_once(init_once, [] { xmlInitParser(); });

  static const xmlSAXHandler kSax = MakeSaxHandler();
  SaxState state;
  state.handler = &handler;
  state.limits = &limits;
  state.open.reserve(std::min<size_t>(limits.max_depth, 256) + 1);
  ChunkedInput chunks(input, state);
  // The first piece is read before libxml2 starts: an empty input never reaches it, and
  // the piece's first bytes tell an unmarked UTF-16 document.
  if (!chunks.Fill()) {
    if (state.Stopped()) return state.stop;
    XmlParseReport report;
    report.well_formed = false;
    report.empty = true;
    report.messages.push_back("empty document");
    return report;
  }
  xmlSAXHandler sax = kSax;
  ParserCtxtPtr ctxt(xmlCreateIOParserCtxt(&sax, &state, &ChunkedInput::Read, nullptr, &chunks,
                                           XML_CHAR_ENCODING_NONE));
  if (!ctxt) return Status::IOError("libxml2: cannot create a parser context");
  state.ctxt = ctxt.get();
  xmlCharEncoding utf16 = SniffUtf16(chunks.Pending());
  if (utf16 != XML_CHAR_ENCODING_NONE && xmlSwitchEncoding(ctxt.get(), utf16) != 0) {
    return Status::IOError("libxml2: cannot decode UTF-16");
  }
  Harden(ctxt.get(), mode);

  {
    ErrorHandlerScope errors(&state);
    xmlParseDocument(ctxt.get());
  }
  if (!state.stop.ok()) return state.stop;
  if (!ctxt->wellFormed) state.report.well_formed = false;
  if (!chunks.saw_content()) {
    state.report.well_formed = false;
    state.report.empty = true;
  }
  if (!state.report.well_formed && state.report.messages.empty()) {
    state.report.messages.push_back("not well-formed XML");
  }
  return std::move(state.report);
}

Result<XmlParseReport> ParseXml(std::string_view input, const XmlReaderLimits& limits,
                                XmlParseMode mode, XmlEventHandler& handler) {
  MemorySource source(input);
  return ParseXml(source, limits, mode, handler);
}

}  // namespace archiver
