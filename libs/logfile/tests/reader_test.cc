#include "iw/logfile/reader.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "split_util.h"

namespace iw::logfile {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::Rec;

class ReaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "iw_logfile_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string write(std::string_view name, std::string_view content) const {
    const fs::path file = dir_ / name;
    std::ofstream(file, std::ios::binary) << content;
    return file.string();
  }

  static std::vector<Rec> read_all(RecordReader& reader) {
    std::vector<Rec> records;
    for (;;) {
      auto record = reader.next();
      if (!record) {
        ADD_FAILURE() << record.error().to_string();
        return records;
      }
      if (!*record) return records;
      records.push_back(testing::copy(**record));
    }
  }

  static std::vector<Rec> read_file(const std::string& path, ReaderOptions options = {}) {
    auto reader = RecordReader::open(path, options);
    if (!reader) {
      ADD_FAILURE() << reader.error().to_string();
      return {};
    }
    return read_all(*reader);
  }

  fs::path dir_;
};

constexpr std::string_view kNdjson =
    "{\"Source\":\"Zoho\",\"Etat\":\"SUCCESS\"}\n"
    "\n"
    "{\"Source\":\"PowerBI\",\"Etat\":\"FAILED\"}\r\n"
    "{\"Source\":\"Efficy\"}";

constexpr std::string_view kArray =
    "\xEF\xBB\xBF[\n"
    "  {\"Source\": \"Zoho\", \"Description\": \"a {tricky} [one], \\\"quoted\\\"\"},\n"
    "  {\"Source\": \"PowerBI\"}\n"
    "]\n";

TEST_F(ReaderTest, ReadsNdjsonWithPositionsAndProgress) {
  const std::string path = write("logs.ndjson", kNdjson);
  auto reader = RecordReader::open(path, {});
  ASSERT_TRUE(reader) << reader.error().to_string();
  EXPECT_EQ(reader->format(), Format::kNdjson);
  EXPECT_EQ(reader->file_size(), kNdjson.size());
  EXPECT_EQ(reader->name(), path);
  EXPECT_THAT(read_all(*reader),
              ElementsAre(Rec{"{\"Source\":\"Zoho\",\"Etat\":\"SUCCESS\"}", 1, 0, std::nullopt},
                          Rec{"{\"Source\":\"PowerBI\",\"Etat\":\"FAILED\"}", 3, 36, std::nullopt},
                          Rec{"{\"Source\":\"Efficy\"}", 4, 74, std::nullopt}));
  EXPECT_EQ(reader->bytes_consumed(), kNdjson.size());
  auto again = reader->next();
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->has_value());
}

TEST_F(ReaderTest, DetectsArraysAndSplitsThemTheSameWayForEveryChunkSize) {
  const std::string path = write("logs.json", kArray);
  auto reader = RecordReader::open(path, {});
  ASSERT_TRUE(reader) << reader.error().to_string();
  EXPECT_EQ(reader->format(), Format::kJsonArray);
  const std::vector<Rec> records = read_all(*reader);
  EXPECT_THAT(
      records,
      ElementsAre(Rec{R"({"Source": "Zoho", "Description": "a {tricky} [one], \"quoted\""})", 2, 7,
                      std::nullopt},
                  Rec{R"({"Source": "PowerBI"})", 3, 76, std::nullopt}));
  for (const std::size_t chunk : {1, 7, 64}) {
    EXPECT_EQ(read_file(path, {.chunk_bytes = chunk}), records) << chunk;
  }
}

TEST_F(ReaderTest, EmptyFileHasNoRecords) {
  const std::string path = write("empty.json", "");
  auto reader = RecordReader::open(path, {});
  ASSERT_TRUE(reader) << reader.error().to_string();
  EXPECT_EQ(reader->format(), Format::kNdjson);
  EXPECT_EQ(reader->file_size(), 0u);
  EXPECT_THAT(read_all(*reader), IsEmpty());
}

TEST_F(ReaderTest, ForcedFormatWins) {
  const std::string path = write("logs.json", "[1,\n2]\n");
  EXPECT_THAT(read_file(path, {.format = Format::kNdjson}),
              ElementsAre(Rec{"[1,", 1, 0, std::nullopt}, Rec{"2]", 2, 4, std::nullopt}));
}

TEST_F(ReaderTest, RewindStartsOverForLooping) {
  const std::string path = write("logs.json", kArray);
  auto reader = RecordReader::open(path, {.chunk_bytes = 16});
  ASSERT_TRUE(reader) << reader.error().to_string();
  ASSERT_TRUE(reader->next().value().has_value());
  ASSERT_TRUE(reader->rewind()) << "rewind failed";
  EXPECT_EQ(reader->bytes_consumed(), 3u);  // detected again: past the BOM, up to `[`
  const std::vector<Rec> first = read_all(*reader);
  ASSERT_EQ(first.size(), 2u);
  ASSERT_TRUE(reader->rewind());
  EXPECT_EQ(read_all(*reader), first);
}

TEST_F(ReaderTest, MissingFileIsNotFoundAndNamesThePath) {
  const std::string path = (dir_ / "nope.json").string();
  auto reader = RecordReader::open(path, {});
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code(), base::ErrorCode::kNotFound);
  EXPECT_EQ(reader.error().message(), "cannot open " + path + ": No such file or directory");
}

TEST_F(ReaderTest, DirectoryIsAFailedPrecondition) {
  auto reader = RecordReader::open(dir_.string(), {});
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_EQ(reader.error().message(), "cannot open " + dir_.string() + ": it is a directory");
}

TEST_F(ReaderTest, UnreadableFileIsAFailedPrecondition) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads every file";
  const std::string path = write("secret.json", "{}\n");
  fs::permissions(path, fs::perms::none);
  auto reader = RecordReader::open(path, {});
  ASSERT_FALSE(reader);
  EXPECT_EQ(reader.error().code(), base::ErrorCode::kFailedPrecondition);
  EXPECT_EQ(reader.error().message(), "cannot open " + path + ": Permission denied");
}

// The descriptor the reader holds for `path`, found through /proc.
int open_descriptor_of(const std::string& path) {
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const fs::path target = fs::read_symlink(entry.path(), error);
    if (!error && target == path) return std::stoi(entry.path().filename().string());
  }
  return -1;
}

TEST_F(ReaderTest, ReadErrorMidFileIsUnavailableAndNamesThePath) {
  const std::string path = write("logs.ndjson", "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n{\"d\":4}\n");
  auto reader = RecordReader::open(path, {.chunk_bytes = 8});
  ASSERT_TRUE(reader) << reader.error().to_string();
  auto first = reader->next();
  ASSERT_TRUE(first && first->has_value());
  EXPECT_EQ((*first)->bytes, "{\"a\":1}");

  // Swap a write-only descriptor in under the reader: its next read(2) fails with EBADF,
  // as a real I/O error would.
  const int fd = open_descriptor_of(path);
  ASSERT_GE(fd, 0);
  const int write_only = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(write_only, 0);
  ASSERT_EQ(::dup2(write_only, fd), fd);
  ::close(write_only);

  auto failed = reader->next();
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code(), base::ErrorCode::kUnavailable);
  EXPECT_EQ(failed.error().message(), "reading " + path + ": Bad file descriptor");
}

// Serves `total` generated bytes without holding them, then optionally fails.
class GeneratedSource final : public ByteSource {
 public:
  using Generate = std::function<char(std::uint64_t)>;
  GeneratedSource(std::uint64_t total, Generate generate, bool fail_at_end = false)
      : total_(total), generate_(std::move(generate)), fail_at_end_(fail_at_end) {}

  base::Result<std::size_t> read(std::span<char> out) override {
    if (offset_ == total_ && fail_at_end_) {
      return base::fail(base::ErrorCode::kUnavailable, "disk on fire");
    }
    const std::size_t n =
        static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), total_ - offset_));
    for (std::size_t i = 0; i < n; ++i) out[i] = generate_(offset_ + i);
    offset_ += n;
    return n;
  }
  base::Status rewind() override {
    offset_ = 0;
    return {};
  }
  std::optional<std::uint64_t> size() const override { return total_; }

 private:
  std::uint64_t total_;
  Generate generate_;
  bool fail_at_end_;
  std::uint64_t offset_ = 0;
};

TEST_F(ReaderTest, SourceErrorsPassThroughAndTheReadIsRetried) {
  const std::string text = "{\"a\":1}\n{\"b\":2}\n{\"c\"";
  // Fails once the text is served; a retry fails the same way, records before stay good.
  auto reader =
      RecordReader::from_source(std::make_unique<GeneratedSource>(
                                    text.size(), [&](std::uint64_t i) { return text[i]; }, true),
                                "generated", {.chunk_bytes = 8});
  ASSERT_TRUE(reader) << reader.error().to_string();
  EXPECT_EQ(reader->next().value()->bytes, "{\"a\":1}");
  EXPECT_EQ(reader->next().value()->bytes, "{\"b\":2}");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto failed = reader->next();
    ASSERT_FALSE(failed);
    EXPECT_EQ(failed.error().code(), base::ErrorCode::kUnavailable);
    EXPECT_EQ(failed.error().message(), "disk on fire");
  }
}

TEST_F(ReaderTest, AHugeRecordStreamsThroughAFixedBuffer) {
  // 64 MiB on one NDJSON line, then a normal one; memory stays max + chunk + padding.
  constexpr std::uint64_t kHuge = std::uint64_t{64} << 20;
  const std::string tail = "\n{\"after\":1}\n";
  auto reader = RecordReader::from_source(
      std::make_unique<GeneratedSource>(
          kHuge + tail.size(),
          [&](std::uint64_t i) { return i < kHuge ? (i % 7 == 0 ? '{' : 'x') : tail[i - kHuge]; }),
      "generated", {.max_record_bytes = 1024, .chunk_bytes = 64 * 1024});
  ASSERT_TRUE(reader) << reader.error().to_string();
  const std::vector<Rec> records = read_all(*reader);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].bytes.size(), 1024u);
  EXPECT_EQ(records[0].problem, Problem::kOversized);
  EXPECT_EQ(records[1], (Rec{"{\"after\":1}", 2, kHuge + 1, std::nullopt}));
}

TEST_F(ReaderTest, AHugeArrayElementStreamsThroughAFixedBuffer) {
  // [{"s":"<64 MiB of brackets and escaped quotes>"},{"after":1}]
  constexpr std::uint64_t kHuge = std::uint64_t{64} << 20;
  const std::string head = "[{\"s\":\"";
  const std::string tail = "\"},\n{\"after\":1}]";
  const std::string filler = "]}[{,\\\"";
  auto reader = RecordReader::from_source(
      std::make_unique<GeneratedSource>(head.size() + kHuge + tail.size(),
                                        [&](std::uint64_t i) {
                                          if (i < head.size()) return head[i];
                                          i -= head.size();
                                          return i < kHuge ? filler[i % filler.size()]
                                                           : tail[i - kHuge];
                                        }),
      "generated", {.max_record_bytes = 1024, .chunk_bytes = 64 * 1024});
  ASSERT_TRUE(reader) << reader.error().to_string();
  const std::vector<Rec> records = read_all(*reader);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].problem, Problem::kOversized);
  EXPECT_EQ(records[1], (Rec{"{\"after\":1}", 2, head.size() + kHuge + 4, std::nullopt}));
}

TEST_F(ReaderTest, RecordViewsCanBeParsedInPlaceBySimdjson) {
  std::string file = "[";
  for (int i = 0; i < 2000; ++i) {
    file += (i > 0 ? ",\n" : "") + std::string("{\"ID\":") + std::to_string(i) + "}";
  }
  file += "]";
  const std::string path = write("logs.json", file);
  static_assert(RecordReader::kReadablePadding >= simdjson::SIMDJSON_PADDING);
  for (const std::size_t chunk : {1, 100, 1 << 20}) {
    auto reader = RecordReader::open(path, {.max_record_bytes = 64, .chunk_bytes = chunk});
    ASSERT_TRUE(reader) << reader.error().to_string();
    simdjson::ondemand::parser parser;
    std::int64_t expected = 0;
    for (;;) {
      auto record = reader->next();
      ASSERT_TRUE(record) << record.error().to_string();
      if (!*record) break;
      const std::string_view bytes = (*record)->bytes;
      auto doc =
          parser.iterate(bytes.data(), bytes.size(), bytes.size() + RecordReader::kReadablePadding);
      std::int64_t id = -1;
      ASSERT_EQ(doc["ID"].get_int64().get(id), simdjson::SUCCESS) << bytes;
      EXPECT_EQ(id, expected++);
    }
    EXPECT_EQ(expected, 2000);
  }
}

TEST_F(ReaderTest, ReadsStdinWhenThePathIsADash) {
  const std::string path = write("logs.ndjson", kNdjson);
  const int saved = ::dup(STDIN_FILENO);
  ASSERT_GE(saved, 0);
  const int file = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(file, 0);
  ASSERT_EQ(::dup2(file, STDIN_FILENO), STDIN_FILENO);
  ::close(file);
  {
    auto reader = RecordReader::open("-", {.chunk_bytes = 5});
    ASSERT_TRUE(reader) << reader.error().to_string();
    EXPECT_EQ(reader->name(), "stdin");
    EXPECT_EQ(read_all(*reader), read_file(path));
  }
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
}

TEST_F(ReaderTest, StdinFromAPipeCannotRewind) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  ASSERT_EQ(::write(fds[1], "{}\n", 3), 3);
  ::close(fds[1]);
  const int saved = ::dup(STDIN_FILENO);
  ASSERT_EQ(::dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
  ::close(fds[0]);
  {
    auto reader = RecordReader::open("-", {});
    ASSERT_TRUE(reader) << reader.error().to_string();
    EXPECT_EQ(reader->file_size(), std::nullopt);
    EXPECT_THAT(read_all(*reader), ElementsAre(Rec{"{}", 1, 0, std::nullopt}));
    const auto status = reader->rewind();
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code(), base::ErrorCode::kFailedPrecondition);
    EXPECT_THAT(status.error().message(), HasSubstr("cannot rewind stdin"));
  }
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
}

TEST_F(ReaderTest, AQuietPipeCallsWhileWaitingAndStopsWhenItSaysSo) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  // Two whole records and half of a third; the writer stays open, as `tail -f` would.
  const std::string written = "{\"a\":1}\n{\"b\":2}\n{\"c\":";
  ASSERT_EQ(::write(fds[1], written.data(), written.size()), static_cast<ssize_t>(written.size()));
  const int saved = ::dup(STDIN_FILENO);
  ASSERT_EQ(::dup2(fds[0], STDIN_FILENO), STDIN_FILENO);
  ::close(fds[0]);
  {
    int waits = 0;
    auto reader = RecordReader::open("-", {.while_waiting = [&] { return ++waits < 3; }});
    ASSERT_TRUE(reader) << reader.error().to_string();
    // The whole records come out, then the reader waits (calling back) instead of blocking,
    // and stops when told to: the half record is neither returned nor flagged.
    EXPECT_THAT(read_all(*reader), ElementsAre(Rec{"{\"a\":1}", 1, 0, std::nullopt},
                                               Rec{"{\"b\":2}", 2, 8, std::nullopt}));
    EXPECT_EQ(waits, 3);
    // More input arrives: reading goes on where it stopped.
    ASSERT_EQ(::write(fds[1], "3}\n", 3), 3);
    ::close(fds[1]);
    EXPECT_THAT(read_all(*reader), ElementsAre(Rec{"{\"c\":3}", 3, 16, std::nullopt}));
  }
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
}

}  // namespace
}  // namespace iw::logfile
