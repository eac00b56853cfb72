#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace casehub::cli {

// `casehub deadletters list|show|replay|purge`. Returns the command's exit code through
// `run` once CLI11 has parsed (set only when one of these subcommands was chosen).
void add_deadletter_commands(CLI::App& app, const std::string& config_path, std::function<int()>& run);

}  // namespace casehub::cli
