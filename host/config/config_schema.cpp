#include "config/config_schema.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <utility>

namespace casehub::host {

using nlohmann::json;

namespace {

constexpr std::size_t kMaxDepth = 64;
constexpr std::size_t kMaxShown = 60;  // longest value quoted in a message

constexpr std::string_view kTypes[] = {"string", "integer", "number", "boolean", "string_list", "path"};
constexpr std::string_view kOptionKeys[] = {"name",     "type", "help", "default", "required",
                                            "enum",     "min",  "max",  "secret"};

// ---- small helpers ------------------------------------------------------------------------

// Returns the offset of the first byte that is not part of well-formed UTF-8, or npos.
std::size_t find_invalid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        const unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;  // overlong
            if (c == 0xED) hi = 0x9F;  // surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;  // overlong
            if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
        } else {
            return i;
        }
        if (i + len > n) return i;
        if (p[i + 1] < lo || p[i + 1] > hi) return i;
        for (std::size_t k = 2; k < len; ++k)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF) return i;
        i += len;
    }
    return std::string_view::npos;
}

// Deepest nesting of arrays/objects, scanning the text (so a hostile document cannot make any
// recursive code run deep). Stops counting once above `limit`.
std::size_t nesting_depth(std::string_view s, std::size_t limit) {
    std::size_t depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (char c : s) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
            if (deepest > limit) return deepest;
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

std::string dump(const json& v) {
    std::string s = v.dump(-1, ' ', false, json::error_handler_t::replace);
    if (s.size() > kMaxShown) {
        std::size_t cut = kMaxShown;
        while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
        s.resize(cut);
        s += "...";
    }
    return s;
}

std::string quote(std::string_view s) { return dump(json(std::string(s))); }

const char* kind(const json& v) {
    switch (v.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "boolean";
        case json::value_t::string: return "string";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "integer";
        case json::value_t::number_float: return "number";
        case json::value_t::array: return "array";
        case json::value_t::object: return "object";
        default: return "binary";
    }
}

// "string \"ten\"", "integer 5", "null"; a secret value shows only its kind.
std::string describe(const json& v, bool secret) {
    std::string s = kind(v);
    if (!secret && !v.is_null()) s += " " + dump(v);
    return s;
}

std::string fmt_num(double d) {
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e15) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(d));
        return buf;
    }
    return json(d).dump();
}

// A number (already normalised: int64 or double) for messages.
std::string fmt_value(const json& v) {
    if (v.is_number_float()) return fmt_num(v.get<double>());
    return dump(v);
}

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 64) return false;
    if (s[0] < 'a' || s[0] > 'z') return false;
    return std::all_of(s.begin() + 1, s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

// " (did you mean \"x\"?)" or " (known keys: a, b)" or "".
template <class Names>
std::string suggestion(std::string_view key, const Names& names) {
    std::string best;
    std::size_t best_d = 3;  // at most 2 edits
    std::string all;
    for (const auto& n : names) {
        const std::string_view name(n);
        if (!all.empty()) all += ", ";
        all += name;
        if (key.size() > 64) continue;
        std::size_t d = edit_distance(key, name);
        if (key.size() >= 4 && name.size() > key.size() && name.substr(0, key.size()) == key)
            d = std::min<std::size_t>(d, 2);  // a prefix: "backoff_initial" for "backoff_initial_ms"
        if (d < best_d) {
            best_d = d;
            best = std::string(name);
        }
    }
    if (!best.empty()) return " (did you mean " + quote(best) + "?)";
    if (!all.empty()) return " (known keys: " + all + ")";
    return " (this plugin takes no configuration)";
}

// A key as a path segment: bare when it looks like an identifier, quoted otherwise.
std::string key_segment(std::string_view key) {
    const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return bare ? std::string(key) : quote(key);
}

std::string join_path(std::string_view where, std::string_view key) {
    std::string seg = key_segment(key);
    if (where.empty()) return seg;
    return std::string(where) + "." + seg;
}

// ---- values -------------------------------------------------------------------------------

// Converts `v` to a normalised value of scalar type `type`, or returns why it cannot.
std::optional<std::string> normalise_scalar(std::string_view type, const json& v, bool secret,
                                            json& out) {
    auto wrong = [&] { return "expected " + std::string(type) + ", got " + describe(v, secret); };
    if (type == "string" || type == "path") {
        if (!v.is_string()) return wrong();
        out = v;
    } else if (type == "boolean") {
        if (!v.is_boolean()) return wrong();
        out = v;
    } else if (type == "integer") {
        if (v.is_number_integer() && !v.is_number_unsigned()) {
            out = v.get<std::int64_t>();
        } else if (v.is_number_unsigned()) {
            const auto u = v.get<std::uint64_t>();
            if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
                return (secret ? std::string("value") : dump(v)) +
                       " is out of range for a 64-bit integer";
            out = static_cast<std::int64_t>(u);
        } else if (v.is_number_float()) {
            const double d = v.get<double>();
            if (!std::isfinite(d) || d != std::trunc(d)) return wrong();
            if (d < -9223372036854775808.0 || d >= 9223372036854775808.0)
                return (secret ? std::string("value") : dump(v)) +
                       " is out of range for a 64-bit integer";
            out = static_cast<std::int64_t>(d);
        } else {
            return wrong();
        }
    } else if (type == "number") {
        if (!v.is_number()) return wrong();
        const double d = v.get<double>();
        if (!std::isfinite(d)) return wrong();
        out = d;
    } else {
        return "unsupported type " + quote(type);
    }
    return std::nullopt;
}

// Exact comparison of a normalised number (int64 or double) with a double bound.
int compare_number(const json& v, double bound) {
    if (v.is_number_float()) {
        const double d = v.get<double>();
        return d < bound ? -1 : (d > bound ? 1 : 0);
    }
    const auto i = v.get<std::int64_t>();
    if (bound >= 9223372036854775808.0) return -1;
    if (bound < -9223372036854775808.0) return 1;
    // i < bound  <=>  i < ceil(bound);  i > bound  <=>  i > floor(bound)
    if (i < static_cast<std::int64_t>(std::ceil(bound))) return -1;
    if (i > static_cast<std::int64_t>(std::floor(bound))) return 1;
    return 0;
}

std::string enum_list(const std::vector<json>& values) {
    std::string s;
    for (const auto& e : values) {
        if (!s.empty()) s += ", ";
        s += fmt_value(e);
    }
    return s;
}

// min/max and (when with_enum) enum, on one normalised scalar.
std::optional<std::string> check_scalar_constraints(const ConfigOption& o, const json& v,
                                                    bool with_enum) {
    const std::string shown = o.secret ? std::string("value") : fmt_value(v);
    if (v.is_number()) {
        if (o.min && compare_number(v, *o.min) < 0)
            return shown + " is below min " + fmt_num(*o.min);
        if (o.max && compare_number(v, *o.max) > 0)
            return shown + " is above max " + fmt_num(*o.max);
    }
    if (with_enum && !o.enum_values.empty() &&
        std::find(o.enum_values.begin(), o.enum_values.end(), v) == o.enum_values.end())
        return shown + " is not one of " + enum_list(o.enum_values);
    return std::nullopt;
}

struct Problem {
    std::string suffix;  // e.g. "[2]" for an element of a list
    std::string message;
    bool type_error = false;
};

// Validates and normalises a value for option `o`.
std::optional<Problem> check_value(const ConfigOption& o, const json& v, bool with_enum,
                                   json& out) {
    if (o.type == "string_list") {
        if (!v.is_array())
            return Problem{"", "expected string_list (an array of strings), got " +
                                   describe(v, o.secret),
                           true};
        json list = json::array();
        for (std::size_t i = 0; i < v.size(); ++i) {
            json elem;
            const std::string suffix = "[" + std::to_string(i) + "]";
            if (auto why = normalise_scalar("string", v[i], o.secret, elem))
                return Problem{suffix, *why, true};
            if (auto why = check_scalar_constraints(o, elem, with_enum))
                return Problem{suffix, *why, false};
            list.push_back(std::move(elem));
        }
        out = std::move(list);
        return std::nullopt;
    }
    json norm;
    if (auto why = normalise_scalar(o.type, v, o.secret, norm)) return Problem{"", *why, true};
    if (auto why = check_scalar_constraints(o, norm, with_enum)) return Problem{"", *why, false};
    out = std::move(norm);
    return std::nullopt;
}

// ---- schema parsing ------------------------------------------------------------------------

Error schema_error(const std::string& label, const std::string& message) {
    return make_error("config schema: " + label + ": " + message);
}

std::optional<Error> parse_option(const json& item, std::size_t number,
                                  const std::vector<ConfigOption>& before, ConfigOption& o) {
    std::string label = "option " + std::to_string(number);
    if (!item.is_object())
        return schema_error(label, "expected an object, got " + describe(item, false));

    // name
    const auto name_it = item.find("name");
    if (name_it == item.end()) return schema_error(label, "missing \"name\"");
    if (!name_it->is_string())
        return schema_error(label, "\"name\" must be a string, got " + describe(*name_it, false));
    o.name = name_it->get<std::string>();
    if (!valid_name(o.name))
        return schema_error(label, "name " + quote(o.name) + " must match [a-z][a-z0-9_]{0,63}");
    label += " (" + quote(o.name) + ")";

    for (const auto& [key, value] : item.items()) {
        (void)value;
        if (std::find(std::begin(kOptionKeys), std::end(kOptionKeys), key) == std::end(kOptionKeys))
            return schema_error(label, "unknown key " + quote(key) + suggestion(key, kOptionKeys));
    }
    for (std::size_t i = 0; i < before.size(); ++i)
        if (before[i].name == o.name)
            return schema_error(label, "duplicate name (also option " + std::to_string(i + 1) + ")");

    // type
    const auto type_it = item.find("type");
    if (type_it == item.end()) return schema_error(label, "missing \"type\"");
    if (!type_it->is_string() ||
        std::find(std::begin(kTypes), std::end(kTypes), type_it->get<std::string>()) ==
            std::end(kTypes))
        return schema_error(label, "unknown type " + dump(*type_it) +
                                       " (expected string, integer, number, boolean, "
                                       "string_list or path)");
    o.type = type_it->get<std::string>();

    // help
    const auto help_it = item.find("help");
    if (help_it == item.end())
        return schema_error(label, "missing \"help\" (the schema is the option's documentation)");
    if (!help_it->is_string())
        return schema_error(label, "\"help\" must be a string, got " + describe(*help_it, false));
    o.help = help_it->get<std::string>();
    if (std::all_of(o.help.begin(), o.help.end(),
                    [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }))
        return schema_error(label, "\"help\" is empty (the schema is the option's documentation)");

    // required, secret
    for (auto [key, field] : {std::pair<const char*, bool*>{"required", &o.required},
                              std::pair<const char*, bool*>{"secret", &o.secret}}) {
        const auto it = item.find(key);
        if (it == item.end()) continue;
        if (!it->is_boolean())
            return schema_error(label, "\"" + std::string(key) + "\" must be true or false, got " +
                                           describe(*it, false));
        *field = it->get<bool>();
    }

    // min, max
    const bool numeric = o.type == "integer" || o.type == "number";
    for (auto [key, field] : {std::pair<const char*, std::optional<double>*>{"min", &o.min},
                              std::pair<const char*, std::optional<double>*>{"max", &o.max}}) {
        const auto it = item.find(key);
        if (it == item.end()) continue;
        if (!numeric)
            return schema_error(label, "\"" + std::string(key) +
                                           "\" applies only to integer and number options, "
                                           "not " + o.type);
        if (!it->is_number())
            return schema_error(label, "\"" + std::string(key) + "\" must be a number, got " +
                                           describe(*it, false));
        const double d = it->get<double>();
        if (!std::isfinite(d))
            return schema_error(label, "\"" + std::string(key) + "\" must be finite");
        if (o.type == "integer" && d != std::trunc(d))
            return schema_error(label, "\"" + std::string(key) + "\" " + fmt_num(d) +
                                           " is not an integer");
        *field = d;
    }
    if (o.min && o.max && *o.min > *o.max)
        return schema_error(label, "min " + fmt_num(*o.min) + " is above max " + fmt_num(*o.max));

    // enum
    if (const auto it = item.find("enum"); it != item.end()) {
        if (!it->is_array() || it->empty())
            return schema_error(label, "\"enum\" must be a non-empty array, got " +
                                           describe(*it, false));
        const std::string elem_type = o.type == "string_list" ? "string" : o.type;
        for (std::size_t i = 0; i < it->size(); ++i) {
            json norm;
            if (auto why = normalise_scalar(elem_type, (*it)[i], false, norm))
                return schema_error(label, "enum[" + std::to_string(i) + "]: " + *why);
            ConfigOption bounds_only = o;
            bounds_only.secret = false;
            if (auto why = check_scalar_constraints(bounds_only, norm, false))
                return schema_error(label, "enum[" + std::to_string(i) + "]: " + *why);
            if (std::find(o.enum_values.begin(), o.enum_values.end(), norm) != o.enum_values.end())
                return schema_error(label, "enum lists " + fmt_value(norm) + " twice");
            o.enum_values.push_back(std::move(norm));
        }
    }

    // default
    if (const auto it = item.find("default"); it != item.end()) {
        if (o.required)
            return schema_error(label, "cannot be both required and have a default");
        ConfigOption shown = o;
        shown.secret = false;  // the schema's own text: no need to hide it in its errors
        json norm;
        if (auto p = check_value(shown, *it, true, norm))
            return schema_error(label, "default" + p->suffix + (p->type_error ? ": " : " ") +
                                           p->message);
        o.default_value = std::move(norm);
    }
    return std::nullopt;
}

}  // namespace

const ConfigOption* ConfigSchema::find(std::string_view name) const {
    for (const auto& o : options)
        if (o.name == name) return &o;
    return nullptr;
}

Result<ConfigSchema> parse_config_schema(std::string_view text) {
    if (text.size() > kMaxConfigSchemaBytes)
        return make_error("config schema: " + std::to_string(text.size()) +
                          " bytes, larger than the 1 MiB allowed");
    if (const auto bad = find_invalid_utf8(text); bad != std::string_view::npos)
        return make_error("config schema: not valid UTF-8 (byte " + std::to_string(bad) + ")");
    if (nesting_depth(text, kMaxDepth) > kMaxDepth)
        return make_error("config schema: nested deeper than " + std::to_string(kMaxDepth) +
                          " levels");

    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::exception& e) {
        std::string what = e.what();
        if (const auto pos = what.find("] "); what.rfind("[json.exception", 0) == 0 &&
                                               pos != std::string::npos)
            what.erase(0, pos + 2);
        return make_error("config schema: invalid JSON: " + what);
    } catch (const std::exception& e) {
        return make_error(std::string("config schema: cannot parse: ") + e.what());
    }
    if (!doc.is_array())
        return make_error(std::string("config schema: expected a JSON array of options, got ") +
                          kind(doc));

    ConfigSchema schema;
    schema.options.reserve(doc.size());
    for (std::size_t i = 0; i < doc.size(); ++i) {
        ConfigOption o;
        if (auto e = parse_option(doc[i], i + 1, schema.options, o)) return *e;
        schema.options.push_back(std::move(o));
    }
    return schema;
}

Result<json> apply_config_schema(const ConfigSchema& schema, const json& config,
                                 std::string_view where, const std::filesystem::path& base_dir) {
    const std::string top = where.empty() ? std::string("config") : std::string(where);
    if (!config.is_null() && !config.is_object())
        return make_error(top + ": expected a table of options, got " + describe(config, false));

    json out = json::object();
    if (config.is_object()) {
        for (const auto& [key, value] : config.items()) {
            (void)value;
            if (!schema.find(key)) {
                std::vector<std::string> names;
                for (const auto& o : schema.options) names.push_back(o.name);
                return make_error(join_path(where, key) + ": unknown key" + suggestion(key, names));
            }
        }
    }
    for (const auto& o : schema.options) {
        const json* given = nullptr;
        if (config.is_object())
            if (const auto it = config.find(o.name); it != config.end()) given = &*it;
        if (given) {
            json norm;
            if (auto p = check_value(o, *given, true, norm))
                return make_error(join_path(where, o.name) + p->suffix + ": " + p->message);
            out[o.name] = std::move(norm);
        } else if (o.default_value) {
            out[o.name] = *o.default_value;
        } else if (o.required) {
            std::string help = o.help;
            std::replace_if(help.begin(), help.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
            if (help.size() > 80) {
                std::size_t cut = 80;
                while (cut > 0 && (static_cast<unsigned char>(help[cut]) & 0xC0) == 0x80) --cut;
                help = help.substr(0, cut) + "...";
            }
            return make_error(top + ": missing required key " + quote(o.name) + " (" + help + ")");
        }
        // A relative path means relative to the configuration that names it, not to the cwd.
        if (o.type == "path" && !base_dir.empty() && out.contains(o.name)) {
            const std::filesystem::path p(out[o.name].get<std::string>());
            if (!p.empty() && p.is_relative()) out[o.name] = (base_dir / p).lexically_normal().string();
        }
    }
    return out;
}

json schema_to_json(const ConfigSchema& schema) {
    json arr = json::array();
    for (const auto& o : schema.options) {
        json j = {{"name", o.name},         {"type", o.type},     {"help", o.help},
                  {"required", o.required}, {"secret", o.secret}};
        if (o.default_value) j["default"] = o.secret ? json("***") : *o.default_value;
        if (!o.enum_values.empty()) j["enum"] = o.enum_values;
        for (auto [key, v] : {std::pair<const char*, const std::optional<double>*>{"min", &o.min},
                              std::pair<const char*, const std::optional<double>*>{"max", &o.max}}) {
            if (!*v) continue;
            if (o.type == "integer" && std::fabs(**v) < 9.2e18)
                j[key] = static_cast<std::int64_t>(**v);
            else
                j[key] = **v;
        }
        arr.push_back(std::move(j));
    }
    return arr;
}

std::string schema_to_text(const ConfigSchema& schema) {
    if (schema.options.empty()) return "(no options)\n";
    auto one_line = [](std::string s) {
        std::replace_if(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }, ' ');
        return s;
    };
    // Display width: count UTF-8 code points (good enough for a table of ASCII names/values).
    auto width = [](const std::string& s) {
        return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) {
            return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
        }));
    };
    std::vector<std::array<std::string, 5>> rows;
    rows.push_back({"NAME", "TYPE", "DEFAULT", "CONSTRAINTS", "HELP"});
    for (const auto& o : schema.options) {
        std::string def = o.required         ? std::string("(required)")
                          : !o.default_value ? std::string("-")
                          : o.secret         ? std::string("***")
                                             : fmt_value(*o.default_value);
        std::string cons;
        auto add = [&](const std::string& c) {
            if (!cons.empty()) cons += ", ";
            cons += c;
        };
        if (o.min) add("min " + fmt_num(*o.min));
        if (o.max) add("max " + fmt_num(*o.max));
        if (!o.enum_values.empty())
            add((o.type == "string_list" ? "each one of " : "one of ") + enum_list(o.enum_values));
        if (o.secret) add("secret");
        if (cons.empty()) cons = "-";
        rows.push_back({o.name, o.type, one_line(def), one_line(cons), one_line(o.help)});
    }
    std::array<std::size_t, 4> w{};
    for (const auto& r : rows)
        for (std::size_t c = 0; c < 4; ++c) w[c] = std::max(w[c], width(r[c]));
    std::string out;
    for (const auto& r : rows) {
        for (std::size_t c = 0; c < 4; ++c) {
            out += r[c];
            out.append(w[c] - width(r[c]) + 2, ' ');
        }
        out += r[4];
        out += '\n';
    }
    return out;
}

json redact_secrets(const ConfigSchema& schema, json config) {
    if (!config.is_object()) return config;
    for (const auto& o : schema.options)
        if (o.secret)
            if (const auto it = config.find(o.name); it != config.end()) *it = "***";
    return config;
}

}  // namespace casehub::host
