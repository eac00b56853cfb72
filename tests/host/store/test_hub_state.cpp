// What nearly every commit writes besides its records (an adapter's cursor and counters, the
// streets' last seqs, the day's case serial) is one small table, hub_state (schema 9), so one
// page of the log per commit where four tables wrote four. Readers keep the four names, as views.
#include "store/store.hpp"

#include "../../support/sql_text.hpp"
#include "../../support/store_rows.hpp"
#include "../../support/temp_dir.hpp"
#include "../../support/wal_pages.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace casehub::host;
using casehub::test::pages_in_btree;
using casehub::test::pages_of_first_commit;
using casehub::test::event_in;
using casehub::test::sql_text;
using casehub::test::TempDir;

namespace {

// One commit as the intake writes it: records of two streets, a new case, the batch's cursor
// and counters.
void commit_batch(Store& st, int n, const std::string& cursor) {
    REQUIRE(st.begin());
    for (const char* street : {"320104001", "320104002"}) {
        EventRow e = event_in(street, n);
        REQUIRE(st.append_event(e));
    }
    REQUIRE(st.next_case_id("20260309"));
    REQUIRE(st.set_cursor("dcm", cursor));
    REQUIRE(st.add_counters("dcm", Counters{2, 2, 0, 0, 0, 0}));
    REQUIRE(st.commit());
}

// The four views, as one line each.
std::string state(const std::filesystem::path& db) {
    return sql_text(db, "SELECT group_concat(adapter || ' ' || cursor, ',') FROM adapter_cursors") + "|" +
           sql_text(db, "SELECT group_concat(adapter || ' ' || records_in || ' ' || applied || ' ' || dead_lettered, ',')"
                        " FROM adapter_counters") + "|" +
           sql_text(db, "SELECT group_concat(street_code || '=' || seq, ' ') FROM (SELECT * FROM street_heads ORDER BY 1)") +
           "|" + sql_text(db, "SELECT group_concat(day || '=' || n, ' ') FROM case_serials");
}

}  // namespace

TEST_CASE("store: a commit's cursor, counters, street heads and case serial are written on one page", "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "casehub.db";
    auto s = Store::open(db, Store::Sync::normal);
    REQUIRE(s);
    Store& st = **s;
    commit_batch(st, 1, "c1");
    st.checkpoint();  // every frame copied: the next commit restarts the log
    commit_batch(st, 2, "c2");

    const auto written = pages_of_first_commit(dir.path / "casehub.db-wal");
    INFO(written.size() << " pages in the commit");
    CHECK(pages_in_btree(db, written, "events") >= 1);  // the log was read right
    CHECK(pages_in_btree(db, written, "hub_state") == 1);
    CHECK(state(db) == "dcm c2|dcm 4 4 0|320104001=3 320104002=4|20260309=2");
    CHECK(sql_text(db, "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type='view'"
                       " AND name NOT IN ('cases') ORDER BY name)") ==
          "adapter_counters adapter_cursors case_serials street_heads");

    // An adapter with counters but no cursor yet has no cursor; one with a cursor only, no counters.
    REQUIRE(st.begin());
    REQUIRE(st.add_counters("hotline", Counters{1, 0, 0, 0, 0, 1}));
    REQUIRE(st.set_cursor("police", "p1"));
    REQUIRE(st.commit());
    CHECK((*st.cursor("hotline")).has_value() == false);
    CHECK(st.cursor("police")->value() == "p1");
    CHECK(st.cursor("dcm")->value() == "c2");
    auto counters = st.counters();
    REQUIRE(counters);
    CHECK(counters->size() == 2);
    CHECK(counters->at("hotline").dead_lettered == 1);
    CHECK(counters->at("dcm").applied == 4);
}

TEST_CASE("store: a schema 8 store's cursors, counters, heads and serials move into one table once", "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "casehub.db";
    {
        auto s = Store::open(db, Store::Sync::normal);
        REQUIRE(s);
        commit_batch(**s, 1, "c1");
        commit_batch(**s, 2, "c2");
        REQUIRE((*s)->begin());
        REQUIRE((*s)->add_counters("hotline", Counters{1, 0, 0, 0, 0, 1}));
        REQUIRE((*s)->commit());
    }
    const std::string want = state(db);
    REQUIRE(want == "dcm c2|dcm 4 4 0,hotline 1 0 1|320104001=3 320104002=4|20260309=2");
    // As schema 8 left a store: four tables.
    for (const char* v : {"adapter_cursors", "adapter_counters", "street_heads", "case_serials"})
        sql_text(db, std::string("DROP VIEW ") + v);
    sql_text(db, "CREATE TABLE adapter_cursors (adapter TEXT PRIMARY KEY, cursor TEXT NOT NULL, updated_at INTEGER NOT NULL)");
    sql_text(db, "CREATE TABLE adapter_counters (adapter TEXT PRIMARY KEY,"
                 " records_in INTEGER NOT NULL DEFAULT 0, applied INTEGER NOT NULL DEFAULT 0,"
                 " duplicates INTEGER NOT NULL DEFAULT 0, same_version_changed INTEGER NOT NULL DEFAULT 0,"
                 " stale INTEGER NOT NULL DEFAULT 0, dead_lettered INTEGER NOT NULL DEFAULT 0)");
    sql_text(db, "CREATE TABLE street_heads (street_code TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID");
    sql_text(db, "CREATE TABLE case_serials (day TEXT PRIMARY KEY, n INTEGER NOT NULL)");
    sql_text(db, "INSERT INTO adapter_cursors VALUES('dcm', 'c2', 1773017000000)");
    sql_text(db, "INSERT INTO adapter_counters VALUES('dcm', 4, 4, 0, 0, 0, 0), ('hotline', 1, 0, 0, 0, 0, 1)");
    sql_text(db, "INSERT INTO street_heads VALUES('320104001', 3), ('320104002', 4)");
    sql_text(db, "INSERT INTO case_serials VALUES('20260309', 2)");
    sql_text(db, "DROP TABLE hub_state");
    sql_text(db, "UPDATE meta SET value='8' WHERE key='schema_version'");
    REQUIRE(state(db) == want);

    for (int open = 0; open < 2; ++open) {  // converted once; the second opening changes nothing
        auto s = Store::open(db, Store::Sync::normal);
        REQUIRE(s);
        CHECK(sql_text(db, "SELECT value FROM meta WHERE key='schema_version'") == "9");
        CHECK(state(db) == want);
        CHECK(sql_text(db, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name LIKE '%_v8'") == "0");
        CHECK(sql_text(db, "SELECT count(*) FROM hub_state") == "5");
        CHECK((*s)->cursor("dcm")->value() == "c2");
        CHECK((*s)->street_heads().at("320104002") == 4);
    }
    auto s = Store::open(db, Store::Sync::normal);
    REQUIRE(s);
    auto next = (*s)->next_case_id("20260309");
    REQUIRE(next);
    CHECK(*next == "C20260309-000003");  // the day's serial went on
}
