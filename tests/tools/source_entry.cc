// archiver-test-source-entry: changes a source's stored entries behind the registry's
// back, as whoever can write the archive files could, for the integration tests of
// passwords bound to their server. A test tool, never installed.
//   ARCHIVE_DIR NAME redirect HOST PORT  sets the source's host and port
//   ARCHIVE_DIR NAME seal-v1 KEY_FILE    stores the password read from stdin as an older
//                                        version sealed it (bound to the name only)
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <string>

#include "archiver/secret_box.h"
#include "raw_source_entries.h"

namespace {

int Usage(const char* program) {
  std::fprintf(stderr, "usage: %s ARCHIVE_DIR NAME (redirect HOST PORT | seal-v1 KEY_FILE)\n",
               program);
  return 64;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace archiver;
  if (argc < 4) return Usage(argv[0]);
  const std::string dir = argv[1], name = argv[2], action = argv[3];
  Status done;
  if (action == "redirect" && argc == 6) {
    const std::string host = argv[4];
    const uint32_t port = static_cast<uint32_t>(std::strtoul(argv[5], nullptr, 10));
    done = testing_tools::ChangeRawSourceConfig(dir, name, [&](SourceConfig* config) {
      config->host = host;
      config->port = port;
    });
  } else if (action == "seal-v1" && argc == 5) {
    std::string password(std::istreambuf_iterator<char>(std::cin), {});
    if (!password.empty() && password.back() == '\n') password.pop_back();
    Result<SecretBox> box = SecretBox::Load(argv[4], false);
    Result<std::string> sealed = box.ok() ? box->Seal(password, name, SecretBox::kVersion1)
                                          : Result<std::string>(box.status());
    done = sealed.ok() ? testing_tools::WriteRawSourceSecret(dir, name, *sealed) : sealed.status();
  } else {
    return Usage(argv[0]);
  }
  if (!done.ok()) {
    std::fprintf(stderr, "%s\n", done.ToString().c_str());
    return 1;
  }
  return 0;
}
