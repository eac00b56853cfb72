// dump_json must be nlohmann's dump(), byte for byte: stores, feeds and tests compare documents
// as bytes.
#include "common/json_dump.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>

using casehub::host::dump_json;
using nlohmann::json;

namespace {

// A random document: nested objects and arrays, every control character, quotes, backslashes,
// Chinese, 4-byte characters, integers at their limits, floats.
json random_value(std::mt19937& rng, int depth) {
    static const std::vector<std::string> pieces = {"长乐路88号", "a", "\"", "\\", "/", "\x7f", "😀", "é", " ", "暴露垃圾", "\t", "\n"};
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    auto text = [&] {
        std::string s;
        for (int i = pick(8); i > 0; --i) {
            if (pick(4) == 0) s += static_cast<char>(pick(0x20));  // a control character
            else s += pieces[static_cast<std::size_t>(pick(static_cast<int>(pieces.size())))];
        }
        return s;
    };
    switch (depth > 3 ? 2 + pick(6) : pick(8)) {
        case 0: {
            json o = json::object();
            for (int i = pick(5); i > 0; --i) o[text()] = random_value(rng, depth + 1);
            return o;
        }
        case 1: {
            json a = json::array();
            for (int i = pick(5); i > 0; --i) a.push_back(random_value(rng, depth + 1));
            return a;
        }
        case 2: return text();
        case 3: return pick(2) == 0;
        case 4: return nullptr;
        case 5: return pick(2) ? json(static_cast<std::int64_t>(rng()) * (pick(2) ? 1 : -1) * 1000003) : json(INT64_MIN);
        case 6: return pick(2) ? json(static_cast<std::uint64_t>(rng()) << 32 | rng()) : json(UINT64_MAX);
        default: {
            const double v[] = {0.1, -0.0, 118.788012, 1e300, 5e-324, 32.0, 2.5e15, 1.0 / 3, NAN, -INFINITY};
            return json(v[pick(10)]);
        }
    }
}

}  // namespace

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
    CHECK(dump_json(json::object()) == "{}");
    CHECK(dump_json(json::array()) == "[]");
    CHECK(dump_json(json("")) == "\"\"");
}

TEST_CASE("dump_json: a string that is not UTF-8 fails as dump() does, or is replaced as it would be", "[unit]") {
    for (const std::string bad : {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe4\xb8"}) {
        const json j = {{"k", bad}};
        CHECK_THROWS_AS(dump_json(j), json::type_error);
        CHECK_THROWS_AS(j.dump(), json::type_error);
        const auto replace = json::error_handler_t::replace;
        CHECK(dump_json(j, replace) == j.dump(-1, ' ', false, replace));
    }
}
