// Replays a corpus through the enricher's fuzz entry point, then a fixed number of seeded
// mutations of it: the same inputs on every run and every machine, so it can be a unit test.
// A broken property aborts inside the entry point; --crash-file then holds the input.
//
//   enricher_fuzz_replay [--mutations N] [--seed S] [--crash-file PATH] CORPUS_DIR_OR_FILE...
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "enricher_fuzz.h"

namespace {

namespace fs = std::filesystem;

// splitmix64: tiny, and the same sequence everywhere.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }

 private:
  std::uint64_t state_;
};

// Bytes and tokens that matter to a JSON decoder and to this record format.
constexpr char kBytes[] = {'"',    '{',    '}',    '[',    ']',    ',',    ':',    '\\',
                           '-',    '.',    'e',    '0',    '9',    ' ',    '\n',   '\t',
                           '\x00', '\x7f', '\x80', '\xbf', '\xc3', '\xe2', '\xf0', '\xff'};
constexpr std::string_view kTokens[] = {
    "null",
    "true",
    "false",
    "\"\"",
    "0",
    "-0",
    "1e400",
    "-1e-400",
    "18446744073709551616",
    "9007199254740993",
    "1.5",
    "\"1,5\"",
    "\"-0,8\"",
    "\" 42 \"",
    "\"NaN\"",
    "\"inf\"",
    "\\u0000",
    "\\ud800",
    "\\u00e9",
    "\\\"",
    "[]",
    "{}",
    "[[[[[[[[",
    "\"ID\"",
    "\"Source\"",
    "\"Objet\"",
    "\"Etat\"",
    "\"Debut\"",
    "\"Fin\"",
    "\"Duree secondes\"",
    "\"cpu_time\"",
    "\"memory_used\"",
    "\"Zone\"",
    "\"Transformation\"",
    "\"SUCCESS\"",
    "\"FAILED\"",
    "\"RUNNING\"",
    "\"\xc3\x89"
    "chec\"",
    "\"2025-09-15 10:30:00.000\"",
    "\"2025-09-15T10:30:00Z\"",
    "\"2025-10-26 02:30:00\"",
    "\"2025-03-30 02:30:00\"",
    "\"1678-01-01 00:00:00\"",
    "\"2261-12-31T23:59:59.999+14:00\"",
    "\"9999-12-31T23:59:59Z\"",
    "+02:00",
    ",\"Source\":\"S\"",
};

std::string mutate(std::string input, const std::vector<std::string>& corpus, Random& random) {
  const std::size_t steps = 1 + random.below(4);
  for (std::size_t step = 0; step < steps; ++step) {
    const std::size_t at = random.below(input.size() + 1);
    // Tokens weigh double: they keep more of the structure, so more inputs get past the
    // JSON checks to the field rules.
    switch (const std::size_t op = random.below(11); op < 9 ? op : op - 4) {
      case 0:  // flip a bit
        if (!input.empty()) {
          input[random.below(input.size())] ^= static_cast<char>(1u << random.below(8));
        }
        break;
      case 1:  // overwrite a byte
        if (!input.empty()) input[random.below(input.size())] = kBytes[random.below(sizeof kBytes)];
        break;
      case 2:  // insert a byte
        input.insert(at, 1, kBytes[random.below(sizeof kBytes)]);
        break;
      case 3:  // erase a few bytes
        input.erase(std::min(at, input.size()), 1 + random.below(8));
        break;
      case 4: {  // copy a range elsewhere
        if (input.empty()) break;
        const std::size_t from = random.below(input.size());
        const std::string piece = input.substr(from, 1 + random.below(32));
        input.insert(at, piece);
        break;
      }
      case 5:  // insert a token
        input.insert(at, kTokens[random.below(std::size(kTokens))]);
        break;
      case 6: {  // replace a token-sized range by a token
        const std::string_view token = kTokens[random.below(std::size(kTokens))];
        input.replace(std::min(at, input.size()), token.size(), token);
        break;
      }
      case 7: {  // splice: our head, another input's tail
        const std::string& other = corpus[random.below(corpus.size())];
        input = input.substr(0, at) + other.substr(random.below(other.size() + 1));
        break;
      }
      default:  // truncate
        input.resize(at);
        break;
    }
  }
  constexpr std::size_t kMaxBytes = 1 << 16;
  if (input.size() > kMaxBytes) input.resize(kMaxBytes);
  return input;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// When the entry point aborts or crashes, the input that did it is written to --crash-file
// from the signal handler (open/write are async-signal-safe), then the signal is re-raised.
const char* g_crash_file = nullptr;
const std::string* g_current = nullptr;

extern "C" void on_crash(int signal) {
  if (g_crash_file != nullptr && g_current != nullptr) {
    const int fd = ::open(g_crash_file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      const ssize_t written = ::write(fd, g_current->data(), g_current->size());
      static_cast<void>(written);
      ::close(fd);
    }
  }
  std::signal(signal, SIG_DFL);
  std::raise(signal);
}

void run(const std::string& input, std::map<std::string, std::size_t>& outcomes) {
  g_current = &input;
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
  g_current = nullptr;
  ++outcomes[std::string(iw::events::fuzz::last_outcome())];
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t mutations = 20'000;
  std::uint64_t seed = 1;
  std::string crash_file;
  std::vector<fs::path> paths;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--mutations" && i + 1 < argc) {
      mutations = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--seed" && i + 1 < argc) {
      seed = std::strtoull(argv[++i], nullptr, 10);
    } else if (arg == "--crash-file" && i + 1 < argc) {
      crash_file = argv[++i];
    } else {
      paths.emplace_back(arg);
    }
  }

  std::vector<fs::path> files;
  for (const fs::path& path : paths) {
    if (fs::is_directory(path)) {
      for (const auto& entry : fs::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      files.push_back(path);
    }
  }
  // Directory order differs between file systems; the mutations must not.
  std::sort(files.begin(), files.end());
  std::vector<std::string> corpus;
  corpus.reserve(files.size());
  for (const fs::path& file : files) corpus.push_back(read_file(file));
  if (corpus.empty()) {
    std::fprintf(stderr, "enricher_fuzz_replay: no corpus inputs given\n");
    return 2;
  }

  if (!crash_file.empty()) {
    g_crash_file = crash_file.c_str();
    for (const int signal : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL})
      std::signal(signal, on_crash);
  }
  std::map<std::string, std::size_t> outcomes;
  for (const std::string& input : corpus) run(input, outcomes);
  Random random(seed);
  for (std::size_t i = 0; i < mutations; ++i) {
    const std::string& base = corpus[random.below(corpus.size())];
    const std::string input = mutate(base, corpus, random);
    run(input, outcomes);
  }

  std::printf("enricher_fuzz_replay: %zu corpus inputs + %zu mutations (seed %llu), no failure\n",
              corpus.size(), mutations, static_cast<unsigned long long>(seed));
  for (const auto& [outcome, count] : outcomes)
    std::printf("  %-20s %zu\n", outcome.c_str(), count);
  return 0;
}
