#!/usr/bin/env python3
"""Runs one integration test module for ctest.

Usage: run.py MODULE [--build-dir DIR]. Exit 0 when the tests passed, 1 when any failed, and 77
when every test was skipped (ctest's SKIP_RETURN_CODE), so a skip never shows as a pass."""

import argparse
import os
import signal
import sys
import unittest

SKIPPED = 77


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", help="test module name, e.g. test_lmtp")
    parser.add_argument("--build-dir", help="CMake build dir (default: $ARCHIVER_BUILD_DIR)")
    args = parser.parse_args()
    # ctest's timeout sends SIGTERM: exit normally so the harness stops its instances (atexit).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    if args.build_dir:
        os.environ["ARCHIVER_BUILD_DIR"] = os.path.abspath(args.build_dir)
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, here)
    suite = unittest.defaultTestLoader.loadTestsFromName(args.module)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if not result.wasSuccessful():
        return 1
    # A class skipped in setUpClass counts as one skip and no test run.
    if result.skipped and len(result.skipped) >= result.testsRun:
        return SKIPPED
    return 0


if __name__ == "__main__":
    sys.exit(main())
