#include <cstdio>

#include "cli/commands.h"

namespace r1::cli {

void register_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Describe a model: family, parameter count, memory plan");
  auto* model = new std::string("tiny");
  cmd->add_option("model", *model, "Model directory (HF config.json + safetensors) or built-in name: tiny");
  cmd->callback([model] { std::printf("model: %s\n", model->c_str()); });
}

}  // namespace r1::cli
