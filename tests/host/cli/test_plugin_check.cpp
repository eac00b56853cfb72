// `casehub-plugin-check` as a vendor runs it: the real binary (build/bin), as a subprocess,
// against a good plugin and against deliberately broken ones (tests/plugins/broken). A broken
// plugin gives a non-zero exit and the reason in the output; a crash is reported, not fatal.
#include "../../support/process.hpp"

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

using Catch::Matchers::Contains;
using casehub::test::Run;
using casehub::test::run;

namespace {

const std::string kCheck = std::string(CASEHUB_BINARY_DIR) + "/bin/casehub-plugin-check";
const std::string kCasehub = std::string(CASEHUB_BINARY_DIR) + "/bin/casehub";

std::string test_plugin(const std::string& name) {
    return std::string(CASEHUB_TEST_PLUGIN_DIR) + "/" + name + ".so";
}


Run check(const std::string& plugin, std::vector<std::string> extra = {"--seconds", "0.3"}) {
    std::vector<std::string> args{kCheck, plugin};
    args.insert(args.end(), extra.begin(), extra.end());
    Run r = run(args);
    UNSCOPED_INFO("casehub-plugin-check " << plugin << " exited " << r.exit_code << ":\n" << r.output);
    return r;
}

}  // namespace

TEST_CASE("plugin check: hello_adapter passes", "[integration]") {
    Run r = check(std::string(CASEHUB_BINARY_DIR) + "/plugins/hello_adapter.so", {"--seconds", "1"});
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Contains("OK"));
    CHECK_THAT(r.output, Contains("name        "));
    CHECK_THAT(r.output, !Contains("FAIL"));
}

TEST_CASE("plugin check: `casehub plugin check` is the same tool", "[integration]") {
    Run r = run({kCasehub, "plugin", "check", test_plugin("broken_abi_major"), "--seconds", "0.3"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("ABI major 2"));
}

TEST_CASE("plugin check: a missing file fails with the path", "[integration]") {
    const std::string file = test_plugin("does_not_exist");
    Run r = check(file);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Contains("FAIL " + file + ": no such file"));
}

TEST_CASE("plugin check: a file that is not a library fails with the path", "[integration]") {
    const std::string file = test_plugin("not_a_library");
    Run r = check(file);
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Contains(file));
    CHECK_THAT(r.output, Contains("not a loadable shared library"));
}

TEST_CASE("plugin check: a plugin the loader refuses fails with the reason", "[integration]") {
    struct Case {
        const char* plugin;
        const char* reason;
    };
    for (const Case& c : {Case{"broken_no_entry", "no entry symbol casehub_plugin_entry"},
                          Case{"broken_abi_major", "ABI major 2"},
                          Case{"broken_abi_minor", "newer than this host's"},
                          Case{"broken_too_small", "requires at least"},
                          Case{"broken_entry_throws", "threw an exception"},
                          Case{"broken_bad_schema", "invalid configuration description"}}) {
        const std::string file = test_plugin(c.plugin);
        Run r = check(file);
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.output, Contains("FAIL " + file + ": "));
        CHECK_THAT(r.output, Contains(c.reason));
    }
}

TEST_CASE("plugin check: a configuration that does not satisfy the schema fails", "[integration]") {
    const std::string file = test_plugin("broken_required_config");
    Run r = check(file);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("missing required key"));
    CHECK_THAT(r.output, Contains("url"));

    // Given the option, the same plugin passes (it emits nothing, which is only a warning).
    Run ok = check(file, {"--seconds", "0.2", "--set", "url=http://127.0.0.1:9/"});
    CHECK(ok.exit_code == 0);
    CHECK_THAT(ok.output, Contains("WARN"));
    CHECK_THAT(ok.output, Contains("OK"));
}

TEST_CASE("plugin check: a create that fails shows the plugin's message", "[integration]") {
    Run r = check(test_plugin("broken_create_fails"));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("create failed"));
    CHECK_THAT(r.output, Contains("cannot reach http://127.0.0.1:9/api"));
}

TEST_CASE("plugin check: a create that returns a garbage status fails", "[integration]") {
    Run r = check(test_plugin("broken_garbage_status"));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("12345"));
}

TEST_CASE("plugin check: a create that returns OK without an instance fails", "[integration]") {
    Run r = check(test_plugin("broken_garbage_instance"));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("create returned CASEHUB_OK but no instance"));
}

TEST_CASE("plugin check: a garbage error message is reported on one line", "[integration]") {
    // The plugin fills the whole error buffer with newlines and tabs and no NUL.
    Run r = check(test_plugin("broken_garbage_message"));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, !Contains("crashed"));
    CHECK_THAT(r.output, Contains("FAIL create failed (status 4): line one line two"));
}

TEST_CASE("plugin check: a plugin that crashes in poll is reported, not fatal", "[integration]") {
    const std::string file = test_plugin("broken_crash_in_poll");
    Run r = check(file);
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("FAIL " + file));
    CHECK_THAT(r.output, Contains("crashed"));
    CHECK_THAT(r.output, Contains("Segmentation fault"));
}

TEST_CASE("plugin check: a plugin that throws is reported with the exception", "[integration]") {
    for (const char* name : {"broken_poll_throws", "broken_create_throws"}) {
        const std::string file = test_plugin(name);
        Run r = check(file);
        CHECK(r.exit_code == 1);
        CHECK_THAT(r.output, Contains("FAIL " + file));
        CHECK_THAT(r.output, Contains("exception"));
    }
    Run r = check(test_plugin("broken_poll_throws"));
    CHECK_THAT(r.output, Contains("broken_poll_throws: thrown from poll"));
}

TEST_CASE("plugin check: an invalid record fails with its reason code", "[integration]") {
    Run r = check(test_plugin("broken_bad_record"));
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Contains("1 records in 1 batches"));
    CHECK_THAT(r.output, Contains("missing_field"));
}
