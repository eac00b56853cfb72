#include <casehub/sdk/record_check.hpp>

#include "../support/spec_examples.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

using casehub::sdk::check_record;
using casehub::sdk::RecordCheckOptions;
using casehub::sdk::RecordFault;
using json = nlohmann::json;

namespace {

using casehub::test::example_61;
using casehub::test::example_62;

json ex61() { return json::parse(example_61); }
json ex62() { return json::parse(example_62); }

std::string repeat(std::string_view unit, std::size_t n) {
    std::string s;
    s.reserve(unit.size() * n);
    for (std::size_t i = 0; i < n; ++i) s += unit;
    return s;
}

// Checks through both overloads; they must agree.
std::optional<RecordFault> check_both(const json& doc, const RecordCheckOptions& opts = {}) {
    auto from_json = check_record(doc, opts);
    auto from_bytes = check_record(doc.dump(), opts);
    REQUIRE(from_json.has_value() == from_bytes.has_value());
    if (from_json) {
        CHECK(from_json->reason == from_bytes->reason);
        CHECK(from_json->path == from_bytes->path);
        // One human line that starts with the path.
        CHECK(from_json->message.rfind(from_json->path + ": ", 0) == 0);
        CHECK(from_json->message.find('\n') == std::string::npos);
    }
    return from_json;
}

}  // namespace

#define REQUIRE_FAULT(doc, reason_, path_, ...)                 \
    do {                                                        \
        const auto f_ = check_both((doc) __VA_OPT__(,) __VA_ARGS__);       \
        REQUIRE(f_.has_value());                                \
        INFO(f_->message);                                      \
        CHECK(f_->reason == (reason_));                         \
        CHECK(f_->path == (path_));                             \
    } while (0)

#define REQUIRE_PASS(doc, ...)                                                     \
    do {                                                                           \
        const auto f_ = check_both((doc) __VA_OPT__(,) __VA_ARGS__);                          \
        INFO((f_ ? f_->reason + " " + f_->message : std::string("passed")));       \
        CHECK_FALSE(f_.has_value());                                               \
    } while (0)

// ---------------------------------------------------------------------------------------------

TEST_CASE("record: the spec's examples 6.1 and 6.2 pass", "[unit][record]") {
    CHECK_FALSE(check_record(std::string_view(example_61)).has_value());
    CHECK_FALSE(check_record(std::string_view(example_62)).has_value());
    REQUIRE_PASS(ex61());
    REQUIRE_PASS(ex62());

    const std::set<std::string, std::less<>> systems;  // only the built-ins
    const std::set<std::string, std::less<>> categories{"city_appearance.exposed_garbage",
                                                        "other.unclassified"};
    const RecordCheckOptions opts{&systems, &categories};
    REQUIRE_PASS(ex61(), opts);
    REQUIRE_PASS(ex62(), opts);

    json parsed;
    CHECK_FALSE(casehub::sdk::parse_and_check_record(example_62, parsed, opts).has_value());
    CHECK(parsed["source"]["record_id"] == "NJ20260309004512");
}

TEST_CASE("record: optional fields may be absent or null", "[unit][record]") {
    const char* optional_top[] = {"title", "priority", "location", "parties", "responsible",
                                  "tags", "satisfaction", "attachments", "links"};
    json absent = ex61(), nulled = ex61();
    for (const char* k : optional_top) {
        absent.erase(k);
        nulled[k] = nullptr;
    }
    for (const char* k : {"registered_at", "dispatched_at", "due_at", "resolved_at", "closed_at"}) {
        absent["times"].erase(k);
        nulled["times"][k] = nullptr;
    }
    for (const char* k : {"name_masked", "phone_masked", "id_masked", "worker_id"}) {
        absent["reporter"].erase(k);
        nulled["reporter"][k] = nullptr;
    }
    absent["category"]["native"].erase("name");
    nulled["category"]["native"]["name"] = nullptr;
    absent.erase("appeal_type");
    REQUIRE_PASS(absent);
    REQUIRE_PASS(nulled);

    json loc = ex61();
    loc["location"] = {{"original", nullptr}, {"address", nullptr}, {"grid_code", nullptr}};
    REQUIRE_PASS(loc);
    loc["location"] = json::object();
    REQUIRE_PASS(loc);

    json empty_desc = ex61();  // "May be empty string only if the source has no text"
    empty_desc["description"] = "";
    REQUIRE_PASS(empty_desc);

    json unknown = ex61();  // unknown fields are ignored
    unknown["vendor_extra"] = {{"anything", {1, 2, 3}}};
    unknown["source"]["extra"] = 5;
    REQUIRE_PASS(unknown);
}

// ---------------------------------------------------------------------------------------------
// not_json

TEST_CASE("record: not_json for bytes that are not one UTF-8 JSON object", "[unit][record]") {
    auto reason_of = [](std::string_view bytes) {
        const auto f = check_record(bytes);
        REQUIRE(f.has_value());
        CHECK(f->path == "$");
        return f->reason;
    };
    CHECK(reason_of("") == "not_json");
    CHECK(reason_of("{") == "not_json");
    CHECK(reason_of("[]") == "not_json");
    CHECK(reason_of("\"casehub.record/1\"") == "not_json");
    CHECK(reason_of("null") == "not_json");
    CHECK(reason_of("42") == "not_json");
    CHECK(reason_of("{} {}") == "not_json");                  // two documents
    CHECK(reason_of(std::string(example_61) + "x") == "not_json");
    CHECK(reason_of("{\"schema\": \"casehub.record/1\", // comment\n}") == "not_json");
    CHECK(reason_of("\xEF\xBB\xBF{}") == "not_json");           // BOM
    CHECK(reason_of("{\"a\": 1e999}") == "not_json");           // number out of range
    // An object is enough to get past not_json.
    CHECK(check_record(std::string_view("{}"))->reason == "bad_schema");
    CHECK(check_record(std::string_view("  {}\n"))->reason == "bad_schema");
}

TEST_CASE("record: not_json for invalid UTF-8, strictly", "[unit][record][utf8]") {
    const std::string bad[] = {
        "\xC0\xAF",                  // overlong '/'
        "\xC1\xBF",                  // overlong
        "\xE0\x80\xAF",              // overlong 3-byte
        "\xE0\x9F\xBF",              // overlong 3-byte, highest
        "\xF0\x80\x80\xAF",          // overlong 4-byte
        "\xF0\x8F\xBF\xBF",          // overlong 4-byte, highest
        "\xED\xA0\x80",              // surrogate U+D800
        "\xED\xBF\xBF",              // surrogate U+DFFF
        "\xED\xA0\xBD\xED\xB8\x80",  // CESU-8 surrogate pair
        "\xF4\x90\x80\x80",          // U+110000
        "\xF5\x80\x80\x80",
        "\xFF",
        "\xFE",
        "\x80",                      // lone continuation
        "\xBF",
        "\xE4\xB8",                  // truncated 中
        "\xE4\x41\xAD",              // bad continuation
        "\xF0\x9F\x98",              // truncated emoji
    };
    for (const std::string& b : bad) {
        INFO("bytes " << json(std::vector<unsigned char>(b.begin(), b.end())).dump());
        CHECK_FALSE(casehub::sdk::is_valid_utf8(b));
        // Inside a string value and raw inside the description of a good record.
        const std::string doc = "{\"schema\": \"casehub.record/1\", \"x\": \"" + b + "\"}";
        const auto f = check_record(doc);
        REQUIRE(f.has_value());
        CHECK(f->reason == "not_json");
        std::string good = example_61;
        good.replace(good.find("暴露垃圾约"), 0, b);
        CHECK(check_record(good)->reason == "not_json");
    }
    const std::string good_utf8[] = {
        "", "abc", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80",
        "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "秦淮区", "\xF0\x9F\x98\x80",
        std::string("a\0b", 3)};
    for (const std::string& g : good_utf8) CHECK(casehub::sdk::is_valid_utf8(g));
    CHECK(casehub::sdk::utf8_error_offset("ab\xE4\xB8\xAD\xFF") == 5);

    // \u escapes of lone surrogates are invalid too (rejected by the JSON parser).
    CHECK(check_record(std::string_view(R"({"schema": "casehub.record/1", "x": "\ud800"})"))->reason ==
          "not_json");
    CHECK(check_record(std::string_view(R"({"schema": "casehub.record/1", "x": "\udc00x"})"))->reason ==
          "not_json");
    // A proper escaped pair is fine: the next fault is the missing source.
    CHECK(check_record(std::string_view(R"({"schema": "casehub.record/1", "x": "\ud83d\ude00"})"))->reason ==
          "missing_field");

    // A document built in code with a bad string: the json overload checks UTF-8 too.
    json doc = ex61();
    doc["description"] = std::string("abc\xED\xA0\x80");
    REQUIRE(check_record(doc).has_value());
    CHECK(check_record(doc)->reason == "not_json");
    json key = ex61();
    key[std::string("bad\xFF")] = 1;
    CHECK(check_record(key)->reason == "not_json");
    CHECK(check_record(json::array())->reason == "not_json");
    CHECK(check_record(json("text"))->reason == "not_json");
}

TEST_CASE("record: not_json above 1 MiB, exactly 1 MiB is fine", "[unit][record]") {
    std::string doc = example_61;
    doc.insert(doc.size() - 1, casehub::sdk::max_record_bytes - doc.size(), ' ');
    REQUIRE(doc.size() == 1024 * 1024);
    CHECK_FALSE(check_record(doc).has_value());
    doc.insert(doc.size() - 1, " ");
    const auto f = check_record(doc);
    REQUIRE(f.has_value());
    CHECK(f->reason == "not_json");
    CHECK(f->path == "$");
}

TEST_CASE("record: deep nesting does not overflow the stack", "[unit][record]") {
    const std::size_t depth = 200000;
    std::string doc = "{\"schema\": \"casehub.record/1\", \"deep\": " + std::string(depth, '[') +
                      std::string(depth, ']') + "}";
    REQUIRE(check_record(doc).has_value());
    CHECK(check_record(doc)->reason == "not_json");  // deeper than max_record_depth
}

// ---------------------------------------------------------------------------------------------
// bad_schema

TEST_CASE("record: bad_schema", "[unit][record]") {
    json d = ex61();
    d.erase("schema");
    REQUIRE_FAULT(d, "bad_schema", "$.schema");
    d["schema"] = nullptr;
    REQUIRE_FAULT(d, "bad_schema", "$.schema");
    d["schema"] = "casehub.record/2";
    REQUIRE_FAULT(d, "bad_schema", "$.schema");
    d["schema"] = "casehub.case/1";
    REQUIRE_FAULT(d, "bad_schema", "$.schema");
    d["schema"] = "CASEHUB.RECORD/1";
    REQUIRE_FAULT(d, "bad_schema", "$.schema");
    d["schema"] = 1;
    REQUIRE_FAULT(d, "bad_schema", "$.schema");
    // Schema is checked before anything else.
    json e = json::object();
    REQUIRE_FAULT(e, "bad_schema", "$.schema");
}

// ---------------------------------------------------------------------------------------------
// missing_field

TEST_CASE("record: missing_field for every required field", "[unit][record]") {
    struct Case {
        std::vector<std::string> where;  // object path, last element is the key
        const char* path;
    };
    const Case cases[] = {
        {{"source"}, "$.source"},
        {{"source", "system"}, "$.source.system"},
        {{"source", "record_id"}, "$.source.record_id"},
        {{"source", "version"}, "$.source.version"},
        {{"source", "received_at"}, "$.source.received_at"},
        {{"kind"}, "$.kind"},
        {{"channel"}, "$.channel"},
        {{"category"}, "$.category"},
        {{"category", "code"}, "$.category.code"},
        {{"category", "native"}, "$.category.native"},
        {{"category", "native", "scheme"}, "$.category.native.scheme"},
        {{"category", "native", "code"}, "$.category.native.code"},
        {{"description"}, "$.description"},
        {{"status"}, "$.status"},
        {{"status_native"}, "$.status_native"},
        {{"times"}, "$.times"},
        {{"times", "reported_at"}, "$.times.reported_at"},
        {{"times", "updated_at"}, "$.times.updated_at"},
        {{"reporter"}, "$.reporter"},
        {{"reporter", "kind"}, "$.reporter.kind"},
        {{"confidentiality"}, "$.confidentiality"},
        {{"raw_sha256"}, "$.raw_sha256"},
    };
    for (const Case& c : cases) {
        INFO(c.path);
        for (int mode = 0; mode < 2; ++mode) {  // absent, then null
            json d = ex61();
            json* parent = &d;
            for (std::size_t i = 0; i + 1 < c.where.size(); ++i) parent = &(*parent)[c.where[i]];
            if (mode == 0)
                parent->erase(c.where.back());
            else
                (*parent)[c.where.back()] = nullptr;
            REQUIRE_FAULT(d, "missing_field", c.path);
        }
    }
}

TEST_CASE("record: missing_field for empty ids and codes", "[unit][record]") {
    const std::vector<std::vector<std::string>> codes = {
        {"source", "system"},   {"source", "record_id"},          {"source", "version"},
        {"category", "code"},   {"category", "native", "scheme"}, {"category", "native", "code"},
        {"status_native"}};
    for (const auto& where : codes) {
        json d = ex61();
        json* v = &d;
        std::string path = "$";
        for (const std::string& k : where) {
            v = &(*v)[k];
            path += "." + k;
        }
        *v = "";
        INFO(path);
        REQUIRE_FAULT(d, "missing_field", path);
    }
}

TEST_CASE("record: appeal_type is required for appeals", "[unit][record]") {
    json d = ex62();
    d["appeal_type"] = nullptr;
    REQUIRE_FAULT(d, "missing_field", "$.appeal_type");
    d.erase("appeal_type");
    REQUIRE_FAULT(d, "missing_field", "$.appeal_type");
}

TEST_CASE("record: required members of list elements", "[unit][record]") {
    json d = ex62();
    d["responsible"][1].erase("role");
    REQUIRE_FAULT(d, "missing_field", "$.responsible[1].role");

    d = ex61();
    d["parties"] = {{{"kind", "legal_person"}, {"name", "南京某某餐饮有限公司"}},
                    {{"name", "王*"}}};
    REQUIRE_FAULT(d, "missing_field", "$.parties[1].kind");

    d = ex61();
    d["attachments"][0].erase("uri");
    REQUIRE_FAULT(d, "missing_field", "$.attachments[0].uri");
    d = ex61();
    d["attachments"][0]["mime"] = nullptr;
    REQUIRE_FAULT(d, "missing_field", "$.attachments[0].mime");

    d = ex61();
    d["links"] = {{{"system", "hotline12345"}, {"record_id", "NJ1"}, {"relation", "related"}},
                  {{"system", "hotline12345"}, {"relation", "related"}}};
    REQUIRE_FAULT(d, "missing_field", "$.links[1].record_id");
    d["links"][1]["record_id"] = "";
    REQUIRE_FAULT(d, "missing_field", "$.links[1].record_id");
    d["links"][1] = {{"record_id", "NJ2"}, {"relation", "related"}};
    REQUIRE_FAULT(d, "missing_field", "$.links[1].system");
    d["links"][1] = {{"system", "police"}, {"record_id", "NJ2"}};
    REQUIRE_FAULT(d, "missing_field", "$.links[1].relation");
}

// ---------------------------------------------------------------------------------------------
// bad_type

TEST_CASE("record: bad_type for wrong JSON types", "[unit][record]") {
    struct Case {
        std::function<void(json&)> edit;
        const char* path;
    };
    const Case cases[] = {
        {[](json& d) { d["source"] = "dcm"; }, "$.source"},
        {[](json& d) { d["source"]["system"] = 1; }, "$.source.system"},
        {[](json& d) { d["source"]["record_id"] = 260309000412; }, "$.source.record_id"},
        {[](json& d) { d["source"]["record_id"] = "2603\t09"; }, "$.source.record_id"},
        {[](json& d) { d["source"]["record_id"] = "2603\x7f"; }, "$.source.record_id"},
        {[](json& d) { d["source"]["record_id"] = "2603\xC2\x85"; }, "$.source.record_id"},  // NEL
        {[](json& d) { d["source"]["version"] = 17; }, "$.source.version"},
        {[](json& d) { d["source"]["received_at"] = true; }, "$.source.received_at"},
        {[](json& d) { d["kind"] = 2; }, "$.kind"},
        {[](json& d) { d["appeal_type"] = 3; }, "$.appeal_type"},
        {[](json& d) { d["channel"] = json::array({"phone"}); }, "$.channel"},
        {[](json& d) { d["category"] = "city_appearance"; }, "$.category"},
        {[](json& d) { d["category"]["code"] = 102; }, "$.category.code"},
        {[](json& d) { d["category"]["native"] = "0102"; }, "$.category.native"},
        {[](json& d) { d["category"]["native"]["code"] = 102; }, "$.category.native.code"},
        {[](json& d) { d["category"]["native"]["scheme"] = false; }, "$.category.native.scheme"},
        {[](json& d) { d["category"]["native"]["name"] = 1; }, "$.category.native.name"},
        {[](json& d) { d["title"] = 5; }, "$.title"},
        {[](json& d) { d["description"] = json::object(); }, "$.description"},
        {[](json& d) { d["status"] = 3; }, "$.status"},
        {[](json& d) { d["status_native"] = 3; }, "$.status_native"},
        {[](json& d) { d["priority"] = 0; }, "$.priority"},
        {[](json& d) { d["times"] = "2026-03-09T08:41:26+08:00"; }, "$.times"},
        {[](json& d) { d["times"]["due_at"] = json::object(); }, "$.times.due_at"},
        {[](json& d) { d["location"] = "秦淮区贡院街"; }, "$.location"},
        {[](json& d) { d["location"]["address"] = 5; }, "$.location.address"},
        {[](json& d) { d["location"]["original"]["crs"] = 4549; }, "$.location.original.crs"},
        {[](json& d) { d["reporter"] = "supervisor"; }, "$.reporter"},
        {[](json& d) { d["reporter"]["kind"] = 1; }, "$.reporter.kind"},
        {[](json& d) { d["reporter"]["name_masked"] = 1; }, "$.reporter.name_masked"},
        {[](json& d) { d["reporter"]["phone_masked"] = 96110; }, "$.reporter.phone_masked"},
        {[](json& d) { d["reporter"]["id_masked"] = json::array(); }, "$.reporter.id_masked"},
        {[](json& d) { d["reporter"]["worker_id"] = 217; }, "$.reporter.worker_id"},
        {[](json& d) { d["parties"] = json::object(); }, "$.parties"},
        {[](json& d) { d["parties"] = {"王*"}; }, "$.parties[0]"},
        {[](json& d) { d["parties"] = {{{"kind", "legal_person"}, {"id", 91320104}}}; }, "$.parties[0].id"},
        {[](json& d) { d["responsible"] = "QHJD02"; }, "$.responsible"},
        {[](json& d) { d["responsible"][0]["dept_code"] = 2; }, "$.responsible[0].dept_code"},
        {[](json& d) { d["responsible"][0]["name"] = json::array(); }, "$.responsible[0].name"},
        {[](json& d) { d["tags"] = "difficult"; }, "$.tags"},
        {[](json& d) { d["tags"] = {"difficult", 2}; }, "$.tags[1]"},
        {[](json& d) { d["satisfaction"] = 1; }, "$.satisfaction"},
        {[](json& d) { d["confidentiality"] = false; }, "$.confidentiality"},
        {[](json& d) { d["attachments"] = {"http://a/b.jpg"}; }, "$.attachments[0]"},
        {[](json& d) { d["attachments"][0]["uri"] = 1; }, "$.attachments[0].uri"},
        {[](json& d) { d["links"] = json::object(); }, "$.links"},
        {[](json& d) { d["links"] = {{{"system", "police"}, {"record_id", 1}, {"relation", "related"}}}; },
         "$.links[0].record_id"},
        {[](json& d) { d["raw_sha256"] = 0; }, "$.raw_sha256"},
    };
    for (const Case& c : cases) {
        json d = ex61();
        c.edit(d);
        INFO(c.path);
        REQUIRE_FAULT(d, "bad_type", c.path);
    }
}

TEST_CASE("record: attachments need an absolute http(s) uri and a type/subtype (bad_type)",
          "[unit][record]") {
    const char* good_uris[] = {"http://a/", "HTTPS://example.com", "http://10.32.1.45:8443/x.jpg",
                               "https://user@host/p?q#f", "http://[::1]:80/x",
                               "https://files.example.cn/照片.jpg", "http://host:/x"};
    const char* bad_uris[] = {"", "ftp://a/b", "file:///etc/passwd", "/media/1.jpg",
                              "media/1.jpg", "http://", "http:///x", "https://:80/x",
                              "http//a/b", "http://a b/c", "http://a/b c", "http://a:8o/x",
                              "http://[::1/x", "http://[]/x", "javascript:alert(1)",
                              "http://a/\x01", "mailto:a@b"};
    for (const char* u : good_uris) {
        json d = ex61();
        d["attachments"][0]["uri"] = u;
        INFO(u);
        REQUIRE_PASS(d);
    }
    for (const char* u : bad_uris) {
        json d = ex61();
        d["attachments"][0]["uri"] = u;
        INFO(u);
        REQUIRE_FAULT(d, "bad_type", "$.attachments[0].uri");
    }
    const char* good_mimes[] = {"image/jpeg", "IMAGE/PNG", "application/vnd.ms-excel",
                                "video/mp4", "application/octet-stream", "image/svg+xml"};
    const char* bad_mimes[] = {"", "jpeg", "image/", "/jpeg", "image jpeg", "image/jpeg; q=1",
                               "image/jpeg/x", "图片/jpeg", "image/jpeg "};
    for (const char* m : good_mimes) {
        json d = ex61();
        d["attachments"][0]["mime"] = m;
        INFO(m);
        REQUIRE_PASS(d);
    }
    for (const char* m : bad_mimes) {
        json d = ex61();
        d["attachments"][0]["mime"] = m;
        INFO(m);
        REQUIRE_FAULT(d, "bad_type", "$.attachments[0].mime");
    }
}

// ---------------------------------------------------------------------------------------------
// bad_enum

namespace {

struct EnumField {
    std::vector<std::string> where;  // into the document; "#0" for the first array element
    std::vector<const char*> values;
    std::string path;
};

json* locate(json& d, const std::vector<std::string>& where) {
    json* v = &d;
    for (const std::string& k : where) v = k[0] == '#' ? &(*v)[std::stoul(k.substr(1))] : &(*v)[k];
    return v;
}

}  // namespace

TEST_CASE("record: every value of every enumeration passes, others are bad_enum", "[unit][record]") {
    const EnumField fields[] = {
        {{"kind"}, {"event", "component", "appeal", "incident"}, "$.kind"},
        {{"channel"},
         {"phone", "app", "web", "wechat", "letter", "supervisor", "grid_worker", "video",
          "patrol", "transfer", "leader", "media", "other"},
         "$.channel"},
        {{"status"},
         {"new", "registered", "dispatched", "accepted", "in_progress", "resolved", "verified",
          "closed", "rejected", "cancelled"},
         "$.status"},
        {{"priority"}, {"general", "larger", "major"}, "$.priority"},
        {{"reporter", "kind"},
         {"citizen", "grid_worker", "supervisor", "police", "enforcement_officer", "video",
          "unknown"},
         "$.reporter.kind"},
        {{"responsible", "#0", "role"}, {"lead", "assist"}, "$.responsible[0].role"},
        {{"satisfaction"}, {"satisfied", "basically_satisfied", "dissatisfied", "unreachable"},
         "$.satisfaction"},
        {{"confidentiality"}, {"public", "internal"}, "$.confidentiality"},
        {{"location", "original", "crs"}, {"WGS84", "GCJ02", "BD09", "CGCS2000", "EPSG:4549"},
         "$.location.original.crs"},
    };
    for (const EnumField& f : fields) {
        for (const char* v : f.values) {
            json d = ex61();
            *locate(d, f.where) = v;
            if (std::string(v) == "appeal") d["appeal_type"] = "help";
            INFO(f.path << " = " << v);
            REQUIRE_PASS(d);
        }
        for (const char* v : {"", "bogus", "other_", " public"}) {
            if (std::string(v) == "other_" && f.path == "$.channel") continue;
            json d = ex61();
            *locate(d, f.where) = v;
            INFO(f.path << " = '" << v << "'");
            REQUIRE_FAULT(d, "bad_enum", f.path);
        }
        // Matched exactly: case matters.
        json d = ex61();
        std::string upper = f.values[0];
        for (char& c : upper) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 32 : c >= 'A' && c <= 'Z' ? c + 32 : c);
        *locate(d, f.where) = upper;
        INFO(f.path << " = " << upper);
        REQUIRE_FAULT(d, "bad_enum", f.path);
    }
}

TEST_CASE("record: appeal_type", "[unit][record]") {
    for (const char* t : {"consult", "help", "complaint", "report", "suggest", "thanks", "other"}) {
        json d = ex62();
        d["appeal_type"] = t;
        INFO(t);
        REQUIRE_PASS(d);
    }
    json d = ex62();
    d["appeal_type"] = "praise";
    REQUIRE_FAULT(d, "bad_enum", "$.appeal_type");
    d["appeal_type"] = "Complaint";
    REQUIRE_FAULT(d, "bad_enum", "$.appeal_type");
    // Set on a record that is not an appeal.
    d = ex61();
    d["appeal_type"] = "complaint";
    REQUIRE_FAULT(d, "bad_enum", "$.appeal_type");
    d["kind"] = "incident";
    REQUIRE_FAULT(d, "bad_enum", "$.appeal_type");
}

TEST_CASE("record: parties[].kind and links[].relation", "[unit][record]") {
    json d = ex61();
    d["parties"] = {{{"kind", "natural_person"}, {"name", "王*"}, {"id", "320104********1234"},
                     {"phone_masked", "138****4567"}},
                    {{"kind", "legal_person"}, {"name", "南京秦淮某某餐饮有限公司"},
                     {"id", "91320104MA1XXXXXXX"}, {"phone_masked", nullptr}}};
    REQUIRE_PASS(d);
    d["parties"][0]["kind"] = "person";
    REQUIRE_FAULT(d, "bad_enum", "$.parties[0].kind");
    // An unknown kind on a party with a public-looking name is a privacy fault first.
    d["parties"][0]["kind"] = "natural_person";
    d["parties"][1]["kind"] = "company";
    REQUIRE_FAULT(d, "unmasked_personal_data", "$.parties[1].name");

    for (const char* r : {"duplicate_of", "transferred_from", "related"}) {
        json l = ex61();
        l["links"] = {{{"system", "hotline12345"}, {"record_id", "NJ20260309004512"}, {"relation", r}}};
        INFO(r);
        REQUIRE_PASS(l);
    }
    json l = ex61();
    l["links"] = {{{"system", "hotline12345"}, {"record_id", "NJ1"}, {"relation", "related"}},
                  {{"system", "police"}, {"record_id", "3201"}, {"relation", "duplicate"}}};
    REQUIRE_FAULT(l, "bad_enum", "$.links[1].relation");
}

// ---------------------------------------------------------------------------------------------
// unknown_system, unknown_category

TEST_CASE("record: unknown_system", "[unit][record]") {
    const std::set<std::string, std::less<>> configured{"parking_ops"};
    const RecordCheckOptions with_set{&configured, nullptr};

    for (const char* builtin : {"dcm", "hotline12345", "enforcement", "police", "gridapp", "open311"}) {
        json d = ex61();
        d["source"]["system"] = builtin;
        INFO(builtin);
        REQUIRE_PASS(d);
        REQUIRE_PASS(d, with_set);
    }
    json d = ex61();
    d["source"]["system"] = "parking_ops";
    REQUIRE_PASS(d);
    REQUIRE_PASS(d, with_set);
    d["source"]["system"] = "water_board";
    REQUIRE_PASS(d);  // no configured list: the form is enough
    REQUIRE_FAULT(d, "unknown_system", "$.source.system", with_set);

    // Not of the form [a-z][a-z0-9_]{1,31}.
    for (const char* bad : {"a", "DCM", "1dcm", "_dcm", "dcm-x", "dcm.x", "数字城管", " dcm",
                            "abcdefghijklmnopqrstuvwxyz0123456"}) {
        json b = ex61();
        b["source"]["system"] = bad;
        INFO(bad);
        REQUIRE_FAULT(b, "unknown_system", "$.source.system");
    }
    json edge = ex61();
    edge["source"]["system"] = "ab";
    REQUIRE_PASS(edge);
    edge["source"]["system"] = "abcdefghijklmnopqrstuvwxyz012345";  // 32 characters
    REQUIRE_PASS(edge);
}

TEST_CASE("record: unknown_category", "[unit][record]") {
    const std::set<std::string, std::less<>> taxonomy{"city_appearance.exposed_garbage",
                                                      "other.unclassified"};
    const RecordCheckOptions opts{nullptr, &taxonomy};
    json d = ex61();
    d["category"]["code"] = "city_appearance.flying_saucer";
    REQUIRE_PASS(d);  // not checked without a taxonomy
    REQUIRE_FAULT(d, "unknown_category", "$.category.code", opts);
    d["category"]["code"] = "other.unclassified";
    REQUIRE_PASS(d, opts);
}

// ---------------------------------------------------------------------------------------------
// bad_time, bad_version

TEST_CASE("record: bad_time in every time field", "[unit][record]") {
    const std::vector<std::vector<std::string>> times = {
        {"source", "received_at"}, {"times", "reported_at"}, {"times", "registered_at"},
        {"times", "dispatched_at"}, {"times", "due_at"},     {"times", "resolved_at"},
        {"times", "closed_at"},     {"times", "updated_at"}};
    const json bad_values[] = {"2026-03-09 09:12:33", "1741482753000", 1741482753000,
                               1741482753.5,          "2026-02-30T09:12:33+08:00",
                               "2026-03-09T09:12:33", "2026-03-09T24:00:00+08:00",
                               "",                    "2026-03-09T09:12:60+08:00"};
    for (const auto& where : times) {
        const std::string path = "$." + where[0] + "." + where[1];
        for (const json& v : bad_values) {
            json d = ex61();
            d[where[0]][where[1]] = v;
            INFO(path << " = " << v.dump());
            REQUIRE_FAULT(d, "bad_time", path);
        }
        json ok = ex61();
        ok[where[0]][where[1]] = "2026-03-09T01:12:33.123456Z";
        REQUIRE_PASS(ok);
    }
}

TEST_CASE("record: bad_version", "[unit][record]") {
    for (const char* good : {"2026-03-09T08:52:40+08:00", "2026-03-09T00:52:40.123Z", "0", "17",
                             "000123", "18446744073709551615"}) {
        json d = ex61();
        d["source"]["version"] = good;
        INFO(good);
        REQUIRE_PASS(d);
    }
    for (const char* bad : {"2026-03-09 08:52:40", "2026-03-09T08:52:40", "-1", "+1", "1.0",
                            "v3", "1 ", " 1", "0x1f", "18446744073709551616",
                            "99999999999999999999999", "2026-02-30T00:00:00+08:00"}) {
        json d = ex61();
        d["source"]["version"] = bad;
        INFO(bad);
        REQUIRE_FAULT(d, "bad_version", "$.source.version");
    }
    using casehub::sdk::VersionForm;
    CHECK(casehub::sdk::version_form("2026-03-09T08:52:40+08:00") == VersionForm::timestamp);
    CHECK(casehub::sdk::version_form("42") == VersionForm::revision);
    CHECK_FALSE(casehub::sdk::version_form("").has_value());
}

// ---------------------------------------------------------------------------------------------
// unmasked_personal_data

TEST_CASE("record: masked values of §2.3 pass", "[unit][record][personal]") {
    json d = ex62();
    for (const char* phone : {"138****4567", "0258*****45", "*****", "138****4567,0258*****45",
                              "138****4567/0258*****45"}) {
        d["reporter"]["phone_masked"] = phone;
        INFO(phone);
        REQUIRE_PASS(d);
    }
    for (const char* id : {"320104********1234", "320104*****2123", "*******78"}) {
        d["reporter"]["id_masked"] = id;
        INFO(id);
        REQUIRE_PASS(d);
    }
    for (const char* name : {"王*", "欧***", "张**", "*", "王", "A*"}) {
        d["reporter"]["name_masked"] = name;
        INFO(name);
        REQUIRE_PASS(d);
    }
}

TEST_CASE("record: unmasked_personal_data in reporter fields", "[unit][record][personal]") {
    struct Case {
        const char* field;
        json value;
    };
    const Case cases[] = {
        {"phone_masked", "13851234567"},
        {"phone_masked", "1385123"},                     // 7 consecutive digits
        {"phone_masked", "138-5123-4567"},               // separators between digits
        {"phone_masked", "138 5123 4567"},
        {"phone_masked", "025-84512345"},
        {"phone_masked", "138****4567,13851234567"},
        {"phone_masked", "１３８５１２３４５６７"},      // full-width digits
        {"phone_masked", 13851234567},                   // as a number
        {"id_masked", "320104198807121234"},
        {"id_masked", "32010419880712123X"},
        {"id_masked", "320104*1988071*2123"},            // 11 digits
        {"id_masked", 320104198807121234},
        {"name_masked", "王芳"},
        {"name_masked", "欧阳明辉"},
        {"name_masked", "Wang Fang"},
    };
    for (const Case& c : cases) {
        json d = ex62();
        d["reporter"][c.field] = c.value;
        const std::string path = std::string("$.reporter.") + c.field;
        INFO(path << " = " << c.value.dump());
        REQUIRE_FAULT(d, "unmasked_personal_data", path);
        // The message never repeats the value.
        const auto f = check_record(d);
        if (c.value.is_string()) CHECK(f->message.find(c.value.get<std::string>()) == std::string::npos);
    }
    // Boundaries: 6 consecutive digits and exactly 10 id digits are fine.
    json d = ex62();
    d["reporter"]["phone_masked"] = "138512****";
    REQUIRE_PASS(d);
    d["reporter"]["phone_masked"] = "138-512--4567";  // two separators break the run
    REQUIRE_PASS(d);
    d["reporter"]["id_masked"] = "3201041988********";  // exactly 10 digits
    REQUIRE_PASS(d);
}

TEST_CASE("record: unmasked_personal_data in parties, legal persons are public",
          "[unit][record][personal]") {
    json d = ex61();
    d["parties"] = {{{"kind", "legal_person"}, {"name", "南京秦淮某某餐饮有限公司"},
                     {"id", "91320104123456789X"}, {"phone_masked", "0258*****45"}}};
    REQUIRE_PASS(d);  // legal person: name and id (credit code) are public and verbatim
    // ... but its phone_masked is not exempted (§2.1 names only name and id).
    d["parties"][0]["phone_masked"] = "02584512345";
    REQUIRE_FAULT(d, "unmasked_personal_data", "$.parties[0].phone_masked");
    d["parties"][0]["phone_masked"] = "0258*****45";

    d["parties"].push_back({{"kind", "natural_person"}, {"name", "王*"},
                            {"id", "320104198807121234"}, {"phone_masked", nullptr}});
    REQUIRE_FAULT(d, "unmasked_personal_data", "$.parties[1].id");
    d["parties"][1]["id"] = "320104********1234";
    d["parties"][1]["phone_masked"] = "13851234567";
    REQUIRE_FAULT(d, "unmasked_personal_data", "$.parties[1].phone_masked");
    d["parties"][1]["phone_masked"] = "138****4567";
    d["parties"][1]["name"] = "王芳";
    REQUIRE_FAULT(d, "unmasked_personal_data", "$.parties[1].name");
    d["parties"][1]["name"] = "王*";
    REQUIRE_PASS(d);

    // A party of unknown or missing kind is treated as a natural person for privacy.
    d["parties"][1]["kind"] = "someone";
    d["parties"][1]["name"] = "王芳";
    REQUIRE_FAULT(d, "unmasked_personal_data", "$.parties[1].name");
    d["parties"][1].erase("kind");
    REQUIRE_FAULT(d, "unmasked_personal_data", "$.parties[1].name");
}

TEST_CASE("record: personal data is checked before any other fault", "[unit][record][personal]") {
    json d = ex61();
    d["source"].erase("record_id");
    d["raw_sha256"] = "XYZ";
    d["reporter"]["phone_masked"] = "13851234567";
    REQUIRE_FAULT(d, "unmasked_personal_data", "$.reporter.phone_masked");
    // but not before bad_schema
    d["schema"] = "x";
    REQUIRE_FAULT(d, "bad_schema", "$.schema");
    // Reporter first, then parties in order; in the reporter: name, phone, id.
    json e = ex61();
    e["reporter"]["id_masked"] = "320104198807121234";
    e["reporter"]["name_masked"] = "陈明";
    e["parties"] = {{{"kind", "natural_person"}, {"name", "王芳"}}};
    REQUIRE_FAULT(e, "unmasked_personal_data", "$.reporter.name_masked");
    e["reporter"]["name_masked"] = "陈*";
    REQUIRE_FAULT(e, "unmasked_personal_data", "$.reporter.id_masked");
    e["reporter"]["id_masked"] = nullptr;
    REQUIRE_FAULT(e, "unmasked_personal_data", "$.parties[0].name");
}

TEST_CASE("record: withhold_personal_data replaces exactly the offending fields",
          "[unit][record][personal]") {
    json d = ex61();
    d["reporter"]["name_masked"] = "陈明";
    d["reporter"]["phone_masked"] = "138****8000";  // masked: kept
    d["reporter"]["id_masked"] = 320104198807121234;
    d["parties"] = {{{"kind", "legal_person"}, {"name", "南京某某公司"}, {"id", "91320104123456789X"},
                     {"phone_masked", "0258*****45"}},
                    {{"kind", "legal_person"}, {"name", "南京某某商行"}, {"id", "92320104MA0000000X"},
                     {"phone_masked", "13912345678"}},
                    {{"kind", "natural_person"}, {"name", "王芳"}, {"id", "320104********1234"},
                     {"phone_masked", "13851234567"}}};
    const json out = casehub::sdk::withhold_personal_data(d);
    CHECK(out["reporter"]["name_masked"] == "[withheld]");
    CHECK(out["reporter"]["phone_masked"] == "138****8000");
    CHECK(out["reporter"]["id_masked"] == "[withheld]");
    CHECK(out["reporter"]["worker_id"] == "JDY0217");
    CHECK(out["parties"][0] == d["parties"][0]);
    CHECK(out["parties"][1]["name"] == "南京某某商行");
    CHECK(out["parties"][1]["id"] == "92320104MA0000000X");
    CHECK(out["parties"][1]["phone_masked"] == "[withheld]");
    CHECK(out["parties"][2]["name"] == "[withheld]");
    CHECK(out["parties"][2]["id"] == "320104********1234");
    CHECK(out["parties"][2]["phone_masked"] == "[withheld]");
    // Everything else is untouched, and no raw value survives anywhere.
    json rest = out, orig = d;
    rest.erase("reporter");
    rest.erase("parties");
    orig.erase("reporter");
    orig.erase("parties");
    CHECK(rest == orig);
    const std::string dumped = out.dump();
    for (const char* raw : {"陈明", "320104198807121234", "王芳", "13851234567", "13912345678"})
        CHECK(dumped.find(raw) == std::string::npos);
    // Input untouched; a clean record is returned unchanged.
    CHECK(d["reporter"]["name_masked"] == "陈明");
    CHECK(casehub::sdk::withhold_personal_data(ex62()) == ex62());
    CHECK(casehub::sdk::withhold_personal_data(json::array({1})) == json::array({1}));
}

// ---------------------------------------------------------------------------------------------
// bad_hash

TEST_CASE("record: bad_hash", "[unit][record]") {
    const std::string good = "3e2a923f3fbb559e19a7186a1dc3db7e628cdd7a42546e18e6878d433383142b";
    for (const std::string& bad :
         {std::string(""), good.substr(0, 63), good + "0", std::string("3E2A") + good.substr(4),
          good.substr(0, 63) + "g", std::string(64, ' '), "sha256:" + good.substr(7)}) {
        json d = ex61();
        d["raw_sha256"] = bad;
        INFO(bad);
        REQUIRE_FAULT(d, "bad_hash", "$.raw_sha256");
    }
}

// ---------------------------------------------------------------------------------------------
// too_long: characters, not bytes

TEST_CASE("record: too_long counts characters, not bytes", "[unit][record]") {
    json d = ex62();
    d["title"] = repeat("垃", 200);  // 600 bytes
    REQUIRE_PASS(d);
    d["title"] = repeat("垃", 201);
    REQUIRE_FAULT(d, "too_long", "$.title");
    d["title"] = repeat("\xF0\x9F\x98\x80", 200);  // 4-byte characters
    REQUIRE_PASS(d);
    d["title"] = repeat("a", 201);
    REQUIRE_FAULT(d, "too_long", "$.title");

    d = ex62();
    d["description"] = repeat("贡", 8000);
    REQUIRE_PASS(d);
    d["description"] = repeat("贡", 7999) + "…";
    REQUIRE_PASS(d);
    d["description"] = repeat("贡", 8001);
    REQUIRE_FAULT(d, "too_long", "$.description");
    d["description"] = repeat("x", 8001);
    REQUIRE_FAULT(d, "too_long", "$.description");

    // record ids: 1–64 characters
    d = ex62();
    d["source"]["record_id"] = repeat("号", 64);
    REQUIRE_PASS(d);
    d["source"]["record_id"] = repeat("号", 65);
    REQUIRE_FAULT(d, "too_long", "$.source.record_id");
    d = ex62();
    d["links"] = {{{"system", "police"}, {"record_id", repeat("1", 65)}, {"relation", "related"}}};
    REQUIRE_FAULT(d, "too_long", "$.links[0].record_id");

    CHECK(casehub::sdk::utf8_length("秦淮区\xF0\x9F\x98\x80") == 4);
}

// ---------------------------------------------------------------------------------------------
// Coordinates and grid codes never reject (§2.5)

TEST_CASE("record: coordinates and grid codes are never a reason to reject", "[unit][record]") {
    const json originals[] = {
        json{{"x", 0}, {"y", 0}, {"crs", "WGS84"}},
        json{{"x", 32.02}, {"y", 118.79}, {"crs", "GCJ02"}},   // swapped
        json{{"x", "118.79"}, {"y", "abc"}, {"crs", "BD09"}},  // wrong types
        json{{"x", 1e9}, {"y", -1e9}, {"crs", nullptr}},
        json{{"x", 1}},
        json("118.79,32.02"),
        json::array({118.79, 32.02}),
        json(5),
    };
    for (const json& o : originals) {
        json d = ex62();
        d["location"]["original"] = o;
        INFO(o.dump());
        REQUIRE_PASS(d);
    }
    for (const json& g : {json("3201040020050"), json("320104002005089"), json(32010400200508),
                          json("abc"), json::array(), json("")}) {
        json d = ex61();
        d["location"]["grid_code"] = g;
        INFO(g.dump());
        REQUIRE_PASS(d);
    }
}

TEST_CASE("record: tags are strings, unknown tags are kept", "[unit][record]") {
    json d = ex61();
    d["tags"] = {"difficult", "repeat", "supervised", "leader", "新标签", "vip"};
    REQUIRE_PASS(d);
    d["tags"] = {"difficult", nullptr};
    REQUIRE_FAULT(d, "bad_type", "$.tags[1]");
}

TEST_CASE("record: the first fault is reported, in the documented order", "[unit][record]") {
    json d = ex61();
    d["raw_sha256"] = "bad";                     // last
    d["responsible"][0]["role"] = "boss";        // before raw_sha256
    d["times"]["reported_at"] = "yesterday";     // before responsible
    d["kind"] = "accident";                      // before times
    d["source"]["version"] = "v1";               // before kind
    REQUIRE_FAULT(d, "bad_version", "$.source.version");
    d["source"]["version"] = "1";
    REQUIRE_FAULT(d, "bad_enum", "$.kind");
    d["kind"] = "event";
    REQUIRE_FAULT(d, "bad_time", "$.times.reported_at");
    d["times"]["reported_at"] = "2026-03-09T08:41:26+08:00";
    REQUIRE_FAULT(d, "bad_enum", "$.responsible[0].role");
    d["responsible"][0]["role"] = "lead";
    REQUIRE_FAULT(d, "bad_hash", "$.raw_sha256");
    d["raw_sha256"] = casehub::sdk::withheld_value;  // any string that is not hex
    REQUIRE_FAULT(d, "bad_hash", "$.raw_sha256");

    // Within one field: presence, then type, then value.
    json e = ex61();
    e["category"]["code"] = "";
    const std::set<std::string, std::less<>> taxonomy{"x.y"};
    REQUIRE_FAULT(e, "missing_field", "$.category.code", RecordCheckOptions{nullptr, &taxonomy});
}

TEST_CASE("record: messages name the field and the problem on one line", "[unit][record]") {
    json d = ex61();
    d["times"]["reported_at"] = "2026-03-09 09:12:33";
    auto f = check_record(d);
    REQUIRE(f);
    CHECK(f->message == "$.times.reported_at: '2026-03-09 09:12:33' is not RFC 3339 with an offset");

    d = ex61();
    d["source"]["record_id"] = "a\nb";
    f = check_record(d);
    REQUIRE(f);
    CHECK(f->reason == "bad_type");
    CHECK(f->message.find('\n') == std::string::npos);
    CHECK(f->message.find("a\\nb") != std::string::npos);
    d["source"]["record_id"] = "a\xC2\x85" "b";  // NEL, a C1 control
    f = check_record(d);
    REQUIRE(f);
    CHECK(f->message.find("a\\u0085b") != std::string::npos);

    d = ex61();
    d["status"] = repeat("长", 500);
    f = check_record(d);
    REQUIRE(f);
    CHECK(f->reason == "bad_enum");
    CHECK(f->message.size() < 600);  // long values are cut
}

TEST_CASE("record: a parser hook gives the same faults, and the same messages, as nlohmann alone", "[unit][record][utf8]") {
    // A hook as the contract wants it: nlohmann's value, or false. The hub's is simdjson's; a
    // text the hook takes is not checked for UTF-8 again, a text it declines is.
    RecordCheckOptions hooked;
    int taken = 0;
    static int* counter = nullptr;
    counter = &taken;
    hooked.parse = [](std::string_view t, json& out) {
        out = json::parse(t.begin(), t.end(), nullptr, false);
        if (out.is_discarded()) return false;
        ++*counter;
        return true;
    };
    std::vector<std::string> texts = {example_61, "{}", "[]", "\"x\"", "{\"a\":", "{\"a\": 1e999}",
                                      std::string(70, '[') + std::string(70, ']'),
                                      "{\"a\":" + std::string(65, '[') + std::string(65, ']') + "}",
                                      // nlohmann stops at a NUL: what follows one is still checked for UTF-8
                                      std::string("{} \0\0\xE2\xE2", 7), std::string("{} \0abc", 7)};
    for (const char* b : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "\xE4\xB8"}) {
        std::string bad = example_61;
        bad.replace(bad.find("暴露垃圾约"), 0, b);
        texts.push_back(bad);
        // Invalid and too deep: the UTF-8 fault comes first, with or without the hook.
        texts.push_back("{\"x\":\"" + std::string(b) + "\",\"y\":" + std::string(65, '[') + std::string(65, ']') + "}");
    }
    for (const auto& t : texts) {
        INFO("text " << json(t).dump(-1, ' ', true, json::error_handler_t::replace).substr(0, 200));
        const auto plain = check_record(std::string_view(t));
        const auto fast = check_record(std::string_view(t), hooked);
        REQUIRE(plain.has_value() == fast.has_value());
        if (!plain) continue;
        CHECK(plain->reason == fast->reason);
        CHECK(plain->path == fast->path);
        CHECK(plain->message == fast->message);
    }
    CHECK(taken >= 3);  // the hook did parse the good ones (example_61, {}, []...)
}

TEST_CASE("record: nesting deeper than 64 levels is not_json, before anything recurses", "[unit]") {
    std::string deep = R"({"schema":"casehub.record/1","location":{"original":)" + std::string(100000, '[') +
                       std::string(100000, ']') + "}}";
    auto fault = casehub::sdk::check_record(std::string_view(deep));
    REQUIRE(fault);
    CHECK(fault->reason == "not_json");
    CHECK_THAT(fault->message, Catch::Contains("nested deeper than 64"));
    // Brackets inside strings do not count.
    CHECK_FALSE(casehub::sdk::nesting_exceeds(R"({"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["})", 64));
    CHECK(casehub::sdk::nesting_exceeds(std::string(65, '[') + std::string(65, ']'), 64));
}
