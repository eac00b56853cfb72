// The loader refuses every deliberately broken plugin (tests/plugins/broken) with ONE line that
// names the file and the reason, and the process (the hub) keeps running: after all of them a
// good plugin still loads and runs.
#include "config/config_schema.hpp"
#include "loader/plugin_loader.hpp"

#include <casehub/plugin_abi.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

using casehub::host::load_plugin;
using casehub::host::LoadedPlugin;
using casehub::host::PluginInstance;
using Catch::Matchers::Contains;
using json = nlohmann::json;

namespace {

std::string plugin_path(const std::string& name) {
    return std::string(CASEHUB_TEST_PLUGIN_DIR) + "/" + name + ".so";
}

// The shape every refusal must have: one line, naming the file.
void check_one_line(const std::string& msg, const std::string& file) {
    INFO("message: " << msg);
    CHECK_FALSE(msg.empty());
    CHECK(msg.find('\n') == std::string::npos);
    CHECK(msg.find('\r') == std::string::npos);
    CHECK_THAT(msg, Contains(file));
}

// Loads `name` expecting a refusal whose message holds every one of `reasons`; returns it.
std::string refused(const std::string& name, std::initializer_list<const char*> reasons) {
    const std::string file = plugin_path(name);
    auto p = load_plugin(file);
    INFO("plugin: " << file);
    REQUIRE_FALSE(p.ok());
    const std::string msg = p.error().message;
    check_one_line(msg, file);
    for (const char* r : reasons) CHECK_THAT(msg, Contains(r));
    return msg;
}

// Loads a plugin that must load; fails the test with the loader's message otherwise.
LoadedPlugin must_load(const std::string& name) {
    auto p = load_plugin(plugin_path(name));
    if (!p.ok()) FAIL(p.error().message);
    return std::move(p).value();
}

// A minimal host API for PluginInstance: records what the plugin emits.
struct TestHost {
    casehub_host_api api{};
    std::vector<std::string> records;
    std::string cursor;

    TestHost() {
        api.struct_size = sizeof api;
        api.abi_major = CASEHUB_ABI_MAJOR;
        api.abi_minor = CASEHUB_ABI_MINOR;
        api.emit = [](casehub_host* h, const casehub_batch* b, uint64_t* id,
                      casehub_error*) noexcept -> casehub_status {
            auto* self = reinterpret_cast<TestHost*>(h);
            for (std::size_t i = 0; i < b->record_count; ++i)
                self->records.emplace_back(b->records[i].data, b->records[i].len);
            self->cursor.assign(b->cursor.data ? b->cursor.data : "", b->cursor.len);
            if (id != nullptr) *id = self->records.size();
            return CASEHUB_OK;
        };
        api.dead_letter = [](casehub_host*, const casehub_dead_letter*,
                             casehub_error*) noexcept -> casehub_status { return CASEHUB_OK; };
        api.log = [](casehub_host*, int32_t, const char*, size_t) noexcept {};
        api.set_health = [](casehub_host*, int32_t, const char*) noexcept {};
        api.now_ms = [](casehub_host*) noexcept -> int64_t {
            return std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                .count();
        };
        api.stop_requested = [](casehub_host*) noexcept -> int32_t { return 0; };
    }
    casehub_host* self() { return reinterpret_cast<casehub_host*>(this); }
};

// Creates an instance of `name` expecting a refusal; returns the message.
std::string create_refused(const std::string& name, std::initializer_list<const char*> reasons,
                           const json& config = json::object()) {
    const std::string file = plugin_path(name);
    auto plugin = must_load(name);
    TestHost host;
    auto inst = PluginInstance::create(plugin, &host.api, host.self(), config);
    INFO("plugin: " << file);
    REQUIRE_FALSE(inst.ok());
    const std::string msg = inst.error().message;
    check_one_line(msg, file);
    for (const char* r : reasons) CHECK_THAT(msg, Contains(r));
    return msg;
}

}  // namespace

// ---- Refused before anything of the plugin runs ------------------------------------------------

TEST_CASE("loader: a missing file is refused", "[runtime]") {
    const std::string file = plugin_path("does_not_exist");
    auto p = load_plugin(file);
    REQUIRE_FALSE(p.ok());
    check_one_line(p.error().message, file);
    CHECK_THAT(p.error().message, Contains("no such file"));
}

TEST_CASE("loader: a directory is refused", "[runtime]") {
    auto p = load_plugin(CASEHUB_TEST_PLUGIN_DIR);
    REQUIRE_FALSE(p.ok());
    check_one_line(p.error().message, CASEHUB_TEST_PLUGIN_DIR);
    CHECK_THAT(p.error().message, Contains("not a regular file"));
}

TEST_CASE("loader: a file that is not a shared library is refused", "[runtime]") {
    refused("not_a_library", {"not a loadable shared library"});
}

TEST_CASE("loader: a library without the entry symbol is refused", "[runtime]") {
    refused("broken_no_entry", {"no entry symbol casehub_plugin_entry"});
}

TEST_CASE("loader: an entry point that returns NULL is refused", "[runtime]") {
    refused("broken_entry_null", {"casehub_plugin_entry returned NULL", "ABI 1."});
}

TEST_CASE("loader: an entry point that throws is refused, not fatal", "[runtime]") {
    refused("broken_entry_throws", {"casehub_plugin_entry threw an exception"});
}

// ---- Refused for what the descriptor says --------------------------------------------------------

TEST_CASE("loader: a different ABI major is refused", "[runtime]") {
    refused("broken_abi_major", {"ABI major 2", "this host speaks major 1"});
}

TEST_CASE("loader: a newer ABI minor is refused", "[runtime]") {
    const std::string newer = "ABI 1." + std::to_string(CASEHUB_ABI_MINOR + 1);
    refused("broken_abi_minor", {newer.c_str(), "newer than this host's"});
}

TEST_CASE("loader: a descriptor too small for its version is refused", "[runtime]") {
    const std::string need = "requires at least " + std::to_string(CASEHUB_DESCRIPTOR_SIZE_1_0);
    refused("broken_too_small", {"descriptor is 16 bytes", "ABI 1.0", need.c_str()});
}

TEST_CASE("loader: a descriptor with a garbage size is refused", "[runtime]") {
    refused("broken_garbage_struct", {"4294967295 bytes", "garbage"});
}

TEST_CASE("loader: a descriptor with a garbage kind is refused", "[runtime]") {
    refused("broken_bad_kind", {"descriptor.kind is 7"});
}

TEST_CASE("loader: a name that is not reverse-DNS is refused", "[runtime]") {
    refused("broken_bad_name", {"'Not Reverse DNS'", "not a reverse-DNS name"});
}

TEST_CASE("loader: a version that is not semver is refused", "[runtime]") {
    refused("broken_bad_version", {"'1.0'", "MAJOR.MINOR.PATCH"});
}

TEST_CASE("loader: a descriptor without a function table is refused", "[runtime]") {
    refused("broken_null_vtable", {"descriptor.vtable is NULL"});
}

TEST_CASE("loader: a source without poll is refused", "[runtime]") {
    refused("broken_missing_poll", {"function table: poll is NULL"});
}

TEST_CASE("loader: a configuration description that is not JSON is refused", "[runtime]") {
    refused("broken_bad_schema", {"invalid configuration description", "invalid JSON"});
}

TEST_CASE("loader: a configuration description with an undocumented option is refused",
          "[runtime]") {
    refused("broken_schema_no_help", {"invalid configuration description", "\"url\"", "help"});
}

// ---- Loads, but the configuration or the plugin's code fails -------------------------------------

TEST_CASE("loader: a configuration that does not satisfy the description is refused",
          "[runtime]") {
    auto plugin = must_load("broken_required_config");
    const std::string where = plugin.path().string() + ": config";

    auto missing = casehub::host::apply_config_schema(plugin.schema(), json::object(), where);
    REQUIRE_FALSE(missing.ok());
    check_one_line(missing.error().message, plugin.path().string());
    CHECK_THAT(missing.error().message, Contains("missing required key"));
    CHECK_THAT(missing.error().message, Contains("url"));

    auto wrong = casehub::host::apply_config_schema(plugin.schema(), json{{"url", 42}}, where);
    REQUIRE_FALSE(wrong.ok());
    check_one_line(wrong.error().message, plugin.path().string());
    CHECK_THAT(wrong.error().message, Contains("url"));
    CHECK_THAT(wrong.error().message, Contains("expected string"));

    auto unknown = casehub::host::apply_config_schema(
        plugin.schema(), json{{"url", "http://x"}, {"urll", "http://x"}}, where);
    REQUIRE_FALSE(unknown.ok());
    CHECK_THAT(unknown.error().message, Contains("urll"));

    // Satisfied, the same plugin creates, starts, polls and stops.
    auto ok = casehub::host::apply_config_schema(plugin.schema(), json{{"url", "http://x"}}, where);
    REQUIRE(ok.ok());
    TestHost host;
    auto inst = PluginInstance::create(plugin, &host.api, host.self(), *ok);
    REQUIRE(inst.ok());
    REQUIRE((*inst)->start("").ok());
    CHECK((*inst)->poll(10).status == CASEHUB_OK);
    CHECK((*inst)->stop().ok());
}

TEST_CASE("loader: a create that fails is reported with the plugin's message", "[runtime]") {
    create_refused("broken_create_fails",
                   {"create failed (CASEHUB_ERR_CONFIG)", "cannot reach http://127.0.0.1:9/api"});
}

TEST_CASE("loader: a create that throws is reported, not fatal", "[runtime]") {
    create_refused("broken_create_throws", {"create threw an exception"});
}

TEST_CASE("loader: a create that returns a garbage status is refused", "[runtime]") {
    create_refused("broken_garbage_status", {"create returned unknown status 12345", "garbage"});
}

TEST_CASE("loader: a create that returns OK without an instance is refused", "[runtime]") {
    create_refused("broken_garbage_instance", {"create returned CASEHUB_OK but no instance"});
}

TEST_CASE("loader: a garbage error message is still one line", "[runtime]") {
    // The plugin fills the whole buffer with newlines and tabs and no NUL.
    create_refused("broken_garbage_message",
                   {"create failed (CASEHUB_ERR_IO)", "line one line two"});
}

TEST_CASE("loader: a poll that throws is reported, not fatal", "[runtime]") {
    auto plugin = must_load("broken_poll_throws");
    TestHost host;
    auto inst = PluginInstance::create(plugin, &host.api, host.self(), json::object());
    REQUIRE(inst.ok());
    REQUIRE((*inst)->start("").ok());
    auto out = (*inst)->poll(10);
    CHECK(out.status == CASEHUB_ERR_INTERNAL);
    check_one_line(out.message, plugin.path().string());
    CHECK_THAT(out.message, Contains("poll threw an exception"));
}

// ---- The good case, and the hub keeps running -----------------------------------------------------

TEST_CASE("loader: seq_source loads, describes itself and runs", "[runtime]") {
    const std::string file = plugin_path("seq_source");
    auto plugin = must_load("seq_source");
    CHECK(plugin.name() == "org.casehub.test.seq");
    CHECK(plugin.version() == "1.0.0");
    CHECK(plugin.kind() == "source");
    const json d = plugin.describe();
    CHECK(d["path"] == file);
    CHECK(d["abi"] == std::to_string(CASEHUB_ABI_MAJOR) + "." + std::to_string(CASEHUB_ABI_MINOR));
    CHECK(d["kind"] == "source");
    CHECK(plugin.schema().find("count") != nullptr);
    CHECK(plugin.schema().find("rate_per_second") != nullptr);

    auto config = casehub::host::apply_config_schema(plugin.schema(), json{{"count", 5}}, "seq");
    REQUIRE(config.ok());
    TestHost host;
    auto inst = PluginInstance::create(plugin, &host.api, host.self(), *config);
    if (!inst.ok()) FAIL(inst.error().message);
    REQUIRE((*inst)->start("").ok());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (host.records.size() < 5 && std::chrono::steady_clock::now() < deadline) {
        auto out = (*inst)->poll(20);
        REQUIRE(out.status == CASEHUB_OK);
    }
    CHECK(host.records.size() == 5);
    CHECK(host.cursor == "6");
    CHECK((*inst)->stop().ok());
}

TEST_CASE("loader: after every refusal the process still loads good plugins", "[runtime]") {
    for (const char* name :
         {"not_a_library", "broken_no_entry", "broken_entry_null", "broken_entry_throws",
          "broken_abi_major", "broken_abi_minor", "broken_too_small", "broken_garbage_struct",
          "broken_bad_kind", "broken_bad_name", "broken_bad_version", "broken_null_vtable",
          "broken_missing_poll", "broken_bad_schema", "broken_schema_no_help"}) {
        INFO(name);
        auto p = load_plugin(plugin_path(name));
        CHECK_FALSE(p.ok());
    }
    // Loading the same broken file twice gives the same answer (nothing cached wrongly).
    CHECK(load_plugin(plugin_path("broken_abi_major")).error().message ==
          load_plugin(plugin_path("broken_abi_major")).error().message);
    // And valid plugins still load: the refusals left nothing behind.
    auto a = must_load("broken_required_config");
    auto b = must_load("broken_poll_throws");
    CHECK(a.name() == b.name());  // same name, two libraries, RTLD_LOCAL keeps them apart
    CHECK(&a.descriptor() != &b.descriptor());
}
