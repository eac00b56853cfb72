#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace casehub::cli {

// `casehub geo locate <x> <y> [--crs CRS]` and `casehub geo geocode "<address>"`: what the hub
// would decide for a location, and why (which entry, which polygon), for the IT staff who tune
// the gazetteer in config/ (read at each run; no rebuild).
void add_geo_commands(CLI::App& app, const std::string& config_path, std::function<int()>& run);

}  // namespace casehub::cli
