// nlohmann::json::parse's result, built from simdjson's parse.
//
// The hub parses every record (and, for an update, its case's stored records) into nlohmann's
// DOM, and nlohmann's own lexer was about a seventh of the intake thread. simdjson reads the
// same text several times faster; this builds the identical nlohmann value from its DOM, and
// declines whatever the two could read differently, so the caller falls back to nlohmann.
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace casehub::host {

// Parses `text` into `out`, giving what nlohmann::json::parse(text) gives: the same values and
// the same number types (a non-negative integer is unsigned, a negative one signed, anything
// with a fraction or exponent a double), the last of duplicate keys kept. Returns false when it
// is not sure, and then `out` is unspecified and the caller parses with nlohmann: text that is
// not JSON (nlohmann then reports the error), integers beyond 64 bits, a negative zero, nesting
// beyond simdjson's limit.
bool parse_json_fast(std::string_view text, nlohmann::json& out);

// parse_json_fast, else nlohmann::json::parse(text, nullptr, false): discarded when invalid.
inline nlohmann::json parse_json(std::string_view text) {
    nlohmann::json out;
    if (!parse_json_fast(text, out)) out = nlohmann::json::parse(text, nullptr, false);
    return out;
}

}  // namespace casehub::host
