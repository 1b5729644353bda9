// `r1 launch --nproc N -- <r1 arguments>`: runs N local ranks of this r1 binary with the variables torchrun
// would set (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). Same job as
// `torchrun --nproc-per-node N --no-python r1 <arguments>`, for machines without torchrun.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "train/distributed/launch.h"

namespace r1::cli {

namespace {

struct LaunchArgs {
  int nproc = 2;
  std::string master_addr = "127.0.0.1";
  int master_port = 0;
  double grace = 5;
  std::vector<std::string> command;
};

}  // namespace

void register_launch(CLI::App& app) {
  auto a = std::make_shared<LaunchArgs>();
  auto* cmd = app.add_subcommand("launch", "Run an r1 command as N local data-parallel ranks (like torchrun)");
  cmd->add_option("--nproc", a->nproc, "Ranks to start (one per GPU for device: cuda)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--master-addr", a->master_addr, "Address of rank 0's store")->capture_default_str();
  cmd->add_option("--master-port", a->master_port, "Port of rank 0's store (0: a free one)")->capture_default_str();
  cmd->add_option("--grace", a->grace, "Seconds between SIGTERM and SIGKILL for the ranks left when one fails")
      ->capture_default_str();
  cmd->add_option("command", a->command, "The r1 subcommand and its arguments, after --")->required();
  cmd->footer("Example: r1 launch --nproc 2 -- sft config.yaml --run runs/sft2");
  cmd->callback([a] {
    dist::LaunchOptions o;
    o.nproc = a->nproc, o.master_addr = a->master_addr, o.master_port = a->master_port, o.grace_seconds = a->grace;
    std::vector<std::string> argv = {std::filesystem::read_symlink("/proc/self/exe").string()};
    argv.insert(argv.end(), a->command.begin(), a->command.end());
    const int status = dist::launch_local(argv, o);
    std::fflush(stdout);
    if (status != 0) std::exit(status);
  });
}

}  // namespace r1::cli
