#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace casehub::cli {

struct PluginCheckOptions {
    std::filesystem::path plugin;
    std::vector<std::string> set;  // key=value overrides of the plugin's configuration
    std::filesystem::path config_json;  // optional JSON file with the configuration
    double seconds = 3.0;
    bool json = false;
};

// Loads a plugin exactly as the host would, prints its descriptor and configuration schema,
// runs it against the SDK's fake host, validates every record it emits against
// casehub.record/1 and checks that it resumes from its cursor. Returns the exit code.
int run_plugin_check(const PluginCheckOptions& o);

}  // namespace casehub::cli
