// Fuzz target: a plugin's configuration schema (host/config/config_schema.hpp).
//
// Input: SCHEMA_JSON [ NUL CONFIG_JSON ]. The schema text is what a plugin descriptor's
// config_schema holds (vendor code: anything can be in it); the optional part after the first
// NUL byte is a configuration object to validate against it (what [adapters.config] becomes).
// Invariants (any violation traps):
//   - parse_config_schema and apply_config_schema never throw; every error is one line;
//     schema errors start with "config schema: ", configuration errors with the `where` given;
//   - a parsed schema has unique, well-formed option names; schema_to_json, schema_to_text and
//     redact_secrets never throw; schema_to_text prints one line per option plus the header;
//     schema_to_json of a schema without secret defaults parses back to the same schema;
//   - a null configuration and an empty object are the same; without required options they
//     validate to exactly the defaults;
//   - a validated configuration validates again to itself (normalisation is idempotent), and
//     redact_secrets replaces every secret option that is present by "***";
//   - a secret option's value never appears in an error message (unless the same text is
//     elsewhere in the input, where the message may legitimately quote it).
#include "config/config_schema.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

namespace {

using nlohmann::json;
using casehub::host::ConfigSchema;

constexpr std::string_view kWhere = "fuzz.toml: adapters[0].config";

bool valid_name(std::string_view s) {
    if (s.empty() || s.size() > 64 || s[0] < 'a' || s[0] > 'z') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

void check_config_error(const std::string& msg) {
    FUZZ_CHECK(casehub::fuzz::one_line(msg), msg);
    FUZZ_CHECK(msg.rfind(kWhere, 0) == 0, msg);
}

// Validates `config`; checks what is checkable without knowing whether it should pass.
// `schema_words`: the schema's text and its printed forms (a message may quote a bound or an
// enum value that happens to equal a secret value).
void check_apply(const ConfigSchema& schema, const json& config, const std::string& schema_words) {
    std::optional<casehub::Result<json>> r;
    FUZZ_NEVER_THROWS([&] { r.emplace(casehub::host::apply_config_schema(schema, config, kWhere)); });
    if (!r->ok()) {
        const std::string& msg = r->error().message;
        check_config_error(msg);
        // Secret values are never quoted. The message may contain the same text for another
        // reason (a key, another value, the schema); only text found nowhere else counts.
        if (config.is_object()) {
            for (const auto& o : schema.options) {
                if (!o.secret) continue;
                const auto it = config.find(o.name);
                if (it == config.end()) continue;
                const std::string needle =
                    it->is_string() ? it->get<std::string>()
                                    : it->dump(-1, ' ', false, json::error_handler_t::replace);
                if (needle.size() < 4 || msg.find(needle) == std::string::npos) continue;
                bool elsewhere = schema_words.find(needle) != std::string::npos;
                for (const auto& [k, v] : config.items())
                    if (k.find(needle) != std::string::npos ||
                        (k != o.name && v.dump(-1, ' ', false, json::error_handler_t::replace)
                                                .find(needle) != std::string::npos))
                        elsewhere = true;
                if (kWhere.find(needle) != std::string_view::npos) elsewhere = true;
                FUZZ_CHECK(elsewhere, "secret value " + needle + " quoted in: " + msg);
            }
        }
        return;
    }
    const json& out = r->value();
    FUZZ_CHECK(out.is_object());
    for (const auto& [k, v] : out.items()) FUZZ_CHECK(schema.find(k) != nullptr, k);
    for (const auto& o : schema.options)
        if (o.required) FUZZ_CHECK(out.contains(o.name), o.name);

    // Idempotent: the validated configuration is valid and unchanged by validating it again.
    std::optional<casehub::Result<json>> again;
    FUZZ_NEVER_THROWS([&] { again.emplace(casehub::host::apply_config_schema(schema, out, kWhere)); });
    FUZZ_CHECK(again->ok(), again->ok() ? std::string() : again->error().message);
    FUZZ_CHECK(again->value() == out, out.dump() + " became " + again->value().dump());

    json redacted;
    FUZZ_NEVER_THROWS([&] { redacted = casehub::host::redact_secrets(schema, out); });
    for (const auto& o : schema.options)
        if (o.secret && out.contains(o.name)) FUZZ_CHECK(redacted[o.name] == "***", o.name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    const std::size_t nul = input.find('\0');
    const std::string_view schema_text = input.substr(0, nul);

    std::optional<casehub::Result<ConfigSchema>> parsed;
    FUZZ_NEVER_THROWS([&] { parsed.emplace(casehub::host::parse_config_schema(schema_text)); });
    if (!parsed->ok()) {
        const std::string& msg = parsed->error().message;
        FUZZ_CHECK(casehub::fuzz::one_line(msg), msg);
        FUZZ_CHECK(msg.rfind("config schema: ", 0) == 0, msg);
        return 0;
    }
    const ConfigSchema& schema = parsed->value();

    bool any_required = false, any_secret_default = false;
    for (std::size_t i = 0; i < schema.options.size(); ++i) {
        const auto& o = schema.options[i];
        FUZZ_CHECK(valid_name(o.name), o.name);
        for (std::size_t j = 0; j < i; ++j) FUZZ_CHECK(schema.options[j].name != o.name, o.name);
        FUZZ_CHECK(!(o.required && o.default_value), o.name);
        any_required |= o.required;
        any_secret_default |= o.secret && o.default_value.has_value();
    }

    // Printing.
    json printed;
    std::string text;
    FUZZ_NEVER_THROWS([&] {
        printed = casehub::host::schema_to_json(schema);
        text = casehub::host::schema_to_text(schema);
    });
    FUZZ_CHECK(static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n')) ==
                   schema.options.size() + 1,
               text);
    FUZZ_CHECK(text.find('\r') == std::string::npos, text);
    if (!any_secret_default) {  // a secret default prints as "***", which need not fit its type
        const std::string dumped = printed.dump();
        std::optional<casehub::Result<ConfigSchema>> reparsed;
        FUZZ_NEVER_THROWS([&] { reparsed.emplace(casehub::host::parse_config_schema(dumped)); });
        FUZZ_CHECK(reparsed->ok(),
                   dumped + " -> " + (reparsed->ok() ? std::string() : reparsed->error().message));
        const json printed_again = casehub::host::schema_to_json(reparsed->value());
        FUZZ_CHECK(printed_again == printed, dumped + " -> " + printed_again.dump());
    }

    // Null and {} are the same configuration; without required options they give the defaults.
    std::optional<casehub::Result<json>> from_null, from_empty;
    FUZZ_NEVER_THROWS([&] {
        from_null.emplace(casehub::host::apply_config_schema(schema, json(), kWhere));
        from_empty.emplace(casehub::host::apply_config_schema(schema, json::object(), kWhere));
    });
    FUZZ_CHECK(from_null->ok() == from_empty->ok());
    FUZZ_CHECK(from_null->ok() == !any_required);
    if (from_null->ok()) {
        FUZZ_CHECK(from_null->value() == from_empty->value());
        json defaults = json::object();
        for (const auto& o : schema.options)
            if (o.default_value) defaults[o.name] = *o.default_value;
        FUZZ_CHECK(from_null->value() == defaults, from_null->value().dump());
    } else {
        FUZZ_CHECK(from_null->error().message == from_empty->error().message);
        check_config_error(from_null->error().message);
    }
    const std::string schema_words = std::string(schema_text) + "\n" + text + printed.dump();
    check_apply(schema, json(), schema_words);

    // The configuration given after the NUL, if any.
    if (nul != std::string_view::npos) {
        const std::string_view config_text = input.substr(nul + 1);
        json config;
        FUZZ_NEVER_THROWS([&] { config = json::parse(config_text, nullptr, false); });
        if (!config.is_discarded()) check_apply(schema, config, schema_words);
    }
    return 0;
}
