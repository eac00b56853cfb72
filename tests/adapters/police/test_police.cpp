// The police adapter against its simulator (tools/simulators/sims/police.py): a real casehubd,
// runner and store; every §8 irregularity at a high rate; write-back through outbox/; and
// casehub-plugin-check.
#include "police_test_support.hpp"

#include "../../integration/harness.hpp"
#include "../../support/simulator.hpp"

#include <casehub/sdk/record_check.hpp>

#include <map>
#include <random>

using namespace police_test;
using namespace casehub::test;

namespace {

std::string police_adapter(const fs::path& exchange, int reject_after_s = 2) {
    return "[[adapters]]\nid = \"police\"\nplugin = \"police\"\n[adapters.config]\nexchange_dir = \"" +
           exchange.string() + "\"\ncategories_file = \"" + categories_file() +
           "\"\nscan_interval_ms = 100\nreject_after_s = " + std::to_string(reject_after_s) + "\n";
}

// Every rate of §8 high, so one short run meets each irregularity several times.
std::vector<std::string> irregular(const fs::path& exchange, const std::string& count) {
    return {"--dir", exchange.string(), "--rate", "600", "--count", count, "--speed", "600",
            "--transfer-delay", "60", "--batch-interval", "30", "--followup-delay", "300",
            "--p-supplement", "0.3", "--p-withdraw", "0.1", "--p-mj1", "0.3", "--p-repeat-call", "0.2",
            "--p-partial", "0.3", "--chunk-delay", "0.5", "--p-redeliver", "0.3", "--p-repeat", "0.2",
            "--p-coord-missing", "0.1", "--p-coord-zero", "0.1", "--p-coord-swap", "0.1",
            "--p-zbxt-empty", "0.1", "--p-seconds", "0.2", "--p-yjjd-empty", "0.1", "--p-yjjd-400", "0.1",
            "--p-mj2", "0.15", "--p-police-code", "0.15", "--p-tamper", "0.2", "--p-crlf", "0.3",
            "--p-bad", "0.1"};
}

std::string files_text(const fs::path& dir) {
    std::string s;
    std::error_code ec;
    for (auto& e : fs::recursive_directory_iterator(dir, ec))
        if (e.is_regular_file()) s += read(e.path()) + "\n";
    return s;
}

std::string store_bytes(const Hub& hub) {
    return read(hub.db()) + read(fs::path(hub.db().string() + "-wal"));
}

}  // namespace

TEST_CASE("police: simulated batches with every §8 irregularity reach the store exactly once and masked", "[integration]") {
    TempDir dir;
    const fs::path ex = dir.path / "exchange";
    Simulator sim("police", dir.path, irregular(ex, "400"));
    Hub hub(dir.path, hub_toml("", police_adapter(ex)));
    hub.start();
    REQUIRE(wait_until([&] { return sim.log().find("call sheets delivered") != std::string::npos; }, 60s, 100ms));

    // Ground truth: the last version of every call sheet that must reach the hub.
    std::map<std::string, json> last;
    std::set<std::string> confidential, bad;
    std::size_t tampered = 0, redelivered = 0, repeats = 0;
    for (const auto& t : sim.truth()) {
        const std::string id = t["record_id"], kind = t["kind"];
        if (kind == "record") {
            if (!last.count(id) || last[id]["version"].get<std::string>() < t["version"].get<std::string>())
                last[id] = t;
        } else if (kind == "confidential") {
            confidential.insert(id);
        } else if (kind == "bad") {
            bad.insert(id + "/" + t["bad"].get<std::string>());
        } else if (t.value("what", "") == "tampered") {
            ++tampered;
        } else if (t.value("what", "") == "re-delivered") {
            ++redelivered;
        } else {
            ++repeats;
        }
    }
    INFO("records " << last.size() << ", confidential " << confidential.size() << ", bad " << bad.size()
                    << ", tampered " << tampered << ", re-delivered " << redelivered << ", repeats " << repeats);
    REQUIRE(last.size() >= 15);
    CHECK(!confidential.empty());
    CHECK(!bad.empty());
    CHECK(tampered > 0);
    CHECK(redelivered > 0);

    const auto db = hub.db();
    auto store_matches = [&] {
        for (const auto& [id, t] : last)
            if (query(db, "SELECT version FROM source_records WHERE system='police' AND record_id='" + id + "'") !=
                std::vector<std::string>{t["version"].get<std::string>()})
                return false;
        std::size_t reasons = 0, dups = 0;
        for (const auto& n : names(ex / "inbox/rejected")) reasons += n.ends_with(".reason");
        for (const auto& n : names(ex / "inbox/done")) dups += n.ends_with(".manifest.dup");
        return reasons >= tampered && dups >= redelivered &&
               query_int(db, "SELECT count(*) FROM dead_letters WHERE adapter='police'") >=
                   static_cast<long long>(bad.size());
    };
    REQUIRE(wait_until(store_matches, 30s, 200ms));
    std::this_thread::sleep_for(500ms);  // anything late would show now

    // Exactly the truth's records, each at its last version, status and category.
    CHECK(query_int(db, "SELECT count(*) FROM source_records WHERE system='police'") ==
          static_cast<long long>(last.size()));
    for (const auto& [id, t] : last) {
        INFO(id);
        auto doc = json::parse(query(db, "SELECT doc FROM source_records WHERE system='police' AND record_id='" + id + "'").at(0));
        CHECK_FALSE(casehub::sdk::check_record(doc).has_value());
        CHECK(doc["status"] == t["status"]);
        CHECK(doc["category"]["code"] == t["expected_category"]);
        CHECK(doc["confidentiality"] == (t["mj"] == 1 ? "internal" : "public"));
        if (t["street"].is_string())
            CHECK(doc["responsible"][0]["dept_code"] == t["street"]);
        else
            CHECK(doc["responsible"].empty());
        if (doc["location"]["original"].is_object()) {
            CHECK(doc["location"]["original"]["x"].get<double>() != 0.0);
        }
    }
    // Applied versions and duplicates (§8.3 repeats are the hub's duplicates, never new rows).
    CHECK(query_int(db, "SELECT duplicates FROM adapter_counters WHERE adapter='police'") >= 0);

    // Dead letters: one per malformed line, with masked native bytes.
    CHECK(query_int(db, "SELECT count(*) FROM dead_letters WHERE adapter='police'") == static_cast<long long>(bad.size()));
    for (const auto& r : query(db, "SELECT reason FROM dead_letters WHERE adapter='police'"))
        CHECK((r == "missing_field" || r == "bad_enum" || r == "not_json"));

    // The exchange folder: tampered batches rejected with a reason, re-deliveries as .dup,
    // nothing left in inbox/, no mj=2 line kept anywhere.
    const fs::path inbox = ex / "inbox";
    std::size_t reasons = 0, dups = 0;
    for (const auto& n : names(inbox / "rejected")) reasons += n.ends_with(".reason");
    for (const auto& n : names(inbox / "done")) dups += n.ends_with(".manifest.dup");
    CHECK(reasons == tampered);
    CHECK(dups == redelivered);
    CHECK(names(inbox) == std::set<std::string>{"done", "rejected"});
    const std::string archived = files_text(inbox);
    for (const auto& id : confidential) CHECK(archived.find(id) == std::string::npos);

    // 0 confidential records and 0 raw phone numbers in the store and the hub's log.
    const std::string stored = store_bytes(hub) + hub.log();
    for (const auto& id : confidential) {
        INFO("confidential " << id);
        CHECK(stored.find(id) == std::string::npos);
    }
    auto phones = raw_phones(archived);
    REQUIRE(phones.size() > 5);
    for (const auto& p : phones) {
        INFO("raw phone " << p);
        CHECK(stored.find(p) == std::string::npos);
    }
    CHECK_THAT(hub.log(), Catch::Contains("mj=2"));

    // The cursor the hub committed names only batches that may still need their move.
    auto cursor = json::parse(query(db, "SELECT cursor FROM adapter_cursors WHERE adapter='police'").at(0));
    CHECK(cursor["v"] == 1);
    REQUIRE(cursor["pending"].is_array());
    CHECK_FALSE(cursor["pending"].empty());
    for (const auto& id : cursor["pending"])  // committed, hence moved
        CHECK(names(inbox / "done").count("JQ_" + id.get<std::string>() + ".manifest") == 1);
    CHECK(hub.terminate() == 0);
}

TEST_CASE("police: write-back reaches the simulator once and 退回 brings a re-assignment", "[integration]") {
    TempDir dir;
    const fs::path ex = dir.path / "exchange";
    Simulator sim("police", dir.path,
                  {"--dir", ex.string(), "--rate", "600", "--count", "150", "--speed", "600",
                   "--transfer-delay", "30", "--batch-interval", "10", "--p-supplement", "0", "--p-withdraw", "0",
                   "--p-mj2", "0", "--p-bad", "0", "--p-tamper", "0", "--p-yjjd-empty", "0", "--p-yjjd-400", "0",
                   "--p-police-code", "0", "--p-redeliver", "0", "--p-repeat", "0", "--p-partial", "0"});
    casehub::sdk::FakeHost h(descriptor());
    h.create(config(ex));
    h.start();
    REQUIRE(wait_until([&] { h.poll(std::chrono::milliseconds(50)); return !h.records().empty(); }, 30s, 1ms));
    const json rec = json::parse(h.records().front());
    const std::string jjdbh = rec["source"]["record_id"];
    const std::string street = rec["responsible"][0]["dept_code"];
    json action = {{"v", 1}, {"writeback_id", 41}, {"key", "C20261128-000041:41"}, {"case_id", "C20261128-000041"},
                   {"action", "resolve"}, {"status", "resolved"},
                   {"note", "社区网格员已上门处理，报警人13912345678表示认可。"},
                   {"unit", {{"code", street}, {"name", ""}}}, {"handler", "黄志强"}, {"record", rec}};
    REQUIRE(h.write_back(action) == CASEHUB_OK);
    REQUIRE(h.write_back(action) == CASEHUB_OK);  // a retry of the same write-back

    const fs::path received = ex / "police-received.jsonl";
    auto lines = [&] {
        std::vector<json> out;
        std::ifstream in(received);
        for (std::string l; std::getline(in, l);)
            if (!l.empty()) out.push_back(json::parse(l));
        return out;
    };
    REQUIRE(wait_until([&] { return lines().size() >= 2; }, 10s, 50ms));
    auto got = lines();
    CHECK(got[0]["fkid"] == "C20261128-000041:41");
    CHECK(got[0]["jjdbh"] == jjdbh);
    CHECK(got[0]["fkzt"] == "已办结");
    CHECK(got[0]["yjjd"] == street);
    CHECK(got[0]["fkdw"] == rec["responsible"][0]["name"]);
    CHECK(got[0]["fknr"] == "社区网格员已上门处理，报警人139****5678表示认可。");
    CHECK(got[0]["duplicate"] == false);
    CHECK(got[0]["sender"] == "QH-CASEHUB");
    CHECK(got[1]["fkid"] == got[0]["fkid"]);
    CHECK(got[1]["duplicate"] == true);  // the police side ignores the repeated fkid
    CHECK(names(ex / "outbox").empty());  // the ferry took every pair

    // 退回: the police re-assign the call sheet; the next batch carries a 补充 to another street.
    action["key"] = "C20261128-000041:42";
    action["action"] = "return";
    action["status"] = "rejected";
    action["note"] = "经核实不属本街道辖区。";
    REQUIRE(h.write_back(action) == CASEHUB_OK);
    json again;
    REQUIRE(wait_until([&] {
        h.poll(std::chrono::milliseconds(50));
        for (const auto& r : h.records()) {
            auto j = json::parse(r);
            if (j["source"]["record_id"] == jjdbh && j["status_native"] == "czlx=2 补充") {
                again = j;
                return true;
            }
        }
        return false;
    }, 20s, 1ms));
    CHECK(again["source"]["version"].get<std::string>() > rec["source"]["version"].get<std::string>());
    CHECK(again["status"] == "dispatched");
    CHECK(again["responsible"][0]["dept_code"] != street);
    CHECK(lines().back()["fkzt"] == "退回");
}

TEST_CASE("police: casehub-plugin-check passes against the simulator", "[integration]") {
    TempDir dir;
    const fs::path ex = dir.path / "exchange";
    auto args = irregular(ex, "300");
    for (std::size_t i = 0; i + 1 < args.size(); ++i)
        if (args[i] == "--p-repeat") args[i + 1] = "0";  // a repeat is a duplicate by design (§8.3)
    Simulator sim("police", dir.path, args);
    auto r = run({bin("bin/casehub-plugin-check").string(), std::string(CASEHUB_PLUGIN_DIR) + "/police.so",
                  "--set", "exchange_dir=" + ex.string(), "--set", "categories_file=" + categories_file(),
                  "--set", "scan_interval_ms=100", "--set", "reject_after_s=2", "--seconds", "6"});
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("cn.gov.qinhuai.police"));
}

TEST_CASE("police: the runner killed with SIGKILL mid-stream loses and repeats nothing", "[integration]") {
    TempDir dir;
    const fs::path ex = dir.path / "exchange";
    auto args = irregular(ex, "700");
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == "--p-repeat") args[i + 1] = "0";  // so any duplicate would be the adapter's
        if (args[i] == "--speed") args[i + 1] = "300";
    }
    Simulator sim("police", dir.path, args);
    Hub hub(dir.path, hub_toml("backoff_initial_ms = 20\nbackoff_max_ms = 100\nmax_fast_crashes = 0\n",
                               police_adapter(ex)));
    hub.start();
    std::mt19937 rng(20261128);
    std::uniform_int_distribution<int> pause(150, 700);
    std::set<long> pids;
    int kills = 0;
    auto deadline = std::chrono::steady_clock::now() + 40s;
    while (kills < 8 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
        auto a = hub.adapter("police");
        if (!a.is_object() || !a["pid"].is_number() || a["pid"].get<long>() <= 0) continue;
        const long pid = a["pid"].get<long>();
        if (pids.count(pid)) continue;
        REQUIRE(::kill(static_cast<pid_t>(pid), SIGKILL) == 0);
        pids.insert(pid);
        ++kills;
    }
    CHECK(kills >= 4);
    REQUIRE(wait_until([&] { return sim.log().find("call sheets delivered") != std::string::npos; }, 60s, 100ms));

    std::map<std::string, std::string> last;  // record id → last version
    std::size_t bad = 0;
    std::set<std::string> confidential;
    for (const auto& t : sim.truth()) {
        if (t["kind"] == "record") {
            auto& v = last[t["record_id"].get<std::string>()];
            v = std::max(v, t["version"].get<std::string>());
        } else if (t["kind"] == "bad") {
            ++bad;
        } else if (t["kind"] == "confidential") {
            confidential.insert(t["record_id"].get<std::string>());
        }
    }
    REQUIRE(last.size() >= 15);
    const auto db = hub.db();
    auto done = [&] {
        for (const auto& [id, v] : last)
            if (query(db, "SELECT version FROM source_records WHERE system='police' AND record_id='" + id + "'") !=
                std::vector<std::string>{v})
                return false;
        return names(ex / "inbox") == std::set<std::string>{"done", "rejected"};
    };
    REQUIRE(wait_until(done, 40s, 200ms));
    std::this_thread::sleep_for(500ms);
    CHECK(query_int(db, "SELECT count(*) FROM source_records WHERE system='police'") ==
          static_cast<long long>(last.size()));
    CHECK(query_int(db, "SELECT duplicates FROM adapter_counters WHERE adapter='police'") == 0);
    CHECK(query_int(db, "SELECT count(*) FROM dead_letters WHERE adapter='police'") == static_cast<long long>(bad));
    const std::string stored = store_bytes(hub) + hub.log();
    for (const auto& id : confidential) CHECK(stored.find(id) == std::string::npos);
    CHECK(hub.terminate() == 0);
}

TEST_CASE("police: command-centre actions on a case reach the simulator through the hub", "[integration]") {
    TempDir dir;
    const fs::path ex = dir.path / "exchange";
    Simulator sim("police", dir.path,
                  {"--dir", ex.string(), "--rate", "600", "--count", "150", "--speed", "600",
                   "--transfer-delay", "30", "--batch-interval", "10", "--p-withdraw", "0", "--p-mj2", "0",
                   "--p-yjjd-empty", "0", "--p-yjjd-400", "0"});
    Hub hub(dir.path, hub_toml("", police_adapter(ex)));
    hub.start();
    const auto db = hub.db();
    REQUIRE(wait_until([&] { return query_int(db, "SELECT count(*) FROM source_records WHERE system='police'") > 0; },
                       30s, 100ms));
    // A case of one call sheet (a repeat call's sheet would be written back as well).
    const std::string jjdbh = query(db, "SELECT record_id FROM source_records WHERE system='police' AND case_id IN "
                                        "(SELECT case_id FROM source_records GROUP BY case_id HAVING count(*) = 1) LIMIT 1").at(0);
    const std::string case_id =
        query(db, "SELECT case_id FROM source_records WHERE system='police' AND record_id='" + jjdbh + "'").at(0);
    auto doc = json::parse(query(db, "SELECT doc FROM source_records WHERE system='police' AND record_id='" + jjdbh + "'").at(0));
    const std::string street = doc["responsible"][0]["dept_code"];

    auto accept = casehub_cli(dir.path, {"cases", "action", case_id, "accept", "--unit-code", street,
                                         "--handler", "黄志强", "--note", "已派社区网格员核实"});
    INFO(accept.output);
    REQUIRE(accept.exit_code == 0);
    auto resolve = casehub_cli(dir.path, {"cases", "action", case_id, "resolve", "--unit-code", street,
                                          "--handler", "黄志强", "--note", "已调解，报警人13912345678表示认可。"});
    INFO(resolve.output);
    REQUIRE(resolve.exit_code == 0);

    const fs::path received = ex / "police-received.jsonl";
    auto lines = [&] {
        std::vector<json> out;
        std::ifstream in(received);
        for (std::string l; std::getline(in, l);)
            if (!l.empty()) out.push_back(json::parse(l));
        return out;
    };
    REQUIRE(wait_until([&] { return lines().size() >= 2; }, 20s, 100ms));
    auto got = lines();
    REQUIRE(got.size() == 2);
    CHECK(got[0]["jjdbh"] == jjdbh);
    CHECK(got[0]["fkzt"] == "已签收");
    CHECK(got[1]["fkzt"] == "已办结");
    CHECK(got[1]["fknr"] == "已调解，报警人139****5678表示认可。");
    CHECK(got[1]["yjjd"] == street);
    CHECK(got[0]["fkid"] != got[1]["fkid"]);
    CHECK(got[0]["duplicate"] == false);
    REQUIRE(wait_until([&] {
        return query_int(db, "SELECT count(*) FROM writebacks WHERE adapter='police' AND state='done'") == 2;
    }, 10s, 100ms));

    // dispatch (inside the street), verify and close have no fkzt (§5.2): unsupported, named,
    // nothing written; a reopen is 处置中 again.
    for (const std::vector<std::string>& a :
         {std::vector<std::string>{"dispatch", "--unit-code", street}, {"verify"}, {"close"},
          {"reopen", "--unit-code", street, "--handler", "黄志强", "--note", "报警人再次反映噪音，重新处置"}}) {
        std::vector<std::string> args = {"cases", "action", case_id};
        args.insert(args.end(), a.begin(), a.end());
        auto r = casehub_cli(dir.path, args);
        INFO(r.output);
        REQUIRE(r.exit_code == 0);
    }
    REQUIRE(wait_until([&] { return lines().size() >= 3; }, 20s, 100ms));
    REQUIRE(wait_until([&] {
        return query_int(db, "SELECT count(*) FROM writebacks WHERE adapter='police' AND state='unsupported'") == 3 &&
               query_int(db, "SELECT count(*) FROM writebacks WHERE adapter='police' AND state='done'") == 3;
    }, 10s, 100ms));
    got = lines();
    REQUIRE(got.size() == 3);
    CHECK(got[2]["fkzt"] == "处置中");
    CHECK(got[2]["jjdbh"] == jjdbh);
    for (const auto& g : got) CHECK_FALSE(g.contains("invalid"));  // every line is valid §7 for the police side
    for (const char* act : {"dispatch", "verify", "close"}) {
        auto err = query(db, std::string("SELECT last_error FROM writebacks WHERE json_extract(action, '$.action')='") + act + "'");
        REQUIRE(err.size() == 1);
        CHECK_THAT(err[0], Catch::Contains(std::string("'") + act + "'"));
    }
    CHECK(hub.adapter("police")["writebacks_failed"] == 0);
    CHECK(hub.log().find("13912345678") == std::string::npos);
    CHECK(hub.terminate() == 0);
}
