// Two JSON values equal in value and in every number's type (unsigned 0 is not signed 0), floats
// bit for bit: nlohmann's == says 0u == 0 and -0.0 == 0.0. Shared by test_fast_json.cpp and the
// fast_json fuzz target.
#pragma once

#include <nlohmann/json.hpp>

#include <cstring>

namespace casehub::test {

inline bool json_identical(const nlohmann::json& a, const nlohmann::json& b) {
    using nlohmann::json;
    if (a.type() != b.type()) return false;
    switch (a.type()) {
        case json::value_t::object: {
            if (a.size() != b.size()) return false;
            for (auto x = a.begin(), y = b.begin(); x != a.end(); ++x, ++y)
                if (x.key() != y.key() || !json_identical(*x, *y)) return false;
            return true;
        }
        case json::value_t::array: {
            if (a.size() != b.size()) return false;
            for (std::size_t i = 0; i < a.size(); ++i)
                if (!json_identical(a[i], b[i])) return false;
            return true;
        }
        case json::value_t::number_float: {
            const double x = a.get<double>(), y = b.get<double>();
            return std::memcmp(&x, &y, sizeof x) == 0;
        }
        default: return a == b;
    }
}

}  // namespace casehub::test
