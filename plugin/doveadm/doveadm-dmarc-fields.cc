// The (section, field, value) layout of the dmarc show commands.
#include "doveadm/doveadm-dmarc-fields.h"

#include "doveadm/doveadm-archive-context.h"

namespace archiver::doveadm {

FieldPrinter::FieldPrinter() {
  doveadm_print_init(DOVEADM_PRINT_TYPE_TABLE);
  for (const char* column : {"section", "field", "value"}) doveadm_print_header_simple(column);
}

void FieldPrinter::Print(const std::string& section, const char* field, const std::string& value) {
  PrintValue(section.c_str());
  PrintValue(field);
  PrintValue(value.c_str());
}

void PrintOrigin(FieldPrinter& out, const DmarcOrigin& origin) {
  out.Print("origin", "kind", DmarcOriginKindName(origin.kind));
  out.Print("origin", "detail", origin.detail);
  out.Print("origin", "mail", origin.mail ? ToHex(*origin.mail) : "");
  out.Print("origin", "part", origin.part);
}

}  // namespace archiver::doveadm
