// The unified feed over real sockets (ipc:// in a temp dir) and a real SQLite file in WAL mode,
// filled with synthetic events whose seq is dense. A simulated hub thread commits batches,
// then publishes them and sends heartbeats, exactly as casehubd does.
#include "common/json_dump.hpp"
#include "feed/feed.hpp"
#include "feed/store_read.hpp"
#include "feed/wire.hpp"
#include "store/store.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sqlite3.h>
#include <zmq.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace casehub::host;
using namespace std::chrono_literals;
namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        std::string t = (fs::temp_directory_path() / "chfeed-XXXXXX").string();
        path = ::mkdtemp(t.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string ipc(const std::string& name) const { return "ipc://" + (path / name).string(); }
};

// The schema of host/store/events.hpp.
constexpr const char* kSchema = R"sql(
CREATE TABLE events (
  seq INTEGER PRIMARY KEY, case_id TEXT NOT NULL, type TEXT NOT NULL, street_code TEXT NOT NULL,
  prev_street_seq INTEGER NOT NULL, community_code TEXT NOT NULL, grid_code TEXT NOT NULL,
  category_family TEXT NOT NULL, status TEXT NOT NULL, at INTEGER NOT NULL, detail TEXT NOT NULL,
  doc BLOB NOT NULL);
CREATE INDEX events_street_block ON events(seq >> 8, street_code);
CREATE TABLE cases (case_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL,
  street_code TEXT NOT NULL, community_code TEXT NOT NULL, grid_code TEXT NOT NULL,
  category_code TEXT NOT NULL, category_family TEXT NOT NULL, priority TEXT NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, merged_into TEXT,
  doc BLOB NOT NULL);
)sql";

const std::vector<std::string> kStreets = {"320104001", "320104002", "320104003", "320104004", "320104005",
                                           "320104006", "320104007", "320104008", "320104009", "320104010",
                                           "320104011", "320104012", ""};
const char* const kFamilies[] = {"city_appearance", "noise", "traffic", "environment"};
const char* const kLifecycle[] = {"reported", "dispatched", "processing", "resolved", "closed"};

void exec(sqlite3* db, const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = err ? err : "?";
        sqlite3_free(err);
        FAIL("sqlite: " << m << " in " << sql);
    }
}

// The store as the pipeline leaves it: events with dense seq, cases with their current state.
// Cases stay in one street; each lives 5 events (reported ... closed).
class TestStore {
public:
    explicit TestStore(const fs::path& file, std::size_t pad = 200) : pad_(pad) {
        REQUIRE(sqlite3_open(file.c_str(), &db_) == SQLITE_OK);
        sqlite3_busy_timeout(db_, 5000);
        exec(db_, "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;");
        exec(db_, kSchema);
        REQUIRE(sqlite3_prepare_v2(db_,
                                   "INSERT INTO events VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                                   -1, &ins_event_, nullptr) == SQLITE_OK);
        REQUIRE(sqlite3_prepare_v2(db_,
                                   "INSERT INTO cases VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'general', ?9, ?9, NULL, ?10) "
                                   "ON CONFLICT(case_id) DO UPDATE SET seq = excluded.seq, status = excluded.status, "
                                   "updated_at = excluded.updated_at, doc = excluded.doc",
                                   -1, &upsert_case_, nullptr) == SQLITE_OK);
    }
    ~TestStore() {
        sqlite3_finalize(ins_event_);
        sqlite3_finalize(upsert_case_);
        sqlite3_close(db_);
    }

    // Commits n new events in one transaction (from one thread at a time).
    std::vector<EventRow> append(std::size_t n) {
        std::vector<EventRow> rows;
        exec(db_, "BEGIN IMMEDIATE");
        for (std::size_t i = 0; i < n; ++i) rows.push_back(add_one());
        exec(db_, "COMMIT");
        std::lock_guard lk(mu_);
        all_.insert(all_.end(), rows.begin(), rows.end());
        return rows;
    }

    std::uint64_t head() const {
        std::lock_guard lk(mu_);
        return all_.empty() ? 0 : all_.back().seq;
    }
    std::map<std::string, std::uint64_t> streets() const {
        std::lock_guard lk(mu_);
        return last_street_;
    }
    std::vector<EventRow> events() const {
        std::lock_guard lk(mu_);
        return all_;
    }

private:
    EventRow add_one() {
        // Pick a case: a new one now and then (or when none is active), else an active one.
        int idx;
        if (active_.empty() || rng_() % 4 == 0) {
            idx = next_case_++;
            active_.push_back(idx);
        } else {
            idx = active_[rng_() % active_.size()];
        }
        const int k = case_events_[idx]++;
        EventRow e;
        {
            std::lock_guard lk(mu_);
            e.seq = ++seq_;
            const std::string street = kStreets[static_cast<std::size_t>(idx) % kStreets.size()];
            e.street_code = street;
            auto& last = last_street_[street];
            e.prev_street_seq = last;
            last = e.seq;
        }
        char id[32];
        std::snprintf(id, sizeof id, "C20260309-%06d", idx);
        e.case_id = id;
        e.type = k == 0 ? "created" : (k % 2 ? "status_changed" : "updated");
        e.community_code = e.street_code.empty() ? "" : e.street_code + "00" + std::to_string(idx % 9 + 1);
        e.grid_code = e.community_code.empty() ? "" : e.community_code + "0" + std::to_string(idx % 7 + 1);
        e.category_family = kFamilies[idx % 4];
        e.status = kLifecycle[std::min(k, 4)];
        e.at = 1773017000000 + static_cast<std::int64_t>(e.seq) * 1000;
        e.detail = json{{"n", k}}.dump();
        json doc = {{"schema", "casehub.case/1"},
                    {"case_id", e.case_id},
                    {"seq", e.seq},
                    {"title", "title " + e.case_id},
                    {"status", e.status},
                    {"category", {{"code", e.category_family + ".sample"}}},
                    {"location",
                     {{"street_code", e.street_code.empty() ? json(nullptr) : json(e.street_code)},
                      {"community_code", e.community_code},
                      {"grid_code", e.grid_code},
                      {"address", "秦淮区某路" + std::to_string(idx) + "号"}}},
                    {"sources", {{{"system", "dcm"}, {"record_id", "R" + std::to_string(idx)}, {"version", std::to_string(k)},
                                  {"status", e.status}, {"status_native", "n"}}}},
                    {"pad", std::string(pad_, 'x')}};
        e.doc = doc.dump();
        if (k >= 4) active_.erase(std::find(active_.begin(), active_.end(), idx));

        sqlite3_stmt* s = ins_event_;
        sqlite3_bind_int64(s, 1, static_cast<sqlite3_int64>(e.seq));
        sqlite3_bind_text(s, 2, e.case_id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, e.type.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, e.street_code.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 5, static_cast<sqlite3_int64>(e.prev_street_seq));
        sqlite3_bind_text(s, 6, e.community_code.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 7, e.grid_code.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 8, e.category_family.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 9, e.status.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 10, e.at);
        sqlite3_bind_text(s, 11, e.detail.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(s, 12, e.doc.data(), static_cast<int>(e.doc.size()), SQLITE_TRANSIENT);
        REQUIRE(sqlite3_step(s) == SQLITE_DONE);
        sqlite3_reset(s);

        s = upsert_case_;
        const std::string category_code = e.category_family + ".sample";
        sqlite3_bind_text(s, 1, e.case_id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(e.seq));
        sqlite3_bind_text(s, 3, e.status.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 4, e.street_code.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 5, e.community_code.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 6, e.grid_code.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 7, category_code.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 8, e.category_family.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(s, 9, e.at);
        sqlite3_bind_blob(s, 10, e.doc.data(), static_cast<int>(e.doc.size()), SQLITE_TRANSIENT);
        REQUIRE(sqlite3_step(s) == SQLITE_DONE);
        sqlite3_reset(s);
        return e;
    }

    sqlite3* db_ = nullptr;
    sqlite3_stmt *ins_event_ = nullptr, *upsert_case_ = nullptr;
    std::size_t pad_;
    mutable std::mutex mu_;
    std::vector<EventRow> all_;
    std::map<std::string, std::uint64_t> last_street_;
    std::uint64_t seq_ = 0;
    std::map<int, int> case_events_;
    std::vector<int> active_;
    int next_case_ = 0;
    std::minstd_rand rng_{42};
};

// casehubd's part: commit a batch, publish it (minus the `drop`ped events: committed but lost on
// the way, as at a subscriber's HWM or in a crash between commit and publish), heartbeat.
class HubSim {
public:
    struct Plan {
        int batches = 0;
        std::size_t batch = 0;
        std::chrono::milliseconds pause{0};
        std::function<bool(std::uint64_t)> drop;
        bool wait_go = false;  // publish only after go()
    };

    HubSim(TestStore& store, zmq::context_t& ctx, const std::string& endpoint, PublisherOptions po = {},
           std::chrono::milliseconds hb = 100ms)
        : store_(store), hb_(hb) {
        auto p = FeedPublisher::create(ctx, endpoint, po);
        REQUIRE(p.ok());
        pub_ = std::move(*p);
    }
    ~HubSim() { stop(); }

    void start(Plan plan) {
        thread_ = std::thread([this, plan] { run(plan); });
    }
    void go() { go_ = true; }
    const FeedPublisher& publisher() const { return *pub_; }  // after stop()
    void silence(bool s) { silent_ = s; }
    bool done() const { return done_; }
    Clock::time_point last_publish() const {
        return Clock::time_point(Clock::duration(last_publish_.load()));
    }
    void stop() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
    }
    bool wait_done(std::chrono::milliseconds limit) const {
        const auto until = Clock::now() + limit;
        while (!done_ && Clock::now() < until) std::this_thread::sleep_for(5ms);
        return done_;
    }

private:
    void beat() {
        if (!silent_) pub_->heartbeat(store_.head(), store_.streets());
    }
    void run(Plan plan) {
        auto next_hb = Clock::now();
        int left = plan.batches;
        if (left == 0) done_ = true;
        while (!stop_) {
            if (Clock::now() >= next_hb) {
                beat();
                next_hb = Clock::now() + hb_;
            }
            if (left > 0 && (go_ || !plan.wait_go)) {
                auto rows = store_.append(plan.batch);
                if (plan.drop) rows.erase(std::remove_if(rows.begin(), rows.end(), [&](const EventRow& e) { return plan.drop(e.seq); }), rows.end());
                pub_->publish(rows);
                last_publish_ = Clock::now().time_since_epoch().count();
                if (--left == 0) {
                    beat();  // as casehubd would within a second
                    done_ = true;
                }
                std::this_thread::sleep_for(plan.pause);
            } else {
                std::this_thread::sleep_for(5ms);
            }
        }
    }

    TestStore& store_;
    std::chrono::milliseconds hb_;
    std::unique_ptr<FeedPublisher> pub_;
    std::thread thread_;
    std::atomic<bool> stop_{false}, go_{false}, done_{false}, silent_{false};
    std::atomic<Clock::rep> last_publish_{0};
};

struct Fixture {
    TempDir dir;
    zmq::context_t ctx{1};
    std::unique_ptr<TestStore> store;
    std::unique_ptr<ReplayServer> replay;
    std::string feed_ep, snap_ep;

    explicit Fixture(std::size_t pad = 200, ReplayOptions ro = {}) {
        feed_ep = dir.ipc("feed.sock");
        snap_ep = dir.ipc("snapshot.sock");
        store = std::make_unique<TestStore>(dir.path / "casehub.db", pad);
        auto r = ReplayServer::start(ctx, dir.path / "casehub.db", snap_ep, ro);
        REQUIRE(r.ok());
        replay = std::move(*r);
    }
    ~Fixture() {
        if (replay) replay->stop();
    }
    FeedClientOptions client(FeedClientOptions::Start start = FeedClientOptions::Start::from_seq, std::uint64_t from = 0) const {
        FeedClientOptions o;
        o.feed_endpoint = feed_ep;
        o.snapshot_endpoint = snap_ep;
        o.start = start;
        o.from = from;
        return o;
    }
};

std::vector<std::uint64_t> seqs_of(const std::vector<EventRow>& rows) {
    std::vector<std::uint64_t> s;
    for (const auto& r : rows) s.push_back(r.seq);
    return s;
}

std::vector<std::uint64_t> iota(std::uint64_t from, std::uint64_t to) {
    std::vector<std::uint64_t> v;
    for (auto i = from; i <= to; ++i) v.push_back(i);
    return v;
}

// Reads events until `enough` or the time limit.
std::vector<FeedEvent> collect(FeedClient& c, const std::function<bool(const std::vector<FeedEvent>&)>& enough,
                               std::chrono::milliseconds limit) {
    std::vector<FeedEvent> got;
    const auto until = Clock::now() + limit;
    FeedEvent ev;
    while (!enough(got) && Clock::now() < until)
        if (c.next(ev, 20ms)) got.push_back(std::move(ev));
    return got;
}

std::vector<std::uint64_t> seqs_of(const std::vector<FeedEvent>& evs) {
    std::vector<std::uint64_t> s;
    for (const auto& e : evs) s.push_back(e.row.seq);
    return s;
}

struct Run {
    int rc = -1;
    std::string out;
};

Run run(const std::string& cmd) {
    Run r;
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p);
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int st = ::pclose(p);
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::vector<std::string> lines_of(const std::string& s) {
    std::vector<std::string> out;
    std::istringstream in(s);
    for (std::string l; std::getline(in, l);)
        if (!l.empty()) out.push_back(l);
    return out;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("feed wire: topics, event header round trip, filters", "[integration]") {
    CHECK(event_topic("320104002") == "ev.320104002.");
    CHECK(event_topic("") == "ev.-.");
    CHECK(case_topic("") == "case.-.");
    EventRow e;
    e.seq = 42;
    e.case_id = "C20260309-000001";
    e.type = "created";
    e.street_code = "320104002";
    e.prev_street_seq = 17;
    e.community_code = "320104002005";
    e.grid_code = "32010400200508";
    e.category_family = "city_appearance";
    e.status = "reported";
    e.at = 1773017000123;
    e.detail = R"({"why":"new record"})";
    const json h = event_header(e);
    CHECK(h["detail"]["why"] == "new record");
    auto back = parse_event(h.dump(), "{\"x\":1}");
    REQUIRE(back.ok());
    CHECK(back->seq == 42);
    CHECK(back->prev_street_seq == 17);
    CHECK(back->at == e.at);
    CHECK(json::parse(back->detail) == json::parse(e.detail));
    CHECK(back->doc == "{\"x\":1}");
    auto bad = parse_event(R"({"seq":-1})", "");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "feed event header: \"seq\" missing or of the wrong type");

    FeedFilter f;
    CHECK(f.topic() == "ev.");
    f.street = "320104002";
    f.family = "noise";
    CHECK(f.topic() == "ev.320104002.");
    CHECK(f.to_json() == json{{"street", "320104002"}, {"family", "noise"}});
    CHECK_FALSE(f.matches(e));
    e.category_family = "noise";
    CHECK(f.matches(e));
    auto g = FeedFilter::from_json(json{{"street", 5}});
    REQUIRE_FALSE(g.ok());
    CHECK(g.error().message == "filter \"street\" must be a string, got 5");
}

TEST_CASE("replay: since N gives exactly the rows after N, in order, page by page, filtered", "[integration]") {
    Fixture fx;
    for (int i = 0; i < 10; ++i) fx.store->append(100);
    const auto all = fx.store->events();
    ReplayClient rc(fx.ctx, fx.snap_ep);

    SECTION("paging through everything after 137, one event a message or packed") {
      for (const bool packed : {false, true}) {
        INFO("packed " << packed);
        std::vector<EventRow> got;
        std::uint64_t from = 137;
        int pages = 0;
        for (;;) {
            REQUIRE(++pages < 20);
            auto p = rc.request({{"op", "since"}, {"seq", from}, {"limit", 300}, {"pack", packed}}, 2s);
            REQUIRE(p.ok());
            CHECK(p->end["head"] == 1000);
            CHECK(p->events.size() <= 300);
            got.insert(got.end(), p->events.begin(), p->events.end());
            from = p->end["upto"].get<std::uint64_t>();
            if (!p->end["more"].get<bool>()) break;
            CHECK(from == got.back().seq);
        }
        CHECK(pages == 3);
        CHECK(from == 1000);
        REQUIRE(seqs_of(got) == iota(138, 1000));
        for (std::size_t i = 0; i < got.size(); ++i) {
            const auto& want = all[137 + i];
            REQUIRE(got[i].doc == want.doc);
            REQUIRE(got[i].case_id == want.case_id);
            REQUIRE(got[i].prev_street_seq == want.prev_street_seq);
            REQUIRE(got[i].status == want.status);
            REQUIRE(got[i].at == want.at);
            REQUIRE(json::parse(got[i].detail) == json::parse(want.detail));
        }
      }
    }
    SECTION("the tail, nothing new, a client ahead of the store") {
        auto p = rc.request({{"op", "since"}, {"seq", 990}}, 2s);
        REQUIRE(p.ok());
        CHECK(seqs_of(p->events) == iota(991, 1000));
        CHECK(p->end == json{{"end", true}, {"upto", 1000}, {"head", 1000}, {"more", false}, {"count", 10}, {"req", 1}});
        p = rc.request({{"op", "since"}, {"seq", 1000}}, 2s);
        REQUIRE(p.ok());
        CHECK(p->events.empty());
        CHECK(p->end["upto"] == 1000);
        p = rc.request({{"op", "since"}, {"seq", 5000}}, 2s);
        REQUIRE(p.ok());
        CHECK(p->end["upto"] == 5000);
        CHECK(p->end["more"] == false);
        p = rc.request({{"op", "head"}}, 2s);
        REQUIRE(p.ok());
        CHECK(p->end["head"] == 1000);
    }
    SECTION("filters: exact match, street '' is 'no street', upto covers what was scanned") {
        for (const json& filter : {json{{"street", "320104003"}}, json{{"street", ""}},
                                   json{{"street", "320104005"}, {"family", "city_appearance"}},
                                   json{{"status", "closed"}}, json{{"community", "3201040010011"}},
                                   json{{"grid", "32010400200330"}}}) {
            FeedFilter f = *FeedFilter::from_json(filter);
            std::vector<std::uint64_t> want;
            for (const auto& e : all)
                if (e.seq > 100 && f.matches(e)) want.push_back(e.seq);
            std::vector<EventRow> got;
            std::uint64_t from = 100;
            for (int pages = 0; pages < 50; ++pages) {
                json req = filter;
                req["op"] = "since";
                req["seq"] = from;
                req["limit"] = 25;
                auto p = rc.request(req, 2s);
                REQUIRE(p.ok());
                got.insert(got.end(), p->events.begin(), p->events.end());
                from = p->end["upto"].get<std::uint64_t>();
                if (!p->end["more"].get<bool>()) break;
            }
            INFO(filter.dump());
            CHECK(from == 1000);
            CHECK(seqs_of(got) == want);
            for (const auto& e : got) CHECK(f.matches(e));
        }
    }
    SECTION("bad requests get one-line errors") {
        zmq::socket_t d(fx.ctx, zmq::socket_type::dealer);
        d.set(zmq::sockopt::linger, 0);
        d.connect(fx.snap_ep);
        auto ask = [&](const std::string& body) {
            d.send(zmq::buffer(body));
            std::vector<zmq::message_t> frames;
            zmq::pollitem_t it{d.handle(), 0, ZMQ_POLLIN, 0};
            zmq::poll(&it, 1, std::chrono::milliseconds(2000));
            zmq::message_t m;
            REQUIRE(d.recv(m, zmq::recv_flags::dontwait));
            REQUIRE(m.to_string() == "error");
            REQUIRE(m.more());
            zmq::message_t h;
            REQUIRE(d.recv(h));
            CHECK_FALSE(h.more());
            return json::parse(h.to_string());
        };
        CHECK(ask("nope") == json{{"error", "request is not valid JSON"}, {"code", "bad_request"}});
        CHECK(ask("[1]")["error"] == "request must be a JSON object, got array");
        CHECK(ask(R"({"op":"drop","req":7})") ==
              json{{"error", "unknown op \"drop\" (since, snapshot, case or head)"}, {"code", "bad_request"}, {"req", 7}});
        CHECK(ask(R"({"op":"since"})")["error"] == "since request: \"seq\" is missing");
        CHECK(ask(R"({"op":"since","seq":-1})")["error"] == "since request: \"seq\" must be a non-negative integer, got -1");
        CHECK(ask(R"({"op":"since","seq":0,"limit":0})")["error"] == "since request: \"limit\" must be at least 1");
        CHECK(ask(R"({"op":"since","seq":0,"streeet":"x"})")["error"] ==
              "since request: unknown key \"streeet\" (known: op, req, seq, limit, pack, street, community, grid, family, "
              "status)");
        CHECK(ask(R"({"op":"since","seq":0,"pack":1})")["error"] == "since request: \"pack\" must be true or false, got 1");
        CHECK(ask(R"({"op":"snapshot","pack":true})")["error"].get<std::string>().rfind(
                  "snapshot request: unknown key \"pack\"", 0) == 0);
        CHECK(ask(R"({"op":"snapshot","street":3})")["error"] == "snapshot request: filter \"street\" must be a string, got 3");
        CHECK(ask(R"({"op":"case","case_id":"C1"})") ==
              json{{"error", "case \"C1\" not found"}, {"code", "not_found"}});
        CHECK(ask(R"({"op":"snapshot","include_closed":1})")["error"] ==
              "snapshot request: \"include_closed\" must be true or false, got 1");
        // A REQ-style empty delimiter is echoed back.
        d.send(zmq::str_buffer(""), zmq::send_flags::sndmore);
        d.send(zmq::str_buffer(R"({"op":"head"})"));
        zmq::pollitem_t it{d.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&it, 1, std::chrono::milliseconds(2000));
        zmq::message_t m;
        REQUIRE(d.recv(m, zmq::recv_flags::dontwait));
        CHECK(m.size() == 0);
        REQUIRE(d.recv(m));
        CHECK(m.to_string() == "end");
        REQUIRE(d.recv(m));
        CHECK(json::parse(m.to_string()) == json{{"end", true}, {"head", 1000}, {"seq", 1000}});
    }
    CHECK(fx.replay->stats().requests > 0);
}

TEST_CASE("feed wire: an events pack reads back as the events, and a cut one names where", "[unit]") {
    std::vector<EventRow> in(3);
    for (std::size_t i = 0; i < in.size(); ++i) {
        in[i].seq = 10 + i;
        in[i].type = "created";
        in[i].case_id = "C";
        in[i].case_id += std::to_string(i);
        in[i].street_code = i == 1 ? "" : "320104002";
        in[i].status = "reported";
        in[i].at = 1773017000000 + static_cast<std::int64_t>(i);
        in[i].doc = i == 2 ? "" : std::string(300 * (i + 1), 'x');
    }
    in[0].detail = R"({"why":"新案件","score":4.42})";
    in[1].detail = R"({ "b" : 1, "a" : [1.50, "x"] })";  // not canonical: the DOM path writes and reads it
    std::string pack;
    std::vector<std::size_t> ends;
    for (const auto& e : in) {
        append_to_pack(pack, event_header_text(e), e.doc);
        ends.push_back(pack.size());
    }
    std::vector<EventRow> out;
    REQUIRE(parse_event_pack(pack, out).ok());
    REQUIRE(out.size() == in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        auto one = parse_event(event_header_text(in[i]), in[i].doc);  // as a three-frame event reads
        REQUIRE(one.ok());
        CHECK(out[i].seq == one->seq);
        CHECK(out[i].case_id == one->case_id);
        CHECK(out[i].street_code == one->street_code);
        CHECK(out[i].at == one->at);
        CHECK(out[i].detail == one->detail);
        CHECK(out[i].doc == in[i].doc);
    }
    out.clear();
    REQUIRE(parse_event_pack("", out).ok());
    CHECK(out.empty());
    // Cut anywhere: whole events before the cut, then an error naming the event and its byte;
    // cut exactly between two events, a shorter pack.
    for (std::size_t n = 1; n < pack.size(); ++n) {
        out.clear();
        const auto r = parse_event_pack(std::string_view(pack).substr(0, n), out);
        const auto whole = static_cast<std::size_t>(std::upper_bound(ends.begin(), ends.end(), n) - ends.begin());
        INFO("cut at " << n);
        REQUIRE(out.size() == whole);
        if (std::find(ends.begin(), ends.end(), n) != ends.end()) {
            CHECK(r.ok());
            continue;
        }
        REQUIRE_FALSE(r.ok());
        const std::size_t start = whole == 0 ? 0 : ends[whole - 1];
        CHECK(r.error().message == "replay events pack of " + std::to_string(n) + " bytes: event " + std::to_string(whole) +
                                       " at byte " + std::to_string(start) + " is cut short");
    }
    // A header that is not an event header.
    std::string bad;
    append_to_pack(bad, event_header_text(in[0]), in[0].doc);
    append_to_pack(bad, R"({"seq":"x"})", "");
    out.clear();
    const auto r = parse_event_pack(bad, out);
    REQUIRE_FALSE(r.ok());
    CHECK(out.size() == 1);
    CHECK(r.error().message == "replay events pack: event 1 at byte " + std::to_string(ends[0]) +
                                   ": feed event header: \"seq\" missing or of the wrong type");
}

TEST_CASE("replay: a packed answer holds the same events in a few messages of about pack_bytes", "[integration]") {
    ReplayOptions ro;
    ro.pack_bytes = 128u << 10;  // below the default, so a thousand small events fill several
    Fixture fx(2000, ro);
    fx.store->append(1000);
    const auto all = fx.store->events();
    zmq::socket_t d(fx.ctx, zmq::socket_type::dealer);
    d.set(zmq::sockopt::linger, 0);
    d.connect(fx.snap_ep);
    d.send(zmq::str_buffer(R"({"op":"since","seq":0,"limit":1000,"pack":true,"req":3})"));
    std::vector<EventRow> got;
    std::size_t packs = 0, biggest = 0;
    json end;
    const auto deadline = Clock::now() + 5s;
    while (end.is_null() && Clock::now() < deadline) {
        zmq::pollitem_t it{d.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&it, 1, std::chrono::milliseconds(500));
        std::vector<zmq::message_t> frames;
        zmq::message_t m;
        while (d.recv(m, zmq::recv_flags::dontwait)) {
            frames.push_back(std::move(m));
            while (frames.back().more()) {
                REQUIRE(d.recv(m));
                frames.push_back(std::move(m));
            }
            REQUIRE(frames.size() == 2);
            const std::string topic = frames[0].to_string();
            if (topic == "end") {
                end = json::parse(frames[1].to_string());
                break;
            }
            REQUIRE(topic == "evs");  // never one event a message
            ++packs;
            biggest = std::max(biggest, frames[1].size());
            REQUIRE(parse_event_pack(frames[1].to_string_view(), got).ok());
            frames.clear();
        }
    }
    REQUIRE(end.is_object());
    CHECK(end == json{{"end", true}, {"upto", 1000}, {"head", 1000}, {"more", false}, {"count", 1000}, {"req", 3}});
    REQUIRE(seqs_of(got) == iota(1, 1000));
    // Each pack but the last is closed by the event that takes it to ro.pack_bytes.
    std::size_t bytes = 0, filling = 0, want_packs = 0, largest_event = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        REQUIRE(got[i].doc == all[i].doc);
        REQUIRE(got[i].case_id == all[i].case_id);
        REQUIRE(got[i].prev_street_seq == all[i].prev_street_seq);
        const std::size_t sz = 8 + event_header_text(all[i]).size() + all[i].doc.size();
        bytes += sz;
        largest_event = std::max(largest_event, sz);
        if ((filling += sz) >= ro.pack_bytes) ++want_packs, filling = 0;
    }
    if (filling > 0) ++want_packs;
    CHECK(bytes > 8 * ro.pack_bytes);
    CHECK(packs == want_packs);
    CHECK(biggest >= ro.pack_bytes);
    CHECK(biggest < ro.pack_bytes + largest_event);
}

TEST_CASE("replay: details from the store's detail_canonical_from on go out as stored, older ones are checked",
          "[integration]") {
    Fixture fx;
    fx.store->append(4);
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((fx.dir.path / "casehub.db").c_str(), &db) == SQLITE_OK);
    // Not what a hub stores (it re-dumps such a detail on append): here it shows which rows the
    // server checks. Rows 1 and 2 are before the key's seq, rows 3 and 4 from it on.
    exec(db, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
             "INSERT INTO meta VALUES('detail_canonical_from', '3');"
             "UPDATE events SET detail = '{ \"b\" : 1, \"a\" : 2 }';");
    sqlite3_close(db);
    zmq::socket_t d(fx.ctx, zmq::socket_type::dealer);
    d.set(zmq::sockopt::linger, 0);
    d.set(zmq::sockopt::rcvtimeo, 5000);
    d.connect(fx.snap_ep);
    d.send(zmq::str_buffer(R"({"op":"since","seq":0})"));
    std::map<std::uint64_t, std::string> detail_text;  // seq -> the detail as it is in the header
    for (;;) {
        std::vector<zmq::message_t> frames;
        do {
            zmq::message_t m;
            REQUIRE(d.recv(m));
            frames.push_back(std::move(m));
        } while (frames.back().more());
        REQUIRE(frames.size() >= 2);
        if (frames[0].to_string() == "end") break;
        const std::string h = frames[1].to_string();
        const auto at = h.find("\"detail\":") + 9, end = h.find(",\"grid_code\"");
        detail_text[json::parse(h).at("seq").get<std::uint64_t>()] = h.substr(at, end - at);
    }
    REQUIRE(detail_text.size() == 4);
    CHECK(detail_text[1] == R"({"a":2,"b":1})");
    CHECK(detail_text[2] == R"({"a":2,"b":1})");
    CHECK(detail_text[3] == R"({ "b" : 1, "a" : 2 })");
    CHECK(detail_text[4] == R"({ "b" : 1, "a" : 2 })");
}

TEST_CASE("replay: the limit is capped and a page stops at its byte budget", "[integration]") {
    ReplayOptions ro;
    ro.max_limit = 50;
    ro.max_page_bytes = 5000;
    Fixture fx(200, ro);
    fx.store->append(300);
    ReplayClient rc(fx.ctx, fx.snap_ep);
    auto p = rc.request({{"op", "since"}, {"seq", 0}, {"limit", 100000}}, 2s);
    REQUIRE(p.ok());
    CHECK(p->events.size() < 50);  // the bytes stop it first (~500 bytes a document)
    CHECK(p->events.size() >= 5);
    CHECK(p->end["more"] == true);
    CHECK(p->end["upto"] == p->events.back().seq);
    CHECK(seqs_of(p->events) == iota(1, p->events.size()));
}

TEST_CASE("snapshot: the open cases, consistent with one seq, while the hub writes", "[integration]") {
    Fixture fx;
    fx.store->append(400);
    ReplayClient rc(fx.ctx, fx.snap_ep);

    // A writer keeps committing while snapshots are taken.
    std::atomic<bool> stop{false};
    std::thread writer([&] {
        for (int i = 0; i < 400 && !stop; ++i) {
            fx.store->append(10);
            std::this_thread::sleep_for(1ms);
        }
    });
    std::vector<std::pair<std::uint64_t, std::map<std::string, std::uint64_t>>> snaps;
    for (int i = 0; i < 6; ++i) {
        auto p = rc.request({{"op", "snapshot"}}, 3s);
        REQUIRE(p.ok());
        CHECK(p->end["more"] == false);
        std::map<std::string, std::uint64_t> got;
        for (const auto& c : p->cases) {
            CHECK(is_open_status(c.status));
            got[c.case_id] = c.seq;
        }
        snaps.emplace_back(p->end["seq"].get<std::uint64_t>(), std::move(got));
        std::this_thread::sleep_for(20ms);
    }
    stop = true;
    writer.join();
    const auto all = fx.store->events();
    for (const auto& [seq, got] : snaps) {
        // The state at `seq`, rebuilt from the event log.
        std::map<std::string, std::pair<std::uint64_t, std::string>> state;
        for (const auto& e : all)
            if (e.seq <= seq) state[e.case_id] = {e.seq, e.status};
        std::map<std::string, std::uint64_t> want;
        for (const auto& [id, s] : state)
            if (is_open_status(s.second)) want[id] = s.first;
        INFO("snapshot at seq " << seq);
        CHECK(got == want);
    }
    CHECK(std::set<std::uint64_t>{snaps.front().first, snaps.back().first}.size() == 2);  // it did move

    SECTION("paging, include_closed, changed_since, filters") {
        const auto head = fx.store->head();
        std::vector<CaseState> paged;
        std::string after;
        for (int i = 0; i < 500; ++i) {
            json req = {{"op", "snapshot"}, {"limit", 7}, {"include_closed", true}};
            if (!after.empty()) req["after"] = after;
            auto p = rc.request(req, 2s);
            REQUIRE(p.ok());
            CHECK(p->end["seq"] == head);
            paged.insert(paged.end(), p->cases.begin(), p->cases.end());
            if (!p->cases.empty()) after = p->cases.back().case_id;
            if (!p->end["more"].get<bool>()) break;
            CHECK(p->end["last"] == after);
        }
        std::map<std::string, std::uint64_t> last;
        for (const auto& e : all) last[e.case_id] = e.seq;
        std::map<std::string, std::uint64_t> got;
        for (const auto& c : paged) got[c.case_id] = c.seq;
        CHECK(got.size() == paged.size());
        CHECK(got == last);

        auto p = rc.request({{"op", "snapshot"}, {"include_closed", true}, {"changed_since", head - 50}}, 2s);
        REQUIRE(p.ok());
        std::set<std::string> changed, want_changed;
        for (const auto& c : p->cases) changed.insert(c.case_id);
        for (const auto& e : all)
            if (e.seq > head - 50) want_changed.insert(e.case_id);
        CHECK(changed == want_changed);

        p = rc.request({{"op", "snapshot"}, {"street", "320104007"}, {"include_closed", true}}, 2s);
        REQUIRE(p.ok());
        REQUIRE_FALSE(p->cases.empty());
        for (const auto& c : p->cases) CHECK(c.street_code == "320104007");
    }
    SECTION("one case: its state and its whole history") {
        const std::string id = all[10].case_id;
        auto p = rc.request({{"op", "case"}, {"case_id", id}}, 2s);
        REQUIRE(p.ok());
        REQUIRE(p->cases.size() == 1);
        std::vector<std::uint64_t> want;
        for (const auto& e : all)
            if (e.case_id == id) want.push_back(e.seq);
        CHECK(seqs_of(p->events) == want);
        CHECK(p->cases[0].seq == want.back());
        CHECK(p->cases[0].doc == p->events.back().doc);
        auto missing = rc.request({{"op", "case"}, {"case_id", "C19990101-000000"}}, 2s);
        REQUIRE_FALSE(missing.ok());
        CHECK(missing.error().message == "snapshot endpoint " + fx.snap_ep + ": case \"C19990101-000000\" not found");
    }
}

// Every page of a `changed_since` snapshot, `limit` at a time, and the condition it was planned with.
std::map<std::string, std::uint64_t> changed_pages(ReplayClient& rc, std::uint64_t since, std::uint32_t limit,
                                                   bool include_closed) {
    std::map<std::string, std::uint64_t> got;
    std::string after;
    for (int i = 0; i < 1000; ++i) {
        json req = {{"op", "snapshot"}, {"limit", limit}, {"include_closed", include_closed}, {"changed_since", since}};
        if (!after.empty()) req["after"] = after;
        auto p = rc.request(req, 2s);
        REQUIRE(p.ok());
        for (const auto& c : p->cases) CHECK(got.emplace(c.case_id, c.seq).second);
        if (!p->cases.empty()) after = p->cases.back().case_id;
        if (!p->end["more"].get<bool>()) break;
    }
    return got;
}

TEST_CASE("snapshot changed_since: few changed cases are looked up along seq, many tested in id order, the same cases",
          "[integration]") {
    Fixture fx;
    fx.store->append(600);
    ReplayClient rc(fx.ctx, fx.snap_ep);
    auto db = ReadDb::open(fx.dir.path / "casehub.db", "test");
    REQUIRE(db.ok());
    const auto all = fx.store->events();
    const auto head = fx.store->head();
    const std::string_view few = " AND case_id IN (SELECT case_id FROM cases WHERE seq > ?)";
    const std::string_view many = " AND seq > ?";

    // limit 5: up to kChangedFewPages * 6 = 24 changed cases are "few".
    for (std::uint64_t back : {0, 1, 3, 20, 60, 300, 600}) {
        const std::uint64_t since = head - back;
        std::set<std::string> changed;
        for (const auto& e : all)
            if (e.seq > since) changed.insert(e.case_id);
        auto clause = changed_since_clause(**db, static_cast<std::int64_t>(since), 5);
        REQUIRE(clause.ok());
        INFO(back << " events back, " << changed.size() << " cases changed");
        CHECK(*clause == (changed.size() < 24 ? few : many));
        for (bool include_closed : {true, false}) {
            std::map<std::string, std::uint64_t> want;
            std::map<std::string, std::pair<std::uint64_t, std::string>> state;
            for (const auto& e : all) state[e.case_id] = {e.seq, e.status};
            for (const auto& [id, st] : state)
                if (changed.count(id) && (include_closed || is_open_status(st.second))) want[id] = st.first;
            CHECK(changed_pages(rc, since, 5, include_closed) == want);
        }
    }
    CHECK(*changed_since_clause(**db, 0, 10000) == few);     // 600 events, fewer cases than 4 pages
    CHECK(*changed_since_clause(**db, 0, 0) == many);        // the bound is 4 cases

    // On the hub's own schema the "few" condition is a search of case_rows_seq, not a read of
    // every case in id order (EXPLAIN QUERY PLAN; the store is empty: without ANALYZE the
    // planner does not look at the data).
    TempDir real;
    REQUIRE(Store::open(real.path / "casehub.db", Store::Sync::normal).ok());
    auto rdb = ReadDb::open(real.path / "casehub.db", "test");
    REQUIRE(rdb.ok());
    REQUIRE(*changed_since_clause(**rdb, 0, 100) == few);
    std::string plan;
    auto q = (*rdb)->query("EXPLAIN QUERY PLAN " + std::string(kCaseColumns) + " WHERE case_id > ?" + std::string(few) +
                               " ORDER BY case_id LIMIT ?",
                           {std::string(), std::int64_t{0}, std::int64_t{101}}, [&](sqlite3_stmt* s) {
                               plan += reinterpret_cast<const char*>(sqlite3_column_text(s, 3));
                               plan += "\n";
                               return true;
                           });
    REQUIRE(q.ok());
    INFO(plan);
    CHECK(plan.find("INDEX case_rows_seq (seq>?)") != std::string::npos);  // covering since schema 9 (WITHOUT ROWID)
    CHECK(plan.find("(case_id=?)") != std::string::npos);
    CHECK(plan.find("SCAN") == std::string::npos);
}

TEST_CASE("for_each_event: one street's events, block by block, are those of a filter over all, in seq order",
          "[runtime]") {
    TempDir dir;
    TestStore store(dir.path / "casehub.db", 20);
    for (int i = 0; i < 3; ++i) store.append(500);  // 1,500 events: blocks 0 to 5 of 256 seqs
    const auto all = store.events();
    auto db = ReadDb::open(dir.path / "casehub.db", "test");
    REQUIRE(db.ok());
    const auto read = [&](std::uint64_t after, std::uint64_t upto, const FeedFilter& f, std::size_t stop) {
        std::vector<std::uint64_t> seqs;
        auto r = for_each_event(**db, after, upto, f, false, [&](sqlite3_stmt* s) {
            seqs.push_back(static_cast<std::uint64_t>(sqlite3_column_int64(s, 0)));
            return seqs.size() < stop;
        });
        REQUIRE(r.ok());
        return seqs;
    };
    const auto want = [&](std::uint64_t after, std::uint64_t upto, const FeedFilter& f, std::size_t stop) {
        std::vector<std::uint64_t> seqs;
        for (const auto& e : all)
            if (seqs.size() < stop && e.seq > after && e.seq <= upto && f.matches(e)) seqs.push_back(e.seq);
        return seqs;
    };
    const std::pair<std::uint64_t, std::uint64_t> ranges[] = {
        {0, 1500}, {255, 256}, {255, 512}, {256, 1023}, {100, 1400}, {1400, 5000}, {1500, 2000}, {700, 600},
        {0, std::numeric_limits<std::uint64_t>::max()}};
    std::size_t nonempty = 0;
    for (const std::string street : {"320104001", "320104012", ""})
        for (const auto& [after, upto] : ranges)
            for (std::size_t stop : {std::size_t{1}, std::size_t{7}, std::size_t{100000}}) {
                INFO("street '" << street << "' (" << after << ", " << upto << "] stop " << stop);
                FeedFilter f;
                f.street = street;
                const auto got = read(after, upto, f, stop);
                CHECK(got == want(after, upto, f, stop));
                nonempty += !got.empty();
                f.status = "closed";
                CHECK(read(after, upto, f, stop) == want(after, upto, f, stop));
            }
    CHECK(nonempty > 50);
    FeedFilter none, family;
    family.family = "noise";
    CHECK(read(0, 1500, none, 100000) == want(0, 1500, none, 100000));
    CHECK(read(0, 1500, none, 100000).size() == 1500);
    CHECK(read(300, 1200, family, 100000) == want(300, 1200, family, 100000));
}

TEST_CASE("feed client: replay then live with no gap and no duplicate while the hub publishes", "[integration]") {
    Fixture fx;
    for (int i = 0; i < 6; ++i) fx.store->append(500);  // 3,000 before the client starts
    HubSim hub(*fx.store, fx.ctx, fx.feed_ep);
    // 2,000 more, 50 per commit, from when the client is replaying; every 97th is committed
    // but never reaches the feed.
    hub.start({40, 50, 8ms, [](std::uint64_t s) { return s % 97 == 0; }, true});
    auto o = fx.client();
    o.page_limit = 500;
    auto c = FeedClient::connect(fx.ctx, o);
    REQUIRE(c.ok());
    auto got = collect(**c, [](const auto& g) { return g.size() >= 100; }, 5s);
    REQUIRE(got.size() == 100);
    REQUIRE_FALSE((*c)->live());
    hub.go();
    auto rest = collect(**c, [](const auto& g) { return g.size() >= 4900; }, 10s);
    got.insert(got.end(), rest.begin(), rest.end());
    REQUIRE(hub.wait_done(5s));
    const auto& n = (*c)->counters();
    INFO("replayed " << n.replayed << " live " << n.live << " gaps " << n.gaps_detected << " duplicates " << n.duplicates);
    REQUIRE(seqs_of(got) == iota(1, 5000));
    const auto all = fx.store->events();
    for (std::size_t i = 0; i < got.size(); ++i) REQUIRE(got[i].row.doc == all[i].doc);
    CHECK(n.replayed >= 3000);
    CHECK(n.live > 0);
    CHECK(n.gaps_detected >= 1);  // the dropped events were found by seq continuity
    CHECK(n.replayed + n.live == 5000);
    CHECK((*c)->live());
    CHECK((*c)->hub_alive());
    FeedEvent ev;
    CHECK_FALSE((*c)->next(ev, 100ms));  // nothing more, nothing twice
}

TEST_CASE("feed client: one street gets every event of its street and none of another", "[integration]") {
    Fixture fx;
    fx.store->append(500);
    HubSim hub(*fx.store, fx.ctx, fx.feed_ep);
    // Lose events on the way, among them events of the watched streets (seen via prev_street_seq
    // or, for the last ones, via the heartbeat's per-street seq).
    hub.start({30, 40, 8ms, [](std::uint64_t s) { return s % 53 == 0 || s == 1700; }, true});
    const std::vector<std::string> streets = {"320104005", ""};
    std::vector<std::unique_ptr<FeedClient>> clients;
    for (const auto& s : streets) {
        auto o = fx.client();
        o.filter.street = s;
        o.page_limit = 64;
        auto c = FeedClient::connect(fx.ctx, o);
        REQUIRE(c.ok());
        clients.push_back(std::move(*c));
    }
    // Also a street + family filter: other filters apply on top of the street subscription.
    auto o = fx.client();
    o.filter.street = "320104005";
    o.filter.family = "noise";
    auto narrow = FeedClient::connect(fx.ctx, o);
    REQUIRE(narrow.ok());
    std::vector<std::vector<FeedEvent>> got(clients.size());
    std::vector<FeedEvent> got_narrow;
    FeedEvent ev;
    // Publishing starts once all three are live.
    for (auto until = Clock::now() + 3s; Clock::now() < until;) {
        bool live = (*narrow)->live();
        for (std::size_t i = 0; i < clients.size(); ++i) {
            while (clients[i]->next(ev, 0ms)) got[i].push_back(ev);
            live = live && clients[i]->live();
        }
        while ((*narrow)->next(ev, 0ms)) got_narrow.push_back(ev);
        if (live) break;
        std::this_thread::sleep_for(2ms);
    }
    hub.go();
    const auto until = Clock::now() + 10s;
    while (Clock::now() < until) {
        for (std::size_t i = 0; i < clients.size(); ++i)
            while (clients[i]->next(ev, 0ms)) got[i].push_back(ev);
        while ((*narrow)->next(ev, 0ms)) got_narrow.push_back(ev);
        if (hub.done()) {
            const auto head = fx.store->head();
            const auto last = fx.store->streets();
            bool all_there = (*narrow)->last_seq() >= last.at("320104005");
            for (std::size_t i = 0; i < clients.size(); ++i) all_there = all_there && clients[i]->last_seq() >= last.at(streets[i]);
            if (all_there && head == 1700) break;
        }
        std::this_thread::sleep_for(5ms);
    }
    REQUIRE(hub.done());
    const auto all = fx.store->events();
    for (std::size_t i = 0; i < clients.size(); ++i) {
        std::vector<std::uint64_t> want;
        for (const auto& e : all)
            if (e.street_code == streets[i]) want.push_back(e.seq);
        INFO("street '" << streets[i] << "' gaps " << clients[i]->counters().gaps_detected);
        CHECK(seqs_of(got[i]) == want);
        for (const auto& e : got[i]) CHECK(e.row.street_code == streets[i]);
    }
    std::vector<std::uint64_t> want;
    for (const auto& e : all)
        if (e.street_code == "320104005" && e.category_family == "noise") want.push_back(e.seq);
    CHECK(seqs_of(got_narrow) == want);
    std::uint64_t gaps = 0;
    for (const auto& c : clients) gaps += c->counters().gaps_detected;
    CHECK(gaps >= 1);
}

TEST_CASE("feed client: a stalled consumer recovers by replay, another is not delayed", "[integration]") {
    Fixture fx(900);  // ~1 KiB documents
    PublisherOptions po;
    po.sndhwm = 500;  // small, so the stalled subscriber overflows fast
    HubSim hub(*fx.store, fx.ctx, fx.feed_ep, po);
    hub.start({50, 100, 4ms, nullptr, true});  // 5,000 events after go()

    // The fast consumer: its own thread, reads all the time.
    std::atomic<bool> fast_ready{false};
    std::vector<std::uint64_t> fast_seqs;
    std::atomic<Clock::rep> fast_last{0};
    FeedClient::Counters fast_counters;
    std::thread fast([&] {
        auto c = FeedClient::connect(fx.ctx, fx.client());
        if (!c) return;
        FeedEvent ev;
        const auto until = Clock::now() + 12s;
        while (fast_seqs.size() < 5000 && Clock::now() < until) {
            if ((*c)->next(ev, 10ms)) {
                fast_seqs.push_back(ev.row.seq);
                fast_last = Clock::now().time_since_epoch().count();
            }
            if (!fast_ready && (*c)->live() && (*c)->hub_alive()) fast_ready = true;
        }
        fast_counters = (*c)->counters();
    });

    auto o = fx.client();
    o.rcvhwm = 100;
    auto slow = FeedClient::connect(fx.ctx, o);
    REQUIRE(slow.ok());
    FeedEvent ev;
    for (auto until = Clock::now() + 3s; Clock::now() < until && !((*slow)->live() && (*slow)->hub_alive());)
        (void)(*slow)->next(ev, 20ms);
    REQUIRE((*slow)->live());
    for (auto until = Clock::now() + 3s; Clock::now() < until && !fast_ready;) std::this_thread::sleep_for(5ms);
    REQUIRE(fast_ready);

    const auto t0 = Clock::now();
    hub.go();  // the slow consumer does not read while the 5,000 events go out
    REQUIRE(hub.wait_done(8s));
    const auto publish_time = hub.last_publish() - t0;
    std::this_thread::sleep_for(300ms);

    auto got = collect(**slow, [](const auto& g) { return g.size() >= 5000; }, 10s);
    fast.join();
    const auto& n = (*slow)->counters();
    INFO("slow: replayed " << n.replayed << " live " << n.live << " gaps " << n.gaps_detected);
    CHECK(seqs_of(got) == iota(1, 5000));
    CHECK(n.gaps_detected >= 1);
    CHECK(n.replayed > 0);
    CHECK(n.live > 0);

    INFO("fast: replayed " << fast_counters.replayed << " live " << fast_counters.live << " gaps "
                           << fast_counters.gaps_detected << "; publishing took "
                           << std::chrono::duration_cast<std::chrono::milliseconds>(publish_time).count() << " ms");
    CHECK(fast_seqs == iota(1, 5000));
    const auto lag = Clock::time_point(Clock::duration(fast_last.load())) - hub.last_publish();
    INFO("fast consumer's last event came " << std::chrono::duration_cast<std::chrono::milliseconds>(lag).count()
                                            << " ms after the last publish");
    CHECK(lag < 1s);
}

TEST_CASE("feed client: a lost tail is found by heartbeat, a silent hub is noticed", "[integration]") {
    Fixture fx;
    HubSim hub(*fx.store, fx.ctx, fx.feed_ep, {}, 50ms);
    // 10 events published, then 5 committed that never reach the feed.
    hub.start({3, 5, 20ms, [](std::uint64_t s) { return s > 10; }, true});
    auto o = fx.client();
    o.dead_after = 600ms;
    auto c = FeedClient::connect(fx.ctx, o);
    REQUIRE(c.ok());
    FeedEvent ev;
    for (auto until = Clock::now() + 3s; Clock::now() < until && !((*c)->live() && (*c)->hub_alive());)
        (void)(*c)->next(ev, 20ms);
    REQUIRE((*c)->hub_alive());
    hub.go();
    auto got = collect(**c, [](const auto& g) { return g.size() >= 15; }, 5s);
    CHECK(seqs_of(got) == iota(1, 15));
    CHECK((*c)->counters().gaps_detected >= 1);
    CHECK((*c)->counters().live == 10);
    CHECK((*c)->counters().replayed == 5);

    hub.silence(true);
    const auto silent_at = Clock::now();
    while ((*c)->hub_alive() && Clock::now() - silent_at < 3s) (void)(*c)->next(ev, 20ms);
    CHECK_FALSE((*c)->hub_alive());
    CHECK(Clock::now() - silent_at < 1500ms);
    hub.silence(false);
    for (auto until = Clock::now() + 2s; Clock::now() < until && !(*c)->hub_alive();) (void)(*c)->next(ev, 20ms);
    CHECK((*c)->hub_alive());
    FeedClientOptions defaults;
    CHECK(defaults.dead_after == 3s);
    CHECK_FALSE((*c)->subscribe(FeedFilter{}).ok());  // the filter is fixed once events flowed

    hub.stop();
    CHECK(hub.publisher().events_published() == 10);
    CHECK(hub.publisher().heartbeats_sent() >= 2);
    CHECK(hub.publisher().connections() == 1);
    CHECK(hub.publisher().head() == 10);  // what it published; the store is at 15
    // What a restarted hub seeds its heartbeats with.
    auto head = read_feed_head(fx.dir.path / "casehub.db");
    REQUIRE(head.ok());
    CHECK(head->head == 15);
    CHECK(head->last_seq_per_street == fx.store->streets());
    CHECK_FALSE(read_feed_head(fx.dir.path / "nope.db").ok());
}

TEST_CASE("feed client: subscribe() before the first next() sets the filter", "[integration]") {
    Fixture fx;
    fx.store->append(200);
    auto c = FeedClient::connect(fx.ctx, fx.client());
    REQUIRE(c.ok());
    FeedFilter f;
    f.street = "320104009";
    REQUIRE((*c)->subscribe(f).ok());
    std::vector<std::uint64_t> want;
    for (const auto& e : fx.store->events())
        if (e.street_code == "320104009") want.push_back(e.seq);
    auto got = collect(**c, [&](const auto& g) { return g.size() >= want.size(); }, 5s);
    CHECK(seqs_of(got) == want);
    CHECK_FALSE(FeedClient::connect(fx.ctx, FeedClientOptions{}).ok());
    auto bad = fx.client();
    bad.feed_endpoint = "nope://x";
    auto r = FeedClient::connect(fx.ctx, bad);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.rfind("feed client: cannot connect to the feed endpoint nope://x: ", 0) == 0);
    auto p = FeedPublisher::create(fx.ctx, "tcp://nohost:x");
    REQUIRE_FALSE(p.ok());
    CHECK(p.error().message.rfind("feed: cannot bind the feed endpoint tcp://nohost:x: ", 0) == 0);
    auto s = ReplayServer::start(fx.ctx, fx.dir.path / "missing.db", fx.dir.ipc("s2.sock"));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message == "feed: store " + (fx.dir.path / "missing.db").string() + " does not exist or is not a file");
}

TEST_CASE("feed client: snapshot start, then every later event, with a state never going back", "[integration]") {
    Fixture fx;
    fx.store->append(600);
    HubSim hub(*fx.store, fx.ctx, fx.feed_ep);
    hub.start({20, 30, 5ms, nullptr, false});
    auto o = fx.client(FeedClientOptions::Start::snapshot);
    o.filter.street = "320104002";
    o.page_limit = 3;  // many snapshot pages, each consistent with a later seq
    auto c = FeedClient::connect(fx.ctx, o);
    REQUIRE(c.ok());
    std::map<std::string, std::uint64_t> state;
    bool went_back = false;
    std::uint64_t snapshot_items = 0;
    FeedEvent ev;
    const auto until = Clock::now() + 10s;
    while (Clock::now() < until) {
        if ((*c)->next(ev, 20ms)) {
            CHECK(ev.row.street_code == "320104002");
            auto& s = state[ev.row.case_id];
            if (ev.row.seq <= s) went_back = true;
            s = ev.row.seq;
            if (ev.source == FeedEvent::Source::snapshot) ++snapshot_items;
        } else if (hub.done() && (*c)->last_seq() >= fx.store->streets().at("320104002")) {
            break;
        }
    }
    CHECK_FALSE(went_back);
    CHECK(snapshot_items > 0);
    CHECK(snapshot_items == (*c)->counters().snapshot);
    // Every case of the street that was open at some point of the run, or changed during it,
    // ends at its last state.
    const auto all = fx.store->events();
    std::map<std::string, std::uint64_t> last;
    for (const auto& e : all)
        if (e.street_code == "320104002") last[e.case_id] = e.seq;
    for (const auto& [id, seq] : state) CHECK(last.at(id) == seq);
    for (const auto& e : all)
        if (e.street_code == "320104002" && e.seq > 600) CHECK(state.count(e.case_id) == 1);
}

TEST_CASE("the Python example consumes the feed, across a gap", "[integration]") {
    Fixture fx;
    fx.store->append(50);
    HubSim hub(*fx.store, fx.ctx, fx.feed_ep, {}, 100ms);
    // 50 more once the consumer is live, one every 20 ms; seq 75 is committed, never published.
    hub.start({50, 1, 20ms, [](std::uint64_t s) { return s == 75; }, true});
    const fs::path err = fx.dir.path / "py.err";
    const std::string cmd = "/usr/bin/python3 " CASEHUB_SOURCE_DIR "/sdk/examples/feed_consumer.py --feed " + fx.feed_ep +
                            " --snapshot " + fx.snap_ep + " --from 10 --page 16 --count 90 --timeout 10 2>" + err.string();
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p);
    for (auto until = Clock::now() + 8s; Clock::now() < until && slurp(err).find("live after seq 50") == std::string::npos;)
        std::this_thread::sleep_for(10ms);
    hub.go();
    Run r;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
    const int st = ::pclose(p);
    r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    const std::string stderr_text = slurp(err);
    INFO(stderr_text);
    CHECK(r.rc == 0);
    CHECK(stderr_text.find("live after seq 50") != std::string::npos);
    const auto lines = lines_of(r.out);
    REQUIRE(lines.size() == 90);
    const auto all = fx.store->events();
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const auto& e = all[10 + i];
        const std::string want = std::to_string(e.seq) + " " + e.type + " " + e.case_id + " " +
                                 (e.street_code.empty() ? "-" : e.street_code) + " " + e.status + " title " + e.case_id;
        REQUIRE(lines[i] == want);
    }
    CHECK(stderr_text.find("gap after seq 74") != std::string::npos);
}

TEST_CASE("casehub feed tail, export and cases show", "[integration]") {
    Fixture fx;
    fx.store->append(300);
    HubSim hub(*fx.store, fx.ctx, fx.feed_ep, {}, 100ms);
    hub.start({});
    const fs::path cfg = fx.dir.path / "casehub.toml";
    std::ofstream(cfg) << "[hub]\ndata_dir = \"" << fx.dir.path.string() << "\"\n";
    const std::string cli = std::string(FEED_CLI_HARNESS) + " -c " + cfg.string() + " ";
    const std::string quiet = " 2>" + (fx.dir.path / "cli.err").string();
    const auto all = fx.store->events();

    SECTION("feed tail --json, --street") {
        Run r = run(cli + "feed tail --from 0 --json --count 30 --timeout 5" + quiet);
        CHECK(r.rc == 0);
        auto lines = lines_of(r.out);
        REQUIRE(lines.size() == 30);
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const json j = json::parse(lines[i]);
            CHECK(j["seq"] == i + 1);
            CHECK(j["doc"] == json::parse(all[i].doc));
            CHECK(j["case_id"] == all[i].case_id);
        }
        r = run(cli + "feed tail --from 100 --street 320104004 --count 5 --timeout 5" + quiet);
        CHECK(r.rc == 0);
        lines = lines_of(r.out);
        REQUIRE(lines.size() == 5);
        std::vector<const EventRow*> want;
        for (const auto& e : all)
            if (e.seq > 100 && e.street_code == "320104004" && want.size() < 5) want.push_back(&e);
        for (std::size_t i = 0; i < 5; ++i) {
            INFO(lines[i]);
            CHECK(lines[i].find(" " + std::to_string(want[i]->seq) + "  ") != std::string::npos);
            CHECK(lines[i].find("320104004") != std::string::npos);
            CHECK(lines[i].find("title " + want[i]->case_id) != std::string::npos);
            CHECK(lines[i].find(want[i]->category_family + ".sample") != std::string::npos);
        }
        // Not enough events before the timeout: exit 1.
        r = run(cli + "feed tail --count 5 --timeout 0.5" + quiet);
        CHECK(r.rc == 1);
    }
    SECTION("export") {
        Run r = run(cli + "export --format jsonl" + quiet);
        CHECK(r.rc == 0);
        std::map<std::string, std::uint64_t> want;
        for (const auto& e : all) want[e.case_id] = e.seq;
        std::map<std::string, std::uint64_t> got;
        for (const auto& l : lines_of(r.out)) {
            const json j = json::parse(l);
            CHECK(j["schema"] == "casehub.case/1");
            got[j["case_id"].get<std::string>()] = j["seq"].get<std::uint64_t>();
        }
        CHECK(got == want);
        CHECK(slurp(fx.dir.path / "cli.err").find("(next time: --since 300)") != std::string::npos);
        r = run(cli + "export --format jsonl --since 290" + quiet);
        CHECK(r.rc == 0);
        std::set<std::string> changed;
        for (const auto& e : all)
            if (e.seq > 290) changed.insert(e.case_id);
        CHECK(lines_of(r.out).size() == changed.size());
        r = run(cli + "export --format csv" + quiet);
        CHECK(r.rc != 0);
    }
    SECTION("cases show") {
        const std::string id = all[5].case_id;
        Run r = run(cli + "cases show " + id + quiet);
        CHECK(r.rc == 0);
        std::size_t n = 0;
        for (const auto& e : all) n += e.case_id == id;
        CHECK(r.out.find("case      " + id) != std::string::npos);
        CHECK(r.out.find("title     title " + id) != std::string::npos);
        CHECK(r.out.find("sources (1)") != std::string::npos);
        CHECK(r.out.find("history (" + std::to_string(n) + " event") != std::string::npos);
        r = run(cli + "cases show --json " + id + quiet);
        CHECK(r.rc == 0);
        const json j = json::parse(r.out);
        CHECK(j["case"]["case_id"] == id);
        CHECK(j["events"].size() == n);
        r = run(cli + "cases show C19990101-000000" + quiet);
        CHECK(r.rc == 1);
        CHECK(slurp(fx.dir.path / "cli.err").find("case \"C19990101-000000\" not found") != std::string::npos);
    }
    SECTION("no hub") {
        fx.replay->stop();
        Run r = run(cli + "export --timeout-ms 300" + quiet);
        CHECK(r.rc == 3);
        CHECK(slurp(fx.dir.path / "cli.err").find("no answer to the snapshot request within 300 ms") != std::string::npos);
    }
}

TEST_CASE("feed client: a replay over many pages, one request ahead, gets every event once, in order", "[integration]") {
    Fixture fx(300);
    for (int i = 0; i < 4; ++i) fx.store->append(500);
    const auto all = fx.store->events();
    auto o = fx.client();
    o.page_limit = 64;  // 32 pages
    o.request_timeout = 400ms;
    auto c = FeedClient::connect(fx.ctx, o);
    REQUIRE(c.ok());
    // A consumer that stalls now and then for longer than the request timeout: the page waiting
    // in the socket is its own doing, not the server's silence, so nothing is asked again.
    std::vector<FeedEvent> got;
    FeedEvent ev;
    const auto until = Clock::now() + 20s;
    while (got.size() < all.size() && Clock::now() < until) {
        if (!(*c)->next(ev, 50ms)) continue;
        got.push_back(std::move(ev));
        if (got.size() == 10 || got.size() == 64 || got.size() == 700) std::this_thread::sleep_for(600ms);
    }
    REQUIRE(got.size() == all.size());
    REQUIRE(seqs_of(got) == iota(1, all.size()));
    for (std::size_t i = 0; i < got.size(); ++i) {
        REQUIRE(got[i].source == FeedEvent::Source::replay);
        REQUIRE(got[i].row.doc == all[i].doc);
        REQUIRE(got[i].row.detail == all[i].detail);
        REQUIRE(got[i].row.case_id == all[i].case_id);
        REQUIRE(got[i].row.prev_street_seq == all[i].prev_street_seq);
    }
    CHECK((*c)->counters().replayed == all.size());
    CHECK((*c)->counters().request_retries == 0);
    CHECK((*c)->last_seq() == all.size());
    CHECK((*c)->next(ev, 100ms) == false);  // nothing twice; the last page's end is read by now
    CHECK((*c)->live());
    CHECK(fx.replay->stats().aborted == 0);
    CHECK(fx.replay->stats().requests == 32);  // 31 full pages, then 16 events with more=false
}

TEST_CASE("feed client: page boundaries with a filter, one request ahead", "[integration]") {
    Fixture fx;
    for (int i = 0; i < 6; ++i) fx.store->append(250);
    const auto all = fx.store->events();
    for (const json& filter : {json{{"street", "320104003"}}, json{{"family", "noise"}},
                               json{{"street", ""}, {"status", "closed"}}}) {
        INFO(filter.dump());
        const FeedFilter f = *FeedFilter::from_json(filter);
        std::vector<std::uint64_t> want;
        for (const auto& e : all)
            if (e.seq > 40 && f.matches(e)) want.push_back(e.seq);
        auto o = fx.client(FeedClientOptions::Start::from_seq, 40);
        o.filter = f;
        o.page_limit = 7;  // boundaries everywhere, and pages whose `upto` is past their last event
        auto c = FeedClient::connect(fx.ctx, o);
        REQUIRE(c.ok());
        const auto got = collect(**c, [&](const std::vector<FeedEvent>& g) { return g.size() >= want.size() && (*c)->live(); }, 20s);
        CHECK(seqs_of(got) == want);
        for (const auto& e : got) CHECK(f.matches(e.row));
        CHECK((*c)->last_seq() == all.size());
        CHECK((*c)->counters().request_retries == 0);
    }
}

TEST_CASE("replay: a client whose queue is full loses the rest of the answer, and no end comes", "[integration]") {
    ReplayOptions ro;
    ro.sndhwm = 8;
    Fixture fx(4000, ro);
    fx.store->append(600);  // ~2.6 MB: more than the socket buffers hold
    zmq::socket_t d(fx.ctx, zmq::socket_type::dealer);
    d.set(zmq::sockopt::linger, 0);
    d.set(zmq::sockopt::rcvhwm, 8);
    d.connect(fx.snap_ep);
    d.send(zmq::str_buffer(R"({"op":"since","seq":0,"limit":600,"req":1})"));
    // The server streams until the queue is full, drops the rest at once, and serves others.
    const auto until = Clock::now() + 5s;
    while (fx.replay->stats().aborted == 0 && Clock::now() < until) std::this_thread::sleep_for(10ms);
    REQUIRE(fx.replay->stats().aborted == 1);
    ReplayClient other(fx.ctx, fx.snap_ep);
    auto h = other.request({{"op", "head"}}, 2s);
    REQUIRE(h.ok());
    CHECK(h->end["head"] == 600);
    std::vector<std::uint64_t> seqs;
    bool end = false;
    for (;;) {
        zmq::pollitem_t it{d.handle(), 0, ZMQ_POLLIN, 0};
        zmq::poll(&it, 1, std::chrono::milliseconds(300));
        std::vector<zmq::message_t> frames;
        zmq::message_t m;
        if (!d.recv(m, zmq::recv_flags::dontwait)) break;
        frames.push_back(std::move(m));
        while (frames.back().more()) {
            zmq::message_t n;
            REQUIRE(d.recv(n));
            frames.push_back(std::move(n));
        }
        if (frames[0].to_string() == "end") end = true;
        else {
            REQUIRE(frames.size() == 3);
            auto e = parse_event(frames[1].to_string_view(), frames[2].to_string());
            REQUIRE(e.ok());
            seqs.push_back(e->seq);
        }
    }
    CHECK_FALSE(end);
    CHECK(seqs.size() < 600);
    CHECK(seqs == iota(1, seqs.size()));  // what came is a prefix, in order
}

namespace {

EventRow wire_row() {
    EventRow e;
    e.seq = 42;
    e.case_id = "C20260309-000001";
    e.type = "created";
    e.street_code = "320104002";
    e.prev_street_seq = 17;
    e.community_code = "320104002005";
    e.grid_code = "32010400200508";
    e.category_family = "city_appearance";
    e.status = "reported";
    e.at = 1773017000123;
    e.detail = R"({"why":"new record"})";
    return e;
}

// `detail_as_value`: the details may differ in text but not in value (a reader that keeps the
// server's text against nlohmann's dump() of it).
void same_row(const EventRow& a, const EventRow& b, bool detail_as_value = false) {
    CHECK(a.seq == b.seq);
    CHECK(a.case_id == b.case_id);
    CHECK(a.type == b.type);
    CHECK(a.street_code == b.street_code);
    CHECK(a.prev_street_seq == b.prev_street_seq);
    CHECK(a.community_code == b.community_code);
    CHECK(a.grid_code == b.grid_code);
    CHECK(a.category_family == b.category_family);
    CHECK(a.status == b.status);
    CHECK(a.at == b.at);
    if (detail_as_value && a.detail != b.detail) {
        CHECK_FALSE(casehub::host::wire::is_canonical_json(a.detail));
        CHECK(json::parse(a.detail, nullptr, false) == json::parse(b.detail, nullptr, false));
        CHECK(json::parse(a.detail, nullptr, false).is_object());
    } else {
        CHECK(a.detail == b.detail);
    }
    CHECK(a.doc == b.doc);
}

// parse_event (fast path first) and the nlohmann parser agree on `header`, success or error.
void same_parse(const std::string& header) {
    INFO(header);
    auto fast = parse_event(header, "doc");
    auto slow = parse_event_json(header, "doc");
    REQUIRE(fast.ok() == slow.ok());
    if (fast.ok()) same_row(*fast, *slow, true);
    else CHECK(fast.error().message == slow.error().message);
}

}  // namespace

TEST_CASE("feed wire: the header written without a DOM is nlohmann's, byte for byte, and reads back the same", "[runtime]") {
    const std::vector<std::string> strings = {
        "", "plain", "quote \" and backslash \\ and slash /", "秦淮区中山南路 12 号", "tab\there\nnewline\rcr",
        std::string("nul \0 inside", 12), "\x01\x02\x07\x08\x0b\x0c\x0e\x1f controls", "del \x7f", "emoji 😀 and é",
        "mixed \"中文\"\\\t\x1b end"};
    const std::vector<std::string> details = {
        "", "{}", R"({"why":"new record"})", R"({"a":1,"b":[1,2,{"c":null}],"d":true,"e":false})",
        R"({"n":-5,"u":18446744073709551615,"f":0.5,"g":1e-07,"h":-0.0,"i":123456.789})",
        R"({"s":"中文 \"q\" \\ \n \u0001 \u001f"})", R"({"b":1,"a":2})", R"({ "a": 1 })", R"({"a":1.0})",
        R"({"a":1E5})", R"({"a":"\u00e9"})", R"({"a":"\/"})", R"({"a":-0})", R"({"a":1,"a":2})",
        R"({"a":99999999999999999999})", R"({"k\"ey":1})", R"(["array"])", R"("a string")", "not json {",
        "{\"bad\":\"\xff\"}", R"({"deep":[[[[[[[[[[{"x":[]}]]]]]]]]]]})", "42", "null"};
    EventRow e = wire_row();
    std::size_t n = 0;
    for (const auto& s : strings)
        for (const auto& d : details) {
            e.case_id = s;
            e.status = strings[(n + 3) % strings.size()];
            e.street_code = strings[(n + 5) % strings.size()];
            e.type = strings[(n + 7) % strings.size()];
            e.detail = d;
            e.at = (n % 3 == 0) ? -static_cast<std::int64_t>(n) * 1000 : static_cast<std::int64_t>(n) * 1000000007;
            e.seq = n % 5 == 0 ? std::numeric_limits<std::uint64_t>::max() : n;
            ++n;
            INFO("case_id " << json(s).dump() << " detail " << d);
            const std::string text = event_header_text(e);
            REQUIRE(text == event_header(e).dump(-1, ' ', false, json::error_handler_t::replace));
            same_parse(text);
            // A detail the hub stores (nlohmann's dump of an object) is written without the DOM;
            // any object detail on the wire is read without it (but for a key holding an escape,
            // which the canonical check leaves to nlohmann).
            std::string written;
            CHECK(casehub::host::wire::append_event_header(written, casehub::host::wire::fields_of(e)) ==
                  (d.empty() || (d[0] == '{' && casehub::host::wire::is_canonical_json(d))));
            EventRow row;
            CHECK(casehub::host::wire::parse_event_header_fast(text, row) ==
                  (d.empty() || (json::parse(d, nullptr, false).is_object() && d != R"({"k\"ey":1})")));
            // The pipeline's details are dump_json() of an object and flagged so: written
            // unchecked, with the same bytes.
            const json parsed = json::parse(d, nullptr, false);
            if (parsed.is_object()) {
                EventRow flagged = e;
                flagged.detail = dump_json(parsed);
                flagged.detail_canonical = true;
                std::string unchecked;
                REQUIRE(casehub::host::wire::append_event_header(unchecked, casehub::host::wire::fields_of(flagged)));
                CHECK(unchecked == event_header(flagged).dump(-1, ' ', false, json::error_handler_t::replace));
            }
            auto back = parse_event(text, "doc");
            REQUIRE(back.ok());
            CHECK(back->case_id == s);
            CHECK(back->seq == e.seq);
            CHECK(back->at == e.at);
        }
    // Invalid UTF-8 in a field: nlohmann's replacement, also byte for byte.
    e.detail = "{}";
    e.case_id = "bad \xc3\x28 utf8 \xed\xa0\x80 \xf4\x90\x80\x80";
    const std::string text = event_header_text(e);
    CHECK(text == event_header(e).dump(-1, ' ', false, json::error_handler_t::replace));
    same_parse(text);
}

TEST_CASE("feed wire: a detail is read as the server sent it when nlohmann reads the same value from it, "
          "else by nlohmann", "[unit]") {
    const std::string base = event_header_text(wire_row());
    const std::string key = "\"detail\":";
    const std::size_t at = base.find(key) + key.size();
    const std::size_t end = base.find(",\"grid_code\":");
    REQUIRE(end > at);
    auto with_detail = [&](const std::string& d) { return base.substr(0, at) + d + base.substr(end); };
    // Not nlohmann's form, but the same value read back from its dump(): kept as sent.
    for (const std::string d : {R"({"a":1.50,"b":15e-1,"c":-0,"d":1E5,"e":"\u00e9\/\ud83d\ude00"})",
                                R"({"a":99999999999999999999,"b":[1.0,{"x":-0.0}]})", R"({"s":"\u0041\u0000"})"}) {
        INFO(d);
        REQUIRE_FALSE(casehub::host::wire::is_canonical_json(d));
        EventRow row;
        REQUIRE(casehub::host::wire::parse_event_header_fast(with_detail(d), row));
        CHECK(row.detail == d);
        const auto dom = parse_event_json(with_detail(d), "doc");
        REQUIRE(dom.ok());
        CHECK(json::parse(row.detail) == json::parse(dom->detail));
    }
    // Left to nlohmann: a key twice or out of order, an escaped key, a float out of range, a lone
    // surrogate, spaces; it re-dumps what it takes, and refuses what it refuses.
    for (const std::string d : {R"({"a":1,"a":2})", R"({"b":1,"a":2})", R"({"k\"ey":1})", R"({"a":1e400})",
                                R"({"a":1e-400})", R"({"a":"\udc00"})", R"({"a":"\ud83dx"})", R"({ "a":1})",
                                R"({"a":1.})", R"({"a":01})", R"({"a":"\x"})"}) {
        INFO(d);
        EventRow row;
        CHECK_FALSE(casehub::host::wire::parse_event_header_fast(with_detail(d), row));
        const auto fast = parse_event(with_detail(d), "doc");
        const auto dom = parse_event_json(with_detail(d), "doc");
        REQUIRE(fast.ok() == dom.ok());
        if (fast.ok()) CHECK(fast->detail == dom->detail);
    }
}

TEST_CASE("feed wire: headers laid out otherwise read exactly as nlohmann reads them", "[runtime]") {
    const std::string base = event_header_text(wire_row());
    same_parse(base);
    for (const std::string& h : {
             std::string(R"({"seq":1,"type":"t","case_id":"c","street_code":"","prev_street_seq":0,"community_code":"","grid_code":"","category_family":"f","status":"s","at":5,"detail":{"b":1,"a":2}})"),
             std::string(R"( {"at":5,"case_id":"c","category_family":"f","community_code":"","detail":{},"grid_code":"","prev_street_seq":0,"seq":1,"status":"s","street_code":"","type":"t"} )"),
             std::string(R"({"at":5,"case_id":"\u00e9\ud83d\ude00\/","category_family":"f","community_code":"","detail":{},"grid_code":"","prev_street_seq":0,"seq":1,"status":"s","street_code":"","type":"t"})"),
             std::string(R"({"at":5,"case_id":"\ud83d","category_family":"f","community_code":"","detail":{},"grid_code":"","prev_street_seq":0,"seq":1,"status":"s","street_code":"","type":"t"})"),
             std::string(R"({"at":5,"case_id":"\udc00x","category_family":"f","community_code":"","detail":{},"grid_code":"","prev_street_seq":0,"seq":1,"status":"s","street_code":"","type":"t"})"),
             std::string(R"({"at":-0,"case_id":"c","category_family":"f","community_code":"","detail":{},"grid_code":"","prev_street_seq":0,"seq":1,"status":"s","street_code":"","type":"t"})"),
             std::string(R"({"at":5,"case_id":"c","category_family":"f","community_code":"","detail":{},"grid_code":"","prev_street_seq":-0,"seq":1.0,"status":"s","street_code":"","type":"t"})"),
             std::string(R"({"at":5,"case_id":"c","category_family":"f","community_code":"","detail":{},"grid_code":"","prev_street_seq":0,"seq":01,"status":"s","street_code":"","type":"t"})"),
             std::string(R"({"at":9223372036854775808,"case_id":"c","category_family":"f","community_code":"","detail":{},"grid_code":"","prev_street_seq":0,"seq":18446744073709551616,"status":"s","street_code":"","type":"t"})"),
             std::string(R"({"at":-9223372036854775808,"case_id":"c","category_family":"f","community_code":"","detail":"a string","grid_code":"","prev_street_seq":0,"seq":1,"status":"s","street_code":"","type":"t"})"),
             std::string(R"({"at":5,"case_id":"c","category_family":"f","community_code":"","detail":{"x":1 },"grid_code":"","prev_street_seq":0,"seq":1,"status":"s","street_code":"","type":"t"})"),
             std::string(R"({"at":5,"case_id":"c","category_family":"f","community_code":"","detail":{},"grid_code":"","prev_street_seq":0,"seq":1,"status":"s","street_code":"","type":"t"}x)"),
             std::string(R"({"at":5,"case_id":"c","category_family":"f","community_code":"","detail":{},"grid_code":"","prev_street_seq":0,"seq":1,"status":"s","street_code":"","type":"t","extra":1})"),
             std::string(R"({"at":5,"case_id":"c","category_family":"f","community_code":"","grid_code":"","prev_street_seq":0,"seq":1,"status":"s","street_code":"","type":"t"})"),
             std::string(R"({"at":5,"case_id":3,"category_family":"f","community_code":"","detail":{},"grid_code":"","prev_street_seq":0,"seq":1,"status":"s","street_code":"","type":"t"})"),
             std::string("{\"at\":5,\"case_id\":\"tab\tinside\",\"category_family\":\"f\",\"community_code\":\"\",\"detail\":{},\"grid_code\":\"\",\"prev_street_seq\":0,\"seq\":1,\"status\":\"s\",\"street_code\":\"\",\"type\":\"t\"}"),
             std::string("{\"at\":5,\"case_id\":\"\xe4\xb8\",\"category_family\":\"f\",\"community_code\":\"\",\"detail\":{},\"grid_code\":\"\",\"prev_street_seq\":0,\"seq\":1,\"status\":\"s\",\"street_code\":\"\",\"type\":\"t\"}"),
             base.substr(0, base.size() - 1), base.substr(0, base.size() / 2), std::string("{}"), std::string("")})
        same_parse(h);
    // Every truncation and every single-byte change of a real header.
    for (std::size_t i = 0; i < base.size(); ++i) {
        same_parse(base.substr(0, i));
        for (const char c : {' ', '"', '\\', '0', '-', '.', 'e', '}', '\x01', '\xe4'}) {
            std::string m = base;
            m[i] = c;
            same_parse(m);
        }
    }
}

TEST_CASE("feed wire: the canonical-form check never says yes to a text nlohmann would write otherwise", "[runtime]") {
    std::minstd_rand rng(7);
    const std::vector<std::string> atoms = {"0", "-1", "7", "0.5", "1e300", "-2.5e-8", "true", "null", "\"\"", "\"a\"",
                                            "\"中\"", "\"\\u0001\"", "\"\\\"\"", "1.0", "-0", "01", "\"\\/\"", "1E2"};
    const std::vector<std::string> keys = {"\"a\"", "\"b\"", "\"ab\"", "\"中\"", "\"\"", "\"A\""};
    std::function<std::string(int)> gen = [&](int depth) -> std::string {
        const int k = static_cast<int>(rng() % (depth > 3 ? 1 : 4));
        if (k == 0) return atoms[rng() % atoms.size()];
        std::string s = k == 1 ? "[" : "{";
        const int n = static_cast<int>(rng() % 4);
        for (int i = 0; i < n; ++i) {
            if (i) s += rng() % 20 ? "," : ", ";
            if (k != 1) s += keys[rng() % keys.size()] + (rng() % 20 ? ":" : " :");
            s += gen(depth + 1);
        }
        return s + (k == 1 ? "]" : "}");
    };
    int canonical = 0;
    for (int i = 0; i < 20000; ++i) {
        const std::string t = gen(0);
        const bool yes = casehub::host::wire::is_canonical_json(t);
        const json j = json::parse(t, nullptr, false);
        INFO(t);
        if (yes) {
            REQUIRE_FALSE(j.is_discarded());
            REQUIRE(j.dump() == t);
            ++canonical;
        }
        // What nlohmann writes is canonical (the check is only conservative on escaped keys).
        if (!j.is_discarded()) CHECK(casehub::host::wire::is_canonical_json(j.dump()));
    }
    CHECK(canonical > 1000);
}

TEST_CASE("feed wire: the canonical check reads long strings eight bytes at a time and remembers floats, "
          "and says the same as nlohmann", "[unit]") {
    using casehub::host::wire::is_canonical_json;
    // `escaped_key`: the check declines a key holding an escape (documented as conservative).
    auto agrees = [](const std::string& t, bool escaped_key = false) {
        const json j = json::parse(t, nullptr, false);
        const bool expected = !j.is_discarded() && j.dump() == t && !escaped_key;
        INFO(t);
        CHECK(is_canonical_json(t) == expected);
        CHECK(is_canonical_json(t) == expected);  // again: the float memo answers now
    };
    // Every special byte at every offset of a 40-byte string: the word-at-a-time scan must stop
    // on it wherever it falls in the word.
    const std::vector<std::string> specials = {"\"", "\\\"", "\\\\", "\\n", "\\u0001", "\x01", "\x1f", "\x7f",
                                               "中", "\xff", "\xe4\xb8", "\\/", "\\u00e4", "\t"};
    for (const auto& sp : specials)
        for (std::size_t at = 0; at <= 40; ++at) {
            std::string body(40, 'a');
            body.insert(at, sp);
            agrees("{\"k\":\"" + body + "\"}");
            agrees("{\"" + body + "\":1}", sp.find('\\') != std::string::npos);
        }
    // Floats: canonical and not, each asked twice, and a non-canonical spelling of a value asked
    // after its canonical one (the memo keys on the text, never on the value).
    std::minstd_rand rng(11);
    for (int i = 0; i < 5000; ++i) {
        const double v = static_cast<double>(static_cast<int>(rng() % 200000) - 100000) / 100.0;
        const std::string canon = json(v).dump();
        agrees("{\"x\":" + canon + "}");
        agrees("{\"x\":" + canon + "0}");
        agrees("{\"x\":" + std::to_string(v) + "}");
    }
    CHECK(is_canonical_json("{\"x\":1.5}"));
    CHECK_FALSE(is_canonical_json("{\"x\":1.50}"));
    CHECK_FALSE(is_canonical_json("{\"x\":15e-1}"));
    CHECK(is_canonical_json("{\"x\":1.5}"));
}
