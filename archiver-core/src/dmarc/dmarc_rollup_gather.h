// Gathering a whole report's per-source tallies for its rollups while it is parsed, in
// bounded memory: past `max_pending` sources the pending ones are written, sorted, as a
// run to an unlinked temporary file, and the runs are merged back in source order when
// the rollups are written (dmarc_rollup.h, RollupWriter).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "archiver/dmarc/dmarc_store.h"
#include "archiver/status.h"
#include "dmarc/dmarc_rollup.h"

namespace archiver::internal {

class RollupGatherer {
 public:
  // Spill files go to `spill_dir` (the archive's directory: writable by whoever imports),
  // created only once more than `max_pending` (at least 1) sources are pending.
  RollupGatherer(std::string spill_dir, uint64_t max_pending);
  ~RollupGatherer();
  RollupGatherer(const RollupGatherer&) = delete;
  RollupGatherer& operator=(const RollupGatherer&) = delete;

  // Counts one record. IOError when a spill cannot be written (the gatherer is then
  // unusable: the import fails).
  Status Add(std::string_view source_ip, uint64_t count, std::string_view disposition,
             std::string_view dkim, std::string_view spf);
  // Ends the adding; Next then returns each source once, in source order, with its tally
  // over every record added. IOError when the last spill cannot be written.
  Status Finish();
  // The next source (`source_ip` valid until the next call); *end after the last. IOError
  // or Corruption when a spill cannot be read back.
  Status Next(std::string_view* source_ip, DmarcTally* tally, bool* end);
  // Whether some sources were spilled (the rollups are then written over several commits).
  bool spilled() const { return !runs_.empty(); }

 private:
  class RunReader;
  Status Spill();

  std::string spill_dir_;
  uint64_t max_pending_;
  RollupBatch pending_;
  int fd_ = -1;  // the spill file, unlinked
  off_t spill_size_ = 0;
  std::vector<std::pair<off_t, off_t>> runs_;        // each run's [begin, end) in the file
  std::vector<std::unique_ptr<RunReader>> readers_;  // after Finish, when spilled
  std::vector<size_t> heap_;                         // readers by their current source
  std::string current_ip_;
  std::vector<const RollupBatch::Source*> sorted_;  // after Finish, when not spilled
  size_t next_sorted_ = 0;
  bool finished_ = false;
};

}  // namespace archiver::internal
