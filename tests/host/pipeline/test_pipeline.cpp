// The case pipeline against a real SQLite store in a temporary file: validation and dead letters
// (case-model.md §2.5), versions, duplicates and stale records (§2.4), one case per record and
// its status (§4), the event log (seq, prev_street_seq).
#include "pipeline/pipeline.hpp"
#include "pipeline/status_rules.hpp"

#include <casehub/sdk/rfc3339.hpp>

#include "../../support/spec_examples.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

using casehub::host::Categories;
using casehub::host::Counters;
using casehub::host::EventRow;
using casehub::host::Outcome;
using casehub::host::Pipeline;
using casehub::host::Store;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr const char* kExample61 = casehub::test::example_61;

constexpr const char* kSha61 = "3e2a923f3fbb559e19a7186a1dc3db7e628cdd7a42546e18e6878d433383142b";
constexpr const char* kStreetFuzimiao = "320104002";  // grid 32010400200508
constexpr const char* kStreetRuijin = "320104009";    // grid 32010400900606

json example61() { return json::parse(kExample61); }

// A 64-digit lower-case hex hash made of one repeated digit.
std::string sha(char c) { return std::string(64, c); }

// Example 6.1 as another record / version / status / street.
json variant(const std::string& record_id, const std::string& version, const std::string& status,
             const std::string& hash, const std::string& grid = "32010400200508") {
    json r = example61();
    r["source"]["record_id"] = record_id;
    r["source"]["version"] = version;
    r["status"] = status;
    r["status_native"] = "native " + status;
    r["raw_sha256"] = hash;
    r["location"]["grid_code"] = grid.empty() ? json() : json(grid);
    return r;
}

std::int64_t ms(const char* t) { return *casehub::sdk::parse_rfc3339_ms(t); }

// A throw-away directory with the hub's store in it.
struct TempDir {
    fs::path path;
    TempDir() {
        std::string t = (fs::temp_directory_path() / "casehub-ut-pipeline-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        path = t;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

Categories load_categories() {
    auto c = Categories::load(CASEHUB_SOURCE_DIR "/config/qinhuai/categories.json");
    if (!c) FAIL(c.error().message);
    return std::move(*c);
}

struct Hub {
    TempDir dir;
    std::unique_ptr<Store> store;
    Pipeline pipeline;
    std::vector<EventRow> events;  // every event of every apply, in order
    Counters counters;
    std::int64_t now = ms("2026-03-09T08:55:05+08:00");

    explicit Hub(const std::vector<std::string>& systems = {}) : pipeline(load_categories(), systems) { open(); }

    void open() {
        auto s = Store::open(dir.path / "hub.db", Store::Sync::normal);
        if (!s) FAIL(s.error().message);
        store = std::move(*s);
    }
    void reopen() {
        store.reset();
        open();
    }

    // One record in its own transaction, as the hub's group commit does.
    Outcome apply_bytes(const std::string& bytes, const std::string& cursor = "cur-1") {
        REQUIRE(store->begin());
        auto r = pipeline.apply(*store, "dcm-main", bytes, cursor, now, events, counters);
        if (!r) {
            store->rollback();
            FAIL(r.error().message);
        }
        REQUIRE(store->commit());
        now += 1000;
        return *r;
    }
    Outcome apply(const json& record) { return apply_bytes(record.dump()); }

    json case_doc(const std::string& case_id) {
        auto d = store->case_doc(case_id);
        REQUIRE(d);
        REQUIRE(d->has_value());
        return json::parse(**d);
    }
    std::string case_of(const std::string& system, const std::string& record_id) {
        auto s = store->find_source(system, record_id);
        REQUIRE(s);
        REQUIRE(s->has_value());
        return (*s)->case_id;
    }

    // Reads the committed database through a connection of its own.
    std::int64_t scalar(const std::string& sql) {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open_v2((dir.path / "hub.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
        REQUIRE(sqlite3_step(st) == SQLITE_ROW);
        const std::int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        return v;
    }
    // (seq, street_code, prev_street_seq, type) of every committed event, in seq order.
    std::vector<std::tuple<std::int64_t, std::string, std::int64_t, std::string>> event_rows() {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open_v2((dir.path / "hub.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, "SELECT seq, street_code, prev_street_seq, type FROM events ORDER BY seq",
                                   -1, &st, nullptr) == SQLITE_OK);
        std::vector<std::tuple<std::int64_t, std::string, std::int64_t, std::string>> out;
        while (sqlite3_step(st) == SQLITE_ROW)
            out.emplace_back(sqlite3_column_int64(st, 0), reinterpret_cast<const char*>(sqlite3_column_text(st, 1)),
                             sqlite3_column_int64(st, 2), reinterpret_cast<const char*>(sqlite3_column_text(st, 3)));
        sqlite3_finalize(st);
        sqlite3_close(db);
        return out;
    }
    std::int64_t cases() { return scalar("SELECT count(*) FROM cases"); }
    std::int64_t event_count() { return scalar("SELECT count(*) FROM events"); }
    std::vector<casehub::host::DeadLetterRow> letters() {
        auto l = store->dead_letters("", 0, 1000, true);
        REQUIRE(l);
        return *l;
    }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// A valid record

TEST_CASE("pipeline: the §6.1 record is applied as one new case with one created event", "[unit]") {
    Hub hub;
    REQUIRE(hub.apply(example61()) == Outcome::applied);

    CHECK(hub.cases() == 1);
    CHECK(hub.event_count() == 1);
    CHECK(hub.letters().empty());
    REQUIRE(hub.events.size() == 1);
    const EventRow& ev = hub.events[0];
    CHECK(ev.seq == 1);
    CHECK(ev.type == "created");
    CHECK(ev.prev_street_seq == 0);
    CHECK(ev.street_code == kStreetFuzimiao);
    CHECK(ev.grid_code == "32010400200508");
    CHECK(ev.community_code == "320104002005");
    CHECK(ev.category_family == "city_appearance");
    CHECK(ev.status == "dispatched");
    CHECK(hub.store->head_seq() == 1);

    const std::string id = hub.case_of("dcm", "260309000412");
    CHECK(std::regex_match(id, std::regex(R"(C\d{8}-\d{6})")));
    CHECK(id == "C20260309-000001");  // creation date in +08:00, first serial of the day
    CHECK(ev.case_id == id);

    json doc = hub.case_doc(id);
    CHECK(doc == json::parse(ev.doc));
    CHECK(doc["schema"] == "casehub.case/1");
    CHECK(doc["case_id"] == id);
    CHECK(doc["seq"] == 1);
    CHECK(doc["status"] == "dispatched");
    CHECK(doc["closed_by"].is_null());
    CHECK(doc["reopen_count"] == 0);
    CHECK(doc["category"]["code"] == "city_appearance.exposed_garbage");
    CHECK(doc["location"]["street_code"] == kStreetFuzimiao);
    REQUIRE(doc["sources"].size() == 1);
    CHECK(doc["sources"][0]["system"] == "dcm");
    CHECK(doc["sources"][0]["record_id"] == "260309000412");
    CHECK(doc["sources"][0]["version"] == "2026-03-09T08:52:40+08:00");
    CHECK(doc["sources"][0]["raw_sha256"] == kSha61);
    CHECK(doc["sources"][0]["status_native"] == "03 派遣");

    auto src = hub.store->find_source("dcm", "260309000412");
    REQUIRE(src);
    REQUIRE(src->has_value());
    CHECK((*src)->version == "2026-03-09T08:52:40+08:00");
    CHECK((*src)->version_form == "timestamp");
    CHECK((*src)->raw_sha256 == kSha61);
    CHECK((*src)->status == "dispatched");

    CHECK(hub.counters.records_in == 1);
    CHECK(hub.counters.applied == 1);
    CHECK(hub.counters.duplicates == 0);
    CHECK(hub.counters.same_version_changed == 0);
    CHECK(hub.counters.stale == 0);
    CHECK(hub.counters.dead_lettered == 0);
}

TEST_CASE("pipeline: an applied record's prepared tree is handed back when asked, the events the same", "[unit]") {
    Hub with, without;
    std::vector<Pipeline::Prepared> spent;
    json r = example61();
    for (int k = 0; k < 3; ++k) {
        if (k == 1) r["source"]["version"] = "2026-03-09T09:30:00+08:00";  // an update
        if (k == 2) r["source"]["record_id"] = "OTHER-1";                    // new to the hub
        const std::string bytes = r.dump();
        for (Hub* h : {&with, &without}) {
            REQUIRE(h->store->begin());
            auto o = h->pipeline.apply(*h->store, "dcm-main", bytes, h->pipeline.prepare(bytes), "c", h->now,
                                       h->events, h->counters, nullptr, h == &with ? &spent : nullptr);
            REQUIRE(o.ok());
            CHECK(*o == Outcome::applied);
            REQUIRE(h->store->commit());
            h->now += 1000;
        }
        REQUIRE(spent.size() == static_cast<std::size_t>(k + 1));
        CHECK(spent.back().rec == json::parse(bytes));
        CHECK(spent.back().where.location == with.case_doc(with.case_of("dcm", r["source"]["record_id"]))["location"]);
        const auto fresh = with.pipeline.prepare(bytes).profile;
        CHECK_FALSE(fresh.text.empty());
        CHECK(spent.back().profile.text == fresh.text);
        CHECK(spent.back().profile.reported_ms == fresh.reported_ms);
    }
    REQUIRE(with.events.size() == without.events.size());
    for (std::size_t i = 0; i < with.events.size(); ++i) {
        CHECK(with.events[i].doc == without.events[i].doc);
        CHECK(with.events[i].detail == without.events[i].detail);
    }
    // A duplicate is not applied: nothing handed back.
    REQUIRE(with.store->begin());
    const std::string bytes = r.dump();
    auto o = with.pipeline.apply(*with.store, "dcm-main", bytes, with.pipeline.prepare(bytes), "c", with.now,
                                 with.events, with.counters, nullptr, &spent);
    REQUIRE(o.ok());
    CHECK(*o == Outcome::duplicate);
    REQUIRE(with.store->commit());
    CHECK(spent.size() == 3);
}

TEST_CASE("pipeline: the case id carries the creation date in +08:00, with a daily serial", "[unit]") {
    Hub hub;
    hub.now = ms("2026-03-09T23:30:00+08:00");
    REQUIRE(hub.apply(variant("A1", "2026-03-09T08:52:40+08:00", "new", sha('1'))) == Outcome::applied);
    REQUIRE(hub.apply(variant("A2", "2026-03-09T08:52:40+08:00", "new", sha('2'))) == Outcome::applied);
    hub.now = ms("2026-03-09T16:00:00Z");  // 2026-03-10T00:00:00+08:00
    REQUIRE(hub.apply(variant("A3", "2026-03-09T08:52:40+08:00", "new", sha('3'))) == Outcome::applied);
    CHECK(hub.case_of("dcm", "A1") == "C20260309-000001");
    CHECK(hub.case_of("dcm", "A2") == "C20260309-000002");
    CHECK(hub.case_of("dcm", "A3") == "C20260310-000001");
}

// ---------------------------------------------------------------------------------------------
// §2.4 versions, duplicates and stale records, row by row

TEST_CASE("§2.4 version greater: applied, with an updated event when the status stays", "[unit]") {
    Hub hub;
    REQUIRE(hub.apply(example61()) == Outcome::applied);
    json r = example61();
    r["source"]["version"] = "2026-03-09T09:10:00+08:00";
    r["description"] = "补充：垃圾约3立方米。";
    r["raw_sha256"] = sha('a');
    REQUIRE(hub.apply(r) == Outcome::applied);

    CHECK(hub.cases() == 1);
    REQUIRE(hub.events.size() == 2);
    CHECK(hub.events[1].type == "updated");
    CHECK(hub.events[1].seq == 2);
    const std::string id = hub.case_of("dcm", "260309000412");
    CHECK(hub.events[1].case_id == id);
    json doc = hub.case_doc(id);
    CHECK(doc["seq"] == 2);
    CHECK(doc["description"] == "补充：垃圾约3立方米。");
    CHECK(doc["sources"][0]["version"] == "2026-03-09T09:10:00+08:00");
    CHECK(doc["created_at"] == json::parse(hub.events[0].doc)["created_at"]);
    CHECK(hub.counters.applied == 2);
}

TEST_CASE("§2.4 version greater: applied, with a status_changed event when the case status changes", "[unit]") {
    Hub hub;
    REQUIRE(hub.apply(example61()) == Outcome::applied);
    json r = example61();
    r["source"]["version"] = "2026-03-09T10:00:00+08:00";
    r["status"] = "resolved";
    r["status_native"] = "05 处置反馈";
    r["raw_sha256"] = sha('b');
    REQUIRE(hub.apply(r) == Outcome::applied);
    REQUIRE(hub.events.size() == 2);
    CHECK(hub.events[1].type == "status_changed");
    CHECK(hub.events[1].status == "resolved");
    json detail = json::parse(hub.events[1].detail);
    CHECK(detail["move"] == "forward");
    CHECK(detail["status"]["from"] == "dispatched");
    CHECK(detail["status"]["to"] == "resolved");
    CHECK(hub.case_doc(hub.case_of("dcm", "260309000412"))["status"] == "resolved");
}

TEST_CASE("§2.4 version equal, same raw_sha256: duplicate, ignored and counted, no event", "[unit]") {
    Hub hub;
    REQUIRE(hub.apply(example61()) == Outcome::applied);
    REQUIRE(hub.apply(example61()) == Outcome::duplicate);
    CHECK(hub.events.size() == 1);
    CHECK(hub.event_count() == 1);
    CHECK(hub.store->head_seq() == 1);
    CHECK(hub.cases() == 1);
    CHECK(hub.case_doc(hub.case_of("dcm", "260309000412"))["seq"] == 1);
    CHECK(hub.counters.records_in == 2);
    CHECK(hub.counters.applied == 1);
    CHECK(hub.counters.duplicates == 1);
    CHECK(hub.letters().empty());
}

TEST_CASE("§2.4 version equal, different raw_sha256: applied as newer and counted", "[unit]") {
    Hub hub;
    REQUIRE(hub.apply(example61()) == Outcome::applied);
    json r = example61();
    r["status"] = "in_progress";
    r["status_native"] = "04 处置中";
    r["raw_sha256"] = sha('c');
    REQUIRE(hub.apply(r) == Outcome::same_version_changed);
    REQUIRE(hub.events.size() == 2);
    CHECK(hub.events[1].seq == 2);
    CHECK(hub.events[1].type == "status_changed");
    CHECK(json::parse(hub.events[1].detail)["same_version_changed"] == true);
    json doc = hub.case_doc(hub.case_of("dcm", "260309000412"));
    CHECK(doc["status"] == "in_progress");
    CHECK(doc["sources"][0]["raw_sha256"] == sha('c'));
    CHECK(hub.counters.same_version_changed == 1);
    CHECK(hub.counters.applied == 2);  // assumption: "applied as newer" counts as applied too
    // The new hash is now the stored one: the same bytes again are a duplicate.
    REQUIRE(hub.apply(r) == Outcome::duplicate);
    CHECK(hub.events.size() == 2);
}

TEST_CASE("§2.4 version smaller: stale, ignored and counted, not an error, no event", "[unit]") {
    Hub hub;
    REQUIRE(hub.apply(example61()) == Outcome::applied);
    json r = example61();
    r["source"]["version"] = "2026-03-09T08:47:02+08:00";
    r["status"] = "registered";
    r["raw_sha256"] = sha('d');
    REQUIRE(hub.apply(r) == Outcome::stale);
    CHECK(hub.events.size() == 1);
    CHECK(hub.event_count() == 1);
    CHECK(hub.letters().empty());
    CHECK(hub.counters.stale == 1);
    CHECK(hub.counters.dead_lettered == 0);
    json doc = hub.case_doc(hub.case_of("dcm", "260309000412"));
    CHECK(doc["status"] == "dispatched");
    CHECK(doc["sources"][0]["version"] == "2026-03-09T08:52:40+08:00");
}

TEST_CASE("§2.4 timestamps are compared as instants, not as strings", "[unit]") {
    Hub hub;
    REQUIRE(hub.apply(variant("T1", "2026-03-09T09:00:00+08:00", "dispatched", sha('1'))) == Outcome::applied);
    // The same instant in UTC: equal.
    REQUIRE(hub.apply(variant("T1", "2026-03-09T01:00:00Z", "dispatched", sha('1'))) == Outcome::duplicate);
    REQUIRE(hub.apply(variant("T1", "2026-03-09T01:00:00Z", "dispatched", sha('2'))) == Outcome::same_version_changed);
    // Lexically smaller, one millisecond later as an instant: greater.
    REQUIRE(hub.apply(variant("T1", "2026-03-09T01:00:00.001Z", "accepted", sha('3'))) == Outcome::applied);
    // Lexically greater, earlier as an instant: smaller.
    REQUIRE(hub.apply(variant("T1", "2026-03-09T09:00:00+08:00", "resolved", sha('4'))) == Outcome::stale);
    // The stored version, written with another offset, and the stored hash: duplicate.
    REQUIRE(hub.apply(variant("T1", "2026-03-09T04:00:00.001+03:00", "accepted", sha('3'))) == Outcome::duplicate);
    CHECK(hub.counters.duplicates == 2);
    CHECK(hub.counters.same_version_changed == 1);
    CHECK(hub.counters.stale == 1);
    CHECK(hub.counters.applied == 3);
    CHECK(hub.events.size() == 3);
    CHECK(hub.case_doc(hub.case_of("dcm", "T1"))["status"] == "accepted");
}

TEST_CASE("§2.4 revisions are compared as unsigned integers (\"10\" > \"9\")", "[unit]") {
    Hub hub;
    auto rev = [](const std::string& v, const std::string& status, char h) {
        json r = variant("EV-77", v, status, sha(h));
        r["source"]["system"] = "gridapp";
        r["channel"] = "grid_worker";
        r["category"]["native"]["scheme"] = "gridapp.category";
        return r;
    };
    REQUIRE(hub.apply(rev("9", "registered", '1')) == Outcome::applied);
    REQUIRE(hub.apply(rev("10", "in_progress", '2')) == Outcome::applied);
    REQUIRE(hub.apply(rev("9", "resolved", '3')) == Outcome::stale);
    REQUIRE(hub.apply(rev("10", "in_progress", '2')) == Outcome::duplicate);
    REQUIRE(hub.apply(rev("010", "in_progress", '2')) == Outcome::duplicate);  // leading zeros: same integer
    REQUIRE(hub.apply(rev("11", "resolved", '4')) == Outcome::applied);
    REQUIRE(hub.apply(rev("18446744073709551615", "verified", '5')) == Outcome::applied);
    REQUIRE(hub.apply(rev("18446744073709551614", "closed", '6')) == Outcome::stale);

    auto src = hub.store->find_source("gridapp", "EV-77");
    REQUIRE(src);
    REQUIRE(src->has_value());
    CHECK((*src)->version_form == "revision");
    CHECK((*src)->version == "18446744073709551615");
    CHECK(hub.case_doc((*src)->case_id)["status"] == "verified");
    CHECK(hub.events.size() == 4);
    CHECK(hub.counters.stale == 2);
    CHECK(hub.counters.duplicates == 2);
}

TEST_CASE("§2.4 a record whose version form differs from the stored one is invalid (bad_version)", "[unit]") {
    SECTION("timestamp, then a revision") {
        Hub hub;
        REQUIRE(hub.apply(example61()) == Outcome::applied);
        REQUIRE(hub.apply(variant("260309000412", "5", "resolved", sha('e'))) == Outcome::dead_lettered);
        auto l = hub.letters();
        REQUIRE(l.size() == 1);
        CHECK(l[0].stage == "validation");
        CHECK(l[0].reason == "bad_version");
        CHECK(l[0].path == "$.source.version");
        CHECK(l[0].adapter == "dcm-main");
        CHECK(json::parse(l[0].doc)["source"]["version"] == "5");
        CHECK(hub.events.size() == 1);
        CHECK(hub.event_count() == 1);
        CHECK(hub.counters.dead_lettered == 1);
        CHECK(hub.counters.applied == 1);
        json doc = hub.case_doc(hub.case_of("dcm", "260309000412"));
        CHECK(doc["status"] == "dispatched");
        CHECK(doc["seq"] == 1);
        // The stored form is unchanged: a later timestamp still applies.
        REQUIRE(hub.apply(variant("260309000412", "2026-03-09T10:00:00+08:00", "resolved", sha('f'))) ==
                Outcome::applied);
    }
    SECTION("revision, then a timestamp") {
        Hub hub;
        json r = variant("EV-1", "3", "registered", sha('1'));
        r["source"]["system"] = "gridapp";
        REQUIRE(hub.apply(r) == Outcome::applied);
        r["source"]["version"] = "2026-03-09T10:00:00+08:00";
        r["raw_sha256"] = sha('2');
        REQUIRE(hub.apply(r) == Outcome::dead_lettered);
        auto l = hub.letters();
        REQUIRE(l.size() == 1);
        CHECK(l[0].reason == "bad_version");
        CHECK(l[0].path == "$.source.version");
        CHECK(hub.events.size() == 1);
    }
}

// ---------------------------------------------------------------------------------------------
// §2.5 validation: every invalid record is dead-lettered, never applied

TEST_CASE("§2.5 an invalid record is not applied: dead letter with the reason code and the JSON path", "[unit]") {
    struct Bad {
        const char* name;
        std::function<std::string()> bytes;
        const char* reason;
        const char* path;
    };
    auto mod = [](std::function<void(json&)> f) {
        return [f] {
            json r = example61();
            f(r);
            return r.dump();
        };
    };
    auto raw = [](std::string s) { return [s] { return s; }; };
    const std::vector<Bad> cases = {
        {"truncated JSON", raw(std::string(kExample61).substr(0, 120)), "not_json", "$"},
        {"a JSON array", raw("[1, 2]"), "not_json", "$"},
        {"not UTF-8", raw("{\"schema\": \"casehub.record/1\", \"title\": \"\xff\"}"), "not_json", "$"},
        {"larger than 1 MiB", mod([](json& r) { r["padding"] = std::string(1024 * 1024, 'x'); }), "not_json", "$"},
        {"schema absent", mod([](json& r) { r.erase("schema"); }), "bad_schema", "$.schema"},
        {"schema casehub.record/2", mod([](json& r) { r["schema"] = "casehub.record/2"; }), "bad_schema", "$.schema"},
        {"source.system absent", mod([](json& r) { r["source"].erase("system"); }), "missing_field", "$.source.system"},
        {"source.record_id absent", mod([](json& r) { r["source"].erase("record_id"); }), "missing_field",
         "$.source.record_id"},
        {"source.record_id empty", mod([](json& r) { r["source"]["record_id"] = ""; }), "missing_field",
         "$.source.record_id"},
        {"source.version null", mod([](json& r) { r["source"]["version"] = nullptr; }), "missing_field",
         "$.source.version"},
        {"kind absent", mod([](json& r) { r.erase("kind"); }), "missing_field", "$.kind"},
        {"category.code empty", mod([](json& r) { r["category"]["code"] = ""; }), "missing_field", "$.category.code"},
        {"status absent", mod([](json& r) { r.erase("status"); }), "missing_field", "$.status"},
        {"times.reported_at null", mod([](json& r) { r["times"]["reported_at"] = nullptr; }), "missing_field",
         "$.times.reported_at"},
        {"record_id as a number", mod([](json& r) { r["source"]["record_id"] = 260309000412LL; }), "bad_type",
         "$.source.record_id"},
        {"category.code as a number", mod([](json& r) { r["category"]["code"] = 102; }), "bad_type",
         "$.category.code"},
        {"tags not an array", mod([](json& r) { r["tags"] = "difficult"; }), "bad_type", "$.tags"},
        {"kind outside its list", mod([](json& r) { r["kind"] = "case"; }), "bad_enum", "$.kind"},
        {"status outside its list", mod([](json& r) { r["status"] = "done"; }), "bad_enum", "$.status"},
        {"status in upper case", mod([](json& r) { r["status"] = "Dispatched"; }), "bad_enum", "$.status"},
        {"channel outside its list", mod([](json& r) { r["channel"] = "fax"; }), "bad_enum", "$.channel"},
        {"priority outside its list", mod([](json& r) { r["priority"] = "urgent"; }), "bad_enum", "$.priority"},
        {"appeal_type on a non-appeal record", mod([](json& r) { r["appeal_type"] = "complaint"; }), "bad_enum",
         "$.appeal_type"},
        {"confidentiality outside its list", mod([](json& r) { r["confidentiality"] = "secret"; }), "bad_enum",
         "$.confidentiality"},
        {"unknown system", mod([](json& r) { r["source"]["system"] = "parkapp"; }), "unknown_system",
         "$.source.system"},
        {"unknown category", mod([](json& r) { r["category"]["code"] = "city_appearance.garbage"; }),
         "unknown_category", "$.category.code"},
        {"time with a space and no offset", mod([](json& r) { r["times"]["reported_at"] = "2026-03-09 09:12:33"; }),
         "bad_time", "$.times.reported_at"},
        {"time as epoch milliseconds", mod([](json& r) { r["times"]["reported_at"] = 1741482753000LL; }), "bad_time",
         "$.times.reported_at"},
        {"time on 30 February", mod([](json& r) { r["times"]["reported_at"] = "2026-02-30T08:41:26+08:00"; }),
         "bad_time", "$.times.reported_at"},
        {"time without offset", mod([](json& r) { r["times"]["updated_at"] = "2026-03-09T08:52:40"; }), "bad_time",
         "$.times.updated_at"},
        {"version neither RFC 3339 nor digits", mod([](json& r) { r["source"]["version"] = "v2"; }), "bad_version",
         "$.source.version"},
        {"version with a sign", mod([](json& r) { r["source"]["version"] = "-5"; }), "bad_version",
         "$.source.version"},
        {"version local time", mod([](json& r) { r["source"]["version"] = "2026-03-09 08:52:40"; }), "bad_version",
         "$.source.version"},
        {"raw_sha256 in upper case", mod([](json& r) { r["raw_sha256"] = std::string(64, 'A'); }), "bad_hash",
         "$.raw_sha256"},
        {"raw_sha256 of 63 digits", mod([](json& r) { r["raw_sha256"] = std::string(63, 'a'); }), "bad_hash",
         "$.raw_sha256"},
        {"title of 201 characters", mod([](json& r) {
             std::string t;
             for (int i = 0; i < 201; ++i) t += "垃";
             r["title"] = t;
         }),
         "too_long", "$.title"},
        {"description of 8001 characters", mod([](json& r) { r["description"] = std::string(8001, 'a'); }),
         "too_long", "$.description"},
    };

    Hub hub;
    std::int64_t n = 0;
    for (const Bad& b : cases) {
        INFO(b.name);
        const std::string cursor = "cur-" + std::to_string(n);
        REQUIRE(hub.apply_bytes(b.bytes(), cursor) == Outcome::dead_lettered);
        ++n;
        auto l = hub.letters();
        REQUIRE(static_cast<std::int64_t>(l.size()) == n);
        const auto& d = l.back();
        CHECK(d.stage == "validation");
        CHECK(d.reason == b.reason);
        CHECK(d.path == b.path);
        CHECK(d.adapter == "dcm-main");
        CHECK(d.cursor == cursor);
        CHECK(d.doc == b.bytes());
        CHECK_FALSE(d.detail.empty());
        CHECK(hub.cases() == 0);
        CHECK(hub.event_count() == 0);
        CHECK(hub.scalar("SELECT count(*) FROM source_records") == 0);
    }
    CHECK(hub.events.empty());
    CHECK(hub.store->head_seq() == 0);
    CHECK(hub.counters.records_in == n);
    CHECK(hub.counters.dead_lettered == n);
    CHECK(hub.counters.applied == 0);
}

TEST_CASE("§2.5 the boundaries themselves are valid (title of 200, description of 8,000 characters)", "[unit]") {
    Hub hub;
    json r = example61();
    std::string t;
    for (int i = 0; i < 200; ++i) t += "垃";
    r["title"] = t;
    r["description"] = std::string(8000, 'a');
    REQUIRE(hub.apply(r) == Outcome::applied);
    CHECK(hub.letters().empty());
}

TEST_CASE("§2.5 unmasked_personal_data: the dead-letter copy has the fields replaced by \"[withheld]\"", "[unit]") {
    struct Leak {
        const char* field;
        const char* value;
    };
    const std::vector<Leak> leaks = {{"phone_masked", "13851238000"},
                                     {"phone_masked", "138-5123-8000"},
                                     {"id_masked", "320104198807121234"},
                                     {"name_masked", "陈明华"}};
    Hub hub;
    std::size_t n = 0;
    for (const Leak& k : leaks) {
        INFO(k.field << " = " << k.value);
        json r = example61();
        r["reporter"][k.field] = k.value;
        REQUIRE(hub.apply(r) == Outcome::dead_lettered);
        auto l = hub.letters();
        REQUIRE(l.size() == ++n);
        const auto& d = l.back();
        CHECK(d.stage == "validation");
        CHECK(d.reason == "unmasked_personal_data");
        CHECK(d.path == std::string("$.reporter.") + k.field);
        CHECK(d.doc.find("[withheld]") != std::string::npos);
        CHECK(d.doc.find(k.value) == std::string::npos);
        CHECK(d.detail.find(k.value) == std::string::npos);
        json doc = json::parse(d.doc);
        CHECK(doc["reporter"][k.field] == "[withheld]");
        CHECK(doc["reporter"]["worker_id"] == "JDY0217");  // the rest is kept
        CHECK(hub.cases() == 0);
        CHECK(hub.event_count() == 0);
        CHECK(hub.scalar("SELECT count(*) FROM source_records") == 0);
    }
    // Nothing in the database holds the raw values.
    for (const Leak& k : leaks) {
        INFO(k.value);
        CHECK(hub.scalar(std::string("SELECT count(*) FROM dead_letters WHERE instr(doc, '") + k.value +
                         "') > 0 OR instr(detail, '" + k.value + "') > 0") == 0);
    }
}

TEST_CASE("§2.5 unknown_system: a system passed in the Pipeline's systems list is accepted", "[unit]") {
    Hub hub({"citygrid"});
    json r = variant("CG-1", "2026-03-09T08:52:40+08:00", "new", sha('1'));
    r["source"]["system"] = "citygrid";
    r["category"]["native"]["scheme"] = "citygrid.type";
    REQUIRE(hub.apply(r) == Outcome::applied);
    CHECK(hub.cases() == 1);
    CHECK(hub.case_doc(hub.case_of("citygrid", "CG-1"))["sources"][0]["system"] == "citygrid");

    r["source"]["system"] = "parkapp";
    REQUIRE(hub.apply(r) == Outcome::dead_lettered);
    auto l = hub.letters();
    REQUIRE(l.size() == 1);
    CHECK(l[0].reason == "unknown_system");
    CHECK(l[0].path == "$.source.system");

    // The six built-in systems pass whatever is configured.
    json h = variant("NJ1", "2026-03-09T08:52:40+08:00", "new", sha('2'));
    h["source"]["system"] = "hotline12345";
    h["kind"] = "appeal";
    h["appeal_type"] = "complaint";
    h["channel"] = "app";
    REQUIRE(hub.apply(h) == Outcome::applied);
}

// ---------------------------------------------------------------------------------------------
// §4 case status over a sequence of versions of one record

TEST_CASE("§4 status: new → dispatched → resolved → in_progress is a reopen → cancelled", "[unit]") {
    Hub hub;
    struct Step {
        const char* version;
        const char* status;
        const char* event;
        const char* move;
        int reopen_count;
    };
    const std::vector<Step> steps = {
        {"2026-03-09T08:41:26+08:00", "new", "created", nullptr, 0},
        {"2026-03-09T08:52:40+08:00", "dispatched", "status_changed", "forward", 0},
        {"2026-03-09T11:00:00+08:00", "resolved", "status_changed", "forward", 0},
        {"2026-03-09T12:00:00+08:00", "in_progress", "status_changed", "reopen", 1},  // 核查不通过, 重办
        {"2026-03-09T13:00:00+08:00", "cancelled", "status_changed", "withdraw", 1},
    };
    char h = '0';
    for (const Step& s : steps) {
        INFO(s.status);
        REQUIRE(hub.apply(variant("260309000412", s.version, s.status, sha(++h))) == Outcome::applied);
        const EventRow& ev = hub.events.back();
        CHECK(ev.type == s.event);
        CHECK(ev.status == s.status);
        if (s.move) CHECK(json::parse(ev.detail)["move"] == s.move);
        json doc = hub.case_doc(hub.case_of("dcm", "260309000412"));
        CHECK(doc["status"] == s.status);
        CHECK(doc["reopen_count"] == s.reopen_count);
        CHECK(doc["closed_by"].is_null());
        CHECK(doc["seq"] == ev.seq);
    }
    CHECK(hub.cases() == 1);
    CHECK(hub.events.size() == steps.size());
}

TEST_CASE("§4 status: a regress is recorded on the source and leaves the case unchanged", "[unit]") {
    Hub hub;
    REQUIRE(hub.apply(variant("R1", "2026-03-09T08:52:40+08:00", "dispatched", sha('1'))) == Outcome::applied);
    REQUIRE(hub.apply(variant("R1", "2026-03-09T09:00:00+08:00", "registered", sha('2'))) == Outcome::applied);
    CHECK(hub.events.back().type == "updated");
    CHECK(json::parse(hub.events.back().detail)["move"] == "regress");
    auto src = hub.store->find_source("dcm", "R1");
    REQUIRE(src);
    REQUIRE(src->has_value());
    CHECK((*src)->status == "registered");
    CHECK(hub.case_doc((*src)->case_id)["status"] == "dispatched");
}

TEST_CASE("§4 status: closed by its source, then reactivated from cancelled", "[unit]") {
    Hub hub;
    REQUIRE(hub.apply(variant("G1", "2026-03-09T08:52:40+08:00", "verified", sha('1'))) == Outcome::applied);
    REQUIRE(hub.apply(variant("G1", "2026-03-09T09:00:00+08:00", "closed", sha('2'))) == Outcome::applied);
    json doc = hub.case_doc(hub.case_of("dcm", "G1"));
    CHECK(doc["status"] == "closed");
    CHECK(doc["closed_by"] == "sources");
    REQUIRE(hub.apply(variant("G1", "2026-03-09T09:10:00+08:00", "cancelled", sha('3'))) == Outcome::applied);
    doc = hub.case_doc(hub.case_of("dcm", "G1"));
    CHECK(doc["status"] == "cancelled");
    CHECK(doc["closed_by"].is_null());
    REQUIRE(hub.apply(variant("G1", "2026-03-09T09:20:00+08:00", "dispatched", sha('4'))) == Outcome::applied);
    CHECK(json::parse(hub.events.back().detail)["move"] == "reactivate");
    doc = hub.case_doc(hub.case_of("dcm", "G1"));
    CHECK(doc["status"] == "dispatched");
    CHECK(doc["reopen_count"] == 0);
}

TEST_CASE("§4 status: a cancelled case that its source then closes is closed by its sources", "[unit]") {
    // gridapp 已关闭: 误报作废 (cancelled), later corrected to 办结归档 (closed).
    Hub hub;
    REQUIRE(hub.apply(variant("G2", "2026-03-09T08:52:40+08:00", "cancelled", sha('1'))) == Outcome::applied);
    REQUIRE(hub.apply(variant("G2", "2026-03-09T09:00:00+08:00", "closed", sha('2'))) == Outcome::applied);
    CHECK(json::parse(hub.events.back().detail)["move"] == "reactivate");
    json doc = hub.case_doc(hub.case_of("dcm", "G2"));
    CHECK(doc["status"] == "closed");
    CHECK(doc["closed_by"] == "sources");  // §3.1: null only while open
}

// ---------------------------------------------------------------------------------------------
// The event log

TEST_CASE("events: seq is dense across records and commits — prev_street_seq chains the events of one street",
          "[unit]") {
    Hub hub;
    const std::string T0 = "2026-03-09T08:52:40+08:00", T1 = "2026-03-09T09:30:00+08:00";
    // Commit 1
    REQUIRE(hub.apply(variant("A", T0, "dispatched", sha('1'), "32010400200508")) == Outcome::applied);  // 1
    REQUIRE(hub.apply(variant("B", T0, "dispatched", sha('2'), "32010400900606")) == Outcome::applied);  // 2
    // Several records in one transaction, with a duplicate, a stale record and a dead letter
    // between them: none of those take a seq.
    REQUIRE(hub.store->begin());
    auto one = [&](const json& r) {
        auto o = hub.pipeline.apply(*hub.store, "dcm-main", r.dump(), "cur-2", hub.now, hub.events, hub.counters);
        REQUIRE(o);
        return *o;
    };
    CHECK(one(variant("A", T1, "resolved", sha('3'), "32010400200508")) == Outcome::applied);     // 3
    CHECK(one(variant("B", T0, "dispatched", sha('2'), "32010400900606")) == Outcome::duplicate);
    CHECK(one(variant("C", T0, "new", sha('4'), "32010400200508")) == Outcome::applied);          // 4
    CHECK(one(variant("A", T0, "dispatched", sha('1'), "32010400200508")) == Outcome::stale);
    json bad = variant("X", T0, "new", sha('5'));
    bad["kind"] = "case";
    CHECK(one(bad) == Outcome::dead_lettered);
    CHECK(one(variant("B", T1, "in_progress", sha('6'), "32010400900606")) == Outcome::applied);  // 5
    CHECK(one(variant("D", T0, "new", sha('7'), "")) == Outcome::applied);                        // 6: no street
    REQUIRE(hub.store->commit());
    // Commit 3
    REQUIRE(hub.apply(variant("E", T0, "new", sha('8'), "32010400900606")) == Outcome::applied);  // 7

    using Row = std::tuple<std::int64_t, std::string, std::int64_t, std::string>;
    const std::vector<Row> expected = {
        {1, kStreetFuzimiao, 0, "created"},        {2, kStreetRuijin, 0, "created"},
        {3, kStreetFuzimiao, 1, "status_changed"}, {4, kStreetFuzimiao, 3, "created"},
        {5, kStreetRuijin, 2, "status_changed"},   {6, "", 0, "created"},
        {7, kStreetRuijin, 5, "created"},
    };
    CHECK(hub.event_rows() == expected);
    REQUIRE(hub.events.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        INFO("event " << i);
        CHECK(hub.events[i].seq == static_cast<std::uint64_t>(std::get<0>(expected[i])));
        CHECK(hub.events[i].street_code == std::get<1>(expected[i]));
        CHECK(hub.events[i].prev_street_seq == static_cast<std::uint64_t>(std::get<2>(expected[i])));
        CHECK(json::parse(hub.events[i].doc)["seq"] == std::get<0>(expected[i]));
    }
    CHECK(hub.store->head_seq() == 7);
    const std::map<std::string, std::uint64_t> heads = {{"", 6}, {kStreetFuzimiao, 4}, {kStreetRuijin, 7}};
    CHECK(hub.store->street_heads() == heads);
    CHECK(hub.cases() == 5);

    // A restarted store picks the chain up where it was.
    hub.reopen();
    CHECK(hub.store->head_seq() == 7);
    CHECK(hub.store->street_heads() == heads);
    REQUIRE(hub.apply(variant("F", T0, "new", sha('9'), "32010400200508")) == Outcome::applied);
    CHECK(hub.events.back().seq == 8);
    CHECK(hub.events.back().prev_street_seq == 4);
}

TEST_CASE("events: a rollback restores head_seq, the street heads and everything the transaction wrote", "[unit]") {
    Hub hub;
    const std::string T0 = "2026-03-09T08:52:40+08:00", T1 = "2026-03-09T09:30:00+08:00";
    REQUIRE(hub.apply(variant("A", T0, "dispatched", sha('1'), "32010400200508")) == Outcome::applied);  // 1
    REQUIRE(hub.apply(variant("B", T0, "dispatched", sha('2'), "32010400900606")) == Outcome::applied);  // 2
    const auto heads = hub.store->street_heads();

    REQUIRE(hub.store->begin());
    std::vector<EventRow> lost;
    Counters c;
    for (const json& r : {variant("A", T1, "resolved", sha('3'), "32010400200508"),
                          variant("C", T0, "new", sha('4'), "32010400900606")}) {
        auto o = hub.pipeline.apply(*hub.store, "dcm-main", r.dump(), "cur-x", hub.now, lost, c);
        REQUIRE(o);
        REQUIRE(*o == Outcome::applied);
    }
    json bad = example61();
    bad["kind"] = "case";
    REQUIRE(*hub.pipeline.apply(*hub.store, "dcm-main", bad.dump(), "cur-x", hub.now, lost, c) ==
            Outcome::dead_lettered);
    CHECK(hub.store->head_seq() == 4);
    hub.store->rollback();

    CHECK(hub.store->head_seq() == 2);
    CHECK(hub.store->street_heads() == heads);
    CHECK(hub.event_count() == 2);
    CHECK(hub.cases() == 2);
    CHECK(hub.letters().empty());
    auto c_src = hub.store->find_source("dcm", "C");
    REQUIRE(c_src);
    CHECK_FALSE(c_src->has_value());
    auto a_src = hub.store->find_source("dcm", "A");
    REQUIRE(a_src);
    REQUIRE(a_src->has_value());
    CHECK((*a_src)->version == T0);
    CHECK(hub.case_doc((*a_src)->case_id)["status"] == "dispatched");

    // Retried after the rollback: the same seqs, no gap, the chain intact.
    REQUIRE(hub.apply(variant("A", T1, "resolved", sha('3'), "32010400200508")) == Outcome::applied);
    REQUIRE(hub.apply(variant("C", T0, "new", sha('4'), "32010400900606")) == Outcome::applied);
    using Row = std::tuple<std::int64_t, std::string, std::int64_t, std::string>;
    const std::vector<Row> expected = {
        {1, kStreetFuzimiao, 0, "created"},
        {2, kStreetRuijin, 0, "created"},
        {3, kStreetFuzimiao, 1, "status_changed"},
        {4, kStreetRuijin, 2, "created"},
    };
    CHECK(hub.event_rows() == expected);
    CHECK(hub.case_of("dcm", "C") == "C20260309-000003");  // the rolled-back serial was never issued
}

namespace {

// Runs a script on a store file (created if need be), as an older casehub would have left it.
void exec_script(const fs::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    char* err = nullptr;
    const int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
    const std::string msg = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(h);
    INFO(msg);
    REQUIRE(rc == SQLITE_OK);
}

// A store as schema 4 left it: source_records WITHOUT ROWID (or, `renamed`, as a crash between
// the two halves of the 4 → 5 migration leaves it).
void make_v4_store(const fs::path& db, bool renamed) {
    const std::string table = renamed ? "source_records_v4" : "source_records";
    const std::string sql =
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES('schema_version', '4');"
        "CREATE TABLE " + table + " (system TEXT NOT NULL, record_id TEXT NOT NULL, case_id TEXT NOT NULL,"
        " version TEXT NOT NULL, version_form TEXT NOT NULL, raw_sha256 TEXT NOT NULL, status TEXT NOT NULL,"
        " status_native TEXT NOT NULL, adapter TEXT NOT NULL, received_at INTEGER NOT NULL, doc BLOB NOT NULL,"
        " PRIMARY KEY (system, record_id)) WITHOUT ROWID;" +
        (renamed ? std::string() : "CREATE INDEX source_records_case ON source_records(case_id);") +
        "INSERT INTO " + table + " VALUES('dcm', 'A1', 'C20260309-000001', '2026-03-09T09:00:00+08:00', 'timestamp',"
        " 'ab', 'new', '01', 'dcm-main', 1, X'7B7D');"
        "INSERT INTO " + table + " VALUES('gridapp', 'G7', 'C20260309-000001', '3', 'revision', 'cd', 'new', 'x',"
        " 'gridapp', 2, X'7B7D');";
    exec_script(db, sql);
}

std::string scalar(const fs::path& db, const char* sql) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(h, sql, -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(h);
    return out;
}

}  // namespace

TEST_CASE("store: a schema 4 store gets a rowid source_records with every row, also after a crash half-way", "[unit]") {
    for (const bool renamed : {false, true}) {
        INFO((renamed ? "crashed after the rename" : "schema 4"));
        TempDir dir;
        const fs::path db = dir.path / "hub.db";
        make_v4_store(db, renamed);
        {
            auto s = Store::open(db, Store::Sync::normal);
            if (!s) FAIL(s.error().message);
            auto a = (*s)->find_source("dcm", "A1");
            REQUIRE(a);
            REQUIRE(a->has_value());
            CHECK((*a)->case_id == "C20260309-000001");
            CHECK((*a)->version_form == "timestamp");
            auto g = (*s)->find_source("gridapp", "G7");
            REQUIRE(g);
            REQUIRE(g->has_value());
            CHECK((*g)->version == "3");
        }
        CHECK(scalar(db, "SELECT sql FROM sqlite_master WHERE name='source_records'").find("WITHOUT ROWID") == std::string::npos);
        CHECK(scalar(db, "SELECT count(*) FROM source_records") == "2");
        CHECK(scalar(db, "SELECT count(*) FROM sqlite_master WHERE name='source_records_v4'") == "0");
        CHECK(scalar(db, "SELECT count(*) FROM sqlite_master WHERE name='source_records_case'") == "1");
        CHECK(scalar(db, "SELECT value FROM meta WHERE key='schema_version'") == "9");
    }
}

namespace {

// A store as schema 5 left it: the table `cases` holding each case's document as well (or,
// `renamed`, as a crash between the two halves of the 5 → 6 migration leaves it). Case 1's
// document is its last event's, as the hub always wrote it; case 2's was edited by hand.
void make_v5_store(const fs::path& db, bool renamed) {
    const std::string table = renamed ? "cases_v5" : "cases";
    const std::string sql =
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "INSERT INTO meta VALUES('schema_version', '5');"
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, case_id TEXT NOT NULL, type TEXT NOT NULL,"
        " street_code TEXT NOT NULL, prev_street_seq INTEGER NOT NULL, community_code TEXT NOT NULL,"
        " grid_code TEXT NOT NULL, category_family TEXT NOT NULL, status TEXT NOT NULL, at INTEGER NOT NULL,"
        " detail TEXT NOT NULL, doc BLOB NOT NULL);"
        "CREATE TABLE " + table + " (case_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL,"
        " street_code TEXT NOT NULL, community_code TEXT NOT NULL, grid_code TEXT NOT NULL,"
        " category_code TEXT NOT NULL, category_family TEXT NOT NULL, priority TEXT NOT NULL,"
        " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, merged_into TEXT,"
        " doc BLOB NOT NULL, ended_at INTEGER NOT NULL DEFAULT 0);" +
        (renamed ? std::string() : "CREATE INDEX cases_status ON cases(status);") +
        "INSERT INTO events VALUES(1, 'C1', 'created', '320104002', 0, '', '', 'f', 'new', 1, '{}', '{\"v\":1}');"
        "INSERT INTO events VALUES(2, 'C2', 'created', '320104002', 1, '', '', 'f', 'new', 2, '{}', '{\"v\":2}');"
        "INSERT INTO events VALUES(3, 'C1', 'updated', '320104002', 2, '', '', 'f', 'closed', 3, '{}', '{\"v\":3}');"
        "INSERT INTO " + table + " VALUES('C1', 3, 'closed', '320104002', '', '', 'c', 'f', 'general', 1, 3, NULL, '{\"v\":3}', 3);"
        "INSERT INTO " + table + " VALUES('C2', 2, 'cancelled', '320104002', '', '', 'c', 'f', 'general', 2, 9, NULL, '{\"v\":\"edited\"}', 9);";
    exec_script(db, sql);
}

}  // namespace

TEST_CASE("store: a schema 5 store keeps every case and its document, stored once, also after a crash half-way", "[unit]") {
    for (const bool renamed : {false, true}) {
        INFO((renamed ? "crashed after the rename" : "schema 5"));
        TempDir dir;
        const fs::path db = dir.path / "hub.db";
        make_v5_store(db, renamed);
        {
            auto s = Store::open(db, Store::Sync::normal);
            if (!s) FAIL(s.error().message);
            auto c1 = (*s)->find_case("C1");
            REQUIRE(c1);
            REQUIRE(c1->has_value());
            CHECK((*c1)->status == "closed");
            CHECK((*c1)->doc == R"({"v":3})");
            CHECK((*c1)->ended_at == 3);
            auto c2 = (*s)->find_case("C2");
            REQUIRE(c2);
            REQUIRE(c2->has_value());
            CHECK((*c2)->doc == R"({"v":"edited"})");  // the case's document is the current state
            CHECK((*c2)->updated_at == 9);
            auto d = (*s)->case_doc("C2");
            REQUIRE(d);
            CHECK(*d == std::optional<std::string>(R"({"v":"edited"})"));
        }
        CHECK(scalar(db, "SELECT type FROM sqlite_master WHERE name='cases'") == "view");
        CHECK(scalar(db, "SELECT count(*) FROM case_rows") == "2");
        CHECK(scalar(db, "SELECT count(*) FROM sqlite_master WHERE name IN ('cases_v5', 'cases_status')") == "0");
        CHECK(scalar(db, "SELECT doc FROM events WHERE seq=1") == R"({"v":1})");  // history untouched
        CHECK(scalar(db, "SELECT doc FROM events WHERE seq=2") == R"({"v":"edited"})");
        CHECK(scalar(db, "SELECT group_concat(doc, ' ') FROM (SELECT doc FROM cases ORDER BY case_id)") ==
              R"({"v":3} {"v":"edited"})");
        CHECK(scalar(db, "SELECT value FROM meta WHERE key='schema_version'") == "9");
    }
}
