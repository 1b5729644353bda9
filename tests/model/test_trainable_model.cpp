// The device registry: the CPU model is always there, a device name is checked, and asking for a device this
// build lacks is an error that says what is missing (not a crash or a silent CPU fallback).
#include <gtest/gtest.h>

#include <unistd.h>

#include <string>

#include "core/error.h"
#include "model/checkpoint_io.h"
#include "model/config.h"
#include "model/trainable_model.h"
#include "model/transformer.h"

using namespace r1;

TEST(TrainableModel, DeviceNamesParseAndUnknownOnesNameTheField) {
  EXPECT_EQ(parse_device("cpu", "x"), Device::CPU);
  EXPECT_EQ(parse_device("cuda", "x"), Device::CUDA);
  EXPECT_STREQ(device_name(Device::CUDA), "cuda");
  try {
    parse_device("tpu", "run.yaml: field 'device'");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("run.yaml: field 'device'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tpu"), std::string::npos) << e.what();
  }
}

TEST(TrainableModel, CpuModelIsTheTransformerAndOptimizerRangesAreChecked) {
  const ModelConfig c = builtin_model_config("tiny");
  auto m = make_model(c, Device::CPU);
  ASSERT_NE(dynamic_cast<Transformer*>(m.get()), nullptr);
  EXPECT_EQ(m->device(), Device::CPU);
  EXPECT_EQ(m->host_params(), m->device_params());  // the CPU's host view IS the live buffer
  const int64_t n = m->num_params();
  m->init_optimizer_state(n / 2, n);
  AdamWUpdate u;
  EXPECT_THROW(m->adamw(u, 0, n), Error);  // outside the moments' range: a shard cannot touch another's
  EXPECT_NO_THROW(m->adamw(u, n / 2, n));
  EXPECT_THROW(m->grad_sum_squares(0, n + 1), Error);
}

#if !R1_WITH_CUDA
TEST(TrainableModel, CudaOnACpuOnlyBuildSaysTheBackendIsMissing) {
  try {
    make_model(builtin_model_config("tiny"), Device::CUDA);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("built without"), std::string::npos) << e.what();
  }
}
#endif

TEST(TrainableModel, LoadModelReadsTheDirectorysWeights) {
  const ModelConfig c = builtin_model_config("tiny");
  Transformer src(c);
  init_params(c, src.layout(), src.params(), 11);
  const std::string dir = ::testing::TempDir() + "r1_trainable_model_" + std::to_string(::getpid());
  save_hf_checkpoint(dir, c, src.layout(), src.params());
  const auto m = load_model(dir, Device::CPU);
  for (int64_t i = 0; i < m->num_params(); i++) ASSERT_EQ(m->host_params()[i], src.params()[i]) << i;
}
