// Correlation (issue 6): each kind of evidence, the case-model §3.2 vetoes (incompatible
// categories, the 72-hour rule), explicit links both ways, operator merge / split and the split
// pairs the correlator respects — through the real pipeline and a real SQLite store (with its
// R*Tree index) in a temporary file, with the district's reference data.
#include "correlate/correlator.hpp"
#include "correlate/text.hpp"
#include "pipeline/locator.hpp"
#include "pipeline/pipeline.hpp"

#include <casehub/sdk/rfc3339.hpp>

#include "../../support/spec_examples.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <map>
#include <set>
#include <string>
#include <vector>

using namespace casehub::host;
namespace cor = casehub::host::correlate;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::int64_t ms(const std::string& t) { return *casehub::sdk::parse_rfc3339_ms(t); }
std::string at(std::int64_t t) { return casehub::sdk::format_rfc3339_beijing(t); }

struct TempDir {
    fs::path path;
    TempDir() {
        std::string t = (fs::temp_directory_path() / "casehub-ut-corr-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        path = t;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::shared_ptr<const Locator> district() {
    static auto l = Locator::load(CASEHUB_SOURCE_DIR "/config/qinhuai");
    REQUIRE(l);
    return *l;
}

Categories categories() {
    auto c = Categories::load(CASEHUB_SOURCE_DIR "/config/qinhuai/categories.json");
    REQUIRE(c);
    return std::move(*c);
}

cor::Settings settings(double max_gap_hours = 48) {
    cor::Settings s = cor::default_settings();
    s.compatible_families = categories().compatible_families();
    s.max_gap_hours = max_gap_hours;
    return s;
}

struct Hub {
    TempDir dir;
    std::unique_ptr<Store> store;
    Pipeline pipeline;
    std::vector<EventRow> events;
    Counters counters;
    std::int64_t now = ms("2026-03-09T09:00:00+08:00");

    // cached: the store also keeps recent profiles in memory (as casehubd does), so every
    // decision below must come out the same from memory as from SQLite.
    explicit Hub(cor::Settings s = settings(), bool cached = false) : pipeline(categories(), {}, district(), std::move(s)) {
        open(cached);
    }
    void open(bool cached, std::int32_t keep_minutes = (48 + 7 * 24) * 60) {
        store.reset();
        auto st = Store::open(dir.path / "hub.db", Store::Sync::normal);
        REQUIRE(st);
        store = std::move(*st);
        if (cached) REQUIRE(store->enable_corr_cache(keep_minutes));
    }
    void apply(const json& rec) {
        REQUIRE(store->begin());
        auto r = pipeline.apply(*store, "a", rec.dump(), "c", now, events, counters);
        REQUIRE(r);
        REQUIRE(*r == Outcome::applied);
        REQUIRE(store->commit());
        now += 1000;
    }
    std::string case_of(const std::string& system, const std::string& id) {
        auto s = store->find_source(system, id);
        REQUIRE(s);
        REQUIRE(s->has_value());
        return (*s)->case_id;
    }
    json doc(const std::string& case_id) {
        auto d = store->case_doc(case_id);
        REQUIRE(d);
        REQUIRE(d->has_value());
        return json::parse(**d);
    }
    const EventRow& last() { return events.back(); }
    json last_detail() { return json::parse(events.back().detail); }
};

// A grid worker's report at a WGS-84 point (15 m precision).
json report(const std::string& system, const std::string& id, double lon, double lat, const std::string& reported,
            const std::string& category = "city_appearance.exposed_garbage",
            const std::string& text = "长乐路88号门口有暴露垃圾，堆了好几天，气味很大",
            const std::string& address = "秦淮区长乐路88号") {
    json r = json::parse(casehub::test::example_61);
    r["source"] = {{"system", system}, {"record_id", id}, {"version", reported}, {"received_at", reported}};
    r["category"] = {{"code", category}, {"native", {{"scheme", "x"}, {"code", "1"}, {"name", "x"}}}};
    r["description"] = text;
    r["status"] = "registered";
    r["status_native"] = "立案";
    r["times"] = {{"reported_at", reported}, {"updated_at", reported}};
    r["location"] = {{"original", {{"x", lon}, {"y", lat}, {"crs", "WGS84"}}}, {"address", address}, {"grid_code", nullptr}};
    r["responsible"] = json::array();
    r["attachments"] = json::array();
    r["raw_sha256"] = std::string(64, 'a');
    return r;
}

constexpr double kLon = 118.7880, kLat = 32.0240;  // 长乐路, 夫子庙街道
// Metres → degrees on the district's plane.
double dlon(double m) { return m / 94395.0; }
double dlat(double m) { return m / 110880.0; }

}  // namespace

TEST_CASE("bigrams: Han pairs, a digit run is one token, stop phrases and the address discounted", "[unit]") {
    using namespace cor;
    CHECK(dice(bigrams("污水井盖外溢"), bigrams("污水井盖外溢")) == Approx(1.0));
    CHECK(dice(bigrams("污水井盖外溢"), bigrams("路灯不亮")) == Approx(0.0));
    // 123号 and 128号 share nothing but 路/号 neighbours that differ too.
    CHECK(dice(bigrams("长乐路123号"), bigrams("长乐路128号")) == Approx(2.0 * 2 / 8));
    CHECK(bigrams("ＡＢ12") == bigrams("ab12"));  // full-width folded
    CHECK(strip_phrases("垃圾很多，请尽快处理。谢谢", {"请尽快处理", "谢谢"}).find("谢谢") == std::string::npos);
    const Signature addr = bigrams("长乐路88号");
    CHECK(dice(bigrams("长乐路88号有暴露垃圾", &addr), bigrams("长乐路88号路灯不亮", &addr)) == Approx(0.0));
    CHECK(from_bytes(to_bytes(addr)) == addr);
}

TEST_CASE("evidence: distance against the precisions, time with date-only reports, category families", "[unit]") {
    const cor::Settings s = settings();
    cor::Profile a, b;
    a.located = b.located = true;
    a.lon = b.lon = kLon;
    a.lat = kLat, b.lat = kLat + dlat(30);
    a.precision_m = b.precision_m = 15;
    a.reported_ms = ms("2026-03-09T09:00:00+08:00");
    b.reported_ms = a.reported_ms + 20 * 60000;
    a.category = b.category = "city_appearance.exposed_garbage";
    a.family = b.family = "city_appearance";
    auto near = cor::compare(a, b, s);
    CHECK(near.distance_m == Approx(30).margin(1));
    CHECK(near.category == "same");
    CHECK(near.l_time == Approx(s.time_near));
    // 250 m with 15 m precisions is far more than 4σ; with 300 m (a street name) it is not.
    b.lat = kLat + dlat(250);
    CHECK(cor::compare(a, b, s).l_distance == Approx(s.distance_far));
    b.precision_m = 300;
    CHECK(cor::compare(a, b, s).l_distance > 2.0);
    // A week later.
    b.lat = kLat;
    b.reported_ms = a.reported_ms + 7 * 86400000LL;
    CHECK(cor::compare(a, b, s).l_time == Approx(s.time_far));
    // A date-only report (enforcement's 立案日期 at 00:00) covers the whole day.
    b.reported_ms = ms("2026-03-09T00:00:00+08:00");
    b.date_only = true;
    CHECK(cor::compare(a, b, s).minutes == Approx(0));
    // Families.
    b.category = "city_appearance.dirty_road";
    CHECK(cor::compare(a, b, s).category == "family");
    b.category = "greening.damaged", b.family = "greening";  // compatible with city_appearance
    CHECK(cor::compare(a, b, s).category == "compatible");
    b.family = "noise";
    CHECK(cor::compare(a, b, s).category == "incompatible");
}

TEST_CASE("evidence: measure_gap, which rules candidates out before their text is read, is compare's distance, "
          "sigma and time", "[unit]") {
    const cor::Settings s = settings();
    cor::Profile a, b;
    a.located = b.located = true;
    a.lon = b.lon = kLon;
    a.lat = kLat;
    a.precision_m = 15;
    a.reported_ms = ms("2026-03-09T09:00:00+08:00");
    a.offset_m = 80;
    int checked = 0;
    for (const int metres_off : {0, 30, 250, 4000})
        for (const int precision : {5, 300})
            for (const std::int64_t minutes_later : {0LL, 20LL, 7 * 1440LL})
                for (const bool date_only : {false, true})
                    for (const bool located : {true, false}) {
                        b.lat = kLat + dlat(metres_off);
                        b.precision_m = precision;
                        b.reported_ms = a.reported_ms + minutes_later * 60000;
                        b.date_only = date_only;
                        b.located = located;
                        const auto full = cor::compare(a, b, s);
                        cor::Evidence gap;
                        cor::measure_gap(a, b, gap);
                        CHECK(gap.distance_m == full.distance_m);
                        CHECK(gap.sigma_m == full.sigma_m);
                        CHECK(gap.minutes == full.minutes);
                        ++checked;
                    }
    CHECK(checked == 96);
    b.located = false;
    cor::Evidence gap;
    cor::measure_gap(a, b, gap);
    CHECK(gap.distance_m < 0);  // unlocated: no distance, so never ruled out by one
}

TEST_CASE("evidence: a system's report offset widens sigma, so a caller 120 m off still matches", "[unit]") {
    cor::Settings s = settings();
    s.report_offset_m = {{"hotline12345", 80.0}};
    cor::Profile a, b;
    a.located = b.located = true;
    a.lon = b.lon = kLon;
    a.lat = kLat, b.lat = kLat + dlat(120);
    a.precision_m = 20, b.precision_m = 15;  // GCJ-02 coordinates of a caller, GNSS of an inspector
    a.reported_ms = b.reported_ms = ms("2026-03-09T09:00:00+08:00");
    a.category = b.category = "city_appearance.exposed_garbage";
    a.family = b.family = "city_appearance";
    a.system = "hotline12345", b.system = "gridapp";
    // Without the offset 120 m is 4.8 σ of the two precisions: as good as another place.
    const auto bare = cor::compare(a, b, s);
    CHECK(bare.sigma_m == Approx(25).margin(0.5));
    CHECK(bare.l_distance == Approx(s.distance_far));
    a.offset_m = cor::report_offset(s, a.system);
    b.offset_m = cor::report_offset(s, b.system);
    CHECK(a.offset_m == 80.0);
    CHECK(b.offset_m == 0.0);
    const auto off = cor::compare(a, b, s);
    CHECK(off.sigma_m == Approx(std::sqrt(20.0 * 20 + 15 * 15 + 80 * 80)).margin(0.01));
    CHECK(off.l_distance > bare.l_distance + 2.0);
    // The index box and the search radius take the spread (precision and offset) too.
    const auto row = cor::index_row(a, "C1", s);
    CHECK(row.box.x1 - row.box.x0 >= static_cast<std::int32_t>(2 * 3 * a.spread_m()) - 1);
}

TEST_CASE("two reports of one incident make one case, with the evidence on the joined event", "[unit]") {
    const bool cached = GENERATE(false, true);
    Hub h(settings(), cached);
    h.apply(report("gridapp", "WG1", kLon, kLat, "2026-03-09T08:30:00+08:00"));
    h.apply(report("dcm", "D1", kLon + dlon(20), kLat, "2026-03-09T08:41:00+08:00", "city_appearance.exposed_garbage",
                   "长乐路88号附近暴露垃圾无人清理，希望尽快清理", "秦淮区夫子庙街道长乐路88号"));
    const std::string c = h.case_of("gridapp", "WG1");
    CHECK(h.case_of("dcm", "D1") == c);
    CHECK(h.last().type == "joined");
    const json d = h.last_detail()["correlation"];
    CHECK(d["decision"] == "joined");
    CHECK(d["case"] == c);
    CHECK(d["evidence"]["category"] == "same");
    CHECK(d["evidence"]["distance_m"].get<double>() == Approx(20).margin(2));
    CHECK(d["evidence"]["minutes"] == 11);
    CHECK(d["summary"].get<std::string>().rfind("joined " + c + ": 20 m", 0) == 0);
    // The case is composed from both (§3.2): dcm is the primary, sources has both records.
    const json doc = h.doc(c);
    CHECK(doc["sources"].size() == 2);
    CHECK(doc["channel"] == "supervisor");
    CHECK(doc["description"].get<std::string>().find("附近暴露垃圾") != std::string::npos);
    CHECK(doc["times"]["reported_at"] == "2026-03-09T08:30:00+08:00");
}

TEST_CASE("near misses stay apart: next door, another problem at the place, a week later", "[unit]") {
    const bool cached = GENERATE(false, true);
    Hub h(settings(), cached);
    h.apply(report("gridapp", "WG1", kLon, kLat, "2026-03-09T08:30:00+08:00"));
    // Same category 200 m away, ten minutes later, another house number.
    h.apply(report("dcm", "D1", kLon, kLat + dlat(200), "2026-03-09T08:40:00+08:00", "city_appearance.exposed_garbage",
                   "长乐路120号门口有暴露垃圾", "秦淮区长乐路120号"));
    // Another problem of the same family at the same door.
    h.apply(report("dcm", "D2", kLon, kLat, "2026-03-09T08:45:00+08:00", "city_appearance.dirty_road",
                   "长乐路88号门口道路不洁，满地油污"));
    // An incompatible family at the same door: never merged, whatever else matches.
    h.apply(report("hotline12345", "H1", kLon, kLat, "2026-03-09T08:46:00+08:00", "noise.residential",
                   "长乐路88号门口有暴露垃圾，堆了好几天，气味很大"));
    // The same place and problem a week later.
    h.apply(report("dcm", "D3", kLon, kLat, "2026-03-16T08:30:00+08:00"));
    std::set<std::string> cases;
    for (auto [s, id] : std::vector<std::pair<std::string, std::string>>{{"gridapp", "WG1"}, {"dcm", "D1"}, {"dcm", "D2"}, {"hotline12345", "H1"}, {"dcm", "D3"}})
        cases.insert(h.case_of(s, id));
    CHECK(cases.size() == 5);
}

TEST_CASE("explicit links join whatever the distance, in either order of arrival", "[unit]") {
    const bool cached = GENERATE(false, true);
    Hub h(settings(), cached);
    // The 110 sheet first, then the 12345 order that names it (gljjdbh), far away and later.
    h.apply(report("police", "P1", kLon, kLat, "2026-03-09T08:00:00+08:00"));
    json order = report("hotline12345", "H1", kLon + dlon(900), kLat, "2026-03-09T20:00:00+08:00", "noise.residential", "噪音");
    order["links"] = json::array({{{"system", "police"}, {"record_id", "P1"}, {"relation", "transferred_from"}}});
    h.apply(order);
    CHECK(h.case_of("hotline12345", "H1") == h.case_of("police", "P1"));
    CHECK(h.last_detail()["correlation"]["evidence"]["link"] == "police:P1");
    // The other way: the order that names a record arrives before it.
    json first = report("dcm", "D9", kLon + dlon(3000), kLat, "2026-03-10T08:00:00+08:00");
    first["links"] = json::array({{{"system", "hotline12345"}, {"record_id", "H9"}, {"relation", "transferred_from"}}});
    h.apply(first);
    h.apply(report("hotline12345", "H9", kLon, kLat + dlat(2000), "2026-03-10T07:00:00+08:00", "roads_traffic.road_damage", "路面坑洼"));
    CHECK(h.case_of("hotline12345", "H9") == h.case_of("dcm", "D9"));
    CHECK(h.last_detail()["correlation"]["evidence"]["named_by"] == true);
}

TEST_CASE("a case ended more than 72 hours before a report is not joined and the new case links it related", "[unit]") {
    const bool cached = GENERATE(false, true);
    Hub h(settings(), cached);
    json a = report("dcm", "D1", kLon, kLat, "2026-03-09T08:00:00+08:00");
    h.apply(a);
    a["status"] = "closed";
    a["status_native"] = "07 结案";
    a["source"]["version"] = a["times"]["updated_at"] = "2026-03-09T12:00:00+08:00";
    a["times"]["closed_at"] = "2026-03-09T12:00:00+08:00";
    h.apply(a);
    const std::string closed = h.case_of("dcm", "D1");
    REQUIRE(h.doc(closed)["status"] == "closed");
    // Repeat complaints naming the closed record (12345 重办 names its earlier order).
    auto repeat = [&](const std::string& id, std::int64_t hours_after_close) {
        json r = report("hotline12345", id, kLon, kLat, at(ms("2026-03-09T12:00:00+08:00") + hours_after_close * 3600000LL));
        r["links"] = json::array({{{"system", "dcm"}, {"record_id", "D1"}, {"relation", "duplicate_of"}}});
        h.apply(r);
    };
    // 71 h after the close: joined.
    repeat("H1", 71);
    CHECK(h.case_of("hotline12345", "H1") == closed);
    // 73 h after: a new case, linked related to the closed one.
    repeat("H2", 73);
    const std::string fresh = h.case_of("hotline12345", "H2");
    CHECK(fresh != closed);
    bool related = false;
    const json fresh_doc = h.doc(fresh);
    for (const auto& l : fresh_doc["links"]) related |= l["relation"] == "related" && l["record_id"] == "D1";
    CHECK(related);
    CHECK(h.last_detail()["correlation"]["related"]["case"] == closed);
}

TEST_CASE("operator merge and split are audited, and a split pair is never joined again", "[unit]") {
    const bool cached = GENERATE(false, true);
    Hub h(settings(), cached);
    h.apply(report("gridapp", "WG1", kLon, kLat, "2026-03-09T08:30:00+08:00"));
    h.apply(report("dcm", "D1", kLon + dlon(3000), kLat, "2026-03-09T08:31:00+08:00"));
    const std::string a = h.case_of("gridapp", "WG1"), b = h.case_of("dcm", "D1");
    REQUIRE(a != b);

    REQUIRE(h.store->begin());
    auto m = h.pipeline.merge(*h.store, a, b, "张科长", "same drain", h.now, h.events);
    REQUIRE(m);
    REQUIRE_FALSE(m->refused);
    REQUIRE(h.store->commit());
    CHECK(h.case_of("dcm", "D1") == a);
    CHECK(h.doc(a)["merged_from"] == json::array({b}));
    CHECK(h.doc(a)["sources"].size() == 2);
    CHECK(h.doc(b)["merged_into"] == a);
    CHECK(h.events[h.events.size() - 2].type == "merged");
    CHECK(json::parse(h.events.back().detail)["by"] == "张科长");

    // Refusals name what is wrong and write nothing.
    REQUIRE(h.store->begin());
    auto bad = h.pipeline.merge(*h.store, a, "C20990101-000001", "x", "", h.now, h.events);
    REQUIRE(bad);
    REQUIRE(bad->refused);
    CHECK(bad->refused->code == "not_found");
    auto again = h.pipeline.merge(*h.store, a, b, "x", "", h.now, h.events);
    REQUIRE(again);
    CHECK(again->refused->code == "conflict");
    h.store->rollback();

    REQUIRE(h.store->begin());
    auto s = h.pipeline.split(*h.store, a, "dcm", "D1", "张科长", "not the same", h.now, h.events);
    REQUIRE(s);
    REQUIRE_FALSE(s->refused);
    REQUIRE(h.store->commit());
    const std::string c = s->case_id;
    CHECK(h.case_of("dcm", "D1") == c);
    CHECK(h.doc(a)["sources"].size() == 1);
    // Splitting the only record is refused.
    REQUIRE(h.store->begin());
    auto only = h.pipeline.split(*h.store, c, "dcm", "D1", "x", "", h.now, h.events);
    REQUIRE(only);
    CHECK(only->refused->code == "conflict");
    h.store->rollback();
    // A new version of the split record stays where the operator put it.
    json d1 = report("dcm", "D1", kLon + dlon(3000), kLat, "2026-03-09T08:31:00+08:00");
    d1["source"]["version"] = "2026-03-09T09:31:00+08:00";
    d1["status"] = "dispatched";
    h.apply(d1);
    CHECK(h.case_of("dcm", "D1") == c);
    // A record that matches case a but was split from a member of it (the pair is kept) opens
    // its own case: the correlator never re-joins a split pair.
    REQUIRE(h.store->begin());
    REQUIRE(h.store->add_split_pair("gridapp:WG7", "gridapp:WG1"));
    REQUIRE(h.store->commit());
    h.apply(report("gridapp", "WG7", kLon, kLat, "2026-03-09T08:35:00+08:00"));
    CHECK(h.case_of("gridapp", "WG7") != a);
    CHECK(h.last_detail()["correlation"]["vetoed_split"] == 1);
    // ...while an identical record without that history joins.
    h.apply(report("gridapp", "WG8", kLon, kLat, "2026-03-09T08:36:00+08:00"));
    CHECK(h.case_of("gridapp", "WG8") == a);
}

// compose_case() writes the document as text, not through nlohmann: its keys must come in
// nlohmann's order and none may be missing, through every kind of change a case goes through.
TEST_CASE("case documents are written exactly as nlohmann dumps them, every key present, whatever the case went through",
          "[unit]") {
    Hub h(settings(), true);
    json a = report("gridapp", "WG1", kLon, kLat, "2026-03-09T08:30:00+08:00");
    a["tags"] = {"夜间", "重复"};
    a["responsible"] = {{{"dept_code", "QHJD02"}, {"name", "夫子庙街道办事处"}, {"role", "assist"}}};
    a["links"] = {{{"system", "hotline12345"}, {"record_id", "H9"}, {"relation", "related"}}};
    h.apply(a);
    json b = report("hotline12345", "H1", kLon + dlon(5), kLat, "2026-03-09T08:40:00+08:00");
    b["kind"] = "appeal";
    b["appeal_type"] = "complaint";
    b["satisfaction"] = "dissatisfied";
    b["tags"] = {"重复", "投诉"};
    b["title"] = "";
    b["responsible"] = {{{"dept_code", "QHJD02"}, {"name", "夫子庙街道办事处"}, {"role", "lead"}}};
    b["location"]["address"] = nullptr;
    h.apply(b);  // joins WG1's case
    json c = report("dcm", "D1", kLon + dlon(3000), kLat, "2026-03-09T08:31:00+08:00", "city_appearance.exposed_garbage",
                    "中华路\"老门东\"路口井盖缺失\t\\ 需处理", "秦淮区中华路1号");
    c["location"] = {{"original", nullptr}, {"address", nullptr}, {"grid_code", nullptr}};
    h.apply(c);  // no location at all: a case of its own
    json b2 = b;
    b2["source"]["version"] = "2026-03-09T10:00:00+08:00";
    b2["status"] = "closed";
    b2["times"]["closed_at"] = "2026-03-09T09:59:00+08:00";
    b2["times"]["updated_at"] = "2026-03-09T10:00:00+08:00";
    h.apply(b2);
    const std::string ca = h.case_of("gridapp", "WG1"), cc = h.case_of("dcm", "D1");
    {
        // The new version replaced the old one (which the update does not read back); the other
        // member stays.
        const json d = h.doc(ca);
        REQUIRE(d["sources"].size() == 2);
        std::map<std::string, json> by_id;
        for (const auto& s : d["sources"]) by_id[s["record_id"].get<std::string>()] = s;
        CHECK(by_id.at("H1")["version"] == "2026-03-09T10:00:00+08:00");
        CHECK(by_id.at("H1")["status"] == "closed");
        CHECK(by_id.at("WG1")["version"] == a["source"]["version"]);
    }
    REQUIRE(h.case_of("hotline12345", "H1") == ca);
    REQUIRE(ca != cc);
    REQUIRE(h.store->begin());
    auto m = h.pipeline.merge(*h.store, ca, cc, "张科长", "同一处", h.now, h.events);
    REQUIRE(m);
    REQUIRE_FALSE(m->refused);
    auto s = h.pipeline.split(*h.store, ca, "hotline12345", "H1", "张科长", "", h.now, h.events);
    REQUIRE(s);
    REQUIRE_FALSE(s->refused);
    REQUIRE(h.store->commit());

    const std::set<std::string> keys = {
        "appeal_type", "attachments", "case_id", "category", "channel", "closed_by", "confidentiality", "created_at",
        "description", "escalation_level", "kind", "links", "location", "merged_from", "merged_into", "parties",
        "priority", "reopen_count", "reporter", "responsible", "satisfaction", "schema", "seq", "sources", "status",
        "tags", "times", "title", "updated_at"};
    std::set<std::string> types;
    for (const auto& e : h.events) {
        INFO(e.type << " of " << e.case_id << ": " << e.doc);
        types.insert(e.type);
        const json doc = json::parse(e.doc);
        CHECK(doc.dump() == e.doc);
        std::set<std::string> got;
        for (const auto& [k, v] : doc.items()) got.insert(k);
        CHECK(got == keys);
        CHECK(doc["times"].size() == 7);
        CHECK(doc["seq"] == e.seq);
    }
    CHECK(types == std::set<std::string>{"created", "joined", "updated", "merged", "merged_into", "split"});
    // What the text composer took from where: the union of tags and units, the earliest
    // non-empty title, the appeal, the satisfaction, the links without the case's own records.
    const json joined = json::parse(h.events[1].doc);
    CHECK(joined["tags"] == json({"夜间", "重复", "投诉"}));
    CHECK(joined["responsible"].size() == 1);
    CHECK(joined["responsible"][0]["role"] == "lead");
    CHECK(joined["appeal_type"] == "complaint");
    CHECK(joined["satisfaction"] == "dissatisfied");
    CHECK(joined["links"].size() == 1);
    CHECK(joined["location"]["address"] == "秦淮区长乐路88号");
    const json updated = json::parse(h.events[3].doc);
    CHECK(updated["times"]["closed_at"].is_null());  // WG1 is still open: the case is not closed
    // Split out, H1 alone is a closed case: closed and resolved when its source says.
    const json alone = json::parse(h.events.back().doc);
    CHECK(alone["status"] == "closed");
    CHECK(alone["times"]["closed_at"] == "2026-03-09T09:59:00+08:00");
    CHECK(alone["times"]["resolved_at"] == "2026-03-09T10:00:00+08:00");
    CHECK(alone["title"] == "暴露垃圾");  // no title and no address: the category's name
    const json lone = json::parse(h.events[2].doc);
    CHECK(lone["escalation_level"] == "district");
    CHECK(lone["description"] == "中华路\"老门东\"路口井盖缺失\t\\ 需处理");
}

TEST_CASE("places: road and number, landmark, prefixes and remarks dropped", "[unit]") {
    using cor::Place;
    auto p = cor::parse_place("秦淮区夫子庙街道长白街112号");
    CHECK(p.kind == Place::Kind::road);
    CHECK(p.name == "长白街");
    CHECK(p.number == "112");
    p = cor::parse_place("南京市秦淮区王府园附近");
    CHECK(p.kind == Place::Kind::landmark);
    CHECK(p.name == "王府园");
    CHECK(cor::parse_place("朝天宫古玩市场往南50米").name == "朝天宫古玩市场");
    CHECK(cor::parse_place("三条巷幼儿园北门,东侧人行道").name == "三条巷幼儿园");
    p = cor::parse_place("白下路16号,路口东南角\n（东侧人行道）");
    CHECK(p.kind == Place::Kind::road);
    CHECK(p.number == "16");
    CHECK(cor::parse_place("").kind == Place::Kind::none);
    const cor::Settings s = settings();
    std::string name;
    CHECK(*cor::place_llr(cor::parse_place("长白街112号"), cor::parse_place("秦淮区长白街112号"), s, &name) == Approx(s.place_same_number));
    CHECK(name == "same_number");
    CHECK(*cor::place_llr(cor::parse_place("长白街112号"), cor::parse_place("长白街150号"), s) == Approx(s.place_other_number));
    CHECK(*cor::place_llr(cor::parse_place("长白街112号"), cor::parse_place("大光路112号"), s) == Approx(s.place_other_road));
    CHECK(*cor::place_llr(cor::parse_place("王府园附近"), cor::parse_place("王府园对面"), s) == Approx(s.place_same_landmark));
    CHECK(*cor::place_llr(cor::parse_place("王府园附近"), cor::parse_place("长白街112号"), s) == Approx(s.place_mixed));
    CHECK_FALSE(cor::place_llr(cor::parse_place(""), cor::parse_place("长白街112号"), s));
}

TEST_CASE("a system's own second report stays apart unless it names the first, and unclassified records score low", "[unit]") {
    const bool cached = GENERATE(false, true);
    Hub h(settings(), cached);
    // Two 12345 orders at one landmark, 20 minutes apart, not naming each other: 12345 merges
    // calls about one incident itself, so these are two incidents.
    h.apply(report("hotline12345", "H1", kLon, kLat, "2026-03-09T08:30:00+08:00", "city_appearance.exposed_garbage",
                   "王府园附近有暴露垃圾", "王府园附近"));
    h.apply(report("hotline12345", "H2", kLon + dlon(30), kLat, "2026-03-09T08:50:00+08:00", "city_appearance.exposed_garbage",
                   "王府园附近垃圾没人清理", "王府园对面"));
    CHECK(h.case_of("hotline12345", "H2") != h.case_of("hotline12345", "H1"));
    CHECK(h.last_detail()["correlation"]["best"]["penalty"].get<std::string>().find("same system") == 0);
    // A grid worker's report at the landmark joins (another system).
    h.apply(report("gridapp", "WG1", kLon, kLat, "2026-03-09T08:40:00+08:00", "city_appearance.exposed_garbage",
                   "王府园门口暴露垃圾", "秦淮区五老村街道王府园门口"));
    CHECK(h.last().type == "joined");
    CHECK(h.last_detail()["correlation"]["evidence"]["place"] == "same_landmark");
    // An unclassified police record at the same spot: the category says nothing, the rest is not
    // enough on its own.
    h.apply(report("police", "P1", kLon, kLat, "2026-03-09T08:45:00+08:00", "other.unclassified", "报警人称有纠纷", "秦淮区五老村街道长白街9号"));
    CHECK(h.last().type == "created");
}

TEST_CASE("correlation cache: old records search the store, a rollback forgets, a restart reloads", "[unit]") {
    Hub h(settings(), true);
    h.open(true, 24 * 60);  // one day behind the latest profile
    h.apply(report("gridapp", "WG1", kLon, kLat, "2026-03-01T08:30:00+08:00"));
    h.apply(report("gridapp", "WG2", kLon + dlon(2000), kLat, "2026-03-01T08:31:00+08:00"));
    CHECK(h.store->corr_cache_size().first == 2);
    // Ten days later: the first two fall below the floor and leave memory...
    h.apply(report("gridapp", "WG3", kLon, kLat + dlat(3000), "2026-03-11T08:30:00+08:00"));
    CHECK(h.store->corr_cache_size().first == 1);
    // ...yet a record arriving late about the first still finds it, through the store.
    h.apply(report("dcm", "D1", kLon + dlon(20), kLat, "2026-03-01T08:40:00+08:00"));
    CHECK(h.last().type == "joined");
    CHECK(h.case_of("dcm", "D1") == h.case_of("gridapp", "WG1"));
    CHECK(h.store->corr_cache_size().first == 1);  // below the floor: not cached

    // A transaction that wrote a profile and was rolled back leaves nothing behind in memory.
    REQUIRE(h.store->begin());
    auto r = h.pipeline.apply(*h.store, "a", report("gridapp", "WG4", kLon, kLat, "2026-03-11T09:00:00+08:00").dump(),
                              "c", h.now, h.events, h.counters);
    REQUIRE(r);
    CHECK(h.store->corr_cache_size().first == 2);
    h.store->rollback();
    CHECK(h.store->corr_cache_size().first == 1);
    h.apply(report("dcm", "D2", kLon + dlon(10), kLat, "2026-03-11T09:05:00+08:00"));
    CHECK(h.last().type == "created");
    CHECK(h.last_detail()["correlation"]["decision"] == "new");

    // A merge moves profiles in memory too: a record near the absorbed case's profile joins the survivor.
    const std::string a = h.case_of("gridapp", "WG3"), b = h.case_of("dcm", "D2");
    REQUIRE(h.store->begin());
    auto m = h.pipeline.merge(*h.store, a, b, "x", "", h.now, h.events);
    REQUIRE(m);
    REQUIRE_FALSE(m->refused);
    REQUIRE(h.store->commit());
    h.apply(report("dcm", "D3", kLon + dlon(15), kLat, "2026-03-11T09:10:00+08:00"));
    CHECK(h.case_of("dcm", "D3") == a);

    // A restart loads the recent profiles from the store, and they still join.
    h.open(true, 24 * 60);
    CHECK(h.store->corr_cache_size().first == 3);  // WG3, D2, D3 (WG4 was rolled back)
    h.apply(report("gridapp", "WG5", kLon + dlon(5), kLat, "2026-03-11T09:20:00+08:00"));
    CHECK(h.case_of("gridapp", "WG5") == a);
}

namespace {
// Runs SQL on the store file through a connection of its own; the rows, one per line.
std::string sql(const fs::path& db, const std::string& q) {
    sqlite3* c = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &c) == SQLITE_OK);
    std::string out;
    char* err = nullptr;
    const int rc = sqlite3_exec(c, q.c_str(), [](void* o, int n, char** v, char**) {
            auto& s = *static_cast<std::string*>(o);
            for (int i = 0; i < n; ++i) s += (i ? "|" : "") + std::string(v[i] ? v[i] : "NULL");
            s += "\n";
            return 0;
        }, &out, &err);
    const std::string e = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(c);
    INFO(e);
    REQUIRE(rc == SQLITE_OK);
    return out;
}
}  // namespace

TEST_CASE("store: a schema 6 store's R*Tree boxes move into corr_records once, its spare index goes, and its records are still found", "[unit]") {
    Hub h;  // no memory cache: every search goes to the store
    h.apply(report("gridapp", "WG1", kLon, kLat, "2026-03-09T08:30:00+08:00"));
    h.apply(report("gridapp", "WG2", kLon + dlon(900), kLat, "2026-03-09T08:31:00+08:00"));
    const fs::path db = h.dir.path / "hub.db";
    const std::string boxes_sql = "SELECT system, record_id, x0, x1, y0, y1, t0, t1 FROM corr_records ORDER BY id";
    const std::string before = sql(db, boxes_sql);
    REQUIRE(before.find("NULL") == std::string::npos);
    h.store.reset();
    // Back to schema 6: the boxes in the R*Tree, not in corr_records.
    sql(db, "DROP INDEX corr_records_time;"
            " CREATE VIRTUAL TABLE corr_rtree USING rtree_i32(id, x0, x1, y0, y1, t0, t1);"
            " INSERT INTO corr_rtree SELECT id, x0, x1, y0, y1, t0, t1 FROM corr_records;"
            " ALTER TABLE corr_records DROP COLUMN x0; ALTER TABLE corr_records DROP COLUMN x1;"
            " ALTER TABLE corr_records DROP COLUMN y0; ALTER TABLE corr_records DROP COLUMN y1;"
            " ALTER TABLE corr_records DROP COLUMN t0; ALTER TABLE corr_records DROP COLUMN t1;"
            " CREATE INDEX corr_records_case ON corr_records(case_id);"
            " UPDATE meta SET value='6' WHERE key='schema_version';");
    REQUIRE(sql(db, "SELECT count(*) FROM pragma_table_info('corr_records') WHERE name='t0'") == "0\n");

    h.open(false);
    CHECK(sql(db, boxes_sql) == before);
    CHECK(sql(db, "SELECT count(*) FROM sqlite_master WHERE name LIKE 'corr_rtree%'") == "0\n");
    CHECK(sql(db, "SELECT value FROM meta WHERE key='schema_version'") == "9\n");
    // The store's search plans on the time index, not a scan of every profile.
    CHECK(sql(db, "EXPLAIN QUERY PLAN SELECT id FROM corr_records WHERE t0 BETWEEN 1 AND 2 AND t1 >= 1")
              .find("corr_records_time") != std::string::npos);
    // The index on case_id alone is gone: the covering one serves a case's members in order.
    CHECK(sql(db, "SELECT count(*) FROM sqlite_master WHERE name='corr_records_case'") == "0\n");
    const std::string members_plan = sql(db, "EXPLAIN QUERY PLAN SELECT system, place FROM corr_records WHERE case_id='C' ORDER BY id");
    CHECK(members_plan.find("COVERING INDEX corr_records_case_members") != std::string::npos);
    CHECK(members_plan.find("TEMP B-TREE") == std::string::npos);
    // A second report of WG1's incident is found through it and joins.
    h.apply(report("dcm", "D1", kLon + dlon(20), kLat, "2026-03-09T08:41:00+08:00", "city_appearance.exposed_garbage",
                   "长乐路88号附近暴露垃圾无人清理，希望尽快清理", "秦淮区夫子庙街道长乐路88号"));
    CHECK(h.case_of("dcm", "D1") == h.case_of("gridapp", "WG1"));
    CHECK(h.last().type == "joined");
}
