// Every detail the store keeps is nlohmann's dump() of an object, from the seq its meta key
// detail_canonical_from names: the replay server copies those into headers unchecked.
#include "store/store.hpp"

#include "../../support/sql_text.hpp"
#include "../../support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <string>

using namespace casehub::host;
using casehub::test::sql_text;
using casehub::test::TempDir;

namespace {

EventRow event(std::string detail, bool canonical) {
    EventRow e;
    e.case_id = "C20260309-000001";
    e.type = "whistle";
    e.street_code = "320104002";
    e.status = "dispatched";
    e.at = 1773017000000;
    e.detail = std::move(detail);
    e.detail_canonical = canonical;
    e.doc = R"({"case_id":"C20260309-000001"})";
    return e;
}

}  // namespace

TEST_CASE("store: a detail not said to be canonical is stored as nlohmann dumps it, a non-object is refused",
          "[runtime]") {
    TempDir dir;
    auto s = Store::open(dir.path / "casehub.db", Store::Sync::normal);
    REQUIRE(s);
    Store& st = **s;
    auto from = st.meta(kDetailCanonicalFrom);
    REQUIRE(from);
    CHECK(*from == std::optional<std::string>("1"));  // a new store: every event

    REQUIRE(st.begin());
    EventRow a = event(R"({ "b" : 1.50, "a" : ["中", 2] })", false);
    REQUIRE(st.append_event(a));
    CHECK(a.detail == R"({"a":["中",2],"b":1.5})");
    CHECK(a.detail_canonical);
    // Said to be canonical (the pipeline's dump_json()): stored as it is.
    EventRow b = event(R"({"x":1})", true);
    REQUIRE(st.append_event(b));
    EventRow bad = event(R"([1,2])", false);
    auto r = st.append_event(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("whistle event of case C20260309-000001: its detail is not a JSON object") !=
          std::string::npos);
    EventRow broken = event(R"({"a":)", false);
    CHECK_FALSE(st.append_event(broken));
    REQUIRE(st.commit());
    CHECK(st.head_seq() == 2);
    CHECK(sql_text(dir.path / "casehub.db", "SELECT detail FROM events WHERE seq=1") == R"({"a":["中",2],"b":1.5})");
    CHECK(sql_text(dir.path / "casehub.db", "SELECT detail FROM events WHERE seq=2") == R"({"x":1})");
}

TEST_CASE("store: a store from before detail_canonical_from gets it at its next event", "[runtime]") {
    TempDir dir;
    const auto path = dir.path / "casehub.db";
    {
        auto s = Store::open(path, Store::Sync::normal);
        REQUIRE(s);
        REQUIRE((*s)->begin());
        for (int i = 0; i < 3; ++i) {
            EventRow e = event(R"({"n":1})", true);
            REQUIRE((*s)->append_event(e));
        }
        REQUIRE((*s)->commit());
    }
    (void)sql_text(path, "DELETE FROM meta WHERE key='detail_canonical_from'");  // as an older hub left it
    auto s = Store::open(path, Store::Sync::normal);
    REQUIRE(s);
    auto from = (*s)->meta(kDetailCanonicalFrom);
    REQUIRE(from);
    CHECK(*from == std::optional<std::string>("4"));
    // Opened again: the key stays where it was set.
    s->reset();
    s = Store::open(path, Store::Sync::normal);
    REQUIRE(s);
    CHECK(*(*s)->meta(kDetailCanonicalFrom) == std::optional<std::string>("4"));
}
