// No index of the store is led by the street (schema 8). Such an index has an append point per
// street, so a commit of ten records wrote a page of it for each street they fell in, and at
// small commits those pages were a quarter of the log. Each street's last seq (the next event's
// prev_street_seq) is kept in street_heads instead (a view of hub_state since schema 9), written at commit.
#include "store/store.hpp"

#include "../../support/sql_text.hpp"
#include "../../support/store_rows.hpp"
#include "../../support/temp_dir.hpp"
#include "../../support/wal_pages.hpp"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

using namespace casehub::host;
using casehub::test::event_in;
using casehub::test::sql_text;
using casehub::test::TempDir;
using casehub::test::pages_in_btree;
using casehub::test::pages_of_first_commit;

namespace {

std::string street(int i) { return "3201040" + std::string(i < 10 ? "0" : "") + std::to_string(i); }

std::string heads(const std::filesystem::path& db) {
    return sql_text(db, "SELECT group_concat(street_code || '=' || seq, ' ') FROM"
                        " (SELECT * FROM street_heads ORDER BY street_code)");
}

}  // namespace

TEST_CASE("store: each street's last event is kept at commit, not after a rollback, and read back on opening",
          "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "casehub.db";
    {
        auto s = Store::open(db, Store::Sync::normal);
        REQUIRE(s);
        Store& st = **s;
        REQUIRE(st.begin());
        int n = 0;
        for (const char* code : {"320104001", "320104001", "320104002", "", "320104001"}) {
            EventRow e = event_in(code, ++n);
            REQUIRE(st.append_event(e));
        }
        CHECK(heads(db).empty());  // not before the commit
        REQUIRE(st.commit());
        CHECK(heads(db) == "=4 320104001=5 320104002=3");

        REQUIRE(st.begin());
        EventRow lost = event_in("320104002", ++n);
        REQUIRE(st.append_event(lost));
        CHECK(lost.prev_street_seq == 3);
        st.rollback();
        CHECK(heads(db) == "=4 320104001=5 320104002=3");
        CHECK(st.street_heads().at("320104002") == 3);

        REQUIRE(st.begin());
        EventRow kept = event_in("320104002", ++n);
        REQUIRE(st.append_event(kept));
        CHECK(kept.seq == 6);
        CHECK(kept.prev_street_seq == 3);
        REQUIRE(st.commit());
        CHECK(heads(db) == "=4 320104001=5 320104002=6");
    }
    auto s = Store::open(db, Store::Sync::normal);
    REQUIRE(s);
    CHECK((*s)->street_heads() == std::map<std::string, std::uint64_t>{{"", 4}, {"320104001", 5}, {"320104002", 6}});
    EventRow outside = event_in("320104001", 7);  // no transaction: written at once
    REQUIRE((*s)->append_event(outside));
    CHECK(outside.prev_street_seq == 5);
    CHECK(heads(db) == "=4 320104001=7 320104002=6");
}

TEST_CASE("store: a schema 7 store loses its indexes led by the street once and keeps every street's last event",
          "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "casehub.db";
    {
        auto s = Store::open(db, Store::Sync::normal);
        REQUIRE(s);
        REQUIRE((*s)->begin());
        for (int n = 1; n <= 40; ++n) {
            EventRow e = event_in(n % 5 == 0 ? "" : street(n % 4 + 1), n);
            REQUIRE((*s)->append_event(e));
        }
        REQUIRE((*s)->commit());
    }
    const std::string want = "=40 320104001=36 320104002=37 320104003=38 320104004=39";
    REQUIRE(heads(db) == want);
    // As schema 7 left a store.
    sql_text(db, "DROP INDEX events_street_block");
    sql_text(db, "DROP INDEX case_rows_updated");
    sql_text(db, "DELETE FROM hub_state WHERE key LIKE 'street:%'");  // (schema 7 had no heads)
    sql_text(db, "CREATE INDEX events_street ON events(street_code, seq)");
    sql_text(db, "CREATE INDEX case_rows_street_status ON case_rows(street_code, status)");
    sql_text(db, "UPDATE meta SET value='7' WHERE key='schema_version'");

    const auto indexes = [&] {
        return sql_text(db, "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master WHERE type='index'"
                            " AND (name LIKE 'events%' OR name LIKE 'case_rows%') ORDER BY name)");
    };
    for (int open = 0; open < 2; ++open) {  // converted once; the second opening changes nothing
        auto s = Store::open(db, Store::Sync::normal);
        REQUIRE(s);
        CHECK(sql_text(db, "SELECT value FROM meta WHERE key='schema_version'") == "9");
        CHECK(indexes() == "case_rows_seq case_rows_status case_rows_updated events_case events_street_block");
        CHECK(heads(db) == want);
        CHECK((*s)->street_heads().at("320104004") == 39);
    }
    // A store with events but no heads (lost by hand) gets them back on opening.
    sql_text(db, "DELETE FROM hub_state WHERE key LIKE 'street:%'");
    auto s = Store::open(db, Store::Sync::normal);
    REQUIRE(s);
    CHECK(heads(db) == want);
    EventRow next = event_in("320104003", 41);
    REQUIRE((*s)->append_event(next));
    CHECK(next.prev_street_seq == 38);
}

TEST_CASE("store: a commit of events in ten streets writes one or two pages of the street index",
          "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "casehub.db";
    auto s = Store::open(db, Store::Sync::normal);
    REQUIRE(s);
    Store& st = **s;
    int n = 0;
    for (int commit = 0; commit < 30; ++commit) {  // 3,000 events: the index spans pages
        REQUIRE(st.begin());
        for (int i = 0; i < 100; ++i, ++n) {
            EventRow e = event_in(street(n % 12 + 1), n);
            REQUIRE(st.append_event(e));
        }
        REQUIRE(st.commit());
    }
    REQUIRE(std::stoi(sql_text(db, "SELECT count(*) FROM dbstat WHERE name='events_street_block'")) > 2);
    st.checkpoint();  // every frame copied: the next commit restarts the log
    REQUIRE(st.begin());
    for (int i = 1; i <= 10; ++i) {
        EventRow e = event_in(street(i), ++n);
        REQUIRE(st.append_event(e));
    }
    REQUIRE(st.commit());

    const auto written = pages_of_first_commit(dir.path / "casehub.db-wal");
    const auto pages_of = [&](const std::string& btree) { return pages_in_btree(db, written, btree); };
    INFO(written.size() << " pages in the commit");
    CHECK(pages_of("events") >= 1);  // the log was read right
    const int street_index = pages_of("events_street_block");
    CHECK(street_index >= 1);
    CHECK(street_index <= 2);
    CHECK(pages_of("hub_state") == 1);  // the heads, on the one page of what every commit writes
}
