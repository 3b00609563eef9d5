// Subject words for idx_subject (subject_words.h).
#include "store/subject_words.h"

#include <algorithm>

#include "base/ascii.h"

namespace archiver::index {
namespace {

bool IsWordByte(char c) {
  const auto byte = static_cast<unsigned char>(c);
  return byte >= 0x80 || (byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') ||
         (byte >= 'A' && byte <= 'Z');
}

// Calls visit(run) for every maximal run of word bytes of `text`, lowercased.
template <typename Visit>
void ForEachWordRun(std::string_view text, Visit visit) {
  size_t at = 0;
  while (at < text.size()) {
    while (at < text.size() && !IsWordByte(text[at])) ++at;
    size_t end = at;
    while (end < text.size() && IsWordByte(text[end])) ++end;
    if (end > at) visit(ascii::Lowercase(text.substr(at, end - at)));
    at = end;
  }
}

}  // namespace

std::vector<std::string> SubjectWords(std::string_view subject) {
  std::vector<std::string> words;
  ForEachWordRun(subject, [&](std::string word) {
    if (word.size() > kMaxSubjectWordSize) word.resize(kMaxSubjectWordSize);
    // Subjects have a handful of words: a linear search beats a set.
    if (std::find(words.begin(), words.end(), word) == words.end())
      words.push_back(std::move(word));
  });
  return words;
}

std::string LongestQueryWord(std::string_view query) {
  std::string longest;
  ForEachWordRun(query, [&](std::string word) {
    if (word.size() > longest.size()) longest = std::move(word);
  });
  return longest;
}

bool SubjectWordMayContain(std::string_view word, std::string_view query_word) {
  return word.size() >= kMaxSubjectWordSize || word.find(query_word) != std::string_view::npos;
}

}  // namespace archiver::index
