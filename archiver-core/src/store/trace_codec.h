// A delivery's trace header (the lines Dovecot prepends: Return-Path, Delivered-To, Received)
// as record version 3 stores it (docs/store-format.md, "Compact trace"): nearly the same text
// in every delivery, so it is kept as a raw deflate stream primed with that text and with
// the delivery's own envelope addresses, which it repeats. About a quarter of its size.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "archiver/status.h"

namespace archiver::record {

// How a stored trace is written: kLiteral, the bytes as they are; kPrimedDeflate1, a raw
// deflate stream primed with TraceDictionary (its first version). A later dictionary is a
// new form: a stored trace never changes meaning.
enum class TraceForm : uint8_t { kLiteral = 0, kPrimedDeflate1 = 1 };

struct PackedTrace {
  TraceForm form = TraceForm::kLiteral;
  uint64_t size = 0;   // the trace's length (kPrimedDeflate1; kLiteral: bytes.size())
  uint32_t check = 0;  // CRC-32 of the trace (kPrimedDeflate1: raw deflate has none)
  std::string bytes;
};

// The preset dictionary of kPrimedDeflate1 for a delivery with these envelope addresses.
std::string TraceDictionary(std::string_view envelope_from, std::string_view envelope_to);

// The shorter of the two forms of `trace`.
PackedTrace PackTrace(std::string_view trace, std::string_view envelope_from,
                      std::string_view envelope_to);

// The trace again. Corruption when the stream is damaged, does not yield `size` bytes or
// bytes of another CRC-32, or the form is unknown.
Status UnpackTrace(const PackedTrace& packed, std::string_view envelope_from,
                   std::string_view envelope_to, std::string* trace);

}  // namespace archiver::record
