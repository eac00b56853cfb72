#include "common/fast_json.hpp"

#include <simdjson.h>

#include <algorithm>
#include <string>

namespace casehub::host {

namespace {

using nlohmann::json;
using simdjson::dom::element;
using simdjson::dom::element_type;

struct Converter {
    bool saw_zero = false;  // an integer 0: "-0" reads as signed in nlohmann, unsigned here

    bool value(element e, json& out) {
        switch (e.type()) {
            case element_type::OBJECT: {
                out = json::object();
                auto& obj = *out.get_ptr<json::object_t*>();
                for (const auto field : simdjson::dom::object(e)) {
                    // operator[]: a repeated key overwrites, as nlohmann's parser does.
                    if (!value(field.value, obj[std::string(field.key)])) return false;
                }
                return true;
            }
            case element_type::ARRAY: {
                out = json::array();
                auto& arr = *out.get_ptr<json::array_t*>();
                for (const element v : simdjson::dom::array(e)) {
                    arr.emplace_back();
                    if (!value(v, arr.back())) return false;
                }
                return true;
            }
            case element_type::STRING: {
                std::string_view s;
                if (e.get_string().get(s)) return false;
                out = std::string(s);
                return true;
            }
            case element_type::INT64: {
                std::int64_t v = 0;
                if (e.get_int64().get(v)) return false;
                if (v < 0) {
                    out = v;
                } else {
                    saw_zero |= v == 0;
                    out = static_cast<std::uint64_t>(v);
                }
                return true;
            }
            case element_type::UINT64: {
                std::uint64_t v = 0;
                if (e.get_uint64().get(v)) return false;
                out = v;
                return true;
            }
            case element_type::DOUBLE: {
                double v = 0;
                if (e.get_double().get(v)) return false;
                if (v == 0 && std::signbit(v)) return false;  // "-0", "-0.0": leave it to nlohmann
                out = v;
                return true;
            }
            case element_type::BOOL: {
                bool v = false;
                if (e.get_bool().get(v)) return false;
                out = v;
                return true;
            }
            case element_type::NULL_VALUE:
                out = nullptr;
                return true;
        }
        return false;
    }
};

// A "-0" token (not "-0.5", "-0e1" or a date's "-05"): outside strings it is the integer minus
// zero; inside one, a false alarm that only costs the fallback.
bool has_minus_zero_token(std::string_view text) {
    for (std::size_t at = text.find("-0"); at != std::string_view::npos; at = text.find("-0", at + 1)) {
        const char next = at + 2 < text.size() ? text[at + 2] : '\0';
        if (!(next >= '0' && next <= '9') && next != '.' && next != 'e' && next != 'E') return true;
    }
    return false;
}

}  // namespace

bool parse_json_fast(std::string_view text, nlohmann::json& out) { return parse_json_fast(text, out, {}); }

bool parse_json_fast(std::string_view text, nlohmann::json& out, std::initializer_list<std::string_view> keys) {
    // One parser per thread, reused: its buffers grow to the largest document seen.
    thread_local simdjson::dom::parser parser;
    thread_local std::string padded;
    padded.assign(text);
    padded.append(simdjson::SIMDJSON_PADDING, '\0');
    element root;
    if (parser.parse(padded.data(), text.size(), false).get(root)) return false;
    Converter c;
    if (keys.size() == 0 || root.type() != element_type::OBJECT) {
        if (!c.value(root, out)) return false;
    } else {
        out = json::object();
        auto& obj = *out.get_ptr<json::object_t*>();
        for (const auto field : simdjson::dom::object(root)) {
            if (std::find(keys.begin(), keys.end(), field.key) == keys.end()) continue;
            if (!c.value(field.value, obj[std::string(field.key)])) return false;  // a repeated key: the last wins
        }
    }
    if (c.saw_zero && has_minus_zero_token(text)) return false;
    return true;
}

json parse_json_members(std::string_view text, std::initializer_list<std::string_view> keys) {
    json out;
    if (parse_json_fast(text, out, keys)) return out;
    out = json::parse(text, nullptr, false);
    if (keys.size() == 0 || !out.is_object()) return out;
    for (auto it = out.begin(); it != out.end();)
        it = std::find(keys.begin(), keys.end(), it.key()) == keys.end() ? out.erase(it) : std::next(it);
    return out;
}

}  // namespace casehub::host
