#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace casehub::cli {

// `casehub cases action <case_id> <accept|dispatch|start|resolve|verify|close|reopen|return>`: a
// command-centre action on a case, routed by the hub as write-back to the source systems that own
// its records; `cases merge` and `cases split`, routed the same way. Needs the
// `cases` subcommand to exist already (add_feed_commands creates it).
void add_case_commands(CLI::App& app, const std::string& config_path, std::function<int()>& run);

}  // namespace casehub::cli
