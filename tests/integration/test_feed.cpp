// The unified feed against a real hub: replay + live with the hub killed mid-stream, a slow
// consumer that must not slow anyone, and a street-filtered command center.
#include "harness.hpp"

#include "feed/feed.hpp"

#include <atomic>
#include <map>
#include <mutex>
#include <sstream>

using namespace casehub::test;
using casehub::host::FeedClient;
using casehub::host::FeedClientOptions;
using casehub::host::FeedEvent;

namespace {

std::string seq_adapter(const std::string& options) {
    return "[[adapters]]\nid = \"seq\"\nplugin = \"seq_source\"\n[adapters.config]\nstreets = true\n" + options + "\n";
}

FeedClientOptions options(const fs::path& dir, std::uint64_t from) {
    FeedClientOptions o;
    o.feed_endpoint = "ipc://" + (dir / "var/feed.sock").string();
    o.snapshot_endpoint = "ipc://" + (dir / "var/snapshot.sock").string();
    o.start = FeedClientOptions::Start::from_seq;
    o.from = from;
    return o;
}

long long head(const fs::path& db) { return query_int(db, "SELECT coalesce(max(seq), 0) FROM events"); }
long long records_in(const fs::path& db) {
    return query_int(db, "SELECT coalesce(max(records_in), 0) FROM adapter_counters WHERE adapter='seq'");
}

// Reads the feed on its own thread, keeping every delivered seq and each case's last state.
struct Consumer {
    std::unique_ptr<FeedClient> client;
    std::thread thread;
    std::atomic<bool> stop{false}, paused{false};
    std::mutex mu;
    std::vector<std::uint64_t> seqs;
    std::map<std::string, std::pair<std::uint64_t, std::string>> cases;  // case_id -> (seq, doc)
    std::int64_t max_lag_ms = 0;  // receive time minus commit time, live events only

    Consumer(zmq::context_t& ctx, FeedClientOptions o) {
        auto c = FeedClient::connect(ctx, std::move(o));
        REQUIRE(c.ok());
        client = std::move(*c);
        thread = std::thread([this] {
            FeedEvent e;
            while (!stop) {
                if (paused) {
                    std::this_thread::sleep_for(5ms);
                    continue;
                }
                if (!client->next(e, 100ms)) continue;
                const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch()).count();
                std::lock_guard lk(mu);
                seqs.push_back(e.row.seq);
                cases[e.row.case_id] = {e.row.seq, e.row.doc};
                if (e.source == FeedEvent::Source::live) max_lag_ms = std::max(max_lag_ms, now - e.row.at);
            }
        });
    }
    ~Consumer() { finish(); }
    void finish() {
        stop = true;
        if (thread.joinable()) thread.join();
    }
    std::uint64_t last() {
        std::lock_guard lk(mu);
        return seqs.empty() ? 0 : seqs.back();
    }
};

// Every seq from first to last exactly once, in order.
void require_dense(const std::vector<std::uint64_t>& seqs, std::uint64_t first, std::uint64_t last) {
    REQUIRE(!seqs.empty());
    CHECK(seqs.front() == first);
    CHECK(seqs.back() == last);
    std::size_t gaps = 0, dups = 0;
    for (std::size_t i = 1; i < seqs.size(); ++i) {
        if (seqs[i] <= seqs[i - 1]) ++dups;
        else if (seqs[i] != seqs[i - 1] + 1) ++gaps;
    }
    CHECK(gaps == 0);
    CHECK(dups == 0);
    CHECK(seqs.size() == last - first + 1);
}

}  // namespace

TEST_CASE("a consumer from seq 0 ends with the same case states as export while casehubd is killed and restarted",
          "[integration]") {
    TempDir dir;
    zmq::context_t ctx(1);
    Hub hub(dir.path, hub_toml_uncorrelated(seq_adapter("count = 1500\nrate_per_second = 300\nmix = true")));
    hub.start();
    Consumer consumer(ctx, options(dir.path, 0));
    for (int round = 0; round < 2; ++round) {
        const long long before = std::max(0LL, head(hub.db()));
        REQUIRE(wait_until([&] { return head(hub.db()) > before + 150; }, 20s));
        hub.kill9();
        std::this_thread::sleep_for(300ms);
        hub.start();
    }
    // 1500 numbers: 2100 records, of which 1650 applied = 1650 events.
    REQUIRE(wait_until([&] { return records_in(hub.db()) >= 2100; }, 40s));
    const auto final_head = static_cast<std::uint64_t>(head(hub.db()));
    CHECK(final_head == 1650);
    REQUIRE(wait_until([&] { return consumer.last() >= final_head; }, 20s));
    consumer.finish();

    auto exported = casehub_cli(dir.path, {"export", "--format", "jsonl"});
    REQUIRE(exported.exit_code == 0);
    std::map<std::string, std::string> states;
    std::istringstream lines(exported.output);
    for (std::string line; std::getline(lines, line);) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_object() && j.contains("case_id")) states[j["case_id"]] = j.dump();
    }
    REQUIRE(states.size() == 1350);  // 1500 numbers less 150 invalid
    std::lock_guard lk(consumer.mu);
    require_dense(consumer.seqs, 1, final_head);
    REQUIRE(consumer.cases.size() == states.size());
    std::size_t differ = 0;
    for (const auto& [id, st] : consumer.cases)
        if (nlohmann::json::parse(st.second).dump() != states[id]) ++differ;
    CHECK(differ == 0);
    INFO("gaps re-synced: " << consumer.client->counters().gaps_detected);
}

TEST_CASE("a consumer that stops reading for 30 s recovers by replay and does not delay another", "[integration]") {
    TempDir dir;
    zmq::context_t ctx(1);
    // A small per-subscriber queue at the hub: the sleeping consumer must overflow it.
    auto toml = hub_toml_uncorrelated(seq_adapter("count = 7000\nrate_per_second = 200\nbatch_size = 10"));
    toml.replace(toml.find("[hub]\n"), 6, "[hub]\nfeed_hwm = 500\n");
    Hub hub(dir.path, toml);
    hub.start();
    auto slow_opts = options(dir.path, 0);
    slow_opts.rcvhwm = 100;  // it will overflow and lose live messages while it sleeps
    Consumer slow(ctx, slow_opts);
    Consumer fast(ctx, options(dir.path, 0));
    REQUIRE(wait_until([&] { return slow.last() > 100 && fast.last() > 100; }, 20s));
    slow.paused = true;
    const auto paused_at = slow.last();
    std::this_thread::sleep_for(30s);
    const auto head_during = static_cast<std::uint64_t>(head(hub.db()));
    CHECK(head_during > paused_at + 5000);  // ~6000 events flowed meanwhile
    // The fast consumer kept up the whole time: no live event reached it late.
    {
        std::lock_guard lk(fast.mu);
        CHECK(fast.max_lag_ms < 2000);  // a stalled reader would make it tens of seconds
        CHECK(fast.seqs.back() + 200 >= head_during);
    }
    slow.paused = false;
    REQUIRE(wait_until([&] { return records_in(hub.db()) >= 7000; }, 30s));
    const auto final_head = static_cast<std::uint64_t>(head(hub.db()));
    REQUIRE(wait_until([&] { return slow.last() >= final_head && fast.last() >= final_head; }, 30s));
    slow.finish();
    fast.finish();
    require_dense(slow.seqs, 1, final_head);
    require_dense(fast.seqs, 1, final_head);
    CHECK(slow.client->counters().gaps_detected >= 1);  // it did fall behind, and noticed
    CHECK(slow.client->counters().replayed > 0);
    CHECK(hub.terminate() == 0);
}

TEST_CASE("a street command center receives every event of its street and none of another", "[integration]") {
    TempDir dir;
    zmq::context_t ctx(1);
    Hub hub(dir.path, hub_toml_uncorrelated(seq_adapter("count = 600\nrate_per_second = 600")));
    hub.start();
    auto o = options(dir.path, 0);
    o.filter.street = "320104009";
    Consumer street(ctx, o);
    REQUIRE(wait_until([&] { return records_in(hub.db()) >= 600; }, 20s));
    const auto expected = query(hub.db(), "SELECT seq FROM events WHERE street_code='320104009' ORDER BY seq");
    REQUIRE(expected.size() == 200);  // one in three records
    REQUIRE(wait_until([&] { return street.last() >= std::stoull(expected.back()); }, 10s));
    std::this_thread::sleep_for(300ms);
    street.finish();
    std::vector<std::string> got;
    for (auto s : street.seqs) got.push_back(std::to_string(s));
    CHECK(got == expected);
    for (const auto& [id, st] : street.cases)
        CHECK(nlohmann::json::parse(st.second)["location"]["street_code"] == "320104009");
}
