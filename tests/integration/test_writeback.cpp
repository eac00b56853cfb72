// Write-back end to end: a command-centre action on a case becomes an event and a write-back
// delivered to the adapter that owns the case's record, through the real runner, with retries
// for transient failures, a final state for refusals, and a durable queue across hub restarts.
#include "harness.hpp"

#include <fstream>

using namespace casehub::test;

namespace {

std::string seq_adapter(const std::string& options) {
    return "[[adapters]]\nid = \"seq\"\nplugin = \"seq_source\"\n[adapters.config]\n" + options + "\n";
}

std::vector<nlohmann::json> lines(const fs::path& p) {
    std::vector<nlohmann::json> out;
    std::ifstream in(p);
    std::string l;
    while (std::getline(in, l))
        if (!l.empty()) out.push_back(nlohmann::json::parse(l));
    return out;
}

std::string case_of(const fs::path& db, const std::string& record_id) {
    auto r = query(db, "SELECT case_id FROM source_records WHERE system='seq' AND record_id='" + record_id + "'");
    return r.empty() ? "" : r[0];
}

}  // namespace

TEST_CASE("an action is written back to the record's adapter, retried while the source is busy", "[integration]") {
    TempDir dir;
    const auto log = dir.path / "writebacks.jsonl";
    Hub hub(dir.path, hub_toml_uncorrelated(seq_adapter("count = 3\nwriteback_log = \"" + log.string() +
                                               "\"\nwriteback_unavailable = 2\nwriteback_refuse = \"return\"")));
    hub.start();
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM source_records") == 3; }, 20s));
    const std::string c1 = case_of(hub.db(), "1");
    REQUIRE(!c1.empty());

    auto r = casehub_cli(dir.path, {"cases", "action", c1, "resolve", "--note", "已清理完毕，现场恢复整洁，居民满意",
                                    "--unit-code", "D34", "--unit-name", "夫子庙街道办事处", "--handler", "周建国"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("write-back 1 queued for seq 1"));

    // Two transient failures (1 s, then 2 s backoff), then applied: the plugin saw it once.
    REQUIRE(wait_until([&] { return lines(log).size() == 1; }, 15s));
    const auto a = lines(log)[0];
    CHECK(a["v"] == 1);
    CHECK(a["case_id"] == c1);
    CHECK(a["action"] == "resolve");
    CHECK(a["status"] == "resolved");
    CHECK(a["key"] == c1 + ":1");
    CHECK(a["writeback_id"] == 1);
    CHECK(a["handler"] == "周建国");
    CHECK(a["unit"]["name"] == "夫子庙街道办事处");
    CHECK(a["record"]["source"]["record_id"] == "1");
    REQUIRE(wait_until([&] { return query(hub.db(), "SELECT state FROM writebacks WHERE id=1") ==
                                    std::vector<std::string>{"done"}; }, 5s));
    CHECK(query_int(hub.db(), "SELECT attempts FROM writebacks WHERE id=1") == 3);

    // The action is on the case's history and moved it forward (rule 7).
    CHECK(query(hub.db(), "SELECT status FROM cases WHERE case_id='" + c1 + "'") == std::vector<std::string>{"resolved"});
    auto detail = query(hub.db(), "SELECT detail FROM events WHERE case_id='" + c1 + "' AND type='action'");
    REQUIRE(detail.size() == 1);
    CHECK(nlohmann::json::parse(detail[0])["status"]["to"] == "resolved");

    // A refusal is final and visible on the case.
    const std::string c2 = case_of(hub.db(), "2");
    r = casehub_cli(dir.path, {"cases", "action", c2, "return", "--note", "不属于本单位职责"});
    REQUIRE(r.exit_code == 0);
    REQUIRE(wait_until([&] { return query(hub.db(), "SELECT state FROM writebacks WHERE id=2") ==
                                    std::vector<std::string>{"failed"}; }, 10s));
    CHECK_THAT(query(hub.db(), "SELECT last_error FROM writebacks WHERE id=2")[0], Catch::Contains("refuses return"));
    CHECK(query(hub.db(), "SELECT status FROM cases WHERE case_id='" + c2 + "'") != std::vector<std::string>{"rejected"});
    r = casehub_cli(dir.path, {"cases", "show", c2});
    INFO(r.output);
    CHECK_THAT(r.output, Catch::Contains("write-backs (1)"));
    CHECK_THAT(r.output, Catch::Contains("failed"));
    r = casehub_cli(dir.path, {"cases", "show", c2, "--json"});
    REQUIRE(r.exit_code == 0);
    CHECK(nlohmann::json::parse(r.output)["writebacks"][0]["state"] == "failed");
    CHECK(lines(log).size() == 1);  // nothing else reached the source

    auto st = hub.adapter("seq");
    CHECK(st["writebacks_done"] == 1);
    CHECK(st["writebacks_failed"] == 1);
    CHECK(st["writebacks_retried"] == 2);
}

TEST_CASE("a queued write-back survives a hub crash and is delivered once after restart", "[integration]") {
    TempDir dir;
    const auto log = dir.path / "writebacks.jsonl";
    Hub hub(dir.path, hub_toml_uncorrelated(seq_adapter("count = 2\nwriteback_log = \"" + log.string() +
                                               "\"\nwriteback_unavailable = 1")));
    hub.start();
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM source_records") == 2; }, 20s));
    const std::string c = case_of(hub.db(), "2");
    auto r = casehub_cli(dir.path, {"cases", "action", c, "accept", "--handler", "王芳"});
    REQUIRE(r.exit_code == 0);
    // The first attempt fails (transient): the retry is a second away. Crash the hub now.
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT attempts FROM writebacks WHERE id=1") == 1; }, 5s));
    hub.kill9();
    CHECK(lines(log).empty());
    // A new runner (transient failures counted afresh: the first call fails again) and hub.
    hub.start();
    REQUIRE(wait_until([&] { return lines(log).size() == 1; }, 20s));
    CHECK(lines(log)[0]["key"] == c + ":1");
    REQUIRE(wait_until([&] { return query(hub.db(), "SELECT state FROM writebacks WHERE id=1") ==
                                    std::vector<std::string>{"done"}; }, 5s));
    std::this_thread::sleep_for(500ms);
    CHECK(lines(log).size() == 1);
}

TEST_CASE("an action on an unknown case or with an unknown verb is refused with the reason", "[integration]") {
    TempDir dir;
    Hub hub(dir.path, hub_toml_uncorrelated(seq_adapter("count = 1")));
    hub.start();
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM source_records") == 1; }, 20s));
    auto r = casehub_cli(dir.path, {"cases", "action", "C20990101-000001", "accept"});
    CHECK(r.exit_code == 1);
    CHECK_THAT(r.output, Catch::Contains("no case C20990101-000001"));
    r = casehub_cli(dir.path, {"cases", "action", "C20990101-000001", "explode"});
    CHECK(r.exit_code != 0);
    CHECK_THAT(r.output, Catch::Contains("explode"));
    CHECK(query_int(hub.db(), "SELECT count(*) FROM writebacks") == 0);
}
