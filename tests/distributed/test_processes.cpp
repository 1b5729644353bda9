// Real processes, bootstrapped the way torchrun starts them (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT): data
// parallel pretraining equals one process, and a rank that dies, hangs or never starts makes the others fail
// with an error naming it within the timeout. DistWorker.* run only inside the spawned ranks.
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "dist_test_util.h"
#include "tiny_model.h"
#include "train/pretrain.h"

namespace r1 {
namespace {

PretrainOptions small_run() {
  PretrainOptions o;
  o.steps = 3;
  o.batch_tokens = 200;
  o.schedule = {LrSchedule::Kind::Constant, 3e-3f, 0, 3, 0.1f};
  o.eval_every = 0;
  return o;
}

void write_text(const test::fs::path& p, const std::string& s) { std::ofstream(p) << s; }
std::string read_text(const test::fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST(DistWorker, Pretrain) {
  R1_DIST_WORKER_ONLY();
  dist::Communicator& comm = dist::world(Device::CPU);
  auto m = test::tiny_model();
  PretrainOptions o = small_run();
  o.comm = &comm;
  pretrain(*m, test::random_docs(48, 4), {}, o, nullptr);
  if (comm.rank() == 0) test::write_floats(test::worker_out() / "params.bin", m->params(), size_t(m->num_params()));
}

// The parameters DistWorker.Pretrain's rank 0 wrote to `out` equal one process's training.
void expect_params_of_one_process(const test::fs::path& out) {
  auto ref = test::tiny_model();
  pretrain(*ref, test::random_docs(48, 4), {}, small_run(), nullptr);
  const auto got = test::read_floats(out / "params.bin");
  ASSERT_EQ(int64_t(got.size()), ref->num_params());
  double diff = 0;
  for (size_t i = 0; i < got.size(); i++) diff = std::max(diff, double(std::abs(got[i] - ref->params()[i])));
  EXPECT_LE(diff, 1e-5);
}

TEST(DistProcesses, TorchrunStyleTwoRankPretrainEqualsOneProcess) {
  const auto out = test::scratch_dir("pretrain");
  const auto res = test::spawn_ranks("Pretrain", 2, out);
  for (const auto& r : res) ASSERT_EQ(r.status, 0) << r.log;
  expect_params_of_one_process(out);
  test::fs::remove_all(out);
}

// torchrun's elastic agent serves its own store on MASTER_PORT and tells its workers so
// (TORCHELASTIC_USE_AGENT_STORE=True): here this test holds the port the way the agent does, and the ranks must
// still meet (on the next port) and train as one process.
TEST(DistProcesses, UnderTorchrunsAgentStoreTheRanksMeetOnTheNextPort) {
  const auto out = test::scratch_dir("agent_store");
  int agent = -1, port = 0;
  for (int attempt = 0; attempt < 20 && agent < 0; attempt++) {
    port = test::free_port();
    if (port >= 65535 || !test::port_is_free(port + 1)) continue;
    agent = test::listen_on(port);
  }
  ASSERT_GE(agent, 0) << "no pair of free ports";
  const auto res = test::spawn_ranks("Pretrain", 2, out,
                                     {{"MASTER_PORT", std::to_string(port)}, {"TORCHELASTIC_USE_AGENT_STORE", "True"}});
  ::close(agent);
  for (const auto& r : res) ASSERT_EQ(r.status, 0) << r.log;
  expect_params_of_one_process(out);
  test::fs::remove_all(out);
}

// Rank 1 joins, then dies; rank 0's next collective must fail naming it.
TEST(DistWorker, DeadRank) {
  R1_DIST_WORKER_ONLY();
  dist::Communicator& comm = dist::world(Device::CPU);
  comm.barrier();
  if (comm.rank() == 1) std::_Exit(3);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::vector<float> x(1000, 1.0f);
  try {
    comm.all_reduce_sum(x.data(), 1000);
    comm.all_reduce_sum(x.data(), 1000);
  } catch (const Error& e) {
    write_text(test::worker_out() / "error.txt", e.what());
    std::_Exit(0);  // the peer is gone: skip the orderly teardown of the mesh
  }
  std::_Exit(4);
}

TEST(DistProcesses, DeadRankMakesTheOthersFailNamingIt) {
  const auto out = test::scratch_dir("dead");
  const auto res = test::spawn_ranks("DeadRank", 2, out, {{"R1_DIST_TIMEOUT", "5"}}, {}, 20);
  EXPECT_EQ(res[1].status, 3);
  EXPECT_EQ(res[0].status, 0) << res[0].log;
  EXPECT_LT(res[0].seconds, 6.0);
  const std::string msg = read_text(out / "error.txt");
  EXPECT_NE(msg.find("rank 0 of 2: all_reduce failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("rank 1 exited"), std::string::npos) << msg;
  test::fs::remove_all(out);
}

// Rank 1 joins, then stops taking part without exiting; rank 0 gives up after R1_DIST_TIMEOUT.
TEST(DistWorker, HungRank) {
  R1_DIST_WORKER_ONLY();
  dist::Communicator& comm = dist::world(Device::CPU);
  comm.barrier();
  if (comm.rank() == 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2500));
    std::_Exit(0);
  }
  std::vector<float> x(10, 1.0f);
  const auto t0 = std::chrono::steady_clock::now();
  try {
    comm.all_reduce_sum(x.data(), 10);
  } catch (const Error& e) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    write_text(test::worker_out() / "error.txt", std::string(e.what()) + "\nafter " + std::to_string(s));
    std::_Exit(s < 2.0 ? 0 : 5);
  }
  std::_Exit(4);
}

TEST(DistProcesses, HungRankIsATimeoutErrorNotAHang) {
  const auto out = test::scratch_dir("hung");
  const auto res = test::spawn_ranks("HungRank", 2, out, {{"R1_DIST_TIMEOUT", "1"}}, {}, 20);
  const std::string msg = read_text(out / "error.txt");
  EXPECT_EQ(res[0].status, 0) << res[0].log << msg;
  EXPECT_NE(msg.find("timeout 1 s"), std::string::npos) << msg;
  EXPECT_NE(msg.find("hung"), std::string::npos) << msg;
  test::fs::remove_all(out);
}

// Only rank 0 of 2 starts: the bootstrap names the missing rank after the timeout.
TEST(DistWorker, MissingRank) {
  R1_DIST_WORKER_ONLY();
  try {
    dist::world(Device::CPU);
  } catch (const Error& e) {
    write_text(test::worker_out() / "error.txt", e.what());
    std::_Exit(0);
  }
  std::_Exit(4);
}

TEST(DistProcesses, MissingRankIsNamedAtBootstrap) {
  const auto out = test::scratch_dir("missing");
  const auto res = test::spawn_ranks("MissingRank", 2, out, {{"R1_DIST_TIMEOUT", "1"}}, {0}, 20);
  EXPECT_EQ(res[0].status, 0) << res[0].log;
  EXPECT_LT(res[0].seconds, 5.0);
  const std::string msg = read_text(out / "error.txt");
  EXPECT_NE(msg.find("rank 1 of 2 did not join within 1 s"), std::string::npos) << msg;
  test::fs::remove_all(out);
}

}  // namespace
}  // namespace r1
