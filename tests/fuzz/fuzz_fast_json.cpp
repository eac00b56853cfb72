// Fuzz target: parse_json_fast (host/common/fast_json.hpp), differential against nlohmann.
//
// Input: any bytes, as a record's text would reach the hub.
// Invariants (any violation traps):
//   - parse_json_fast never throws;
//   - when it takes a text, nlohmann::json::parse takes it too and gives the same value with
//     the same number types (floats bit for bit);
//   - parse_json() (fast, else nlohmann) is nlohmann's verdict in every case;
//   - parse_json_members() is that verdict with the members not named erased.
#include "common/fast_json.hpp"

#include <casehub/sdk/record_check.hpp>
#include "../host/common/json_identical.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    if (casehub::sdk::nesting_exceeds(text, 1000)) {
        // Beyond simdjson's depth limit (1024): always declined. (Not compared: the comparison
        // recurses once per level.)
        json ignored;
        FUZZ_CHECK(!casehub::host::parse_json_fast(text, ignored), "parse_json_fast took a text nested 1000 deep");
        return 0;
    }
    json want;
    bool valid = true;
    try {
        want = json::parse(text);
    } catch (const json::exception&) {
        valid = false;
    }
    json got;
    bool fast = false;
    casehub::fuzz::never_throws(__FILE__, __LINE__, [&] { fast = casehub::host::parse_json_fast(text, got); });
    FUZZ_CHECK(!fast || valid, "parse_json_fast took a text nlohmann refuses");
    FUZZ_CHECK(!fast || casehub::test::json_identical(got, want), "parse_json_fast read a value nlohmann reads otherwise");
    json either;
    casehub::fuzz::never_throws(__FILE__, __LINE__, [&] { either = casehub::host::parse_json(text); });
    FUZZ_CHECK(valid ? casehub::test::json_identical(either, want) : either.is_discarded(), "parse_json is not nlohmann's verdict");
    json some;
    casehub::fuzz::never_throws(__FILE__, __LINE__, [&] { some = casehub::host::parse_json_members(text, {"a", "", "status"}); });
    if (valid && want.is_object())
        for (auto it = want.begin(); it != want.end();)
            it = it.key() == "a" || it.key().empty() || it.key() == "status" ? std::next(it) : want.erase(it);
    FUZZ_CHECK(valid ? casehub::test::json_identical(some, want) : some.is_discarded(),
               "parse_json_members is not nlohmann's verdict with the other members erased");
    return 0;
}
