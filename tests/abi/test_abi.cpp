// The plugin ABI is a promise to vendors: these tests fail when it changes by accident.
#include <casehub/plugin_abi.h>
#include <casehub/sdk/sha256.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("the ABI header matches the hash recorded for its version", "[abi]") {
    const std::string header = slurp(CASEHUB_SOURCE_DIR "/sdk/include/casehub/plugin_abi.h");
    REQUIRE(!header.empty());
    std::map<std::string, std::string> lock;
    std::istringstream lines(slurp(CASEHUB_SOURCE_DIR "/sdk/abi/plugin_abi.lock"));
    for (std::string line; std::getline(lines, line);) {
        if (line.empty() || line[0] == '#') continue;
        auto sp = line.find(' ');
        REQUIRE(sp != std::string::npos);
        REQUIRE(lock.emplace(line.substr(0, sp), line.substr(sp + 1)).second);  // no version twice
    }
    const std::string version = std::to_string(CASEHUB_ABI_MAJOR) + "." + std::to_string(CASEHUB_ABI_MINOR);
    INFO("plugin_abi.h declares ABI " << version);
    REQUIRE(lock.count(version) == 1);  // a new version needs its line in sdk/abi/plugin_abi.lock
    INFO("plugin_abi.h changed without a version bump: append members only, bump "
         "CASEHUB_ABI_MINOR (or MAJOR for a break) and add a line to sdk/abi/plugin_abi.lock");
    CHECK(casehub::sdk::sha256_hex(header) == lock[version]);
}

// Offsets as ABI 1.0 fixed them on LP64 (x86_64, aarch64). A reorder or retype fails here even
// if someone also updated the hash.
TEST_CASE("ABI 1.0 struct layout is unchanged", "[abi]") {
#if UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
    CHECK(offsetof(casehub_plugin_descriptor, struct_size) == 0);
    CHECK(offsetof(casehub_plugin_descriptor, abi_major) == 4);
    CHECK(offsetof(casehub_plugin_descriptor, abi_minor) == 8);
    CHECK(offsetof(casehub_plugin_descriptor, kind) == 12);
    CHECK(offsetof(casehub_plugin_descriptor, name) == 16);
    CHECK(offsetof(casehub_plugin_descriptor, version) == 24);
    CHECK(offsetof(casehub_plugin_descriptor, description) == 32);
    CHECK(offsetof(casehub_plugin_descriptor, config_schema) == 40);
    CHECK(offsetof(casehub_plugin_descriptor, capabilities) == 48);
    CHECK(offsetof(casehub_plugin_descriptor, vtable) == 56);
    CHECK(CASEHUB_DESCRIPTOR_SIZE_1_0 == 64);

    CHECK(offsetof(casehub_plugin_vtable, create) == 8);
    CHECK(offsetof(casehub_plugin_vtable, start) == 16);
    CHECK(offsetof(casehub_plugin_vtable, poll) == 24);
    CHECK(offsetof(casehub_plugin_vtable, acked) == 32);
    CHECK(offsetof(casehub_plugin_vtable, write_back) == 40);
    CHECK(offsetof(casehub_plugin_vtable, consume) == 48);
    CHECK(offsetof(casehub_plugin_vtable, stop) == 56);
    CHECK(offsetof(casehub_plugin_vtable, destroy) == 64);
    CHECK(CASEHUB_VTABLE_SIZE_1_0 == 72);

    CHECK(offsetof(casehub_host_api, emit) == 16);
    CHECK(offsetof(casehub_host_api, dead_letter) == 24);
    CHECK(offsetof(casehub_host_api, log) == 32);
    CHECK(offsetof(casehub_host_api, set_health) == 40);
    CHECK(offsetof(casehub_host_api, now_ms) == 48);
    CHECK(offsetof(casehub_host_api, stop_requested) == 56);
    CHECK(CASEHUB_HOST_API_SIZE_1_0 == 64);

    CHECK(offsetof(casehub_batch, records) == 8);
    CHECK(offsetof(casehub_batch, record_count) == 16);
    CHECK(offsetof(casehub_batch, cursor) == 24);
    CHECK(CASEHUB_BATCH_SIZE_1_0 == 40);

    CHECK(offsetof(casehub_dead_letter, reason) == 8);
    CHECK(offsetof(casehub_dead_letter, detail) == 16);
    CHECK(offsetof(casehub_dead_letter, native) == 24);
    CHECK(offsetof(casehub_dead_letter, cursor) == 40);
    CHECK(CASEHUB_DEAD_LETTER_SIZE_1_0 == 56);
#else
    WARN("layout offsets are recorded for LP64 only");
#endif
}

TEST_CASE("CASEHUB_HAS_MEMBER reads only what the writer's struct_size covers", "[abi]") {
    casehub_host_api api{};
    api.struct_size = static_cast<uint32_t>(CASEHUB_HOST_API_SIZE_1_0);
    CHECK(CASEHUB_HAS_MEMBER(&api, casehub_host_api, stop_requested));
    api.struct_size = static_cast<uint32_t>(offsetof(casehub_host_api, stop_requested));
    CHECK_FALSE(CASEHUB_HAS_MEMBER(&api, casehub_host_api, stop_requested));
    CHECK(CASEHUB_HAS_MEMBER(&api, casehub_host_api, now_ms));
}
