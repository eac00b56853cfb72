#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace casehub::cli {

// `casehub report monthly 2019-03 [--format json|csv|html] [--out FILE]` and
// `casehub report annual 2019`: the district's whistle report, built by casehubd from its store.
void add_report_commands(CLI::App& app, const std::string& config_path, std::function<int()>& run);

}  // namespace casehub::cli
