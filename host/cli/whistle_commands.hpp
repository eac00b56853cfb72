#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace casehub::cli {

// `casehub whistle open|sign|contact|report|rate|resolve|rewhistle|list` (街道吹哨、部门报到) and
// `casehub clock [set AT]`: requests to casehubd's command centre (docs/command-center.md).
void add_whistle_commands(CLI::App& app, const std::string& config_path, std::function<int()>& run);

}  // namespace casehub::cli
