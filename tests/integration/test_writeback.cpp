// Write-back end to end: a command-centre action on a case becomes an event and a write-back
// delivered to the adapter that owns the case's record, through the real runner, with retries
// for transient failures, a final state for refusals, and a durable queue across hub restarts.
#include "harness.hpp"

#include <fstream>
#include <set>
#include <sstream>

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

namespace {

// `casehub cases action ... --json`: the hub's answer, or its refusal {error, code, field}.
nlohmann::json act(const fs::path& dir, const std::string& case_id, std::vector<std::string> args, int* exit_code = nullptr) {
    args.insert(args.begin(), {"cases", "action", case_id});
    args.insert(args.begin() + 4, "--json");
    auto r = casehub_cli(dir, args);
    if (exit_code) *exit_code = r.exit_code;
    std::istringstream in(r.output);
    for (std::string l; std::getline(in, l);)
        if (!l.empty() && l[0] == '{') return nlohmann::json::parse(l);
    return {{"output", r.output}};
}

nlohmann::json case_doc(const fs::path& db, const std::string& case_id) {
    return nlohmann::json::parse(query(db, "SELECT doc FROM cases WHERE case_id='" + case_id + "'").at(0));
}

// A write to the store while the hub is down (to give a case a state seq records cannot).
void exec_sql(const fs::path& db, const std::string& sql) {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    char* msg = nullptr;
    const int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &msg);
    INFO((msg ? msg : ""));
    sqlite3_free(msg);
    sqlite3_close(h);
    REQUIRE(rc == SQLITE_OK);
}

}  // namespace

TEST_CASE("dispatch, verify, close and reopen move the case by rule 7 and are written back in order", "[integration]") {
    TempDir dir;
    const auto log = dir.path / "writebacks.jsonl";
    Hub hub(dir.path, hub_toml_uncorrelated(seq_adapter("count = 3\nwriteback_log = \"" + log.string() + "\"")));
    hub.start();
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM source_records") == 3; }, 20s));
    const std::string c = case_of(hub.db(), "1");
    const auto db = hub.db();

    // dispatch: needs a unit the case model knows; the name comes from the directory.
    int code = 0;
    auto j = act(dir.path, c, {"dispatch"}, &code);
    CHECK(code == 2);
    CHECK(j["code"] == "invalid_argument");
    CHECK(j["field"] == "unit");
    for (const char* bad : {"D55", "D00", "320104013", "320104001999", "320104JD002", "QHJD02"}) {
        j = act(dir.path, c, {"dispatch", "--unit-code", bad});
        INFO(bad);
        CHECK(j["code"] == "invalid_argument");
        CHECK(j["field"] == "unit");
        CHECK_THAT(j["error"].get<std::string>(), Catch::Contains(bad));
    }
    j = act(dir.path, c, {"dispatch", "--unit-code", "D01", "--handler", "王芳", "--note", "请区城管局处置"});
    INFO(j.dump());
    REQUIRE(j["status"] == "dispatched");
    REQUIRE(j["writebacks"].size() == 1);
    auto doc = case_doc(db, c);
    CHECK(doc["status"] == "dispatched");
    CHECK(doc["times"]["dispatched_at"].is_string());
    bool unit = false;
    for (const auto& u : doc["responsible"])
        unit = unit || (u["dept_code"] == "D01" && u["name"] == "区城管局" && u["system"] == "hub");
    CHECK(unit);
    // A street office and a community are units too (names from divisions.json).
    j = act(dir.path, case_of(db, "2"), {"dispatch", "--unit-code", "320104002"});
    CHECK(j["status"] == "dispatched");
    j = act(dir.path, case_of(db, "3"), {"dispatch", "--unit-code", "320104001001"});
    CHECK(j["status"] == "dispatched");

    // verify and reopen before the case is resolved: conflict, nothing queued.
    j = act(dir.path, c, {"verify"});
    CHECK(j["code"] == "conflict");
    CHECK_THAT(j["error"].get<std::string>(), Catch::Contains("resolve it first"));
    j = act(dir.path, c, {"reopen", "--note", "重新处理"});
    CHECK(j["code"] == "conflict");
    CHECK_THAT(j["error"].get<std::string>(), Catch::Contains("only a resolved, verified or closed case can be reopened"));

    REQUIRE(act(dir.path, c, {"resolve", "--note", "已清理完毕，现场恢复整洁，居民满意"})["status"] == "resolved");
    CHECK(case_doc(db, c)["times"]["resolved_at"].is_string());
    REQUIRE(act(dir.path, c, {"verify", "--note", "核查通过"})["status"] == "verified");
    j = act(dir.path, c, {"close", "--note", "街道结案"});
    REQUIRE(j["status"] == "closed");
    doc = case_doc(db, c);
    CHECK(doc["closed_by"] == "street");
    CHECK(doc["times"]["closed_at"].is_string());
    CHECK(query_int(db, "SELECT ended_at > 0 FROM cases WHERE case_id='" + c + "'") == 1);

    // A closed case takes no step forward and closes only once.
    j = act(dir.path, c, {"accept"});
    CHECK(j["code"] == "conflict");
    CHECK_THAT(j["error"].get<std::string>(), Catch::Contains("reopen it first"));
    j = act(dir.path, c, {"close"});
    CHECK(j["code"] == "conflict");
    CHECK_THAT(j["error"].get<std::string>(), Catch::Contains("already"));
    // reopen needs a note.
    j = act(dir.path, c, {"reopen"});
    CHECK(j["code"] == "invalid_argument");
    CHECK(j["field"] == "note");
    j = act(dir.path, c, {"reopen", "--note", "居民反映仍有垃圾，重新处置"});
    REQUIRE(j["status"] == "in_progress");
    doc = case_doc(db, c);
    CHECK(doc["reopen_count"] == 1);
    CHECK(doc["closed_by"].is_null());
    CHECK(doc["times"]["closed_at"].is_null());
    CHECK(query_int(db, "SELECT ended_at FROM cases WHERE case_id='" + c + "'") == 0);
    // Reopened, it can be resolved again.
    CHECK(act(dir.path, c, {"resolve", "--note", "二次处置完毕，现场已恢复整洁"})["status"] == "resolved");

    // Every action is an event on the case with its status move, in order.
    auto details = query(db, "SELECT detail FROM events WHERE case_id='" + c + "' AND type='action' ORDER BY seq");
    std::vector<std::string> seen;
    for (const auto& d : details) seen.push_back(nlohmann::json::parse(d)["action"]);
    CHECK(seen == std::vector<std::string>{"dispatch", "resolve", "verify", "close", "reopen", "resolve"});
    auto close_ev = nlohmann::json::parse(details[3]);
    CHECK(close_ev["status"] == nlohmann::json{{"from", "verified"}, {"to", "closed"}});
    CHECK(close_ev["closed_by"] == "street");
    auto reopen_ev = nlohmann::json::parse(details[4]);
    CHECK(reopen_ev["status"] == nlohmann::json{{"from", "closed"}, {"to", "in_progress"}});
    CHECK(reopen_ev["reopen_count"] == 1);

    // The source heard every one of them, in order, each once with its own key.
    REQUIRE(wait_until([&] {
        return query_int(db, "SELECT count(*) FROM writebacks WHERE case_id='" + c + "' AND state='done'") == 6;
    }, 15s));
    std::vector<std::string> heard;
    std::set<std::string> keys;
    for (const auto& a : lines(log))
        if (a["case_id"] == c) {
            heard.push_back(a["action"]);
            keys.insert(a["key"].get<std::string>());
            if (a["action"] == "dispatch") CHECK(a["unit"] == nlohmann::json{{"code", "D01"}, {"name", "区城管局"}});
            if (a["action"] == "reopen") {
                CHECK(a["status"] == "in_progress");
                CHECK(a["reopen_count"] == 1);
                CHECK(a["note"] == "居民反映仍有垃圾，重新处置");
            }
            if (a["action"] == "close") CHECK(a["status"] == "closed");
            if (a["action"] == "verify") CHECK(a["status"] == "verified");
        }
    CHECK(heard == seen);
    CHECK(keys.size() == heard.size());
}

TEST_CASE("a case withdrawn by its sources cannot be closed, reopened or moved forward, and a return still reaches them", "[integration]") {
    TempDir dir;
    const auto log = dir.path / "writebacks.jsonl";
    Hub hub(dir.path, hub_toml_uncorrelated(seq_adapter("count = 2\nwriteback_log = \"" + log.string() + "\"")));
    hub.start();
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM source_records") == 2; }, 20s));
    const std::string c = case_of(hub.db(), "1");
    REQUIRE(hub.terminate() == 0);
    // The case's row, and its document (that of its last event).
    exec_sql(hub.db(), "UPDATE case_rows SET status='cancelled' WHERE case_id='" + c + "'");
    exec_sql(hub.db(), "UPDATE events SET doc=json_set(doc, '$.status', 'cancelled') WHERE seq=(SELECT seq FROM case_rows WHERE case_id='" + c + "')");
    hub.start();
    REQUIRE(wait_until([&] { return hub.adapter("seq").is_object(); }, 10s));
    for (const std::vector<std::string>& a : {std::vector<std::string>{"close"}, {"accept"}, {"dispatch", "--unit-code", "D01"},
                                              {"resolve", "--note", "已处理完毕"}, {"verify"}, {"reopen", "--note", "重新处理"}}) {
        auto j = act(dir.path, c, a);
        INFO(a[0] << " " << j.dump());
        CHECK(j["code"] == "conflict");
        CHECK(j["field"] == "action");
        CHECK_THAT(j["error"].get<std::string>(), Catch::Contains("cancelled"));
    }
    CHECK(query_int(hub.db(), "SELECT count(*) FROM writebacks") == 0);
    CHECK(query_int(hub.db(), "SELECT count(*) FROM events WHERE type='action'") == 0);
    auto j = act(dir.path, c, {"return", "--note", "不属于本单位职责"});
    CHECK(j["status"] == "cancelled");
    REQUIRE(wait_until([&] { return lines(log).size() == 1; }, 15s));
    CHECK(lines(log)[0]["action"] == "return");
    // Unknown actions and malformed units are refused before the case is looked at.
    j = act(dir.path, c, {"archive"});
    CHECK(j.contains("output"));  // the CLI itself refuses a verb it does not know
    CHECK(query_int(hub.db(), "SELECT count(*) FROM writebacks") == 1);
}

TEST_CASE("merge and split are routed to the sources of the records they move", "[integration]") {
    TempDir dir;
    const auto log = dir.path / "writebacks.jsonl";
    Hub hub(dir.path, hub_toml_uncorrelated(seq_adapter("count = 3\nwriteback_log = \"" + log.string() + "\"")));
    hub.start();
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM source_records") == 3; }, 20s));
    const auto db = hub.db();
    const std::string c1 = case_of(db, "1"), c2 = case_of(db, "2"), c3 = case_of(db, "3");
    auto r = casehub_cli(dir.path, {"cases", "merge", c1, c2, "--by", "张科长", "--note", "同一处井盖", "--json"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    auto j = nlohmann::json::parse(r.output);
    REQUIRE(j["writebacks"].size() == 1);
    CHECK(j["writebacks"][0]["record_id"] == "2");
    CHECK(j["not_written_back"].empty());
    r = casehub_cli(dir.path, {"cases", "merge", c1, c3, "--by", "张科长"});
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("write-back"));
    CHECK_THAT(r.output, Catch::Contains("queued for seq 3"));
    r = casehub_cli(dir.path, {"cases", "split", c1, "seq:2", "--by", "张科长", "--note", "不是同一处", "--json"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    j = nlohmann::json::parse(r.output);
    const std::string c4 = j["case_id"];
    REQUIRE(j["writebacks"].size() == 1);
    CHECK(j["writebacks"][0]["record_id"] == "2");

    REQUIRE(wait_until([&] { return lines(log).size() == 3; }, 15s));
    auto got = lines(log);
    CHECK(got[0]["action"] == "merge");
    CHECK(got[0]["case_id"] == c1);
    CHECK(got[0]["merged_from"] == c2);
    CHECK(got[0]["duplicate_of"] == nlohmann::json::array({{{"system", "seq"}, {"record_id", "1"}}}));
    CHECK(got[0]["record"]["source"]["record_id"] == "2");
    CHECK(got[0]["handler"] == "张科长");
    CHECK(got[0]["note"] == "同一处井盖");
    CHECK(got[0]["key"].get<std::string>().rfind(c1 + ":", 0) == 0);
    CHECK(got[1]["action"] == "merge");
    CHECK(got[1]["merged_from"] == c3);
    CHECK(got[1]["duplicate_of"].size() == 2);  // records 1 and 2, then in c1
    CHECK(got[2]["action"] == "split");
    CHECK(got[2]["case_id"] == c4);
    CHECK(got[2]["split_from"] == c1);
    std::set<std::string> apart;
    for (const auto& k : got[2]["kept_apart_from"]) apart.insert(k["system"].get<std::string>() + ":" + k["record_id"].get<std::string>());
    CHECK(apart == std::set<std::string>{"seq:1", "seq:3"});
    CHECK(got[2]["record"]["source"]["record_id"] == "2");
    REQUIRE(wait_until([&] { return query_int(db, "SELECT count(*) FROM writebacks WHERE state='done'") == 3; }, 10s));
    // The write-backs are listed on the cases the records now belong to.
    CHECK(query_int(db, "SELECT count(*) FROM writebacks WHERE case_id='" + c1 + "'") == 2);
    CHECK(query_int(db, "SELECT count(*) FROM writebacks WHERE case_id='" + c4 + "'") == 1);
    // A refused merge queues nothing.
    r = casehub_cli(dir.path, {"cases", "merge", c1, c2, "--by", "张科长"});
    CHECK(r.exit_code != 0);
    CHECK(query_int(db, "SELECT count(*) FROM writebacks") == 3);
}
