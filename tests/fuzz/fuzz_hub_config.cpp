// Fuzz target: the hub's configuration file (host/config/hub_config.hpp).
//
// Input: the text of a casehub.toml, parsed as parse_hub_config(text, "fuzz.toml").
// CASEHUB_DATA_DIR is unset first, so the file alone decides.
// Invariants (any violation traps):
//   - parse_hub_config never throws; an error is one line and starts with "fuzz.toml";
//   - an accepted configuration keeps the header's promises: resolved paths absolute and
//     lexically normal; endpoints ipc:// (path absolute or @abstract, at most 107 bytes) or
//     tcp://, pairwise different; synchronous/log_level from their lists; supervisor and flow
//     values in range and consistent with each other; adapter ids well-formed and unique,
//     plugins non-empty, each config an object; extra systems well-formed;
//   - each adapter's config, checked against the example adapter's schema with
//     apply_config_schema (as casehubd does for a plugin), never throws and errors are one line.
#include "config/config_schema.hpp"
#include "config/hub_config.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "fuzz_check.hpp"

namespace {

namespace fs = std::filesystem;
using casehub::host::HubConfig;

// sdk/examples/hello_adapter's schema.
constexpr std::string_view kHelloSchema = R"json([
  {"name": "system", "type": "string", "default": "hello",
   "help": "source.system written on every record"},
  {"name": "rate_per_minute", "type": "number", "default": 60, "min": 0.001,
   "help": "reports invented per minute"},
  {"name": "batch_size", "type": "integer", "default": 50, "min": 1, "max": 1000,
   "help": "most reports handed to the host in one batch"},
  {"name": "limit", "type": "integer", "default": 0, "min": 0,
   "help": "stop after this many reports (0: never)"}
])json";

bool is_id(std::string_view s) {
    if (s.size() < 2 || s.size() > 32 || s[0] < 'a' || s[0] > 'z') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

// Absolute and lexically normal (no ".", "..", "//" or trailing '/', except the root itself).
bool resolved(const fs::path& p) {
    if (!p.is_absolute()) return false;
    fs::path n = p.lexically_normal();
    if (!n.has_filename() && n.has_relative_path()) n = n.parent_path();
    return n == p;
}

void check_endpoint(const std::string& e) {
    if (e.rfind("ipc://", 0) == 0) {
        const std::string path = e.substr(6);
        FUZZ_CHECK(!path.empty(), e);
        FUZZ_CHECK(path.size() <= 107, e);
        FUZZ_CHECK(path[0] == '@' || resolved(path), e);
    } else {
        FUZZ_CHECK(e.rfind("tcp://", 0) == 0, e);
        FUZZ_CHECK(e.find(':', 6) != std::string::npos, e);
    }
}

void check_accepted(const HubConfig& c) {
    const auto& h = c.hub;
    FUZZ_CHECK(resolved(c.config_dir), c.config_dir.string());
    FUZZ_CHECK(resolved(h.data_dir), h.data_dir.string());
    FUZZ_CHECK(!h.data_dir_from_env);
    FUZZ_CHECK(resolved(h.store), h.store.string());
    FUZZ_CHECK(resolved(h.reference_dir), h.reference_dir.string());
    FUZZ_CHECK(h.runner.empty() || resolved(h.runner), h.runner.string());
    for (const auto& p : h.plugin_path) FUZZ_CHECK(resolved(p), p.string());
    for (const auto& s : h.systems) FUZZ_CHECK(is_id(s), s);

    const std::string* eps[] = {&h.intake_endpoint, &h.control_endpoint, &h.feed_endpoint,
                                &h.snapshot_endpoint};
    for (std::size_t i = 0; i < 4; ++i) {
        check_endpoint(*eps[i]);
        for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK(*eps[i] != *eps[j], *eps[i]);
    }
    constexpr std::string_view levels[] = {"trace", "debug", "info", "warn",
                                           "error", "critical", "off"};
    FUZZ_CHECK(std::find(std::begin(levels), std::end(levels), h.log_level) != std::end(levels));

    const auto& s = c.supervisor;
    FUZZ_CHECK(s.backoff_initial.count() >= 1 && s.backoff_max >= s.backoff_initial);
    FUZZ_CHECK(s.healthy_after.count() >= 1 && s.max_fast_crashes >= 0);
    FUZZ_CHECK(s.heartbeat.count() >= 10 && s.hang_timeout >= 2 * s.heartbeat);
    FUZZ_CHECK(s.stop_timeout.count() >= 1);
    const auto& f = c.flow;
    FUZZ_CHECK(f.credit_records >= 1 && f.max_batch_records >= 1);
    FUZZ_CHECK(f.max_batch_records <= f.credit_records);
    FUZZ_CHECK(f.commit_max_delay.count() >= 0);
    FUZZ_CHECK(f.runner_host_timeout >= 2 * s.heartbeat);

    for (std::size_t i = 0; i < c.adapters.size(); ++i) {
        const auto& a = c.adapters[i];
        FUZZ_CHECK(is_id(a.id), a.id);
        FUZZ_CHECK(!a.plugin.empty());
        FUZZ_CHECK(a.config.is_object(), a.config.dump());
        FUZZ_CHECK(c.find_adapter(a.id) == &a, a.id);  // unique
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const bool env_cleared = (unsetenv("CASEHUB_DATA_DIR"), true);
    (void)env_cleared;
    static const casehub::host::ConfigSchema hello = [] {
        auto r = casehub::host::parse_config_schema(kHelloSchema);
        FUZZ_CHECK(r.ok());
        return std::move(r).value();
    }();

    const std::string_view text(reinterpret_cast<const char*>(data), size);
    std::optional<casehub::Result<HubConfig>> r;
    FUZZ_NEVER_THROWS([&] { r.emplace(casehub::host::parse_hub_config(text, "fuzz.toml")); });
    if (!r->ok()) {
        const std::string& msg = r->error().message;
        FUZZ_CHECK(casehub::fuzz::one_line(msg), msg);
        FUZZ_CHECK(msg.rfind("fuzz.toml", 0) == 0, msg);
        return 0;
    }
    const HubConfig& cfg = r->value();
    check_accepted(cfg);

    for (std::size_t i = 0; i < cfg.adapters.size(); ++i) {
        const std::string where = "fuzz.toml: adapters[" + std::to_string(i) + "].config";
        std::optional<casehub::Result<nlohmann::json>> applied;
        FUZZ_NEVER_THROWS([&] {
            applied.emplace(casehub::host::apply_config_schema(hello, cfg.adapters[i].config, where));
        });
        if (!applied->ok()) {
            const std::string& msg = applied->error().message;
            FUZZ_CHECK(casehub::fuzz::one_line(msg), msg);
            FUZZ_CHECK(msg.rfind(where, 0) == 0, msg);
        }
    }
    return 0;
}
