// archiver-codec-bench: how small, and how fast, candidate payload codecs would make the
// archive's message records (issue 16 item 2).
//
//   archiver-codec-bench [--corpus DIR] [--workload N] [--seed S] [--runs R]
//                        [--only corpus|workload] [--codecs NAME,NAME,...]
//
// Two message sets: the shared mail corpus (mbox From lines stripped, CRLF, as delivered)
// and the first N (default 20,000) messages of bench/scale's workload for seed S. Every
// tenth message is the training split for the zstd dictionaries; every codec is measured on
// the other nine tenths, so all rows cover the same messages. Prints Markdown tables: the
// whole set, then one per raw size band. Times are medians of R runs (default 3) of the
// thread's CPU time; exit status 0 when every codec round-tripped every message.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "../bench_clock.h"
#include "codec.h"
#include "measure.h"
#include "message_set.h"

namespace {

using namespace archiver::bench;

struct Options {
  std::string corpus = ARCHIVER_MAIL_CORPUS_DEFAULT;
  size_t workload = 20'000;
  uint64_t seed = 1;
  int runs = 3;
  std::string only;    // "" both sets
  std::string codecs;  // "" all; else a comma list of row names
};

// A dictionary only learns the start of a message (headers, greetings, footers, MIME
// preambles); a training sample's bytes past this add training time, not content.
constexpr size_t kTrainingPrefix = 64 * 1024;

bool Wanted(const Options& options, const std::string& name) {
  if (options.codecs.empty()) return true;
  std::stringstream list(options.codecs);
  std::string item;
  while (std::getline(list, item, ',')) {
    if (item == name) return true;
  }
  return false;
}

// The codecs of the table, the dictionary ones trained on `training`.
std::vector<std::unique_ptr<Codec>> MakeCodecs(const Options& options,
                                               const std::vector<std::string_view>& training,
                                               std::vector<std::string>* dictionaries) {
  std::vector<std::unique_ptr<Codec>> codecs;
  for (int level : {1, 6, 9}) codecs.push_back(MakeZlibCodec(level));
  for (int level : {6, 9, 12}) codecs.push_back(MakeLibdeflateCodec(level));
  if (!ZstdAvailable()) {
    std::printf("zstd: not built (libzstd not found by pkg-config): its rows are skipped\n\n");
  } else {
    for (int level : {1, 3, 9, 19}) codecs.push_back(MakeZstdCodec(level));
    dictionaries->reserve(2);  // codecs keep pointers into it
    for (size_t kib : {64, 112}) {
      const std::string label = "dict" + std::to_string(kib) + "k";
      if (!Wanted(options, "zstd-3+" + label) && !Wanted(options, "zstd-9+" + label)) continue;
      std::string error;
      const Clock::time_point start = Clock::now();
      dictionaries->push_back(TrainZstdDictionary(training, kib * 1024, &error));
      const std::string& dictionary = dictionaries->back();
      if (dictionary.empty()) {
        std::printf("%s: training failed (%s): its rows are skipped\n", label.c_str(),
                    error.c_str());
        continue;
      }
      std::printf("%s: %zu bytes, trained in %.1f s\n", label.c_str(), dictionary.size(),
                  SecondsSince(start));
      for (int level : {3, 9}) codecs.push_back(MakeZstdDictionaryCodec(level, dictionary, label));
    }
  }
  std::erase_if(codecs, [&](const auto& codec) { return !Wanted(options, codec->name()); });
  return codecs;
}

double Megabytes(double bytes) { return bytes / 1e6; }

void PrintHeader() {
  std::printf(
      "| codec | messages | raw MB | stored MB | ratio | kept raw | compress MB/s | "
      "decompress MB/s | LMDB MB (est.) | overflow values |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
}

void PrintRow(const std::string& name, const BandResult& band) {
  const double raw = static_cast<double>(band.raw_bytes);
  auto rate = [&](const std::vector<double>& seconds) {
    const double median = Median(seconds);
    if (seconds.empty()) return std::string("-");
    char text[32];
    std::snprintf(text, sizeof text, "%.0f", median > 0 ? Megabytes(raw) / median : 0.0);
    return std::string(text);
  };
  std::printf("| %s | %zu | %.2f | %.2f | %.2f | %zu | %s | %s | %.2f | %zu |\n", name.c_str(),
              band.messages, Megabytes(raw), Megabytes(static_cast<double>(band.stored_bytes)),
              band.stored_bytes > 0 ? raw / static_cast<double>(band.stored_bytes) : 0.0,
              band.stored_raw, rate(band.compress_seconds).c_str(),
              rate(band.decompress_seconds).c_str(), Megabytes(band.lmdb_bytes),
              band.overflow_values);
}

// Measures every codec on one set and prints its tables. False when a codec failed.
bool RunSet(const Options& options, const std::string& title,
            const std::vector<std::string>& messages) {
  std::printf("## %s\n\n", title.c_str());
  std::vector<std::string_view> training;
  std::vector<size_t> evaluation;
  for (size_t i = 0; i < messages.size(); ++i) {
    if (i % 10 == 0) {
      training.push_back(std::string_view(messages[i]).substr(0, kTrainingPrefix));
    } else {
      evaluation.push_back(i);
    }
  }
  std::vector<std::string> dictionaries;
  std::vector<std::unique_ptr<Codec>> codecs = MakeCodecs(options, training, &dictionaries);
  MessageSet set(messages, evaluation, codecs);

  std::vector<CodecResult> results(codecs.size());
  bool ok = true;
  for (int run = 0; run < options.runs; ++run) {
    // The starting codec rotates from run to run, so that drift in the machine's load does
    // not always fall on the same rows.
    for (size_t k = 0; k < codecs.size(); ++k) {
      const size_t c = (k + static_cast<size_t>(run) * 3) % codecs.size();
      std::string error;
      if (!MeasureRun(*codecs[c], set, run == 0, &results[c], &error)) {
        std::fprintf(stderr, "archiver-codec-bench: %s\n", error.c_str());
        ok = false;
      }
    }
    std::fprintf(stderr, "%s: run %d of %d done\n", title.c_str(), run + 1, options.runs);
  }

  const CodecResult none = MeasureUncompressed(set);
  std::printf("\nAll sizes (training split left out: %zu of %zu messages)\n\n", training.size(),
              messages.size());
  PrintHeader();
  PrintRow(none.name, none.Total());
  double cpu = 0, wall = 0;
  for (const CodecResult& result : results) {
    const BandResult total = result.Total();
    PrintRow(result.name, total);
    for (double seconds : total.compress_seconds) cpu += seconds;
    for (double seconds : total.decompress_seconds) cpu += seconds;
    wall += total.wall_seconds;
  }
  for (size_t b = 0; b < kBands; ++b) {
    std::printf("\nRaw size %s\n\n", kBandNames[b]);
    PrintHeader();
    PrintRow(none.name, none.bands[b]);
    for (const CodecResult& result : results) PrintRow(result.name, result.bands[b]);
  }
  std::printf("\nTimed loops: %.1f s CPU in %.1f s wall (%.0f%% of the wall time on our CPU)\n\n",
              cpu, wall, wall > 0 ? 100 * cpu / wall : 0.0);
  std::fflush(stdout);
  return ok;
}

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    const std::string arg = argv[i];
    if (arg == "--corpus" && has_value) {
      options->corpus = argv[++i];
    } else if (arg == "--workload" && has_value) {
      options->workload = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--seed" && has_value) {
      options->seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--runs" && has_value) {
      options->runs = std::atoi(argv[++i]);
    } else if (arg == "--only" && has_value) {
      options->only = argv[++i];
    } else if (arg == "--codecs" && has_value) {
      options->codecs = argv[++i];
    } else {
      return false;
    }
  }
  return options->runs >= 1 &&
         (options->only.empty() || options->only == "corpus" || options->only == "workload");
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fprintf(stderr,
                 "usage: %s [--corpus DIR] [--workload N] [--seed S] [--runs R] "
                 "[--only corpus|workload] [--codecs NAME,NAME,...]\n",
                 argv[0]);
    return 2;
  }
  bool ok = true;
  if (options.only != "workload") {
    const std::vector<std::string> messages = CorpusMessages(options.corpus);
    if (messages.empty()) {
      std::printf("## Corpus\n\nNot found at %s: skipped\n\n", options.corpus.c_str());
    } else {
      ok &=
          RunSet(options, "Corpus " + options.corpus + " (as delivered: From lines stripped, CRLF)",
                 messages);
    }
  }
  if (options.only != "corpus" && options.workload > 0) {
    const std::vector<std::string> messages =
        WorkloadMessages(options.seed, options.workload, options.corpus);
    ok &= RunSet(options,
                 "Workload: the first " + std::to_string(messages.size()) +
                     " messages of bench/scale seed " + std::to_string(options.seed),
                 messages);
  }
  return ok ? 0 : 1;
}
