// A case's row and a source record are updated in place when they change: the source record keeps its
// rowid, every column is new, the indexes agree. (INSERT OR REPLACE deleted and re-inserted the row, which
// rewrote every index entry of it; most updates change only seq, or the version and document.)
#include "store/store.hpp"

#include "../../support/sql_text.hpp"
#include "../../support/store_rows.hpp"
#include "../../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace casehub::host;
using casehub::test::sql_text;
using casehub::test::TempDir;

namespace {
CaseRow case_row(std::string status, std::string street) {
    return casehub::test::case_row("C20260309-000001", std::move(status), std::move(street));
}
}  // namespace

TEST_CASE("store: a case's row and a source record are updated in place, indexes included", "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "casehub.db";
    auto s = Store::open(db, Store::Sync::normal);
    REQUIRE(s);
    Store& st = **s;

    REQUIRE(st.begin());
    REQUIRE(st.put_case(case_row("new", "320104002"), 1));
    CaseRow other = case_row("new", "320104002");
    other.case_id = "C20260309-000002";
    REQUIRE(st.put_case(other, 2));
    REQUIRE(st.put_source("dcm", "26010001", SourceRow{"C20260309-000001", "2026-03-09T08:00:00+08:00", "timestamp",
                                                       "aa", "new", "01 上报"},
                          "dcm", R"({"v":1})", 1773017000000));
    REQUIRE(st.commit());
    const std::string source_rowid = sql_text(db, "SELECT rowid FROM source_records WHERE record_id='26010001'");

    REQUIRE(st.begin());
    CaseRow moved = case_row("closed", "320104005");
    moved.updated_at = 1773018000000;
    moved.ended_at = 1773018000000;
    moved.merged_into = "C20260309-000002";
    REQUIRE(st.put_case(moved, 7));
    REQUIRE(st.put_source("dcm", "26010001", SourceRow{"C20260309-000002", "2026-03-09T09:00:00+08:00", "timestamp",
                                                       "bb", "closed", "07 结案"},
                          "dcm-2", R"({"v":2})", 1773018000000));
    REQUIRE(st.commit());

    CHECK(sql_text(db, "SELECT count(*) FROM case_rows") == "2");  // (WITHOUT ROWID: keyed by case_id alone)
    CHECK(sql_text(db, "SELECT rowid FROM source_records WHERE record_id='26010001'") == source_rowid);
    CHECK(sql_text(db, "SELECT seq||' '||status||' '||street_code||' '||community_code||' '||grid_code||' '||updated_at"
                       "||' '||merged_into||' '||ended_at||' '||created_at FROM case_rows WHERE case_id='C20260309-000001'") ==
          "7 closed 320104005 320104005001 32010400500101 1773018000000 C20260309-000002 1773018000000 1773017000000");
    CHECK(sql_text(db, "SELECT case_id||' '||version||' '||raw_sha256||' '||status||' '||status_native||' '||adapter||' '"
                       "||received_at||' '||CAST(doc AS TEXT) FROM source_records WHERE record_id='26010001'") ==
          "C20260309-000002 2026-03-09T09:00:00+08:00 bb closed 07 结案 dcm-2 1773018000000 {\"v\":2}");
    // Each index answers with the new values only (INDEXED BY: read from the index itself).
    CHECK(sql_text(db, "SELECT group_concat(case_id) FROM case_rows INDEXED BY case_rows_updated"
                       " WHERE updated_at=1773017000000") == "C20260309-000002");
    CHECK(sql_text(db, "SELECT group_concat(case_id) FROM case_rows INDEXED BY case_rows_updated"
                       " WHERE updated_at=1773018000000") == "C20260309-000001");
    CHECK(sql_text(db, "SELECT group_concat(case_id) FROM case_rows INDEXED BY case_rows_status WHERE status='closed'") ==
          "C20260309-000001");
    CHECK(sql_text(db, "SELECT group_concat(case_id) FROM case_rows INDEXED BY case_rows_seq WHERE seq>=2") ==
          "C20260309-000002,C20260309-000001");
    CHECK(sql_text(db, "SELECT count(*) FROM source_records INDEXED BY source_records_case"
                       " WHERE case_id='C20260309-000002'") == "1");
    CHECK(sql_text(db, "SELECT count(*) FROM source_records") == "1");
    CHECK(sql_text(db, "PRAGMA integrity_check") == "ok");
    auto found = st.find_source("dcm", "26010001");
    REQUIRE(found);
    REQUIRE(*found);
    CHECK((*found)->version == "2026-03-09T09:00:00+08:00");
    CHECK((*found)->case_id == "C20260309-000002");
}
