// Names of enumerated values kept in one table per enum, indexed by the value: the name
// for a value and the value for a name. For enums stored or printed by name.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace archiver::enum_names {

template <typename Enum, size_t N>
const char* NameOf(const char* const (&names)[N], Enum value) {
  const auto index = static_cast<size_t>(value);
  return index < N ? names[index] : "unknown";
}

// The value whose name is `name` (exactly); nullopt for any other text.
template <typename Enum, size_t N>
std::optional<Enum> Named(const char* const (&names)[N], std::string_view name) {
  for (size_t i = 0; i < N; ++i) {
    if (name == names[i]) return static_cast<Enum>(i);
  }
  return std::nullopt;
}

}  // namespace archiver::enum_names
