// The hub's configuration file (config/casehub.toml), parsed with toml++ and fully validated.
//
// Every error is one line naming the file, line (and column when known) and the key path:
//   config/casehub.toml:14:1: adapters[2].plugin: expected a string, got an integer
// The position is that of the offending key (or of the table, for a key that is missing).
// Array indices in key paths are 0-based: adapters[0] is the first [[adapters]] table.
//
// Sections and keys (see config/casehub.toml for the commented default). Every section and
// key is optional and has the default shown there, except each adapter's `id` and `plugin`.
// Unknown keys anywhere are errors (typos must not be silently ignored), except inside an
// adapter's `config` table: that is passed to the plugin and checked against the plugin's own
// schema later (config/config_schema.hpp), not here.
//
// Paths:
//   hub.data_dir      relative to the directory of the config file.
//                     Environment: CASEHUB_DATA_DIR, when set and not empty, overrides
//                     hub.data_dir (a relative value is taken relative to the current directory).
//   hub.store         relative to data_dir.
//   hub.plugin_path   each entry relative to the config file's directory.
//   hub.runner        relative to the config file's directory; empty: next to casehubd.
//   hub.*_endpoint    "ipc://PATH" or "tcp://HOST:PORT". "{data_dir}" in it expands to the
//                     (absolute) data_dir; a relative ipc path is taken relative to the config
//                     file's directory; an ipc path must fit a Unix socket address (107 bytes);
//                     "ipc://@name" (Linux abstract socket) is kept as is.
// All resolved paths are absolute and lexically normal. Nothing here touches the filesystem
// except load_hub_config (reads the file) and resolve_plugin (looks for the plugin).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"
#include "correlate/settings.hpp"

namespace casehub::host {

// SQLite's `PRAGMA synchronous` for the store.
enum class Synchronous { full, normal };
std::string_view to_string(Synchronous s);  // "full" | "normal"

struct HubSection {                            // [hub]
    std::filesystem::path data_dir;            // data_dir, resolved (or CASEHUB_DATA_DIR)
    bool data_dir_from_env = false;            // true when CASEHUB_DATA_DIR set it
    std::filesystem::path store;               // store, resolved against data_dir
    Synchronous synchronous = Synchronous::full;
    std::string intake_endpoint;               // expanded: "ipc:///abs/path" or "tcp://host:port"
    std::string control_endpoint;              // expanded likewise
    std::string feed_endpoint;                 // the live feed (PUB); expanded likewise
    std::string snapshot_endpoint;             // snapshot / replay requests (ROUTER); likewise
    int feed_hwm = 10000;                      // events queued per feed subscriber; beyond, the
                                               //   subscriber misses them and replays
    std::filesystem::path reference_dir;       // the district's reference data (categories.json...)
    std::vector<std::string> systems;          // source systems beyond the six built-in ones
    std::vector<std::filesystem::path> plugin_path;  // resolved, in search order
    std::filesystem::path runner;              // resolved; empty: next to casehubd
    std::string log_level = "info";            // trace|debug|info|warn|error|critical|off
};

struct SupervisorSection {                                   // [supervisor]  (TOML key)
    std::chrono::milliseconds backoff_initial{1000};         // backoff_initial_ms
    std::chrono::milliseconds backoff_max{30000};            // backoff_max_ms
    std::chrono::milliseconds healthy_after{60000};          // healthy_after_ms
    int max_fast_crashes = 5;                                // max_fast_crashes (0 = never fail)
    std::chrono::milliseconds heartbeat{1000};               // heartbeat_ms
    std::chrono::milliseconds hang_timeout{10000};           // hang_timeout_ms
    std::chrono::milliseconds stop_timeout{5000};            // stop_timeout_ms
};

struct FlowSection {                                         // [flow]  (TOML key)
    std::int64_t credit_records = 2000;                      // credit_records
    std::int64_t max_batch_records = 1000;                   // max_batch_records
    std::chrono::milliseconds commit_min_delay{0};           // commit_min_delay_ms: 0 commits as soon
                                                             //   as the intake is drained
    std::chrono::milliseconds commit_max_delay{20};          // commit_max_delay_ms
    std::chrono::milliseconds runner_host_timeout{10000};    // runner_host_timeout_ms
    bool prepare_worker = true;                              // prepare_worker: parse, validate and
                                                             //   locate on a second thread
    bool sync_worker = true;                                 // sync_worker: with synchronous = full,
                                                             //   fsync the log on a thread of its own
    int intake_nice = -10;                                   // intake_nice: the intake thread's nice
                                                             //   value (-20..0), where the hub's own
                                                             //   is higher; needs CAP_SYS_NICE (a
                                                             //   warning without it)
};

struct HttpSection {                                         // [http]  (TOML key)
    bool enabled = true;                                     // enabled
    std::string host = "127.0.0.1";                          // listen = "HOST:PORT" ("[::1]:PORT"
    int port = 8640;                                         //   for IPv6)
    std::int64_t max_body_bytes = 1 << 20;                   // max_body_bytes: larger bodies are 413
    std::chrono::seconds sse_heartbeat{15};                  // sse_heartbeat_s: comment line on an
                                                             //   idle event stream
    int threads = 16;                                        // threads: HTTP workers (each open
                                                             //   event stream holds one)
    std::chrono::milliseconds control_timeout{10000};        // control_timeout_ms: an action the
                                                             //   hub has not answered by then is 503
    std::string listen() const;                              // "HOST:PORT" as configured
};

struct CommandSection {                                      // [command]  (TOML key)
    bool enabled = false;                                    // enabled: true when the section is
                                                             //   present, unless it says false
    std::filesystem::path rules;                             // rules: config/command.toml, resolved
    std::filesystem::path calendar;                          //   against the config dir; calendar
    std::chrono::seconds alert_check{60};                    // alert_check_seconds: overdue steps and
                                                             //   escalations are looked for this
                                                             //   often (hub clock) and after clock_set
    bool simulated_clock = false;                            // clock = "wall" | "simulated"
    bool grid_whistles = false;                              // grid_whistles: a grid may whistle on
                                                             //   the cases of its own grid too
    std::int64_t clock_start_ms = 0;                         // clock_start (RFC 3339), simulated only
};

struct AdapterConfig {                      // one [[adapters]] table
    std::string id;                         // [a-z][a-z0-9_]{1,31}, unique
    std::string plugin;                     // as written: a name or a path (see resolve_plugin)
    bool enabled = true;
    nlohmann::json config = nlohmann::json::object();  // [adapters.config] as JSON: integers
                                            // stay integers, floats become doubles, dates and
                                            // times become RFC 3339 strings
    int line = 0;                           // line of the [[adapters]] header
};

struct HubConfig {
    std::filesystem::path file;             // the config file, as given (for messages)
    std::filesystem::path config_dir;       // absolute directory relative paths are taken from
    HubSection hub;
    SupervisorSection supervisor;
    FlowSection flow;
    correlate::Settings correlation = correlate::default_settings();  // [correlation]
    HttpSection http;                       // [http]
    CommandSection command;                 // [command]: whistles, escalation, reports
    std::vector<AdapterConfig> adapters;    // in file order

    const AdapterConfig* find_adapter(std::string_view id) const;
};

// Reads and parses a config file (at most 16 MiB).
Result<HubConfig> load_hub_config(const std::filesystem::path& file);

// Parses config text. `file` is used in messages and as the base of relative paths (made
// absolute against the current directory if relative). Reads CASEHUB_DATA_DIR.
Result<HubConfig> parse_hub_config(std::string_view text, const std::filesystem::path& file);

// Finds a plugin's shared library. `plugin` containing a '/' is a path (relative to the config
// file's directory) that must name an existing file; otherwise it is a name looked up in each
// hub.plugin_path directory in order, trying "<name>.so" then "<name>". Returns an absolute
// path; the error lists the directories searched.
Result<std::filesystem::path> resolve_plugin(const HubConfig& config, std::string_view plugin);

}  // namespace casehub::host

namespace casehub::host {
// Appends `<directory of exe>/../lib/casehub/plugins` (the installed layout) to
// hub.plugin_path, so an installed casehubd finds the plugins installed with it whatever the
// prefix. Does nothing when it is already there or `exe` is empty.
void add_installed_plugin_dir(HubConfig& config, const std::filesystem::path& exe);
}  // namespace casehub::host
