#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "data/jsonl.h"
#include "support/error_of.h"
#include "temp_file.h"

using r1::data::testing::TempFile;
using ::testing::HasSubstr;

namespace r1::data {

namespace {

std::string error_of(const std::string& path) {
  return test::error_of([&] { read_jsonl(path); });
}

}  // namespace

TEST(Jsonl, ReadsObjectsAndSkipsBlankLines) {
  TempFile f("ok.jsonl", "{\"a\": 1}\n\n{\"a\": 2, \"s\": \"x\\u00e9\"}\r\n   \n{\"a\": 3}");
  const auto rows = read_jsonl(f.path());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0]["a"], 1);
  EXPECT_EQ(rows[1]["s"], "x\xc3\xa9");
  EXPECT_EQ(rows[2]["a"], 3);
}

TEST(Jsonl, InvalidJsonNamesFileAndLine) {
  TempFile f("bad.jsonl", "{\"a\": 1}\n{\"a\": 2}\n{\"a\": 3,,}\n{\"a\": 4}\n");
  const std::string msg = error_of(f.path());
  EXPECT_THAT(msg, HasSubstr(f.path() + ":3:"));
  EXPECT_THAT(msg, HasSubstr("invalid JSON"));
}

TEST(Jsonl, NonObjectLineNamesFileAndLine) {
  TempFile f("array.jsonl", "{\"a\": 1}\n[1, 2]\n");
  const std::string msg = error_of(f.path());
  EXPECT_THAT(msg, HasSubstr(f.path() + ":2:"));
  EXPECT_THAT(msg, HasSubstr("expected a JSON object"));
}

TEST(Jsonl, LineNumbersCountBlankLines) {
  TempFile f("blank.jsonl", "\n\n{\"a\": 1}\n\n\"text\"\n");
  EXPECT_THAT(error_of(f.path()), HasSubstr(f.path() + ":5:"));
}

TEST(Jsonl, MissingFileIsNamed) {
  EXPECT_THAT(error_of("/nonexistent/r1/file.jsonl"), HasSubstr("/nonexistent/r1/file.jsonl"));
}

TEST(Jsonl, StreamingReaderReportsLinesAndStopsAtEnd) {
  TempFile f("stream.jsonl", "{\"i\": 0}\n\n{\"i\": 1}\n");
  JsonlReader reader(f.path());
  nlohmann::json row;
  ASSERT_TRUE(reader.next(row));
  EXPECT_EQ(row["i"], 0);
  EXPECT_EQ(reader.line(), 1);
  ASSERT_TRUE(reader.next(row));
  EXPECT_EQ(row["i"], 1);
  EXPECT_EQ(reader.line(), 3);
  EXPECT_FALSE(reader.next(row));
}

TEST(Jsonl, StreamingReaderDeliversRowsBeforeTheBadLine) {
  TempFile f("partial.jsonl", "{\"i\": 0}\n{\"i\": 1}\n{oops\n");
  std::vector<long> lines;
  EXPECT_THROW(for_each_jsonl(f.path(), [&](const nlohmann::json&, long line) { lines.push_back(line); }), Error);
  EXPECT_EQ(lines, (std::vector<long>{1, 2}));
}

TEST(Jsonl, WriteThenReadRoundTrips) {
  TempFile f("roundtrip.jsonl", "");
  const std::vector<nlohmann::json> rows = {{{"prompt", "line1\nline2"}, {"n", 5}}, {{"u", "\xe2\x88\x9a" "2"}}};
  write_jsonl(f.path(), rows);
  EXPECT_EQ(read_jsonl(f.path()), rows);
}

}  // namespace r1::data
