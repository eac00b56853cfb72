// casehub: the command-line tool. `casehub status`, `casehub plugins`, `casehub plugin check`.
// Installed also as `casehub-plugin-check` (argv[0] selects `plugin check`).
#include "cli/case_commands.hpp"
#include "cli/report_commands.hpp"
#include "cli/whistle_commands.hpp"
#include "cli/deadletter_commands.hpp"
#include "cli/feed_commands.hpp"
#include "cli/geo_commands.hpp"
#include "cli/plugin_check.hpp"
#include "config/hub_config.hpp"
#include "loader/plugin_loader.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <cstdio>
#include <iostream>
#include <set>

namespace {

using namespace casehub;

int cmd_status(const std::string& config_path, bool json, int timeout_ms) {
    auto cfg = host::load_hub_config(config_path);
    if (!cfg) {
        std::cerr << cfg.error().message << "\n";
        return 2;
    }
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::req);
    s.set(zmq::sockopt::linger, 0);
    s.connect(cfg->hub.control_endpoint);
    s.send(zmq::buffer(std::string(R"({"cmd":"status"})")));
    zmq::pollitem_t it{static_cast<void*>(s), 0, ZMQ_POLLIN, 0};
    zmq::poll(&it, 1, std::chrono::milliseconds(timeout_ms));
    zmq::message_t reply;
    if (!(it.revents & ZMQ_POLLIN) || !s.recv(reply)) {
        std::cerr << "casehubd is not answering on " << cfg->hub.control_endpoint << " (is it running?)\n";
        return 3;
    }
    auto j = nlohmann::json::parse(reply.to_string_view(), nullptr, false);
    if (json) {
        std::cout << j.dump(2) << "\n";
        return 0;
    }
    const auto& h = j["hub"];
    std::cout << "casehubd pid " << h["pid"] << ", up " << h["uptime_ms"].get<long>() / 1000 << " s, store "
              << h["store"].get<std::string>() << ", " << h["commits"] << " commits (avg "
              << h["commit_avg_us"] << " us)";
    if (const auto& sy = h.value("syncs", nlohmann::json::object()); sy.is_object() && sy.contains("by"))
        std::cout << ", log fsync by " << sy["by"].get<std::string>()
                  << (sy.contains("runs") ? " (" + sy["runs"].dump() + " syncs)" : std::string());
    if (const auto& ni = h.value("intake_nice", nlohmann::json::object()); ni.is_object() && ni.contains("actual"))
        std::cout << ", intake thread at nice " << ni["actual"]
                  << (ni.contains("error") ? " (flow.intake_nice " + ni["wanted"].dump() + ": " + ni["error"].get<std::string>() + ")"
                                           : std::string());
    std::cout << "\n\n";
    std::cout << "feed head seq " << h["head_seq"] << ", " << h["events_published"] << " events published, "
              << h.value("feed_consumers", 0) << " consumer connection(s), " << h.value("replay_requests", 0)
              << " replay requests\n\n";
    std::printf("%-12s %-8s %-7s %4s %9s %9s %6s %6s %7s %6s %6s %-8s %s\n", "ADAPTER", "STATE", "PID", "RST",
                "RECORDS", "APPLIED", "DUPL", "STALE", "INVALID", "DEAD", "CREDIT", "HEALTH", "CURSOR");
    auto n = [](const nlohmann::json& v) { return static_cast<long long>(v.is_number() ? v.get<std::int64_t>() : 0); };
    for (const auto& a : j["adapters"]) {
        std::string cursor = a["last_cursor"].is_string() ? a["last_cursor"].get<std::string>() : "-";
        if (cursor.size() > 40) cursor = cursor.substr(0, 37) + "...";
        std::printf("%-12s %-8s %-7d %4d %9lld %9lld %6lld %6lld %7lld %6lld %6lld %-8s %s\n",
                    a["id"].get<std::string>().c_str(), a["state"].get<std::string>().c_str(), a["pid"].get<int>(),
                    a["restarts"].get<int>(), n(a["records_in"]), n(a["applied"]), n(a["duplicates"]), n(a["stale"]),
                    n(a["invalid"]), n(a["dead_letters"]), n(a["credit"]), a["health"].get<std::string>().c_str(),
                    cursor.c_str());
        if (!a["last_error"].get<std::string>().empty())
            std::printf("%-12s last error: %s\n", "", a["last_error"].get<std::string>().c_str());
    }
    std::cout << "\nRECORDS = APPLIED + DUPL + STALE + INVALID (invalid records are dead letters, see `casehub "
                 "deadletters list`); DEAD = native records the adapter could not read\n";
    return 0;
}

int cmd_plugins(const std::string& config_path, std::vector<std::string> files, bool json, bool schema) {
    if (files.empty()) {
        auto cfg = host::load_hub_config(config_path);
        if (!cfg) {
            std::cerr << cfg.error().message << "\n";
            return 2;
        }
        std::error_code ec;
        host::add_installed_plugin_dir(*cfg, std::filesystem::read_symlink("/proc/self/exe", ec));
        std::set<std::string> found;
        for (const auto& dir : cfg->hub.plugin_path) {
            std::error_code ec;
            for (const auto& e : std::filesystem::directory_iterator(dir, ec))
                if (e.path().extension() == ".so") found.insert(e.path().string());
        }
        files.assign(found.begin(), found.end());
    }
    nlohmann::json all = nlohmann::json::array();
    int bad = 0;
    for (const auto& f : files) {
        auto p = host::load_plugin(f);
        if (!p) {
            ++bad;
            if (json) all.push_back({{"path", f}, {"error", p.error().message}});
            else std::cout << "BROKEN  " << p.error().message << "\n";
            continue;
        }
        auto d = p->describe();
        if (json) {
            all.push_back(d);
            continue;
        }
        std::cout << d["name"].get<std::string>() << " " << d["version"].get<std::string>() << "  ("
                  << d["kind"].get<std::string>() << ", ABI " << d["abi"].get<std::string>() << ")  " << f
                  << "\n    " << d["description"].get<std::string>() << "\n";
        if (schema) std::cout << host::schema_to_text(p->schema()) << "\n";
    }
    if (json) std::cout << all.dump(2) << "\n";
    return bad ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::string argv0 = std::filesystem::path(argv[0]).filename().string();
    cli::PluginCheckOptions check;
    if (argv0 == "casehub-plugin-check") {
        CLI::App app{"casehub-plugin-check: check a plugin before shipping it"};
        app.add_option("plugin", check.plugin, "plugin shared library")->required();
        app.add_option("--set", check.set, "configuration value key=value (repeatable)");
        app.add_option("--config", check.config_json, "configuration as a JSON file");
        app.add_option("--seconds", check.seconds, "how long to run it")->capture_default_str();
        app.add_flag("--json", check.json, "machine-readable report");
        CLI11_PARSE(app, argc, argv);
        return cli::run_plugin_check(check);
    }

    CLI::App app{"casehub: operate and inspect a casehub hub"};
    app.require_subcommand(1);
    std::string config = "config/casehub.toml";
    app.add_option("-c,--config", config, "hub configuration (TOML)")->capture_default_str();
    bool json = false;

    auto* status = app.add_subcommand("status", "state of the hub and of each adapter");
    int timeout_ms = 3000;
    status->add_flag("--json", json, "machine-readable output");
    status->add_option("--timeout-ms", timeout_ms, "how long to wait for casehubd");

    auto* plugins = app.add_subcommand("plugins", "installed plugins and their descriptors");
    std::vector<std::string> files;
    bool schema = false;
    plugins->add_option("files", files, "plugin files (default: every .so in plugin_path)");
    plugins->add_flag("--json", json, "machine-readable output");
    plugins->add_flag("--schema", schema, "print each plugin's configuration schema");

    auto* plugin = app.add_subcommand("plugin", "work with one plugin");
    plugin->require_subcommand(1);
    auto* pcheck = plugin->add_subcommand("check", "load, describe, run and validate a plugin");
    pcheck->add_option("plugin", check.plugin, "plugin shared library")->required();
    pcheck->add_option("--set", check.set, "configuration value key=value (repeatable)");
    pcheck->add_option("--config-json", check.config_json, "configuration as a JSON file");
    pcheck->add_option("--seconds", check.seconds, "how long to run it")->capture_default_str();
    pcheck->add_flag("--json", check.json, "machine-readable report");

    std::function<int()> run;
    cli::add_deadletter_commands(app, config, run);
    cli::add_geo_commands(app, config, run);
    auto feed = cli::add_feed_commands(app, config);
    cli::add_case_commands(app, config, run);
    cli::add_whistle_commands(app, config, run);
    cli::add_report_commands(app, config, run);

    CLI11_PARSE(app, argc, argv);
    if (run) return run();
    if (feed->parsed()) return feed->run();
    if (status->parsed()) return cmd_status(config, json, timeout_ms);
    if (plugins->parsed()) return cmd_plugins(config, files, json, schema);
    if (pcheck->parsed()) return cli::run_plugin_check(check);
    return 64;
}
