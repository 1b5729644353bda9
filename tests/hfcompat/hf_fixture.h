// The Hugging Face reference fixtures written by bench/hf_compat/make_fixtures.py (tests/fixtures/hf): the
// manifest (sequences, loss masks, loss, the config values transformers saved), the batches they mean for our
// engine, the error metrics the parity tests apply, and a scratch directory helper.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "model/transformer.h"

namespace r1::test {

namespace fs = std::filesystem;

// The models make_fixtures.py builds; the manifest must list every one of them, except those of
// hf_fixture_may_be_absent.
inline const std::vector<std::string>& hf_fixture_names() {
  static const std::vector<std::string> kNames = {"qwen2_tied", "qwen2_untied", "llama3_hd128", "llama3_bias"};
  return kNames;
}

// Models added to make_fixtures.py after the committed fixtures were generated: a manifest without them skips
// their tests (until make_fixtures.py is re-run on the GPU machine) instead of failing.
inline bool hf_fixture_may_be_absent(const std::string& name) { return name == "llama3_bias"; }

// tests/fixtures/hf, or $R1_HF_FIXTURES (to check freshly generated fixtures before they are unpacked there).
inline fs::path hf_fixture_root() {
  const char* env = std::getenv("R1_HF_FIXTURES");
  return env && *env ? fs::path(env) : fs::path(R1_FIXTURES_DIR) / "hf";
}

struct HfFixture {
  std::string name;
  fs::path dir;                  // a Hugging Face model directory (+ reference.safetensors, grads.safetensors)
  nlohmann::json config_expect;  // what transformers was configured with
  std::vector<std::vector<int32_t>> sequences;
  std::vector<std::vector<uint8_t>> loss_masks;  // mask[i] selects the target tokens[i + 1]
  double loss = 0;                               // transformers' mean cross-entropy over the masked targets
  int num_loss_targets = 0;
  float temperature = 1;
  std::vector<std::string> grad_names;

  int num_tokens() const {
    int n = 0;
    for (const auto& s : sequences) n += int(s.size());
    return n;
  }
  // Every next token is a target: for logprobs/entropy at every position that has one.
  PackedBatch all_targets_batch() const {
    PackedBatch b;
    for (const auto& s : sequences) b.add_sequence(s);
    return b;
  }
  // The targets of the reference loss.
  PackedBatch loss_batch() const {
    PackedBatch b;
    for (size_t i = 0; i < sequences.size(); i++) b.add_sequence(sequences[i], loss_masks[i]);
    return b;
  }
};

// The fixture `name` from tests/fixtures/hf/manifest.json; nullopt when no manifest exists yet (generated on the
// GPU machine). A manifest without `name` fails the calling test.
inline std::optional<HfFixture> load_hf_fixture(const std::string& name) {
  const fs::path manifest = hf_fixture_root() / "manifest.json";
  if (!fs::exists(manifest)) return std::nullopt;
  std::ifstream in(manifest);
  const nlohmann::json j = nlohmann::json::parse(in);
  for (const auto& m : j.at("models")) {
    if (m.at("name").get<std::string>() != name) continue;
    HfFixture f;
    f.name = name;
    f.dir = hf_fixture_root() / m.at("dir").get<std::string>();
    f.config_expect = m.at("config_expect");
    f.sequences = m.at("sequences").get<std::vector<std::vector<int32_t>>>();
    for (const auto& mask : m.at("loss_masks")) f.loss_masks.push_back(mask.get<std::vector<uint8_t>>());
    f.loss = m.at("loss").get<double>();
    f.num_loss_targets = m.at("num_loss_targets").get<int>();
    f.temperature = j.at("temperature").get<float>();
    f.grad_names = m.at("grad_names").get<std::vector<std::string>>();
    return f;
  }
  if (hf_fixture_may_be_absent(name)) {
    std::printf("[ fixture ] %s lists no model '%s' yet: regenerate it with make_fixtures.py\n",
                manifest.string().c_str(), name.c_str());
    return std::nullopt;
  }
  ADD_FAILURE() << manifest << " lists no model '" << name << "': regenerate it with make_fixtures.py";
  return std::nullopt;
}

// Max-abs error relative to the reference's largest magnitude: max_i |a_i - r_i| / max_i |r_i|. Element-wise
// relative errors are meaningless for values near zero (a logit of 1e-6); this is the scale-aware version.
inline double max_abs_rel(const float* a, const float* ref, size_t n, const uint8_t* select = nullptr) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < n; i++) {
    if (select && !select[i]) continue;
    diff = std::max(diff, std::fabs(double(a[i]) - double(ref[i])));
    scale = std::max(scale, std::fabs(double(ref[i])));
  }
  return scale > 0 ? diff / scale : diff;
}

// ||a - r||_2 / max(||r||_2, floor): the relative L2 error of a whole tensor. `floor` keeps a tensor whose
// reference gradient is (nearly) zero from dividing by nothing; callers pass a small fraction of the global norm.
inline double rel_l2(const float* a, const float* ref, size_t n, double floor) {
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < n; i++) {
    const double d = double(a[i]) - double(ref[i]);
    d2 += d * d;
    r2 += double(ref[i]) * double(ref[i]);
  }
  return std::sqrt(d2) / std::max(std::sqrt(r2), floor);
}

// A fresh directory, removed when the test ends.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& tag) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string test = info ? info->name() : "x";
    std::replace(test.begin(), test.end(), '/', '_');
    path_ = fs::temp_directory_path() / ("r1_hfcompat_" + test + "_" + tag + "_" + std::to_string(::getpid()));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

inline std::string read_file_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

}  // namespace r1::test
