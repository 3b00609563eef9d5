// The layout of `doveadm dmarc show` and `dmarc failure show`: one row per field,
// (section, field, value), so that a report of any shape reads as a table or flow and
// stays complete and machine-readable as JSON. Sections are dotted paths ("report",
// "policy", "origin", "record.3", "record.3.dkim.1").
#pragma once

#include <string>

#include "archiver/dmarc/dmarc_store.h"
#include "doveadm/doveadm-archive-dovecot.h"

namespace archiver::doveadm {

class FieldPrinter {
 public:
  // Starts doveadm's printer (table unless -f says otherwise) with the three columns.
  FieldPrinter();
  void Print(const std::string& section, const char* field, const std::string& value);
};

// Section "origin": kind, detail, mail (hex id or ""), part.
void PrintOrigin(FieldPrinter& out, const DmarcOrigin& origin);

}  // namespace archiver::doveadm
