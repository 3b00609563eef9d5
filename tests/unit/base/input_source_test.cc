// Tests for InputSource: bytes in memory and regular files, read in pieces and rewound;
// files that cannot be read are refused with a message naming the path.
#include "archiver/input_source.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "test_util.h"

namespace archiver {
namespace {

// Everything the source yields from where it stands, `piece` bytes at most per call.
std::string ReadAll(InputSource& source, size_t piece) {
  std::string all;
  std::string buffer(piece, '\0');
  for (;;) {
    Result<size_t> got = source.Read(buffer.data(), piece);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    if (!got.ok() || *got == 0) return all;
    EXPECT_LE(*got, piece);
    all.append(buffer.data(), *got);
  }
}

TEST(InputSourceTest, MemorySourceReadsInPiecesAndRewinds) {
  const std::string bytes = testing::RandomBytes(10000, 1);
  MemorySource source(bytes, "report.xml");
  EXPECT_EQ(source.size(), bytes.size());
  EXPECT_EQ(source.name(), "report.xml");
  EXPECT_EQ(ReadAll(source, 333), bytes);
  EXPECT_EQ(ReadAll(source, 333), "");  // stays at the end
  ASSERT_TRUE(source.Rewind().ok());
  EXPECT_EQ(ReadAll(source, 1 << 20), bytes);

  MemorySource empty("");
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_EQ(empty.name(), "input");
  EXPECT_EQ(ReadAll(empty, 16), "");
}

TEST(InputSourceTest, FileSourceReadsInPiecesAndRewinds) {
  testing::TempDir dir;
  const std::string path = dir.Sub("report.xml");
  const std::string bytes = testing::RandomBytes(300000, 2);
  std::ofstream(path, std::ios::binary) << bytes;
  auto file = FileSource::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->size(), bytes.size());
  EXPECT_EQ((*file)->name(), path);
  for (size_t piece : {size_t{1} << 16, size_t{4093}}) {
    ASSERT_TRUE((*file)->Rewind().ok());
    EXPECT_EQ(ReadAll(**file, piece), bytes) << piece;
  }
  // Rewinding in the middle starts again from the first byte.
  char head[10];
  ASSERT_TRUE((*file)->Rewind().ok());
  ASSERT_TRUE((*file)->Read(head, sizeof(head)).ok());
  ASSERT_TRUE((*file)->Rewind().ok());
  EXPECT_EQ(ReadAll(**file, 1 << 20), bytes);

  const std::string empty_path = dir.Sub("empty.xml");
  std::ofstream(empty_path).close();
  auto empty = FileSource::Open(empty_path);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ((*empty)->size(), 0u);
  EXPECT_EQ(ReadAll(**empty, 100), "");
}

TEST(InputSourceTest, FileSourceRefusesWhatItCannotRead) {
  testing::TempDir dir;
  struct Case {
    const char* name;
    std::string path;
    Status::Code code;
    const char* message_part;
  };
  std::ofstream(dir.Sub("plain")) << "x";
  const Case cases[] = {
      {"missing", dir.Sub("missing.xml"), Status::Code::kNotFound, "No such file"},
      {"missing directory", dir.Sub("nowhere/report.xml"), Status::Code::kNotFound, "No such file"},
      {"below a file", dir.Sub("plain/report.xml"), Status::Code::kNotFound, "Not a directory"},
      {"directory", dir.path(), Status::Code::kIOError, "not a regular file"},
      {"device", "/dev/null", Status::Code::kIOError, "not a regular file"},
  };
  for (const Case& c : cases) {
    auto file = FileSource::Open(c.path);
    ASSERT_FALSE(file.ok()) << c.name;
    EXPECT_EQ(file.status().code(), c.code) << c.name << ": " << file.status().ToString();
    EXPECT_EQ(file.status().message().rfind(c.path, 0), 0u)
        << c.name << ": the message names the path: " << file.status().ToString();
    EXPECT_NE(file.status().message().find(c.message_part), std::string::npos)
        << c.name << ": " << file.status().ToString();
  }
}

TEST(InputSourceTest, FileSourceUnreadableIsIOError) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads any file";
  testing::TempDir dir;
  const std::string path = dir.Sub("secret.xml");
  std::ofstream(path) << "<a/>";
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  auto file = FileSource::Open(path);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), Status::Code::kIOError);
  EXPECT_NE(file.status().message().find(path), std::string::npos);
  EXPECT_NE(file.status().message().find("Permission denied"), std::string::npos);
}

}  // namespace
}  // namespace archiver
