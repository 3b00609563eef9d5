// Subject words: what idx_subject files, and that a substring query always finds its
// subject among the words that may contain the query's longest word.
#include "store/subject_words.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "base/ascii.h"

namespace archiver::index {
namespace {

using Words = std::vector<std::string>;

TEST(SubjectWordsTest, Words) {
  const std::string long_word(70, 'X');
  struct Case {
    std::string subject;
    Words words;
  } cases[] = {
      {"Re: Quarterly FIGURES, quarterly!", {"re", "quarterly", "figures"}},
      {"Gr\xC3\xBC\xC3\x9F"
       "e aus K\xC3\xB6ln",
       {"gr\xC3\xBC\xC3\x9F"
        "e",
        "aus", "k\xC3\xB6ln"}},
      {"invoice #4711/2024", {"invoice", "4711", "2024"}},
      {"", {}},
      {" -- !! ", {}},
      {long_word + " x", {std::string(kMaxSubjectWordSize, 'x'), "x"}},
  };
  for (const Case& c : cases) EXPECT_EQ(SubjectWords(c.subject), c.words) << c.subject;
}

TEST(SubjectWordsTest, LongestQueryWord) {
  struct Case {
    std::string query, word;
  } cases[] = {
      {"Sent to all", "sent"}, {"ab cde fg", "cde"}, {"  ", ""},
      {"VOIC", "voic"},        {"a-bb-cc", "bb"},    {std::string(80, 'q'), std::string(80, 'q')}};
  for (const Case& c : cases) EXPECT_EQ(LongestQueryWord(c.query), c.word) << c.query;
}

TEST(SubjectWordsTest, MayContain) {
  EXPECT_TRUE(SubjectWordMayContain("reports", "port"));
  EXPECT_TRUE(SubjectWordMayContain("port", "port"));
  EXPECT_FALSE(SubjectWordMayContain("pot", "port"));
  EXPECT_TRUE(SubjectWordMayContain(std::string(kMaxSubjectWordSize, 'a'), "zzz"));  // cut
  EXPECT_FALSE(SubjectWordMayContain(std::string(kMaxSubjectWordSize - 1, 'a'), "zzz"));
}

// The index may only narrow: every subject that the filter's substring match accepts has
// a word that may contain the query's longest word.
TEST(SubjectWordsTest, EverySubstringMatchIsACandidate) {
  const std::string long_tail = std::string(kMaxSubjectWordSize + 5, 'a') + "needle";
  struct Case {
    std::string subject, query;
  } cases[] = {
      {"Quarterly figures", "ARTERLY FIG"},
      {"Quarterly figures", "y f"},
      {"Re: invoice 4711", "invoice 47"},
      {"Gr\xC3\xBC\xC3\x9F"
       "e",
       "\xC3\xBC\xC3\x9F"},
      {"[list] Weekly digest", "] week"},
      {long_tail, "needle"},
      {"Sent to all at once", "to all at"},
  };
  for (const Case& c : cases) {
    ASSERT_NE(ascii::Lowercase(c.subject).find(ascii::Lowercase(c.query)), std::string::npos);
    const std::string word = LongestQueryWord(c.query);
    const Words words = SubjectWords(c.subject);
    EXPECT_TRUE(std::any_of(words.begin(), words.end(),
                            [&](const std::string& w) { return SubjectWordMayContain(w, word); }))
        << c.subject << " / " << c.query;
  }
}

}  // namespace
}  // namespace archiver::index
