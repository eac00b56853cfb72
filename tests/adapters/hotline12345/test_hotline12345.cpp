// hotline12345 adapter: the mapping ([unit]), the plugin in process against the simulator
// ([runtime]) and the whole hub against the simulator ([integration]).
#include "../../integration/harness.hpp"
#include "../../support/simulator.hpp"

#include "mapping.hpp"

#include <casehub/sdk/fake_host.hpp>
#include <casehub/sdk/record_check.hpp>
#include <casehub/sdk/sha256.hpp>

#include <httplib.h>

#include <dlfcn.h>

#include <map>
#include <regex>
#include <set>

using namespace casehub::test;
namespace h12 = casehub::hotline12345;
using nlohmann::json;

namespace {

const h12::Categories& cats() {
    static const h12::Categories c =
        h12::Categories::load(std::string(CASEHUB_SOURCE_DIR) + "/config/qinhuai/categories.json");
    return c;
}

constexpr std::int64_t kNow = 1773019300000;  // 2026-03-09T09:21:40+08:00

// §7, first sample (app order, GCJ-02, dispatched to the street).
const std::string kSampleApp =
    R"({"gdbh":"NJ20260309004512","ldsj":"2026-03-09 09:05:31","ldhm":"13700137000","ldrxm":"赵女士",)"
    R"("sqly":"我的南京APP","sqlx":"投诉","wtfl":"城乡建设>市容环境>垃圾清运",)"
    R"("sqbt":"贡院街垃圾堆放无人清理",)"
    R"("sqnr":"江南贡院东边路边堆了一大堆装修垃圾，两天了没人清理，游客很多，影响市容，请尽快处理。",)"
    R"("fsdz":"秦淮区贡院街江南贡院东侧","jd":"118.796290","wd":"32.020041","zblx":"gcj02",)"
    R"("qx":"秦淮区","jdmc":"夫子庙街道","sqmc":"","jjcd":"一般","sfbm":"0",)"
    R"("zbdw":"秦淮区夫子庙街道办事处","zbdwbm":"320104JD002","xbdw":"秦淮区城市管理局",)"
    R"("pdsj":"2026-03-09 09:21:07","blsx":"2026-03-12 17:30:00","clzt":"已派单",)"
    R"("bjsj":"","dfnr":"","hfsj":"","hfjg":"","myd":"","cbcs":0,"glgdbh":"","gljjdbh":"",)"
    R"("fj":[{"mc":"IMG_20260309_090412.jpg","url":"https://10.32.1.45:8443/files/2026/03/09/7f3a9c0e.jpg","lx":"image/jpeg"}],)"
    R"("gxsj":"2026-03-09 09:21:07.385"})";

// §7, the confidential report.
const std::string kSampleConfidential =
    R"({"gdbh":"NJ20260308006120","ldsj":"2026-03-08 14:22:03","ldhm":"保密","ldrxm":"保密",)"
    R"("sqly":"网站","sqlx":"举报","wtfl":"市场监管>食品安全>无证食品经营","sqbt":"举报无证卤菜店",)"
    R"("sqnr":"举报银龙花园小区北门对面一家无招牌卤菜店无证经营，卫生条件差。举报人电话13500135000，请勿透露举报人信息。",)"
    R"("fsdz":"光华路街道银龙花园北门对面","jd":"","wd":"","qx":"秦淮区","jdmc":"光华路","sqmc":"",)"
    R"("jjcd":"一般","sfbm":"1","zbdw":"秦淮区市场监督管理局","zbdwbm":"320104BM02","xbdw":"秦淮区光华路街道办事处",)"
    R"("pdsj":"2026-03-08 15:03:30","blsx":"2026-03-15 17:30:00","clzt":"已派单","bjsj":"","dfnr":"",)"
    R"("hfsj":"","hfjg":"","myd":"","cbcs":0,"glgdbh":"","gljjdbh":"","fj":[],"gxsj":"2026-03-08 15:03:30.771"})";

// §7, the 110 transfer.
const std::string kSample110 =
    R"({"gdbh":"NJ20260309002231","ldsj":"2026-03-09 07:58:40","ldhm":"13600136000","ldrxm":"周先生",)"
    R"("sqly":"110接警","sqlx":"求助","wtfl":"社区治理>矛盾纠纷>邻里纠纷","sqbt":"楼上漏水引发邻里纠纷",)"
    R"("sqnr":"来电人称瑞金新村12幢楼上住户卫生间漏水至其家中，多次协商未果，双方发生争执。110已出警，现场无治安问题，转12345由属地协调处理。",)"
    R"("fsdz":"瑞金新村12幢","jd":"","wd":"","qx":"秦淮区","jdmc":"瑞金路街道","sqmc":"瑞金新村社区",)"
    R"("jjcd":"一般","sfbm":"0","zbdw":"秦淮区瑞金路街道办事处","zbdwbm":"320104JD009","xbdw":"",)"
    R"("pdsj":"2026-03-09 08:20:13","blsx":"2026-03-12 17:30:00","clzt":"办理中","bjsj":"","dfnr":"",)"
    R"("hfsj":"","hfjg":"","myd":"","cbcs":0,"glgdbh":"","gljjdbh":"32010020260309004417","fj":[],)"
    R"("gxsj":"2026-03-09 08:47:51.006"})";

json map_ok(const std::string& raw) {
    h12::Mapped m = h12::map_item(raw, cats(), kNow);
    INFO((m.fault ? m.fault->reason + ": " + m.fault->detail : std::string()));
    REQUIRE_FALSE(m.fault);
    auto f = casehub::sdk::check_record(m.record);
    INFO((f ? f->reason + " " + f->message : std::string()));
    REQUIRE_FALSE(f);
    return json::parse(m.record);
}

std::string with(std::string raw, const std::string& key, const std::string& value_json) {
    json j = json::parse(raw);
    j[key] = json::parse(value_json);
    return j.dump();
}

bool has_raw_personal(const std::string& s) {
    // An unmasked mobile (11 digits starting 1), fixed line (025 + 8 digits) or an 18-digit
    // resident id; not inside a longer alphanumeric run (hex hashes, ids).
    static const std::regex mobile(R"((^|[^0-9A-Za-z])1[3-9][0-9]{9}([^0-9A-Za-z]|$))");
    static const std::regex fixed(R"((^|[^0-9A-Za-z])025-?[0-9]{8}([^0-9A-Za-z]|$))");
    static const std::regex id18(R"((^|[^0-9A-Za-z])[0-9]{17}[0-9Xx]([^0-9A-Za-z]|$))");
    if (std::regex_search(s, fixed)) return true;
    return std::regex_search(s, mobile) || std::regex_search(s, id18);
}

}  // namespace

// ---- [unit] the mapping ----------------------------------------------------------------------

TEST_CASE("hotline12345 the app sample maps to the case-model example 6.2", "[unit]") {
    json r = map_ok(kSampleApp);
    CHECK(r["source"]["system"] == "hotline12345");
    CHECK(r["source"]["record_id"] == "NJ20260309004512");
    CHECK(r["source"]["version"] == "2026-03-09T09:21:07.385+08:00");
    CHECK(r["kind"] == "appeal");
    CHECK(r["appeal_type"] == "complaint");
    CHECK(r["channel"] == "app");
    CHECK(r["category"]["code"] == "city_appearance.exposed_garbage");
    CHECK(r["category"]["native"] == json{{"scheme", "hotline12345.wtfl"}, {"code", "城乡建设>市容环境>垃圾清运"}, {"name", "垃圾清运"}});
    CHECK(r["title"] == "贡院街垃圾堆放无人清理");
    CHECK(r["status"] == "dispatched");
    CHECK(r["status_native"] == "已派单");
    CHECK(r["priority"] == "general");
    CHECK(r["times"]["reported_at"] == "2026-03-09T09:05:31+08:00");
    CHECK(r["times"]["registered_at"].is_null());
    CHECK(r["times"]["dispatched_at"] == "2026-03-09T09:21:07+08:00");
    CHECK(r["times"]["due_at"] == "2026-03-12T17:30:00+08:00");
    CHECK(r["times"]["resolved_at"].is_null());
    CHECK(r["times"]["closed_at"].is_null());
    CHECK(r["times"]["updated_at"] == "2026-03-09T09:21:07.385+08:00");
    CHECK(r["location"]["original"] == json{{"x", 118.796290}, {"y", 32.020041}, {"crs", "GCJ02"}});
    CHECK(r["location"]["address"] == "秦淮区贡院街江南贡院东侧");
    CHECK(r["reporter"] == json{{"kind", "citizen"}, {"name_masked", "赵**"}, {"phone_masked", "137****7000"},
                                {"id_masked", nullptr}, {"worker_id", nullptr}});
    CHECK(r["responsible"] == json::parse(R"([{"dept_code":"320104JD002","name":"秦淮区夫子庙街道办事处","role":"lead"},
                                             {"dept_code":null,"name":"秦淮区城市管理局","role":"assist"}])"));
    CHECK(r["confidentiality"] == "public");
    CHECK(r["attachments"] == json::parse(R"([{"uri":"https://10.32.1.45:8443/files/2026/03/09/7f3a9c0e.jpg","mime":"image/jpeg"}])"));
    CHECK(r["links"].empty());
    CHECK(r["satisfaction"].is_null());
    CHECK(r["raw_sha256"] == casehub::sdk::sha256_hex(kSampleApp));
}

TEST_CASE("hotline12345 confidential order is internal and masks the number in the text", "[unit]") {
    json r = map_ok(kSampleConfidential);
    CHECK(r["confidentiality"] == "internal");
    CHECK(r["appeal_type"] == "report");
    CHECK(r["channel"] == "web");
    CHECK(r["reporter"]["name_masked"].is_null());
    CHECK(r["reporter"]["phone_masked"].is_null());
    CHECK(r["description"].get<std::string>().find("135****5000") != std::string::npos);
    CHECK_FALSE(has_raw_personal(r.dump()));
    CHECK(r["category"]["code"] == "market_food.food_safety");
    CHECK(r["responsible"][0]["dept_code"] == "320104BM02");
    CHECK(r["responsible"][1]["name"] == "秦淮区光华路街道办事处");
    // sfbm=0 but a 举报 is internal too (case-model §5).
    json p = map_ok(with(kSampleConfidential, "sfbm", R"("0")"));
    CHECK(p["confidentiality"] == "internal");
    json q = map_ok(with(with(kSampleConfidential, "sfbm", R"("0")"), "sqlx", R"("投诉")"));
    CHECK(q["confidentiality"] == "public");
}

TEST_CASE("hotline12345 a 110 transfer links the police call sheet", "[unit]") {
    json r = map_ok(kSample110);
    CHECK(r["channel"] == "transfer");
    CHECK(r["status"] == "in_progress");
    CHECK(r["links"] == json::parse(R"([{"system":"police","record_id":"32010020260309004417","relation":"transferred_from"}])"));
    CHECK(r["reporter"]["name_masked"] == "周**");
    CHECK(r["reporter"]["phone_masked"] == "136****6000");
    CHECK(r["location"]["original"].is_null());
    CHECK(r["category"]["code"] == "dispute.civil");
}

TEST_CASE("hotline12345 every status, channel, appeal type, priority and satisfaction of the document", "[unit]") {
    for (const auto& [native, common] : h12::kStatus) {
        json r = map_ok(with(kSampleApp, "clzt", json(native).dump()));
        CHECK(r["status"] == common);
        CHECK(r["status_native"] == native);
        if (std::string(native) == "已归档") CHECK(r["times"]["closed_at"] == "2026-03-09T09:21:07.385+08:00");
    }
    for (const auto& [native, common] : h12::kChannel) CHECK(map_ok(with(kSampleApp, "sqly", json(native).dump()))["channel"] == common);
    for (const auto& [native, common] : h12::kAppealType) CHECK(map_ok(with(kSampleApp, "sqlx", json(native).dump()))["appeal_type"] == common);
    for (const auto& [native, common] : h12::kPriority) CHECK(map_ok(with(kSampleApp, "jjcd", json(native).dump()))["priority"] == common);
    for (const auto& [native, common] : h12::kSatisfaction) CHECK(map_ok(with(kSampleApp, "myd", json(native).dump()))["satisfaction"] == common);
}

TEST_CASE("hotline12345 coordinates - zblx absent before 2023-05 is BD09, after GCJ02, 0 or empty is none", "[unit]") {
    json j = json::parse(kSampleApp);
    j.erase("zblx");
    j["ldsj"] = "2023-04-30 23:59:59";
    CHECK(map_ok(j.dump())["location"]["original"]["crs"] == "BD09");
    j["ldsj"] = "2023-05-01 00:00:00";
    CHECK(map_ok(j.dump())["location"]["original"]["crs"] == "GCJ02");
    CHECK(map_ok(with(kSampleApp, "zblx", R"("bd09")"))["location"]["original"]["crs"] == "BD09");
    for (const char* v : {R"("")", R"("0")", R"("abc")"}) {
        json r = map_ok(with(with(kSampleApp, "jd", v), "wd", v));
        CHECK(r["location"]["original"].is_null());
        CHECK(r["location"]["address"] == "秦淮区贡院街江南贡院东侧");
    }
}

TEST_CASE("hotline12345 old category paths and unmapped branches", "[unit]") {
    CHECK(map_ok(with(kSampleApp, "wtfl", R"("城乡建设>市容环境>生活垃圾清运")"))["category"]["code"] == "city_appearance.exposed_garbage");
    CHECK(map_ok(with(kSampleApp, "wtfl", R"("环境保护>噪声污染>社会生活噪声")"))["category"]["code"] == "noise.residential");
    CHECK(map_ok(with(kSampleApp, "wtfl", R"("城乡建设>市容环境>占道经营及流动摊贩")"))["category"]["code"] == "market_food.outside_store_trading");
    json r = map_ok(with(kSampleApp, "wtfl", R"("教育>学校管理>校外培训")"));
    CHECK(r["category"]["code"] == "other.unclassified");
    CHECK(r["category"]["native"]["code"] == "教育>学校管理>校外培训");
    CHECK(r["category"]["native"]["name"] == "校外培训");
    auto m = h12::map_item(with(kSampleApp, "wtfl", R"("教育>学校管理>校外培训")"), cats(), kNow);
    CHECK(m.warnings.size() == 1);
}

TEST_CASE("hotline12345 merged repeat call - duplicate_of link and repeat tag", "[unit]") {
    json r = map_ok(with(with(kSampleApp, "glgdbh", R"("NJ20260309004400")"), "clzt", R"("已归档")"));
    CHECK(r["links"] == json::parse(R"([{"system":"hotline12345","record_id":"NJ20260309004400","relation":"duplicate_of"}])"));
    CHECK(r["tags"] == json::array({"repeat"}));
    CHECK(r["status"] == "closed");
}

TEST_CASE("hotline12345 personal data in free text and fields is masked", "[unit]") {
    std::string raw = with(with(kSampleApp, "sqnr", R"("本人身份证号320104198807121234，电话138 5123 4567，座机(025)84512345。")"),
                           "ldhm", R"("025-84512345")");
    raw = with(raw, "ldrxm", R"("欧阳明辉")");
    json r = map_ok(raw);
    const std::string d = r["description"];
    CHECK(d.find("320104********1234") != std::string::npos);
    CHECK(d.find("138****4567") != std::string::npos);
    CHECK(r["reporter"]["phone_masked"] == "0258*****45");
    CHECK(r["reporter"]["name_masked"] == "欧***");
    CHECK_FALSE(has_raw_personal(r.dump()));
    CHECK(r.dump().find("84512345") == std::string::npos);
    CHECK(map_ok(with(kSampleApp, "ldrxm", R"("匿名")"))["reporter"]["name_masked"].is_null());
    CHECK(map_ok(with(kSampleApp, "ldhm", R"("")"))["reporter"]["phone_masked"].is_null());
}

TEST_CASE("hotline12345 values outside the document are dead letters with a reason", "[unit]") {
    struct Case {
        std::string key, value, reason;
    };
    for (const auto& c : std::vector<Case>{{"clzt", R"("处理中")", "bad_enum"},
                                           {"sqly", R"("短信")", "bad_enum"},
                                           {"sqlx", R"("表扬")", "bad_enum"},
                                           {"jjcd", R"("普通")", "bad_enum"},
                                           {"sfbm", R"("2")", "bad_enum"},
                                           {"myd", R"("很好")", "bad_enum"},
                                           {"zblx", R"("wgs84")", "bad_enum"},
                                           {"ldsj", R"("2026/03/09 09:05:31")", "bad_time"},
                                           {"pdsj", R"("2026-03-09")", "bad_time"},
                                           {"gxsj", R"("2026-03-09 09:21:07")", "bad_time"},
                                           {"gdbh", R"("")", "missing_field"},
                                           {"gdbh", R"("12345")", "bad_type"},
                                           {"wtfl", R"("")", "missing_field"},
                                           {"wtfl", R"("城乡建设>>垃圾清运")", "bad_type"},
                                           {"cbcs", R"("0")", "bad_type"},
                                           {"sqnr", "17", "bad_type"}}) {
        INFO(c.key << " = " << c.value);
        auto m = h12::map_item(with(kSampleApp, c.key, c.value), cats(), kNow);
        REQUIRE(m.fault);
        CHECK(m.fault->reason == c.reason);
        CHECK(m.fault->detail.find(c.key) != std::string::npos);
    }
    json j = json::parse(kSampleApp);
    j.erase("ldsj");
    auto m = h12::map_item(j.dump(), cats(), kNow);
    REQUIRE(m.fault);
    CHECK(m.fault->reason == "missing_field");
    CHECK(h12::map_item("{\"gdbh\":", cats(), kNow).fault->reason == "not_json");
    // The dead-letter copy carries no personal data.
    std::string masked = h12::mask_native(with(kSampleApp, "sqnr", R"("电话13851234567")"));
    CHECK_FALSE(has_raw_personal(masked));
    CHECK(masked.find("137****7000") != std::string::npos);
    CHECK(masked.find("赵**") != std::string::npos);
    CHECK_FALSE(has_raw_personal(h12::mask_native("{\"ldhm\":\"13700137000\",\"ldrxm\":\"赵女士\"")));
}

TEST_CASE("hotline12345 item bytes are cut exactly from the response body", "[unit]") {
    const std::string a = R"({"gdbh":"NJ20260309004512","sqnr":"括号}{和\"引号\"","fj":[{"mc":"a]"}]})";
    const std::string b = "{ \"gdbh\" : \"NJ20260309004513\" ,\n \"x\":[1,2,{}] }";
    const std::string body = "{\"code\":0,\"msg\":\"ok\",\"data\":{\"note\":\"\\\"items\\\":[\",\"items\":[ " + a +
                             " ,\n" + b + "],\"next_cursor\":\"abc\",\"has_more\":false}}";
    auto spans = h12::item_spans(body);
    REQUIRE(spans.size() == 2);
    CHECK(spans[0] == a);
    CHECK(spans[1] == b);
    CHECK(h12::item_spans(R"({"code":0,"msg":"ok","data":{"items":[],"next_cursor":"x","has_more":false}})").empty());
    CHECK_THROWS(h12::item_spans(R"({"code":0,"data":{"items":[{"a":1}")"));
    CHECK_THROWS(h12::item_spans(R"({"code":0,"data":null})"));
}

TEST_CASE("hotline12345 write-back mapping: 办理中 已办结 退单 and nothing for the centre's steps", "[unit]") {
    CHECK(h12::feedback_clzt("accept") == "办理中");
    CHECK(h12::feedback_clzt("start") == "办理中");
    CHECK(h12::feedback_clzt("resolve") == "已办结");
    CHECK(h12::feedback_clzt("return") == "退单");
    for (const char* a : {"dispatch", "verify", "close", "reopen", "merge", "split", "", "in_progress"}) {
        INFO(a);
        CHECK(h12::feedback_clzt(a).empty());
    }
}

TEST_CASE("hotline12345 local times", "[unit]") {
    CHECK(h12::parse_local("2026-03-09 09:21:07", false) == 1773019267000);
    CHECK(h12::parse_local("2026-03-09 09:21:07.385", true) == 1773019267385);
    CHECK_FALSE(h12::parse_local("2026-03-09T09:21:07", false));
    CHECK_FALSE(h12::parse_local("2026-02-30 09:21:07", false));
    CHECK_FALSE(h12::parse_local("2026-03-09 09:21:07", true));
    CHECK(h12::format_local(1773019267385) == "2026-03-09 09:21:07");
}

// ---- [runtime] the plugin in process against the simulator ------------------------------------

namespace {

using EntryFn = const casehub_plugin_descriptor* (*)(uint32_t, uint32_t);

const casehub_plugin_descriptor* plugin_descriptor() {
    static void* lib = [] {
        std::string so = std::string(CASEHUB_PLUGIN_DIR) + "/hotline12345.so";
        void* h = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!h) FAIL("cannot load " << so << ": " << ::dlerror());
        return h;
    }();
    auto entry = reinterpret_cast<EntryFn>(::dlsym(lib, "casehub_plugin_entry"));
    REQUIRE(entry != nullptr);
    return entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR);
}

// A world that started `minutes` ago at `per_min` incidents a minute, so that orders in every
// state exist at once (the stages of an order take simulated minutes to hours).
std::vector<std::string> past_world(int minutes, double per_min, int count, std::vector<std::string> extra = {}) {
    const auto start = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count() - minutes * 60000LL;
    std::vector<std::string> a{"--port", "0", "--sim-start", std::to_string(start), "--wall-start",
                               std::to_string(start), "--world-rate", std::to_string(per_min),
                               "--count", std::to_string(count)};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

// The same with every transport irregularity off unless the test sets it.
std::vector<std::string> quiet(int minutes, double per_min, int count, std::vector<std::string> extra = {}) {
    std::vector<std::string> a{"--p-token-expired", "0", "--p-429", "0", "--p-503", "0",
                               "--p-500", "0", "--p-cursor-expired", "0", "--p-page-dup", "0"};
    a.insert(a.end(), extra.begin(), extra.end());
    return past_world(minutes, per_min, count, a);
}

json adapter_config(const Simulator& sim, json extra = json::object()) {
    json c = {{"base_url", sim.ready()["base_url"]},
              {"app_key", sim.ready()["app_key"]},
              {"app_secret", sim.ready()["app_secret"]},
              {"categories_file", std::string(CASEHUB_SOURCE_DIR) + "/config/qinhuai/categories.json"},
              {"initial_updated_after", ""},
              {"initial_lookback_hours", 24},
              {"page_limit", 200},
              {"poll_interval_ms", 100},
              {"max_requests_per_second", 10.0},
              {"request_timeout_ms", 5000},
              {"backoff_initial_ms", 50},
              {"backoff_max_ms", 400},
              {"default_officer", "值班员"}};
    for (auto& [k, v] : extra.items()) c[k] = v;
    return c;
}

json sim_get(const Simulator& sim, const std::string& path) {
    httplib::Client c("127.0.0.1", sim.port());
    auto r = c.Get(path.c_str());
    REQUIRE(r);
    return json::parse(r->body);
}

std::set<std::string> truth_ids(const Simulator& sim, const std::string& kind) {
    std::set<std::string> out;
    for (const auto& t : sim.truth())
        if (t.value("kind", "") == kind) out.insert(t["record_id"].get<std::string>());
    return out;
}

// Latest record per record_id among what the host received; every (id, version) once.
struct Received {
    std::map<std::string, json> latest;
    std::map<std::string, int> versions_seen;
    int repeated_versions = 0;
    int invalid = 0;
    void add(const std::vector<std::string>& recs) {
        std::set<std::pair<std::string, std::string>> seen;
        for (const auto& s : recs) {
            if (casehub::sdk::check_record(s)) ++invalid;
            json r = json::parse(s);
            std::string id = r["source"]["record_id"], v = r["source"]["version"];
            if (!seen.insert({id, v}).second) ++repeated_versions;
            latest[id] = r;
        }
    }
};

}  // namespace

TEST_CASE("hotline12345 plugin reads every order once through every transport irregularity", "[runtime]") {
    TempDir dir;
    Simulator sim("hotline12345", dir.path,
                  past_world(60, 2, 100, {"--default-limit", "50", "--p-token-expired", "0.15", "--p-429", "0.2", "--retry-after", "1", "--p-503", "0.1",
                   "--p-500", "0.05", "--p-cursor-expired", "0.15", "--p-page-dup", "0.5", "--p-bad", "0.1",
                   "--p-merged", "0.2", "--p-pii-text", "0.5", "--p-confidential", "0.2", "--p-old-order", "0.2",
                   "--p-unmapped", "0.1"}));
    casehub::sdk::FakeHost host(plugin_descriptor());
    host.create(adapter_config(sim, {{"page_limit", 4}, {"max_requests_per_second", 8.0}}));
    host.start();
    Received got;
    std::set<std::string> good, bad;
    auto done = [&] {
        got = Received{};
        got.add(host.records());
        good = truth_ids(sim, "record");
        bad = truth_ids(sim, "bad");
        std::set<std::string> dl;
        for (const auto& d : host.dead_letters())
            for (const auto& id : bad)
                if (d.detail.find(id) != std::string::npos) dl.insert(id);
        if (good.size() < 20 || bad.empty()) return false;
        for (const auto& id : good)
            if (!got.latest.count(id)) return false;
        return dl.size() == bad.size();
    };
    auto end = std::chrono::steady_clock::now() + 40s;
    while (!done() && std::chrono::steady_clock::now() < end) host.run_for(500ms);
    REQUIRE(done());
    CHECK(got.invalid == 0);
    CHECK(got.repeated_versions == 0);  // page-border and restart duplicates never handed over twice
    for (const auto& [id, r] : got.latest) CHECK((good.count(id) == 1));  // nothing invented
    for (const auto& d : host.dead_letters()) {
        CHECK_FALSE(has_raw_personal(d.native));
        CHECK_FALSE(d.cursor.empty());
    }
    for (const auto& r : host.records()) CHECK_FALSE(has_raw_personal(r));
    std::string logs;
    for (const auto& l : host.logs()) logs += l.message + "\n";
    CHECK_FALSE(has_raw_personal(logs));
    auto stats = sim_get(sim, "/_sim/stats");
    INFO(stats.dump() << "\n" << logs);
    CHECK(stats["token_expired"].get<int>() > 0);
    CHECK(stats["throttled"].get<int>() > 0);
    CHECK(stats["maintenance"].get<int>() > 0);
    CHECK(stats["cursor_expired"].get<int>() > 0);
    CHECK(stats["page_dup"].get<int>() > 0);
    CHECK(stats["busy"].get<int>() > 0);
    CHECK_THAT(logs, Catch::Contains("getting a new one and repeating the request"));
    CHECK_THAT(logs, Catch::Contains("Retry-After"));
    CHECK_THAT(logs, Catch::Contains("restarting with updated_after="));
    CHECK_THAT(logs, Catch::Contains("HTTP 503"));
    // Categories as the ground truth expects them.
    for (const auto& t : sim.truth()) {
        if (t.value("kind", "") != "record" || !t.contains("category")) continue;
        auto it = got.latest.find(t["record_id"].get<std::string>());
        if (it != got.latest.end()) CHECK(it->second["category"]["code"] == t["category"]);
    }
    // Merged repeat calls point at their main order.
    int merged = 0;
    for (const auto& [id, r] : got.latest)
        for (const auto& l : r["links"])
            if (l["relation"] == "duplicate_of") {
                ++merged;
                CHECK(got.latest.count(l["record_id"].get<std::string>()) == 1);
                CHECK(r["status_native"] == "已归档");
            }
    // As many as the simulator sent: its merged calls are versioned 15-150 min after the call, so
    // a world of the last hour may hold none yet (at night, when calls are few, it often does).
    int merged_sent = 0;
    for (const auto& t : sim.truth())
        if (t.value("kind", "") == "record" && t.contains("duplicate_of") &&
            got.latest.count(t["record_id"].get<std::string>()))
            ++merged_sent;
    CHECK(merged == merged_sent);
    // The content irregularities of §6 reached the hub in their normalised form.
    int old = 0, unmapped = 0, internal = 0, masked_text = 0;
    for (const auto& [id, r] : got.latest) {
        old += r["times"]["reported_at"].get<std::string>() < "2025";
        unmapped += r["category"]["code"] == "other.unclassified";
        internal += r["confidentiality"] == "internal";
        masked_text += r["description"].get<std::string>().find("****") != std::string::npos;
        if (r["channel"] == "transfer")
            CHECK((r["links"].size() >= 1 && r["links"].back()["system"] == "police"));
        if (r["location"]["original"].is_object())
            CHECK((r["channel"] == "app" || r["channel"] == "wechat"));
    }
    CHECK(old > 0);
    CHECK(unmapped > 0);
    CHECK(internal > 0);
    CHECK(masked_text > 0);
}

TEST_CASE("hotline12345 restart from each committed cursor hands over nothing twice", "[runtime]") {
    TempDir dir;
    Simulator sim("hotline12345", dir.path, quiet(60, 1, 60, {"--p-page-dup", "0.5"}));
    std::string cursor;
    Received all;
    std::vector<std::string> records;
    // Five short runs, each resumed from the cursor of the last batch of the previous one.
    for (int run = 0; run < 6; ++run) {
        casehub::sdk::FakeHost host(plugin_descriptor());
        host.create(adapter_config(sim, {{"page_limit", 3}}));
        host.start(cursor);
        host.run_for(run < 5 ? 700ms : 3000ms);
        auto rs = host.records();
        records.insert(records.end(), rs.begin(), rs.end());
        if (!host.last_cursor().empty()) cursor = host.last_cursor();
    }
    all.add(records);
    CHECK(all.repeated_versions == 0);
    CHECK(all.invalid == 0);
    const auto ids = truth_ids(sim, "record");
    CHECK(ids.size() >= 15);
    for (const auto& id : ids) CHECK(all.latest.count(id) == 1);
    json c = json::parse(cursor);
    CHECK(c["v"] == 1);
    CHECK_FALSE(c["c"].get<std::string>().empty());
}

TEST_CASE("hotline12345 write-back posts feedback with the idempotency key and the next read shows it", "[runtime]") {
    TempDir dir;
    Simulator sim("hotline12345", dir.path, quiet(120, 1, 120, {"--p-bad", "0"}));
    casehub::sdk::FakeHost host(plugin_descriptor());
    host.create(adapter_config(sim));
    host.start();
    // Wait for an order in 已派单 (the only state every §4 feedback accepts).
    json order;
    REQUIRE(wait_until([&] {
        host.run_for(200ms);
        Received got;
        got.add(host.records());
        for (const auto& [id, r] : got.latest) {
            if (r["status_native"] != "已派单" || r["responsible"].empty()) continue;
            auto now = sim_get(sim, "/_sim/orders/" + id);
            const auto& s = now["_sim"];
            // Not about to change by itself within the next minute.
            if (now.value("clzt", "") == "已派单" &&
                (s["next_change_ms"].is_null() || s["next_change_ms"].get<std::int64_t>() - s["now_ms"].get<std::int64_t>() > 60000)) {
                order = r;
                return true;
            }
        }
        return false;
    }, 30s, 10ms));
    const std::string gdbh = order["source"]["record_id"];
    json action = {{"v", 1}, {"writeback_id", 17}, {"key", "C20261128-000012:17"}, {"case_id", "C20261128-000012"},
                   {"action", "resolve"}, {"status", "resolved"},
                   {"note", "经街道城管科现场核实，已安排环卫人员清运完毕，并将持续巡查。"},
                   {"unit", {{"code", "320104002"}, {"name", "夫子庙街道办事处"}}}, {"handler", "周建国"},
                   {"at", casehub::sdk::format_rfc3339_beijing(sim_get(sim, "/_sim/stats")["now_ms"].get<std::int64_t>() - 1000)},
                   {"record", order}};
    REQUIRE(host.write_back(action) == CASEHUB_OK);
    // The same action again (a retry): applied once, replayed by the centre.
    REQUIRE(host.write_back(action) == CASEHUB_OK);
    auto fb = sim_get(sim, "/_sim/feedback")["received"];
    REQUIRE(fb.size() == 2);
    CHECK(fb[0]["key"] == "C20261128-000012:17");
    CHECK(fb[0]["gdbh"] == gdbh);
    CHECK(fb[0]["code"] == 0);
    CHECK(fb[0]["body"]["clzt"] == "已办结");
    CHECK(fb[0]["body"]["cbr"] == "周建国");
    CHECK(fb[0]["body"]["cbdw"] == order["responsible"][0]["name"]);
    CHECK(fb[1]["replayed"] == true);
    // The next read carries the change: same gdbh, newer gxsj, 已办结.
    REQUIRE(wait_until([&] {
        host.run_for(200ms);
        Received got;
        got.add(host.records());
        return got.latest[gdbh]["status_native"] == "已办结";
    }, 10s));
    Received got;
    got.add(host.records());
    CHECK(got.latest[gdbh]["status"] == "resolved");
    CHECK(got.latest[gdbh]["source"]["version"] > order["source"]["version"]);
    CHECK(got.latest[gdbh]["times"]["resolved_at"].is_string());

    // Same key, different body: 40902, permanent.
    json changed = action;
    changed["note"] = "另一段不同的答复内容，用于验证幂等键冲突的处理。";
    CHECK(host.write_back(changed) == CASEHUB_ERR_INVALID_ARGUMENT);
    CHECK_THAT(host.last_error(), Catch::Contains("40902"));
    // A transition the order no longer allows (退单 after 已办结): 40901, permanent.
    json ret = action;
    ret["key"] = "C20261128-000012:18";
    ret["action"] = "return";
    ret["status"] = "rejected";
    ret["note"] = "不属于本街道职责，建议改派区市场监管局。";
    CHECK(host.write_back(ret) == CASEHUB_ERR_INVALID_ARGUMENT);
    CHECK_THAT(host.last_error(), Catch::Contains("40901"));
    // A status 12345 feedback cannot express: unsupported, nothing sent.
    json closed = action;
    closed["key"] = "C20261128-000012:19";
    closed["action"] = "close";
    closed["status"] = "closed";
    CHECK(host.write_back(closed) == CASEHUB_ERR_UNSUPPORTED);
    CHECK_THAT(host.last_error(), Catch::Contains("'close'"));
    // Nor the centre's other steps, nor merge and split: named, nothing sent.
    for (const char* act : {"dispatch", "verify", "reopen", "merge", "split"}) {
        INFO(act);
        json a = action;
        a["key"] = std::string("C20261128-000012:19") + act;
        a["action"] = act;
        CHECK(host.write_back(a) == CASEHUB_ERR_UNSUPPORTED);
        CHECK_THAT(host.last_error(), Catch::Contains(std::string("'") + act + "'"));
    }
    // 已办结 with a too short reply is refused before sending (§4: at least 15 characters).
    json shortnote = action;
    shortnote["key"] = "C20261128-000012:20";
    shortnote["note"] = "已处理";
    CHECK(host.write_back(shortnote) == CASEHUB_ERR_INVALID_ARGUMENT);
    CHECK(sim_get(sim, "/_sim/feedback")["received"].size() == 4);
}

TEST_CASE("hotline12345 write-back when throttled or in maintenance is transient", "[runtime]") {
    TempDir dir;
    Simulator sim("hotline12345", dir.path, quiet(10, 1, 5, {"--p-503", "1"}));
    casehub::sdk::FakeHost host(plugin_descriptor());
    host.create(adapter_config(sim));
    host.start();
    json action = {{"v", 1}, {"key", "C1:1"}, {"action", "start"}, {"status", "in_progress"}, {"note", ""},
                   {"unit", {{"code", "320104002"}, {"name", "夫子庙街道办事处"}}}, {"handler", "周建国"},
                   {"at", "2026-03-09T10:00:00+08:00"},
                   {"record", {{"source", {{"record_id", "NJ20260309004512"}}}, {"responsible", json::array()}}}};
    CHECK(host.write_back(action) == CASEHUB_ERR_UNAVAILABLE);
    // Health degrades while the centre is down; polls never throw out.
    host.run_for(600ms);
    CHECK(host.health() != CASEHUB_HEALTH_OK);
    std::string logs;
    for (const auto& l : host.logs()) logs += l.message + "\n";
    CHECK_THAT(logs, Catch::Contains("HTTP 503"));
}

// ---- [integration] the hub with the simulator ---------------------------------------------------

namespace {

std::string adapter_toml(const Simulator& sim, const std::string& extra = "") {
    return "[[adapters]]\nid = \"h12\"\nplugin = \"hotline12345\"\n[adapters.config]\nbase_url = \"" +
           sim.ready()["base_url"].get<std::string>() + "\"\napp_key = \"" + sim.ready()["app_key"].get<std::string>() +
           "\"\napp_secret = \"" + sim.ready()["app_secret"].get<std::string>() + "\"\ncategories_file = \"" +
           std::string(CASEHUB_SOURCE_DIR) + "/config/qinhuai/categories.json\"\npoll_interval_ms = 100\n"
           "backoff_initial_ms = 50\nbackoff_max_ms = 400\nmax_requests_per_second = 10\n" + extra;
}

std::string file_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("hotline12345 hub ingests every order exactly once across kill -9 of the runner", "[integration]") {
    TempDir dir;
    Simulator sim("hotline12345", dir.path,
                  past_world(60, 2, 100, {"--p-token-expired", "0.1", "--p-429", "0.05",
                   "--p-503", "0.05", "--p-500", "0.05", "--p-cursor-expired", "0.1", "--p-page-dup", "0.3",
                   "--p-bad", "0.1", "--p-pii-text", "0.5", "--p-merged", "0.1"}));
    Hub hub(dir.path, hub_toml("", adapter_toml(sim, "page_limit = 5\n")));
    hub.start();
    const auto db = hub.db();
    auto stored = [&] { return query_int(db, "SELECT count(*) FROM source_records WHERE system='hotline12345'"); };
    REQUIRE(wait_until([&] { return stored() >= 5; }, 30s));
    // Kill the runner (not the hub) a few times while it reads.
    int kills = 0;
    for (int i = 0; i < 3; ++i) {
        auto a = hub.adapter("h12");
        if (a.is_object() && a.value("pid", 0) > 0 && ::kill(a["pid"].get<int>(), SIGKILL) == 0) ++kills;
        std::this_thread::sleep_for(std::chrono::milliseconds(400 + 300 * i));
        REQUIRE(wait_until([&] { auto b = hub.adapter("h12"); return b.is_object() && b.value("pid", 0) > 0; }, 10s));
    }
    CHECK(kills == 3);
    auto good = [&] { return truth_ids(sim, "record"); };
    auto bad = [&] { return truth_ids(sim, "bad"); };
    REQUIRE(wait_until([&] {
        return good().size() >= 20 &&
               static_cast<std::size_t>(stored()) == good().size() &&
               static_cast<std::size_t>(query_int(db, "SELECT count(DISTINCT detail) FROM dead_letters WHERE adapter='h12'")) >= bad().size();
    }, 60s, 100ms));
    // Every good order is in the store, nothing else; each bad one is a dead letter.
    auto ids = query(db, "SELECT record_id FROM source_records WHERE system='hotline12345'");
    CHECK(std::set<std::string>(ids.begin(), ids.end()) == good());
    for (const auto& id : bad())
        CHECK(query_int(db, "SELECT count(*) FROM dead_letters WHERE adapter='h12' AND stage='adapter' AND detail LIKE '%" + id + "%'") >= 1);
    CHECK(query_int(db, "SELECT count(*) FROM dead_letters WHERE adapter='h12' AND stage='validation'") == 0);
    // The adapter filters the document's duplicates: the hub sees none (kill -9 included).
    CHECK(query_int(db, "SELECT duplicates FROM adapter_counters WHERE adapter='h12'") == 0);
    // Records as the case model wants them.
    for (const auto& doc : query(db, "SELECT doc FROM source_records WHERE system='hotline12345'")) {
        CHECK_FALSE(casehub::sdk::check_record(doc));
        json r = json::parse(doc);
        CHECK(r["kind"] == "appeal");
        CHECK(r["category"]["native"]["scheme"] == "hotline12345.wtfl");
    }
    CHECK(hub.adapter("h12").value("restarts", 0) >= 3);
    auto cursor = query(db, "SELECT cursor FROM adapter_cursors WHERE adapter='h12'");
    REQUIRE(cursor.size() == 1);
    CHECK(json::parse(cursor[0])["v"] == 1);
    hub.terminate();
    // No raw phone or ID number anywhere: store, hub log, dead letters.
    CHECK_FALSE(has_raw_personal(file_text(db)));
    CHECK_FALSE(has_raw_personal(hub.log()));
    for (const auto& d : query(db, "SELECT doc FROM dead_letters")) CHECK_FALSE(has_raw_personal(d));
}

TEST_CASE("hotline12345 casehub-plugin-check passes against the simulator", "[integration]") {
    TempDir dir;
    Simulator sim("hotline12345", dir.path, quiet(30, 1, 30));
    std::vector<std::string> args{bin("bin/casehub").string(), "plugin", "check",
                                  std::string(CASEHUB_PLUGIN_DIR) + "/hotline12345.so",
                                  "--set", "base_url=" + sim.ready()["base_url"].get<std::string>(),
                                  "--set", "app_key=" + sim.ready()["app_key"].get<std::string>(),
                                  "--set", "app_secret=" + sim.ready()["app_secret"].get<std::string>(),
                                  "--set", "categories_file=" + std::string(CASEHUB_SOURCE_DIR) + "/config/qinhuai/categories.json",
                                  "--set", "poll_interval_ms=100", "--seconds", "3"};
    auto r = run(args);
    INFO(r.output);
    CHECK(r.exit_code == 0);
}

TEST_CASE("hotline12345 a command-centre action on the case is written back to the 12345 order", "[integration]") {
    TempDir dir;
    Simulator sim("hotline12345", dir.path, quiet(120, 1, 120, {"--p-bad", "0"}));
    Hub hub(dir.path, hub_toml("", adapter_toml(sim)));
    hub.start();
    const auto db = hub.db();
    // An order in 已派单 that will not move by itself for a minute, and its case.
    std::string gdbh, case_id;
    REQUIRE(wait_until([&] {
        // (a case of this one order alone: a repeat call merged with it would be written back too)
        for (const auto& row : query(db, "SELECT record_id || '|' || case_id FROM source_records "
                                         "WHERE system='hotline12345' AND status_native='已派单' AND case_id IN "
                                         "(SELECT case_id FROM source_records GROUP BY case_id HAVING count(*) = 1)")) {
            const std::string id = row.substr(0, row.find('|'));
            auto now = sim_get(sim, "/_sim/orders/" + id);
            const auto& s = now["_sim"];
            if (now.value("clzt", "") == "已派单" &&
                (s["next_change_ms"].is_null() || s["next_change_ms"].get<std::int64_t>() - s["now_ms"].get<std::int64_t>() > 60000)) {
                gdbh = id;
                case_id = row.substr(row.find('|') + 1);
                return true;
            }
        }
        return false;
    }, 30s, 200ms));
    auto r = casehub_cli(dir.path, {"cases", "action", case_id, "accept", "--unit-name", "夫子庙街道办事处", "--handler", "周建国"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    r = casehub_cli(dir.path, {"cases", "action", case_id, "resolve", "--note",
                               "经街道城管科现场核实，已安排人员处置完毕，并将持续巡查。",
                               "--unit-name", "夫子庙街道办事处", "--handler", "周建国"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE(wait_until([&] {
        return query_int(db, "SELECT count(*) FROM writebacks WHERE case_id='" + case_id + "' AND state='done'") == 2;
    }, 20s, 100ms));
    // At the centre, in order: 办理中 then 已办结, each with the hub's key as Idempotency-Key.
    auto fb = sim_get(sim, "/_sim/feedback")["received"];
    REQUIRE(fb.size() == 2);
    CHECK(fb[0]["body"]["clzt"] == "办理中");
    CHECK(fb[1]["body"]["clzt"] == "已办结");
    for (const auto& f : fb) {
        CHECK(f["gdbh"] == gdbh);
        CHECK(f["code"] == 0);
        CHECK(f["key"].get<std::string>().rfind(case_id + ":", 0) == 0);
    }
    // The next read brings the order back as 已办结.
    CHECK(wait_until([&] {
        return query(db, "SELECT status_native FROM source_records WHERE system='hotline12345' AND record_id='" + gdbh + "'") ==
               std::vector<std::string>{"已办结"};
    }, 20s, 100ms));

    // The centre's steps and a merge and split are not the district's to report (§4): the
    // adapter refuses them as unsupported, naming each, and nothing more reaches the centre.
    for (const std::vector<std::string>& a : {std::vector<std::string>{"dispatch", "--unit-code", "320104002"},
                                              {"verify"}, {"close"}, {"reopen", "--note", "市民来电反映问题仍未解决"}}) {
        std::vector<std::string> args = {"cases", "action", case_id};
        args.insert(args.end(), a.begin(), a.end());
        r = casehub_cli(dir.path, args);
        INFO(r.output);
        REQUIRE(r.exit_code == 0);
    }
    std::string other;
    for (const auto& row : query(db, "SELECT case_id FROM source_records WHERE system='hotline12345' AND case_id <> '" +
                                         case_id + "' GROUP BY case_id HAVING count(*) = 1 LIMIT 1"))
        other = row;
    REQUIRE(!other.empty());
    const auto other_record = query(db, "SELECT record_id FROM source_records WHERE case_id='" + other + "'");
    REQUIRE(other_record.size() == 1);
    r = casehub_cli(dir.path, {"cases", "merge", case_id, other, "--by", "张科长", "--note", "同一诉求"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    CHECK_THAT(r.output, Catch::Contains("queued for hotline12345 " + other_record[0]));
    r = casehub_cli(dir.path, {"cases", "split", case_id, "hotline12345:" + other_record[0], "--by", "张科长"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE(wait_until([&] {
        return query_int(db, "SELECT count(*) FROM writebacks WHERE state='unsupported'") == 6;
    }, 20s, 100ms));
    for (const char* act : {"dispatch", "verify", "close", "reopen", "merge", "split"}) {
        auto rows = query(db, std::string("SELECT record_id || '|' || last_error FROM writebacks WHERE json_extract(action, '$.action')='") +
                                  act + "'");
        REQUIRE(rows.size() == 1);
        CHECK_THAT(rows[0], Catch::Contains(std::string("'") + act + "'"));
    }
    auto merge = nlohmann::json::parse(
        query(db, "SELECT action FROM writebacks WHERE json_extract(action, '$.action')='merge'")[0]);
    CHECK(merge["case_id"] == case_id);
    CHECK(merge["merged_from"] == other);
    CHECK(merge["duplicate_of"] == json::array({{{"system", "hotline12345"}, {"record_id", gdbh}}}));
    CHECK(merge["record"]["source"]["record_id"] == other_record[0]);
    CHECK(sim_get(sim, "/_sim/feedback")["received"].size() == 2);
    CHECK(hub.adapter("h12")["writebacks_failed"] == 0);
}
