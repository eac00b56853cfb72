// dump_json must be nlohmann's dump(), byte for byte: stores, feeds and tests compare documents
// as bytes.
#include "common/json_dump.hpp"
#include "random_json.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <climits>
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

// JsonObjectText builds the event detail of every record: it must give dump() of the same object.
namespace {

using casehub::host::JsonObjectText;

// Writes `value` into `o` under `key` with the member function a caller would use for its type,
// and into `j` as nlohmann would hold it.
void put_both(JsonObjectText& o, json& j, const std::string& key, const json& value, std::mt19937& rng) {
    j[key] = value;
    switch (value.type()) {
        case json::value_t::string: o.string(key, value.get_ref<const std::string&>()); return;
        case json::value_t::boolean: o.boolean(key, value.get<bool>()); return;
        case json::value_t::null: o.null(key); return;
        case json::value_t::number_integer: o.integer(key, value.get<std::int64_t>()); return;
        case json::value_t::number_float: o.number(key, value.get<double>()); return;
        case json::value_t::object: {
            // As a nested JsonObjectText, its members written in another order (its keys are the
            // hub's names, plain ASCII: random ones are not), or as a value.
            std::vector<std::pair<std::string, json>> members;
            bool plain = true;
            for (const auto& [k, v] : value.items()) {
                members.emplace_back(k, v);
                plain = plain && casehub::host::json_dump_detail::plain_ascii(k);
            }
            if (plain && rng() % 2) {
                std::shuffle(members.begin(), members.end(), rng);
                JsonObjectText inner;
                json same = json::object();
                for (const auto& [k, v] : members) put_both(inner, same, k, v, rng);
                o.object(key, inner);
                return;
            }
            o.value(key, value);
            return;
        }
        default: o.value(key, value); return;  // arrays, unsigned, and objects the other way
    }
}

}  // namespace

TEST_CASE("JsonObjectText gives dump() of the same object, whatever order its members were written in", "[unit]") {
    std::mt19937 rng(20261130);
    const std::vector<std::string> keys = {"score", "category", "text", "address", "place", "minutes", "llr", "distance_m",
                                           "sigma_m", "a", "ab", "b", "B", "_", "z9", "candidates", "threshold", ""};
    for (int i = 0; i < 3000; ++i) {
        JsonObjectText o;
        json j = json::object();
        std::vector<std::string> pick = keys;
        std::shuffle(pick.begin(), pick.end(), rng);
        pick.resize(rng() % 13);
        for (const auto& k : pick) put_both(o, j, k, casehub::test::random_value(rng, 1), rng);
        INFO(j.dump());
        REQUIRE(o.str() == j.dump());
        CHECK(o.empty() == pick.empty());
        for (const auto& k : pick) CHECK(o.has(k));
        CHECK_FALSE(o.has("absent"));
    }
}

TEST_CASE("JsonObjectText: numbers as nlohmann writes them, and text that is not UTF-8 refused as dump() refuses it", "[unit]") {
    JsonObjectText o;
    o.number("whole", 12.0).number("half", -0.5).number("neg_zero", -0.0).number("nan", NAN).number("inf", INFINITY);
    o.number("r2", std::round(4.4217 * 100) / 100).integer("min", INT64_MIN).string("zh", "长乐路88号\n");
    const json j = {{"whole", 12.0}, {"half", -0.5}, {"neg_zero", -0.0}, {"nan", NAN}, {"inf", INFINITY},
                    {"r2", std::round(4.4217 * 100) / 100}, {"min", INT64_MIN}, {"zh", "长乐路88号\n"}};
    CHECK(o.str() == j.dump());
    CHECK(o.str().find("\"whole\":12.0") != std::string::npos);
    JsonObjectText bad;
    CHECK_THROWS_AS(bad.string("k", "a\xff"), json::type_error);
}
