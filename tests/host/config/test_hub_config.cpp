#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "config/hub_config.hpp"

namespace fs = std::filesystem;
using casehub::host::HubConfig;
using casehub::host::load_hub_config;
using casehub::host::parse_hub_config;
using casehub::host::resolve_plugin;
using casehub::host::Synchronous;
using nlohmann::json;

namespace {

// Sets (or unsets) CASEHUB_DATA_DIR for the scope; restores the previous value after.
class DataDirEnv {
public:
    explicit DataDirEnv(const char* value) {
        if (const char* old = std::getenv("CASEHUB_DATA_DIR")) old_ = old;
        if (value) ::setenv("CASEHUB_DATA_DIR", value, 1);
        else ::unsetenv("CASEHUB_DATA_DIR");
    }
    ~DataDirEnv() {
        if (old_) ::setenv("CASEHUB_DATA_DIR", old_->c_str(), 1);
        else ::unsetenv("CASEHUB_DATA_DIR");
    }
    DataDirEnv(const DataDirEnv&) = delete;
    DataDirEnv& operator=(const DataDirEnv&) = delete;

private:
    std::optional<std::string> old_;
};

class TempDir {
public:
    TempDir() {
        static int n = 0;
        path_ = fs::temp_directory_path() /
                ("casehub-test-config-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    const fs::path& path() const { return path_; }

private:
    fs::path path_;
};

void touch(const fs::path& p) {
    fs::create_directories(p.parent_path());
    std::ofstream(p) << "x";
}

const fs::path kFile = "/etc/casehub/casehub.toml";

HubConfig parse_ok(const std::string& text, const fs::path& file = kFile) {
    auto r = parse_hub_config(text, file);
    if (!r.ok()) FAIL(r.error().message);
    return std::move(r).value();
}

std::string parse_error(const std::string& text, const fs::path& file = "config/casehub.toml") {
    auto r = parse_hub_config(text, file);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find('\n') == std::string::npos);
    return r.error().message;
}

const char* const kAdapter = "[[adapters]]\nid = \"hello\"\nplugin = \"hello_adapter\"\n";

}  // namespace

TEST_CASE("hub config: the shipped config/casehub.toml parses", "[unit]") {
    DataDirEnv env(nullptr);
    const fs::path file = fs::path(CASEHUB_SOURCE_DIR) / "config" / "casehub.toml";
    auto r = load_hub_config(file);
    if (!r.ok()) FAIL(r.error().message);
    const HubConfig& c = *r;
    const fs::path dir = fs::path(CASEHUB_SOURCE_DIR).lexically_normal() / "config";
    CHECK(c.file == file);
    CHECK(c.config_dir == dir);
    CHECK(c.hub.data_dir == dir / "var");
    CHECK_FALSE(c.hub.data_dir_from_env);
    CHECK(c.hub.store == dir / "var" / "casehub.db");
    CHECK(c.hub.synchronous == Synchronous::full);
    CHECK(c.hub.intake_endpoint == "ipc://" + (dir / "var" / "intake.sock").string());
    CHECK(c.hub.control_endpoint == "ipc://" + (dir / "var" / "control.sock").string());
    REQUIRE(c.hub.plugin_path.size() == 2);
    CHECK(c.hub.plugin_path[0] == fs::path(CASEHUB_SOURCE_DIR).lexically_normal() / "build" / "plugins");
    CHECK(c.hub.plugin_path[1] == "/usr/local/lib/casehub/plugins");
    CHECK(c.hub.runner.empty());
    CHECK(c.hub.log_level == "info");
    CHECK(c.supervisor.backoff_initial.count() == 1000);
    CHECK(c.supervisor.max_fast_crashes == 5);
    CHECK(c.flow.credit_records == 2000);
    // Callers' locations are not the incident's: 12345 and 110 records get a report offset.
    CHECK(casehub::host::correlate::report_offset(c.correlation, "hotline12345") > 0);
    CHECK(casehub::host::correlate::report_offset(c.correlation, "gridapp") == 0);
    // The five department systems, pointed at the simulators of the demo.
    REQUIRE(c.adapters.size() == 5);
    const char* ids[] = {"dcm", "hotline12345", "enforcement", "police", "gridapp"};
    for (std::size_t i = 0; i < 5; ++i) {
        CHECK(c.adapters[i].id == ids[i]);
        CHECK(c.adapters[i].plugin == ids[i]);
        CHECK(c.adapters[i].enabled);
        CHECK(c.adapters[i].line > 0);
    }
    CHECK(c.adapters[0].config["base_url"] == "http://127.0.0.1:18401");
    CHECK(c.adapters[2].config == json{{"dir", "var/exchange/enforcement"}, {"scan_interval_ms", 2000}});
    CHECK(c.find_adapter("gridapp") == &c.adapters[4]);
    CHECK(c.find_adapter("nope") == nullptr);
}

TEST_CASE("hub config: every key has a default", "[unit]") {
    DataDirEnv env(nullptr);
    const HubConfig c = parse_ok("");
    CHECK(c.config_dir == "/etc/casehub");
    CHECK(c.hub.data_dir == "/etc/casehub/var");
    CHECK(c.hub.store == "/etc/casehub/var/casehub.db");
    CHECK(c.hub.synchronous == Synchronous::full);
    CHECK(c.hub.intake_endpoint == "ipc:///etc/casehub/var/intake.sock");
    CHECK(c.hub.control_endpoint == "ipc:///etc/casehub/var/control.sock");
    REQUIRE(c.hub.plugin_path.size() == 2);
    CHECK(c.hub.plugin_path[0] == "/etc/build/plugins");
    CHECK(c.hub.plugin_path[1] == "/usr/local/lib/casehub/plugins");
    CHECK(c.hub.log_level == "info");
    CHECK(c.supervisor.backoff_initial.count() == 1000);
    CHECK(c.supervisor.backoff_max.count() == 30000);
    CHECK(c.supervisor.healthy_after.count() == 60000);
    CHECK(c.supervisor.max_fast_crashes == 5);
    CHECK(c.supervisor.heartbeat.count() == 1000);
    CHECK(c.supervisor.hang_timeout.count() == 10000);
    CHECK(c.supervisor.stop_timeout.count() == 5000);
    CHECK(c.flow.credit_records == 2000);
    CHECK(c.flow.max_batch_records == 1000);
    CHECK(c.flow.commit_min_delay.count() == 0);
    CHECK(c.flow.commit_max_delay.count() == 20);
    CHECK(c.flow.runner_host_timeout.count() == 10000);
    CHECK(c.flow.prepare_worker);
    CHECK(c.flow.sync_worker);
    CHECK(c.flow.intake_nice == -10);
    CHECK(c.adapters.empty());
}

TEST_CASE("hub config: values and paths", "[unit]") {
    DataDirEnv env(nullptr);
    const HubConfig c = parse_ok(R"(
[hub]
data_dir = "/srv/casehub/"
store = "db/main.db"
synchronous = "normal"
intake_endpoint = "tcp://0.0.0.0:5555"
control_endpoint = "ipc://run/control.sock"
plugin_path = ["plugins", "/opt/p"]
runner = "../bin/casehub-runner"
log_level = "debug"

[supervisor]
backoff_initial_ms = 10
backoff_max_ms = 10
healthy_after_ms = 5000
max_fast_crashes = 0
heartbeat_ms = 100
hang_timeout_ms = 200
stop_timeout_ms = 1

[flow]
credit_records = 10
max_batch_records = 10
commit_min_delay_ms = 0
commit_max_delay_ms = 0
runner_host_timeout_ms = 200
prepare_worker = false
sync_worker = false
intake_nice = -5

[[adapters]]
id = "dcm"
plugin = "/opt/dcm/libdcm.so"
enabled = false
)",
                                 "/etc/casehub/sub/../casehub.toml");
    CHECK(c.config_dir == "/etc/casehub");
    CHECK(c.hub.data_dir == "/srv/casehub");
    CHECK(c.hub.store == "/srv/casehub/db/main.db");
    CHECK(c.hub.synchronous == Synchronous::normal);
    CHECK(casehub::host::to_string(c.hub.synchronous) == "normal");
    CHECK(c.hub.intake_endpoint == "tcp://0.0.0.0:5555");
    CHECK(c.hub.control_endpoint == "ipc:///etc/casehub/run/control.sock");
    REQUIRE(c.hub.plugin_path.size() == 2);
    CHECK(c.hub.plugin_path[0] == "/etc/casehub/plugins");
    CHECK(c.hub.plugin_path[1] == "/opt/p");
    CHECK(c.hub.runner == "/etc/bin/casehub-runner");
    CHECK(c.hub.log_level == "debug");
    CHECK(c.supervisor.backoff_initial.count() == 10);
    CHECK(c.supervisor.max_fast_crashes == 0);
    CHECK(c.supervisor.stop_timeout.count() == 1);
    CHECK(c.flow.commit_max_delay.count() == 0);
    CHECK_FALSE(c.flow.prepare_worker);
    CHECK_FALSE(c.flow.sync_worker);
    CHECK(c.flow.intake_nice == -5);
    REQUIRE(c.adapters.size() == 1);
    CHECK(c.adapters[0].plugin == "/opt/dcm/libdcm.so");
    CHECK_FALSE(c.adapters[0].enabled);
    CHECK(c.adapters[0].config == json::object());
    CHECK(c.adapters[0].line == 31);
}

TEST_CASE("hub config: a relative config file path", "[unit]") {
    DataDirEnv env(nullptr);
    const HubConfig c = parse_ok("", "config/casehub.toml");
    CHECK(c.config_dir == fs::current_path() / "config");
    CHECK(c.hub.data_dir == fs::current_path() / "config" / "var");
    CHECK(c.file == "config/casehub.toml");
}

TEST_CASE("hub config: CASEHUB_DATA_DIR overrides data_dir", "[unit]") {
    SECTION("absolute") {
        DataDirEnv env("/var/lib/casehub");
        const HubConfig c = parse_ok("[hub]\ndata_dir = \"elsewhere\"\n");
        CHECK(c.hub.data_dir == "/var/lib/casehub");
        CHECK(c.hub.data_dir_from_env);
        CHECK(c.hub.store == "/var/lib/casehub/casehub.db");
        CHECK(c.hub.intake_endpoint == "ipc:///var/lib/casehub/intake.sock");
    }
    SECTION("relative: to the current directory") {
        DataDirEnv env("state");
        const HubConfig c = parse_ok("");
        CHECK(c.hub.data_dir == fs::current_path() / "state");
    }
    SECTION("empty: ignored") {
        DataDirEnv env("");
        const HubConfig c = parse_ok("");
        CHECK(c.hub.data_dir == "/etc/casehub/var");
        CHECK_FALSE(c.hub.data_dir_from_env);
    }
}

TEST_CASE("hub config: adapters.config becomes JSON", "[unit]") {
    DataDirEnv env(nullptr);
    const HubConfig c = parse_ok(std::string(kAdapter) + R"(
[adapters.config]
count = 120
big = 9223372036854775807
ratio = 0.25
name = "x"
on = true
list = [1, "a", [2.5]]
nested = { a = { b = 1 } }
day = 1979-05-27
at = 07:32:00.5
local = 1979-05-27T07:32:00
utc = 1979-05-27T07:32:00Z
offset = 1979-05-27T00:32:00.999999-07:30
"dotted.key" = 1
[[adapters.config.items]]
n = 1
[[adapters.config.items]]
n = 2
)");
    REQUIRE(c.adapters.size() == 1);
    const json& j = c.adapters[0].config;
    CHECK(j["count"].is_number_integer());
    CHECK(j["count"] == 120);
    CHECK(j["big"].get<std::int64_t>() == 9223372036854775807LL);
    CHECK(j["ratio"].is_number_float());
    CHECK(j["ratio"] == 0.25);
    CHECK(j["name"] == "x");
    CHECK(j["on"] == true);
    CHECK(j["list"] == json::parse(R"([1, "a", [2.5]])"));
    CHECK(j["nested"] == json::parse(R"({"a": {"b": 1}})"));
    CHECK(j["day"] == "1979-05-27");
    CHECK(j["at"] == "07:32:00.5");
    CHECK(j["local"] == "1979-05-27T07:32:00");
    CHECK(j["utc"] == "1979-05-27T07:32:00Z");
    CHECK(j["offset"] == "1979-05-27T00:32:00.999999-07:30");
    CHECK(j["dotted.key"] == 1);
    CHECK(j["items"] == json::parse(R"([{"n": 1}, {"n": 2}])"));
}

TEST_CASE("hub config: adapters", "[unit]") {
    DataDirEnv env(nullptr);
    const HubConfig c = parse_ok(R"(
[[adapters]]
id = "dcm"
plugin = "dcm_adapter"

[[adapters]]
id = "hotline_12345"
plugin = "./plugins/hotline.so"
[adapters.config]
url = "http://x"
)");
    REQUIRE(c.adapters.size() == 2);
    CHECK(c.adapters[0].line == 2);
    CHECK(c.adapters[1].line == 6);
    CHECK(c.adapters[1].id == "hotline_12345");
    CHECK(c.adapters[1].config == json{{"url", "http://x"}});
    CHECK(c.adapters[0].config == json::object());
}

TEST_CASE("hub config: errors name file, line, column and key", "[unit]") {
    DataDirEnv env(nullptr);
    SECTION("the example from the brief") {
        const std::string text =
            "[[adapters]]\nid = \"a1\"\nplugin = \"p\"\n\n"   // lines 1-4
            "[[adapters]]\nid = \"a2\"\nplugin = \"p\"\n\n"   // lines 5-8
            "# the third\n\n\n[[adapters]]\nid = \"a3\"\n"    // lines 9-13
            "plugin = 5\n";                                    // line 14
        CHECK(parse_error(text) ==
              "config/casehub.toml:14:1: adapters[2].plugin: expected a string, got an integer");
    }
    SECTION("TOML syntax") {
        CHECK_THAT(parse_error("[hub]\ndata_dir = = 2\n"),
                   Catch::StartsWith("config/casehub.toml:2:12: "));
        CHECK_THAT(parse_error("[hub]\nlog_level = \"info\"\nlog_level = \"debug\"\n"),
                   Catch::Contains("config/casehub.toml:3:"));
        CHECK_THAT(parse_error("a = \"\xff\"\n"), Catch::Contains("config/casehub.toml:1:"));
    }
    SECTION("unknown keys") {
        CHECK(parse_error("\n[hubb]\n") ==
              "config/casehub.toml:2:2: hubb: unknown key (did you mean \"hub\"?)");
        CHECK(parse_error("[hub]\n\ndatadir = \"x\"\n") ==
              "config/casehub.toml:3:1: hub.datadir: unknown key (did you mean \"data_dir\"?)");
        CHECK_THAT(parse_error("[supervisor]\nbackoff_ms = 1\n"),
                   Catch::Contains("config/casehub.toml:2:1: supervisor.backoff_ms: unknown key"));
        CHECK_THAT(parse_error("[flow]\ncredit_record = 1\n"),
                   Catch::Contains("config/casehub.toml:2:1: flow.credit_record: unknown key (did you mean \"credit_records\"?)"));
        CHECK_THAT(parse_error("[supervisor]\nbackoff_initial = 1\n"),
                   Catch::Contains("supervisor.backoff_initial: unknown key (did you mean \"backoff_initial_ms\"?)"));
        CHECK_THAT(parse_error(std::string(kAdapter) + "enable = true\n"),
                   Catch::Contains("config/casehub.toml:4:1: adapters[0].enable: unknown key (did you mean \"enabled\"?)"));
        CHECK_THAT(parse_error("[hub]\nzzzzzzzzzz = 1\n"),
                   Catch::Contains("hub.zzzzzzzzzz: unknown key (known keys: data_dir, store, synchronous, intake_endpoint, control_endpoint, feed_endpoint, snapshot_endpoint, plugin_path, runner, log_level, reference_dir, systems, feed_hwm)"));
        // ... but anything goes inside adapters.config.
        CHECK(parse_hub_config(std::string(kAdapter) + "[adapters.config]\nwhatever = 1\n", kFile).ok());
    }
    SECTION("sections of the wrong kind") {
        CHECK_THAT(parse_error("hub = 5\n"),
                   Catch::Contains("config/casehub.toml:1:1: hub: expected a table, got an integer"));
        CHECK_THAT(parse_error("adapters = 5\n"),
                   Catch::Contains("config/casehub.toml:1:1: adapters: expected an array of tables ([[adapters]]), got an integer"));
        CHECK_THAT(parse_error("adapters = [1]\n"),
                   Catch::Contains("config/casehub.toml:1:13: adapters[0]: expected a table, got an integer"));
    }
    SECTION("hub values") {
        CHECK_THAT(parse_error("[hub]\ndata_dir = \"\"\n"),
                   Catch::Contains("config/casehub.toml:2:1: hub.data_dir: must not be empty"));
        CHECK_THAT(parse_error("[hub]\ndata_dir = \"a\\u0000b\"\n"),
                   Catch::Contains("hub.data_dir: contains a NUL character"));
        CHECK_THAT(parse_error("[hub]\nstore = 1\n"),
                   Catch::Contains("config/casehub.toml:2:1: hub.store: expected a string, got an integer"));
        CHECK_THAT(parse_error("[hub]\nsynchronous = \"off\"\n"),
                   Catch::Contains("config/casehub.toml:2:1: hub.synchronous: \"off\" is not one of full, normal"));
        CHECK_THAT(parse_error("[hub]\nlog_level = \"verbose\"\n"),
                   Catch::Contains("config/casehub.toml:2:1: hub.log_level: \"verbose\" is not one of trace, debug, info, warn, error, critical, off"));
        CHECK_THAT(parse_error("[hub]\nplugin_path = \"/opt\"\n"),
                   Catch::Contains("config/casehub.toml:2:1: hub.plugin_path: expected an array of strings, got a string"));
        CHECK_THAT(parse_error("[hub]\nplugin_path = [\"/opt\", 3]\n"),
                   Catch::Contains("config/casehub.toml:2:24: hub.plugin_path[1]: expected a string, got an integer"));
        CHECK_THAT(parse_error("[hub]\nplugin_path = [\"\"]\n"),
                   Catch::Contains("hub.plugin_path[0]: must not be empty"));
        CHECK_THAT(parse_error("[hub]\nrunner = false\n"),
                   Catch::Contains("config/casehub.toml:2:1: hub.runner: expected a string, got a boolean"));
    }
    SECTION("endpoints") {
        CHECK_THAT(parse_error("[hub]\nintake_endpoint = \"http://x:1\"\n"),
                   Catch::Contains("config/casehub.toml:2:1: hub.intake_endpoint: \"http://x:1\" must start with ipc:// or tcp://"));
        CHECK_THAT(parse_error("[hub]\ncontrol_endpoint = \"tcp://localhost\"\n"),
                   Catch::Contains("config/casehub.toml:2:1: hub.control_endpoint: \"tcp://localhost\" must be tcp://HOST:PORT (port 1 to 65535 or *)"));
        CHECK_THAT(parse_error("[hub]\nintake_endpoint = \"tcp://h:65536\"\n"),
                   Catch::Contains("must be tcp://HOST:PORT"));
        CHECK_THAT(parse_error("[hub]\nintake_endpoint = \"tcp://:80\"\n"),
                   Catch::Contains("must be tcp://HOST:PORT"));
        CHECK_THAT(parse_error("[hub]\nintake_endpoint = \"ipc://\"\n"),
                   Catch::Contains("hub.intake_endpoint: \"ipc://\" has no path after ipc://"));
        CHECK_THAT(parse_error("[hub]\nintake_endpoint = \"ipc://{datadir}/x\"\n"),
                   Catch::Contains("config/casehub.toml:2:1: hub.intake_endpoint: unknown placeholder \"{datadir}\" (only {data_dir} is known)"));
        CHECK_THAT(parse_error("[hub]\ndata_dir = \"/" + std::string(120, 'd') + "\"\n"),
                   Catch::Contains("hub.intake_endpoint: ipc path \"/ddd"));
        CHECK_THAT(parse_error("[hub]\ndata_dir = \"/" + std::string(120, 'd') + "\"\n"),
                   Catch::Contains("bytes; a Unix socket path allows at most 107"));
        CHECK_THAT(parse_error("[hub]\nintake_endpoint = \"tcp://h:1\"\ncontrol_endpoint = \"tcp://h:1\"\n"),
                   Catch::Contains("config/casehub.toml:3:1: hub.control_endpoint: control_endpoint and intake_endpoint are both \"tcp://h:1\""));
        const HubConfig c = parse_ok("[hub]\nintake_endpoint = \"ipc://@casehub-intake\"\n"
                                     "control_endpoint = \"tcp://[::1]:*\"\n");
        CHECK(c.hub.intake_endpoint == "ipc://@casehub-intake");
        CHECK(c.hub.control_endpoint == "tcp://[::1]:*");
    }
    SECTION("supervisor ranges") {
        CHECK_THAT(parse_error("[supervisor]\nbackoff_initial_ms = 0\n"),
                   Catch::Contains("config/casehub.toml:2:1: supervisor.backoff_initial_ms: 0 is out of range (1 to 3600000)"));
        CHECK_THAT(parse_error("[supervisor]\nbackoff_initial_ms = 1.5\n"),
                   Catch::Contains("config/casehub.toml:2:1: supervisor.backoff_initial_ms: expected an integer, got a float"));
        CHECK_THAT(parse_error("[supervisor]\nbackoff_initial_ms = \"1s\"\n"),
                   Catch::Contains("supervisor.backoff_initial_ms: expected an integer, got a string"));
        CHECK_THAT(parse_error("[supervisor]\nbackoff_initial_ms = 2000\nbackoff_max_ms = 1000\n"),
                   Catch::Contains("config/casehub.toml:3:1: supervisor.backoff_max_ms: backoff_max_ms (1000) must be at least backoff_initial_ms (2000)"));
        // Only the initial written: the error is at the key that was written.
        CHECK_THAT(parse_error("[supervisor]\nbackoff_initial_ms = 40000\n"),
                   Catch::Contains("config/casehub.toml:2:1: supervisor.backoff_initial_ms: backoff_max_ms (30000) must be at least backoff_initial_ms (40000)"));
        CHECK_THAT(parse_error("[supervisor]\nhealthy_after_ms = 0\n"),
                   Catch::Contains("supervisor.healthy_after_ms: 0 is out of range (1 to 86400000)"));
        CHECK_THAT(parse_error("[supervisor]\nmax_fast_crashes = -1\n"),
                   Catch::Contains("supervisor.max_fast_crashes: -1 is out of range (0 to 1000000)"));
        CHECK_THAT(parse_error("[supervisor]\nheartbeat_ms = 5\n"),
                   Catch::Contains("supervisor.heartbeat_ms: 5 is out of range (10 to 60000)"));
        CHECK_THAT(parse_error("[supervisor]\nhang_timeout_ms = 1500\n"),
                   Catch::Contains("config/casehub.toml:2:1: supervisor.hang_timeout_ms: hang_timeout_ms (1500) must be at least twice heartbeat_ms (1000)"));
        CHECK_THAT(parse_error("[supervisor]\nstop_timeout_ms = 0\n"),
                   Catch::Contains("supervisor.stop_timeout_ms: 0 is out of range (1 to 3600000)"));
    }
    SECTION("flow ranges") {
        CHECK_THAT(parse_error("[flow]\nintake_nice = -21\n"),
                   Catch::Contains("config/casehub.toml:2:1: flow.intake_nice: -21 is out of range (-20 to 0)"));
        // Above 0 the runners, forked from the intake thread, could not go back without privilege.
        CHECK_THAT(parse_error("[flow]\nintake_nice = 5\n"),
                   Catch::Contains("flow.intake_nice: 5 is out of range (-20 to 0)"));
        CHECK_THAT(parse_error("[flow]\ncredit_records = 0\n"),
                   Catch::Contains("config/casehub.toml:2:1: flow.credit_records: 0 is out of range (1 to 10000000)"));
        CHECK_THAT(parse_error("[flow]\nmax_batch_records = 5000\n"),
                   Catch::Contains("config/casehub.toml:2:1: flow.max_batch_records: max_batch_records (5000) must not exceed credit_records (2000)"));
        CHECK_THAT(parse_error("[flow]\ncommit_max_delay_ms = -1\n"),
                   Catch::Contains("flow.commit_max_delay_ms: -1 is out of range (0 to 10000)"));
        CHECK_THAT(parse_error("[flow]\ncommit_min_delay_ms = 30\n"),
                   Catch::Contains("config/casehub.toml:2:1: flow.commit_min_delay_ms: commit_min_delay_ms (30) must not exceed commit_max_delay_ms (20)"));
        CHECK_THAT(parse_error("[flow]\nrunner_host_timeout_ms = 1500\n"),
                   Catch::Contains("config/casehub.toml:2:1: flow.runner_host_timeout_ms: flow.runner_host_timeout_ms (1500) must be at least twice supervisor.heartbeat_ms (1000)"));
        // Only the heartbeat written: reported there.
        CHECK_THAT(parse_error("[supervisor]\nheartbeat_ms = 6000\nhang_timeout_ms = 60000\n"),
                   Catch::Contains("config/casehub.toml:2:1: supervisor.heartbeat_ms: flow.runner_host_timeout_ms (10000) must be at least twice supervisor.heartbeat_ms (6000)"));
    }
    SECTION("correlation report offsets") {
        CHECK_THAT(parse_error("[correlation]\nreport_offset_m = 80\n"),
                   Catch::Contains("config/casehub.toml:2:1: correlation.report_offset_m: expected a table, got an integer"));
        CHECK_THAT(parse_error("[correlation]\nreport_offset_m = { police = -5 }\n"),
                   Catch::Contains("correlation.report_offset_m.police: -5 is out of range (0 to 10000)"));
        CHECK_THAT(parse_error("[correlation]\nreport_offset_m = { police = \"far\" }\n"),
                   Catch::Contains("correlation.report_offset_m.police: expected a number, got a string"));
    }
    SECTION("adapters") {
        CHECK_THAT(parse_error("\n[[adapters]]\nplugin = \"p\"\n"),
                   Catch::Contains("config/casehub.toml:2:1: adapters[0]: missing required key \"id\""));
        CHECK_THAT(parse_error("[[adapters]]\nid = \"abc\"\n"),
                   Catch::Contains("config/casehub.toml:1:1: adapters[0]: missing required key \"plugin\""));
        CHECK_THAT(parse_error("[[adapters]]\nid = \"Hello\"\nplugin = \"p\"\n"),
                   Catch::Contains("config/casehub.toml:2:1: adapters[0].id: \"Hello\" must match [a-z][a-z0-9_]{1,31}"));
        CHECK_THAT(parse_error("[[adapters]]\nid = \"a\"\nplugin = \"p\"\n"),
                   Catch::Contains("adapters[0].id: \"a\" must match"));
        CHECK_THAT(parse_error("[[adapters]]\nid = \"" + std::string(33, 'a') + "\"\nplugin = \"p\"\n"),
                   Catch::Contains("must match [a-z][a-z0-9_]{1,31}"));
        CHECK(parse_hub_config("[[adapters]]\nid = \"" + std::string(32, 'a') + "\"\nplugin = \"p\"\n", kFile).ok());
        CHECK_THAT(parse_error("[[adapters]]\nid = \"1abc\"\nplugin = \"p\"\n"),
                   Catch::Contains("must match"));
        CHECK_THAT(parse_error("[[adapters]]\nid = 7\nplugin = \"p\"\n"),
                   Catch::Contains("config/casehub.toml:2:1: adapters[0].id: expected a string, got an integer"));
        CHECK_THAT(parse_error(std::string(kAdapter) + "\n" + kAdapter),
                   Catch::Contains("config/casehub.toml:6:1: adapters[1].id: duplicate adapter id \"hello\" (also on line 1)"));
        CHECK_THAT(parse_error("[[adapters]]\nid = \"abc\"\nplugin = \"\"\n"),
                   Catch::Contains("config/casehub.toml:3:1: adapters[0].plugin: must not be empty"));
        CHECK_THAT(parse_error(std::string(kAdapter) + "enabled = \"yes\"\n"),
                   Catch::Contains("config/casehub.toml:4:1: adapters[0].enabled: expected true or false, got a string"));
        CHECK_THAT(parse_error(std::string(kAdapter) + "config = 5\n"),
                   Catch::Contains("config/casehub.toml:4:1: adapters[0].config: expected a table, got an integer"));
        CHECK_THAT(parse_error(std::string(kAdapter) + "[adapters.config]\nx = inf\n"),
                   Catch::Contains("config/casehub.toml:5:5: adapters[0].config.x: inf and nan cannot be passed to a plugin"));
        CHECK_THAT(parse_error(std::string(kAdapter) + "[adapters.config]\nx = [1, nan]\n"),
                   Catch::Contains("adapters[0].config.x[1]: inf and nan cannot be passed to a plugin"));
    }
}

TEST_CASE("hub config: load_hub_config reads files", "[unit]") {
    DataDirEnv env(nullptr);
    TempDir tmp;
    SECTION("missing") {
        auto r = load_hub_config(tmp.path() / "nope.toml");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains((tmp.path() / "nope.toml").string() + ": cannot"));
    }
    SECTION("a directory") {
        auto r = load_hub_config(tmp.path());
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains(tmp.path().string() + ": cannot read: is a directory"));
    }
    SECTION("errors carry the file's name") {
        std::ofstream(tmp.path() / "c.toml") << "[hub]\nbogus = 1\n";
        auto r = load_hub_config(tmp.path() / "c.toml");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == (tmp.path() / "c.toml").string() + ":2:1: hub.bogus: unknown key (known keys: data_dir, store, synchronous, intake_endpoint, control_endpoint, feed_endpoint, snapshot_endpoint, plugin_path, runner, log_level, reference_dir, systems, feed_hwm)");
    }
    SECTION("relative paths are relative to the file") {
        std::ofstream(tmp.path() / "c.toml") << "[hub]\ndata_dir = \"state\"\n";
        auto r = load_hub_config(tmp.path() / "c.toml");
        REQUIRE(r.ok());
        CHECK(r->hub.data_dir == tmp.path() / "state");
    }
}

TEST_CASE("resolve_plugin", "[unit]") {
    DataDirEnv env(nullptr);
    TempDir tmp;
    const fs::path a = tmp.path() / "a", b = tmp.path() / "b";
    touch(a / "one.so");
    touch(b / "one.so");
    touch(b / "two");
    touch(b / "three.so");
    fs::create_directories(b / "dir.so");
    touch(tmp.path() / "conf" / "local" / "mine.so");
    const std::string text = "[hub]\nplugin_path = [\"" + a.string() + "\", \"../b\"]\n";
    const HubConfig c = parse_ok(text, tmp.path() / "conf" / "casehub.toml");

    SECTION("a name: first directory wins, .so first") {
        auto r = resolve_plugin(c, "one");
        REQUIRE(r.ok());
        CHECK(*r == a / "one.so");
        auto r3 = resolve_plugin(c, "three");
        REQUIRE(r3.ok());
        CHECK(*r3 == b / "three.so");
    }
    SECTION("a name without .so") {
        auto r = resolve_plugin(c, "two");
        REQUIRE(r.ok());
        CHECK(*r == b / "two");
        auto r2 = resolve_plugin(c, "three.so");  // the file's full name works too
        REQUIRE(r2.ok());
        CHECK(*r2 == b / "three.so");
    }
    SECTION("not found lists the directories") {
        auto r = resolve_plugin(c, "missing");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == "plugin \"missing\" not found: tried missing.so and missing in " +
                                       a.string() + ", " + b.string());
        auto d = resolve_plugin(c, "dir");  // a directory is not a plugin
        CHECK_FALSE(d.ok());
    }
    SECTION("a path, relative to the config file's directory") {
        auto r = resolve_plugin(c, "./local/mine.so");
        REQUIRE(r.ok());
        CHECK(*r == tmp.path() / "conf" / "local" / "mine.so");
        CHECK(r->is_absolute());
        auto abs = resolve_plugin(c, (b / "two").string());
        REQUIRE(abs.ok());
        CHECK(*abs == b / "two");
        auto missing = resolve_plugin(c, "./local/other.so");
        REQUIRE_FALSE(missing.ok());
        CHECK(missing.error().message == "plugin \"./local/other.so\": " +
                                             (tmp.path() / "conf" / "local" / "other.so").string() +
                                             " does not exist");
        auto dir = resolve_plugin(c, (b / "dir.so").string());
        REQUIRE_FALSE(dir.ok());
        CHECK_THAT(dir.error().message, Catch::Contains("is not a regular file"));
    }
    SECTION("empty name, empty plugin_path") {
        auto r = resolve_plugin(c, "");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("plugin: the name is empty"));
        const HubConfig none = parse_ok("[hub]\nplugin_path = []\n");
        auto n = resolve_plugin(none, "x");
        REQUIRE_FALSE(n.ok());
        CHECK(n.error().message == "plugin \"x\" not found: hub.plugin_path is empty");
    }
}

TEST_CASE("hub: feed endpoints, reference data and extra systems", "[unit]") {
    auto cfg = casehub::host::parse_hub_config(
        "[hub]\nsystems = [\"hello\", \"seq2\"]\nreference_dir = \"ref\"\n", "/etc/casehub/casehub.toml");
    REQUIRE(cfg.ok());
    CHECK(cfg->hub.systems == std::vector<std::string>{"hello", "seq2"});
    CHECK(cfg->hub.reference_dir == "/etc/casehub/ref");
    CHECK(cfg->hub.feed_endpoint.rfind("ipc://", 0) == 0);
    CHECK(cfg->hub.feed_endpoint.find("feed.sock") != std::string::npos);
    CHECK(cfg->hub.snapshot_endpoint.find("snapshot.sock") != std::string::npos);
    auto bad = casehub::host::parse_hub_config("[hub]\nsystems = [\"Bad-Id\"]\n", "c.toml");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error().message, Catch::Contains("hub.systems"));
    auto same = casehub::host::parse_hub_config(
        "[hub]\nfeed_endpoint = \"tcp://127.0.0.1:5000\"\nsnapshot_endpoint = \"tcp://127.0.0.1:5000\"\n", "c.toml");
    REQUIRE_FALSE(same.ok());
    CHECK_THAT(same.error().message, Catch::Contains("snapshot_endpoint and feed_endpoint"));
}
