// Each `r1` subcommand lives in its own file and registers itself here. The CLI stays thin: it parses
// arguments and calls libr1, nothing more.
#pragma once
#include <CLI/CLI.hpp>

namespace r1::cli {

void register_info(CLI::App& app);

}  // namespace r1::cli
