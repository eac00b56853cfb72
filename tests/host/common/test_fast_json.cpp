// parse_json_fast must give nlohmann::json::parse's value exactly (types included) or decline:
// the pipeline parses every record with it and nlohmann takes over only when it declines.
#include "common/fast_json.hpp"
#include "json_identical.hpp"
#include "random_json.hpp"

#include <casehub/sdk/record_check.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

using casehub::host::parse_json;
using casehub::host::parse_json_fast;
using casehub::host::parse_json_members;
using casehub::test::random_value;
using nlohmann::json;

namespace {

// nlohmann's verdict on `text`: its value, or discarded when it throws.
json reference(const std::string& text) {
    try {
        return json::parse(text);
    } catch (const json::exception&) {
        return json(json::value_t::discarded);
    }
}

// The members the tests below keep: keys random_value() makes, and one with an escape.
const std::initializer_list<std::string_view> kKeys = {"a", "", "长乐路88号", "status", "k\"ey"};

// `j` with only the members named in kKeys when it is an object: what parse_json_members keeps.
json only_keys(json j) {
    if (!j.is_object()) return j;
    for (auto it = j.begin(); it != j.end();)
        it = std::find(kKeys.begin(), kKeys.end(), it.key()) == kKeys.end() ? j.erase(it) : std::next(it);
    return j;
}

// The members-only reading of `text` against the whole reading, `want` (nlohmann's verdict).
void members_agree(const std::string& text, const json& want) {
    json got;
    const bool fast = parse_json_fast(text, got, kKeys);
    if (want.is_discarded()) {
        CHECK_FALSE(fast);
        CHECK(parse_json_members(text, kKeys).is_discarded());
        return;
    }
    if (fast) CHECK(casehub::test::json_identical(got, only_keys(want)));
    CHECK(casehub::test::json_identical(parse_json_members(text, kKeys), only_keys(want)));
}

// What the contract says, for one text; returns whether the fast path took it.
bool agrees(const std::string& text) {
    if (casehub::sdk::nesting_exceeds(text, 1000)) {  // beyond simdjson's limit; not compared
        json ignored;                                  // (the comparison recurses per level)
        CHECK_FALSE(parse_json_fast(text, ignored));
        return false;
    }
    const json want = reference(text);
    json got;
    const bool fast = parse_json_fast(text, got);
    INFO("text: " << text);
    members_agree(text, want);
    if (want.is_discarded()) {
        CHECK_FALSE(fast);  // nlohmann refuses it: so must the fast path
        CHECK(parse_json(text).is_discarded());
        return fast;
    }
    if (fast) CHECK(casehub::test::json_identical(got, want));
    CHECK(casehub::test::json_identical(parse_json(text), want));
    return fast;
}

}  // namespace

TEST_CASE("parse_json_fast: numbers, strings, keys and layouts as nlohmann reads them", "[unit]") {
    const std::vector<std::string> taken = {
        "{}", "[]", "0", "7", "-7", "18446744073709551615", "9223372036854775807", "9223372036854775808",
        "-9223372036854775808", "1.0", "1E5", "1e-7", "-2.5", "0.1", "5e-324", "1.7976931348623157e308",
        "123456.789", "true", "false", "null", R"("")", R"("中文 \"q\" \\ \/ \n \u0001 \u001f \u00e9 \ud83d\ude00")",
        R"("\u0000 nul")", R"({"b":1,"a":2})", R"({"a":1,"a":2})", R"({"a":{"x":1},"a":[2]})",
        " \t\r\n{ \"a\" : [ 1 , 2 ] } \n", R"({"deep":[[[[[[[[[[{"x":[]}]]]]]]]]]]})",
        R"({"date":"2026-05-01T08:00:00+08:00","n":0,"m":[0,-1]})", R"({"k\"ey":1})"};
    for (const auto& t : taken) CHECK(agrees(t));
    // Declined (and read by nlohmann): what the two could read differently.
    const std::vector<std::string> declined = {"-0", "[-0]", R"({"a":-0,"b":0})", "-0.0", "-0e3",
                                               "18446744073709551616", "-9223372036854775809",
                                               "123456789012345678901234567890"};
    for (const auto& t : declined) CHECK_FALSE(agrees(t));
    // Not JSON: declined, and nlohmann refuses it too.
    const std::vector<std::string> bad = {"", " ", "{", "[1,]", "{\"a\":}", "01", "1.", ".5", "+1", "1e400",
                                          "nul", "\"unterminated", "\"\\x\"", R"("\ud800")", R"("\udc00")",
                                          R"("\ud800\u0041")", "\"bad \xff\"", "\"ctl \x01\"", "[1] [2]",
                                          "{\"a\":1}x", "// c\n{}", "NaN", "Infinity"};
    for (const auto& t : bad) CHECK_FALSE(agrees(t));
}

TEST_CASE("parse_json_members: only the named members of an object, each as parse_json reads it", "[unit]") {
    json got;
    REQUIRE(parse_json_fast(R"({"status":"new","times":{"a":1},"a":[1,{"b":2}],"z":{"deep":[1,2,3]}})", got, kKeys));
    CHECK(got == json::parse(R"({"status":"new","a":[1,{"b":2}]})"));
    // A repeated key: the last one wins, as in the whole reading; one not named is dropped even so.
    CHECK(parse_json_members(R"({"a":1,"x":2,"a":3,"x":4})", kKeys) == json::parse(R"({"a":3})"));
    // None of the keys: an empty object. Not an object: the whole value.
    CHECK(parse_json_members(R"({"x":1})", kKeys) == json::object());
    CHECK(parse_json_members("[1,2]", kKeys) == json::parse("[1,2]"));
    // A member not converted is still read as JSON: a text nlohmann refuses is refused.
    CHECK(parse_json_members(R"({"a":1,"x":[1,]})", kKeys).is_discarded());
    // Declined by the fast path ("-0" anywhere): nlohmann reads it, and the same members are kept.
    CHECK_FALSE(parse_json_fast(R"({"a":-0,"x":-0})", got, kKeys));
    const json slow = parse_json_members(R"({"a":-0,"x":-0})", kKeys);
    CHECK(slow.size() == 1);
    CHECK(casehub::test::json_identical(slow["a"], json::parse("-0")));
    // No keys: everything, as parse_json_fast(text, out).
    REQUIRE(parse_json_fast(R"({"x":1,"y":[true]})", got, {}));
    CHECK(got == json::parse(R"({"x":1,"y":[true]})"));
}

TEST_CASE("parse_json_fast: 20,000 random documents, compact, indented and ASCII-escaped", "[unit]") {
    std::mt19937 rng(20261129);
    int fast = 0, texts = 0;
    for (int i = 0; i < 20000; ++i) {
        const json j = random_value(rng, 0);
        const std::string text = i % 3 == 0 ? j.dump() : i % 3 == 1 ? j.dump(2) : j.dump(-1, ' ', true);
        ++texts;
        if (agrees(text)) ++fast;
        else CHECK(text.find("-0") != std::string::npos);  // the only reason a valid text is declined
    }
    INFO(fast << " of " << texts << " through simdjson");
    CHECK(fast > texts * 9 / 10);
}

TEST_CASE("parse_json_fast: the record corpus (valid and invalid records)", "[unit]") {
    int files = 0, fast = 0;
    for (const auto& f : std::filesystem::directory_iterator(CASEHUB_RECORD_CORPUS)) {
        std::ifstream in(f.path(), std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), {});
        ++files;
        if (agrees(text)) ++fast;
    }
    INFO(fast << " of " << files << " records through simdjson");
    CHECK(files >= 50);
    CHECK(fast >= files / 2);
}
