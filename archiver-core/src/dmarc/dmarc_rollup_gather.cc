// RollupGatherer (dmarc_rollup_gather.h): pending sources in a map; runs spilled to an
// O_TMPFILE file (mkstemp and unlink where the file system lacks it), each item the
// source IP and its encoded tally as two strings; the runs merged with a heap.
#include "dmarc/dmarc_rollup_gather.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/value_codec.h"
#include "dmarc/dmarc_store_codec.h"

namespace archiver::internal {
namespace {

constexpr size_t kWriteChunk = 1 << 20;  // bytes buffered per write()
constexpr size_t kReadChunk = 64 << 10;  // bytes read at a time from each run

Status SpillError(const char* what) {
  return Status::IOError(std::string("DMARC rollup spill file: ") + what + ": " +
                         std::strerror(errno));
}

// An unlinked temporary file in `dir`, or -1 (errno set).
int OpenUnlinked(const std::string& dir) {
  int fd = open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)) return fd;
  std::string name = dir + "/.dmarc-rollup-XXXXXX";
  fd = mkostemp(name.data(), O_CLOEXEC);
  if (fd >= 0) unlink(name.c_str());
  return fd;
}

Status WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SpillError("write");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

}  // namespace

// Reads one run's items in order, a chunk at a time.
class RollupGatherer::RunReader {
 public:
  RunReader(int fd, off_t begin, off_t end) : fd_(fd), offset_(begin), end_(end) {}

  // Reads the next item into ip()/tally(); *end when the run has no more.
  Status Next(bool* end) {
    while (true) {
      std::string_view in = std::string_view(buffer_).substr(used_);
      std::string value;
      if (value_codec::GetString(&in, &ip_) && value_codec::GetString(&in, &value)) {
        used_ = buffer_.size() - in.size();
        *end = false;
        return dmarc_codec::DecodeRollup(value, &tally_);
      }
      if (offset_ == end_) {
        *end = true;
        return used_ == buffer_.size() ? Status::Ok()
                                       : Status::Corruption("a DMARC rollup spill run is cut");
      }
      Status read = Fill();
      if (!read.ok()) return read;
    }
  }
  const std::string& ip() const { return ip_; }
  const DmarcTally& tally() const { return tally_; }

 private:
  // Drops what was read and appends the next chunk of the run.
  Status Fill() {
    buffer_.erase(0, used_);
    used_ = 0;
    const size_t old = buffer_.size();
    const size_t want = static_cast<size_t>(std::min<off_t>(end_ - offset_, kReadChunk));
    buffer_.resize(old + want);
    ssize_t n = -1;
    do {
      n = pread(fd_, buffer_.data() + old, want, offset_);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return SpillError("read");
    if (n == 0) return Status::Corruption("DMARC rollup spill file is shorter than written");
    buffer_.resize(old + static_cast<size_t>(n));
    offset_ += n;
    return Status::Ok();
  }

  int fd_;
  off_t offset_;
  off_t end_;
  std::string buffer_;
  size_t used_ = 0;
  std::string ip_;
  DmarcTally tally_;
};

RollupGatherer::RollupGatherer(std::string spill_dir, uint64_t max_pending)
    : spill_dir_(std::move(spill_dir)), max_pending_(std::max<uint64_t>(max_pending, 1)) {}

RollupGatherer::~RollupGatherer() {
  if (fd_ >= 0) close(fd_);
}

Status RollupGatherer::Add(std::string_view source_ip, uint64_t count, std::string_view disposition,
                           std::string_view dkim, std::string_view spf) {
  pending_.Add(source_ip, count, disposition, dkim, spf);
  return pending_.size() > max_pending_ ? Spill() : Status::Ok();
}

Status RollupGatherer::Spill() {
  if (fd_ < 0 && (fd_ = OpenUnlinked(spill_dir_)) < 0) return SpillError(spill_dir_.c_str());
  const off_t begin = spill_size_;
  std::string out;
  for (const RollupBatch::Source* source : pending_.Sorted()) {
    const auto& [ip, tally] = *source;
    value_codec::PutString(ip, &out);
    value_codec::PutString(dmarc_codec::EncodeRollup(tally), &out);
    if (out.size() < kWriteChunk) continue;
    Status written = WriteAll(fd_, out);
    if (!written.ok()) return written;
    spill_size_ += static_cast<off_t>(out.size());
    out.clear();
  }
  Status written = WriteAll(fd_, out);
  if (!written.ok()) return written;
  spill_size_ += static_cast<off_t>(out.size());
  runs_.emplace_back(begin, spill_size_);
  pending_.clear();
  return Status::Ok();
}

namespace {

// Orders run indexes for a min-heap on their current source IP.
template <typename Readers>
auto LaterSource(const Readers& readers) {
  return [&readers](size_t a, size_t b) { return readers[a]->ip() > readers[b]->ip(); };
}

}  // namespace

Status RollupGatherer::Finish() {
  finished_ = true;
  if (!spilled()) {
    sorted_ = pending_.Sorted();
    return Status::Ok();
  }
  if (!pending_.empty()) {
    Status spilled_rest = Spill();
    if (!spilled_rest.ok()) return spilled_rest;
  }
  for (const auto& [begin, end] : runs_) {
    readers_.push_back(std::make_unique<RunReader>(fd_, begin, end));
    bool end_of_run = false;
    Status read = readers_.back()->Next(&end_of_run);
    if (!read.ok()) return read;
    if (!end_of_run) heap_.push_back(readers_.size() - 1);
  }
  std::make_heap(heap_.begin(), heap_.end(), LaterSource(readers_));
  return Status::Ok();
}

Status RollupGatherer::Next(std::string_view* source_ip, DmarcTally* tally, bool* end) {
  if (!finished_) return Status::InvalidArgument("RollupGatherer::Next before Finish");
  if (!spilled()) {
    *end = next_sorted_ == sorted_.size();
    if (*end) return Status::Ok();
    *source_ip = sorted_[next_sorted_]->first;
    *tally = sorted_[next_sorted_++]->second;
    return Status::Ok();
  }
  *end = heap_.empty();
  if (*end) return Status::Ok();
  const auto later = LaterSource(readers_);
  current_ip_ = readers_[heap_.front()]->ip();
  *tally = {};
  // Every run holding this source: add its tally, move it on.
  while (!heap_.empty() && readers_[heap_.front()]->ip() == current_ip_) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    RunReader& run = *readers_[heap_.back()];
    dmarc_codec::AddTally(run.tally(), tally);
    bool end_of_run = false;
    Status read = run.Next(&end_of_run);
    if (!read.ok()) return read;
    if (end_of_run) {
      heap_.pop_back();
    } else {
      std::push_heap(heap_.begin(), heap_.end(), later);
    }
  }
  *source_ip = current_ip_;
  return Status::Ok();
}

}  // namespace archiver::internal
