// A plugin's configuration schema: parsing it, validating a configuration against it, printing.
//
// A plugin describes its options as a JSON array (the descriptor's `config_schema`, a string
// produced by vendor code, so anything can be in it):
//
//   [{"name":"url","type":"string","required":true,"help":"base URL of the 12345 REST API"},
//    {"name":"page_size","type":"integer","default":100,"min":1,"max":1000,"help":"items per page"},
//    {"name":"mode","type":"string","default":"poll","enum":["poll","push"],"help":"..."},
//    {"name":"secret","type":"string","secret":true,"required":true,"help":"HMAC key"},
//    {"name":"tags","type":"string_list","default":[],"help":"..."}]
//
// Keys of an option (any other key is an error, to catch typos):
//   name      required; [a-z][a-z0-9_]{0,63}; unique in the schema
//   type      required; string | integer (int64) | number (double) | boolean | string_list |
//             path (a string; a relative value is taken relative to the hub's config file)
//   help      required, non-empty: the schema is the option's documentation
//   default   optional; must have the option's type and satisfy its constraints
//   required  optional bool (false); a required option cannot have a default
//   enum      optional non-empty array of allowed values of the option's type, no duplicates;
//             for a string_list it lists the allowed ELEMENTS
//   min, max  optional numbers, only for integer and number options (integral for integer);
//             min <= max
//   secret    optional bool (false): the value is printed as "***" (and so is a default)
//
// Values: an integer is accepted for a number (and becomes a double); a number without a
// fraction is accepted for an integer (10.0 becomes 10), one with a fraction is not.
// An option that is neither required nor has a default is simply absent from the validated
// configuration when not given.
//
// Nothing here throws; errors are one line. Option numbers in messages are 1-based
// ("option 2"), list indices 0-based ("tags[0]").
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.hpp"

namespace casehub::host {

struct ConfigOption {
    std::string name, type, help;
    std::optional<nlohmann::json> default_value;  // normalised to the option's type
    bool required = false, secret = false;
    std::vector<nlohmann::json> enum_values;      // normalised to the option's (element) type
    std::optional<double> min, max;
};

struct ConfigSchema {
    std::vector<ConfigOption> options;

    const ConfigOption* find(std::string_view name) const;
};

// Largest schema text accepted.
inline constexpr std::size_t kMaxConfigSchemaBytes = 1024 * 1024;

// Parses and checks a schema. Errors start with "config schema: ", e.g.
//   config schema: option 2 ("page_size"): default 0 is below min 1
// Invalid JSON, not an array, more than 1 MiB, invalid UTF-8 and nesting deeper than 64 are
// errors too.
Result<ConfigSchema> parse_config_schema(std::string_view json_text);

// Validates a configuration object against the schema and returns it with defaults filled in
// and values normalised (see above). A null config counts as an empty object. Unknown keys,
// missing required keys and wrong types or values are errors. `where` prefixes messages:
//   where = "config/casehub.toml: adapters.dcm.config" gives
//   "config/casehub.toml: adapters.dcm.config.page_size: expected integer, got string \"ten\""
// Values of secret options are never quoted in messages.
// Relative values of `path` options (given or default) are resolved against `base_dir` when it
// is not empty.
Result<nlohmann::json> apply_config_schema(const ConfigSchema& schema, const nlohmann::json& config,
                                           std::string_view where,
                                           const std::filesystem::path& base_dir = {});

// The schema, normalised (every option has name, type, help, required, secret; default, enum,
// min and max when set), for printing. Secret defaults appear as "***".
nlohmann::json schema_to_json(const ConfigSchema& schema);

// A human table: NAME, TYPE, DEFAULT (or "required"), CONSTRAINTS, HELP; one line per option.
std::string schema_to_text(const ConfigSchema& schema);

// Returns `config` with the value of every secret option that is present replaced by "***".
nlohmann::json redact_secrets(const ConfigSchema& schema, nlohmann::json config);

}  // namespace casehub::host
