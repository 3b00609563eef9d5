// The timing loop: each band's messages compressed back to back into one pre-faulted
// buffer, then decompressed into one pre-faulted scratch buffer, timed by the thread's CPU
// clock (a neighbour's load on the 2-core VM then costs us cache, not whole time slices).
#include "measure.h"

#include <time.h>

#include <algorithm>
#include <cstring>

#include "../bench_clock.h"
#include "lmdb_footprint.h"

namespace archiver::bench {
namespace {

double ThreadCpuSeconds() {
  timespec now = {};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

void Add(BandResult* sum, const BandResult& band) {
  sum->messages += band.messages;
  sum->raw_bytes += band.raw_bytes;
  sum->stored_bytes += band.stored_bytes;
  sum->stored_raw += band.stored_raw;
  sum->lmdb_bytes += band.lmdb_bytes;
  sum->overflow_values += band.overflow_values;
  sum->wall_seconds += band.wall_seconds;
  auto add_runs = [](std::vector<double>* into, const std::vector<double>& from) {
    into->resize(std::max(into->size(), from.size()), 0.0);
    for (size_t run = 0; run < from.size(); ++run) (*into)[run] += from[run];
  };
  add_runs(&sum->compress_seconds, band.compress_seconds);
  add_runs(&sum->decompress_seconds, band.decompress_seconds);
}

void CountStored(BandResult* band, size_t raw_size, size_t payload_size) {
  band->stored_bytes += payload_size;
  band->stored_raw += payload_size == raw_size ? 1 : 0;
  const LmdbFootprint footprint = RecordFootprint(payload_size);
  band->lmdb_bytes += footprint.bytes;
  band->overflow_values += footprint.overflow ? 1 : 0;
}

}  // namespace

size_t BandOf(size_t raw_size) {
  if (raw_size < 4096) return 0;
  return raw_size <= 65536 ? 1 : 2;
}

MessageSet::MessageSet(const std::vector<std::string>& messages, const std::vector<size_t>& indices,
                       const std::vector<std::unique_ptr<Codec>>& codecs) {
  size_t largest = 1;
  for (size_t index : indices) {
    const std::string& message = messages[index];
    Band& band = bands_[BandOf(message.size())];
    size_t bound = message.size();
    for (const auto& codec : codecs) bound = std::max(bound, codec->Bound(message.size()));
    band.messages.push_back(&message);
    band.offsets.push_back(band.output_size);
    band.output_size += bound;
    largest = std::max(largest, message.size());
  }
  for (Band& band : bands_) {
    band.output.reset(new char[std::max<size_t>(band.output_size, 1)]);
    std::memset(band.output.get(), 0, band.output_size);  // fault the pages in now
  }
  scratch_.reset(new char[largest]);
  std::memset(scratch_.get(), 0, largest);
}

BandResult CodecResult::Total() const {
  BandResult total;
  for (const BandResult& band : bands) Add(&total, band);
  return total;
}

CodecResult MeasureUncompressed(MessageSet& set) {
  CodecResult result;
  result.name = "none";
  for (size_t b = 0; b < kBands; ++b) {
    BandResult& band = result.bands[b];
    for (const std::string* message : set.bands()[b].messages) {
      ++band.messages;
      band.raw_bytes += message->size();
      CountStored(&band, message->size(), message->size());
    }
  }
  return result;
}

bool MeasureRun(Codec& codec, MessageSet& set, bool first_run, CodecResult* result,
                std::string* error) {
  result->name = codec.name();
  for (size_t b = 0; b < kBands; ++b) {
    MessageSet::Band& band = set.bands()[b];
    BandResult& out = result->bands[b];
    const size_t count = band.messages.size();
    std::vector<size_t> sizes(count);
    Clock::time_point wall_start = Clock::now();
    double start = ThreadCpuSeconds();
    for (size_t i = 0; i < count; ++i) {
      const std::string& message = *band.messages[i];
      sizes[i] =
          codec.Compress(message, band.output.get() + band.offsets[i], codec.Bound(message.size()));
    }
    out.compress_seconds.push_back(ThreadCpuSeconds() - start);
    out.wall_seconds += SecondsSince(wall_start);

    for (size_t i = 0; i < count; ++i) {
      if (sizes[i] == 0 && !band.messages[i]->empty()) {
        *error = codec.name() + ": compression failed";
        return false;
      }
    }
    if (first_run) {
      for (size_t i = 0; i < count; ++i) {
        const std::string& message = *band.messages[i];
        ++out.messages;
        out.raw_bytes += message.size();
        // The archive stores a message raw when compressing did not make it smaller.
        CountStored(&out, message.size(), std::min(sizes[i], message.size()));
        if (sizes[i] >= message.size()) continue;
        if (!codec.Decompress({band.output.get() + band.offsets[i], sizes[i]}, set.scratch(),
                              message.size()) ||
            std::memcmp(set.scratch(), message.data(), message.size()) != 0) {
          *error = codec.name() + ": a message did not decompress to its bytes";
          return false;
        }
      }
    }

    // A message kept raw is read back as it is: a copy.
    wall_start = Clock::now();
    start = ThreadCpuSeconds();
    bool intact = true;
    for (size_t i = 0; i < count; ++i) {
      const std::string& message = *band.messages[i];
      if (sizes[i] >= message.size()) {
        std::memcpy(set.scratch(), message.data(), message.size());
      } else {
        intact &= codec.Decompress({band.output.get() + band.offsets[i], sizes[i]}, set.scratch(),
                                   message.size());
      }
    }
    out.decompress_seconds.push_back(ThreadCpuSeconds() - start);
    out.wall_seconds += SecondsSince(wall_start);
    if (!intact) {
      *error = codec.name() + ": decompression failed";
      return false;
    }
  }
  return true;
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t middle = values.size() / 2;
  return values.size() % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
}

}  // namespace archiver::bench
