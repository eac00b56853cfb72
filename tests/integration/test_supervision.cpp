// The process model under fire: runners and the hub killed with SIGKILL mid-stream, crash
// loops, hangs, broken adapters next to good ones, clean shutdown. Real processes, a real
// SQLite store, real ZeroMQ sockets.
#include "harness.hpp"

#include <sys/resource.h>

#include <climits>
#include <random>
#include <set>
#include <sstream>

using namespace casehub::test;

namespace {

std::string seq_adapter(const std::string& id, const std::string& options) {
    return "[[adapters]]\nid = \"" + id + "\"\nplugin = \"seq_source\"\n[adapters.config]\n" + options + "\n";
}

// Every record number 1..n reached the store exactly once for this adapter: each is a source
// record of its own case, and the pipeline saw each exactly once (a batch delivered twice would
// show up as duplicates, a lost one as a missing number).
void require_exactly_once(const fs::path& db, const std::string& adapter, long long n) {
    const std::string w = " FROM source_records WHERE adapter='" + adapter + "'";
    const long long rows = query_int(db, "SELECT count(*)" + w);
    const long long lo = query_int(db, "SELECT min(CAST(record_id AS INTEGER))" + w);
    const long long hi = query_int(db, "SELECT max(CAST(record_id AS INTEGER))" + w);
    const std::string c = " FROM adapter_counters WHERE adapter='" + adapter + "'";
    const long long in = query_int(db, "SELECT records_in" + c);
    const long long applied = query_int(db, "SELECT applied" + c);
    const long long dups = query_int(db, "SELECT duplicates" + c);
    INFO("rows " << rows << ", min " << lo << ", max " << hi << ", in " << in << ", applied " << applied
                 << ", duplicates " << dups);
    CHECK(dups == 0);      // 0 duplicated
    CHECK(in == n);
    CHECK(applied == n);
    CHECK(rows == n);      // 0 lost
    CHECK(lo == 1);
    CHECK(hi == n);
    CHECK(query_int(db, "SELECT count(*) FROM cases") >= n);
}

long long stored(const fs::path& db, const std::string& adapter) {
    return query_int(db, "SELECT count(*) FROM source_records WHERE adapter='" + adapter + "'");
}

}  // namespace

TEST_CASE("runner killed with SIGKILL 20 times: every record stored exactly once", "[integration]") {
    TempDir dir;
    const long long n = 3000;
    Hub hub(dir.path, hub_toml("backoff_initial_ms = 20\nbackoff_max_ms = 100\nmax_fast_crashes = 0\n",
                               seq_adapter("seq", "count = 3000\nrate_per_second = 250\nbatch_size = 20")));
    hub.start();
    std::mt19937 rng(20261128);
    std::uniform_int_distribution<int> pause(50, 350);
    int kills = 0;
    std::set<long> pids;
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (kills < 20 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(pause(rng)));
        auto a = hub.adapter("seq");
        if (!a.is_object() || a["pid"].get<long>() <= 0) continue;
        const long pid = a["pid"].get<long>();
        if (pids.count(pid)) continue;  // already killed this one; the restart is pending
        REQUIRE(::kill(static_cast<pid_t>(pid), SIGKILL) == 0);
        pids.insert(pid);
        ++kills;
    }
    REQUIRE(kills == 20);
    REQUIRE(wait_until([&] { return stored(hub.db(), "seq") >= n; }, 60s));
    std::this_thread::sleep_for(300ms);  // anything extra would show up now
    auto a = hub.adapter("seq");
    CHECK(a["restarts"].get<int>() >= 20);
    CHECK(a["state"] == "running");
    CHECK(hub.alive());
    require_exactly_once(hub.db(), "seq", n);
    CHECK(query(hub.db(), "SELECT cursor FROM adapter_cursors WHERE adapter='seq'") ==
          std::vector<std::string>{std::to_string(n + 1)});
}

TEST_CASE("casehubd killed with SIGKILL mid-stream and restarted: exactly once", "[integration]") {
    TempDir dir;
    const long long n = 2500;
    Hub hub(dir.path, hub_toml("backoff_initial_ms = 20\n",
                               seq_adapter("seq", "count = 2500\nrate_per_second = 500\nbatch_size = 25")));
    for (int round = 0; round < 3; ++round) {
        hub.start();
        const long long before = std::max(0LL, stored(hub.db(), "seq"));
        // Let it make progress, then pull the plug while batches are in flight.
        REQUIRE(wait_until([&] { return stored(hub.db(), "seq") > before + 200; }, 20s));
        auto a = hub.adapter("seq");
        const long runner = a.is_object() ? a["pid"].get<long>() : 0;
        hub.kill9();
        // The runner dies with its hub (it must not keep a source open for nobody).
        if (runner > 0) CHECK(wait_until([&] { return ::kill(static_cast<pid_t>(runner), 0) != 0; }, 5s));
    }
    hub.start();
    REQUIRE(wait_until([&] { return stored(hub.db(), "seq") >= n; }, 30s));
    std::this_thread::sleep_for(300ms);
    require_exactly_once(hub.db(), "seq", n);
    CHECK(hub.terminate() == 0);
}

TEST_CASE("a crash loop backs off exponentially while other adapters keep flowing", "[integration]") {
    TempDir dir;
    Hub hub(dir.path,
            hub_toml("backoff_initial_ms = 100\nbackoff_max_ms = 800\nmax_fast_crashes = 0\n",
                     seq_adapter("crashy", "crash_after_ms = 50\nrate_per_second = 100") +
                         seq_adapter("steady", "rate_per_second = 200")));
    hub.start();
    std::vector<long long> backoffs;  // backoff_ms after each restart, in order
    int last_restarts = 0;
    long long steady_first = -1;
    auto end = std::chrono::steady_clock::now() + 20s;
    while (backoffs.size() < 6 && std::chrono::steady_clock::now() < end) {
        auto st = hub.status();
        if (st.is_object()) {
            for (auto& a : st["adapters"]) {
                if (a["id"] == "crashy" && a["restarts"].get<int>() > last_restarts) {
                    last_restarts = a["restarts"].get<int>();
                    backoffs.push_back(a["backoff_ms"].get<long long>());
                }
                if (a["id"] == "steady" && steady_first < 0) steady_first = a["records_received"].get<long long>();
            }
        }
        std::this_thread::sleep_for(10ms);
    }
    REQUIRE(backoffs.size() >= 5);
    INFO("backoffs: " << nlohmann::json(backoffs).dump());
    CHECK(backoffs[0] == 100);
    CHECK(backoffs[1] == 200);
    CHECK(backoffs[2] == 400);
    CHECK(backoffs[3] == 800);
    CHECK(backoffs[4] == 800);  // capped
    auto steady = hub.adapter("steady");
    CHECK(steady["restarts"] == 0);
    CHECK(steady["state"] == "running");
    CHECK(steady["records_received"].get<long long>() > steady_first + 300);  // ~3 s at 200/s
    CHECK_THAT(hub.adapter("crashy")["last_error"].get<std::string>(), Catch::Contains("SIGABRT"));
}

TEST_CASE("repeated fast crashes mark an adapter failed, and a hung plugin is killed and restarted", "[integration]") {
    TempDir dir;
    Hub hub(dir.path,
            hub_toml("backoff_initial_ms = 20\nbackoff_max_ms = 40\nmax_fast_crashes = 3\nhang_timeout_ms = 1000\n",
                     seq_adapter("crashy", "crash_after_ms = 30") +
                         seq_adapter("hangs", "hang_after_ms = 300\nrate_per_second = 100")));
    hub.start();
    REQUIRE(wait_until([&] { return hub.adapter("crashy")["state"] == "failed"; }, 15s));
    auto c = hub.adapter("crashy");
    CHECK(c["restarts"] == 3);
    CHECK_THAT(c["last_error"].get<std::string>(), Catch::Contains("crashed 3 times in a row"));
    REQUIRE(wait_until([&] {
        auto h = hub.adapter("hangs");
        return h.is_object() && h["restarts"].get<int>() >= 1;
    }, 15s));
    CHECK_THAT(hub.adapter("hangs")["last_error"].get<std::string>(), Catch::Contains("hung"));
    CHECK(hub.alive());
}

TEST_CASE("broken adapters are refused with a clear reason and the hub keeps serving the good one", "[integration]") {
    TempDir dir;
    std::ofstream(dir.path / "not-a-plugin.so") << "this is text\n";
    Hub hub(dir.path,
            hub_toml("", seq_adapter("good", "rate_per_second = 200") +
                             "[[adapters]]\nid = \"text\"\nplugin = \"" + (dir.path / "not-a-plugin.so").string() + "\"\n" +
                             "[[adapters]]\nid = \"missing\"\nplugin = \"no_such_plugin\"\n" +
                             seq_adapter("typo", "rate_per_secnd = 5")));
    hub.start();
    REQUIRE(wait_until([&] {
        auto st = hub.status();
        if (!st.is_object()) return false;
        int failed = 0;
        for (auto& a : st["adapters"]) failed += a["state"] == "failed";
        return failed == 3;
    }, 10s));
    CHECK_THAT(hub.adapter("text")["last_error"].get<std::string>(),
               Catch::Contains("not-a-plugin.so: not a loadable shared library"));
    CHECK_THAT(hub.adapter("missing")["last_error"].get<std::string>(), Catch::Contains("no_such_plugin"));
    CHECK_THAT(hub.adapter("typo")["last_error"].get<std::string>(), Catch::Contains("rate_per_secnd"));
    CHECK_THAT(hub.adapter("typo")["last_error"].get<std::string>(), Catch::Contains("hub.toml"));
    REQUIRE(wait_until([&] { return stored(hub.db(), "good") > 200; }, 10s));
    CHECK(hub.adapter("good")["restarts"] == 0);
    CHECK(hub.alive());
}

TEST_CASE("SIGTERM stops intake, commits the batch in flight, and exits 0", "[integration]") {
    TempDir dir;
    Hub hub(dir.path, hub_toml("", seq_adapter("seq", "rate_per_second = 2000\nbatch_size = 100\ndead_letter_every = 97")));
    hub.start();
    REQUIRE(wait_until([&] { return stored(hub.db(), "seq") > 1000; }, 10s));
    CHECK(hub.terminate() == 0);
    // What is stored is exactly what the cursor says was read: records 1..cursor-1, less the
    // dead letters, which are stored too.
    const long long cursor = std::stoll(query(hub.db(), "SELECT cursor FROM adapter_cursors WHERE adapter='seq'").at(0));
    const long long letters = query_int(hub.db(), "SELECT count(*) FROM dead_letters WHERE adapter='seq' AND stage='adapter'");
    CHECK(letters == (cursor - 1) / 97);
    const long long rows = stored(hub.db(), "seq");
    CHECK(rows == (cursor - 1) - letters);
    CHECK(query_int(hub.db(), "SELECT applied FROM adapter_counters WHERE adapter='seq'") == rows);
    CHECK(query_int(hub.db(), "SELECT duplicates FROM adapter_counters WHERE adapter='seq'") == 0);
    CHECK_THAT(hub.log(), Catch::Contains("casehubd: stopped"));
}

TEST_CASE("casehubd sets its allocator up for a long-running process and logs it", "[integration]") {
    TempDir dir;
    Hub hub(dir.path, hub_toml());
    hub.start();
    REQUIRE(wait_until([&] { return hub.log().find("casehubd: allocator") != std::string::npos; }, 10s));
    CHECK(hub.terminate() == 0);
#ifdef CASEHUB_HUB_HAS_MIMALLOC
    // Page faults cost 13-15 µs on this kind of VM: 2 MiB pages, and freed memory kept a second
    // (host/common/allocator.hpp). Without these two, casehubd took about 0.8 faults per record.
    CHECK_THAT(hub.log(), Catch::Contains("allocator mimalloc") && Catch::Contains("large OS pages on, decommit delay 1000 ms"));
#else
    CHECK_THAT(hub.log(), Catch::Contains("allocator glibc malloc"));
#endif
}

namespace {

// A thread's or a process's nice value, from /proc (field 19 of stat, after the command's ")").
int nice_of(const fs::path& stat) {
    std::ifstream in(stat);
    std::string line;
    std::getline(in, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) return INT_MIN;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 19 && rest >> field; ++i)
        if (i == 19) return std::stoi(field);
    return INT_MIN;
}

}  // namespace

TEST_CASE("flow.intake_nice: the intake thread alone goes first, the other threads and the runners keep the hub's own", "[integration]") {
    TempDir dir;
    errno = 0;
    const int own = ::getpriority(PRIO_PROCESS, 0);
    REQUIRE(errno == 0);
    const int want = std::max(-20, own - 3);
    REQUIRE(want < own);
    // Can this process raise a priority (CAP_SYS_NICE: root in CI)? casehubd, its child, can too.
    const auto me = static_cast<id_t>(::gettid());
    const bool may = ::setpriority(PRIO_PROCESS, me, want) == 0;
    if (may) REQUIRE(::setpriority(PRIO_PROCESS, me, own) == 0);
    INFO("this test may raise a priority: " << may);

    auto toml = hub_toml("", seq_adapter("seq", "count = 1000000\nrate_per_second = 200"));
    const std::string flow = "[flow]\n";
    toml.replace(toml.find(flow), flow.size(), "[flow]\nintake_nice = " + std::to_string(want) + "\n");
    Hub hub(dir.path, toml);
    hub.start();
    REQUIRE(wait_until([&] { return stored(hub.db(), "seq") > 0; }, 15s));
    const auto st = hub.status();
    REQUIRE(st.is_object());
    const auto& n = st["hub"]["intake_nice"];
    CHECK(n["wanted"] == want);
    CHECK(n["others"] == own);
    CHECK(n["actual"] == (may ? want : own));
    CHECK(n.contains("error") == !may);
    if (may)
        CHECK_THAT(hub.log(), Catch::Contains("intake thread at nice " + std::to_string(want)));
    else
        CHECK_THAT(hub.log(), Catch::Contains("flow.intake_nice = " + std::to_string(want) + ": the intake thread stays at nice " +
                                              std::to_string(own)) && Catch::Contains("CAP_SYS_NICE"));

    // casehubd's main thread is the intake thread; every other thread was started before it
    // changed, and the runner, forked from it, went back to the hub's own.
    const fs::path proc = "/proc/" + std::to_string(hub.pid());
    CHECK(nice_of(proc / "task" / std::to_string(hub.pid()) / "stat") == (may ? want : own));
    int others = 0;
    for (const auto& t : fs::directory_iterator(proc / "task")) {
        if (t.path().filename() == std::to_string(hub.pid())) continue;
        INFO("thread " << t.path().filename());
        CHECK(nice_of(t.path() / "stat") == own);
        ++others;
    }
    CHECK(others >= 3);  // at least the prepare, sync and checkpoint workers
    const auto runner = hub.adapter("seq")["pid"].get<int>();
    REQUIRE(runner > 0);
    CHECK(nice_of("/proc/" + std::to_string(runner) + "/stat") == own);
    CHECK(hub.terminate() == 0);
}

TEST_CASE("credit bounds what a runner has in flight: a slow store slows the source", "[integration]") {
    TempDir dir;
    // A source that could emit 100k records/s against a hub that grants 60 records of credit and
    // commits every 200 ms at the earliest (a slow store): the runner must wait for acks (emit
    // blocks), never run ahead of what is committed.
    auto toml = hub_toml("", seq_adapter("seq", "count = 1500\nrate_per_second = 100000\nbatch_size = 20"));
    const std::string flow = "[flow]\ncommit_max_delay_ms = 10\n";
    toml.replace(toml.find(flow), flow.size(),
                 "[flow]\ncommit_min_delay_ms = 200\ncommit_max_delay_ms = 200\ncredit_records = 60\nmax_batch_records = 60\n");
    Hub hub(dir.path, toml);
    hub.start();
    long long max_in_flight = 0, samples = 0;
    auto end = std::chrono::steady_clock::now() + 30s;
    while (stored(hub.db(), "seq") < 1500 && std::chrono::steady_clock::now() < end) {
        auto a = hub.adapter("seq");
        if (a.is_object()) {
            max_in_flight = std::max(max_in_flight, a["in_flight"].get<long long>());
            ++samples;
        }
        std::this_thread::sleep_for(5ms);
    }
    INFO("max in flight " << max_in_flight << " over " << samples << " samples");
    CHECK(samples > 20);
    CHECK(max_in_flight > 0);
    CHECK(max_in_flight <= 60);
    require_exactly_once(hub.db(), "seq", 1500);
}

TEST_CASE("a runner exits when it has not heard from the host for host_timeout_ms", "[integration]") {
    TempDir dir;
    // Nobody binds this endpoint: the runner says hello into the void, then gives up.
    const auto t0 = std::chrono::steady_clock::now();
    Run r = run({bin("bin/casehub-runner").string(), "--plugin", std::string(CASEHUB_TEST_PLUGIN_DIR) + "/seq_source.so",
                 "--connect", "ipc://" + (dir.path / "nobody.sock").string(), "--adapter", "seq", "--session", "0",
                 "--host-timeout-ms", "700"});
    const auto took = std::chrono::steady_clock::now() - t0;
    CHECK(r.exit_code == 4);  // wire::kExitHostGone
    CHECK_THAT(r.output, Catch::Contains("no word from the host"));
    CHECK(took >= 700ms);
    CHECK(took < 5s);
}

TEST_CASE("group commit: a lone batch is committed once the intake is drained, and commit_min_delay_ms holds it back", "[integration]") {
    // 20 records, one per batch, 50 ms apart (one second in all), against a commit_max_delay_ms
    // of three seconds. Committing when the intake is drained stores them one by one as they
    // come; a commit_min_delay_ms as long as the maximum gathers them into one commit after
    // three seconds.
    auto counts_seen = [](const std::string& flow) {
        TempDir dir;
        auto toml = hub_toml_uncorrelated(seq_adapter("seq", "count = 20\nrate_per_second = 20\nbatch_size = 1"));
        const std::string was = "[flow]\ncommit_max_delay_ms = 10\n";
        toml.replace(toml.find(was), was.size(), "[flow]\n" + flow);
        Hub hub(dir.path, toml);
        hub.start();
        std::set<long long> seen;
        const auto end = std::chrono::steady_clock::now() + 30s;
        long long n = 0;
        while (n < 20 && std::chrono::steady_clock::now() < end) {
            n = stored(hub.db(), "seq");
            seen.insert(n);
            std::this_thread::sleep_for(5ms);
        }
        require_exactly_once(hub.db(), "seq", 20);
        std::erase_if(seen, [](long long k) { return k <= 0; });  // nothing yet, or no store yet (-1)
        return seen;
    };
    SECTION("commit_min_delay_ms = 0 (the default): stored as they arrive") {
        const auto seen = counts_seen("commit_max_delay_ms = 3000\n");
        INFO("distinct stored counts seen: " << seen.size());
        CHECK(seen.size() >= 10);  // 20 commits, sampled every 5 ms; a 3 s wait would show one
    }
    SECTION("commit_min_delay_ms = commit_max_delay_ms: one commit of all twenty") {
        const auto seen = counts_seen("commit_min_delay_ms = 3000\ncommit_max_delay_ms = 3000\n");
        CHECK(seen == std::set<long long>{20});
    }
}
