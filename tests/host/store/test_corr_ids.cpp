// A correlation profile's id is its record's row id in source_records (schema 9), so the profile
// is found by (system, record_id) through source_records' unique index. corr_records had an index
// of its own on those, with an append point per source system: at small commits an eighth of the
// pages each commit wrote.
#include "store/store.hpp"

#include "../../support/sql_text.hpp"
#include "../../support/store_rows.hpp"
#include "../../support/temp_dir.hpp"
#include "../../support/wal_pages.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

using namespace casehub::host;
using casehub::test::pages_in_btree;
using casehub::test::pages_of_first_commit;
using casehub::test::sql_text;
using casehub::test::TempDir;

namespace {

constexpr std::int32_t kT = 13800000;  // minutes since 2000: March 2026

CaseRow case_row(const std::string& id, std::int64_t ended_at = 0) {
    CaseRow c = casehub::test::case_row(id, ended_at ? "closed" : "new");
    c.ended_at = ended_at;
    return c;
}

CorrRecordRow profile(const std::string& system, const std::string& record_id, const std::string& case_id,
                      std::int32_t x, std::int32_t t) {
    CorrRecordRow r;
    r.system = system;
    r.record_id = record_id;
    r.case_id = case_id;
    r.located = true;
    r.lon = 118.79;
    r.lat = 32.02;
    r.precision_m = 10;
    r.reported_ms = 1773017000000;
    r.category = "municipal.manhole";
    r.family = "municipal";
    r.text = "t";
    r.address = "a";
    r.place = "p:" + record_id;
    r.box = {x, x + 20, 0, 20, t, t};
    return r;
}

// A new record with its profile, as the pipeline writes them: the case, the record, the profile.
std::int64_t add_record(Store& st, const std::string& system, const std::string& record_id, const std::string& case_id,
                        std::int32_t x, std::int32_t t = kT) {
    auto id = st.put_source(system, record_id,
                            SourceRow{case_id, "2026-03-09T08:00:00+08:00", "timestamp", "aa", "new", "01 上报"},
                            system, R"({"v":1})", 1773017000000);
    REQUIRE(id);
    REQUIRE(*id > 0);
    REQUIRE(st.put_corr_record(*id, profile(system, record_id, case_id, x, t)));
    return *id;
}

// {record_id, case_id, case_ended_ms} of the profiles the search finds around x.
std::vector<std::string> found(Store& st, std::int32_t x) {
    std::vector<std::string> out;
    auto n = st.corr_candidates(CorrBox{x, x + 1, 0, 1, kT, kT}, "", 10, [&](const CorrHit& h) -> casehub::Result<void> {
        out.push_back(std::string(h.record_id) + " " + std::string(h.case_id) + " " + std::to_string(h.case_ended_ms));
        return {};
    });
    REQUIRE(n);
    std::sort(out.begin(), out.end());
    return out;
}

// The record ids the search finds in a box around x = 0, filtered to `families` (",a,b,"), in
// the order given.
std::vector<std::string> found_of(Store& st, std::string_view families, int limit = 50) {
    std::vector<std::string> out;
    auto n = st.corr_candidates(CorrBox{0, 1, 0, 1, kT, kT}, families, limit, [&](const CorrHit& h) -> casehub::Result<void> {
        out.push_back(std::string(h.record_id));
        return {};
    });
    REQUIRE(n);
    CHECK(*n == static_cast<int>(out.size()));
    return out;
}

std::string corr_indexes(const std::filesystem::path& db) { return casehub::test::index_names(db, "corr_records"); }

}  // namespace

TEST_CASE("store: a correlation profile is its record's row: written, found, moved and cached by that id",
          "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "casehub.db";
    auto s = Store::open(db, Store::Sync::normal);
    REQUIRE(s);
    Store& st = **s;
    REQUIRE(st.enable_corr_cache(9 * 1440));
    CHECK(corr_indexes(db) == "corr_records_case_members corr_records_time");  // none on (system, record_id)

    REQUIRE(st.begin());
    const std::string a = *st.next_case_id("20260309");
    REQUIRE(st.put_case(case_row(a), 1));
    const std::int64_t d1 = add_record(st, "dcm", "D1", a, 100);
    const std::int64_t g1 = add_record(st, "gridapp", "G1", a, 100);
    // A case opened already closed: its first profile is cached with the case's state as written.
    const std::string closed = *st.next_case_id("20260309");
    REQUIRE(st.put_case(case_row(closed, 1773018000000), 2));
    add_record(st, "hotline", "H1", closed, 500);
    REQUIRE(st.commit());

    CHECK(sql_text(db, "SELECT group_concat(c.id = s.rowid, '') FROM corr_records c JOIN source_records s"
                       " USING (system, record_id)") == "111");
    CHECK(g1 > d1);
    // An update of a record keeps its row (and so its profile's id).
    REQUIRE(st.begin());
    auto again = st.put_source("dcm", "D1", SourceRow{a, "2026-03-09T09:00:00+08:00", "timestamp", "bb", "new", "02"},
                               "dcm", R"({"v":2})", 1773018000000);
    REQUIRE(again);
    CHECK(*again == 0);
    REQUIRE(st.commit());
    CHECK(sql_text(db, "SELECT rowid FROM source_records WHERE record_id='D1'") == std::to_string(d1));

    auto members = st.corr_members(a);
    REQUIRE(members);
    CHECK(*members == std::vector<std::pair<std::string, std::string>>{{"dcm", "p:D1"}, {"gridapp", "p:G1"}});
    CHECK(found(st, 105) == std::vector<std::string>{"D1 " + a + " 0", "G1 " + a + " 0"});
    CHECK(found(st, 505) == std::vector<std::string>{"H1 " + closed + " 1773018000000"});

    // Moved to another case: the record's row, its profile and the cached profile.
    REQUIRE(st.begin());
    const std::string b = *st.next_case_id("20260309");
    REQUIRE(st.put_case(case_row(b), 3));
    REQUIRE(st.move_record("dcm", "D1", b));
    REQUIRE(st.move_record("dcm", "no-such-record", b));  // nothing to move: no error
    REQUIRE(st.commit());
    CHECK(sql_text(db, "SELECT case_id FROM corr_records WHERE id=" + std::to_string(d1)) == b);
    CHECK(sql_text(db, "SELECT case_id FROM source_records WHERE record_id='D1'") == b);
    CHECK(st.corr_members(b)->size() == 1);
    CHECK(found(st, 105) == std::vector<std::string>{"D1 " + b + " 0", "G1 " + a + " 0"});
}

TEST_CASE("store: a commit of profiles from ten systems writes one or two pages of each correlation B-tree",
          "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "casehub.db";
    auto s = Store::open(db, Store::Sync::normal);
    REQUIRE(s);
    Store& st = **s;
    const auto system = [](int i) { return "system" + std::to_string(i % 10); };
    const auto record = [](int i) { return "R" + std::to_string(1000000 + i); };
    int n = 0;
    for (int commit = 0; commit < 20; ++commit) {  // 20,000 profiles: each system's entries span pages
        REQUIRE(st.begin());
        for (int i = 0; i < 1000; ++i, ++n) add_record(st, system(n), record(n), "C20260309-" + std::to_string(100000 + n), n, kT + n / 100);
        REQUIRE(st.commit());
    }
    st.checkpoint();  // every frame copied: the next commit restarts the log
    REQUIRE(st.begin());
    for (int i = 0; i < 10; ++i, ++n) add_record(st, system(n), record(n), "C20260309-" + std::to_string(100000 + n), n, kT + n / 100);
    REQUIRE(st.commit());

    const auto written = pages_of_first_commit(dir.path / "casehub.db-wal");
    INFO(written.size() << " pages in the commit");
    CHECK(pages_in_btree(db, written, "source_records") >= 1);  // the log was read right
    // Every B-tree of corr_records: the table and its indexes. A unique index on (system,
    // record_id), as up to schema 8, writes one page per system here: ten.
    const std::string btrees = "corr_records " + corr_indexes(db);
    int all = 0;
    for (std::size_t at = 0; at < btrees.size();) {
        const auto end = std::min(btrees.find(' ', at), btrees.size());
        const std::string name = btrees.substr(at, end - at);
        const int pages = pages_in_btree(db, written, name);
        INFO(name);
        CHECK(pages <= 2);
        all += pages;
        at = end + 1;
    }
    CHECK(all <= 5);
}

TEST_CASE("store: a schema 8 store's profiles are keyed by their records' rows once, an orphan dropped",
          "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "casehub.db";
    std::vector<std::int64_t> rows;
    std::string a;
    {
        auto s = Store::open(db, Store::Sync::normal);
        REQUIRE(s);
        Store& st = **s;
        REQUIRE(st.begin());
        a = *st.next_case_id("20260309");
        REQUIRE(st.put_case(case_row(a), 1));
        for (const char* id : {"D1", "D2", "D3"}) rows.push_back(add_record(st, "dcm", id, a, 100));
        REQUIRE(st.commit());
    }
    const std::string profiles_sql =
        "SELECT group_concat(id || ':' || record_id || ':' || case_id || ':' || t0, ' ') FROM"
        " (SELECT * FROM corr_records ORDER BY id)";
    const std::string want = sql_text(db, profiles_sql);
    // As schema 8 left a store: ids of their own (here not the records' rows), a unique index on
    // (system, record_id), and a profile whose record is gone.
    sql_text(db, "ALTER TABLE corr_records RENAME TO corr_records_new");
    sql_text(db, "DROP INDEX corr_records_time");
    sql_text(db, "DROP INDEX corr_records_case_members");
    sql_text(db, "CREATE TABLE corr_records ("
                 " id INTEGER PRIMARY KEY, system TEXT NOT NULL, record_id TEXT NOT NULL, case_id TEXT NOT NULL,"
                 " located INTEGER NOT NULL, lon REAL NOT NULL, lat REAL NOT NULL, precision_m INTEGER NOT NULL,"
                 " reported_at INTEGER NOT NULL, category TEXT NOT NULL, family TEXT NOT NULL,"
                 " text BLOB NOT NULL, address BLOB NOT NULL, place TEXT NOT NULL DEFAULT '',"
                 " x0 INTEGER, x1 INTEGER, y0 INTEGER, y1 INTEGER, t0 INTEGER, t1 INTEGER, UNIQUE (system, record_id))");
    sql_text(db, "INSERT INTO corr_records SELECT * FROM corr_records_new");
    sql_text(db, "UPDATE corr_records SET id = id + 100");
    sql_text(db, "INSERT INTO corr_records SELECT 50, 'dcm', 'gone', case_id, located, lon, lat, precision_m,"
                 " reported_at, category, family, text, address, place, x0, x1, y0, y1, t0, t1 FROM corr_records LIMIT 1");
    sql_text(db, "DROP TABLE corr_records_new");
    sql_text(db, "CREATE INDEX corr_records_time ON corr_records(t0) WHERE t0 IS NOT NULL");
    sql_text(db, "CREATE INDEX corr_records_case_members ON corr_records(case_id, id, system, place)");
    sql_text(db, "UPDATE meta SET value='8' WHERE key='schema_version'");
    REQUIRE(corr_indexes(db) == "corr_records_case_members corr_records_time sqlite_autoindex_corr_records_1");
    REQUIRE(sql_text(db, profiles_sql) != want);

    for (int open = 0; open < 2; ++open) {  // converted once; the second opening changes nothing
        auto s = Store::open(db, Store::Sync::normal);
        REQUIRE(s);
        Store& st = **s;
        CHECK(sql_text(db, "SELECT value FROM meta WHERE key='schema_version'") == "9");
        CHECK(corr_indexes(db) == "corr_records_case_members corr_records_time");
        CHECK(sql_text(db, profiles_sql) == want);
        CHECK(sql_text(db, "SELECT count(*) FROM sqlite_master WHERE name='corr_records_v8'") == "0");
        REQUIRE(st.enable_corr_cache(9 * 1440));
        CHECK(found(st, 105).size() == 3);
    }
    // And written to as a new store is.
    auto s = Store::open(db, Store::Sync::normal);
    REQUIRE(s);
    REQUIRE((*s)->begin());
    const std::int64_t d4 = add_record(**s, "dcm", "D4", a, 100);
    REQUIRE((*s)->move_record("dcm", "D2", "C20260309-000009"));
    REQUIRE((*s)->commit());
    CHECK(d4 > rows.back());
    CHECK(sql_text(db, "SELECT case_id FROM corr_records WHERE record_id='D2'") == "C20260309-000009");
}

TEST_CASE("store: the memory index filters families as the store's query does", "[runtime]") {
    // The same profiles in two stores, one answering from memory and one from SQLite: families
    // (the filter's names, an empty one, one never indexed), unclassified records (any family
    // may join them) and a merged case (never a candidate).
    TempDir dir;
    auto cached = Store::open(dir.path / "cached.db", Store::Sync::normal);
    auto plain = Store::open(dir.path / "plain.db", Store::Sync::normal);
    REQUIRE(cached);
    REQUIRE(plain);
    REQUIRE((*cached)->enable_corr_cache(9 * 1440));
    struct P {
        const char* id;
        const char* category;
        const char* family;
        bool merged;
    };
    const std::vector<P> ps = {{"M1", "municipal.manhole", "municipal", false}, {"N1", "noise.night", "noise", false},
                               {"U1", "other.unclassified", "other", false},    {"E1", "empty.family", "", false},
                               {"A1", "a.b", "a", false},                        {"M2", "municipal.lamp", "municipal", true},
                               {"N2", "noise.day", "noise", false},              {"U2", "other.unclassified", "", false}};
    for (Store* st : {cached->get(), plain->get()}) {
        REQUIRE(st->begin());
        for (std::size_t i = 0; i < ps.size(); ++i) {
            const std::string c = "C" + std::to_string(i);
            CaseRow row = case_row(c);
            if (ps[i].merged) row.merged_into = "C0";
            REQUIRE(st->put_case(row, i + 1));
            auto id = st->put_source("dcm", ps[i].id, SourceRow{c, "1", "revision", "aa", "new", "01"}, "dcm", "{}", 1);
            REQUIRE(id);
            CorrRecordRow r = profile("dcm", ps[i].id, c, 0, kT);
            r.category = ps[i].category;
            r.family = ps[i].family;
            REQUIRE(st->put_corr_record(*id, r));
        }
        REQUIRE(st->commit());
    }
    for (const char* families : {"", ",municipal,", ",noise,", ",noise,municipal,", ",a,", ",,", ",never,", ",mun,",
                                 ",municipal,,noise,"}) {
        INFO(families);
        const auto mem = found_of(**cached, families), sql = found_of(**plain, families);
        CHECK(mem == sql);
        CHECK(std::find(mem.begin(), mem.end(), "M2") == mem.end());  // merged
        if (*families) {
            CHECK(std::find(mem.begin(), mem.end(), "U1") != mem.end());  // unclassified: any family
            CHECK(std::find(mem.begin(), mem.end(), "U2") != mem.end());
        }
    }
    CHECK(found_of(**cached, ",noise,") == std::vector<std::string>{"N1", "U1", "N2", "U2"});
    CHECK(found_of(**cached, ",,") == std::vector<std::string>{"U1", "E1", "U2"});
    CHECK(found_of(**cached, "").size() == 7);
    CHECK(found_of(**cached, "", 3) == found_of(**plain, "", 3));  // the limit counts what passed the filter
}
