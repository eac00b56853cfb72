// case_rows is a WITHOUT ROWID table keyed by case_id (schema 9): the table is its own index by
// case, where a rowid table had two more B-trees to write on every case written, its primary
// key's and case_rows_corr (the candidate search's covering index).
#include "store/store.hpp"

#include "../../support/sql_text.hpp"
#include "../../support/store_rows.hpp"
#include "../../support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <string>

using namespace casehub::host;
using casehub::test::sql_text;
using casehub::test::TempDir;

namespace {

std::string case_indexes(const std::filesystem::path& db) { return casehub::test::index_names(db, "case_rows"); }

// The details of a query's plan, one line each.
std::string plan(const std::filesystem::path& db, const std::string& query) {
    sqlite3* c = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(c, ("EXPLAIN QUERY PLAN " + query).c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    while (sqlite3_step(st) == SQLITE_ROW) out += std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 3))) + "\n";
    sqlite3_finalize(st);
    sqlite3_close(c);
    return out;
}

// Writes a case with its created event (case n is C20260309-<100000 + n>), as the pipeline does.
void add_case(Store& st, int n, const char* status, std::int64_t ended_at = 0) {
    EventRow e = casehub::test::event_in("320104002", n);
    e.status = status;
    e.doc = R"({"case_id":")" + e.case_id + R"(","n":)" + std::to_string(n) + "}";
    REQUIRE(st.append_event(e));
    CaseRow c = casehub::test::case_row(e.case_id, status, e.street_code);
    c.created_at = c.updated_at = e.at;
    c.ended_at = ended_at;
    if (n == 3) c.merged_into = "C20260309-100001";
    REQUIRE(st.put_case(c, e.seq));
}

}  // namespace

TEST_CASE("store: a schema 8 store's case rows move into a table keyed by case id once, the view over them kept",
          "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "casehub.db";
    {
        auto s = Store::open(db, Store::Sync::normal);
        REQUIRE(s);
        REQUIRE((*s)->begin());
        add_case(**s, 1, "new");
        add_case(**s, 2, "closed", 1773018000000);
        add_case(**s, 3, "new");
        REQUIRE((*s)->commit());
    }
    CHECK(case_indexes(db) == "case_rows_seq case_rows_status case_rows_updated");  // no autoindex, no case_rows_corr
    CHECK(sql_text(db, "SELECT sql FROM sqlite_master WHERE name='case_rows'").find("WITHOUT ROWID") != std::string::npos);
    const std::string cases_sql = "SELECT group_concat(case_id || ' ' || seq || ' ' || status || ' ' || ended_at || ' ' ||"
                                  " coalesce(merged_into, '-') || ' ' || CAST(doc AS TEXT), '|') FROM"
                                  " (SELECT * FROM cases ORDER BY case_id)";
    const std::string want = sql_text(db, cases_sql);
    REQUIRE(want.find(R"("n":3)") != std::string::npos);

    // As schema 8 left a store: a rowid table, its primary key's index and case_rows_corr.
    sql_text(db, "DROP VIEW cases");
    sql_text(db, "ALTER TABLE case_rows RENAME TO case_rows_new");
    for (const char* ix : {"case_rows_updated", "case_rows_status", "case_rows_seq"})
        sql_text(db, std::string("DROP INDEX ") + ix);
    sql_text(db, "CREATE TABLE case_rows (case_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL,"
                 " street_code TEXT NOT NULL, community_code TEXT NOT NULL, grid_code TEXT NOT NULL,"
                 " category_code TEXT NOT NULL, category_family TEXT NOT NULL, priority TEXT NOT NULL,"
                 " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, merged_into TEXT,"
                 " ended_at INTEGER NOT NULL DEFAULT 0)");
    sql_text(db, "INSERT INTO case_rows SELECT * FROM case_rows_new");
    sql_text(db, "DROP TABLE case_rows_new");
    sql_text(db, "CREATE INDEX case_rows_updated ON case_rows(updated_at, case_id)");
    sql_text(db, "CREATE INDEX case_rows_status ON case_rows(status)");
    sql_text(db, "CREATE INDEX case_rows_seq ON case_rows(seq)");
    sql_text(db, "CREATE INDEX case_rows_corr ON case_rows(case_id, merged_into, status, ended_at)");
    sql_text(db, "CREATE VIEW cases AS SELECT r.case_id, r.seq, r.status, r.street_code, r.community_code,"
                 " r.grid_code, r.category_code, r.category_family, r.priority, r.created_at, r.updated_at,"
                 " r.merged_into, e.doc AS doc, r.ended_at FROM case_rows r LEFT JOIN events e ON e.seq = r.seq");
    sql_text(db, "UPDATE meta SET value='8' WHERE key='schema_version'");
    REQUIRE(case_indexes(db) == "case_rows_corr case_rows_seq case_rows_status case_rows_updated sqlite_autoindex_case_rows_1");
    REQUIRE(sql_text(db, cases_sql) == want);

    for (int open = 0; open < 2; ++open) {  // converted once; the second opening changes nothing
        auto s = Store::open(db, Store::Sync::normal);
        REQUIRE(s);
        CHECK(sql_text(db, "SELECT value FROM meta WHERE key='schema_version'") == "9");
        CHECK(sql_text(db, "SELECT sql FROM sqlite_master WHERE name='case_rows'").find("WITHOUT ROWID") != std::string::npos);
        CHECK(case_indexes(db) == "case_rows_seq case_rows_status case_rows_updated");
        CHECK(sql_text(db, "SELECT count(*) FROM sqlite_master WHERE name='case_rows_v8'") == "0");
        CHECK(sql_text(db, cases_sql) == want);
        // What the candidate search reads of a case, by its key alone.
        CHECK(plan(db, "SELECT ended_at, merged_into FROM case_rows WHERE case_id='C20260309-100002'")
                  .find("PRIMARY KEY") != std::string::npos);
        auto found = (*s)->find_case("C20260309-100002");
        REQUIRE(found);
        REQUIRE(*found);
        CHECK((*found)->ended_at == 1773018000000);
    }
    CHECK(sql_text(db, "PRAGMA integrity_check") == "ok");
}
