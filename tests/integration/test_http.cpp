// The HTTP/JSON API (docs/api.md) end to end: a real casehubd with the seq test adapter, real
// HTTP over 127.0.0.1 with cpp-httplib's client, every endpoint and every documented error.
#include "harness.hpp"

#include "config/hub_config.hpp"
#include "http/server.hpp"
#include "store/store.hpp"

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

using namespace casehub::test;
using nlohmann::json;

namespace {

// A port nobody listens on right now (the kernel's pick for an ephemeral bind).
int free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    ::close(fd);
    return ntohs(a.sin_port);
}

std::string seq_adapter(const std::string& options) {
    return "[[adapters]]\nid = \"seq\"\nplugin = \"seq_source\"\n[adapters.config]\n" + options + "\n";
}

std::string http_toml(int port, const std::string& adapters) {
    return hub_toml("", adapters,
                    kNoCorrelation + "[http]\nlisten = \"127.0.0.1:" + std::to_string(port) +
                        "\"\nsse_heartbeat_s = 1\nmax_body_bytes = 4096\nthreads = 8\n");
}

struct Http {
    httplib::Client c;
    explicit Http(int port) : c("127.0.0.1", port) {
        c.set_read_timeout(10, 0);
        c.set_connection_timeout(2, 0);
    }
    // Status and parsed body (null when the body is not JSON).
    std::pair<int, json> get(const std::string& path) {
        auto r = c.Get(path.c_str());
        REQUIRE(r);
        return {r->status, json::parse(r->body, nullptr, false)};
    }
    std::pair<int, json> post(const std::string& path, const std::string& body,
                              const std::string& type = "application/json") {
        auto r = c.Post(path.c_str(), body, type.c_str());
        REQUIRE(r);
        return {r->status, json::parse(r->body, nullptr, false)};
    }
    std::pair<int, json> post(const std::string& path, const json& body) { return post(path, body.dump()); }
};

// The documented error shape, and its code and field.
void check_error(const std::pair<int, json>& r, int status, const std::string& code,
                 const std::optional<std::string>& field = std::nullopt) {
    INFO(r.second.dump());
    CHECK(r.first == status);
    REQUIRE(r.second.is_object());
    REQUIRE(r.second.contains("error"));
    const json& e = r.second["error"];
    CHECK(e["code"] == code);
    CHECK(e["message"].is_string());
    CHECK(!e["message"].get<std::string>().empty());
    REQUIRE(e.contains("field"));
    if (field) CHECK(e["field"] == *field);
    else CHECK(e["field"].is_null());
}

// Server-Sent Events as a client reads them.
struct SseEvent {
    std::uint64_t id = 0;
    std::string type;
    json data;
};

struct SseReader {
    std::string buffer;
    std::vector<SseEvent> events;
    int comments = 0;
    // Feeds bytes; parses every complete event (blank-line terminated).
    void feed(const char* d, std::size_t n) {
        buffer.append(d, n);
        std::size_t end;
        while ((end = buffer.find("\n\n")) != std::string::npos) {
            const std::string block = buffer.substr(0, end);
            buffer.erase(0, end + 2);
            SseEvent e;
            bool any = false;
            std::size_t i = 0;
            while (i <= block.size()) {
                std::size_t nl = block.find('\n', i);
                if (nl == std::string::npos) nl = block.size();
                const std::string line = block.substr(i, nl - i);
                i = nl + 1;
                if (line.empty()) continue;
                if (line[0] == ':') {
                    ++comments;
                    continue;
                }
                const auto colon = line.find(": ");
                const std::string k = line.substr(0, colon), v = colon == std::string::npos ? "" : line.substr(colon + 2);
                if (k == "id") e.id = std::stoull(v), any = true;
                else if (k == "event") e.type = v;
                else if (k == "data") e.data = json::parse(v, nullptr, false);
            }
            if (any) events.push_back(std::move(e));
        }
    }
};

// Reads the stream at `path` (with `headers`) until `enough` says so, or `timeout`.
SseReader read_sse(int port, const std::string& path, const httplib::Headers& headers,
                   const std::function<bool(const SseReader&)>& enough, std::chrono::milliseconds timeout = 15s) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(5, 0);
    SseReader r;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto res = c.Get(path.c_str(), headers, [&](const char* d, std::size_t n) {
        r.feed(d, n);
        return !enough(r) && std::chrono::steady_clock::now() < deadline;
    });
    (void)res;  // canceled by the receiver: an error result, by design
    return r;
}

std::string case_of(const fs::path& db, const std::string& record_id) {
    auto r = query(db, "SELECT case_id FROM source_records WHERE system='seq' AND record_id='" + record_id + "'");
    return r.empty() ? "" : r[0];
}

}  // namespace

TEST_CASE("HTTP API: cases, filters, pagination, one case, actions, merge, split and their errors", "[integration]") {
    TempDir dir;
    const int port = free_port();
    Hub hub(dir.path, http_toml(port, seq_adapter("count = 30\nstreets = true")));
    hub.start();
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM cases") == 30; }, 20s));
    Http http(port);
    REQUIRE(wait_until([&] { return static_cast<bool>(http.c.Get("/healthz")); }, 5s));

    SECTION("healthz and metrics") {
        auto [st, body] = http.get("/healthz");
        CHECK(st == 200);
        CHECK(body["status"] == "ok");
        CHECK(body["head_seq"].get<long long>() == query_int(hub.db(), "SELECT max(seq) FROM events"));
        auto r = http.c.Get("/metrics");
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK_THAT(r->get_header_value("Content-Type"), Catch::StartsWith("text/plain; version=0.0.4"));
        CHECK_THAT(r->body, Catch::Contains("casehub_hub_up 1"));
        CHECK_THAT(r->body, Catch::Contains("casehub_adapter_records_total{adapter=\"seq\",outcome=\"applied\"} 30"));
        CHECK_THAT(r->body, Catch::Contains("casehub_adapter_state{adapter=\"seq\",state=\"running\"} 1"));
        CHECK_THAT(r->body, Catch::Contains("# TYPE casehub_commit_duration_seconds summary"));
        CHECK_THAT(r->body, Catch::Contains("casehub_adapter_writebacks_total{adapter=\"seq\",outcome=\"done\"} 0"));
        CHECK_THAT(r->body, Catch::Contains("casehub_events_published_total 30"));
        // Requests are counted by route pattern and status.
        http.get("/api/v1/cases/C20990101-000001");
        r = http.c.Get("/metrics");
        CHECK_THAT(r->body, Catch::Contains(
                                "casehub_http_requests_total{route=\"/api/v1/cases/{id}\",method=\"GET\",status=\"404\"} 1"));
        CHECK_THAT(r->body, Catch::Contains("casehub_http_requests_total{route=\"/healthz\",method=\"GET\",status=\"200\"}"));
    }

    SECTION("the case list: keyset pages, newest updated first, every case once") {
        std::set<std::string> seen;
        std::string cursor;
        std::int64_t last_updated = std::numeric_limits<std::int64_t>::max();
        int pages = 0;
        do {
            auto [st, body] = http.get("/api/v1/cases?limit=7" + (cursor.empty() ? "" : "&cursor=" + cursor));
            REQUIRE(st == 200);
            ++pages;
            CHECK(body["count"] == body["cases"].size());
            for (const auto& c : body["cases"]) {
                CHECK(seen.insert(c["case_id"].get<std::string>()).second);
                CHECK(c["updated_at"].get<std::int64_t>() <= last_updated);
                last_updated = c["updated_at"].get<std::int64_t>();
                CHECK(c["case"]["schema"] == "casehub.case/1");
                CHECK(c["merged_into"].is_null());
            }
            cursor = body["next_cursor"].is_null() ? "" : body["next_cursor"].get<std::string>();
        } while (!cursor.empty());
        CHECK(seen.size() == 30);
        CHECK(pages == 5);
    }

    SECTION("filters: street, community, grid, status, category, family, time") {
        const std::string street = "320104002";
        auto [st, body] = http.get("/api/v1/cases?limit=500&street=" + street);
        REQUIRE(st == 200);
        CHECK(body["count"].get<long long>() ==
              query_int(hub.db(), "SELECT count(*) FROM cases WHERE street_code='" + street + "'"));
        CHECK(body["count"].get<long long>() > 0);
        for (const auto& c : body["cases"]) {
            CHECK(c["street_code"] == street);
            CHECK(c["street_name"] == "夫子庙街道");
        }
        const std::string grid = body["cases"][0]["grid_code"];
        const std::string community = body["cases"][0]["community_code"];
        auto g = http.get("/api/v1/cases?limit=500&grid=" + grid);
        CHECK(g.second["count"].get<long long>() ==
              query_int(hub.db(), "SELECT count(*) FROM cases WHERE grid_code='" + grid + "'"));
        auto cm = http.get("/api/v1/cases?limit=500&community=" + community + "&street=" + street);
        CHECK(cm.second["count"].get<long long>() ==
              query_int(hub.db(), "SELECT count(*) FROM cases WHERE community_code='" + community + "'"));
        auto none = http.get("/api/v1/cases?street=320104005");
        CHECK(none.first == 200);
        CHECK(none.second["count"] == 0);
        CHECK(http.get("/api/v1/cases?street=-").second["count"] == 0);  // every seq case has a street
        CHECK(http.get("/api/v1/cases?limit=500&status=new").second["count"] == 30);
        CHECK(http.get("/api/v1/cases?status=closed").second["count"] == 0);
        CHECK(http.get("/api/v1/cases?limit=500&category=city_appearance.exposed_garbage").second["count"] == 30);
        CHECK(http.get("/api/v1/cases?limit=500&family=city_appearance").second["count"] == 30);
        CHECK(http.get("/api/v1/cases?family=water").second["count"] == 0);
        // Time window on updated_at (default) or created_at; ms or RFC 3339.
        CHECK(http.get("/api/v1/cases?limit=500&from=0").second["count"] == 30);
        CHECK(http.get("/api/v1/cases?to=1000").second["count"] == 0);
        CHECK(http.get("/api/v1/cases?limit=500&time=created&from=2020-01-01T00:00:00%2B08:00").second["count"] == 30);
        CHECK(http.get("/api/v1/cases?from=2099-01-01T00:00:00Z").second["count"] == 0);
    }

    SECTION("query errors name the parameter") {
        check_error(http.get("/api/v1/cases?street=320104999"), 400, "invalid_argument", "street");
        check_error(http.get("/api/v1/cases?street=fuzimiao"), 400, "invalid_argument", "street");
        check_error(http.get("/api/v1/cases?community=320104002999"), 400, "invalid_argument", "community");
        check_error(http.get("/api/v1/cases?grid=32010400200599"), 400, "invalid_argument", "grid");
        check_error(http.get("/api/v1/cases?grid=320104-ZS-001"), 400, "invalid_argument", "grid");
        check_error(http.get("/api/v1/cases?status=done"), 400, "invalid_argument", "status");
        check_error(http.get("/api/v1/cases?category=garbage"), 400, "invalid_argument", "category");
        check_error(http.get("/api/v1/cases?family=garbage"), 400, "invalid_argument", "family");
        check_error(http.get("/api/v1/cases?limit=0"), 400, "invalid_argument", "limit");
        check_error(http.get("/api/v1/cases?limit=501"), 400, "invalid_argument", "limit");
        check_error(http.get("/api/v1/cases?limit=ten"), 400, "invalid_argument", "limit");
        check_error(http.get("/api/v1/cases?from=yesterday"), 400, "invalid_argument", "from");
        check_error(http.get("/api/v1/cases?from=2000&to=1000"), 400, "invalid_argument", "from");
        check_error(http.get("/api/v1/cases?time=reported"), 400, "invalid_argument", "time");
        check_error(http.get("/api/v1/cases?cursor=abc"), 400, "invalid_argument", "cursor");
        check_error(http.get("/api/v1/cases?streets=320104002"), 400, "invalid_argument", "streets");
        check_error(http.get("/api/v1/cases?street=320104002&street=320104009"), 400, "invalid_argument", "street");
    }

    SECTION("routes: unknown is 404, a wrong method 405 with Allow") {
        check_error(http.get("/api/v1/nothing"), 404, "not_found");
        check_error(http.get("/"), 404, "not_found");
        auto r = http.c.Delete("/api/v1/cases");
        REQUIRE(r);
        CHECK(r->status == 405);
        CHECK(r->get_header_value("Allow") == "GET");
        check_error({r->status, json::parse(r->body)}, 405, "method_not_allowed");
        check_error(http.get("/api/v1/cases/C1/actions"), 405, "method_not_allowed");
        check_error(http.post("/api/v1/cases", json{{"a", 1}}), 405, "method_not_allowed");
    }

    SECTION("one case: its document, sources, history and write-backs; an action through the hub") {
        const std::string c1 = case_of(hub.db(), "1");
        auto [st, body] = http.get("/api/v1/cases/" + c1);
        REQUIRE(st == 200);
        CHECK(body["case_id"] == c1);
        CHECK(body["case"]["case_id"] == c1);
        REQUIRE(body["sources"].size() == 1);
        CHECK(body["sources"][0]["system"] == "seq");
        CHECK(body["sources"][0]["record_id"] == "1");
        CHECK(body["sources"][0]["record"]["schema"] == "casehub.record/1");
        REQUIRE(body["history"].size() >= 1);
        CHECK(body["history"][0]["type"] == "created");
        CHECK(body["writebacks"].empty());
        check_error(http.get("/api/v1/cases/C20990101-000001"), 404, "not_found", "id");

        auto a = http.post("/api/v1/cases/" + c1 + "/actions",
                           json{{"action", "accept"}, {"note", "已受理"}, {"unit", {{"code", "D34"}, {"name", "夫子庙街道办事处"}}},
                                {"handler", "周建国"}});
        INFO(a.second.dump());
        REQUIRE(a.first == 200);
        CHECK(a.second["status"] == "accepted");
        CHECK(a.second["writebacks"].size() == 1);
        std::tie(st, body) = http.get("/api/v1/cases/" + c1);
        CHECK(body["status"] == "accepted");
        CHECK(body["history"].back()["type"] == "action");
        CHECK(body["history"].back()["detail"]["handler"] == "周建国");
        REQUIRE(body["writebacks"].size() == 1);
        CHECK(body["writebacks"][0]["action"]["action"] == "accept");
        CHECK(body["writebacks"][0]["system"] == "seq");
    }

    SECTION("action errors: malformed JSON, wrong shapes, unknown case, too large, wrong type") {
        const std::string c1 = case_of(hub.db(), "1");
        const std::string path = "/api/v1/cases/" + c1 + "/actions";
        auto r = http.post(path, std::string("{\"action\": \"accept\",,}"));
        check_error(r, 400, "malformed_json");
        CHECK_THAT(r.second["error"]["message"].get<std::string>(), Catch::Contains("line 1, column 21"));
        check_error(http.post(path, std::string("")), 400, "malformed_json");
        check_error(http.post(path, std::string("[1, 2]")), 400, "invalid_argument");
        check_error(http.post(path, json{{"action", "explode"}}), 400, "invalid_argument", "action");
        check_error(http.post(path, json{{"note", "x"}}), 400, "invalid_argument", "action");
        check_error(http.post(path, json{{"action", "accept"}, {"notes", "x"}}), 400, "invalid_argument", "notes");
        check_error(http.post(path, json{{"action", "accept"}, {"note", 5}}), 400, "invalid_argument", "note");
        check_error(http.post(path, json{{"action", "accept"}, {"unit", "D34"}}), 400, "invalid_argument", "unit");
        check_error(http.post(path, json{{"action", "accept"}, {"unit", {{"id", "D34"}}}}), 400, "invalid_argument", "unit.id");
        check_error(http.post("/api/v1/cases/C20990101-000001/actions", json{{"action", "accept"}}), 404, "not_found", "case_id");
        check_error(http.post(path, json{{"action", "accept"}, {"note", std::string(5000, 'x')}}), 413, "payload_too_large");
        check_error(http.post(path, std::string("action=accept"), "application/x-www-form-urlencoded"), 415,
                    "unsupported_media_type", "Content-Type");
        CHECK(query_int(hub.db(), "SELECT count(*) FROM writebacks") == 0);
        CHECK(query_int(hub.db(), "SELECT count(*) FROM events WHERE type='action'") == 0);
    }

    SECTION("merge and split through the hub; a merged case answers with merged_into") {
        const std::string c1 = case_of(hub.db(), "1"), c2 = case_of(hub.db(), "2");
        check_error(http.post("/api/v1/cases/" + c1 + "/merge", json{{"other", c2}}), 400, "invalid_argument", "by");
        check_error(http.post("/api/v1/cases/" + c1 + "/merge", json{{"by", "tester"}}), 400, "invalid_argument", "other");
        check_error(http.post("/api/v1/cases/" + c1 + "/merge", json{{"other", "C20990101-000001"}, {"by", "tester"}}), 404,
                    "not_found", "other");
        auto m = http.post("/api/v1/cases/" + c1 + "/merge", json{{"other", c2}, {"by", "tester"}, {"note", "同一处"}});
        INFO(m.second.dump());
        REQUIRE(m.first == 200);
        CHECK(m.second["case_id"] == c1);
        auto [st, body] = http.get("/api/v1/cases/" + c2);
        CHECK(st == 200);
        CHECK(body["merged_into"] == c1);
        std::tie(st, body) = http.get("/api/v1/cases/" + c1);
        CHECK(body["sources"].size() == 2);
        // Merged cases leave the list unless asked for.
        CHECK(http.get("/api/v1/cases?limit=500").second["count"] == 29);
        CHECK(http.get("/api/v1/cases?limit=500&include_merged=true").second["count"] == 30);
        check_error(http.post("/api/v1/cases/" + c1 + "/merge", json{{"other", c2}, {"by", "tester"}}), 409, "conflict", "other");
        check_error(http.post("/api/v1/cases/" + c2 + "/actions", json{{"action", "accept"}}), 409, "conflict", "case_id");

        check_error(http.post("/api/v1/cases/" + c1 + "/split", json{{"record", "seq-2"}, {"by", "tester"}}), 400,
                    "invalid_argument", "record");
        check_error(http.post("/api/v1/cases/" + c1 + "/split", json{{"record", "seq:99"}, {"by", "tester"}}), 404,
                    "not_found", "record");
        auto r = http.c.Post(("/api/v1/cases/" + c1 + "/split").c_str(),
                             json{{"record", "seq:2"}, {"by", "tester"}, {"note", "不是同一件事"}}.dump(), "application/json");
        REQUIRE(r);
        INFO(r->body);
        REQUIRE(r->status == 201);
        const std::string c3 = json::parse(r->body)["case_id"];
        CHECK(r->get_header_value("Location") == "/api/v1/cases/" + c3);
        std::tie(st, body) = http.get("/api/v1/cases/" + c3);
        CHECK(st == 200);
        REQUIRE(body["sources"].size() == 1);
        CHECK(body["sources"][0]["record_id"] == "2");
        check_error(http.post("/api/v1/cases/" + c3 + "/split", json{{"record", "seq:2"}, {"by", "tester"}}), 409,
                    "conflict", "record");
    }
    CHECK(hub.terminate() == 0);
}

TEST_CASE("HTTP API: Server-Sent Events resume by sequence, filter by street, go live", "[integration]") {
    TempDir dir;
    const int port = free_port();
    Hub hub(dir.path, http_toml(port, seq_adapter("count = 30\nstreets = true")));
    hub.start();
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM events") == 30; }, 20s));
    Http http(port);
    REQUIRE(wait_until([&] { return static_cast<bool>(http.c.Get("/healthz")); }, 5s));

    // The first 10 events, then a reconnect with Last-Event-ID gets exactly the ones after.
    auto first = read_sse(port, "/api/v1/events?since=0", {}, [](const SseReader& r) { return r.events.size() >= 10; });
    REQUIRE(first.events.size() >= 10);
    for (std::size_t i = 0; i < 10; ++i) {
        CHECK(first.events[i].id == i + 1);
        CHECK(first.events[i].type == "created");
        CHECK(first.events[i].data["seq"] == i + 1);
        CHECK(first.events[i].data["case"]["schema"] == "casehub.case/1");
    }
    // The browser reconnects to the same URL (since=0) with Last-Event-ID: that one wins.
    auto next = read_sse(port, "/api/v1/events?since=0", {{"Last-Event-ID", "10"}},
                         [](const SseReader& r) { return r.events.size() >= 20; });
    REQUIRE(next.events.size() == 20);
    for (std::size_t i = 0; i < 20; ++i) CHECK(next.events[i].id == 11 + i);
    // The event data is the feed's event header, with the case document.
    const auto db_event = query(hub.db(), "SELECT case_id || '|' || type || '|' || street_code FROM events WHERE seq=11");
    REQUIRE(db_event.size() == 1);
    CHECK(next.events[0].data["case_id"].get<std::string>() + "|" + next.events[0].data["type"].get<std::string>() +
              "|" + next.events[0].data["street_code"].get<std::string>() == db_event[0]);

    // One street: only its events, in seq order; an idle stream gets heartbeat comments.
    const std::string street = "320104009";
    const long long n = query_int(hub.db(), "SELECT count(*) FROM events WHERE street_code='" + street + "'");
    REQUIRE(n > 0);
    auto one = read_sse(port, "/api/v1/events?since=0&street=" + street, {}, [&](const SseReader& r) {
        return static_cast<long long>(r.events.size()) >= n && r.comments >= 2;
    });
    CHECK(static_cast<long long>(one.events.size()) == n);
    for (const auto& e : one.events) CHECK(e.data["street_code"] == street);
    CHECK(one.comments >= 2);  // the opening comment and at least one heartbeat

    // Live: a stream from now sees the action taken after it opened.
    const std::string c1 = case_of(hub.db(), "1");
    std::atomic<bool> opened{false};
    SseReader live;
    std::thread t([&] {
        live = read_sse(port, "/api/v1/events", {}, [&](const SseReader& r) {
            opened = true;
            return !r.events.empty();
        });
    });
    REQUIRE(wait_until([&] { return opened.load(); }, 5s));
    auto a = http.post("/api/v1/cases/" + c1 + "/actions", json{{"action", "start"}, {"handler", "王芳"}});
    CHECK(a.first == 200);
    t.join();
    REQUIRE(live.events.size() == 1);
    CHECK(live.events[0].id == 31);
    CHECK(live.events[0].type == "action");
    CHECK(live.events[0].data["case_id"] == c1);
    CHECK(live.events[0].data["status"] == "in_progress");

    // Errors are the API's, before the stream starts.
    check_error(http.get("/api/v1/events?since=ten"), 400, "invalid_argument", "since");
    check_error(http.get("/api/v1/events?street=320104999"), 400, "invalid_argument", "street");
    check_error(http.get("/api/v1/events?streets=320104002"), 400, "invalid_argument", "streets");
    auto bad_id = http.c.Get("/api/v1/events", httplib::Headers{{"Last-Event-ID", "x"}});
    REQUIRE(bad_id);
    check_error({bad_id->status, json::parse(bad_id->body)}, 400, "invalid_argument", "Last-Event-ID");
    // Every stream above has ended: none is counted any more.
    CHECK(wait_until([&] { return http.get("/healthz").second["event_streams"] == 0; }, 5s));
    CHECK(hub.terminate() == 0);
}

TEST_CASE("HTTP API without the hub's answer or the store: 503, and a taken port is reported", "[integration]") {
    TempDir dir;
    // A store with the schema but no hub on the control socket.
    {
        auto s = casehub::host::Store::open(dir.path / "casehub.db", casehub::host::Store::Sync::normal);
        REQUIRE(s);
    }
    const int port = free_port();
    casehub::host::http::ServerConfig cfg;
    cfg.port = port;
    cfg.store = dir.path / "casehub.db";
    cfg.reference_dir = fs::path(CASEHUB_SOURCE_DIR) / "config/qinhuai";
    cfg.control_endpoint = "ipc://" + (dir.path / "nobody.sock").string();
    cfg.control_timeout = 300ms;
    cfg.threads = 4;
    cfg.sse_heartbeat = 1s;
    auto server = casehub::host::http::HttpServer::start(cfg);
    REQUIRE(server);
    Http http(port);
    check_error(http.post("/api/v1/cases/C20261128-000001/actions", json{{"action", "accept"}}), 503, "unavailable");
    CHECK(http.get("/healthz").first == 200);
    auto r = http.c.Get("/metrics");
    REQUIRE(r);
    CHECK_THAT(r->body, Catch::Contains("casehub_hub_up 0"));

    // Each stream holds a worker: at most threads - 2 at once, the next one is told to retry.
    {
        std::vector<std::thread> streams;
        std::atomic<int> open{0};
        for (int k = 0; k < 2; ++k)
            streams.emplace_back([&] {
                bool counted = false;
                read_sse(port, "/api/v1/events?since=0", {}, [&](const SseReader&) {
                    if (!counted) counted = true, ++open;
                    return false;  // keep reading until the deadline
                }, 2500ms);
            });
        REQUIRE(wait_until([&] { return open.load() == 2; }, 5s));
        auto busy = http.c.Get("/api/v1/events");
        REQUIRE(busy);
        CHECK(busy->get_header_value("Retry-After") == "5");
        check_error({busy->status, json::parse(busy->body)}, 503, "unavailable");
        for (auto& t : streams) t.join();
    }

    // The port is taken: the second server says which address.
    auto again = casehub::host::http::HttpServer::start(cfg);
    REQUIRE(!again);
    CHECK_THAT(again.error().message, Catch::Contains("127.0.0.1:" + std::to_string(port)));
    (*server)->stop();

    // A store that cannot be read: healthz says 503.
    cfg.store = dir.path / "missing.db";
    cfg.port = free_port();
    auto broken = casehub::host::http::HttpServer::start(cfg);
    REQUIRE(broken);
    Http http2(cfg.port);
    auto h = http2.get("/healthz");
    check_error(h, 503, "unavailable");
    CHECK(h.second["status"] == "unavailable");
    check_error(http2.get("/api/v1/cases"), 503, "unavailable");
}

TEST_CASE("HTTP API: whistles step by step, their refusals, and the reports", "[integration]") {
    TempDir dir;
    const int port = free_port();
    const std::string src = CASEHUB_SOURCE_DIR;
    Hub hub(dir.path,
               hub_toml("", seq_adapter("count = 3\nstreets = true"),
                        kNoCorrelation + "[http]\nlisten = \"127.0.0.1:" + std::to_string(port) +
                            "\"\n[command]\nrules = \"" + src + "/config/command.toml\"\ncalendar = \"" + src +
                            "/config/calendar.toml\"\nclock = \"simulated\"\nclock_start = 2019-09-30T09:00:00+08:00\n"));
    hub.start();
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM source_records") == 3; }, 20s));
    Http h(port);
    REQUIRE(wait_until([&] { return static_cast<bool>(h.c.Get("/healthz")); }, 5s));
    const std::string c1 = case_of(hub.db(), "1");
    const std::string street = query(hub.db(), "SELECT street_code FROM cases WHERE case_id='" + c1 + "'")[0];
    const std::string other_street = query(hub.db(), "SELECT street_code FROM cases WHERE street_code != '" + street + "' LIMIT 1")[0];

    // Open: 201 with Location; a street whistles on its own cases only.
    check_error(h.post("/api/v1/cases/" + c1 + "/whistles",
                       json{{"street_code", other_street}, {"tier", "larger"}, {"kind", "work_progress"}, {"units", {"D01"}}, {"by", "t"}}),
                403, "wrong_street", "street_code");
    check_error(h.post("/api/v1/cases/C20190101-999999/whistles",
                       json{{"tier", "larger"}, {"kind", "work_progress"}, {"units", {"D01"}}, {"by", "t"}}),
                404, "not_found", "case_id");
    check_error(h.post("/api/v1/cases/" + c1 + "/whistles", std::string("{\"tier\": ")), 400, "malformed_json");
    check_error(h.post("/api/v1/cases/" + c1 + "/whistles", json{{"tier", "larger"}, {"colour", "red"}}), 400,
                "invalid_argument", "colour");
    auto r = h.c.Post(("/api/v1/cases/" + c1 + "/whistles").c_str(),
                      json{{"street_code", street}, {"tier", "larger"}, {"kind", "work_progress"}, {"units", {"D01", "D03"}},
                           {"note", "多部门协同"}, {"by", "夫子庙街道"}}.dump(),
                      "application/json");
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 201);
    const std::string w = json::parse(r->body)["whistle_id"];
    CHECK(r->get_header_value("Location") == "/api/v1/whistles/" + w);

    const std::string base = "/api/v1/whistles/" + w;
    // Steps, in order; a report before the sign is out of order, a rank below the tier refused.
    check_error(h.post(base + "/report", json{{"unit", "D01"}, {"reporters", {{{"person", "王"}, {"rank", "head"}}}}}), 409,
                "out_of_order", "unit");
    CHECK(h.post(base + "/sign", json{{"unit", "D01"}, {"by", "王"}}).first == 200);
    CHECK(h.post(base + "/contact", json{{"unit", "D01"}, {"note", "已对接"}}).first == 200);
    auto low = h.post(base + "/report", json{{"unit", "D01"}, {"reporters", {{{"person", "李"}, {"rank", "deputy_head"}}}}});
    check_error(low, 422, "rank_too_low", "reporters");
    CHECK(low.second["error"]["message"].get<std::string>().find("deputy_head") != std::string::npos);
    CHECK(h.post(base + "/report", json{{"unit", "D01"}, {"reporters", {{{"person", "张"}, {"rank", "head"}}}}}).first == 200);
    check_error(h.post(base + "/sign", json{{"unit", "D01"}, {"by", "王"}}), 409, "conflict", "unit");
    check_error(h.post(base + "/sign", json{{"unit", "D99"}, {"by", "王"}}), 404, "not_found", "unit");
    CHECK(h.post(base + "/rate", json{{"unit", "D01"}, {"rating", 4}, {"by", "街道"}}).first == 200);
    CHECK(h.post(base + "/resolve", json{{"resolved", true}, {"note", "已解决"}, {"by", "街道"}}).first == 200);
    check_error(h.post(base + "/sign", json{{"unit", "D03"}, {"by", "赵"}}), 409, "closed");
    check_error(h.post("/api/v1/whistles/W20190101-9999/sign", json{{"unit", "D01"}, {"by", "王"}}), 404, "not_found",
                "whistle_id");

    // A re-whistle: a new whistle one tier up, 201 with its own Location.
    auto w2 = h.c.Post(("/api/v1/cases/" + c1 + "/whistles").c_str(),
                       json{{"tier", "general"}, {"kind", "work_progress"}, {"units", {"D01"}}, {"by", "街道"}}.dump(),
                       "application/json");
    REQUIRE(w2);
    REQUIRE(w2->status == 201);
    const std::string second = json::parse(w2->body)["whistle_id"];
    auto up = h.c.Post(("/api/v1/whistles/" + second + "/rewhistle").c_str(),
                       json{{"tier", "larger"}, {"kind", "hard_problem"}, {"units", {"D01", "D03"}}, {"note", "升级"}, {"by", "街道"}}.dump(),
                       "application/json");
    REQUIRE(up);
    INFO(up->body);
    REQUIRE(up->status == 201);
    const std::string third = json::parse(up->body)["next_id"];
    CHECK(third != second);
    CHECK(up->get_header_value("Location") == "/api/v1/whistles/" + third);
    CHECK(h.get("/api/v1/whistles/" + second).second["outcome"] == "rewhistled");
    CHECK(h.get("/api/v1/whistles/" + third).second["tier"] == "larger");
    check_error(h.post("/api/v1/whistles/" + second + "/rewhistle",
                       json{{"tier", "major"}, {"kind", "hard_problem"}, {"units", {"D01"}}, {"by", "街道"}}),
                409, "closed");

    // Reads: one whistle, the list by case, and 404 for an unknown one.
    auto one = h.get(base);
    REQUIRE(one.first == 200);
    CHECK(one.second["id"] == w);
    CHECK(one.second["outcome"] == "resolved");
    auto list = h.get("/api/v1/whistles?case_id=" + c1);
    REQUIRE(list.first == 200);
    CHECK(list.second["count"] == 3);
    check_error(h.get("/api/v1/whistles/W20190101-9999"), 404, "not_found", "id");
    check_error(h.get("/api/v1/whistles?colour=red"), 400, "invalid_argument", "colour");

    // Reports: JSON counts the whistle; CSV and HTML with their types; a bad period is 400.
    auto rep = h.get("/api/v1/reports/2019-09");
    REQUIRE(rep.first == 200);
    CHECK(rep.second["whistles"]["total"] == query_int(hub.db(), "SELECT count(*) FROM whistles"));
    CHECK(rep.second["whistles"]["resolved"] == 1);
    CHECK(rep.second["whistles"]["rewhistled"] == 1);
    auto csv = h.c.Get("/api/v1/reports/2019-09?format=csv");
    REQUIRE(csv);
    CHECK(csv->status == 200);
    CHECK(csv->get_header_value("Content-Type").rfind("text/csv", 0) == 0);
    auto html = h.c.Get("/api/v1/reports/2019?format=html");
    REQUIRE(html);
    CHECK(html->status == 200);
    CHECK(html->body.find("<svg") != std::string::npos);
    check_error(h.get("/api/v1/reports/2019-13"), 400, "invalid_argument", "period");
}

TEST_CASE("[http] configuration is validated like the other sections", "[unit]") {
    using casehub::host::parse_hub_config;
    auto ok = parse_hub_config("[http]\nlisten = \"0.0.0.0:9000\"\nsse_heartbeat_s = 5\n", "t.toml");
    INFO((ok ? std::string() : ok.error().message));
    REQUIRE(ok);
    CHECK(ok->http.host == "0.0.0.0");
    CHECK(ok->http.port == 9000);
    CHECK(ok->http.enabled);
    CHECK(ok->http.sse_heartbeat == std::chrono::seconds(5));
    auto dflt = parse_hub_config("", "t.toml");
    REQUIRE(dflt);
    CHECK(dflt->http.listen() == "127.0.0.1:8640");
    auto v6 = parse_hub_config("[http]\nlisten = \"[::1]:8640\"\n", "t.toml");
    REQUIRE(v6);
    CHECK(v6->http.host == "::1");
    CHECK(v6->http.listen() == "[::1]:8640");
    for (const auto& [text, what] : std::vector<std::pair<std::string, std::string>>{
             {"[http]\nlisten = \"8640\"\n", "t.toml:2:1: http.listen: \"8640\" must be HOST:PORT"},
             {"[http]\nlisten = \"127.0.0.1:0\"\n", "http.listen"},
             {"[http]\nlisten = \"127.0.0.1:70000\"\n", "http.listen"},
             {"[http]\nenabled = \"yes\"\n", "http.enabled: expected true or false"},
             {"[http]\nsse_heartbeat_s = 0\n", "http.sse_heartbeat_s: 0 is out of range"},
             {"[http]\nmax_body_bytes = 10\n", "http.max_body_bytes"},
             {"[http]\nthreads = 1\n", "http.threads"},
             {"[http]\nthreds = 8\n", "http.threds: unknown key (did you mean \"threads\"?)"}}) {
        auto r = parse_hub_config(text, "t.toml");
        REQUIRE(!r);
        CHECK_THAT(r.error().message, Catch::Contains(what));
    }
}
