// Malformed tokenizer.json files give an r1::Error that names the file and the field at fault. Each
// variant of a small valid file is written into a temporary directory and loaded with from_file.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/tokenizer.h"

using namespace r1;
using ::testing::HasSubstr;
using nlohmann::json;

namespace {

// A complete byte-level BPE file: the 256 byte tokens plus "he", "ll", "hell", "hello", and a special.
json tiny_tokenizer_json() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[tok::bytes_to_byte_chars(std::string(1, static_cast<char>(b)))] = b;
  vocab["he"] = 256;
  vocab["ll"] = 257;
  vocab["hell"] = 258;
  vocab["hello"] = 259;
  return json{
      {"version", "1.0"},
      {"added_tokens", json::array({json{{"id", 260}, {"content", "<|end|>"}, {"special", true},
                                         {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                                         {"normalized", false}}})},
      {"normalizer", {{"type", "NFC"}}},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         json::array({json{{"type", "Split"},
                           {"pattern", {{"Regex", R"( ?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}}},
                           {"behavior", "Isolated"},
                           {"invert", false}},
                      json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}}},
      {"model",
       {{"type", "BPE"},
        {"vocab", vocab},
        {"merges", json::array({"h e", json::array({"l", "l"}), "he ll", json::array({"hell", "o"})})}}}};
}

class TempDir {
 public:
  TempDir() {
    path_ = std::filesystem::temp_directory_path() / ("r1_tok_err_" + std::to_string(::getpid()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    const std::string p = (path_ / name).string();
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

// Loads a variant of the tiny file and returns the error message ("" if it loaded).
std::string load_error(const TempDir& dir, const std::function<void(json&)>& edit, std::string* file = nullptr) {
  json j = tiny_tokenizer_json();
  edit(j);
  const std::string path = dir.write("tokenizer.json", j.dump());
  if (file) *file = path;
  try {
    Tokenizer::from_file(path);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Tokenizer, TinyValidFileLoadsAndMerges) {
  TempDir dir;
  const std::string path = dir.write("tokenizer.json", tiny_tokenizer_json().dump());
  const Tokenizer t = Tokenizer::from_file(path);
  EXPECT_EQ(t.encode("hello"), std::vector<int32_t>{259});
  EXPECT_EQ(t.encode("hello<|end|>"), (std::vector<int32_t>{259, 260}));
  EXPECT_EQ(t.decode({259, 260}, true), "hello");
  EXPECT_EQ(t.vocab_size(), 261);
}

TEST(Tokenizer, MissingModelIsAClearError) {
  TempDir dir;
  std::string file;
  const std::string msg = load_error(dir, [](json& j) { j.erase("model"); }, &file);
  EXPECT_THAT(msg, HasSubstr(file));
  EXPECT_THAT(msg, HasSubstr("field 'model'"));
  EXPECT_THAT(msg, HasSubstr("missing"));
}

TEST(Tokenizer, UnknownModelTypeIsAClearError) {
  TempDir dir;
  const std::string msg = load_error(dir, [](json& j) { j["model"]["type"] = "WordPiece"; });
  EXPECT_THAT(msg, HasSubstr("field 'model.type'"));
  EXPECT_THAT(msg, HasSubstr("unsupported model type 'WordPiece'"));
}

TEST(Tokenizer, MergeNamingUnknownTokenIsAClearError) {
  TempDir dir;
  const std::string msg = load_error(dir, [](json& j) { j["model"]["merges"][1] = json::array({"l", "zz"}); });
  EXPECT_THAT(msg, HasSubstr("field 'model.merges[1]'"));
  EXPECT_THAT(msg, HasSubstr("'zz' which is not in model.vocab"));
  const std::string msg2 = load_error(dir, [](json& j) { j["model"]["merges"][0] = "h qq"; });
  EXPECT_THAT(msg2, HasSubstr("field 'model.merges[0]'"));
  EXPECT_THAT(msg2, HasSubstr("'qq'"));
}

TEST(Tokenizer, MergeWhoseResultIsMissingIsAClearError) {
  TempDir dir;
  const std::string msg = load_error(dir, [](json& j) { j["model"]["merges"].push_back("l o"); });
  EXPECT_THAT(msg, HasSubstr("field 'model.merges[4]'"));
  EXPECT_THAT(msg, HasSubstr("merge result 'lo' is not in model.vocab"));
}

TEST(Tokenizer, MalformedMergeEntryIsAClearError) {
  TempDir dir;
  EXPECT_THAT(load_error(dir, [](json& j) { j["model"]["merges"][2] = "he ll o"; }),
              HasSubstr("field 'model.merges[2]': merge 'he ll o' must be two tokens separated by one space"));
  EXPECT_THAT(load_error(dir, [](json& j) { j["model"]["merges"][3] = json::array({"a", "b", "c"}); }),
              HasSubstr("field 'model.merges[3]'"));
  EXPECT_THAT(load_error(dir, [](json& j) { j["model"]["merges"][3] = 7; }), HasSubstr("field 'model.merges[3]'"));
}

TEST(Tokenizer, BadRegexIsAClearError) {
  TempDir dir;
  const std::string msg = load_error(dir, [](json& j) {
    j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(?i:'s|[a-";
  });
  EXPECT_THAT(msg, HasSubstr("field 'pre_tokenizer.pretokenizers[0].pattern.Regex'"));
  EXPECT_THAT(msg, HasSubstr("invalid regex '(?i:'s|[a-'"));
}

TEST(Tokenizer, OtherMalformedFieldsAreClearErrors) {
  TempDir dir;
  EXPECT_THAT(load_error(dir, [](json& j) { j["model"]["vocab"]["he"] = "x"; }),
              HasSubstr("field 'model.vocab.he': id must be a non-negative integer"));
  EXPECT_THAT(load_error(dir, [](json& j) { j["model"].erase("vocab"); }), HasSubstr("field 'model.vocab'"));
  EXPECT_THAT(load_error(dir, [](json& j) { j["model"]["merges"] = "h e"; }), HasSubstr("field 'model.merges'"));
  EXPECT_THAT(load_error(dir, [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["type"] = "Metaspace"; }),
              HasSubstr("unsupported pre_tokenizer 'Metaspace'"));
  EXPECT_THAT(load_error(dir, [](json& j) { j["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Glued"; }),
              HasSubstr("field 'pre_tokenizer.pretokenizers[0].behavior': unknown behavior 'Glued'"));
  EXPECT_THAT(load_error(dir, [](json& j) { j["normalizer"]["type"] = "Lowercase"; }),
              HasSubstr("unsupported normalizer 'Lowercase'"));
  EXPECT_THAT(load_error(dir, [](json& j) { j["added_tokens"][0].erase("id"); }),
              HasSubstr("field 'added_tokens[0].id'"));
  EXPECT_THAT(load_error(dir, [](json& j) { j["post_processor"] = {{"type", "TemplateProcessing"}, {"single", json::array({json{{"SpecialToken", {{"id", "<s>"}}}}, json{{"Sequence", {{"id", "A"}}}}})}}; }),
              HasSubstr("'<s>' missing from special_tokens"));
}

TEST(Tokenizer, InvalidJsonAndMissingFilesNameTheFile) {
  TempDir dir;
  const std::string path = dir.write("tokenizer.json", "{\"model\": {\"type\": \"BPE\", ");
  try {
    Tokenizer::from_file(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(path));
    EXPECT_THAT(e.what(), HasSubstr("invalid JSON"));
  }
  EXPECT_THROW(Tokenizer::from_file(path + ".absent"), Error);
  EXPECT_THROW(Tokenizer::from_dir(path + ".absent"), Error);
}
