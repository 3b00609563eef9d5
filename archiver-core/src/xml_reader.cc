// The hardened libxml2 SAX2 entry (see xml_reader.h): libxml2 pulls the input through
// an in-memory read callback, so the document is never copied whole and never fetched.
#include "xml_reader.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlversion.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

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

// The bytes libxml2 pulls from, a chunk at a time.
struct InputCursor {
  std::string_view data;
  size_t offset = 0;
};

int ReadInput(void* context, char* buffer, int length) {
  auto* cursor = static_cast<InputCursor*>(context);
  size_t n = std::min(static_cast<size_t>(length), cursor->data.size() - cursor->offset);
  std::memcpy(buffer, cursor->data.data() + cursor->offset, n);
  cursor->offset += n;
  return static_cast<int>(n);
}

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

std::string_view View(const xmlChar* text) {
  return text == nullptr ? std::string_view()
                         : std::string_view(reinterpret_cast<const char*>(text));
}

// In recover mode libxml2 sometimes drops an element it opened (an unterminated start
// tag) without an end event. Its own count of open elements tells: the handler gets the
// missing end events, so its view of the nesting matches the parser's.
void Resync(SaxState* state) {
  size_t parser_open = state->ctxt->nameNr > 0 ? static_cast<size_t>(state->ctxt->nameNr) : 0;
  while (state->open.size() > parser_open && !state->Stopped()) {
    const xmlChar* name = state->open.back();
    state->open.pop_back();
    state->text_run = 0;
    Status status = state->handler->EndElement(View(name), state->open.size());
    if (!status.ok()) state->Stop(std::move(status));
  }
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

}  // namespace

Result<XmlParseReport> ParseXml(std::string_view input, const XmlReaderLimits& limits,
                                XmlParseMode mode, XmlEventHandler& handler) {
  if (input.size() > limits.max_input_bytes) {
    return Status::LimitExceeded("XML input of " + std::to_string(input.size()) +
                                 " bytes exceeds the limit of " +
                                 std::to_string(limits.max_input_bytes));
  }
  if (input.empty()) return Status::InvalidArgument("empty XML document");
  static std::once_flag init_once;
  std::call_once(init_once, [] { xmlInitParser(); });

  static const xmlSAXHandler kSax = MakeSaxHandler();
  SaxState state;
  state.handler = &handler;
  state.limits = &limits;
  state.open.reserve(std::min<size_t>(limits.max_depth, 256) + 1);
  InputCursor cursor{input, 0};
  xmlSAXHandler sax = kSax;
  ParserCtxtPtr ctxt(
      xmlCreateIOParserCtxt(&sax, &state, &ReadInput, nullptr, &cursor, XML_CHAR_ENCODING_NONE));
  if (!ctxt) return Status::IOError("libxml2: cannot create a parser context");
  state.ctxt = ctxt.get();
  // XML_PARSE_NOENT (entity substitution) and XML_PARSE_DTDLOAD are deliberately absent.
  int options = XML_PARSE_NONET | XML_PARSE_NOXINCNODE;
  if (mode == XmlParseMode::kRecover) options |= XML_PARSE_RECOVER;
  xmlCtxtUseOptions(ctxt.get(), options);
  // Process-wide defaults (xmlSubstituteEntitiesDefault, xmlLoadExtDtdDefaultValue) must
  // not leak in from whoever else uses libxml2 in this process.
  ctxt->replaceEntities = 0;
  ctxt->loadsubset = 0;
  ctxt->validate = 0;

  {
    ErrorHandlerScope errors(&state);
    xmlParseDocument(ctxt.get());
  }
  if (!state.stop.ok()) return state.stop;
  if (!ctxt->wellFormed) state.report.well_formed = false;
  if (!state.report.well_formed && state.report.messages.empty()) {
    state.report.messages.push_back("not well-formed XML");
  }
  return std::move(state.report);
}

}  // namespace archiver
