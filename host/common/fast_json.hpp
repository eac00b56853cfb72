// nlohmann::json::parse's result, built from simdjson's parse.
//
// The hub parses every record (and, for an update, its case's stored records) into nlohmann's
// DOM, and nlohmann's own lexer was about a seventh of the intake thread. simdjson reads the
// same text several times faster; this builds the identical nlohmann value from its DOM, and
// declines whatever the two could read differently, so the caller falls back to nlohmann.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string_view>

namespace casehub::host {

// Parses `text` into `out`, giving what nlohmann::json::parse(text) gives: the same values and
// the same number types (a non-negative integer is unsigned, a negative one signed, anything
// with a fraction or exponent a double), the last of duplicate keys kept. Returns false when it
// is not sure, and then `out` is unspecified and the caller parses with nlohmann: text that is
// not JSON (nlohmann then reports the error), integers beyond 64 bits, a negative zero, nesting
// beyond simdjson's limit.
bool parse_json_fast(std::string_view text, nlohmann::json& out);

// The same, but when the text is an object only its members named in `keys` are converted and
// kept (the others are checked as JSON, not built): a reader of a few members of a large
// document. Empty `keys`: all of them.
bool parse_json_fast(std::string_view text, nlohmann::json& out, std::initializer_list<std::string_view> keys);

// parse_json_fast, else nlohmann::json::parse(text, nullptr, false): discarded when invalid.
inline nlohmann::json parse_json(std::string_view text) {
    nlohmann::json out;
    if (!parse_json_fast(text, out)) out = nlohmann::json::parse(text, nullptr, false);
    return out;
}

// parse_json(text), keeping only the members named in `keys` when it is an object: what
// parse_json gives with the other members erased.
nlohmann::json parse_json_members(std::string_view text, std::initializer_list<std::string_view> keys);

}  // namespace casehub::host
