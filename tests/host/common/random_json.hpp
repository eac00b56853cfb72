// Random JSON documents for the tests of host/common (dump_json, parse_json_fast).
#pragma once

#include <nlohmann/json.hpp>

#include <climits>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace casehub::test {

using nlohmann::json;

// A random document: nested objects and arrays, every control character, quotes, backslashes,
// Chinese, 4-byte characters, integers at their limits, floats.
inline json random_value(std::mt19937& rng, int depth) {
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


}  // namespace casehub::test
