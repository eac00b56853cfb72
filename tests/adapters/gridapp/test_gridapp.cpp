// 网格通 (gridapp) adapter tests.
//   [unit]        the mapping header (gridapp_mapping.hpp) on the document's samples and on bad input
//   [runtime]     the built gridapp.so in-process under FakeHost: the webhook answers of §2.1, the
//                 2xx-only-after-ack rule, signatures, replay window, duplicates, out-of-order
//   [integration] a real casehubd + runner + the gridapp simulator: every record in the store,
//                 masked and mapped; every irregularity of §6; kill -9 of the runner; plugin-check
#include "gridapp_mapping.hpp"

#include "integration/harness.hpp"
#include "support/simulator.hpp"

#include <casehub/sdk/fake_host.hpp>
#include <casehub/sdk/record_check.hpp>

#include <httplib.h>
#include <openssl/hmac.h>

#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <future>
#include <map>
#include <regex>
#include <set>

using namespace casehub::test;
using nlohmann::json;

namespace {

const std::string kSecretHex = "5f0c1e2d3b4a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const std::string kOtherSecretHex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

std::string categories_path() { return std::string(CASEHUB_SOURCE_DIR) + "/config/qinhuai/categories.json"; }
const gridapp::Categories& cats() {
    static gridapp::Categories c = gridapp::Categories::load(categories_path());
    return c;
}

std::string unhex(const std::string& h) {
    std::string out;
    for (std::size_t i = 0; i < h.size(); i += 2) out += static_cast<char>(std::stoi(h.substr(i, 2), nullptr, 16));
    return out;
}

std::string hmac_hex(const std::string& key_hex, const std::string& msg) {
    const std::string key = unhex(key_hex);
    unsigned char md[64];
    unsigned len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(msg.data()),
         msg.size(), md, &len);
    std::string out;
    char b[3];
    for (unsigned i = 0; i < len; ++i) {
        std::snprintf(b, sizeof b, "%02x", md[i]);
        out += b;
    }
    return out;
}

int free_port() {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t n = sizeof a;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &n);
    int port = ntohs(a.sin_port);
    ::close(s);
    return port;
}

// The document's samples (§7), byte for byte.
const std::string kSample1 =
    R"({"eventType":"created","eventId":"WG20260309000871","revision":1,"gridCode":"32010400800310","specialGridCode":"",)"
    R"("workerId":"QH-WG-0415","workerName":"吴静","reportedAt":"2026-03-09T09:12:33+08:00","updatedAt":"2026-03-09T09:14:05+08:00",)"
    R"("location":{"lng":118.809888,"lat":32.024991,"coordType":"gcj02","accuracy":12},)"
    R"("address":"大光路社区17幢东侧","category":"AQYH-02","categoryName":"电动车违规充电",)"
    R"("description":"17幢一单元二楼窗口拉出电线给楼下电动车充电，已劝说但住户不配合，存在火灾隐患。",)"
    R"("photos":["https://oss.wgt.qinhuai.local/evt/2026/03/09/WG20260309000871-1.jpg?sig=4c1e9a&exp=1773623645"],)"
    R"("tags":["疑难"],"status":"已上报","handling":{"mode":"上报","escalateTo":"社区","result":"","at":"2026-03-09T09:14:05+08:00"},)"
    R"("closeReason":"","duplicateOf":""})";
const std::string kSample2 =
    R"({"eventType":"closed","eventId":"WG20260309000655","revision":3,"gridCode":"32010401000306","specialGridCode":"",)"
    R"("workerId":"QH-WG-0873","workerName":"马丽","reportedAt":"2026-03-09T07:48:10+08:00","updatedAt":"2026-03-09T08:35:52+08:00",)"
    R"("location":{"lng":118.831860,"lat":32.029605,"coordType":"gcj02","accuracy":8},)"
    R"("address":"月牙湖社区垃圾收集点旁","category":"HJWS-01","categoryName":"暴露垃圾",)"
    R"("description":"收集点旁散落生活垃圾约五袋。","photos":[],"tags":[],"status":"已关闭",)"
    R"("handling":{"mode":"自行处置","escalateTo":"","result":"已联系保洁员清运完毕，现场已恢复整洁。","at":"2026-03-09T08:31:20+08:00"},)"
    R"("closeReason":"办结归档","duplicateOf":""})";
const std::string kSample3 =
    R"({"eventType":"created","eventId":"WG20260309000902","revision":1,"gridCode":"32010401000208","specialGridCode":"",)"
    R"("workerId":"QH-WG-0602","workerName":"孔德明","reportedAt":"2026-03-09 09:31:02","updatedAt":"2026-03-09 09:31:02",)"
    R"("location":{"lng":118.844423,"lat":32.036674,"coordType":"bd09","accuracy":30},)"
    R"("address":"梅花山庄北门","category":"SRZX-01","categoryName":"占道经营",)"
    R"("description":"北门水果店在人行道摆放货架约6米。","photos":[],"tags":[],"status":"待处置",)"
    R"("handling":null,"closeReason":"","duplicateOf":""})";

// 2026-03-09T10:00:00+08:00: before the sample photo's exp (2026-03-16).
constexpr std::int64_t kMarch9 = 1773021600000;

json record_of(const std::string& raw, std::int64_t now = kMarch9) {
    auto o = gridapp::classify(raw, cats(), now);
    INFO(o.reason << " " << o.detail);
    REQUIRE(o.kind == gridapp::Outcome::record);
    json doc = json::parse(o.doc);
    auto fault = casehub::sdk::check_record(doc);
    INFO((fault ? fault->message : std::string()));
    REQUIRE(!fault);
    return doc;
}

std::string with(std::string raw, const std::string& from, const std::string& to) {
    auto p = raw.find(from);
    REQUIRE(p != std::string::npos);
    return raw.replace(p, from.size(), to);
}

bool has_raw_personal_data(const std::string& s) {
    // 11-digit mobiles, 18-digit resident ids: never unmasked anywhere. Not letters or digits on
    // either side, so hex digests (raw_sha256) and ids do not count.
    static const std::regex mobile("(^|[^0-9A-Za-z])1[3-9][0-9]{9}([^0-9A-Za-z]|$)");
    static const std::regex id18("(^|[^0-9A-Za-z])[0-9]{17}[0-9Xx]([^0-9A-Za-z]|$)");
    return std::regex_search(s, mobile) || std::regex_search(s, id18);
}

}  // namespace

// ---- [unit] --------------------------------------------------------------------------------------

TEST_CASE("gridapp mapping: the samples of the document become valid records", "[unit]") {
    json r1 = record_of(kSample1);
    CHECK(r1["source"] == json{{"system", "gridapp"}, {"record_id", "WG20260309000871"}, {"version", "1"},
                               {"received_at", "2026-03-09T10:00:00+08:00"}});
    CHECK(r1["kind"] == "event");
    CHECK(r1["channel"] == "grid_worker");
    CHECK(r1["category"]["code"] == "fire_safety.ebike_charging");
    CHECK(r1["category"]["native"] == json{{"scheme", "gridapp.category"}, {"code", "AQYH-02"}, {"name", "电动车违规充电"}});
    CHECK(r1["status"] == "dispatched");
    CHECK(r1["status_native"] == "已上报");
    CHECK(r1["priority"].is_null());
    CHECK(r1["times"]["reported_at"] == "2026-03-09T09:12:33+08:00");
    CHECK(r1["times"]["dispatched_at"] == "2026-03-09T09:14:05+08:00");
    CHECK(r1["times"]["updated_at"] == "2026-03-09T09:14:05+08:00");
    CHECK(r1["location"]["original"] == json{{"x", 118.809888}, {"y", 32.024991}, {"crs", "GCJ02"}});
    CHECK(r1["location"]["grid_code"] == "32010400800310");
    CHECK(r1["location"]["address"] == "大光路社区17幢东侧");
    CHECK(r1["reporter"] == json{{"kind", "grid_worker"}, {"name_masked", "吴*"}, {"phone_masked", nullptr},
                                 {"id_masked", nullptr}, {"worker_id", "QH-WG-0415"}});
    // 上报 to 社区: the community of gridCode (12 digits).
    REQUIRE(r1["responsible"].size() == 1);
    CHECK(r1["responsible"][0]["dept_code"] == "320104008003");
    CHECK(r1["responsible"][0]["role"] == "lead");
    CHECK(r1["tags"] == json::array({"difficult"}));
    CHECK(r1["confidentiality"] == "public");
    CHECK(r1["attachments"].size() == 1);
    CHECK(r1["attachments"][0]["mime"] == "image/jpeg");
    CHECK(r1["raw_sha256"] == casehub::sdk::sha256_hex(kSample1));

    json r2 = record_of(kSample2);
    CHECK(r2["status"] == "closed");
    CHECK(r2["status_native"] == "已关闭 办结归档");
    CHECK(r2["source"]["version"] == "3");
    CHECK(r2["times"]["resolved_at"] == "2026-03-09T08:31:20+08:00");
    CHECK(r2["times"]["closed_at"] == "2026-03-09T08:35:52+08:00");
    CHECK(r2["description"] == "收集点旁散落生活垃圾约五袋。\n处置结果：已联系保洁员清运完毕，现场已恢复整洁。");
    CHECK(r2["responsible"].empty());  // handled by the worker (自行处置)
    CHECK(r2["reporter"]["name_masked"] == "马*");

    // Old app: BD-09, times without offset are Beijing time (§6.3, §6.5).
    json r3 = record_of(kSample3);
    CHECK(r3["status"] == "registered");
    CHECK(r3["location"]["original"]["crs"] == "BD09");
    CHECK(r3["times"]["reported_at"] == "2026-03-09T09:31:02+08:00");
    CHECK(r3["times"]["updated_at"] == "2026-03-09T09:31:02+08:00");
    CHECK(r3["reporter"]["name_masked"] == "孔**");
    CHECK(r3["category"]["code"] == "market_food.outside_store_trading");
}

TEST_CASE("gridapp mapping: statuses, escalation to the street, disputes internal, links", "[unit]") {
    std::string s = with(kSample1, R"("escalateTo":"社区")", R"("escalateTo":"街道")");
    CHECK(record_of(s)["responsible"][0]["dept_code"] == "320104008");
    // 误报作废 and 重复上报 → cancelled; duplicateOf → link duplicate_of.
    std::string dup = with(kSample2, R"("closeReason":"办结归档","duplicateOf":"")",
                           R"("closeReason":"重复上报","duplicateOf":"WG20260309000601")");
    json d = record_of(dup);
    CHECK(d["status"] == "cancelled");
    CHECK(d["links"] == json::array({{{"system", "gridapp"}, {"record_id", "WG20260309000601"}, {"relation", "duplicate_of"}}}));
    CHECK(record_of(with(kSample2, "办结归档", "误报作废"))["status"] == "cancelled");
    CHECK(record_of(with(kSample3, "待处置", "处置中"))["status"] == "in_progress");
    CHECK(record_of(with(kSample3, "待处置", "已办结"))["status"] == "resolved");
    // MDJF disputes concern private persons: internal.
    json m = record_of(with(with(kSample3, "SRZX-01", "MDJF-03"), "占道经营", "物业纠纷"));
    CHECK(m["confidentiality"] == "internal");
    CHECK(m["category"]["code"] == "dispute.property");
    // Tags: known ones mapped, unknown ones kept.
    CHECK(record_of(with(kSample1, R"("tags":["疑难"])", R"("tags":["重复","督办","夜间"])"))["tags"] ==
          json::array({"repeat", "supervised", "夜间"}));
}

TEST_CASE("gridapp mapping: unusable coordinates keep the grid, expired photos are dropped, text is masked", "[unit]") {
    for (const std::string& loc : {std::string("null"), std::string(R"({"lng":0,"lat":0,"coordType":"gcj02","accuracy":0})"),
                                   std::string(R"({"lng":118.8,"lat":32.0,"coordType":"baidu","accuracy":5})")}) {
        json r = record_of(with(kSample1, R"({"lng":118.809888,"lat":32.024991,"coordType":"gcj02","accuracy":12})", loc));
        CHECK(r["location"]["original"].is_null());
        CHECK(r["location"]["grid_code"] == "32010400800310");
        CHECK(r["location"]["address"] == "大光路社区17幢东侧");
    }
    CHECK(record_of(with(kSample1, "\"gcj02\"", "\"wgs84\""))["location"]["original"]["crs"] == "WGS84");
    // A wrong-length grid code is not passed on; the record is kept.
    CHECK(record_of(with(kSample1, "32010400800310", "3201040080031"))["location"]["grid_code"].is_null());
    // After 7 days the signed photo URL has expired (§6.6).
    CHECK(record_of(kSample1, kMarch9 + 8 * 86400000LL)["attachments"].empty());
    // Phone and ID numbers written into the description are masked (case-model §2.3).
    json r = record_of(with(kSample3, "约6米。", "约6米。店主电话13851234567，身份证320104198807121234。"));
    CHECK(r["description"] == "北门水果店在人行道摆放货架约6米。店主电话138****4567，身份证320104********1234。");
    // An unmapped code of the document's list falls back to other.unclassified.
    gridapp::Categories partial = cats();
    partial.by_native.erase("SRZX-01");
    auto o = gridapp::classify(kSample3, partial, kMarch9);
    REQUIRE(o.kind == gridapp::Outcome::record);
    CHECK(json::parse(o.doc)["category"]["code"] == "other.unclassified");
    CHECK(json::parse(o.doc)["category"]["native"]["code"] == "SRZX-01");
}

TEST_CASE("gridapp mapping: invalid values are dead letters (202), malformed bodies are 400", "[unit]") {
    struct Case {
        std::string raw, reason;
        gridapp::Outcome::Kind kind;
    };
    const std::vector<Case> cases = {
        {with(kSample1, "AQYH-02", "QTSX-09"), "missing_field", gridapp::Outcome::invalid},
        {with(kSample1, "\"status\":\"已上报\"", "\"status\":\"处理中\""), "missing_field", gridapp::Outcome::invalid},
        {with(kSample2, "办结归档", ""), "missing_field", gridapp::Outcome::invalid},
        {with(kSample1, "2026-03-09T09:12:33+08:00", "2026/03/09 9:12"), "bad_time", gridapp::Outcome::invalid},
        {with(kSample1, "\"revision\":1", "\"revision\":0"), "bad_version", gridapp::Outcome::invalid},
        {with(kSample1, "\"revision\":1", "\"revision\":\"1\""), "bad_version", gridapp::Outcome::invalid},
        {with(kSample1, "\"eventType\":\"created\"", "\"eventType\":\"deleted\""), "bad_enum", gridapp::Outcome::invalid},
        {with(kSample1, "\"status\":\"已上报\",", ""), "missing_field", gridapp::Outcome::malformed},
        {with(kSample1, "\"workerName\":\"吴静\",", ""), "missing_field", gridapp::Outcome::malformed},
        {kSample1.substr(0, kSample1.size() / 2), "not_json", gridapp::Outcome::malformed},
        {"[1,2,3]", "not_json", gridapp::Outcome::malformed},
    };
    for (const auto& c : cases) {
        auto o = gridapp::classify(c.raw, cats(), kMarch9);
        INFO(c.raw.substr(0, 120) << " -> " << o.reason << ": " << o.detail);
        CHECK(o.kind == c.kind);
        CHECK(o.reason == c.reason);
        CHECK(!o.detail.empty());
        // What is dead-lettered is masked: the worker's name never appears in full.
        CHECK(o.native_masked.find("吴静") == std::string::npos);
        CHECK(o.detail.find("吴静") == std::string::npos);
    }
    // Masking of unparsed bytes: the name by the name rule, numbers by the free-text rule.
    std::string broken = R"({"eventId":"WG1","workerName":"欧阳明辉","description":"电话13851234567)";
    std::string m = gridapp::mask_unparsed(broken);
    CHECK(m.find("欧***") != std::string::npos);
    CHECK(m.find("138****4567") != std::string::npos);
    CHECK(!has_raw_personal_data(m));
}

TEST_CASE("gridapp catch-up answers: the exact bytes of every event", "[unit]") {
    const std::string body = R"({"code":0,"msg":"ok","data":{"nextPageToken":"x\"y","events":[ )" + kSample1 + " ,\n" +
                             kSample3 + R"(],"hasMore":true}})";
    REQUIRE(json::accept(body));
    auto spans = gridapp::event_spans(body);
    REQUIRE(spans);
    REQUIRE(spans->size() == 2);
    CHECK((*spans)[0] == kSample1);
    CHECK((*spans)[1] == kSample3);
    auto empty = gridapp::event_spans(R"({"code":0,"data":{"events":[],"hasMore":false}})");
    REQUIRE(empty);
    CHECK(empty->empty());
    CHECK(!gridapp::event_spans(R"({"code":40101,"msg":"signature"})"));
}

// ---- [runtime]: the built plugin in-process ------------------------------------------------------

namespace {

const casehub_plugin_descriptor* plugin_descriptor() {
    static void* h = ::dlopen((std::string(CASEHUB_PLUGIN_DIR) + "/gridapp.so").c_str(), RTLD_NOW | RTLD_LOCAL);
    REQUIRE(h != nullptr);
    using Entry = const casehub_plugin_descriptor* (*)(uint32_t, uint32_t);
    auto entry = reinterpret_cast<Entry>(::dlsym(h, "casehub_plugin_entry"));
    REQUIRE(entry != nullptr);
    return entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR);
}

struct Push {
    int status = 0;
    std::string body;
};

// POSTs a push like the back end does (§2); the signature over "<ts>.<body>".
Push push(int port, const std::string& body, const std::string& id, std::int64_t ts = -1,
          std::string signature = "", const std::string& key_hex = kSecretHex) {
    if (ts < 0) ts = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    if (signature.empty()) signature = "sha256=" + hmac_hex(key_hex, std::to_string(ts) + "." + body);
    httplib::Client cli("127.0.0.1", port);
    cli.set_read_timeout(std::chrono::seconds(10));
    auto r = cli.Post("/webhook/v1/events",
                      {{"X-Event-Id", id}, {"X-Timestamp", std::to_string(ts)}, {"X-Signature", signature}}, body,
                      "application/json; charset=utf-8");
    if (!r) return {};
    return {r->status, r->body};
}

// A plugin under FakeHost, with a poller thread that drives poll() like the runner.
struct Driven {
    casehub::sdk::FakeHost host{plugin_descriptor()};
    int port = free_port();
    std::atomic<bool> run{true}, ack{true};
    std::thread poller;
    explicit Driven(json extra = json::object(), std::string cursor = {}) {
        json cfg = {{"listen_port", port},
                    {"secret", kSecretHex},
                    {"app_base_url", "http://127.0.0.1:1"},  // catch-up unreachable unless set
                    {"categories_file", categories_path()},
                    {"catchup_interval_s", 3600},
                    {"initial_catchup_hours", 0},
                    {"ack_timeout_ms", 1500}};
        for (auto& [k, v] : extra.items()) cfg[k] = v;
        host.auto_ack = false;
        host.create(cfg);
        host.start(cursor);
        poller = std::thread([this] {
            while (run) {
                host.poll(std::chrono::milliseconds(50));
                if (ack) host.ack_all();
            }
        });
    }
    ~Driven() {
        run = false;
        poller.join();
    }
    std::vector<json> records() {
        std::vector<json> out;
        for (auto& r : host.records()) out.push_back(json::parse(r));
        return out;
    }
};

}  // namespace

TEST_CASE("gridapp webhook: answered 200 only after the hub acked the record, 503 when it does not", "[runtime]") {
    Driven d;
    d.ack = false;
    auto pending = std::async(std::launch::async, [&] { return push(d.port, kSample1, "p-1"); });
    // Emitted at once, but not answered while the batch is not acked.
    REQUIRE(wait_until([&] { return d.host.records().size() == 1; }, 5s));
    CHECK(pending.wait_for(300ms) == std::future_status::timeout);
    d.ack = true;
    auto answer = pending.get();
    CHECK(answer.status == 200);
    json rec = d.records().at(0);
    CHECK(rec["source"]["record_id"] == "WG20260309000871");
    CHECK(!casehub::sdk::check_record(rec));
    // The batch carries a gridapp cursor (the sample is older than the catch-up window, so it is
    // not among the recent revisions the cursor lists).
    json cur = json::parse(d.host.last_cursor());
    CHECK(cur["v"] == 1);
    CHECK(cur["w"].is_number_integer());
    CHECK(cur["s"].is_object());

    // A hub that never commits: 503 after ack_timeout_ms, so the back end retries.
    d.ack = false;
    auto slow = push(d.port, kSample2, "p-2");
    CHECK(slow.status == 503);
    // The retry (same message) is answered once the batch is acked, without a second record.
    d.ack = true;
    CHECK(push(d.port, kSample2, "p-2").status == 200);
    CHECK(d.host.records().size() == 2);
}

TEST_CASE("gridapp webhook: signatures, replay window, bodies and duplicates get the answers of 2.1", "[runtime]") {
    Driven d(json{{"previous_secret", kOtherSecretHex}});
    const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    // Bad or missing signature: 401, nothing emitted, nothing dead-lettered.
    CHECK(push(d.port, kSample1, "s-1", -1, "sha256=" + std::string(64, '0')).status == 401);
    CHECK(push(d.port, kSample1, "s-2", now_s, "", "abababababababababababababababababababababababababababababababab").status == 401);
    CHECK(push(d.port, kSample1, "s-3", now_s, "none").status == 401);
    // Signed over another body (tampered): 401.
    CHECK(push(d.port, with(kSample1, "吴静", "王芳"), "s-4", now_s,
               "sha256=" + hmac_hex(kSecretHex, std::to_string(now_s) + "." + kSample1)).status == 401);
    // Stale X-Timestamp (more than 300 s): 409, not stored.
    CHECK(push(d.port, kSample1, "s-5", now_s - 400).status == 409);
    CHECK(push(d.port, kSample1, "s-6", now_s + 400).status == 409);
    CHECK(d.host.records().empty());
    CHECK(d.host.dead_letters().empty());
    // Secret changeover: two signatures, either valid is enough; the previous secret alone too.
    const std::string both = "sha256=" + std::string(64, 'f') + ",sha256=" + hmac_hex(kSecretHex, std::to_string(now_s) + "." + kSample3);
    CHECK(push(d.port, kSample3, "s-7", now_s, both).status == 200);
    CHECK(push(d.port, kSample2, "s-8", now_s, "", kOtherSecretHex).status == 200);
    CHECK(d.host.records().size() == 2);

    // Not JSON / required key missing: 400 and a dead letter; invalid value: 202 and a dead letter.
    CHECK(push(d.port, "{\"eventId\":\"WG1\",\"workerName\":\"吴静\"", "b-1").status == 400);
    CHECK(push(d.port, with(kSample1, "\"status\":\"已上报\",", ""), "b-2").status == 400);
    CHECK(push(d.port, with(with(kSample1, "AQYH-02", "QTSX-09"), "000871", "000872"), "b-3").status == 202);
    auto letters = d.host.dead_letters();
    REQUIRE(letters.size() == 3);
    CHECK(letters[0].reason == "not_json");
    CHECK(letters[1].reason == "missing_field");
    CHECK(letters[2].reason == "missing_field");
    CHECK_THAT(letters[2].detail, Catch::Contains("QTSX-09"));
    for (auto& l : letters) CHECK(l.native.find("吴静") == std::string::npos);
    CHECK(d.host.records().size() == 2);

    // Duplicates: the same message again, the same revision under another X-Event-Id: 200, once.
    CHECK(push(d.port, kSample1, "dup-1").status == 200);
    CHECK(push(d.port, kSample1, "dup-1").status == 200);
    CHECK(push(d.port, kSample1, "dup-2").status == 200);
    CHECK(d.host.records().size() == 3);
    // Out of order: revision 3 before revision 2; revision 2 is answered 200 but not emitted.
    std::string r3 = with(with(kSample1, "\"revision\":1", "\"revision\":3"), "\"eventType\":\"created\"", "\"eventType\":\"updated\"");
    std::string r2 = with(kSample1, "\"revision\":1", "\"revision\":2");
    CHECK(push(d.port, r3, "o-3").status == 200);
    CHECK(push(d.port, r2, "o-2").status == 200);
    auto recs = d.records();
    REQUIRE(recs.size() == 4);
    CHECK(recs.back()["source"]["version"] == "3");
    // Nothing unmasked in what left the plugin, logs included.
    for (auto& r : d.host.records()) CHECK(!has_raw_personal_data(r));
    for (auto& r : d.host.records()) CHECK(r.find("吴静") == std::string::npos);
    for (auto& l : d.host.logs()) CHECK(l.message.find("吴静") == std::string::npos);
}

TEST_CASE("gridapp catch-up alone: signed paging with 429s fetches every event once, and resumes from the cursor", "[runtime]") {
    TempDir dir;
    // No webhook URL: the back end pushes nothing, everything comes through §4.
    Simulator sim("gridapp", dir.path, {"--port", "0", "--secret", kSecretHex, "--rate", "1", "--speed", "600",
                                        "--freeze-after", "3", "--p-429", "0.3", "--p-bad", "0.2"});
    httplib::Client cli("127.0.0.1", sim.port());
    REQUIRE(wait_until([&] {
        auto r = cli.Get("/_sim/state");
        return r && json::parse(r->body)["frozen"].get<bool>();
    }, 10s));
    const json events = json::parse(cli.Get("/_sim/state")->body)["events"];
    std::map<std::string, int> want;
    int bad = 0;
    for (auto& [id, e] : events.items()) {
        if (e["revision"].get<int>() == 0) continue;
        if (e["kind"] == "record") want[id] = e["revision"].get<int>();
        else ++bad;
    }
    REQUIRE(want.size() >= 10);
    const json cfg = {{"app_base_url", "http://127.0.0.1:" + std::to_string(sim.port())},
                      {"catchup_page_size", 4}, {"catchup_interval_s", 1}, {"initial_catchup_hours", 24}};
    std::string cursor;
    {
        Driven d(cfg);
        auto got = [&] {
            std::map<std::string, int> m;
            for (auto& r : d.records()) m[r["source"]["record_id"]] = std::stoi(r["source"]["version"].get<std::string>());
            return m;
        };
        const bool all = wait_until([&] { return got() == want; }, 30s, 100ms);
        REQUIRE(all);
        std::this_thread::sleep_for(2500ms);  // more catch-up runs re-read the overlap
        // Each event once (at its latest revision), each invalid one dead-lettered once.
        CHECK(d.records().size() == want.size());
        CHECK(d.host.dead_letters().size() == static_cast<std::size_t>(bad));
        for (auto& r : d.records()) {
            auto ev = cli.Get("/_sim/events/" + r["source"]["record_id"].get<std::string>());
            REQUIRE(ev);
            CHECK(r["raw_sha256"] == casehub::sdk::sha256_hex(ev->body));  // the event's bytes in the page
        }
        cursor = d.host.last_cursor();
    }
    json st = json::parse(cli.Get("/_sim/state")->body)["stats"];
    CHECK(st["catchup_answers"].value("429", 0) >= 1);  // Retry-After honoured, nothing lost
    CHECK(st["catchup_answers"].value("200", 0) >= 3);  // paged
    CHECK(st["catchup_answers"].value("401", 0) == 0);  // signed as the back end expects
    // Restarted from its cursor: the overlap is re-read, nothing is emitted again.
    Driven again(cfg, cursor);
    std::this_thread::sleep_for(3s);
    CHECK(again.host.records().empty());
    CHECK(again.host.dead_letters().empty());
}

TEST_CASE("gridapp secret changeover: the simulator signs with both secrets, the adapter knows only the new one", "[runtime]") {
    TempDir dir;
    const int sim_port = free_port();
    Driven d(json{{"secret", kOtherSecretHex},
                  {"app_base_url", "http://127.0.0.1:" + std::to_string(sim_port)},
                  {"catchup_interval_s", 2},
                  {"initial_catchup_hours", 24}});
    Simulator sim("gridapp", dir.path,
                  {"--port", std::to_string(sim_port), "--webhook-url", "http://127.0.0.1:" + std::to_string(d.port),
                   "--secret", kSecretHex, "--next-secret", kOtherSecretHex, "--retry-scale", "0.01", "--rate", "1",
                   "--speed", "600", "--freeze-after", "3", "--p-bad-signature", "0", "--p-forged", "0"});
    httplib::Client cli("127.0.0.1", sim.port());
    auto state = [&] {
        auto r = cli.Get("/_sim/state");
        return r ? json::parse(r->body) : json();
    };
    auto converged = [&] {
        json st = state();
        if (!st.is_object() || !st["settled"].get<bool>() || st["queued"] != 0 || st["in_flight"] != 0) return false;
        std::map<std::string, int> want, got;
        for (auto& [id, e] : st["events"].items())
            if (e["kind"] == "record" && e["revision"].get<int>() > 0) want[id] = e["revision"].get<int>();
        for (auto& r : d.records()) {
            int v = std::stoi(r["source"]["version"].get<std::string>());
            got[r["source"]["record_id"]] = std::max(got[r["source"]["record_id"]], v);
        }
        return !want.empty() && want == got;
    };
    const bool done = wait_until(converged, 30s, 200ms);
    INFO(state().dump());
    REQUIRE(done);
    json msgs = state()["stats"]["messages"];
    CHECK(msgs["push"].value("200", 0) >= 5);
    CHECK(msgs["push"].value("401", 0) == 0);  // the second signature is enough
    CHECK(state()["stats"]["catchup_answers"].value("401", 0) == 0);  // and catch-up signs with the new one
}

// ---- [integration]: hub + runner + simulator -----------------------------------------------------

namespace {

bool listening(int port) {
    int s = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port));
    bool ok = ::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(s);
    return ok;
}

struct World {
    TempDir dir;
    int adapter_port = free_port();
    std::unique_ptr<Hub> hub;
    std::unique_ptr<Simulator> sim;

    World(std::vector<std::string> sim_args, const std::string& extra_config = "") {
        // The hub first: pushes sent before the adapter listens would be retried only for the
        // (scaled) retry schedule, and a malformed push is not in catch-up.
        const int sim_port = free_port();
        std::string adapters = "[[adapters]]\nid = \"gridapp\"\nplugin = \"gridapp\"\n[adapters.config]\n"
                               "listen_port = " + std::to_string(adapter_port) +
                               "\nsecret = \"" + kSecretHex + "\"\napp_base_url = \"http://127.0.0.1:" +
                               std::to_string(sim_port) + "\"\ncategories_file = \"" + categories_path() +
                               "\"\ncatchup_interval_s = 2\n" + extra_config;
        hub = std::make_unique<Hub>(dir.path, hub_toml("backoff_initial_ms = 100\nbackoff_max_ms = 1000\n", adapters));
        hub->start();
        REQUIRE(wait_until([&] { return listening(adapter_port); }, 30s, 50ms));
        std::vector<std::string> args = {"--port", std::to_string(sim_port), "--webhook-url",
                                         "http://127.0.0.1:" + std::to_string(adapter_port),
                                         "--secret", kSecretHex, "--retry-scale", "0.01", "--workers", "4"};
        args.insert(args.end(), sim_args.begin(), sim_args.end());
        sim = std::make_unique<Simulator>("gridapp", dir.path, args);
    }
    fs::path db() const { return hub->db(); }

    json sim_state() const {
        httplib::Client cli("127.0.0.1", sim->port());
        auto r = cli.Get("/_sim/state");
        return r && r->status == 200 ? json::parse(r->body) : json();
    }
    // The simulator published everything and its push queue is empty, and the store holds every
    // published record at its latest revision.
    bool converged() const {
        json st = sim_state();
        if (!st.is_object() || !st["settled"].get<bool>() || st["queued"] != 0 || st["in_flight"] != 0) return false;
        for (auto& [id, e] : st["events"].items()) {
            if (e["kind"] != "record" || e["revision"].get<int>() == 0) continue;
            auto v = query(db(), "SELECT version FROM source_records WHERE system='gridapp' AND record_id='" + id + "'");
            if (v.empty() || v[0] != std::to_string(e["revision"].get<int>())) return false;
        }
        return true;
    }
    // For failure messages: what the store lacks, and the end of the hub's log.
    std::string diagnosis() const {
        std::string out;
        json st = sim_state();
        if (!st.is_object()) return "simulator not answering";
        out += "settled " + st["settled"].dump() + " queued " + st["queued"].dump() + " in_flight " +
               st["in_flight"].dump() + "\n";
        for (auto& [id, e] : st["events"].items()) {
            if (e["kind"] != "record" || e["revision"].get<int>() == 0) continue;
            auto v = query(db(), "SELECT version FROM source_records WHERE system='gridapp' AND record_id='" + id + "'");
            if (v.empty() || v[0] != std::to_string(e["revision"].get<int>()))
                out += id + ": simulator revision " + e["revision"].dump() + ", store " + (v.empty() ? "none" : v[0]) + "\n";
        }
        const std::string log = hub->log();
        return out + st["stats"].dump() + "\n" + log.substr(log.size() > 20000 ? log.size() - 20000 : 0);
    }
    std::string everything() const {
        std::string all;
        for (auto& s : query(db(), "SELECT doc FROM source_records")) all += s + "\n";
        for (auto& s : query(db(), "SELECT doc || detail FROM dead_letters")) all += s + "\n";
        for (auto& s : query(db(), "SELECT doc FROM events")) all += s + "\n";
        for (auto& s : query(db(), "SELECT doc FROM cases")) all += s + "\n";
        return all + hub->log();
    }
};

}  // namespace

TEST_CASE("gridapp end to end: every event in the store once, at its latest revision, mapped and masked", "[integration]") {
    World w({"--rate", "1", "--speed", "600", "--freeze-after", "5", "--p-duplicate", "0.3", "--p-failover", "0.2",
             "--p-reorder", "0.3", "--p-bd09", "0.2", "--p-wgs84", "0.1", "--p-no-location", "0.1",
             "--p-zero-location", "0.1", "--p-no-offset", "0.2", "--p-pii-text", "0.5", "--p-other-grid", "0.2",
             "--p-expired-photo", "0.1", "--p-bad", "0.15", "--p-malformed", "0.15", "--p-forged", "0.15",
             "--p-clock-skew", "0.1", "--p-bad-signature", "0.1", "--p-sendback", "0.3", "--p-reopen", "0.3"});
    const bool done = wait_until([&] { return w.converged(); }, 45s, 250ms);
    INFO((done ? std::string() : w.diagnosis()));
    REQUIRE(done);
    const auto db = w.db();
    const auto truth = w.sim->truth();
    const json published = w.sim_state()["events"];
    std::set<std::string> records, bad, forged;
    for (auto& t : truth) {
        if (t["kind"] == "record" && published.contains(t["record_id"].get<std::string>()) &&
            published[t["record_id"].get<std::string>()]["revision"].get<int>() > 0)
            records.insert(t["record_id"]);
        else if (t["kind"] == "bad") bad.insert(t["record_id"]);
        else if (t.value("forged", false)) forged.insert(t["record_id"]);
    }
    REQUIRE(records.size() >= 10);
    // Exactly the truth's published records, each once.
    CHECK(query_int(db, "SELECT count(*) FROM source_records WHERE system='gridapp'") ==
          static_cast<long long>(records.size()));
    for (auto& t : truth) {
        if (t["kind"] != "record") continue;
        const std::string id = t["record_id"];
        if (!records.count(id)) {  // not published before the simulator froze: nowhere
            CHECK(query_int(db, "SELECT count(*) FROM source_records WHERE record_id='" + id + "'") == 0);
            continue;
        }
        auto docs = query(db, "SELECT doc FROM source_records WHERE system='gridapp' AND record_id='" + id + "'");
        REQUIRE(docs.size() == 1);
        json r = json::parse(docs[0]);
        INFO(id);
        CHECK(r["category"]["code"] == t["category"]);
        CHECK(r["category"]["native"]["code"] == t["native_code"]);
        CHECK(r["confidentiality"] == t["confidentiality"]);
        CHECK(r["reporter"]["kind"] == "grid_worker");
        CHECK(r["reporter"]["name_masked"].get<std::string>().find('*') != std::string::npos);
        const std::string ct = t["coord_type"].is_string() ? t["coord_type"].get<std::string>() : "";
        if (ct == "bd09") CHECK(r["location"]["original"]["crs"] == "BD09");
        if (ct.empty()) CHECK(r["location"]["original"].is_null());
        // The worker's grid as served (the hub drops a neighbour's code that is not on its map).
        CHECK((r["location"]["grid_code"] == t["served_grid_code"] || r["location"]["grid_code"].is_null()));
        CHECK(!casehub::sdk::check_record(r));
        // raw_sha256 is the SHA-256 of the bytes the back end sent (push body = catch-up bytes).
        httplib::Client cli("127.0.0.1", w.sim->port());
        auto ev = cli.Get("/_sim/events/" + id);
        REQUIRE(ev);
        CHECK(r["raw_sha256"] == casehub::sdk::sha256_hex(ev->body));
        CHECK(r["source"]["version"] == std::to_string(published[id]["revision"].get<int>()));
    }
    // Bad events: dead letters with the expected reason; never records. Forged: nowhere.
    for (auto& t : truth) {
        if (t["kind"] != "bad") continue;
        const std::string id = t["record_id"];
        INFO(id);
        CHECK(query_int(db, "SELECT count(*) FROM source_records WHERE record_id='" + id + "'") == 0);
        CHECK(query_int(db, "SELECT count(*) FROM dead_letters WHERE stage='adapter' AND reason='" +
                                t["reason"].get<std::string>() + "' AND CAST(doc AS TEXT) LIKE '%" + id + "%'") >= 1);
    }
    for (auto& id : forged) {
        CHECK(query_int(db, "SELECT count(*) FROM source_records WHERE record_id='" + id + "'") == 0);
        CHECK(query_int(db, "SELECT count(*) FROM dead_letters WHERE CAST(doc AS TEXT) LIKE '%" + id + "%'") == 0);
    }
    // The irregularities really happened, and got the answers of §2.1.
    json st = w.sim_state();
    INFO(st["stats"].dump());
    auto answers = st["stats"]["messages"];
    if (!forged.empty()) CHECK(answers["forged"].value("401", 0) >= 1);
    if (st["stats"]["irregularities"].value("bad_signature", 0) > 0) CHECK(answers["badsig"].value("401", 0) >= 1);
    if (st["stats"]["irregularities"].value("clock_skew", 0) > 0) CHECK(answers["skew"].value("409", 0) >= 1);
    if (st["stats"]["irregularities"].value("malformed", 0) > 0) CHECK(answers["malformed"].value("400", 0) >= 1);
    CHECK(answers["push"].value("200", 0) >= 1);
    // Masking: no raw phone or ID number anywhere in the store or the hub's log.
    CHECK(!has_raw_personal_data(w.everything()));
    // The cursor: a gridapp cursor with a watermark.
    auto cur = query(db, "SELECT cursor FROM adapter_cursors WHERE adapter='gridapp'");
    REQUIRE(cur.size() == 1);
    json c = json::parse(cur[0]);
    CHECK(c["v"] == 1);
    CHECK(c["w"].is_number_integer());

    // Write-back: the document has none, so the adapter declares none and the hub says so for
    // every action, merge and split instead of queueing anything (docs/write-back.md).
    const std::string event_id = *records.begin();
    const std::string case_id =
        query(db, "SELECT case_id FROM source_records WHERE system='gridapp' AND record_id='" + event_id + "'").at(0);
    const std::string status = query(db, "SELECT status FROM cases WHERE case_id='" + case_id + "'").at(0);
    const std::string act = status == "closed" || status == "cancelled" || status == "rejected" ? "return" : "accept";
    auto r = casehub_cli(w.dir.path, {"cases", "action", case_id, act, "--json"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    json answer = json::parse(r.output);
    CHECK(answer["writebacks"].empty());
    bool named = false;
    for (const auto& n : answer["not_written_back"])
        if (n["system"] == "gridapp" && n["record_id"] == event_id) {
            named = true;
            CHECK_THAT(n["reason"].get<std::string>(), Catch::Contains("no write-back"));
        }
    CHECK(named);
    CHECK(query_int(db, "SELECT count(*) FROM writebacks") == 0);
    CHECK(w.hub->terminate() == 0);
}

TEST_CASE("gridapp write-back: the plugin declares none, so any action is unsupported", "[runtime]") {
    casehub::sdk::FakeHost host{plugin_descriptor()};
    CHECK((plugin_descriptor()->capabilities & CASEHUB_CAP_WRITE_BACK) == 0);
    for (const char* a : {"accept", "dispatch", "start", "resolve", "verify", "close", "reopen", "return", "merge", "split"}) {
        INFO(a);
        CHECK(host.write_back(json{{"v", 1}, {"key", "C20261128-000001:1"}, {"action", a}}) == CASEHUB_ERR_UNSUPPORTED);
    }
}

TEST_CASE("gridapp restarts: kill -9 of the runner and of the hub lose nothing, duplicate nothing", "[integration]") {
    World w({"--rate", "1.5", "--speed", "600", "--freeze-after", "7", "--p-duplicate", "0.1", "--p-reorder", "0.2",
             "--p-failover", "0.1", "--p-bad", "0", "--p-malformed", "0", "--p-forged", "0"});
    std::mt19937 rng(42);
    std::set<int> killed;
    for (int k = 0; k < 3; ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(800 + rng() % 1500));
        auto a = w.hub->adapter("gridapp");
        if (a.is_object() && a.value("pid", 0) > 0 && ::kill(a["pid"].get<int>(), SIGKILL) == 0)
            killed.insert(a["pid"].get<int>());
    }
    CHECK(killed.size() >= 2);  // distinct runners: the supervisor restarted it in between
    std::this_thread::sleep_for(std::chrono::milliseconds(700 + rng() % 800));
    w.hub->kill9();
    std::this_thread::sleep_for(1s);
    w.hub->start();
    const bool done = wait_until([&] { return w.converged(); }, 50s, 250ms);
    INFO((done ? std::string() : w.diagnosis()));
    REQUIRE(done);
    const auto db = w.db();
    std::set<std::string> ids;
    const json published = w.sim_state()["events"];
    for (auto& [id, e] : published.items())
        if (e["kind"] == "record" && e["revision"].get<int>() > 0) ids.insert(id);
    CHECK(ids.size() >= 20);
    CHECK(query_int(db, "SELECT count(*) FROM source_records WHERE system='gridapp'") ==
          static_cast<long long>(ids.size()));
    // 0 duplicated: one case per record (no correlation merges across systems here) and every
    // applied version appears once among the case events of its record.
    for (auto& id : ids) {
        INFO(id);
        CHECK(query_int(db, "SELECT count(*) FROM source_records WHERE record_id='" + id + "'") == 1);
    }
    CHECK(query_int(db, "SELECT applied FROM adapter_counters WHERE adapter='gridapp'") <=
          query_int(db, "SELECT records_in FROM adapter_counters WHERE adapter='gridapp'"));
    CHECK(!has_raw_personal_data(w.everything()));
    CHECK(w.hub->terminate() == 0);
}

TEST_CASE("gridapp casehub-plugin-check passes against the simulator", "[integration]") {
    TempDir dir;
    const int port = free_port();
    Simulator sim("gridapp", dir.path,
                  {"--port", "0", "--webhook-url", "http://127.0.0.1:" + std::to_string(port), "--secret", kSecretHex,
                   "--retry-scale", "0.01", "--rate", "1", "--speed", "600"});
    // The check wants no version emitted again after a restart from the last cursor. The cursor
    // remembers the events updated within catchup_overlap_s of its watermark; a push that
    // arrives later than that (held back, or retried because the first run stopped before its
    // ack) is left to the hub's version rule. At 600× the default 300 s is half a second of real
    // time, less than the simulator holds a push back (0.3-1.5 s): an hour keeps the whole run
    // in the window, as five minutes does at the real speed. (Seen failing on the event that
    // the seed's timeline holds back at the end of the first run.)
    auto r = run({bin("bin/casehub-plugin-check").string(), std::string(CASEHUB_PLUGIN_DIR) + "/gridapp.so",
                  "--set", "listen_port=" + std::to_string(port), "--set", "secret=" + kSecretHex, "--set",
                  "app_base_url=http://127.0.0.1:" + std::to_string(sim.port()), "--set",
                  "categories_file=" + categories_path(), "--set", "catchup_interval_s=2", "--set",
                  "catchup_overlap_s=3600", "--seconds", "6"});
    INFO(r.output);
    CHECK(r.exit_code == 0);
    CHECK(!has_raw_personal_data(r.output));
}
