// The casehub tool's feed commands alone, wired exactly as host/cli/main.cpp wires them, so the
// feed tests can run them as a process without the rest of the tool.
#include "cli/feed_commands.hpp"

#include <CLI/CLI.hpp>

int main(int argc, char** argv) {
    CLI::App app{"casehub (feed commands only, for tests)"};
    app.require_subcommand(1);
    std::string config = "config/casehub.toml";
    app.add_option("-c,--config", config, "hub configuration (TOML)");
    auto feed = casehub::cli::add_feed_commands(app, config);
    CLI11_PARSE(app, argc, argv);
    if (feed->parsed()) return feed->run();
    return 64;
}
