#include <catch2/catch.hpp>

#include <algorithm>
#include <string>

#include "config/config_schema.hpp"

using casehub::host::apply_config_schema;
using casehub::host::ConfigSchema;
using casehub::host::parse_config_schema;
using casehub::host::redact_secrets;
using casehub::host::schema_to_json;
using casehub::host::schema_to_text;
using nlohmann::json;

namespace {

const char* const kExample = R"([
 {"name":"url","type":"string","required":true,"help":"base URL of the 12345 REST API"},
 {"name":"page_size","type":"integer","default":100,"min":1,"max":1000,"help":"items per page"},
 {"name":"mode","type":"string","default":"poll","enum":["poll","push"],"help":"how to fetch"},
 {"name":"secret","type":"string","secret":true,"required":true,"help":"HMAC key"},
 {"name":"tags","type":"string_list","default":[],"help":"tags to add"},
 {"name":"ratio","type":"number","default":1,"min":0,"max":2.5,"help":"a ratio"},
 {"name":"verbose","type":"boolean","default":false,"help":"log more"},
 {"name":"proxy","type":"string","help":"optional proxy URL"}
])";

ConfigSchema example() {
    auto r = parse_config_schema(kExample);
    REQUIRE(r.ok());
    return std::move(r).value();
}

// The error of parsing a schema made of one option object.
std::string option_error(const std::string& option_json) {
    auto r = parse_config_schema("[" + option_json + "]");
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

// The line of a text table that starts with `name` followed by a space.
std::string row(const std::string& table, const std::string& name) {
    std::size_t pos = 0;
    while (pos < table.size()) {
        const std::size_t end = table.find('\n', pos);
        const std::string line = table.substr(pos, end - pos);
        if (line.rfind(name + " ", 0) == 0) return line;
        if (end == std::string::npos) break;
        pos = end + 1;
    }
    return "";
}

std::string apply_error(const ConfigSchema& s, const json& config) {
    auto r = apply_config_schema(s, config, "config/casehub.toml: adapters.dcm.config");
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

}  // namespace

TEST_CASE("config schema: the example parses", "[unit]") {
    const ConfigSchema s = example();
    REQUIRE(s.options.size() == 8);
    const auto& url = s.options[0];
    CHECK(url.name == "url");
    CHECK(url.type == "string");
    CHECK(url.required);
    CHECK_FALSE(url.secret);
    CHECK_FALSE(url.default_value.has_value());
    CHECK(url.help == "base URL of the 12345 REST API");

    const auto& page = s.options[1];
    CHECK(page.type == "integer");
    REQUIRE(page.default_value);
    CHECK(page.default_value->is_number_integer());
    CHECK(*page.default_value == 100);
    CHECK(page.min == 1.0);
    CHECK(page.max == 1000.0);

    const auto& mode = s.options[2];
    REQUIRE(mode.enum_values.size() == 2);
    CHECK(mode.enum_values[0] == "poll");

    CHECK(s.options[3].secret);
    CHECK(*s.options[4].default_value == json::array());
    // An integer default of a number option becomes a double.
    CHECK(s.options[5].default_value->is_number_float());
    CHECK(s.find("verbose") == &s.options[6]);
    CHECK(s.find("nope") == nullptr);
}

TEST_CASE("config schema: an empty array is a plugin without options", "[unit]") {
    auto r = parse_config_schema("[]");
    REQUIRE(r.ok());
    CHECK(r->options.empty());
    CHECK(schema_to_text(*r) == "(no options)\n");
    auto applied = apply_config_schema(*r, json::object(), "x");
    REQUIRE(applied.ok());
    CHECK(*applied == json::object());
    auto bad = apply_config_schema(*r, json{{"a", 1}}, "x");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error().message, Catch::Contains("x.a: unknown key (this plugin takes no configuration)"));
}

TEST_CASE("config schema: document-level errors", "[unit]") {
    SECTION("larger than 1 MiB") {
        std::string big = "[" + std::string(1024 * 1024, ' ') + "]";
        auto r = parse_config_schema(big);
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("config schema: 1048578 bytes, larger than the 1 MiB allowed"));
    }
    SECTION("not UTF-8") {
        auto r = parse_config_schema("[{\"name\":\"a\xff\"}]");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("config schema: not valid UTF-8 (byte 11)"));
        // Overlong encodings and surrogates are not UTF-8 either.
        CHECK_FALSE(parse_config_schema("[\"\xc0\xaf\"]").ok());
        CHECK_FALSE(parse_config_schema("[\"\xed\xa0\x80\"]").ok());
        CHECK_FALSE(parse_config_schema("[\"\xe4\xb8\"]").ok());  // truncated
    }
    SECTION("invalid JSON") {
        auto r = parse_config_schema("[{\"name\": \"url\",}]");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::StartsWith("config schema: invalid JSON: parse error at line 1, column"));
        CHECK(r.error().message.find('\n') == std::string::npos);
        auto empty = parse_config_schema("");
        REQUIRE_FALSE(empty.ok());
        CHECK_THAT(empty.error().message, Catch::Contains("config schema: invalid JSON"));
    }
    SECTION("numbers JSON cannot hold") {
        auto r = parse_config_schema("[1e400]");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("config schema: invalid JSON"));
    }
    SECTION("not an array") {
        auto r = parse_config_schema(R"({"name":"url"})");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("config schema: expected a JSON array of options, got object"));
    }
    SECTION("nested too deep") {
        auto r = parse_config_schema(std::string(100000, '[') + std::string(100000, ']'));
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("config schema: nested deeper than 64 levels"));
        // Brackets inside strings do not count.
        auto ok = parse_config_schema(R"([{"name":"a","type":"string","help":")" +
                                      std::string(100, '[') + R"("}])");
        CHECK(ok.ok());
    }
}

TEST_CASE("config schema: option errors", "[unit]") {
    SECTION("option not an object") {
        CHECK_THAT(option_error(R"("url")"), Catch::Contains("config schema: option 1: expected an object, got string \"url\""));
    }
    SECTION("name") {
        CHECK_THAT(option_error(R"({"type":"string","help":"h"})"),
                   Catch::Contains("config schema: option 1: missing \"name\""));
        CHECK_THAT(option_error(R"({"name":5,"type":"string","help":"h"})"),
                   Catch::Contains("config schema: option 1: \"name\" must be a string, got integer 5"));
        CHECK_THAT(option_error(R"({"name":"Page-Size","type":"string","help":"h"})"),
                   Catch::Contains("config schema: option 1: name \"Page-Size\" must match [a-z][a-z0-9_]{0,63}"));
        CHECK_THAT(option_error(R"({"name":"","type":"string","help":"h"})"),
                   Catch::Contains("must match [a-z][a-z0-9_]{0,63}"));
        CHECK_THAT(option_error(R"({"name":")" + std::string(65, 'a') + R"(","type":"string","help":"h"})"),
                   Catch::Contains("must match [a-z][a-z0-9_]{0,63}"));
        CHECK(parse_config_schema(R"([{"name":")" + std::string(64, 'a') + R"(","type":"string","help":"h"}])").ok());
        CHECK(parse_config_schema(R"([{"name":"a","type":"string","help":"h"}])").ok());
    }
    SECTION("duplicate name") {
        auto r = parse_config_schema(R"([{"name":"url","type":"string","help":"h"},
                                         {"name":"x","type":"string","help":"h"},
                                         {"name":"url","type":"integer","help":"h"}])");
        REQUIRE_FALSE(r.ok());
        CHECK_THAT(r.error().message, Catch::Contains("config schema: option 3 (\"url\"): duplicate name (also option 1)"));
    }
    SECTION("unknown key") {
        CHECK_THAT(option_error(R"({"name":"url","type":"string","help":"h","requried":true})"),
                   Catch::Contains("config schema: option 1 (\"url\"): unknown key \"requried\" (did you mean \"required\"?)"));
        CHECK_THAT(option_error(R"({"name":"url","type":"string","help":"h","colour":"red"})"),
                   Catch::Contains("unknown key \"colour\" (known keys: name, type, help, default, required, enum, min, max, secret)"));
    }
    SECTION("type") {
        CHECK_THAT(option_error(R"({"name":"url","help":"h"})"),
                   Catch::Contains("config schema: option 1 (\"url\"): missing \"type\""));
        CHECK_THAT(option_error(R"({"name":"url","type":"int","help":"h"})"),
                   Catch::Contains("config schema: option 1 (\"url\"): unknown type \"int\" (expected string, integer, number, boolean, string_list or path)"));
        CHECK_THAT(option_error(R"({"name":"url","type":3,"help":"h"})"),
                   Catch::Contains("unknown type 3"));
    }
    SECTION("help") {
        CHECK_THAT(option_error(R"({"name":"url","type":"string"})"),
                   Catch::Contains("config schema: option 1 (\"url\"): missing \"help\""));
        CHECK_THAT(option_error(R"({"name":"url","type":"string","help":"  "})"),
                   Catch::Contains("config schema: option 1 (\"url\"): \"help\" is empty"));
        CHECK_THAT(option_error(R"({"name":"url","type":"string","help":["a"]})"),
                   Catch::Contains("\"help\" must be a string, got array [\"a\"]"));
    }
    SECTION("required and secret are booleans") {
        CHECK_THAT(option_error(R"({"name":"url","type":"string","help":"h","required":"yes"})"),
                   Catch::Contains("config schema: option 1 (\"url\"): \"required\" must be true or false, got string \"yes\""));
        CHECK_THAT(option_error(R"({"name":"url","type":"string","help":"h","secret":1})"),
                   Catch::Contains("config schema: option 1 (\"url\"): \"secret\" must be true or false, got integer 1"));
    }
    SECTION("min and max") {
        CHECK_THAT(option_error(R"({"name":"url","type":"string","help":"h","min":1})"),
                   Catch::Contains("config schema: option 1 (\"url\"): \"min\" applies only to integer and number options, not string"));
        CHECK_THAT(option_error(R"({"name":"n","type":"integer","help":"h","max":"10"})"),
                   Catch::Contains("config schema: option 1 (\"n\"): \"max\" must be a number, got string \"10\""));
        CHECK_THAT(option_error(R"({"name":"n","type":"integer","help":"h","min":1.5})"),
                   Catch::Contains("config schema: option 1 (\"n\"): \"min\" 1.5 is not an integer"));
        CHECK_THAT(option_error(R"({"name":"n","type":"integer","help":"h","min":10,"max":1})"),
                   Catch::Contains("config schema: option 1 (\"n\"): min 10 is above max 1"));
        CHECK(parse_config_schema(R"([{"name":"n","type":"number","help":"h","min":0.5,"max":0.5}])").ok());
    }
    SECTION("enum") {
        CHECK_THAT(option_error(R"({"name":"m","type":"string","help":"h","enum":[]})"),
                   Catch::Contains("config schema: option 1 (\"m\"): \"enum\" must be a non-empty array, got array []"));
        CHECK_THAT(option_error(R"({"name":"m","type":"string","help":"h","enum":"poll"})"),
                   Catch::Contains("\"enum\" must be a non-empty array, got string \"poll\""));
        CHECK_THAT(option_error(R"({"name":"m","type":"string","help":"h","enum":["poll",2]})"),
                   Catch::Contains("config schema: option 1 (\"m\"): enum[1]: expected string, got integer 2"));
        CHECK_THAT(option_error(R"({"name":"m","type":"integer","help":"h","min":1,"enum":[1,0]})"),
                   Catch::Contains("config schema: option 1 (\"m\"): enum[1]: 0 is below min 1"));
        CHECK_THAT(option_error(R"({"name":"m","type":"string","help":"h","enum":["a","b","a"]})"),
                   Catch::Contains("config schema: option 1 (\"m\"): enum lists \"a\" twice"));
    }
    SECTION("default") {
        CHECK_THAT(option_error(R"({"name":"page_size","type":"integer","help":"h","default":"ten"})"),
                   Catch::Contains("config schema: option 1 (\"page_size\"): default: expected integer, got string \"ten\""));
        CHECK_THAT(option_error(R"({"name":"m","type":"string","help":"h","enum":["poll","push"],"default":"pull"})"),
                   Catch::Contains("config schema: option 1 (\"m\"): default \"pull\" is not one of \"poll\", \"push\""));
        CHECK_THAT(option_error(R"({"name":"n","type":"number","help":"h","max":2.5,"default":3})"),
                   Catch::Contains("config schema: option 1 (\"n\"): default 3 is above max 2.5"));
        CHECK_THAT(option_error(R"({"name":"n","type":"integer","help":"h","default":1.5})"),
                   Catch::Contains("default: expected integer, got number 1.5"));
        CHECK_THAT(option_error(R"({"name":"t","type":"string_list","help":"h","default":["a",1]})"),
                   Catch::Contains("config schema: option 1 (\"t\"): default[1]: expected string, got integer 1"));
        CHECK_THAT(option_error(R"({"name":"t","type":"string_list","help":"h","default":"a"})"),
                   Catch::Contains("default: expected string_list (an array of strings), got string \"a\""));
        CHECK_THAT(option_error(R"({"name":"b","type":"boolean","help":"h","default":"true"})"),
                   Catch::Contains("default: expected boolean, got string \"true\""));
        CHECK_THAT(option_error(R"({"name":"url","type":"string","help":"h","required":true,"default":"x"})"),
                   Catch::Contains("config schema: option 1 (\"url\"): cannot be both required and have a default"));
    }
    SECTION("the message from the brief, on the second option") {
        auto r = parse_config_schema(R"([{"name":"url","type":"string","required":true,"help":"u"},
            {"name":"page_size","type":"integer","default":0,"min":1,"max":1000,"help":"items per page"}])");
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == "config schema: option 2 (\"page_size\"): default 0 is below min 1");
    }
}

TEST_CASE("apply_config_schema: defaults and normalisation", "[unit]") {
    const ConfigSchema s = example();
    auto r = apply_config_schema(s, json{{"url", "http://x"}, {"secret", "k"}}, "w");
    REQUIRE(r.ok());
    const json& c = *r;
    CHECK(c["url"] == "http://x");
    CHECK(c["page_size"] == 100);
    CHECK(c["mode"] == "poll");
    CHECK(c["tags"] == json::array());
    CHECK(c["ratio"].is_number_float());
    CHECK(c["verbose"] == false);
    CHECK_FALSE(c.contains("proxy"));  // optional, no default: absent

    auto r2 = apply_config_schema(
        s,
        json{{"url", "u"}, {"secret", "k"}, {"page_size", 10.0}, {"ratio", 2},
             {"tags", {"a", "b"}}, {"proxy", "p"}, {"mode", "push"}},
        "w");
    REQUIRE(r2.ok());
    CHECK((*r2)["page_size"].is_number_integer());  // 10.0 is an integer
    CHECK((*r2)["page_size"] == 10);
    CHECK((*r2)["ratio"].is_number_float());  // an integer is a number
    CHECK((*r2)["ratio"].get<double>() == 2.0);
    CHECK((*r2)["tags"] == json{"a", "b"});
    CHECK((*r2)["proxy"] == "p");

    // A null config is an empty one.
    auto r3 = apply_config_schema(s, json(), "w");
    REQUIRE_FALSE(r3.ok());
    CHECK_THAT(r3.error().message, Catch::Contains("w: missing required key \"url\""));
}

TEST_CASE("apply_config_schema: errors", "[unit]") {
    const ConfigSchema s = example();
    const json base = {{"url", "http://x"}, {"secret", "k"}};
    auto with = [&](const char* key, json v) {
        json c = base;
        c[key] = std::move(v);
        return c;
    };
    CHECK(apply_error(s, with("page_size", "ten")) ==
          "config/casehub.toml: adapters.dcm.config.page_size: expected integer, got string \"ten\"");
    CHECK_THAT(apply_error(s, with("page_size", 10.5)),
               Catch::Contains("adapters.dcm.config.page_size: expected integer, got number 10.5"));
    CHECK_THAT(apply_error(s, with("page_size", 5000)),
               Catch::Contains("adapters.dcm.config.page_size: 5000 is above max 1000"));
    CHECK_THAT(apply_error(s, with("page_size", 0)),
               Catch::Contains("adapters.dcm.config.page_size: 0 is below min 1"));
    CHECK_THAT(apply_error(s, with("page_size", 18446744073709551615ull)),
               Catch::Contains("page_size: 18446744073709551615 is out of range for a 64-bit integer"));
    CHECK_THAT(apply_error(s, with("ratio", "1")),
               Catch::Contains("adapters.dcm.config.ratio: expected number, got string \"1\""));
    CHECK_THAT(apply_error(s, with("ratio", 2.6)),
               Catch::Contains("adapters.dcm.config.ratio: 2.6 is above max 2.5"));
    CHECK_THAT(apply_error(s, with("mode", "pull")),
               Catch::Contains("adapters.dcm.config.mode: \"pull\" is not one of \"poll\", \"push\""));
    CHECK_THAT(apply_error(s, with("verbose", 1)),
               Catch::Contains("adapters.dcm.config.verbose: expected boolean, got integer 1"));
    CHECK_THAT(apply_error(s, with("tags", json{"a", 2})),
               Catch::Contains("adapters.dcm.config.tags[1]: expected string, got integer 2"));
    CHECK_THAT(apply_error(s, with("tags", "a")),
               Catch::Contains("adapters.dcm.config.tags: expected string_list (an array of strings), got string \"a\""));
    CHECK_THAT(apply_error(s, with("url", nullptr)),
               Catch::Contains("adapters.dcm.config.url: expected string, got null"));
    CHECK_THAT(apply_error(s, with("pagesize", 10)),
               Catch::Contains("config/casehub.toml: adapters.dcm.config.pagesize: unknown key (did you mean \"page_size\"?)"));
    CHECK_THAT(apply_error(s, with("zzzzzzzz", 10)),
               Catch::Contains("adapters.dcm.config.zzzzzzzz: unknown key (known keys: url, page_size, mode, secret, tags, ratio, verbose, proxy)"));
    CHECK_THAT(apply_error(s, with("a.b", 1)),
               Catch::Contains("adapters.dcm.config.\"a.b\": unknown key"));
    CHECK_THAT(apply_error(s, json{{"secret", "k"}}),
               Catch::Contains("config/casehub.toml: adapters.dcm.config: missing required key \"url\" (base URL of the 12345 REST API)"));
    CHECK_THAT(apply_error(s, json::array()),
               Catch::Contains("config/casehub.toml: adapters.dcm.config: expected a table of options, got array"));
}

TEST_CASE("apply_config_schema: a secret value never appears in a message", "[unit]") {
    auto r = parse_config_schema(R"([{"name":"key","type":"integer","secret":true,"max":10,"help":"h"},
                                     {"name":"pw","type":"string","secret":true,"enum":["a"],"help":"h"}])");
    REQUIRE(r.ok());
    const std::string m1 = apply_error(*r, json{{"key", "hunter2"}});
    CHECK_THAT(m1, Catch::Contains("adapters.dcm.config.key: expected integer, got string"));
    CHECK(m1.find("hunter2") == std::string::npos);
    const std::string m2 = apply_error(*r, json{{"key", 12345}});
    CHECK_THAT(m2, Catch::Contains("adapters.dcm.config.key: value is above max 10"));
    CHECK(m2.find("12345") == std::string::npos);
    const std::string m3 = apply_error(*r, json{{"pw", "hunter2"}});
    CHECK_THAT(m3, Catch::Contains("adapters.dcm.config.pw: value is not one of \"a\""));
    CHECK(m3.find("hunter2") == std::string::npos);
}

TEST_CASE("redact_secrets masks secret values", "[unit]") {
    const ConfigSchema s = example();
    const json c = {{"url", "u"}, {"secret", "k"}, {"page_size", 5}};
    const json r = redact_secrets(s, c);
    CHECK(r["secret"] == "***");
    CHECK(r["url"] == "u");
    CHECK(r["page_size"] == 5);
    CHECK(redact_secrets(s, json{{"url", "u"}}) == json{{"url", "u"}});  // absent stays absent
    CHECK(redact_secrets(s, json::array()) == json::array());
}

TEST_CASE("schema_to_json is normalised and parses back", "[unit]") {
    const ConfigSchema s = example();
    const json j = schema_to_json(s);
    REQUIRE(j.size() == 8);
    CHECK(j[0] == json{{"name", "url"}, {"type", "string"}, {"help", "base URL of the 12345 REST API"},
                       {"required", true}, {"secret", false}});
    CHECK(j[1]["min"].is_number_integer());
    CHECK(j[1]["default"] == 100);
    CHECK(j[2]["enum"] == json{"poll", "push"});
    CHECK(j[5]["max"] == 2.5);
    auto again = parse_config_schema(j.dump());
    REQUIRE(again.ok());
    CHECK(schema_to_json(*again) == j);

    auto sec = parse_config_schema(R"([{"name":"k","type":"string","secret":true,"default":"dev","help":"h"}])");
    REQUIRE(sec.ok());
    CHECK(schema_to_json(*sec)[0]["default"] == "***");
    CHECK(schema_to_text(*sec).find("dev") == std::string::npos);
}

TEST_CASE("schema_to_text is a table", "[unit]") {
    const std::string t = schema_to_text(example());
    CHECK_THAT(t, Catch::StartsWith("NAME"));
    CHECK_THAT(t, Catch::Contains("HELP"));
    CHECK_THAT(row(t, "url"), Catch::Matches("url +string +\\(required\\) +- +base URL of the 12345 REST API"));
    CHECK_THAT(row(t, "page_size"), Catch::Matches("page_size +integer +100 +min 1, max 1000 +items per page"));
    CHECK_THAT(t, Catch::Contains("one of \"poll\", \"push\""));
    CHECK_THAT(row(t, "secret"), Catch::Matches("secret +string +\\(required\\) +secret +HMAC key"));
    CHECK_THAT(row(t, "tags"), Catch::Matches("tags +string_list +\\[\\] +- +tags to add"));
    CHECK_THAT(row(t, "proxy"), Catch::Matches("proxy +string +- +- +optional proxy URL"));
    // One line per option plus the header.
    CHECK(std::count(t.begin(), t.end(), '\n') == 9);
}

TEST_CASE("config schema: a path option is resolved against the config's directory", "[unit]") {
    auto s = parse_config_schema(R"([
      {"name":"categories_file","type":"path","default":"qinhuai/categories.json","help":"h"},
      {"name":"inbox","type":"path","help":"h"},
      {"name":"spool","type":"path","help":"h"}])");
    REQUIRE(s.ok());
    auto r = apply_config_schema(*s, json{{"inbox", "/srv/ferry/inbox"}, {"spool", "../var/./spool"}},
                                 "c", "/etc/casehub");
    REQUIRE(r.ok());
    CHECK((*r)["categories_file"] == "/etc/casehub/qinhuai/categories.json");
    CHECK((*r)["inbox"] == "/srv/ferry/inbox");  // absolute: verbatim
    CHECK((*r)["spool"] == "/etc/var/spool");
    // Without a base the value is kept as given, and it must still be a string.
    auto bare = apply_config_schema(*s, json::object(), "c");
    REQUIRE(bare.ok());
    CHECK((*bare)["categories_file"] == "qinhuai/categories.json");
    auto bad = apply_config_schema(*s, json{{"inbox", 3}}, "c", "/etc");
    REQUIRE_FALSE(bad.ok());
    CHECK_THAT(bad.error().message, Catch::Contains("c.inbox: expected path, got"));
}
