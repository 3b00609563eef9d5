// Main of the glue's unit tests: Dovecot's lib (memory pools, data stack) is set up once,
// as a Dovecot binary does, then GoogleTest runs. No Dovecot process is involved.
#include <gtest/gtest.h>

extern "C" {
#include "config.h"
#include "lib.h"
}

int main(int argc, char** argv) {
  lib_init();
  ::testing::InitGoogleTest(&argc, argv);
  const int result = RUN_ALL_TESTS();
  lib_deinit();
  return result;
}
