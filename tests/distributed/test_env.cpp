// Bootstrap from the launchers' variables: torchrun, mpirun, Slurm, none; errors name the variable.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/error.h"
#include "support/error_of.h"
#include "train/distributed/env.h"

namespace r1::dist {
namespace {

DistEnv parse(const std::map<std::string, std::string>& vars) {
  return parse_dist_env([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

std::string error_of(const std::map<std::string, std::string>& vars) {
  return test::error_of([&] { parse(vars); });
}

TEST(DistEnv, NoLauncherVariablesMeansOneProcess) {
  const DistEnv e = parse({});
  EXPECT_EQ(e.rank, 0);
  EXPECT_EQ(e.world_size, 1);
  EXPECT_EQ(e.launcher, "none");
}

TEST(DistEnv, ReadsTorchrunVariables) {
  const DistEnv e = parse({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"LOCAL_WORLD_SIZE", "2"},
                           {"MASTER_ADDR", "node0"}, {"MASTER_PORT", "29400"}, {"R1_DIST_TIMEOUT", "2.5"}});
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 2);
  EXPECT_EQ(e.master_addr, "node0");
  EXPECT_EQ(e.master_port, 29400);
  EXPECT_EQ(e.store(), 29400);  // r1 launch, or torchrun without its agent's store
  EXPECT_DOUBLE_EQ(e.timeout_seconds, 2.5);
  EXPECT_EQ(e.launcher, "torchrun");
}

// torchrun's elastic agent serves its own c10d store on MASTER_PORT (seen on the 2-GPU machine: rank 0 could not
// listen there, "Address already in use"), so ours moves one port up; R1_STORE_PORT picks another by hand.
TEST(DistEnv, UnderTorchrunsAgentStoreOursTakesTheNextPort) {
  const std::map<std::string, std::string> torchrun = {{"RANK", "1"},        {"WORLD_SIZE", "2"},
                                                       {"MASTER_ADDR", "h"}, {"MASTER_PORT", "29400"},
                                                       {"TORCHELASTIC_USE_AGENT_STORE", "True"}};
  const DistEnv e = parse(torchrun);
  EXPECT_EQ(e.master_port, 29400);
  EXPECT_EQ(e.store(), 29401);
  auto with_override = torchrun;
  with_override["R1_STORE_PORT"] = "31000";
  EXPECT_EQ(parse(with_override).store(), 31000);
  with_override["R1_STORE_PORT"] = "0";
  EXPECT_THROW(parse(with_override), Error);
  DistEnv built;  // set in code (tests, r1 launch): the store follows MASTER_PORT
  built.master_port = 1234;
  EXPECT_EQ(built.store(), 1234);
  auto at_top = torchrun;
  at_top["MASTER_PORT"] = "65535";
  EXPECT_EQ(parse(at_top).store(), 65534);
}

TEST(DistEnv, ReadsOpenMpiAndSlurmVariables) {
  const DistEnv m = parse({{"OMPI_COMM_WORLD_RANK", "1"}, {"OMPI_COMM_WORLD_SIZE", "4"},
                           {"OMPI_COMM_WORLD_LOCAL_RANK", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1234"}});
  EXPECT_EQ(m.launcher, "mpirun");
  EXPECT_EQ(m.rank, 1);
  EXPECT_EQ(m.world_size, 4);
  const DistEnv s = parse({{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "6"}, {"SLURM_LOCALID", "1"},
                           {"SLURM_NTASKS_PER_NODE", "3(x2)"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1234"}});
  EXPECT_EQ(s.launcher, "slurm");
  EXPECT_EQ(s.rank, 5);
  EXPECT_EQ(s.local_rank, 1);
}

TEST(DistEnv, TorchrunVariablesWinOverSlurms) {
  const DistEnv e = parse({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"SLURM_PROCID", "7"}, {"SLURM_NTASKS", "9"},
                           {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
  EXPECT_EQ(e.launcher, "torchrun");
  EXPECT_EQ(e.world_size, 2);
}

TEST(DistEnv, ErrorsNameTheVariable) {
  EXPECT_NE(error_of({{"RANK", "x"}, {"WORLD_SIZE", "2"}}).find("RANK: 'x' is not an integer"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}})
                .find("RANK: 2 is not below WORLD_SIZE (2)"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}}).find("WORLD_SIZE: not set"), std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR: not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}).find("MASTER_PORT: not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"MASTER_PORT", "70000"}}).find("MASTER_PORT: 70000 is outside"), std::string::npos);
  EXPECT_NE(error_of({{"R1_DIST_TIMEOUT", "-1"}}).find("R1_DIST_TIMEOUT"), std::string::npos);
  EXPECT_NE(error_of({{"OMPI_COMM_WORLD_RANK", "0"}, {"OMPI_COMM_WORLD_SIZE", "0"}}).find("OMPI_COMM_WORLD_SIZE: 0"),
            std::string::npos);
}

}  // namespace
}  // namespace r1::dist
