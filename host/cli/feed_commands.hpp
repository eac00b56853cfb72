// The feed's consumers in the casehub tool (docs/feed-protocol.md):
//   casehub feed tail [--from SEQ] [--street CODE] [--community ..] [--grid ..] [--family ..]
//                     [--status ..] [--json] [--count N] [--timeout S]
//   casehub export --format jsonl [--since SEQ] [--timeout-ms MS]
//   casehub cases show <case_id> [--json] [--timeout-ms MS]
// Endpoints come from [hub] feed_endpoint / snapshot_endpoint of the configuration.
//
// Exit codes: 0 done, 1 not found / incomplete (--count not reached, unreadable case
// document), 2 configuration or usage error, 3 casehubd not answering.
//
// Use from main():
//   auto feed = casehub::cli::add_feed_commands(app, config);   // before CLI11_PARSE
//   if (feed->parsed()) return feed->run();                     // after CLI11_PARSE
#pragma once

#include <memory>
#include <string>

namespace CLI {
class App;
}

namespace casehub::cli {

class FeedCommands {
public:
    virtual ~FeedCommands() = default;
    // After parsing: one of these commands was chosen.
    virtual bool parsed() const = 0;
    // Runs the chosen command; returns the process exit code.
    virtual int run() const = 0;
};

// Adds `feed tail`, `export` and `cases show` to `app`. `config_path` is read when the command
// runs (so it may be an option of `app` filled in by parsing); it must outlive the result.
std::unique_ptr<FeedCommands> add_feed_commands(CLI::App& app, const std::string& config_path);

}  // namespace casehub::cli
