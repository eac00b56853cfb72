#include "cli/plugin_check.hpp"

#include "config/config_schema.hpp"
#include "loader/plugin_loader.hpp"

#include <casehub/sdk/fake_host.hpp>
#include <casehub/sdk/record_check.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <set>

namespace casehub::cli {

namespace {

// Typed value from "--set key=value", guided by the option's declared type.
nlohmann::json parse_value(const host::ConfigOption* opt, const std::string& text) {
    if (opt != nullptr) {
        if (opt->type == "integer" || opt->type == "number" || opt->type == "boolean" ||
            opt->type == "string_list") {
            auto j = nlohmann::json::parse(text, nullptr, false);
            if (!j.is_discarded()) return j;
        }
    }
    return text;
}

struct Report {
    std::vector<std::string> faults, warnings;
    std::size_t records = 0, batches = 0, dead_letters = 0;
};

void check_run(const host::LoadedPlugin& plugin, const nlohmann::json& config, double seconds,
               Report& rep) {
    using namespace std::chrono;
    std::set<std::string> seen;  // system/record_id/version of the first run
    std::string cursor;
    {
        sdk::FakeHost host(&plugin.descriptor());
        try {
            host.create(config);
            host.start();
        } catch (const sdk::Error& e) {
            rep.faults.push_back(e.what());
            return;
        }
        auto st = host.run_for(duration_cast<milliseconds>(duration<double>(seconds)));
        if (st != CASEHUB_OK && st != CASEHUB_ERR_UNAVAILABLE)
            rep.faults.push_back("poll failed (" + host::status_name(st) + "): " + host.last_error());
        try {
            host.stop();
        } catch (const sdk::Error& e) {
            rep.faults.push_back(e.what());
        }
        auto batches = host.batches();
        rep.batches = batches.size();
        for (const auto& b : batches) {
            if (!b.records.empty() && b.cursor.empty())
                rep.faults.push_back("batch " + std::to_string(b.id) +
                                     " carries records but an empty cursor: after a restart the "
                                     "plugin could not resume past them");
            for (std::size_t i = 0; i < b.records.size(); ++i) {
                ++rep.records;
                auto fault = sdk::check_record(std::string_view(b.records[i]));
                if (fault) {
                    if (rep.faults.size() < 20)
                        rep.faults.push_back("batch " + std::to_string(b.id) + " record " +
                                             std::to_string(i) + ": " + fault->reason + " at " +
                                             fault->path + ": " + fault->message);
                    continue;
                }
                auto j = nlohmann::json::parse(b.records[i]);
                seen.insert(j["source"]["system"].get<std::string>() + "/" +
                            j["source"]["record_id"].get<std::string>() + "/" +
                            j["source"]["version"].get<std::string>());
            }
        }
        rep.dead_letters = host.dead_letters().size();
        cursor = host.last_cursor();
        if (rep.records == 0)
            rep.warnings.push_back("the plugin emitted no records in " + std::to_string(seconds) +
                                   " s; was its source reachable?");
    }
    if (cursor.empty() || !rep.faults.empty()) return;
    // Resume: a new instance started from the last cursor must not emit the same versions.
    sdk::FakeHost again(&plugin.descriptor());
    try {
        again.create(config);
        again.start(cursor);
    } catch (const sdk::Error& e) {
        rep.faults.push_back("restart from cursor '" + cursor + "': " + e.what());
        return;
    }
    again.run_for(milliseconds(std::max(300, static_cast<int>(seconds * 300))));
    for (const auto& r : again.records()) {
        auto j = nlohmann::json::parse(r, nullptr, false);
        if (!j.is_object() || !j.contains("source")) continue;
        std::string key = j["source"].value("system", "") + "/" + j["source"].value("record_id", "") +
                          "/" + j["source"].value("version", "");
        if (seen.count(key)) {
            rep.faults.push_back("after a restart from cursor '" + cursor + "' the plugin emitted " +
                                 key + " again");
            break;
        }
    }
}

}  // namespace

int run_plugin_check(const PluginCheckOptions& o) {
    auto plugin = host::load_plugin(o.plugin);
    if (!plugin) {
        std::cerr << "FAIL " << plugin.error().message << "\n";
        return 1;
    }
    nlohmann::json config = nlohmann::json::object();
    if (!o.config_json.empty()) {
        std::ifstream in(o.config_json);
        config = nlohmann::json::parse(in, nullptr, false);
        if (!config.is_object()) {
            std::cerr << "FAIL " << o.config_json.string() << ": not a JSON object\n";
            return 1;
        }
    }
    for (const auto& kv : o.set) {
        auto eq = kv.find('=');
        if (eq == std::string::npos) {
            std::cerr << "FAIL --set " << kv << ": expected key=value\n";
            return 1;
        }
        std::string key = kv.substr(0, eq);
        const host::ConfigOption* opt = nullptr;
        for (const auto& op : plugin->schema().options)
            if (op.name == key) opt = &op;
        config[key] = parse_value(opt, kv.substr(eq + 1));
    }
    auto applied = host::apply_config_schema(plugin->schema(), config, "configuration",
                                             std::filesystem::current_path());
    if (!o.json) {
        const auto d = plugin->describe();
        std::cout << "plugin      " << o.plugin.string() << "\n"
                  << "name        " << d["name"].get<std::string>() << "\n"
                  << "version     " << d["version"].get<std::string>() << "\n"
                  << "kind        " << d["kind"].get<std::string>() << "\n"
                  << "abi         " << d["abi"].get<std::string>() << "\n"
                  << "capabilities " << d["capabilities"].dump() << "\n"
                  << "description " << d["description"].get<std::string>() << "\n\n"
                  << "configuration:\n"
                  << host::schema_to_text(plugin->schema()) << "\n";
    }
    if (!applied) {
        std::cerr << "FAIL " << applied.error().message << "\n";
        return 1;
    }
    if (plugin->descriptor().kind != CASEHUB_KIND_SOURCE) {
        std::cout << "sink plugins are loaded and described only; running them comes with the feed\n";
        return 0;
    }

    // The run happens in a child process, so a plugin that crashes is reported, not fatal.
    int fds[2];
    if (::pipe(fds) != 0) {
        std::cerr << "FAIL pipe: " << std::strerror(errno) << "\n";
        return 1;
    }
    std::cout.flush();
    pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        Report rep;
        // A plugin written without the SDK can let an exception escape across the C ABI; the
        // fake host does not catch it. Report it with its text instead of dying of terminate().
        try {
            check_run(*plugin, *applied, o.seconds, rep);
        } catch (const std::exception& e) {
            rep.faults.push_back(o.plugin.string() + ": the plugin let an exception escape across the C ABI: " +
                                 e.what());
        } catch (...) {
            rep.faults.push_back(o.plugin.string() +
                                 ": the plugin let an exception of unknown type escape across the C ABI");
        }
        // Faults quote the plugin's own error text: keep each on one line, and never let bytes
        // that are not UTF-8 make dump() throw (that would look like a crash of the plugin).
        for (auto& f : rep.faults)
            for (char& c : f)
                if (c == '\n' || c == '\r' || c == '\t') c = ' ';
        nlohmann::json j = {{"faults", rep.faults}, {"warnings", rep.warnings},
                            {"records", rep.records}, {"batches", rep.batches},
                            {"dead_letters", rep.dead_letters}};
        std::string s = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        (void)!::write(fds[1], s.data(), s.size());
        ::close(fds[1]);
        std::_Exit(0);
    }
    ::close(fds[1]);
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fds[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    nlohmann::json rep = nlohmann::json::parse(out, nullptr, false);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !rep.is_object()) {
        std::string how = WIFSIGNALED(status) ? std::string("killed by signal ") + strsignal(WTERMSIG(status))
                                              : "exited with status " + std::to_string(WEXITSTATUS(status));
        std::cerr << "FAIL " << o.plugin.string() << ": the plugin crashed the check (" << how << ")\n";
        return 1;
    }
    if (o.json) {
        rep["plugin"] = plugin->describe();
        std::cout << rep.dump(2) << "\n";
    } else {
        std::cout << "ran " << o.seconds << " s: " << rep["records"] << " records in " << rep["batches"]
                  << " batches, " << rep["dead_letters"] << " dead letters\n";
        for (const auto& w : rep["warnings"]) std::cout << "WARN " << w.get<std::string>() << "\n";
        for (const auto& f : rep["faults"]) std::cerr << "FAIL " << f.get<std::string>() << "\n";
    }
    if (!rep["faults"].empty()) return 1;
    if (!o.json) std::cout << "OK: every record is valid casehub.record/1 and the plugin resumes from its cursor\n";
    return 0;
}

}  // namespace casehub::cli
