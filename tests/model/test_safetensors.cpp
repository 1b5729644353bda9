// safetensors files: bit-exact round trips in every stored dtype, the byte layout HF writes, atomic
// replacement, and one test per malformed input, each asserting the error names the file and the culprit.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "model/safetensors.h"
#include "model_test_util.h"

using namespace r1;
using namespace r1::test;

namespace {

std::vector<float> normals(size_t n, uint64_t seed) {
  Philox rng(seed, 0);
  std::vector<float> v(n);
  for (auto& x : v) x = rng.normal();
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

// One valid F32 tensor "w" of 2 floats, for malformed variants of its header.
const std::string kData8(8, '\0');

}  // namespace

// ---- round trips ----

TEST(Safetensors, F32RoundTripIsBitExactIncludingSpecialValues) {
  TempDir d("f32");
  std::vector<float> a = normals(6, 1);
  uint32_t nan_bits = 0x7fc01234u;  // a NaN with a payload must survive untouched
  float nan;
  std::memcpy(&nan, &nan_bits, 4);
  std::vector<float> b = {-0.0f, INFINITY, -INFINITY, nan, 1e-45f /* subnormal */, 3.4028235e38f};
  write_safetensors(d.str("x.safetensors"), {{"a", DType::F32, {2, 3}, a.data()}, {"b", DType::F32, {6}, b.data()}},
                    {{"k", "v"}});
  const auto f = SafetensorsFile::open(d.str("x.safetensors"));
  std::vector<float> a2(6), b2(6);
  f.read_f32("a", {2, 3}, a2.data());
  f.read_f32("b", {6}, b2.data());
  EXPECT_TRUE(same_bits(a, a2));
  EXPECT_TRUE(same_bits(b, b2));
  EXPECT_EQ(f.metadata().at("k"), "v");
  EXPECT_EQ(f.entry("a").dtype, DType::F32);
  EXPECT_EQ(f.entry("a").shape, Shape({2, 3}));
}

TEST(Safetensors, Bf16AndF16RoundTripsAreBitExactForRepresentableValues) {
  TempDir d("half");
  std::vector<float> bf = normals(1000, 2), hf = normals(1000, 3);
  for (auto& x : bf) x = bf16_to_f32(f32_to_bf16(x * 1e3f));  // exactly representable in bf16
  for (auto& x : hf) x = f16_to_f32(f32_to_f16(x));           // and in f16
  bf.push_back(-0.0f), hf.push_back(65504.0f), hf.push_back(5.9604645e-08f /* smallest f16 subnormal */);
  write_safetensors(d.str("h.safetensors"), {{"bf", DType::BF16, {int64_t(bf.size())}, bf.data()},
                                             {"hf", DType::F16, {int64_t(hf.size())}, hf.data()}});
  const auto f = SafetensorsFile::open(d.str("h.safetensors"));
  std::vector<float> bf2(bf.size()), hf2(hf.size());
  f.read_f32("bf", {int64_t(bf.size())}, bf2.data());
  f.read_f32("hf", {int64_t(hf.size())}, hf2.data());
  EXPECT_TRUE(same_bits(bf, bf2));
  EXPECT_TRUE(same_bits(hf, hf2));
  EXPECT_EQ(f.entry("bf").bytes(), bf.size() * 2);
}

TEST(Safetensors, Bf16StorageRoundsToNearestEven) {
  TempDir d("rne");
  // 1 + 2^-8 lies exactly between two bf16 values (1 and 1 + 2^-7): ties go to the even mantissa, 1.
  // 1 + 3 * 2^-8 lies between 1 + 2^-7 and 1 + 2^-6: the even one is 1 + 2^-6.
  std::vector<float> x = {1.0f + 1.0f / 256, 1.0f + 3.0f / 256, 1.0f + 1.0f / 256 + 1.0f / 65536};
  write_safetensors(d.str("r.safetensors"), {{"x", DType::BF16, {3}, x.data()}});
  std::vector<float> y(3);
  SafetensorsFile::open(d.str("r.safetensors")).read_f32("x", {3}, y.data());
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], 1.0f + 1.0f / 64);
  EXPECT_EQ(y[2], 1.0f + 1.0f / 128);  // above the midpoint: rounds up
}

TEST(Safetensors, RewritingWhatWasReadGivesIdenticalBytes) {
  TempDir d("rewrite");
  std::vector<float> a = normals(12, 4), b = normals(5, 5);
  for (auto& x : b) x = bf16_to_f32(f32_to_bf16(x));
  const std::vector<TensorToWrite> t = {{"m.a", DType::F32, {3, 4}, a.data()}, {"m.b", DType::BF16, {5}, b.data()}};
  write_safetensors(d.str("1.safetensors"), t, {{"format", "pt"}});
  const auto f = SafetensorsFile::open(d.str("1.safetensors"));
  std::vector<float> a2(12), b2(5);
  f.read_f32("m.a", {3, 4}, a2.data());
  f.read_f32("m.b", {5}, b2.data());
  write_safetensors(d.str("2.safetensors"),
                    {{"m.a", DType::F32, {3, 4}, a2.data()}, {"m.b", DType::BF16, {5}, b2.data()}}, {{"format", "pt"}});
  EXPECT_EQ(read_bytes(d / "1.safetensors"), read_bytes(d / "2.safetensors"));
}

TEST(Safetensors, FileLayoutIsTheOneHuggingFaceWrites) {
  TempDir d("layout");
  std::vector<float> a = {1, 2, 3}, b = {4};
  write_safetensors(d.str("l.safetensors"), {{"z", DType::F32, {3}, a.data()}, {"a", DType::BF16, {1, 1}, b.data()}},
                    {{"format", "pt"}});
  const std::string bytes = read_bytes(d / "l.safetensors");
  uint64_t n = 0;
  for (int i = 0; i < 8; i++) n |= uint64_t(uint8_t(bytes[size_t(i)])) << (8 * i);
  EXPECT_EQ((8 + n) % 8, 0u);  // data section 8-byte aligned
  const std::string header = bytes.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_last_not_of(' '), header.rfind('}'));  // padded with spaces only
  const auto j = nlohmann::json::parse(header);
  EXPECT_EQ(j["__metadata__"]["format"], "pt");
  EXPECT_EQ(j["z"]["data_offsets"], nlohmann::json({0, 12}));  // in the order given
  EXPECT_EQ(j["a"]["data_offsets"], nlohmann::json({12, 14}));
  EXPECT_EQ(j["a"]["dtype"], "BF16");
  EXPECT_EQ(j["a"]["shape"], nlohmann::json({1, 1}));
  EXPECT_EQ(bytes.size(), 8 + n + 14);
  float first;
  std::memcpy(&first, bytes.data() + 8 + n, 4);
  EXPECT_EQ(first, 1.0f);                       // little-endian raw data right after the header
  EXPECT_EQ(uint8_t(bytes[8 + n + 12]), 0x80);  // bf16(4.0) = 0x4080, low byte first
  EXPECT_EQ(uint8_t(bytes[8 + n + 13]), 0x40);
}

TEST(Safetensors, WriterBytesEqualTheReferenceSerializer) {
  // The layouts huggingface/safetensors' own serializer produces for these inputs: compact JSON with dtype,
  // shape, data_offsets in that order, padded with spaces to a multiple of 8, then the raw data.
  TempDir d("ref");
  const auto with_len = [](const std::string& header) {
    std::string out(8, '\0');
    out[0] = char(header.size());
    return out + header;
  };
  std::vector<float> x = {0, 1, 2, 3, 4, 5};
  const std::string data(reinterpret_cast<const char*>(x.data()), 24);
  write_safetensors(d.str("a.safetensors"), {{"attn.0", DType::F32, {1, 2, 3}, x.data()}});
  EXPECT_EQ(read_bytes(d / "a.safetensors"),
            with_len(R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})") + data);  // 64: no pad
  write_safetensors(d.str("b.safetensors"), {{"attn0", DType::F32, {1, 1, 2, 3}, x.data()}});
  EXPECT_EQ(
      read_bytes(d / "b.safetensors"),
      with_len(R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})" + std::string(7, ' ')) + data);
  write_safetensors(d.str("c.safetensors"), {}, {{"framework", "pt"}});
  EXPECT_EQ(read_bytes(d / "c.safetensors"), with_len(R"({"__metadata__":{"framework":"pt"}})" + std::string(5, ' ')));
  write_safetensors(d.str("e.safetensors"), {});
  EXPECT_EQ(read_bytes(d / "e.safetensors"), with_len("{}      "));
}

TEST(Safetensors, EmptyAndZeroSizedTensorsRoundTrip) {
  TempDir d("empty");
  write_safetensors(d.str("e.safetensors"), {});
  EXPECT_TRUE(SafetensorsFile::open(d.str("e.safetensors")).entries().empty());
  std::vector<float> a = {5, 6};
  write_safetensors(d.str("z.safetensors"), {{"none", DType::F32, {0, 4}, nullptr}, {"a", DType::F32, {2}, a.data()}});
  const auto f = SafetensorsFile::open(d.str("z.safetensors"));
  EXPECT_EQ(f.entry("none").bytes(), 0u);
  std::vector<float> a2(2);
  f.read_f32("a", {2}, a2.data());
  EXPECT_EQ(a2, a);
}

TEST(Safetensors, MovedFileStaysReadable) {
  TempDir d("move");
  std::vector<float> a = {1, 2};
  write_safetensors(d.str("m.safetensors"), {{"a", DType::F32, {2}, a.data()}});
  auto f = SafetensorsFile::open(d.str("m.safetensors"));
  SafetensorsFile g = std::move(f);
  SafetensorsFile h = SafetensorsFile::open(d.str("m.safetensors"));
  h = std::move(g);
  std::vector<float> out(2);
  h.read_f32("a", {2}, out.data());
  EXPECT_EQ(out, a);
}

// ---- atomic writes ----

TEST(Safetensors, WriteReplacesAtomicallyAndLeavesNoTemporary) {
  TempDir d("atomic");
  std::vector<float> a = {1, 2}, b = {3, 4, 5};
  write_safetensors(d.str("w.safetensors"), {{"a", DType::F32, {2}, a.data()}});
  write_safetensors(d.str("w.safetensors"), {{"b", DType::F32, {3}, b.data()}});
  const auto f = SafetensorsFile::open(d.str("w.safetensors"));
  EXPECT_FALSE(f.has("a"));
  EXPECT_TRUE(f.has("b"));
  EXPECT_FALSE(fs::exists(d / "w.safetensors.tmp"));
}

TEST(Safetensors, FailedWriteLeavesThePreviousFileIntact) {
  TempDir d("fail");
  std::vector<float> small = {1, 2};
  write_safetensors(d.str("w.safetensors"), {{"a", DType::F32, {2}, small.data()}});
  const std::string before = read_bytes(d / "w.safetensors");
  // Make the write itself fail halfway: cap this process's file size (ignoring the signal that would kill it).
  std::vector<float> big(1 << 16, 1.0f);
  struct rlimit old {};
  getrlimit(RLIMIT_FSIZE, &old);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  struct rlimit cap = old;
  cap.rlim_cur = 4096;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &cap), 0);
  expect_error(
      [&] {
        write_safetensors(d.str("w.safetensors"), {{"big", DType::F32, {1 << 16}, big.data()}});
      },
      {"w.safetensors", "write failed", "left intact"});
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_EQ(read_bytes(d / "w.safetensors"), before);
  EXPECT_FALSE(fs::exists(d / "w.safetensors.tmp"));
}

TEST(Safetensors, WriterRejectsDuplicateAndReservedNames) {
  TempDir d("names");
  std::vector<float> a = {1};
  expect_error(
      [&] {
        write_safetensors(d.str("n.safetensors"), {{"a", DType::F32, {1}, a.data()}, {"a", DType::F32, {1}, a.data()}});
      },
      {"n.safetensors", "'a'", "twice"});
  expect_error(
      [&] {
        write_safetensors(d.str("n.safetensors"), {{"__metadata__", DType::F32, {1}, a.data()}});
      },
      {"n.safetensors", "'__metadata__'"});
  expect_error(
      [&] {
        write_safetensors(d.str("no/such/dir/n.safetensors"), {{"a", DType::F32, {1}, a.data()}});
      },
      {"n.safetensors", "cannot create"});
  EXPECT_FALSE(fs::exists(d / "n.safetensors"));
}

// ---- malformed files: one test per defect ----

TEST(Safetensors, MissingFileIsAnError) {
  TempDir d("missing");
  expect_error([&] { SafetensorsFile::open(d.str("absent.safetensors")); }, {"absent.safetensors", "cannot open"});
  expect_error([&] { SafetensorsFile::open(d.path().string()); }, {d.path().string(), "not a regular file"});
}

TEST(Safetensors, FileShorterThanTheLengthPrefixIsAnError) {
  TempDir d("trunc");
  write_bytes(d / "t.safetensors", "abc");
  expect_error([&] { SafetensorsFile::open(d.str("t.safetensors")); }, {"t.safetensors", "truncated", "3 bytes"});
  write_bytes(d / "e.safetensors", "");
  expect_error([&] { SafetensorsFile::open(d.str("e.safetensors")); }, {"e.safetensors", "truncated"});
}

TEST(Safetensors, HeaderLengthPastEndOfFileIsAnError) {
  TempDir d("hlen");
  const auto p = write_raw_safetensors(d / "h.safetensors", "{}", "", 1000);
  expect_error([&] { SafetensorsFile::open(p); }, {"h.safetensors", "header length 1000", "past the end"});
  // A header length that is a huge number (e.g. a foreign file's first 8 bytes) says the same, without allocating.
  write_bytes(d / "g.safetensors", std::string("GGUF\x03\x00\x00\x00rest of some other format", 33));
  expect_error([&] { SafetensorsFile::open(d.str("g.safetensors")); }, {"g.safetensors", "past the end"});
}

TEST(Safetensors, TruncatedDataSectionIsAnError) {
  TempDir d("cut");
  std::vector<float> a(16, 1.0f);
  write_safetensors(d.str("c.safetensors"), {{"a", DType::F32, {4, 4}, a.data()}});
  const std::string bytes = read_bytes(d / "c.safetensors");
  write_bytes(d / "c.safetensors", bytes.substr(0, bytes.size() - 5));  // an interrupted download
  expect_error([&] { SafetensorsFile::open(d.str("c.safetensors")); },
               {"c.safetensors", "'a'", "out of range", "truncated"});
}

TEST(Safetensors, InvalidHeaderJsonIsAnError) {
  TempDir d("json");
  const auto p = write_raw_safetensors(d / "j.safetensors", "{\"a\": [", "");
  expect_error([&] { SafetensorsFile::open(p); }, {"j.safetensors", "invalid header JSON"});
}

TEST(Safetensors, HeaderThatIsNotAnObjectIsAnError) {
  TempDir d("notobj");
  const auto p = write_raw_safetensors(d / "a.safetensors", "[1, 2]", "");
  expect_error([&] { SafetensorsFile::open(p); }, {"a.safetensors", "not a JSON object"});
}

TEST(Safetensors, NonObjectEntryIsAnError) {
  TempDir d("entry");
  const auto p = write_raw_safetensors(d / "e.safetensors", R"({"w": [0, 8]})", kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"e.safetensors", "tensor 'w'", "not an object"});
}

TEST(Safetensors, EntryMissingAKeyIsAnError) {
  TempDir d("keys");
  auto p = write_raw_safetensors(d / "k.safetensors", R"({"w":{"shape":[2],"data_offsets":[0,8]}})", kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"k.safetensors", "tensor 'w'", "missing dtype"});
  p = write_raw_safetensors(d / "k.safetensors", R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"k.safetensors", "tensor 'w'", "missing shape"});
  p = write_raw_safetensors(d / "k.safetensors", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"k.safetensors", "tensor 'w'", "data_offsets"});
}

TEST(Safetensors, UnknownDtypeIsAnError) {
  TempDir d("dtype");
  auto p = write_raw_safetensors(d / "d.safetensors", R"({"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,2]}})",
                                 std::string(2, '\0'));
  expect_error([&] { SafetensorsFile::open(p); },
               {"d.safetensors", "tensor 'w'", "unknown dtype 'Q4_K'", "F32, BF16, F16"});
  p = write_raw_safetensors(d / "d.safetensors", R"({"w":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}})",
                            std::string(2, '\0'));
  expect_error([&] { SafetensorsFile::open(p); }, {"d.safetensors", "tensor 'w'", "'F8_E4M3' is not supported"});
}

TEST(Safetensors, NegativeOrNonIntegerShapeIsAnError) {
  TempDir d("shape");
  auto p =
      write_raw_safetensors(d / "s.safetensors", R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"s.safetensors", "tensor 'w'", "non-negative integers"});
  p = write_raw_safetensors(d / "s.safetensors", R"({"w":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"s.safetensors", "tensor 'w'", "non-negative integers"});
  p = write_raw_safetensors(d / "s.safetensors", R"({"w":{"dtype":"F32","shape":[1,1,1,1,2],"data_offsets":[0,8]}})",
                            kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"s.safetensors", "tensor 'w'", "5 dimensions"});
  // A product that overflows 64 bits must not wrap around to a small, plausible size.
  p = write_raw_safetensors(d / "s.safetensors",
                            R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,8]}})", kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"s.safetensors", "tensor 'w'", "overflows"});
}

TEST(Safetensors, ShapeSizeMismatchIsAnError) {
  TempDir d("size");
  const auto p =
      write_raw_safetensors(d / "s.safetensors", R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"s.safetensors", "tensor 'w'", "[3]", "needs 12 bytes", "span 8"});
}

TEST(Safetensors, OffsetsOutOfRangeAreAnError) {
  TempDir d("range");
  const auto p =
      write_raw_safetensors(d / "r.safetensors", R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", kData8);
  expect_error([&] { SafetensorsFile::open(p); },
               {"r.safetensors", "tensor 'w'", "[0, 16)", "out of range", "8 bytes"});
}

TEST(Safetensors, OffsetsEndingBeforeTheyBeginAreAnError) {
  TempDir d("order");
  const auto p =
      write_raw_safetensors(d / "o.safetensors", R"({"w":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"o.safetensors", "tensor 'w'", "end before"});
  const auto q =
      write_raw_safetensors(d / "n.safetensors", R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-1,8]}})", kData8);
  expect_error([&] { SafetensorsFile::open(q); }, {"n.safetensors", "tensor 'w'", "non-negative"});
}

TEST(Safetensors, OverlappingTensorsAreAnError) {
  TempDir d("overlap");
  auto p = write_raw_safetensors(
      d / "o.safetensors",
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      std::string(12, '\0'));
  expect_error([&] { SafetensorsFile::open(p); }, {"o.safetensors", "tensor 'b'", "overlap tensor 'a'"});
  // Two tensors aliasing the same bytes.
  p = write_raw_safetensors(
      d / "o.safetensors",
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
      kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"o.safetensors", "overlap"});
  // A tensor nested inside a larger one, not adjacent to it in offset order.
  p = write_raw_safetensors(
      d / "o.safetensors",
      R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},
          "c":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
      std::string(16, '\0'));
  expect_error([&] { SafetensorsFile::open(p); }, {"o.safetensors", "overlap tensor 'a'"});
}

TEST(Safetensors, GapsAndTrailingBytesInTheDataAreAnError) {
  TempDir d("gap");
  auto p = write_raw_safetensors(
      d / "g.safetensors",
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
      std::string(12, '\0'));
  expect_error([&] { SafetensorsFile::open(p); }, {"g.safetensors", "tensor 'b'", "gap of 4 bytes", "'a'"});
  p = write_raw_safetensors(d / "g.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"g.safetensors", "tensor 'a'", "gap", "header"});
  p = write_raw_safetensors(d / "g.safetensors", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"g.safetensors", "last 4 bytes", "no tensor"});
}

TEST(Safetensors, DuplicateTensorNameIsAnError) {
  TempDir d("dup");
  const auto p = write_raw_safetensors(
      d / "d.safetensors",
      R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
      kData8);
  expect_error([&] { SafetensorsFile::open(p); }, {"d.safetensors", "tensor 'w'", "twice"});
}

TEST(Safetensors, NonStringMetadataIsAnError) {
  TempDir d("meta");
  auto p = write_raw_safetensors(d / "m.safetensors", R"({"__metadata__":{"step":5}})", "");
  expect_error([&] { SafetensorsFile::open(p); }, {"m.safetensors", "field '__metadata__.step'", "string"});
  p = write_raw_safetensors(d / "m.safetensors", R"({"__metadata__":"pt"})", "");
  expect_error([&] { SafetensorsFile::open(p); }, {"m.safetensors", "field '__metadata__'"});
}

TEST(Safetensors, WrongShapeOrMissingTensorOnReadIsAnError) {
  TempDir d("read");
  std::vector<float> a(6, 1.0f);
  write_safetensors(d.str("x.safetensors"), {{"a", DType::F32, {2, 3}, a.data()}});
  const auto f = SafetensorsFile::open(d.str("x.safetensors"));
  expect_error(
      [&] {
        f.read_f32("a", {3, 2}, a.data());
      },
      {"x.safetensors", "tensor 'a'", "[2, 3]", "expected [3, 2]"});
  expect_error([&] { f.read_f32("b", {6}, a.data()); }, {"x.safetensors", "tensor 'b'", "missing"});
}
