// Validation of a `casehub.record/1` document (case-model.md §1, §2.1, §2.2, §2.5).
//
// The same check runs in the adapter (before emitting) and in the hub (on every record received),
// so both agree on what is valid and on the reason code and JSON path of the first fault.
//
//   if (auto f = casehub::sdk::check_record(bytes)) dead_letter(f->reason, f->path, f->message);
//
// Order of checks ("first fault" is the first of these that fails):
//   1. not_json: larger than 1 MiB, a UTF-8 byte order mark, not strictly valid UTF-8 (overlong
//      forms, surrogates, code points above U+10FFFF rejected), not JSON, not a JSON object.
//   2. bad_schema: `schema` absent, null, or not exactly "casehub.record/1".
//   3. unmasked_personal_data: reporter.name_masked, phone_masked, id_masked, then each party in
//      array order: name, id (unless a legal person), phone_masked. This comes before all
//      other checks because only masked values may be dead-lettered or logged (§2.3): a record
//      that carries raw personal data must take the withholding path (withhold_personal_data)
//      whatever else is wrong with it.
//   4. Every field in the order of the §2.1 table: source.system, source.record_id,
//      source.version, source.received_at, kind, appeal_type, channel, category.code,
//      category.native.{scheme,code,name}, title, description, status, status_native, priority,
//      times.{reported_at, registered_at, dispatched_at, due_at, resolved_at, closed_at,
//      updated_at}, location.{original.crs, address}, reporter.{kind, name_masked, phone_masked,
//      id_masked, worker_id}, parties[], responsible[], tags[], satisfaction, confidentiality,
//      attachments[], links[], raw_sha256. Arrays element by element, each element's fields in
//      the order written in §2.1. Within one field: presence (missing_field), then JSON type
//      (bad_type), then value (bad_enum, unknown_system, unknown_category, bad_time,
//      bad_version, bad_hash, too_long). A required object that is absent is reported at the
//      object's own path (`$.times`), not at its first member.
//
// Decisions where §2.5 leaves the reason open:
//   - Empty strings: missing_field only for required ids and codes (source.system,
//     source.record_id, source.version, category.code, category.native.scheme/code,
//     status_native, links[].system, links[].record_id). An empty enum value is bad_enum (it is
//     outside its list); an empty optional text is kept.
//   - A record_id (source or link) longer than 64 characters is too_long; one containing a
//     control character (Unicode Cc: U+0000–U+001F, U+007F–U+009F) is bad_type.
//   - A time given as a JSON number (`1741482753000`) is bad_time, like the spec's example; a
//     time given as a boolean, array or object is bad_type.
//   - source.version as digits must fit an unsigned 64-bit integer (§2.4 compares revisions as
//     unsigned integers); leading zeros are allowed.
//   - source.version as a JSON number is bad_type (identifiers are always strings, §1).
//   - parties[].kind is required and must be natural_person or legal_person (bad_enum), since the
//     masking rule depends on it. For the personal-data check (step 3), a party whose kind is
//     anything but "legal_person" is treated as a natural person. A legal person's name and id
//     are public (§2.1), but its phone_masked is not exempted, so the §2.5 phone rule applies.
//   - responsible[].role is required; dept_code and name are optional strings (§5 names units by
//     code only or by name only).
//   - attachments[]: uri and mime are required (missing_field). A uri that is not an absolute
//     http/https URI, or a mime that is not a bare type/subtype (RFC 7230 tokens, no
//     parameters), is bad_type: both are open value spaces with a required form, not closed
//     enumerations, so bad_enum does not fit.
//   - links[].relation is required (bad_enum outside its list); links[].system is not checked
//     against the configured systems (a link may name a system this hub does not feed).
//   - Coordinates and grid codes are never checked (§2.5): location.original of any shape,
//     x/y of any type and location.grid_code of any type pass. Only location.original.crs is
//     checked (bad_enum is listed for it), and only when original is an object and crs non-null.
//   - Personal-data rules: digits are ASCII or full-width (U+FF10–U+FF19); for phone_masked a
//     single space or '-' between two digits does not end a run (the phone-candidate definition
//     of §2.3), so `138-5123-4567` is caught. A phone or id given as a JSON number is judged by
//     its decimal digits, so it is withheld rather than dead-lettered as a raw number. Names need
//     an ASCII '*'.
//   - Duplicate object keys: the last one wins (nlohmann::json behaviour).
//
// Allocation-light: the check reads the parsed document in place; strings are only built when a
// fault is reported. The byte overload parses once (use parse_and_check_record to keep the
// document).
#pragma once

#include <casehub/sdk/rfc3339.hpp>

#include <nlohmann/json.hpp>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace casehub::sdk {

struct RecordFault {
    std::string reason;   // a §2.5 reason code
    std::string path;     // JSON path of the first fault, e.g. "$.responsible[1].role"
    std::string message;  // one line: the path and the problem; never a personal value
};

struct RecordCheckOptions {
    // Null: any id of the form [a-z][a-z0-9_]{1,31} passes. The six built-in systems always pass.
    const std::set<std::string, std::less<>>* known_systems = nullptr;
    // Null: category codes are not checked against the taxonomy.
    const std::set<std::string, std::less<>>* known_categories = nullptr;
    // Null: nlohmann parses. Else a faster parser tried first (the hub passes one built on
    // simdjson): it must give exactly nlohmann::json::parse's value, or return false, and then
    // nlohmann parses (and reports the error, if any).
    bool (*parse)(std::string_view text, nlohmann::json& out) = nullptr;
};

inline constexpr std::string_view record_schema = "casehub.record/1";
inline constexpr std::size_t max_record_bytes = 1024 * 1024;
inline constexpr std::size_t max_title_chars = 200;
inline constexpr std::size_t max_description_chars = 8000;
inline constexpr std::size_t max_record_id_chars = 64;
inline constexpr std::string_view withheld_value = "[withheld]";

// ---------------------------------------------------------------------------------------------
// Small helpers, public because adapters and the hub need them too.

// Byte offset of the first byte that does not start a well-formed UTF-8 sequence (Unicode
// Table 3-7: no overlongs, no surrogates, nothing above U+10FFFF), or npos when all is valid.
constexpr std::size_t utf8_error_offset(std::string_view s) noexcept {
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c == 0xE0) {
            len = 3, lo = 0xA0;  // no overlongs
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            len = 3;
        } else if (c == 0xED) {
            len = 3, hi = 0x9F;  // no surrogates
        } else if (c == 0xF0) {
            len = 4, lo = 0x90;  // no overlongs
        } else if (c >= 0xF1 && c <= 0xF3) {
            len = 4;
        } else if (c == 0xF4) {
            len = 4, hi = 0x8F;  // nothing above U+10FFFF
        } else {
            return i;  // continuation byte, C0, C1, F5–FF
        }
        if (n - i < len) return i;
        const auto c1 = static_cast<unsigned char>(s[i + 1]);
        if (c1 < lo || c1 > hi) return i;
        for (std::size_t k = 2; k < len; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
        i += len;
    }
    return std::string_view::npos;
}

constexpr bool is_valid_utf8(std::string_view s) noexcept {
    return utf8_error_offset(s) == std::string_view::npos;
}

// Number of code points ("characters" in the spec) of valid UTF-8.
constexpr std::size_t utf8_length(std::string_view s) noexcept {
    std::size_t n = 0;
    for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return n;
}

constexpr bool is_builtin_system(std::string_view id) noexcept {
    return id == "dcm" || id == "hotline12345" || id == "enforcement" || id == "police" ||
           id == "gridapp" || id == "open311";
}

// [a-z][a-z0-9_]{1,31}
constexpr bool is_system_id(std::string_view id) noexcept {
    if (id.size() < 2 || id.size() > 32 || id[0] < 'a' || id[0] > 'z') return false;
    for (char c : id)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

// The two forms of source.version (§2.1); §2.4 needs the form to detect a change of form.
enum class VersionForm { timestamp, revision };

constexpr std::optional<VersionForm> version_form(std::string_view v) noexcept {
    if (is_rfc3339(v)) return VersionForm::timestamp;
    if (v.empty()) return std::nullopt;
    std::uint64_t value = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return std::nullopt;
        const auto digit = static_cast<std::uint64_t>(c - '0');
        if (value > (UINT64_MAX - digit) / 10) return std::nullopt;  // not an unsigned 64-bit
        value = value * 10 + digit;
    }
    return VersionForm::revision;
}

// 64 lower-case hex digits.
constexpr bool is_sha256_hex(std::string_view h) noexcept {
    if (h.size() != 64) return false;
    for (char c : h)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

// Absolute http or https URI with a non-empty host. Non-ASCII is tolerated (sources hand out
// IRIs with Chinese file names); spaces and control characters are not.
constexpr bool is_http_uri(std::string_view u) noexcept {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    auto starts_with_ci = [&](std::string_view prefix) {
        if (u.size() < prefix.size()) return false;
        for (std::size_t i = 0; i < prefix.size(); ++i)
            if (lower(u[i]) != prefix[i]) return false;
        return true;
    };
    std::size_t pos = 0;
    if (starts_with_ci("https://")) {
        pos = 8;
    } else if (starts_with_ci("http://")) {
        pos = 7;
    } else {
        return false;
    }
    for (char c : u)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7F) return false;
    std::size_t end = u.find_first_of("/?#", pos);
    if (end == std::string_view::npos) end = u.size();
    std::string_view authority = u.substr(pos, end - pos);
    if (const std::size_t at = authority.rfind('@'); at != std::string_view::npos)
        authority.remove_prefix(at + 1);
    std::string_view port;
    if (!authority.empty() && authority[0] == '[') {  // IPv6 literal
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        port = authority.substr(close + 1);
        if (!port.empty() && port[0] != ':') return false;
    } else {
        const std::size_t colon = authority.find(':');
        if (colon == 0 || authority.empty()) return false;
        if (colon != std::string_view::npos) port = authority.substr(colon);
    }
    if (!port.empty()) {
        for (std::size_t i = 1; i < port.size(); ++i)
            if (port[i] < '0' || port[i] > '9') return false;
    }
    return true;
}

// type "/" subtype, both RFC 7230 tokens; no parameters (§2.1 asks for "a type/subtype").
constexpr bool is_mime_type(std::string_view m) noexcept {
    auto tchar = [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    };
    const std::size_t slash = m.find('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == m.size()) return false;
    for (std::size_t i = 0; i < m.size(); ++i)
        if (i != slash && !tchar(m[i])) return false;
    return true;
}

// ---------------------------------------------------------------------------------------------
// Personal-data rules of §2.5 on one value. Strings are assumed valid UTF-8.

namespace detail {

// Length in bytes of the UTF-8 sequence starting with `lead` (1 for stray bytes).
constexpr std::size_t utf8_seq_len(unsigned char lead) noexcept {
    return lead < 0xC0 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
}

// An ASCII or full-width (U+FF10–U+FF19, EF BC 90–99) digit at s[i].
constexpr bool digit_at(std::string_view s, std::size_t i) noexcept {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= '0' && c <= '9') return true;
    return c == 0xEF && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0xBC &&
           static_cast<unsigned char>(s[i + 2]) >= 0x90 &&
           static_cast<unsigned char>(s[i + 2]) <= 0x99;
}

}  // namespace detail

// 7 or more consecutive digits; a single space or '-' between two digits does not break a run.
constexpr bool phone_is_unmasked(std::string_view s) noexcept {
    std::size_t run = 0;
    bool separator = false;  // one separator seen right after a digit
    for (std::size_t i = 0; i < s.size();) {
        const std::size_t len = detail::utf8_seq_len(static_cast<unsigned char>(s[i]));
        if (detail::digit_at(s, i)) {
            separator = false;
            if (++run >= 7) return true;
        } else if ((s[i] == ' ' || s[i] == '-') && run > 0 && !separator) {
            separator = true;
        } else {
            run = 0;
            separator = false;
        }
        i += len;
    }
    return false;
}

// More than 10 digits in total.
constexpr bool id_is_unmasked(std::string_view s) noexcept {
    std::size_t digits = 0;
    for (std::size_t i = 0; i < s.size();) {
        digits += detail::digit_at(s, i);
        i += detail::utf8_seq_len(static_cast<unsigned char>(s[i]));
    }
    return digits > 10;
}

// Longer than one character and no '*'.
constexpr bool name_is_unmasked(std::string_view s) noexcept {
    return utf8_length(s) > 1 && s.find('*') == std::string_view::npos;
}

namespace detail {

using json = nlohmann::json;

enum class Personal { name, phone, id };

// A JSON number in a phone or id field, judged by its decimal digits.
inline bool number_is_unmasked(const json& v, Personal kind) {
    char buf[64];
    std::to_chars_result r{};
    if (v.is_number_unsigned())
        r = std::to_chars(buf, buf + sizeof buf, v.get<std::uint64_t>());
    else if (v.is_number_integer())
        r = std::to_chars(buf, buf + sizeof buf, v.get<std::int64_t>());
    else
        r = std::to_chars(buf, buf + sizeof buf, v.get<double>(), std::chars_format::fixed);
    if (r.ec != std::errc{}) return true;  // a number too long to print is not a masked value
    const std::string_view text(buf, static_cast<std::size_t>(r.ptr - buf));
    return kind == Personal::phone ? phone_is_unmasked(text) : id_is_unmasked(text);
}

inline bool personal_is_unmasked(const json& v, Personal kind) {
    if (v.is_string()) {
        const std::string_view s = v.get_ref<const std::string&>();
        switch (kind) {
        case Personal::name: return name_is_unmasked(s);
        case Personal::phone: return phone_is_unmasked(s);
        case Personal::id: return id_is_unmasked(s);
        }
    }
    if (v.is_number() && kind != Personal::name) return number_is_unmasked(v, kind);
    return false;
}

struct PersonalField {
    const char* key;
    Personal kind;
};
inline constexpr PersonalField reporter_personal[] = {
    {"name_masked", Personal::name},
    {"phone_masked", Personal::phone},
    {"id_masked", Personal::id}};
inline constexpr PersonalField party_personal[] = {
    {"name", Personal::name}, {"id", Personal::id}, {"phone_masked", Personal::phone}};

// A legal person's name and id are public and verbatim (§2.1 parties[]); its phone_masked is
// not exempted, so §2.5's phone rule applies to it. A party of any other (or no) kind is treated
// as a natural person.
inline bool party_field_is_personal(const json& party, const PersonalField& f) {
    if (f.kind == Personal::phone) return true;
    const auto it = party.find("kind");
    return !(it != party.end() && it->is_string() &&
             it->get_ref<const std::string&>() == "legal_person");
}

// Member `key` of `obj`, or nullptr when absent or null (both mean "not known", §1).
inline const json* member(const json& obj, const char* key) {
    const auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

inline const char* type_name(const json& v) {
    switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float: return "a number";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    default: return "a binary value";
    }
}

// 'value' for a message: control characters escaped (one line), cut after 60 characters.
inline std::string quote(std::string_view v) {
    std::string out = "'";
    std::size_t chars = 0;
    for (std::size_t i = 0; i < v.size();) {
        if (++chars > 60) {
            out += "\xE2\x80\xA6";  // …
            break;
        }
        const auto c = static_cast<unsigned char>(v[i]);
        const std::size_t len = utf8_seq_len(c);
        if (c < 0x20 || c == 0x7F) {
            static constexpr char hex[] = "0123456789abcdef";
            out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : c == '\r' ? "\\r" : "";
            if (c != '\n' && c != '\t' && c != '\r') {
                out += "\\u00";
                out += hex[c >> 4];
                out += hex[c & 0xF];
            }
        } else if (c == 0xC2 && i + 1 < v.size() && static_cast<unsigned char>(v[i + 1]) <= 0x9F) {
            static constexpr char hex[] = "0123456789abcdef";  // C1 controls (U+0080–U+009F)
            out += "\\u00";
            out += hex[static_cast<unsigned char>(v[i + 1]) >> 4];
            out += hex[static_cast<unsigned char>(v[i + 1]) & 0xF];
        } else {
            out.append(v.substr(i, len));
        }
        i += len;
    }
    out += '\'';
    return out;
}

// Where a value sits: `base` ("$.source", "$.parties") and, for an array element, its index.
struct Path {
    std::string_view base;
    std::ptrdiff_t index = -1;

    std::string str(std::string_view key = {}) const {
        std::string s(base);
        if (index >= 0) {
            s += '[';
            s += std::to_string(index);
            s += ']';
        }
        if (!key.empty()) {
            s += '.';
            s += key;
        }
        return s;
    }
};

inline RecordFault make_fault(const char* reason, std::string path, std::string_view problem) {
    std::string message = path;
    message += ": ";
    message += problem;
    return RecordFault{reason, std::move(path), std::move(message)};
}

using Fault = std::optional<RecordFault>;

inline Fault missing(const json& obj, const char* key, const Path& at) {
    const bool is_null = obj.find(key) != obj.end();
    return make_fault("missing_field", at.str(key),
                      is_null ? "required field is null" : "required field is absent");
}

inline Fault wrong_type(const json& v, const Path& at, const char* key, const char* expected) {
    return make_fault("bad_type", at.str(key),
                      std::string("expected ") + expected + ", got " + type_name(v));
}

// Required object.
inline Fault req_object(const json& parent, const char* key, const Path& at, const json*& out) {
    out = member(parent, key);
    if (!out) return missing(parent, key, at);
    if (!out->is_object()) return wrong_type(*out, at, key, "an object");
    return std::nullopt;
}

// Optional object; out stays null when absent or null.
inline Fault opt_object(const json& parent, const char* key, const Path& at, const json*& out) {
    out = member(parent, key);
    if (out && !out->is_object()) return wrong_type(*out, at, key, "an object");
    return std::nullopt;
}

// Optional array; out stays null when absent or null.
inline Fault opt_array(const json& parent, const char* key, const Path& at, const json*& out) {
    out = member(parent, key);
    if (out && !out->is_array()) return wrong_type(*out, at, key, "an array");
    return std::nullopt;
}

// Required string; `id_or_code`: an empty string counts as missing (§2.5 missing_field).
inline Fault req_string(const json& parent, const char* key, const Path& at, bool id_or_code,
                        std::string_view* out = nullptr) {
    const json* v = member(parent, key);
    if (!v) return missing(parent, key, at);
    if (!v->is_string()) return wrong_type(*v, at, key, "a string");
    const std::string_view s = v->get_ref<const std::string&>();
    if (id_or_code && s.empty())
        return make_fault("missing_field", at.str(key), "required field is empty");
    if (out) *out = s;
    return std::nullopt;
}

// Optional string; out stays empty when absent or null.
inline Fault opt_string(const json& parent, const char* key, const Path& at,
                        std::optional<std::string_view>* out = nullptr) {
    const json* v = member(parent, key);
    if (!v) return std::nullopt;
    if (!v->is_string()) return wrong_type(*v, at, key, "a string");
    if (out) *out = v->get_ref<const std::string&>();
    return std::nullopt;
}

template <std::size_t N>
constexpr bool in_list(std::string_view v, const std::string_view (&list)[N]) noexcept {
    for (std::string_view e : list)
        if (e == v) return true;
    return false;
}

template <std::size_t N>
inline Fault enum_field(const json& parent, const char* key, const Path& at,
                        const std::string_view (&list)[N], bool required,
                        std::string_view* out = nullptr) {
    const json* v = member(parent, key);
    if (!v) return required ? missing(parent, key, at) : std::nullopt;
    if (!v->is_string()) return wrong_type(*v, at, key, "a string");
    const std::string_view s = v->get_ref<const std::string&>();
    if (!in_list(s, list)) {
        std::string problem = quote(s) + " is not one of ";
        for (std::size_t i = 0; i < N; ++i) {
            if (i) problem += ", ";
            problem += list[i];
        }
        return make_fault("bad_enum", at.str(key), problem);
    }
    if (out) *out = s;
    return std::nullopt;
}

inline Fault time_field(const json& parent, const char* key, const Path& at, bool required) {
    const json* v = member(parent, key);
    if (!v) return required ? missing(parent, key, at) : std::nullopt;
    if (v->is_number())  // epoch numbers: listed under bad_time by §2.5
        return make_fault("bad_time", at.str(key),
                          v->dump() + " is a number, not RFC 3339 with an offset");
    if (!v->is_string()) return wrong_type(*v, at, key, "an RFC 3339 string");
    const std::string_view s = v->get_ref<const std::string&>();
    if (!is_rfc3339(s))
        return make_fault("bad_time", at.str(key), quote(s) + " is not RFC 3339 with an offset");
    return std::nullopt;
}

// 1–64 characters, no control characters (§2.1 source.record_id). Empty is caught before.
inline Fault record_id_value(std::string_view id, const Path& at, const char* key) {
    if (utf8_length(id) > max_record_id_chars)
        return make_fault("too_long", at.str(key),
                          "record id of " + std::to_string(utf8_length(id)) +
                              " characters, more than 64");
    for (std::size_t i = 0; i < id.size(); ++i) {
        const auto c = static_cast<unsigned char>(id[i]);
        const bool c1 = c == 0xC2 && i + 1 < id.size() &&
                        static_cast<unsigned char>(id[i + 1]) >= 0x80 &&
                        static_cast<unsigned char>(id[i + 1]) <= 0x9F;
        if (c < 0x20 || c == 0x7F || c1)
            return make_fault("bad_type", at.str(key),
                              quote(id) + " contains a control character");
    }
    return std::nullopt;
}

inline Fault text_length(const json& parent, const char* key, const Path& at, std::size_t max) {
    const json* v = member(parent, key);
    if (!v || !v->is_string()) return std::nullopt;
    const std::size_t n = utf8_length(v->get_ref<const std::string&>());
    if (n > max)
        return make_fault("too_long", at.str(key),
                          std::to_string(n) + " characters, more than " + std::to_string(max));
    return std::nullopt;
}

// Closed lists (§2.1, §2.2, §4.1).
inline constexpr std::string_view kinds[] = {"event", "component", "appeal", "incident"};
inline constexpr std::string_view appeal_types[] = {"consult", "help",   "complaint", "report",
                                                    "suggest", "thanks", "other"};
inline constexpr std::string_view channels[] = {
    "phone",       "app",   "web",    "wechat",   "letter", "supervisor", "grid_worker",
    "video",       "patrol", "transfer", "leader", "media",  "other"};
inline constexpr std::string_view statuses[] = {"new",         "registered", "dispatched",
                                                "accepted",    "in_progress", "resolved",
                                                "verified",    "closed",     "rejected",
                                                "cancelled"};
inline constexpr std::string_view priorities[] = {"general", "larger", "major"};
inline constexpr std::string_view reporter_kinds[] = {
    "citizen", "grid_worker", "supervisor", "police", "enforcement_officer", "video", "unknown"};
inline constexpr std::string_view party_kinds[] = {"natural_person", "legal_person"};
inline constexpr std::string_view roles[] = {"lead", "assist"};
inline constexpr std::string_view satisfactions[] = {"satisfied", "basically_satisfied",
                                                     "dissatisfied", "unreachable"};
inline constexpr std::string_view confidentialities[] = {"public", "internal"};
inline constexpr std::string_view relations[] = {"duplicate_of", "transferred_from", "related"};
inline constexpr std::string_view crss[] = {"WGS84", "GCJ02", "BD09", "CGCS2000", "EPSG:4549"};

#define CASEHUB_RC_TRY(expr)            \
    do {                                \
        if (auto f_ = (expr)) return f_; \
    } while (0)

inline Fault check_personal_data(const json& doc) {
    if (const json* rep = member(doc, "reporter"); rep && rep->is_object()) {
        for (const PersonalField& f : reporter_personal)
            if (const json* v = member(*rep, f.key); v && personal_is_unmasked(*v, f.kind))
                return make_fault("unmasked_personal_data", Path{"$.reporter"}.str(f.key),
                                  "personal data is not masked (§2.3)");
    }
    if (const json* parties = member(doc, "parties"); parties && parties->is_array()) {
        for (std::size_t i = 0; i < parties->size(); ++i) {
            const json& p = (*parties)[i];
            if (!p.is_object()) continue;
            for (const PersonalField& f : party_personal) {
                if (!party_field_is_personal(p, f)) continue;
                if (const json* v = member(p, f.key); v && personal_is_unmasked(*v, f.kind))
                    return make_fault("unmasked_personal_data",
                                      Path{"$.parties", static_cast<std::ptrdiff_t>(i)}.str(f.key),
                                      "personal data is not masked (§2.3)");
            }
        }
    }
    return std::nullopt;
}

inline Fault check_source(const json& doc, const RecordCheckOptions& opts) {
    const Path root{"$"};
    const json* src = nullptr;
    CASEHUB_RC_TRY(req_object(doc, "source", root, src));
    const Path at{"$.source"};

    std::string_view system;
    CASEHUB_RC_TRY(req_string(*src, "system", at, true, &system));
    if (!is_builtin_system(system)) {
        if (opts.known_systems) {
            if (opts.known_systems->find(system) == opts.known_systems->end())
                return make_fault("unknown_system", at.str("system"),
                                  quote(system) + " is not a system configured in the hub");
        } else if (!is_system_id(system)) {
            return make_fault("unknown_system", at.str("system"),
                              quote(system) + " is not a system id ([a-z][a-z0-9_]{1,31})");
        }
    }

    std::string_view record_id;
    CASEHUB_RC_TRY(req_string(*src, "record_id", at, true, &record_id));
    CASEHUB_RC_TRY(record_id_value(record_id, at, "record_id"));

    std::string_view version;
    CASEHUB_RC_TRY(req_string(*src, "version", at, true, &version));
    if (!version_form(version))
        return make_fault("bad_version", at.str("version"),
                          quote(version) +
                              " is neither RFC 3339 with an offset nor unsigned decimal digits");

    return time_field(*src, "received_at", at, true);
}

inline Fault check_kind(const json& doc) {
    const Path root{"$"};
    std::string_view kind;
    CASEHUB_RC_TRY(enum_field(doc, "kind", root, kinds, true, &kind));
    if (kind == "appeal") {
        CASEHUB_RC_TRY(enum_field(doc, "appeal_type", root, appeal_types, true));
    } else if (const json* at = member(doc, "appeal_type")) {
        if (!at->is_string()) return wrong_type(*at, root, "appeal_type", "null");
        return make_fault("bad_enum", root.str("appeal_type"),
                          quote(at->get_ref<const std::string&>()) + " set on a record of kind " +
                              quote(kind) + "; must be null unless kind is 'appeal'");
    }
    return enum_field(doc, "channel", root, channels, true);
}

inline Fault check_category(const json& doc, const RecordCheckOptions& opts) {
    const json* cat = nullptr;
    CASEHUB_RC_TRY(req_object(doc, "category", Path{"$"}, cat));
    const Path at{"$.category"};
    std::string_view code;
    CASEHUB_RC_TRY(req_string(*cat, "code", at, true, &code));
    if (opts.known_categories &&
        opts.known_categories->find(code) == opts.known_categories->end())
        return make_fault("unknown_category", at.str("code"),
                          quote(code) + " is not in the category taxonomy");
    const json* native = nullptr;
    CASEHUB_RC_TRY(req_object(*cat, "native", at, native));
    const Path nat{"$.category.native"};
    CASEHUB_RC_TRY(req_string(*native, "scheme", nat, true));
    CASEHUB_RC_TRY(req_string(*native, "code", nat, true));
    return opt_string(*native, "name", nat);
}

inline Fault check_text_and_status(const json& doc) {
    const Path root{"$"};
    CASEHUB_RC_TRY(opt_string(doc, "title", root));
    CASEHUB_RC_TRY(text_length(doc, "title", root, max_title_chars));
    CASEHUB_RC_TRY(req_string(doc, "description", root, false));  // may be "" (§2.1)
    CASEHUB_RC_TRY(text_length(doc, "description", root, max_description_chars));
    CASEHUB_RC_TRY(enum_field(doc, "status", root, statuses, true));
    CASEHUB_RC_TRY(req_string(doc, "status_native", root, true));
    return enum_field(doc, "priority", root, priorities, false);
}

inline Fault check_times(const json& doc) {
    const json* times = nullptr;
    CASEHUB_RC_TRY(req_object(doc, "times", Path{"$"}, times));
    const Path at{"$.times"};
    CASEHUB_RC_TRY(time_field(*times, "reported_at", at, true));
    CASEHUB_RC_TRY(time_field(*times, "registered_at", at, false));
    CASEHUB_RC_TRY(time_field(*times, "dispatched_at", at, false));
    CASEHUB_RC_TRY(time_field(*times, "due_at", at, false));
    CASEHUB_RC_TRY(time_field(*times, "resolved_at", at, false));
    CASEHUB_RC_TRY(time_field(*times, "closed_at", at, false));
    return time_field(*times, "updated_at", at, true);
}

inline Fault check_location(const json& doc) {
    const json* loc = nullptr;
    CASEHUB_RC_TRY(opt_object(doc, "location", Path{"$"}, loc));
    if (!loc) return std::nullopt;
    // Coordinates and grid codes are never a reason to reject (§2.5); only crs has a list.
    if (const json* orig = member(*loc, "original"); orig && orig->is_object())
        CASEHUB_RC_TRY(enum_field(*orig, "crs", Path{"$.location.original"}, crss, false));
    return opt_string(*loc, "address", Path{"$.location"});
}

inline Fault check_reporter(const json& doc) {
    const json* rep = nullptr;
    CASEHUB_RC_TRY(req_object(doc, "reporter", Path{"$"}, rep));
    const Path at{"$.reporter"};
    CASEHUB_RC_TRY(enum_field(*rep, "kind", at, reporter_kinds, true));
    CASEHUB_RC_TRY(opt_string(*rep, "name_masked", at));
    CASEHUB_RC_TRY(opt_string(*rep, "phone_masked", at));
    CASEHUB_RC_TRY(opt_string(*rep, "id_masked", at));
    return opt_string(*rep, "worker_id", at);
}

// Calls check(element, path) for each element of an optional array of objects.
inline Fault each_object(const json& doc, const char* key, std::string_view base,
                         Fault (*check)(const json&, const Path&)) {
    const json* arr = nullptr;
    CASEHUB_RC_TRY(opt_array(doc, key, Path{"$"}, arr));
    if (!arr) return std::nullopt;
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const json& e = (*arr)[i];
        const Path at{base, static_cast<std::ptrdiff_t>(i)};
        if (!e.is_object())
            return make_fault("bad_type", at.str(),
                              std::string("expected an object, got ") + type_name(e));
        CASEHUB_RC_TRY(check(e, at));
    }
    return std::nullopt;
}

inline Fault check_party(const json& p, const Path& at) {
    CASEHUB_RC_TRY(enum_field(p, "kind", at, party_kinds, true));
    CASEHUB_RC_TRY(opt_string(p, "name", at));
    CASEHUB_RC_TRY(opt_string(p, "id", at));
    return opt_string(p, "phone_masked", at);
}

inline Fault check_responsible(const json& r, const Path& at) {
    CASEHUB_RC_TRY(opt_string(r, "dept_code", at));
    CASEHUB_RC_TRY(opt_string(r, "name", at));
    return enum_field(r, "role", at, roles, true);
}

// Form faults of uri and mime are bad_type (see the header comment).
inline Fault check_attachment(const json& a, const Path& at) {
    std::string_view uri, mime;
    CASEHUB_RC_TRY(req_string(a, "uri", at, false, &uri));
    if (!is_http_uri(uri))
        return make_fault("bad_type", at.str("uri"),
                          quote(uri) + " is not an absolute http or https URI");
    CASEHUB_RC_TRY(req_string(a, "mime", at, false, &mime));
    if (!is_mime_type(mime))
        return make_fault("bad_type", at.str("mime"), quote(mime) + " is not a MIME type/subtype");
    return std::nullopt;
}

inline Fault check_link(const json& l, const Path& at) {
    CASEHUB_RC_TRY(req_string(l, "system", at, true));
    std::string_view record_id;
    CASEHUB_RC_TRY(req_string(l, "record_id", at, true, &record_id));
    CASEHUB_RC_TRY(record_id_value(record_id, at, "record_id"));
    return enum_field(l, "relation", at, relations, true);
}

inline Fault check_lists(const json& doc) {
    const Path root{"$"};
    CASEHUB_RC_TRY(each_object(doc, "parties", "$.parties", check_party));
    CASEHUB_RC_TRY(each_object(doc, "responsible", "$.responsible", check_responsible));

    const json* tags = nullptr;
    CASEHUB_RC_TRY(opt_array(doc, "tags", root, tags));
    if (tags) {
        for (std::size_t i = 0; i < tags->size(); ++i)
            if (!(*tags)[i].is_string())  // unknown tags are kept, but they are strings
                return wrong_type((*tags)[i], Path{"$.tags", static_cast<std::ptrdiff_t>(i)}, "",
                                  "a string");
    }

    CASEHUB_RC_TRY(enum_field(doc, "satisfaction", root, satisfactions, false));
    CASEHUB_RC_TRY(enum_field(doc, "confidentiality", root, confidentialities, true));
    CASEHUB_RC_TRY(each_object(doc, "attachments", "$.attachments", check_attachment));
    return each_object(doc, "links", "$.links", check_link);
}

inline Fault check_hash(const json& doc) {
    const Path root{"$"};
    std::string_view hash;
    CASEHUB_RC_TRY(req_string(doc, "raw_sha256", root, false, &hash));
    if (!is_sha256_hex(hash))
        return make_fault("bad_hash", root.str("raw_sha256"),
                          quote(hash) + " is not 64 lower-case hex digits");
    return std::nullopt;
}

// The checks after the document is known to be a JSON object whose strings are valid UTF-8.
inline Fault check_object(const json& doc, const RecordCheckOptions& opts) {
    const json* schema = member(doc, "schema");
    if (!schema) return make_fault("bad_schema", "$.schema", "schema is absent or null");
    if (!schema->is_string() || schema->get_ref<const std::string&>() != record_schema)
        return make_fault("bad_schema", "$.schema",
                          (schema->is_string() ? quote(schema->get_ref<const std::string&>())
                                               : std::string(type_name(*schema))) +
                              " is not 'casehub.record/1'");
    CASEHUB_RC_TRY(check_personal_data(doc));
    CASEHUB_RC_TRY(check_source(doc, opts));
    CASEHUB_RC_TRY(check_kind(doc));
    CASEHUB_RC_TRY(check_category(doc, opts));
    CASEHUB_RC_TRY(check_text_and_status(doc));
    CASEHUB_RC_TRY(check_times(doc));
    CASEHUB_RC_TRY(check_location(doc));
    CASEHUB_RC_TRY(check_reporter(doc));
    CASEHUB_RC_TRY(check_lists(doc));
    return check_hash(doc);
}

#undef CASEHUB_RC_TRY

// True when every string and key in `doc` is valid UTF-8. Iterative: documents may nest deeply.
inline bool strings_are_utf8(const json& doc) {
    std::vector<const json*> stack{&doc};
    while (!stack.empty()) {
        const json* v = stack.back();
        stack.pop_back();
        if (v->is_string()) {
            if (!is_valid_utf8(v->get_ref<const std::string&>())) return false;
        } else if (v->is_object()) {
            for (auto it = v->begin(); it != v->end(); ++it) {
                if (!is_valid_utf8(it.key())) return false;
                stack.push_back(&it.value());
            }
        } else if (v->is_array()) {
            for (const json& e : *v) stack.push_back(&e);
        }
    }
    return true;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------

// Checks an already parsed document. not_json when it is not an object or holds a string that
// is not valid UTF-8 (a document built in code may); otherwise as the byte overload.
inline std::optional<RecordFault> check_record(const nlohmann::json& doc,
                                               const RecordCheckOptions& opts = {}) {
    if (!doc.is_object())
        return detail::make_fault("not_json", "$",
                                  std::string("the document is ") + detail::type_name(doc) +
                                      ", not a JSON object");
    if (!detail::strings_are_utf8(doc))
        return detail::make_fault("not_json", "$",
                                  "the document holds a string that is not valid UTF-8");
    return detail::check_object(doc, opts);
}

// Deepest nesting of arrays and objects a record may have. The case model needs 4; copying,
// printing or comparing a deeper document recurses once per level, so a hostile record of a
// few hundred KiB of '[' would otherwise overflow the stack of whoever handles it.
inline constexpr std::size_t max_record_depth = 64;

// True when `bytes` nest arrays/objects deeper than `limit` (strings and escapes skipped).
constexpr bool nesting_exceeds(std::string_view bytes, std::size_t limit) noexcept {
    std::size_t depth = 0;
    bool in_string = false, escaped = false;
    for (char c : bytes) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > limit) return true;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return false;
}

// Parses `bytes` into `doc` and checks it, so the caller does not parse twice. On not_json,
// `doc` is left null.
inline std::optional<RecordFault> parse_and_check_record(std::string_view bytes,
                                                         nlohmann::json& doc,
                                                         const RecordCheckOptions& opts = {}) {
    doc = nullptr;
    if (bytes.size() > max_record_bytes)
        return detail::make_fault("not_json", "$",
                                  "the document is " + std::to_string(bytes.size()) +
                                      " bytes, more than 1 MiB");
    if (bytes.substr(0, 3) == "\xEF\xBB\xBF")  // nlohmann would skip it; §1 says no BOM
        return detail::make_fault("not_json", "$", "the document starts with a byte order mark");
    const bool shallow = !nesting_exceeds(bytes, max_record_depth);
    try {
        // A parser that takes a text without NUL bytes vouches for its UTF-8: it must give
        // nlohmann's value, and nlohmann reads such a text to its end and refuses any ill-formed
        // sequence. (It stops at a NUL, so bytes after one are checked here, as before.) So the
        // byte-by-byte check below, about a tenth of this function, is left for the other
        // texts, and the faults are the same.
        const bool vouched = shallow && opts.parse && bytes.find('\0') == std::string_view::npos &&
                             opts.parse(bytes, doc);
        if (!vouched) {
            if (const std::size_t bad = utf8_error_offset(bytes); bad != std::string_view::npos) {
                doc = nullptr;
                return detail::make_fault("not_json", "$",
                                          "not valid UTF-8 at byte " + std::to_string(bad));
            }
            if (!shallow) {
                doc = nullptr;
                return detail::make_fault("not_json", "$",
                                          "arrays and objects nested deeper than " +
                                              std::to_string(max_record_depth) + " levels");
            }
            doc = nlohmann::json::parse(bytes.data(), bytes.data() + bytes.size());
        }
    } catch (const nlohmann::json::parse_error& e) {
        // e.what() quotes input bytes, which may be personal data: keep only the offset.
        doc = nullptr;
        return detail::make_fault("not_json", "$",
                                  "not valid JSON (parse error at byte " +
                                      std::to_string(e.byte) + ")");
    } catch (const nlohmann::json::exception&) {
        doc = nullptr;
        return detail::make_fault("not_json", "$", "not valid JSON (a number out of range)");
    }
    if (!doc.is_object()) {
        auto fault = detail::make_fault("not_json", "$",
                                        std::string("the document is ") + detail::type_name(doc) +
                                            ", not a JSON object");
        doc = nullptr;  // as promised above: on not_json, `doc` is left null
        return fault;
    }
    return detail::check_object(doc, opts);  // strings were validated with the bytes
}

inline std::optional<RecordFault> check_record(std::string_view bytes,
                                               const RecordCheckOptions& opts = {}) {
    nlohmann::json doc;
    return parse_and_check_record(bytes, doc, opts);
}

// A std::string or C string is the document's bytes. (Without these, both would be ambiguous,
// since nlohmann::json converts implicitly from them as a JSON string value.)
inline std::optional<RecordFault> check_record(const std::string& bytes,
                                               const RecordCheckOptions& opts = {}) {
    return check_record(std::string_view(bytes), opts);
}
inline std::optional<RecordFault> check_record(const char* bytes,
                                               const RecordCheckOptions& opts = {}) {
    return check_record(std::string_view(bytes), opts);
}

// The dead-letter copy of a record rejected for unmasked_personal_data: every reporter
// name_masked / phone_masked / id_masked, every natural person's parties[] name / id, and every
// party's phone_masked that breaks the §2.5 rules is replaced by "[withheld]". Anything else
// is kept.
inline nlohmann::json withhold_personal_data(const nlohmann::json& doc) {
    nlohmann::json out = doc;
    if (!out.is_object()) return out;
    auto withhold = [](nlohmann::json& obj, const detail::PersonalField& f) {
        const auto it = obj.find(f.key);
        if (it != obj.end() && detail::personal_is_unmasked(*it, f.kind))
            *it = std::string(withheld_value);
    };
    if (const auto rep = out.find("reporter"); rep != out.end() && rep->is_object()) {
        for (const detail::PersonalField& f : detail::reporter_personal) withhold(*rep, f);
    }
    if (const auto parties = out.find("parties"); parties != out.end() && parties->is_array()) {
        for (nlohmann::json& p : *parties) {
            if (!p.is_object()) continue;
            for (const detail::PersonalField& f : detail::party_personal)
                if (detail::party_field_is_personal(p, f)) withhold(p, f);
        }
    }
    return out;
}

}  // namespace casehub::sdk
