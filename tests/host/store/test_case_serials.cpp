// A case id is C<day>-<serial>, the serial counted per day and never reused once committed. The
// store counts a day's serials in memory and writes the count to case_serials at commit, not
// per case; a rollback forgets what it counted.
#include "store/store.hpp"

#include "../../support/sql_text.hpp"
#include "../../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace casehub::host;
using casehub::test::sql_text;
using casehub::test::TempDir;

namespace {

std::string serials(const std::filesystem::path& db) {
    return sql_text(db, "SELECT group_concat(day || '=' || n, ' ') FROM (SELECT * FROM case_serials ORDER BY day)");
}

std::string next(Store& st, const char* day) {
    auto id = st.next_case_id(day);
    REQUIRE(id);
    return *id;
}

}  // namespace

TEST_CASE("store: a day's case serials are written at commit, across days, a rollback and a reopening", "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "casehub.db";
    {
        auto s = Store::open(db, Store::Sync::normal);
        REQUIRE(s);
        Store& st = **s;
        REQUIRE(st.begin());
        CHECK(next(st, "20260309") == "C20260309-000001");
        CHECK(next(st, "20260309") == "C20260309-000002");
        CHECK(next(st, "20260310") == "C20260310-000001");  // days interleaved in one transaction
        CHECK(next(st, "20260309") == "C20260309-000003");
        REQUIRE(st.commit());
        CHECK(serials(db) == "20260309=3 20260310=1");

        REQUIRE(st.begin());
        CHECK(next(st, "20260310") == "C20260310-000002");
        st.rollback();
        CHECK(serials(db) == "20260309=3 20260310=1");
        REQUIRE(st.begin());
        CHECK(next(st, "20260310") == "C20260310-000002");  // never committed, so issued again
        REQUIRE(st.commit());
        CHECK(next(st, "20260311") == "C20260311-000001");  // outside a transaction: written at once
        CHECK(serials(db) == "20260309=3 20260310=2 20260311=1");
    }
    auto s = Store::open(db, Store::Sync::normal);
    REQUIRE(s);
    REQUIRE((*s)->begin());
    CHECK(next(**s, "20260309") == "C20260309-000004");
    CHECK(next(**s, "20260311") == "C20260311-000002");
    REQUIRE((*s)->commit());
    CHECK(serials(db) == "20260309=4 20260310=2 20260311=2");
}
