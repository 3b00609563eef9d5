// Running one codec over a message set: sizes as the archive would store them, the LMDB
// footprint, and compression and decompression CPU time per size band, run after run.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codec.h"

namespace archiver::bench {

// Raw message size bands: small messages are where a dictionary can help.
inline constexpr size_t kBands = 3;
inline constexpr std::array<const char*, kBands> kBandNames = {"< 4 KiB", "4-64 KiB", "> 64 KiB"};
size_t BandOf(size_t raw_size);

// The messages measured (the evaluation split), grouped by band, with pre-faulted buffers
// that the codecs write into, so that no page fault or allocation is timed.
class MessageSet {
 public:
  // Takes the messages at `indices` of `messages` (which must outlive the set); every codec
  // in `codecs` must fit its output in the buffers.
  MessageSet(const std::vector<std::string>& messages, const std::vector<size_t>& indices,
             const std::vector<std::unique_ptr<Codec>>& codecs);

  struct Band {
    std::vector<const std::string*> messages;
    std::vector<size_t> offsets;  // where each message's output starts in `output`
    std::unique_ptr<char[]> output;
    size_t output_size = 0;
  };
  std::array<Band, kBands>& bands() { return bands_; }
  char* scratch() { return scratch_.get(); }  // room for the largest message

 private:
  std::array<Band, kBands> bands_;
  std::unique_ptr<char[]> scratch_;
};

struct BandResult {
  size_t messages = 0;
  uint64_t raw_bytes = 0;
  uint64_t stored_bytes = 0;  // payloads: compressed, or raw when that was not smaller
  size_t stored_raw = 0;      // messages kept raw for that reason
  double lmdb_bytes = 0;      // lmdb_footprint.h's estimate, records of all messages
  size_t overflow_values = 0;
  std::vector<double> compress_seconds;  // thread CPU time, one entry per run
  std::vector<double> decompress_seconds;
  double wall_seconds = 0;  // the timed loops' wall time, all runs: how much load intruded
};

// Per band, then the whole set; the name is the codec's ("none": stored raw).
struct CodecResult {
  std::string name;
  std::array<BandResult, kBands> bands;
  BandResult Total() const;  // times added up run by run
};

// The sizes of storing every message of `set` raw (the "none" row: no timings).
CodecResult MeasureUncompressed(MessageSet& set);

// One run of `codec` over `set`: compresses and times every band, checks on the first run
// that each message decompresses to its bytes, then times decompression. Appends the run's
// times to `result` (sizes are filled on the first run). False when the codec failed or
// gave back other bytes.
bool MeasureRun(Codec& codec, MessageSet& set, bool first_run, CodecResult* result,
                std::string* error);

double Median(std::vector<double> values);

}  // namespace archiver::bench
