// The words of a subject, as idx_subject files a delivery under them (docs/store-format.md,
// "idx_mailbox and idx_subject"), and how a `--subject TEXT` query finds its candidates
// among them without changing what the filter means (PreparedFilter::Matches: an ASCII
// case-insensitive substring of the decoded subject).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace archiver::index {

// Longer words are filed cut to this many bytes (their first ones).
inline constexpr size_t kMaxSubjectWordSize = 64;

// The distinct words of `subject`, in order of first appearance: maximal runs of word
// bytes (ASCII letters and digits, and every byte >= 0x80, so that a UTF-8 letter stays
// inside its word), ASCII letters lowercased (other letters are kept as they are, as the
// filter compares them), each cut to kMaxSubjectWordSize bytes.
std::vector<std::string> SubjectWords(std::string_view subject);

// The longest run of word bytes in `query`, lowercased and not cut (the first of equally
// long ones); empty when the query has none. A subject that contains `query` (as the
// filter compares) contains this run inside one of its words.
std::string LongestQueryWord(std::string_view query);

// Whether a delivery filed under the idx_subject key `word` may have a subject with a word
// that contains `query_word`: `word` contains it, or `word` may be a longer word cut to
// kMaxSubjectWordSize (whose cut-off tail may hold it).
bool SubjectWordMayContain(std::string_view word, std::string_view query_word);

}  // namespace archiver::index
