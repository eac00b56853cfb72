// Operator overrides end to end: `casehub cases merge`, `split` and `why` against a running
// casehubd (real runner, real store), with the audit trail on the cases' events and the refusals
// a user sees.
#include "harness.hpp"

using namespace casehub::test;

namespace {

std::string seq_adapter(const std::string& options) {
    return "[[adapters]]\nid = \"seq\"\nplugin = \"seq_source\"\n[adapters.config]\n" + options + "\n";
}

std::string case_of(const fs::path& db, const std::string& record_id) {
    auto r = query(db, "SELECT case_id FROM source_records WHERE system='seq' AND record_id='" + record_id + "'");
    return r.empty() ? "" : r[0];
}

}  // namespace

TEST_CASE("cases merge, split and why: audited overrides through casehubd", "[integration]") {
    TempDir dir;
    Hub hub(dir.path, hub_toml_uncorrelated(seq_adapter("count = 3")));
    hub.start();
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM source_records") == 3; }, 20s));
    const std::string c1 = case_of(hub.db(), "1"), c2 = case_of(hub.db(), "2");
    REQUIRE(c1 != c2);

    auto r = casehub_cli(dir.path, {"cases", "merge", c1, c2, "--by", "张科长", "--note", "同一处井盖"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("case " + c2 + " merged into " + c1));
    CHECK(case_of(hub.db(), "2") == c1);
    CHECK(query(hub.db(), "SELECT merged_into FROM cases WHERE case_id='" + c2 + "'") == std::vector<std::string>{c1});
    CHECK(query_int(hub.db(), "SELECT count(*) FROM events WHERE type='merged' AND case_id='" + c1 + "'") == 1);

    r = casehub_cli(dir.path, {"cases", "why", c1});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("merged " + c2 + " into " + c1 + " by 张科长: 同一处井盖"));
    CHECK_THAT(r.output, Catch::Contains("[" + c2 + "] seq:2: opened a new case"));  // the absorbed case's own decision

    // Merging again, or an unknown case, is refused with the reason.
    r = casehub_cli(dir.path, {"cases", "merge", c1, c2});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("was merged into " + c1));
    r = casehub_cli(dir.path, {"cases", "merge", c1, "C20990101-000001"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::Contains("no case C20990101-000001"));

    r = casehub_cli(dir.path, {"cases", "split", c1, "seq:2", "--by", "张科长", "--note", "不是同一处"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    const std::string c4 = case_of(hub.db(), "2");
    CHECK(c4 != c1);
    CHECK(c4 != c2);  // a new case, never a reused id
    CHECK_THAT(r.output, Catch::Contains("into new case " + c4));
    CHECK(query_int(hub.db(), "SELECT count(*) FROM split_pairs WHERE a='seq:2' AND b='seq:1'") == 1);
    r = casehub_cli(dir.path, {"cases", "why", c1, "--json"});
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("\"override\": \"split\""));

    r = casehub_cli(dir.path, {"cases", "split", c1, "seq:1"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("only record"));
    r = casehub_cli(dir.path, {"cases", "split", c1, "no-colon"});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.output, Catch::Contains("system:record_id"));
}
