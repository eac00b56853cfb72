// dump_json must be nlohmann's dump(), byte for byte: stores, feeds and tests compare documents
// as bytes.
#include "common/json_dump.hpp"
#include "random_json.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

using casehub::host::dump_json;
using casehub::test::random_value;
using nlohmann::json;


TEST_CASE("dump_json writes what nlohmann's dump writes, for 5,000 random documents", "[unit]") {
    std::mt19937 rng(20261128);
    for (int i = 0; i < 5000; ++i) {
        const json j = random_value(rng, 0);
        const std::string want = j.dump();
        REQUIRE(dump_json(j) == want);
    }
}

TEST_CASE("dump_json: every control character, and the text of a real record", "[unit]") {
    std::string all;
    for (int c = 0; c < 0x80; ++c) all += static_cast<char>(c);
    const json j = {{"all", all}, {"zh", "秦淮区夫子庙街道长乐路88号门口有暴露垃圾，堆了好几天"}, {"n", {1, -2, 3.5}}};
    CHECK(dump_json(j) == j.dump());
    // Three-byte characters at the edges of the shortcut for E1–EC / EE–EF leads, and E0 / ED.
    const json edges = {{"k", "\xe1\x80\x80 \xec\xbf\xbf \xee\x80\x80 \xef\xbf\xbf \xe0\xa0\x80 \xed\x9f\xbf 中"}};
    CHECK(dump_json(edges) == edges.dump());
    CHECK(dump_json(json::object()) == "{}");
    CHECK(dump_json(json::array()) == "[]");
    CHECK(dump_json(json("")) == "\"\"");
}

TEST_CASE("dump_json: a string that is not UTF-8 fails as dump() does, or is replaced as it would be", "[unit]") {
    // Alone, and inside longer text with escapes around it.
    const std::string zh = "秦淮区夫子庙街道长乐路88号", tail = "\"quote\\ \t";
    for (const std::string bad : {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe4\xb8",
                                  "\xe4\x41\x80", "\xe4\xb8\x41", "\xe0\x80\x80", "\xee\x80", "\xef"}) {
        for (const std::string& s : {bad, zh + bad + tail, bad + zh + tail, zh + tail + bad}) {
            const json j = {{"k", s}};
            CHECK_THROWS_AS(dump_json(j), json::type_error);
            CHECK_THROWS_AS(j.dump(), json::type_error);
            const auto replace = json::error_handler_t::replace;
            CHECK(dump_json(j, replace) == j.dump(-1, ' ', false, replace));
        }
    }
}

TEST_CASE("dump_json and append_json_string: a byte that needs care at every offset of an ASCII run", "[unit]") {
    // The ASCII runs are skipped eight bytes at a time: each special byte must stop the skip
    // wherever it falls in the word, alone and after Chinese text.
    const std::vector<std::string> specials = {"\"", "\\", "\n", "\x01", "\x1f", "\x7f", "中", "é", "\xe0\xa0\x80"};
    for (const auto& sp : specials)
        for (std::size_t at = 0; at <= 24; ++at)
            for (const std::string& lead : {std::string(), std::string("长乐路")}) {
                std::string s = lead + std::string(24, 'a');
                s.insert(lead.size() + at, sp);
                const json j = s;
                INFO(j.dump());
                CHECK(dump_json(json{{"k", s}}) == json{{"k", s}}.dump());
                std::string out = "x";
                REQUIRE(casehub::host::append_json_string(out, s));
                CHECK(out == "x" + j.dump());
            }
    // Not UTF-8 after a long ASCII run: refused, `out` as it was.
    std::string out = "x";
    CHECK_FALSE(casehub::host::append_json_string(out, std::string(20, 'a') + "\xff"));
    CHECK(out == "x");
    CHECK(casehub::host::append_json_string(out, ""));
    CHECK(out == "x\"\"");
}
