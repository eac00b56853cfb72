// The 数字城管 adapter (adapters/dcm) against dcm-interface.md V2.3 and its simulator
// (tools/simulators/sims/dcm.py).
//
// [unit]        the mapping header alone: the samples of §9, every §8 irregularity of a case,
//               the raw byte slices, masking of dead-letter bytes, the cursor and page overlap.
// [runtime]     dcm.so in-process (FakeHost) against the simulator: ingest, every transport
//               irregularity, token renewal, the 02:00 bulk second, bad cases, write-back.
// [integration] a real casehubd + runner + store, and casehub-plugin-check.
#include "../../integration/harness.hpp"
#include "../../support/simulator.hpp"

#include "dcm_mapping.hpp"

#include <casehub/sdk/fake_host.hpp>
#include <casehub/sdk/record_check.hpp>

#include <dlfcn.h>
#include <httplib.h>

#include <map>
#include <random>
#include <regex>
#include <set>

using namespace casehub::test;
using json = nlohmann::json;

namespace {

const std::string kCats = std::string(CASEHUB_SOURCE_DIR) + "/config/qinhuai/categories.json";

const dcm::Categories& cats() {
    static const dcm::Categories c = dcm::Categories::load(kCats);
    return c;
}

std::set<std::string, std::less<>> known_categories() {
    std::set<std::string, std::less<>> s(cats().known.begin(), cats().known.end());
    return s;
}

void require_valid(const json& rec) {
    static const auto known = known_categories();
    casehub::sdk::RecordCheckOptions o;
    o.known_categories = &known;
    auto f = casehub::sdk::check_record(rec, o);
    INFO(rec.dump());
    REQUIRE_FALSE(f.has_value());
}

// The first sample of §9, byte for byte as a centre would send it.
const std::string kSample1 =
    "<case>"
    "<taskid>260309000412</taskid>"
    "<infotypecode>2</infotypecode><infotypename>事件</infotypename>"
    "<infobccode>01</infobccode><infobcname>市容环境</infobcname>"
    "<infosccode>0102</infosccode><infoscname>暴露垃圾</infoscname>"
    "<description><![CDATA[贡院街江南贡院东侧绿化带旁有暴露垃圾约2立方米，含装修垃圾袋若干。]]></description>"
    "<discovertime>2026-03-09 08:41:26</discovertime>"
    "<registertime>2026-03-09 08:47:02</registertime>"
    "<address>秦淮区贡院街江南贡院东侧</address>"
    "<streetcode>320104002</streetcode><streetname>夫子庙街道</streetname>"
    "<communitycode>320104002005</communitycode><communityname>乌衣巷社区</communityname>"
    "<x>385771.89</x><y>3544931.09</y>"
    "<bgid>32010400200508</bgid>"
    "<objid/>"
    "<eventsrccode>1</eventsrccode><eventsrcname>监督员上报</eventsrcname>"
    "<srcbillno/>"
    "<urgencycode>0</urgencycode>"
    "<patrolid>JDY0217</patrolid>"
    "<reportername>陈建国</reportername><reportertel>13800138000</reportertel>"
    "<statuscode>03</statuscode><statusname>派遣</statusname>"
    "<executedeptcode>QHJD02</executedeptcode><executedeptname>夫子庙街道办事处</executedeptname>"
    "<dispatchtime>2026-03-09 08:52:40</dispatchtime>"
    "<deadline>2026-03-09 14:22:40</deadline>"
    "<feedbacktime/><endtime/>"
    "<updatetime>2026-03-09 08:52:40</updatetime>"
    "<photos><photo stage=\"1\" url=\"http://10.32.104.21:8090/dcm/media/2026/03/09/260309000412_1.jpg\"/></photos>"
    "</case>";

// The third sample: 12345 transfer, 0/0 coordinates, two phone numbers, &lt;br&gt; in CDATA.
const std::string kSample3 =
    "<case>\n  <taskid>260309000433</taskid>\n"
    "  <infotypecode>2</infotypecode><infotypename>事件</infotypename>\n"
    "  <infobccode>05</infobccode><infobcname>街面秩序</infobcname>\n"
    "  <infosccode>0505</infosccode><infoscname>机动车乱停放</infoscname>\n"
    "  <description><![CDATA[市民反映长白街致和街路口人行道上长期停放多辆机动车，影响行人通行。&lt;br&gt;（12345转办）]]></description>\n"
    "  <discovertime>2026-03-09 09:02:15</discovertime>\n"
    "  <registertime>2026-03-09 09:10:48</registertime>\n"
    "  <address>长白街与致和街交叉口</address>\n"
    "  <streetcode/><streetname/><communitycode/><communityname/>\n"
    "  <x>0</x><y>0</y>\n  <bgid/><objid/>\n"
    "  <eventsrccode>3</eventsrccode><eventsrcname>12345转办</eventsrcname>\n"
    "  <srcbillno>NJ20260309003877</srcbillno>\n  <urgencycode>0</urgencycode>\n  <patrolid/>\n"
    "  <reportername>刘女士</reportername><reportertel>13900139000/025-84000000</reportertel>\n"
    "  <statuscode>02</statuscode><statusname>立案</statusname>\n"
    "  <executedeptcode/><executedeptname/>\n"
    "  <dispatchtime/><deadline/><feedbacktime/><endtime/>\n"
    "  <updatetime>2026-03-09 09:10:48</updatetime>\n  <photos/>\n</case>";

std::string replace(std::string s, const std::string& from, const std::string& to) {
    auto p = s.find(from);
    REQUIRE(p != std::string::npos);
    return s.replace(p, from.size(), to);
}

dcm::Mapped map(const std::string& raw) { return dcm::map_case(raw, cats(), "2026-03-09T08:55:04+08:00"); }

// ---- in-process plugin ----------------------------------------------------------------------------

const casehub_plugin_descriptor* plugin() {
    static const casehub_plugin_descriptor* d = [] {
        const std::string so = std::string(CASEHUB_PLUGIN_DIR) + "/dcm.so";
        void* h = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
        INFO(so << ": " << (h ? "" : ::dlerror()));
        REQUIRE(h != nullptr);
        auto entry = reinterpret_cast<const casehub_plugin_descriptor* (*)(uint32_t, uint32_t)>(
            ::dlsym(h, "casehub_plugin_entry"));
        REQUIRE(entry != nullptr);
        return entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR);
    }();
    return d;
}

json config_for(int port, json extra = json::object()) {
    json c = {{"base_url", "http://127.0.0.1:" + std::to_string(port)},
              {"app_id", "casehub"},
              {"token", "DCM-TOKEN-2026"},
              {"categories_file", kCats},
              {"page_size", 50},
              {"poll_interval_ms", 100},
              {"max_requests_per_second", 4},
              {"request_timeout_ms", 3000},
              {"retry_min_ms", 20},
              {"retry_max_ms", 300},
              {"auth_retry_ms", 60000}};
    for (auto& [k, v] : extra.items()) c[k] = v;
    return c;
}

// Simulator test-only views.
json sim_get(int port, const std::string& path) {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(std::chrono::seconds(10));
    auto r = c.Get(path.c_str());
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
}
json sim_post(int port, const std::string& path) {
    httplib::Client c("127.0.0.1", port);
    auto r = c.Post(path.c_str(), "", "application/json");
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
}

struct Received {
    std::map<std::string, json> latest;                       // record_id → latest record
    std::set<std::pair<std::string, std::string>> versions;   // (record_id, version)
    long long duplicates = 0;
    long long total = 0;
};

Received collect(const std::vector<std::string>& records) {
    Received r;
    for (const auto& s : records) {
        json j = json::parse(s);
        ++r.total;
        const std::string id = j["source"]["record_id"], v = j["source"]["version"];
        if (!r.versions.insert({id, v}).second) ++r.duplicates;
        auto it = r.latest.find(id);
        if (it == r.latest.end() || casehub::sdk::parse_rfc3339_ms(it->second["source"]["version"].get<std::string>()) <=
                                        casehub::sdk::parse_rfc3339_ms(v))
            r.latest[id] = j;
    }
    return r;
}

Received collect(const casehub::sdk::FakeHost& host) { return collect(host.records()); }

std::string bj(std::int64_t ms) { return casehub::sdk::format_rfc3339_beijing(ms); }

// Every good case the simulator holds now has reached the host in this version or a later one.
bool caught_up(const Received& r, const json& sim_cases) {
    for (const auto& c : sim_cases) {
        if (c["bad"].get<bool>()) continue;
        auto it = r.latest.find(c["taskid"].get<std::string>());
        if (it == r.latest.end()) return false;
        auto want = dcm::parse_local(c["updatetime"].get<std::string>());
        auto have = casehub::sdk::parse_rfc3339_ms(it->second["source"]["version"].get<std::string>());
        if (!have || *have < want.epoch_ms) return false;
    }
    return true;
}
bool caught_up(const casehub::sdk::FakeHost& host, const json& sim_cases) { return caught_up(collect(host), sim_cases); }

// Polls until the simulator has delivered its whole world, has answered at least
// `min_requests` API requests, and every case it showed at one moment after that has arrived.
bool run_until_caught_up(casehub::sdk::FakeHost& host, int port, std::chrono::seconds limit, long long min_requests = 0) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        json status = sim_get(port, "/_sim/status");
        json snapshot = sim_get(port, "/_sim/cases");
        host.run_for(std::chrono::milliseconds(600));
        if (status["exhausted"].get<bool>() && status["requests"].get<long long>() >= min_requests &&
            !snapshot.empty() && caught_up(host, snapshot))
            return true;
    }
    return false;
}

// Raw reporter phone numbers and names as the simulator serves them.
std::set<std::string> raw_personal(const json& sim_cases) {
    std::set<std::string> out;
    std::regex tel("<reportertel>([^<]*)</reportertel>"), name("<reportername>([^<]*)</reportername>"),
        digits("1[3-9][0-9]{9}|025-8[0-9]{7}");
    for (const auto& c : sim_cases) {
        const std::string x = c["xml"];
        std::smatch m;
        if (std::regex_search(x, m, tel))
            for (std::sregex_iterator it(m[1].first, m[1].second, digits), e; it != e; ++it) {
                std::string n = it->str();
                out.insert(n);
                if (n[3] == '-') out.insert(n.substr(0, 3) + n.substr(4));  // 0258xxxxxxx
            }
        if (std::regex_search(x, m, name) && m[1].length() > 3) out.insert(m[1].str());
    }
    return out;
}

void require_no_personal(const std::string& where, const std::string& text, const std::set<std::string>& raw) {
    for (const auto& p : raw) {
        INFO(where << " holds raw personal data " << p);
        REQUIRE(text.find(p) == std::string::npos);
    }
}

std::string all_logs(const casehub::sdk::FakeHost& host) {
    std::string s;
    for (const auto& l : host.logs()) s += l.message + "\n";
    return s;
}

// No nightly 01:00-01:30 window: the simulator starts at the real time, and a run begun then (17:00-17:30
// UTC) would find the centre closed for its first 3 s; the maintenance answers are tested with --p-503.
const std::vector<std::string> kSimBase = {"--rate", "600", "--count", "150", "--speed", "600", "--maintenance", "off"};

std::vector<std::string> sim_args(std::vector<std::string> extra) {
    std::vector<std::string> a = kSimBase;
    a.insert(a.begin(), {"--port", "0"});
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

}  // namespace

// =================================================================================================
// [unit] the mapping
// =================================================================================================

TEST_CASE("dcm mapping: the supervisor sample of section 9 gives the record of case-model 6.1", "[unit]") {
    auto m = map(kSample1);
    REQUIRE(m.record);
    const json& r = *m.record;
    require_valid(r);
    CHECK(r["source"]["system"] == "dcm");
    CHECK(r["source"]["record_id"] == "260309000412");
    CHECK(r["source"]["version"] == "2026-03-09T08:52:40+08:00");
    CHECK(r["kind"] == "event");
    CHECK(r["channel"] == "supervisor");
    CHECK(r["category"]["code"] == "city_appearance.exposed_garbage");
    CHECK(r["category"]["native"] == json({{"scheme", "dcm.event"}, {"code", "0102"}, {"name", "暴露垃圾"}}));
    CHECK(r["description"] == "贡院街江南贡院东侧绿化带旁有暴露垃圾约2立方米，含装修垃圾袋若干。");
    CHECK(r["status"] == "dispatched");
    CHECK(r["status_native"] == "03 派遣");
    CHECK(r["priority"] == "general");
    CHECK(r["times"]["reported_at"] == "2026-03-09T08:41:26+08:00");
    CHECK(r["times"]["registered_at"] == "2026-03-09T08:47:02+08:00");
    CHECK(r["times"]["dispatched_at"] == "2026-03-09T08:52:40+08:00");
    CHECK(r["times"]["due_at"] == "2026-03-09T14:22:40+08:00");
    CHECK(r["times"]["resolved_at"].is_null());
    CHECK(r["times"]["closed_at"].is_null());
    CHECK(r["location"]["original"] == json({{"x", 385771.89}, {"y", 3544931.09}, {"crs", "EPSG:4549"}}));
    CHECK(r["location"]["address"] == "秦淮区贡院街江南贡院东侧");
    CHECK(r["location"]["grid_code"] == "32010400200508");
    CHECK(r["reporter"] == json({{"kind", "supervisor"}, {"name_masked", "陈**"}, {"phone_masked", "138****8000"},
                                 {"id_masked", nullptr}, {"worker_id", "JDY0217"}}));
    CHECK(r["responsible"] == json::array({{{"dept_code", "QHJD02"}, {"name", "夫子庙街道办事处"}, {"role", "lead"}}}));
    CHECK(r["tags"] == json::array());
    CHECK(r["confidentiality"] == "public");
    CHECK(r["attachments"] == json::array({{{"uri", "http://10.32.104.21:8090/dcm/media/2026/03/09/260309000412_1.jpg"},
                                            {"mime", "image/jpeg"}}}));
    CHECK(r["links"] == json::array());
    CHECK(r["raw_sha256"] == casehub::sdk::sha256_hex(kSample1));
    CHECK(m.warnings.empty());
}

TEST_CASE("dcm mapping: 12345 transfer with 0 coordinates two phones and a br inside CDATA", "[unit]") {
    auto m = map(kSample3);
    REQUIRE(m.record);
    const json& r = *m.record;
    require_valid(r);
    CHECK(r["channel"] == "transfer");
    CHECK(r["reporter"]["kind"] == "citizen");
    CHECK(r["reporter"]["name_masked"] == "刘**");
    CHECK(r["reporter"]["phone_masked"] == "139****9000,0258*****00");
    CHECK(r["reporter"]["worker_id"].is_null());
    CHECK(r["location"]["original"].is_null());  // 0/0 is "no coordinates" (§8.3), never sent as 0,0
    CHECK(r["location"]["grid_code"].is_null());
    CHECK(r["links"] == json::array({{{"system", "hotline12345"}, {"record_id", "NJ20260309003877"},
                                      {"relation", "transferred_from"}}}));
    CHECK(r["description"] == "市民反映长白街致和街路口人行道上长期停放多辆机动车，影响行人通行。\n（12345转办）");
    CHECK(r["responsible"] == json::array());
    CHECK(r["status"] == "registered");
}

TEST_CASE("dcm mapping: component with feedback urgent leader source and every status code", "[unit]") {
    std::string c = replace(kSample1, "<infotypecode>2</infotypecode>", "<infotypecode>1</infotypecode>");
    c = replace(c, "<infosccode>0102</infosccode>", "<infosccode>0104</infosccode>");
    c = replace(c, "<urgencycode>0</urgencycode>", "<urgencycode>1</urgencycode>");
    c = replace(c, "<eventsrccode>1</eventsrccode>", "<eventsrccode>5</eventsrccode>");
    c = replace(c, "<feedbacktime/>", "<feedbacktime>2026-03-08 17:02:47</feedbacktime>");
    for (auto [code, status] : std::vector<std::pair<std::string, std::string>>{
             {"01", "new"}, {"02", "registered"}, {"03", "dispatched"}, {"04", "in_progress"},
             {"05", "resolved"}, {"06", "verified"}, {"07", "closed"}, {"09", "cancelled"}}) {
        std::string v = replace(c, "<statuscode>03</statuscode>", "<statuscode>" + code + "</statuscode>");
        v = replace(v, "<endtime/>", "<endtime>2026-03-10 02:00:00</endtime>");
        auto m = map(v);
        REQUIRE(m.record);
        const json& r = *m.record;
        require_valid(r);
        CHECK(r["status"] == status);
        CHECK(r["kind"] == "component");
        CHECK(r["category"]["native"]["scheme"] == "dcm.component");
        CHECK(r["category"]["code"] == "utilities.manhole_cover");
        CHECK(r["priority"] == "larger");
        CHECK(r["channel"] == "leader");
        CHECK(r["reporter"]["kind"] == "unknown");
        CHECK(r["tags"] == json::array({"leader"}));
        CHECK(r["times"]["resolved_at"] == "2026-03-08T17:02:47+08:00");
        // endtime is 结案 or 作废 time; only 结案 closes.
        CHECK(r["times"]["closed_at"] == (code == "07" ? json("2026-03-10T02:00:00+08:00") : json(nullptr)));
    }
    // The same 小类 code means another thing under 部件 and 事件 (§3.2).
    std::string ev = replace(kSample1, "<infosccode>0102</infosccode>", "<infosccode>0104</infosccode>");
    CHECK((*map(ev).record)["category"]["code"] == "city_appearance.dirty_road");
}

TEST_CASE("dcm mapping: V1 migrated case with placeholders legacy grid and swapped axes", "[unit]") {
    std::string c = replace(kSample1, "<taskid>260309000412</taskid>", "<taskid>0012345678</taskid>");
    c = replace(c, "<feedbacktime/><endtime/>", "<feedbacktime>1900-01-01 00:00:00</feedbacktime><endtime>1900-01-01 00:00:00</endtime>");
    c = replace(c, "<deadline>2026-03-09 14:22:40</deadline>", "<deadline>1900-01-01 00:00:00</deadline>");
    c = replace(c, "<bgid>32010400200508</bgid>", "<bgid>320104002005081</bgid>");
    c = replace(c, "<x>385771.89</x><y>3544931.09</y>", "<x>3544931.09</x><y>385771.89</y>");
    auto m = map(c);
    REQUIRE(m.record);
    const json& r = *m.record;
    require_valid(r);
    CHECK(r["source"]["record_id"] == "0012345678");  // text, leading zeros kept
    CHECK(r["times"]["due_at"].is_null());
    CHECK(r["times"]["resolved_at"].is_null());
    CHECK(r["times"]["closed_at"].is_null());
    CHECK(r["location"]["grid_code"].is_null());  // a 15-digit 单元网格 code is not converted (§8.7)
    // Swapped axes are sent as given; the hub swaps them back (case-model §2.5).
    CHECK(r["location"]["original"] == json({{"x", 3544931.09}, {"y", 385771.89}, {"crs", "EPSG:4549"}}));

    for (const char* xy : {"<x/><y/>", "", "<x>0.00</x><y>0.00</y>", "<x>abc</x><y>1</y>"}) {
        auto v = map(replace(kSample1, "<x>385771.89</x><y>3544931.09</y>", xy));
        REQUIRE(v.record);
        CHECK((*v.record)["location"]["original"].is_null());
    }
}

TEST_CASE("dcm mapping: descriptions with HTML breaks U+FFFD phones and IDs in the text", "[unit]") {
    std::string c = replace(kSample1,
                            "<description><![CDATA[贡院街江南贡院东侧绿化带旁有暴露垃圾约2立方米，含装修垃圾袋若干。]]></description>",
                            "<description>第一行&lt;br&gt;第二行&lt;BR /&gt;联系电话13851234567，身份证320104198807121234，\xEF\xBF\xBD乱码\r\n</description>");
    auto m = map(c);
    REQUIRE(m.record);
    CHECK((*m.record)["description"] == "第一行\n第二行\n联系电话138****4567，身份证320104********1234，\xEF\xBF\xBD乱码");
    require_valid(*m.record);
    // Empty description of a video case.
    auto v = map(replace(c, c.substr(c.find("<description>"), c.find("</description>") + 14 - c.find("<description>")),
                         "<description/>"));
    REQUIRE(v.record);
    CHECK((*v.record)["description"] == "");
    // Over 8,000 characters: cut with an ellipsis.
    std::string longtext(9000 * 3, '\0');
    longtext.clear();
    for (int i = 0; i < 9000; ++i) longtext += "长";
    auto l = map(replace(kSample1, "贡院街江南贡院东侧绿化带旁有暴露垃圾约2立方米，含装修垃圾袋若干。", longtext));
    REQUIRE(l.record);
    require_valid(*l.record);
    CHECK(dcm::cut_chars((*l.record)["description"].get<std::string>(), 8000) == (*l.record)["description"]);
    CHECK(dcm::cut_chars("长长长", 3) == "长长长");
    CHECK(dcm::cut_chars("长长长长", 3) == "长长…");
    CHECK(dcm::first_chars("周建国ab", 4) == "周建国a");
}

TEST_CASE("dcm mapping: unknown local codes fall back codes outside the lists are dead letters", "[unit]") {
    auto local = map(replace(kSample1, "<infosccode>0102</infosccode>", "<infosccode>2101</infosccode>"));
    REQUIRE(local.record);
    CHECK((*local.record)["category"]["code"] == "other.unclassified");
    CHECK((*local.record)["category"]["native"]["code"] == "2101");
    CHECK_FALSE(local.warnings.empty());

    struct Bad {
        std::string from, to, reason, names;
    };
    for (const Bad& b : std::vector<Bad>{
             {"<statuscode>03</statuscode>", "<statuscode>08</statuscode>", "bad_enum", "<statuscode> '08'"},
             {"<infotypecode>2</infotypecode>", "<infotypecode>3</infotypecode>", "bad_enum", "<infotypecode> '3'"},
             {"<eventsrccode>1</eventsrccode>", "<eventsrccode>7</eventsrccode>", "bad_enum", "<eventsrccode> '7'"},
             {"<urgencycode>0</urgencycode>", "<urgencycode>2</urgencycode>", "bad_enum", "<urgencycode>"},
             {"<infosccode>0102</infosccode>", "<infosccode>A1</infosccode>", "bad_enum", "<infosccode>"},
             {"<discovertime>2026-03-09 08:41:26</discovertime>", "<discovertime>2026/03/09 08:41:26</discovertime>",
              "bad_time", "<discovertime>"},
             {"<deadline>2026-03-09 14:22:40</deadline>", "<deadline>2026-02-30 14:22:40</deadline>", "bad_time",
              "<deadline>"},
             {"<updatetime>2026-03-09 08:52:40</updatetime>", "<updatetime/>", "missing_field", "<updatetime>"},
             {"<taskid>260309000412</taskid>", "<taskid/>", "missing_field", "<taskid>"},
             {"<discovertime>2026-03-09 08:41:26</discovertime><registertime>2026-03-09 08:47:02</registertime>",
              "<discovertime/><registertime/>", "missing_field", "$.times.reported_at"},
             {"</description>", "</descriptio>", "not_xml", "not well-formed"}}) {
        auto m = map(replace(kSample1, b.from, b.to));
        INFO(b.to);
        CHECK_FALSE(m.record);
        CHECK(m.reason == b.reason);
        CHECK_THAT(m.detail, Catch::Contains(b.names));
        CHECK(m.detail.find("13800138000") == std::string::npos);
    }
}

TEST_CASE("dcm raw slices: byte ranges of each case CDATA cannot cut one dead-letter bytes masked", "[unit]") {
    const std::string tricky = replace(kSample1, "含装修垃圾袋若干。", "含</case><case>若干。");
    const std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response><code>0</code><cases>\n" + kSample1 +
                             "\n<!-- <case> -->\n" + tricky + kSample3 + "</cases></response>";
    auto sl = dcm::case_slices(body);
    REQUIRE(sl.size() == 3);
    CHECK(body.substr(sl[0].begin, sl[0].end - sl[0].begin) == kSample1);
    CHECK(body.substr(sl[1].begin, sl[1].end - sl[1].begin) == tricky);
    CHECK(body.substr(sl[2].begin, sl[2].end - sl[2].begin) == kSample3);
    CHECK(dcm::case_slices("<response><cases/></response>").empty());

    std::string masked = dcm::mask_native(replace(kSample3, "影响行人通行。", "联系电话13851234567。"));
    CHECK(masked.find("13900139000") == std::string::npos);
    CHECK(masked.find("84000000") == std::string::npos);
    CHECK(masked.find("13851234567") == std::string::npos);
    CHECK(masked.find("刘女士") == std::string::npos);
    CHECK_THAT(masked, Catch::Contains("<reportername>刘**</reportername>"));
    CHECK_THAT(masked, Catch::Contains("<reportertel>139****9000,0258*****00</reportertel>"));
}

TEST_CASE("dcm cursor: order by updatetime then taskid and pages that overlap the cursor", "[unit]") {
    dcm::Cursor c{"2026-03-09 02:00:00", "260308000377"};
    CHECK(c.after("2026-03-09 02:00:00", "260308000378"));
    CHECK_FALSE(c.after("2026-03-09 02:00:00", "260308000377"));
    CHECK_FALSE(c.after("2026-03-09 02:00:00", "0012345678"));  // string order, as the centre sorts
    CHECK(c.after("2026-03-09 02:00:01", "0"));
    CHECK_FALSE(c.after("2026-03-09 01:59:59", "999999999999"));
    auto back = dcm::Cursor::parse(c.dump());
    REQUIRE(back);
    CHECK(back->t == c.t);
    CHECK(back->k == c.k);
    CHECK_FALSE(dcm::Cursor::parse("17"));
    CHECK_FALSE(dcm::Cursor::parse(R"({"v":1,"t":"2026-03-09T02:00:00","k":""})"));

    // The page always holds the cursor case (index pos-1) and at least one case after it.
    for (int size : {1, 2, 3, 7, 50, 100, 500})
        for (long long pos = 0; pos < 2000; ++pos) {
            auto p = dcm::page_for(pos, size);
            long long first = static_cast<long long>(p.page_no - 1) * p.page_size;
            long long last = first + p.page_size - 1;
            INFO("size " << size << " pos " << pos << " → page " << p.page_no << " x " << p.page_size);
            REQUIRE(p.page_size >= 1);
            REQUIRE(p.page_size <= 500);
            if (pos == 0) {
                CHECK(p.page_no == 1);
            } else {
                CHECK(first <= pos - 1);
                CHECK(pos - 1 < last);
            }
        }
}

// =================================================================================================
// [runtime] dcm.so in-process against the simulator
// =================================================================================================

TEST_CASE("dcm write-back mapping: 04 for accept and start, 05 for resolve, nothing for the centre's steps", "[unit]") {
    CHECK(dcm::feedback_code("accept") == "04");
    CHECK(dcm::feedback_code("start") == "04");
    CHECK(dcm::feedback_code("resolve") == "05");
    for (const char* a : {"dispatch", "verify", "close", "reopen", "return", "merge", "split", "", "accepted"}) {
        INFO(a);
        CHECK(dcm::feedback_code(a).empty());
    }
}

TEST_CASE("dcm runtime: every case arrives once per version mapped masked and a restart repeats nothing", "[runtime]") {
    TempDir dir;
    Simulator sim("dcm", dir.path,
                  sim_args({"--p-legacy", "0.1", "--p-two-phones", "0.3", "--p-phone-in-text", "0.3", "--p-br", "0.3",
                            "--p-swapped", "0.2", "--p-nocoords", "0.1", "--p-fffd", "0.1"}));
    std::string cursor;
    json snapshot;
    std::set<std::pair<std::string, std::string>> emitted;
    {
        casehub::sdk::FakeHost host(plugin());
        host.create(config_for(sim.port()));
        host.start();
        REQUIRE(run_until_caught_up(host, sim.port(), std::chrono::seconds(40)));
        snapshot = sim_get(sim.port(), "/_sim/cases");
        auto r = collect(host);
        CHECK(r.duplicates == 0);
        CHECK(host.dead_letters().empty());
        auto raw = raw_personal(snapshot);
        REQUIRE(raw.size() > 5);
        for (const auto& s : host.records()) {
            json rec = json::parse(s);
            require_valid(rec);
            require_no_personal("record", s, raw);
        }
        require_no_personal("log", all_logs(host), raw);
        // Against the ground truth: category, scheme, links, coordinates as given.
        auto truth = sim.truth();
        REQUIRE(truth.size() > 20);
        int checked = 0, swapped = 0, legacy = 0, transfers = 0;
        for (const auto& t : truth) {
            if (t["kind"] != "record") continue;
            auto it = r.latest.find(t["record_id"].get<std::string>());
            REQUIRE(it != r.latest.end());
            const json& rec = it->second;
            CHECK(rec["category"]["code"] == t["category"]);
            CHECK(rec["category"]["native"]["scheme"] == t["scheme"]);
            CHECK(rec["category"]["native"]["code"] == t["native_code"]);
            if (t["eventsrccode"] == "3") {
                ++transfers;
                CHECK(rec["links"][0]["record_id"] == t["srcbillno"]);
                CHECK(rec["channel"] == "transfer");
            }
            if (t["swapped"].get<bool>() && rec["location"]["original"].is_object()) {
                ++swapped;
                CHECK(rec["location"]["original"]["x"].get<double>() > 3.5e6);  // as given
            }
            if (!t["coordinates"].get<bool>()) CHECK(rec["location"]["original"].is_null());
            if (t["legacy"].get<bool>()) {
                ++legacy;
                CHECK(rec["source"]["record_id"].get<std::string>().size() == 10);
                CHECK(rec["location"]["grid_code"].is_null());
            }
            ++checked;
        }
        CHECK(checked > 20);
        CHECK(swapped > 0);
        CHECK(legacy > 0);
        cursor = host.last_cursor();
        emitted = collect(host).versions;
        REQUIRE_FALSE(cursor.empty());
        CHECK(dcm::Cursor::parse(cursor));
    }
    // A restart from the committed cursor emits no version it already emitted.
    {
        casehub::sdk::FakeHost host(plugin());
        host.create(config_for(sim.port()));
        host.start(cursor);
        host.run_for(std::chrono::milliseconds(800));
        for (const auto& s : host.records()) {
            json rec = json::parse(s);
            INFO(rec["source"].dump());
            CHECK(emitted.count({rec["source"]["record_id"].get<std::string>(), rec["source"]["version"].get<std::string>()}) == 0);
        }
    }
}

TEST_CASE("dcm runtime: a crash after any committed batch resumes exactly from its cursor", "[runtime]") {
    TempDir dir;
    Simulator sim("dcm", dir.path, sim_args({"--p-touch", "0.3", "--p-bad", "0.1"}));
    std::vector<casehub::sdk::FakeHost::Batch> first;
    {
        casehub::sdk::FakeHost host(plugin());
        host.create(config_for(sim.port(), {{"page_size", 7}}));
        host.start();
        host.run_for(std::chrono::milliseconds(2500));
        first = host.batches();
    }
    REQUIRE(first.size() > 6);
    for (std::size_t m : {first.size() / 4, first.size() / 2, first.size() - 2}) {
        // The hub committed batches 0..m with the cursor of batch m; what came after was lost.
        std::vector<std::string> committed;
        for (std::size_t i = 0; i <= m; ++i) committed.insert(committed.end(), first[i].records.begin(), first[i].records.end());
        casehub::sdk::FakeHost host(plugin());
        host.create(config_for(sim.port(), {{"page_size", 7}}));
        host.start(first[m].cursor);
        auto end = std::chrono::steady_clock::now() + std::chrono::seconds(40);
        bool done = false;
        while (!done && std::chrono::steady_clock::now() < end) {
            json status = sim_get(sim.port(), "/_sim/status");
            json snapshot = sim_get(sim.port(), "/_sim/cases");
            host.run_for(std::chrono::milliseconds(600));
            std::vector<std::string> all = committed;
            auto more = host.records();
            all.insert(all.end(), more.begin(), more.end());
            done = status["exhausted"].get<bool>() && caught_up(collect(all), snapshot);
        }
        INFO("resumed after batch " << m << " of " << first.size());
        REQUIRE(done);
        std::vector<std::string> all = committed;
        auto more = host.records();
        all.insert(all.end(), more.begin(), more.end());
        CHECK(collect(all).duplicates == 0);
    }
}

TEST_CASE("dcm runtime: 503 maintenance 504 1003 3001 5000 and a moving set lose and repeat nothing", "[runtime]") {
    TempDir dir;
    Simulator sim("dcm", dir.path,
                  sim_args({"--p-503", "0.1", "--p-504", "0.05", "--p-1003", "0.1", "--p-3001", "0.3", "--p-5000",
                            "0.1", "--p-touch", "0.4"}));
    casehub::sdk::FakeHost host(plugin());
    host.create(config_for(sim.port(), {{"page_size", 40}}));
    host.start();
    REQUIRE(run_until_caught_up(host, sim.port(), std::chrono::seconds(50), 80));
    auto r = collect(host);
    CHECK(r.duplicates == 0);
    const std::string logs = all_logs(host);
    CHECK_THAT(logs, Catch::Contains("HTTP 503"));
    CHECK_THAT(logs, Catch::Contains("5000"));
    CHECK_THAT(logs, Catch::Contains("3001"));
    CHECK_THAT(logs, Catch::Contains("pageSize 40"));
    CHECK_THAT(sim.log(), Catch::Contains("touch"));
    for (const auto& s : host.records()) require_valid(json::parse(s));
}

TEST_CASE("dcm runtime: an expired token (1001) stops queries until the renewed token is filed", "[runtime]") {
    TempDir dir;
    const std::string token_file = (dir.path / "dcm.token").string();
    Simulator sim("dcm", dir.path,
                  sim_args({"--token-file", token_file, "--p-expire", "0.08", "--renew-delay", "0.5"}));
    casehub::sdk::FakeHost host(plugin());
    host.create(config_for(sim.port(), {{"token", ""}, {"token_file", token_file}, {"page_size", 20}}));
    host.start();
    REQUIRE(run_until_caught_up(host, sim.port(), std::chrono::seconds(50), 60));
    CHECK(collect(host).duplicates == 0);
    const std::string logs = all_logs(host);
    CHECK_THAT(logs, Catch::Contains("1001"));
    CHECK_THAT(logs, Catch::Contains("token file changed"));
    CHECK_THAT(sim.log(), Catch::Contains("token expired"));
}

TEST_CASE("dcm runtime: the 02:00 bulk second is paged with pageNo above 1 and tie-broken on taskid", "[runtime]") {
    TempDir dir;
    Simulator sim("dcm", dir.path, sim_args({"--p-touch", "0.2"}));
    casehub::sdk::FakeHost host(plugin());
    host.create(config_for(sim.port(), {{"page_size", 7}}));
    host.start();
    REQUIRE(run_until_caught_up(host, sim.port(), std::chrono::seconds(40)));
    const long long closed = sim_post(sim.port(), "/_sim/bulk-close")["closed"];
    REQUIRE(closed > 20);
    REQUIRE(run_until_caught_up(host, sim.port(), std::chrono::seconds(40)));
    auto r = collect(host);
    CHECK(r.duplicates == 0);
    // All closed versions share one updatetime; each arrived exactly once.
    std::map<std::string, int> per_version;
    for (const auto& [id, rec] : r.latest)
        if (rec["status"] == "closed") ++per_version[rec["source"]["version"].get<std::string>()];
    int biggest = 0;
    for (auto& [v, n] : per_version) biggest = std::max(biggest, n);
    CHECK(biggest >= closed - 5);  // a few may have been touched again after the run
    // The second was read with pageNo > 1 while cases of it moved away.
    json status = sim_get(sim.port(), "/_sim/status");
    CHECK(status["max_page_no"].get<int>() > 1);
    CHECK(status["touches"].get<int>() > 0);
}

TEST_CASE("dcm runtime: bad cases are dead-lettered with masked bytes and the cursor moves past them", "[runtime]") {
    TempDir dir;
    Simulator sim("dcm", dir.path, sim_args({"--p-bad", "0.25", "--p-two-phones", "0.5"}));
    casehub::sdk::FakeHost host(plugin());
    host.create(config_for(sim.port()));
    host.start();
    REQUIRE(run_until_caught_up(host, sim.port(), std::chrono::seconds(40)));
    auto snapshot = sim_get(sim.port(), "/_sim/cases");
    auto raw = raw_personal(snapshot);
    std::set<std::string> bad;
    for (const auto& t : sim.truth())
        if (t["kind"] == "bad") bad.insert(t["record_id"].get<std::string>());
    REQUIRE(bad.size() > 3);
    auto dls = host.dead_letters();
    std::set<std::string> dead;
    for (const auto& d : dls) {
        CHECK((d.reason == "bad_enum" || d.reason == "bad_time"));
        CHECK_FALSE(d.cursor.empty());
        require_no_personal("dead letter", d.native + d.detail, raw);
        std::smatch m;
        std::regex id("case ([0-9]+):");
        REQUIRE(std::regex_search(d.detail, m, id));
        dead.insert(m[1].str());
    }
    CHECK(dead == bad);
    auto r = collect(host);
    for (const auto& id : bad) CHECK(r.latest.count(id) == 0);
    require_no_personal("log", all_logs(host), raw);
}

// Four hours of a slow world that began four hours ago: cases at every stage, each changing only
// every few minutes, so a test can act on one before the centre moves it.
static std::vector<std::string> slow_world_args(long long now_ms) {
    const std::string four_hours_ago = std::to_string(now_ms - 4 * 3600 * 1000LL);
    return {"--port", "0", "--world-rate", "1.25", "--count", "200", "--speed", "1", "--sim-start",
            four_hours_ago, "--wall-start", four_hours_ago, "--p-return", "0", "--p-recheck", "0",
            "--maintenance", "off"};  // at speed 1 a run between 01:00 and 01:30 Beijing time would wait it out
}

static long long wall_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch()).count();
}

TEST_CASE("dcm runtime: write-back feedback 04 and 05 idempotent by requestid refusals are permanent", "[runtime]") {
    TempDir dir;
    const auto now = wall_now_ms();
    Simulator sim("dcm", dir.path, slow_world_args(now));
    casehub::sdk::FakeHost host(plugin());
    host.create(config_for(sim.port()));
    host.start();
    REQUIRE(run_until_caught_up(host, sim.port(), std::chrono::seconds(30)));
    auto cases = sim_get(sim.port(), "/_sim/cases");
    std::vector<json> candidates;
    for (const auto& c : cases)
        if (c["statuscode"] == "03" && !c["bad"].get<bool>() &&
            (c["next_change_ms"].is_null() || c["next_change_ms"].get<long long>() > c["now_ms"].get<long long>() + 120000))
            candidates.push_back(c);
    REQUIRE(candidates.size() >= 2);
    const std::string taskid = candidates[0]["taskid"];
    auto record = [&](const std::string& id) { return collect(host).latest.at(id); };
    json rec = record(taskid);
    REQUIRE(rec["status"] == "dispatched");
    auto action = [&](const std::string& act, const std::string& status, const std::string& key, const json& r) {
        return json{{"v", 1}, {"writeback_id", 1}, {"key", key}, {"case_id", "C20261128-000012"}, {"action", act},
                    {"status", status}, {"note", "已清理完毕，现场恢复整洁。"}, {"unit", {{"code", "D34"}, {"name", "夫子庙街道办事处"}}},
                    {"handler", "周建国"}, {"at", bj(now)}, {"record", r}};
    };

    // accept → 04
    REQUIRE(host.write_back(action("accept", "accepted", "C20261128-000012:17", rec)) == CASEHUB_OK);
    auto fb = sim_get(sim.port(), "/_sim/feedback");
    REQUIRE(fb.size() == 1);
    CHECK(fb[0]["code"] == 0);
    CHECK(fb[0]["requestid"] == "C20261128-000012:17");
    CHECK(fb[0]["statuscode"] == "04");
    CHECK(fb[0]["deptcode"] == rec["responsible"][0]["dept_code"]);
    CHECK(fb[0]["handler"] == "周建国");
    REQUIRE(wait_until([&] { host.run_for(std::chrono::milliseconds(200)); return record(taskid)["status"] == "in_progress"; },
                       std::chrono::seconds(10)));
    CHECK(record(taskid)["status_native"] == "04 处置中");

    // The same key again: 4003, treated as applied; nothing changes at the centre.
    const auto versions_before = collect(host).versions.size();
    REQUIRE(host.write_back(action("accept", "accepted", "C20261128-000012:17", rec)) == CASEHUB_OK);
    fb = sim_get(sim.port(), "/_sim/feedback");
    REQUIRE(fb.size() == 2);
    CHECK(fb[1]["code"] == 4003);

    // resolve → 05, carried by the next read with its feedback time.
    REQUIRE(host.write_back(action("resolve", "resolved", "C20261128-000012:18", record(taskid))) == CASEHUB_OK);
    REQUIRE(wait_until([&] { host.run_for(std::chrono::milliseconds(200)); return record(taskid)["status"] == "resolved"; },
                       std::chrono::seconds(10)));
    CHECK(record(taskid)["times"]["resolved_at"].is_string());
    CHECK(collect(host).versions.size() > versions_before);

    // An action the feedback cannot express: permanent, named, and nothing reaches the centre.
    CHECK(host.write_back(action("return", "rejected", "C20261128-000012:19", record(taskid))) == CASEHUB_ERR_UNSUPPORTED);
    CHECK_THAT(host.last_error(), Catch::Contains("return"));
    for (const auto& [act, st] : std::vector<std::pair<std::string, std::string>>{
             {"dispatch", "dispatched"}, {"verify", "verified"}, {"close", "closed"}, {"reopen", "in_progress"},
             {"merge", "resolved"}, {"split", "resolved"}}) {
        INFO(act);
        CHECK(host.write_back(action(act, st, "C20261128-000012:19" + act, record(taskid))) == CASEHUB_ERR_UNSUPPORTED);
        CHECK_THAT(host.last_error(), Catch::Contains("'" + act + "'"));
    }
    CHECK(sim_get(sim.port(), "/_sim/feedback").size() == 3);  // accept, 4003, resolve
    // 04 on a case already 05: 4002, permanent.
    CHECK(host.write_back(action("accept", "accepted", "C20261128-000012:20", record(taskid))) == CASEHUB_ERR_INVALID_ARGUMENT);
    CHECK_THAT(host.last_error(), Catch::Contains("4002"));
    // Another unit than the dispatched one: 4004, permanent.
    json other = record(candidates[1]["taskid"]);
    other["responsible"][0]["dept_code"] = "QHBM99";
    CHECK(host.write_back(action("accept", "accepted", "C20261128-000013:1", other)) == CASEHUB_ERR_INVALID_ARGUMENT);
    CHECK_THAT(host.last_error(), Catch::Contains("4004"));
    // Resolve without a note: refused before it leaves the adapter.
    json nonote = action("resolve", "resolved", "C20261128-000013:2", record(candidates[1]["taskid"]));
    nonote["note"] = "";
    CHECK(host.write_back(nonote) == CASEHUB_ERR_INVALID_ARGUMENT);
    fb = sim_get(sim.port(), "/_sim/feedback");
    CHECK(fb.size() == 5);  // accept, 4003, resolve, 4002, 4004

    // The centre in maintenance: transient.
    sim.kill9();
    CHECK(host.write_back(action("accept", "accepted", "C20261128-000013:3", record(candidates[1]["taskid"]))) ==
          CASEHUB_ERR_UNAVAILABLE);
}

// =================================================================================================
// [integration] a real hub
// =================================================================================================

TEST_CASE("dcm integration: the hub stores every case dead letters and the cursor masked", "[integration]") {
    TempDir dir;
    Simulator sim("dcm", dir.path, sim_args({"--p-bad", "0.1", "--p-503", "0.05", "--p-touch", "0.2",
                                             "--p-phone-in-text", "0.3", "--p-two-phones", "0.3"}));
    const std::string adapters = "[[adapters]]\nid = \"dcm\"\nplugin = \"dcm\"\n[adapters.config]\n"
                                 "base_url = \"http://127.0.0.1:" + std::to_string(sim.port()) + "\"\n"
                                 "app_id = \"casehub\"\ntoken = \"DCM-TOKEN-2026\"\n"
                                 "categories_file = \"" + kCats + "\"\npage_size = 25\npoll_interval_ms = 200\n"
                                 "request_timeout_ms = 1500\nretry_min_ms = 50\nretry_max_ms = 500\n";
    Hub hub(dir.path, hub_toml("", adapters));
    hub.start();
    const auto db = hub.db();
    auto converged = [&] {
        auto snap = sim_get(sim.port(), "/_sim/cases");
        for (const auto& c : snap) {
            if (c["bad"].get<bool>()) continue;
            auto v = query(db, "SELECT version FROM source_records WHERE system='dcm' AND record_id='" +
                                   c["taskid"].get<std::string>() + "'");
            if (v.empty()) return false;
            auto want = dcm::parse_local(c["updatetime"].get<std::string>());
            if (*casehub::sdk::parse_rfc3339_ms(v[0]) < want.epoch_ms) return false;
        }
        return !snap.empty();
    };
    REQUIRE(wait_until(converged, std::chrono::seconds(60), std::chrono::milliseconds(500)));
    auto snapshot = sim_get(sim.port(), "/_sim/cases");
    auto raw = raw_personal(snapshot);
    long long good_now = 0, good = 0;
    std::vector<std::string> bad;
    for (const auto& c : snapshot) good_now += c["bad"].get<bool>() ? 0 : 1;
    for (const auto& t : sim.truth()) {
        if (t["kind"] == "bad") bad.push_back(t["record_id"]);
        else ++good;
    }
    REQUIRE(bad.size() > 2);
    const long long stored = query_int(db, "SELECT count(*) FROM source_records WHERE system='dcm'");
    CHECK(stored >= good_now);
    CHECK(stored <= good);
    for (const auto& id : bad) {  // every bad case dead-lettered (once per version of its bytes)
        INFO(id);
        CHECK(query_int(db, "SELECT count(*) FROM dead_letters WHERE adapter='dcm' AND stage='adapter' AND detail LIKE 'case " +
                                id + ":%'") >= 1);
        CHECK(query_int(db, "SELECT count(*) FROM source_records WHERE system='dcm' AND record_id='" + id + "'") == 0);
    }
    CHECK(query_int(db, "SELECT count(*) FROM dead_letters WHERE adapter='dcm' AND stage='validation'") == 0);
    CHECK(query_int(db, "SELECT duplicates FROM adapter_counters WHERE adapter='dcm'") == 0);
    auto cursor = query(db, "SELECT cursor FROM adapter_cursors WHERE adapter='dcm'");
    REQUIRE(cursor.size() == 1);
    CHECK(dcm::Cursor::parse(cursor[0]));
    for (const auto& doc : query(db, "SELECT doc FROM source_records WHERE system='dcm'")) {
        require_no_personal("store", doc, raw);
        json rec = json::parse(doc);
        CHECK(rec["category"]["code"].get<std::string>().find('.') != std::string::npos);
    }
    for (const auto& doc : query(db, "SELECT doc || detail FROM dead_letters")) require_no_personal("dead letters", doc, raw);
    for (const auto& doc : query(db, "SELECT doc FROM cases")) require_no_personal("cases", doc, raw);
    require_no_personal("hub log", hub.log(), raw);
    CHECK(hub.terminate() == 0);
}

TEST_CASE("dcm integration: kill -9 of the runner mid-stream loses and doubles nothing", "[integration]") {
    TempDir dir;
    Simulator sim("dcm", dir.path, sim_args({"--p-touch", "0.2", "--p-bad", "0.05"}));
    const std::string adapters = "[[adapters]]\nid = \"dcm\"\nplugin = \"dcm\"\n[adapters.config]\n"
                                 "base_url = \"http://127.0.0.1:" + std::to_string(sim.port()) + "\"\n"
                                 "app_id = \"casehub\"\ntoken = \"DCM-TOKEN-2026\"\n"
                                 "categories_file = \"" + kCats + "\"\npage_size = 9\npoll_interval_ms = 100\n"
                                 "request_timeout_ms = 1500\nretry_min_ms = 50\nretry_max_ms = 500\n";
    Hub hub(dir.path, hub_toml("", adapters));
    hub.start();
    const auto db = hub.db();
    std::mt19937 rng(5);
    for (int kill = 0; kill < 3; ++kill) {
        std::this_thread::sleep_for(std::chrono::milliseconds(400 + rng() % 800));
        auto a = hub.adapter("dcm");
        if (a.is_object() && a["pid"].get<long>() > 0) ::kill(static_cast<pid_t>(a["pid"].get<long>()), SIGKILL);
    }
    auto converged = [&] {
        if (!sim_get(sim.port(), "/_sim/status")["exhausted"].get<bool>()) return false;
        auto snap = sim_get(sim.port(), "/_sim/cases");
        for (const auto& c : snap) {
            if (c["bad"].get<bool>()) continue;
            auto v = query(db, "SELECT version FROM source_records WHERE system='dcm' AND record_id='" +
                                   c["taskid"].get<std::string>() + "'");
            if (v.empty() || *casehub::sdk::parse_rfc3339_ms(v[0]) < dcm::parse_local(c["updatetime"].get<std::string>()).epoch_ms)
                return false;
        }
        return !snap.empty();
    };
    REQUIRE(wait_until(converged, std::chrono::seconds(60), std::chrono::milliseconds(500)));
    CHECK(query_int(db, "SELECT duplicates FROM adapter_counters WHERE adapter='dcm'") == 0);
    CHECK(query_int(db, "SELECT stale FROM adapter_counters WHERE adapter='dcm'") == 0);
    CHECK(query_int(db, "SELECT count(*) FROM dead_letters WHERE adapter='dcm' AND stage='validation'") == 0);
    CHECK_THAT(hub.log(), Catch::Contains("dcm"));
}

TEST_CASE("dcm integration: casehub-plugin-check passes against the simulator", "[integration]") {
    TempDir dir;
    Simulator sim("dcm", dir.path, sim_args({}));
    auto r = run({bin("bin/casehub").string(), "plugin", "check", std::string(CASEHUB_PLUGIN_DIR) + "/dcm.so",
                  "--set", "base_url=http://127.0.0.1:" + std::to_string(sim.port()), "--set", "app_id=casehub",
                  "--set", "token=DCM-TOKEN-2026", "--set", "categories_file=" + kCats, "--set", "poll_interval_ms=100",
                  "--seconds", "3"});
    INFO(r.output);
    CHECK(r.exit_code == 0);
}

TEST_CASE("dcm integration: a command-centre action on the case reaches the centre as feedback 04 then 05", "[integration]") {
    TempDir dir;
    Simulator sim("dcm", dir.path, slow_world_args(wall_now_ms()));
    const std::string adapters = "[[adapters]]\nid = \"dcm\"\nplugin = \"dcm\"\n[adapters.config]\n"
                                 "base_url = \"http://127.0.0.1:" + std::to_string(sim.port()) + "\"\n"
                                 "app_id = \"casehub\"\ntoken = \"DCM-TOKEN-2026\"\n"
                                 "categories_file = \"" + kCats + "\"\npoll_interval_ms = 200\n";
    Hub hub(dir.path, hub_toml("", adapters));
    hub.start();
    const auto db = hub.db();
    // A dispatched case (03) that will not move by itself for two minutes, and its hub case.
    std::string taskid, case_id;
    REQUIRE(wait_until([&] {
        for (const auto& c : sim_get(sim.port(), "/_sim/cases")) {
            if (c["statuscode"] != "03" || c["bad"].get<bool>() ||
                !(c["next_change_ms"].is_null() || c["next_change_ms"].get<long long>() > c["now_ms"].get<long long>() + 120000))
                continue;
            auto id = query(db, "SELECT case_id FROM source_records WHERE system='dcm' AND record_id='" +
                                    c["taskid"].get<std::string>() + "' AND status='dispatched'");
            if (id.empty()) continue;
            taskid = c["taskid"];
            case_id = id[0];
            return true;
        }
        return false;
    }, 30s, 200ms));

    auto r = casehub_cli(dir.path, {"cases", "action", case_id, "accept", "--handler", "周建国"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    r = casehub_cli(dir.path, {"cases", "action", case_id, "resolve", "--note", "已清理完毕，现场恢复整洁。",
                               "--handler", "周建国"});
    REQUIRE(r.exit_code == 0);
    REQUIRE(wait_until([&] {
        return query_int(db, "SELECT count(*) FROM writebacks WHERE case_id='" + case_id + "' AND state='done'") == 2;
    }, 20s, 100ms));
    // At the centre, in order: 04 then 05, each with the hub's idempotency key as requestid.
    auto fb = sim_get(sim.port(), "/_sim/feedback");
    REQUIRE(fb.size() == 2);
    CHECK(fb[0]["statuscode"] == "04");
    CHECK(fb[1]["statuscode"] == "05");
    for (const auto& f : fb) {
        CHECK(f["code"] == 0);
        CHECK(f["requestid"].get<std::string>().rfind(case_id + ":", 0) == 0);
    }
    // The next read brings the case back as 05 处置反馈.
    CHECK(wait_until([&] {
        return query(db, "SELECT status_native FROM source_records WHERE system='dcm' AND record_id='" + taskid + "'") ==
               std::vector<std::string>{"05 处置反馈"};
    }, 20s, 100ms));

    // The centre's own steps (dispatch, verify, close, reopen) have no feedback code (§7): the
    // hub moves the case (rule 7), the adapter says why it cannot tell the centre, nothing is sent.
    for (const std::vector<std::string>& a :
         {std::vector<std::string>{"dispatch", "--unit-code", "D01"}, {"verify"}, {"close"}, {"reopen", "--note", "居民反映仍有垃圾"}}) {
        std::vector<std::string> args = {"cases", "action", case_id};
        args.insert(args.end(), a.begin(), a.end());
        r = casehub_cli(dir.path, args);
        INFO(r.output);
        REQUIRE(r.exit_code == 0);
        CHECK_THAT(r.output, Catch::Contains("queued for dcm " + taskid));
    }
    REQUIRE(wait_until([&] {
        return query_int(db, "SELECT count(*) FROM writebacks WHERE case_id='" + case_id + "' AND state='unsupported'") == 4;
    }, 20s, 100ms));
    for (const char* act : {"dispatch", "verify", "close", "reopen"}) {
        auto err = query(db, "SELECT last_error FROM writebacks WHERE case_id='" + case_id +
                                 "' AND json_extract(action, '$.action')='" + act + "'");
        REQUIRE(err.size() == 1);
        CHECK_THAT(err[0], Catch::Contains(std::string("'") + act + "'"));
    }
    CHECK(sim_get(sim.port(), "/_sim/feedback").size() == 2);
    CHECK(hub.adapter("dcm")["writebacks_failed"] == 0);
    auto doc = nlohmann::json::parse(query(db, "SELECT doc FROM cases WHERE case_id='" + case_id + "'")[0]);
    CHECK(doc["status"] == "in_progress");
    CHECK(doc["reopen_count"] == 1);
    CHECK(doc["closed_by"].is_null());
    bool hub_unit = false;
    for (const auto& u : doc["responsible"]) hub_unit = hub_unit || (u["dept_code"] == "D01" && u["system"] == "hub");
    CHECK(hub_unit);
}
