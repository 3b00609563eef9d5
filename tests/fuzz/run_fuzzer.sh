#!/usr/bin/env bash
# Builds the DMARC pipeline fuzzer with clang (libFuzzer + ASan + UBSan) in its own build
# dir and runs it for a short while over seeds from the unit-test fixtures. Exits 77
# (ctest: skipped) when clang or its libFuzzer runtime is not installed.
# Usage: run_fuzzer.sh SOURCE_DIR BUILD_DIR [SECONDS]
set -euo pipefail
source_dir="$1"
build_dir="$2"
seconds="${3:-30}"

if ! command -v clang >/dev/null || ! command -v clang++ >/dev/null; then
  echo "fuzz: clang is not installed (apt-get install clang): skipped"
  exit 77
fi
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  > "$probe/probe.cc"
if ! clang++ -fsanitize=fuzzer "$probe/probe.cc" -o "$probe/probe" 2>/dev/null; then
  echo "fuzz: clang has no libFuzzer runtime here: skipped"
  exit 77
fi

cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DARCHIVER_FUZZ=ON \
  -DARCHIVER_BUILD_TESTS=OFF -DDOVECOT_CONFIG=/nonexistent >/dev/null
cmake --build "$build_dir" --target archiver-dmarc-fuzzer -j"$(nproc)"

corpus="$build_dir/fuzz-corpus"
mkdir -p "$corpus"
cp "$source_dir"/tests/unit/fixtures/dmarc/*.xml "$corpus"/
# Failure-report fixtures: ARF feedback parts, originals, Exim text reports.
cp "$source_dir"/tests/unit/fixtures/dmarc/failure/* "$corpus"/
# A gzip and a zlib seed, so the mutations start inside the containers too.
python3 - "$source_dir/tests/unit/fixtures/dmarc/quirks.xml" "$corpus" <<'PYTHON'
import gzip, sys, zlib, zipfile, io, os
xml = open(sys.argv[1], "rb").read()
open(os.path.join(sys.argv[2], "seed.xml.gz"), "wb").write(gzip.compress(xml))
open(os.path.join(sys.argv[2], "seed.zlib"), "wb").write(zlib.compress(xml))
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
    archive.writestr("report.xml", xml)
open(os.path.join(sys.argv[2], "seed.zip"), "wb").write(buffer.getvalue())
PYTHON

# The pipeline writes into a scratch archive under TMPDIR; removed when the run ends.
export TMPDIR="$build_dir/fuzz-tmp"
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
trap 'rm -rf "$TMPDIR"' EXIT
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
echo "fuzz: running archiver-dmarc-fuzzer for ${seconds}s"
"$build_dir/tests/fuzz/archiver-dmarc-fuzzer" -max_total_time="$seconds" -rss_limit_mb=1024 \
  -timeout=10 -max_len=65536 -artifact_prefix="$build_dir/" "$corpus"
