// The case pipeline end to end: a real hub, a real runner and plugin, a real store. Every
// record emitted is accounted for: applied, duplicate, stale or dead-lettered.
#include "harness.hpp"

using namespace casehub::test;

namespace {

std::string seq_adapter(const std::string& options) {
    return "[[adapters]]\nid = \"seq\"\nplugin = \"seq_source\"\n[adapters.config]\n" + options + "\n";
}

long long counter(const fs::path& db, const std::string& name) {
    return query_int(db, "SELECT " + name + " FROM adapter_counters WHERE adapter='seq'");
}

}  // namespace

TEST_CASE("emitted = applied + duplicate + stale + dead-lettered, in the store and in the metrics", "[integration]") {
    TempDir dir;
    // Per ten numbers seq_source emits 14 records: 9 new, 1 invalid (bad_time), 1 duplicate,
    // 1 newer version and 1 stale copy, 1 same-version change.
    Hub hub(dir.path, hub_toml("", seq_adapter("count = 200\nrate_per_second = 2000\nbatch_size = 30\nmix = true")));
    hub.start();
    REQUIRE(wait_until([&] { return counter(hub.db(), "records_in") >= 280; }, 20s));
    std::this_thread::sleep_for(300ms);
    const auto db = hub.db();
    CHECK(counter(db, "records_in") == 280);
    CHECK(counter(db, "applied") == 220);
    CHECK(counter(db, "duplicates") == 20);
    CHECK(counter(db, "stale") == 20);
    CHECK(counter(db, "dead_lettered") == 20);
    CHECK(counter(db, "same_version_changed") == 20);
    CHECK(counter(db, "applied") + counter(db, "duplicates") + counter(db, "stale") + counter(db, "dead_lettered") ==
          counter(db, "records_in"));
    // The store agrees with the counters: one case per valid record, one event per applied
    // record, one dead letter per invalid one, with its reason and path.
    CHECK(query_int(db, "SELECT count(*) FROM cases") == 180);
    CHECK(query_int(db, "SELECT count(*) FROM events") == 220);
    CHECK(query_int(db, "SELECT max(seq) FROM events") == 220);
    CHECK(query_int(db, "SELECT count(*) FROM dead_letters WHERE stage='validation' AND reason='bad_time'"
                        " AND path='$.times.reported_at'") == 20);
    CHECK(query_int(db, "SELECT count(*) FROM cases WHERE status='dispatched'") == 20);  // the newer versions
    CHECK(query_int(db, "SELECT count(*) FROM cases WHERE status='registered'") == 20);  // the same-version changes
    // ...and so do the metrics casehubd reports.
    auto a = hub.adapter("seq");
    CHECK(a["records_in"] == 280);
    CHECK(a["applied"] == 220);
    CHECK(a["duplicates"] == 20);
    CHECK(a["stale"] == 20);
    CHECK(a["invalid"] == 20);
    CHECK(hub.status()["hub"]["head_seq"] == 220);
    // The log was fsynced on its own thread (flow.sync_worker, the default), and nothing waits.
    const auto syncs = hub.status()["hub"]["syncs"];
    CHECK(syncs["by"] == "worker");
    CHECK(syncs["runs"].get<int>() > 0);
    CHECK(syncs["waiting_commits"] == 0);

    auto list = casehub_cli(dir.path, {"deadletters", "list", "--json"});
    CHECK(list.exit_code == 0);
    CHECK(std::count(list.output.begin(), list.output.end(), '\n') == 20);
    CHECK_THAT(list.output, Catch::Contains("\"reason\":\"bad_time\""));
    auto status = casehub_cli(dir.path, {"status"});
    CHECK(status.exit_code == 0);
    CHECK_THAT(status.output, Catch::Contains("APPLIED"));
    CHECK_THAT(status.output, Catch::Contains("log fsync by worker"));
    CHECK_THAT(status.output, Catch::Contains("intake thread at nice " + hub.status()["hub"]["intake_nice"]["actual"].dump()));
    CHECK(hub.terminate() == 0);
}

TEST_CASE("dead letters are replayed after a configuration fix", "[integration]") {
    TempDir dir;
    // The hub does not know source system "seq" yet: every record is dead-lettered, and the
    // cursor still advances.
    auto toml = hub_toml("", seq_adapter("count = 30\nrate_per_second = 1000"));
    auto without = toml;
    without.replace(without.find("systems = [\"seq\", \"hello\"]"), 26, "systems = [\"hello\"]");
    Hub hub(dir.path, without);
    hub.start();
    REQUIRE(wait_until([&] { return counter(hub.db(), "records_in") >= 30; }, 15s));
    CHECK(counter(hub.db(), "dead_lettered") == 30);
    CHECK(query_int(hub.db(), "SELECT count(*) FROM dead_letters WHERE reason='unknown_system' AND path='$.source.system'") == 30);
    CHECK(query(hub.db(), "SELECT cursor FROM adapter_cursors WHERE adapter='seq'") == std::vector<std::string>{"31"});
    auto one = casehub_cli(dir.path, {"deadletters", "show", "1"});
    CHECK(one.exit_code == 0);
    CHECK_THAT(one.output, Catch::Contains("unknown_system"));
    CHECK_THAT(one.output, Catch::Contains("\"record_id\": \"1\""));

    // Replay before the fix: still invalid, nothing applied.
    auto early = casehub_cli(dir.path, {"deadletters", "replay", "1"});
    CHECK(early.exit_code == 0);
    CHECK_THAT(early.output, Catch::Contains("still invalid: unknown_system"));
    CHECK(query_int(hub.db(), "SELECT count(*) FROM cases") == 0);

    REQUIRE(hub.terminate() == 0);
    hub.configure(toml);  // the fix: "seq" is a configured system now
    hub.start();
    REQUIRE(wait_until([&] { return hub.status().is_object(); }, 10s));
    auto replay = casehub_cli(dir.path, {"deadletters", "replay"});
    CHECK(replay.exit_code == 0);
    CHECK_THAT(replay.output, Catch::Contains("30 replayed: 30 applied, 0 still invalid"));
    CHECK(query_int(hub.db(), "SELECT count(*) FROM cases") == 30);
    CHECK(query_int(hub.db(), "SELECT count(*) FROM events") == 30);
    auto waiting = casehub_cli(dir.path, {"deadletters", "list", "--json"});
    CHECK(waiting.output.empty());  // nothing is waiting any more
    auto purge = casehub_cli(dir.path, {"deadletters", "purge", "--replayed-only", "--yes"});
    CHECK(purge.exit_code == 0);
    CHECK_THAT(purge.output, Catch::Contains("30 dead letters purged"));
    CHECK(query_int(hub.db(), "SELECT count(*) FROM dead_letters") == 0);
}
