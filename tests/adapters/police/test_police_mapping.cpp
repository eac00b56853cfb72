// The police mapping (adapters/police/police_mapping.hpp) without a hub: police-interface.md §3,
// §4, §7 and §8 against casehub.record/1 (case-model.md §2, §5, §5.1).
#include "police_mapping.hpp"

#include <casehub/sdk/record_check.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <regex>

using namespace qinhuai::police;
using nlohmann::json;

namespace {

const Categories& cats() {
    static const Categories c = [] {
        std::ifstream in(std::string(CASEHUB_SOURCE_DIR) + "/config/qinhuai/categories.json");
        return load_categories(json::parse(in));
    }();
    return c;
}

// police-interface.md §9, the three sample lines, byte for byte.
const std::string kLine1 =
    R"({"jqh":"3201042026030800388","jjdbh":"32010020260308011952","gljjdbh":"","xzqh":"320104","bjsj":1772982725000,"bjdh":"13600136001","bjrxm":"吴女士","afdz":"秦淮区瑞金新村8幢","bjnr":"报警人称楼上住户深夜大声播放音乐，敲门无人应答，影响休息。","bjlbdm":"51","bjxldm":"5101","gxdwdm":"320104540000","jqjb":4,"zbx":118.816333,"zby":32.034698,"zbxt":"CGCS2000","mj":0,"yjjd":"320104009","yjsj":1773014730000,"fllx":2,"cjqk":"民警到场劝导，当事人已将音量调低，双方仍有矛盾，建议社区后续调解。","czlx":1,"bz":"","gxsj":1773014730000})";
const std::string kLine2 =
    R"({"jqh":"3201042026030900412","jjdbh":"32010020260309004417","gljjdbh":"","xzqh":"320104","bjsj":1773014320000,"bjdh":"13600136000","bjrxm":"周先生","afdz":"瑞金新村12幢","bjnr":"报警人称楼上住户卫生间漏水至其家中，协商未果，双方发生争执，请求处理。","bjlbdm":"50","bjxldm":"5001","gxdwdm":"320104540000","jqjb":4,"zbx":null,"zby":null,"zbxt":"","mj":1,"yjjd":"320104009","yjsj":1773014815000,"fllx":3,"cjqk":"民警到场，双方情绪已平复，无治安问题。","czlx":1,"bz":"","gxsj":1773014815000})";
const std::string kLine3 =
    R"({"jqh":"3201042026030900297","jjdbh":"32010020260309002861","gljjdbh":"","xzqh":"320104","bjsj":1773009611000,"bjdh":"13800138004","bjrxm":"钱先生","afdz":"中华路与长乐路路口东南角","bjnr":"报警人称路口有流动摊贩占道卖早点，堵塞人行道。","bjlbdm":"54","bjxldm":"5401","gxdwdm":"320104520000","jqjb":4,"zbx":118.785561,"zby":32.015146,"zbxt":"WGS84","mj":0,"yjjd":"320104002","yjsj":1773010950000,"fllx":1,"cjqk":"","czlx":3,"bz":"报警人再次来电称摊贩已离开，撤回移交。","gxsj":1773014988000})";

constexpr std::int64_t kReceived = 1773015040000;  // 2026-03-09T08:10:40+08:00

json mapped(const std::string& line) {
    auto r = map_line(line, cats(), kReceived);
    INFO(r.reason << " " << r.detail);
    REQUIRE(r.kind == LineResult::Kind::record);
    auto doc = json::parse(r.record);
    auto fault = casehub::sdk::check_record(r.record);
    INFO((fault ? fault->message : std::string()));
    REQUIRE_FALSE(fault.has_value());
    return doc;
}

// kLine1 with `key` replaced by the JSON text `value`.
std::string with(const std::string& key, const std::string& value, std::string line = kLine1) {
    json j = json::parse(line);
    j[key] = json::parse(value);
    return j.dump();
}

bool has_raw_digits(const std::string& s) {
    static const std::regex run("[0-9]{7,}");
    return std::regex_search(s, run);
}

}  // namespace

TEST_CASE("police: the §9 sample transfer maps to the record of case-model §6.4", "[unit]") {
    auto d = mapped(kLine1);
    CHECK(d["schema"] == "casehub.record/1");
    CHECK(d["source"]["system"] == "police");
    CHECK(d["source"]["record_id"] == "32010020260308011952");
    CHECK(d["source"]["version"] == "2026-03-09T08:05:30.000+08:00");
    CHECK(d["source"]["received_at"] == "2026-03-09T08:10:40.000+08:00");
    CHECK(d["kind"] == "incident");
    CHECK(d["appeal_type"].is_null());
    CHECK(d["channel"] == "transfer");
    CHECK(d["category"]["code"] == "noise.residential");
    CHECK(d["category"]["native"] == json{{"scheme", "police.bjxl"}, {"code", "5101"}, {"name", "噪音扰民（社会生活）"}});
    CHECK(d["description"] == "报警人称楼上住户深夜大声播放音乐，敲门无人应答，影响休息。");
    CHECK(d["title"].is_null());
    CHECK(d["status"] == "dispatched");
    CHECK(d["status_native"] == "czlx=1 移交");
    CHECK(d["priority"] == "general");
    CHECK(d["times"]["reported_at"] == "2026-03-08T23:12:05.000+08:00");
    CHECK(d["times"]["dispatched_at"] == "2026-03-09T08:05:30.000+08:00");
    CHECK(d["times"]["updated_at"] == "2026-03-09T08:05:30.000+08:00");
    CHECK(d["times"]["registered_at"].is_null());
    CHECK(d["location"]["original"] == json{{"x", 118.816333}, {"y", 32.034698}, {"crs", "CGCS2000"}});
    CHECK(d["location"]["address"] == "秦淮区瑞金新村8幢");
    CHECK(d["reporter"]["kind"] == "citizen");
    CHECK(d["reporter"]["name_masked"] == "吴**");
    CHECK(d["reporter"]["phone_masked"] == "136****6001");
    CHECK(d["responsible"] == json::parse(R"([{"dept_code":"320104009","name":"瑞金路街道办事处","role":"lead"}])"));
    CHECK(d["confidentiality"] == "public");
    CHECK(d["links"].empty());
    CHECK(d["raw_sha256"] == "685da47a9b564de0a10fb04bb65fc5289aeb155831b357d4d777813d4d82136f");
}

TEST_CASE("police: mj=1 is internal - no coordinates give a null location - czlx 3 is cancelled", "[unit]") {
    auto d2 = mapped(kLine2);
    CHECK(d2["confidentiality"] == "internal");
    CHECK(d2["location"]["original"].is_null());
    CHECK(d2["location"]["address"] == "瑞金新村12幢");
    CHECK(d2["category"]["code"] == "dispute.civil");
    CHECK(d2["reporter"]["name_masked"] == "周**");
    auto d3 = mapped(kLine3);
    CHECK(d3["status"] == "cancelled");
    CHECK(d3["status_native"] == "czlx=3 撤回");
    CHECK(d3["location"]["original"]["crs"] == "WGS84");
    CHECK(d3["times"]["updated_at"] == "2026-03-09T08:09:48.000+08:00");
    auto d = mapped(with("czlx", "2"));
    CHECK(d["status"] == "dispatched");
    CHECK(d["status_native"] == "czlx=2 补充");
    CHECK(mapped(with("jqjb", "3"))["priority"] == "larger");
    CHECK(mapped(with("jqjb", "1"))["priority"] == "major");
    CHECK(mapped(with("jqjb", "null"))["priority"].is_null());
}

TEST_CASE("police: mj=2 and unreadable classifications are dropped with nothing kept", "[unit]") {
    for (const char* mj : {"2", "\"2\"", "null", "7", "\"secret\""}) {
        INFO(mj);
        auto r = map_line(with("mj", mj), cats(), kReceived);
        CHECK(r.kind == LineResult::Kind::confidential);
        CHECK(r.record.empty());
        CHECK(r.record_id.empty());
        CHECK(r.native_masked.empty());
        CHECK(r.detail.empty());
        CHECK(r.warnings.empty());
    }
    json j = json::parse(kLine1);
    j.erase("mj");
    CHECK(map_line(j.dump(), cats(), kReceived).kind == LineResult::Kind::confidential);
    // Even a broken line that shows mj 2 is not dead-lettered.
    std::string broken = kLine1;
    broken.replace(broken.find("\"mj\":0"), 6, "\"mj\":2");
    broken.resize(broken.find("\"mj\":2") + 12);
    CHECK(map_line(broken, cats(), kReceived).kind == LineResult::Kind::confidential);
    CHECK(is_confidential_line(with("mj", "2")));
    CHECK_FALSE(is_confidential_line(kLine1));
}

TEST_CASE("police: §8 irregularities in records", "[unit]") {
    SECTION("§8.4 coordinates 0 or missing give null, swapped axes are passed on, empty zbxt is WGS84") {
        CHECK(mapped(with("zbx", "0", with("zby", "0")))["location"]["original"].is_null());
        CHECK(mapped(with("zbx", "null"))["location"]["original"].is_null());
        auto sw = mapped(with("zbx", "32.034698", with("zby", "118.816333", with("zbxt", "\"WGS84\""))));
        CHECK(sw["location"]["original"] == json{{"x", 32.034698}, {"y", 118.816333}, {"crs", "WGS84"}});
        auto e = map_line(with("zbxt", "\"\""), cats(), kReceived);
        REQUIRE(e.kind == LineResult::Kind::record);
        CHECK(json::parse(e.record)["location"]["original"]["crs"] == "WGS84");
        CHECK_FALSE(e.warnings.empty());
        CHECK(mapped(with("zbxt", "\"BD09\""))["location"]["original"].is_null());
    }
    SECTION("§8.5 times in seconds are read as seconds") {
        auto d = mapped(with("bjsj", "1772982725", with("yjsj", "1773014730")));
        CHECK(d["times"]["reported_at"] == "2026-03-08T23:12:05.000+08:00");
        CHECK(d["times"]["dispatched_at"] == "2026-03-09T08:05:30.000+08:00");
        // raw_sha256 is still of the native line as received.
        CHECK(d["raw_sha256"] == casehub::sdk::sha256_hex(with("bjsj", "1772982725", with("yjsj", "1773014730"))));
    }
    SECTION("§8.6 yjjd empty or 320104400 name no street") {
        CHECK(mapped(with("yjjd", "\"\""))["responsible"].empty());
        CHECK(mapped(with("yjjd", "\"320104400\""))["responsible"].empty());
        CHECK(mapped(with("yjjd", "\"320104002\""))["responsible"][0]["name"] == "夫子庙街道办事处");
    }
    SECTION("§8.8 a police category outside §5.1 is a valid transfer of other.unclassified") {
        auto r = map_line(with("bjlbdm", "\"02\"", with("bjxldm", "\"0213\"")), cats(), kReceived);
        REQUIRE(r.kind == LineResult::Kind::record);
        auto d = json::parse(r.record);
        CHECK(d["category"]["code"] == "other.unclassified");
        CHECK(d["category"]["native"]["code"] == "0213");
        CHECK(d["category"]["native"]["name"].is_null());
        CHECK_FALSE(r.warnings.empty());
    }
    SECTION("gljjdbh links the earlier call sheet as a repeat call") {
        auto d = mapped(with("gljjdbh", "\"32010020260308011000\""));
        CHECK(d["links"] == json::parse(R"([{"system":"police","record_id":"32010020260308011000","relation":"duplicate_of"}])"));
        CHECK(d["tags"] == json::parse(R"(["repeat"])"));
    }
    SECTION("numbers in free text and odd callers are masked") {
        auto d = mapped(with("bjnr", "\"报警人称邻居吵闹，请回电13912345678，身份证320104198807121234。\"",
                             with("bjdh", "\"025-84512345\"", with("bjrxm", "\"匿名\""))));
        CHECK(d["description"] == "报警人称邻居吵闹，请回电139****5678，身份证320104********1234。");
        CHECK(d["reporter"]["phone_masked"] == "0258*****45");
        CHECK(d["reporter"]["name_masked"].is_null());
        CHECK_FALSE(has_raw_digits(d["description"].get<std::string>()));
        std::string longer;
        for (int i = 0; i < 9000; ++i) longer += "吵";
        auto l = mapped(with("bjnr", json(longer).dump(), with("afdz", "\"\u3000 秦淮区瑞金新村8幢\\r\\n\"")));
        CHECK(l["description"] == longer.substr(0, 7999 * 3) + "…");
        CHECK(l["location"]["address"] == "秦淮区瑞金新村8幢");
        auto e = mapped(with("bjdh", "\"\"", with("bjnr", "\"\"")));
        CHECK(e["reporter"]["phone_masked"].is_null());
        CHECK(e["description"] == "");
    }
}

TEST_CASE("police: malformed records are dead letters with masked native bytes", "[unit]") {
    struct Case {
        std::string line, reason;
    };
    const std::vector<Case> cases{
        {with("czlx", "7"), "missing_field"},
        {with("czlx", "null"), "missing_field"},
        {with("bjxldm", "\"51X1\""), "bad_enum"},
        {with("bjxldm", "\"5201\""), "bad_enum"},  // does not start with bjlbdm 51
        {with("bjxldm", "5101"), "bad_type"},      // a code as a number
        {with("jjdbh", "\"\""), "missing_field"},
        {with("gxsj", "null"), "missing_field"},
        {with("bjsj", "\"yesterday\""), "bad_time"},
        {with("yjjd", "\"320105001\""), "bad_enum"},
        {with("jqjb", "9"), "bad_enum"},
        {kLine1.substr(0, kLine1.size() / 2), "not_json"},
    };
    for (const auto& c : cases) {
        INFO(c.line);
        auto r = map_line(c.line, cats(), kReceived);
        REQUIRE(r.kind == LineResult::Kind::dead_letter);
        CHECK(r.reason == c.reason);
        CHECK_FALSE(r.detail.empty());
        // Never the caller's number or name in clear, in the detail or the native copy.
        CHECK(r.native_masked.find("13600136001") == std::string::npos);
        CHECK(r.native_masked.find("吴女士") == std::string::npos);
        CHECK(r.detail.find("13600136001") == std::string::npos);
        CHECK_FALSE(r.native_masked.empty());
    }
    auto r = map_line(with("czlx", "7"), cats(), kReceived);
    CHECK(r.record_id == "32010020260308011952");
    CHECK(json::parse(r.native_masked)["bjdh"] == "136****6001");
    CHECK(json::parse(r.native_masked)["bjrxm"] == "吴**");
}

TEST_CASE("police: batch acceptance per §2 and §4", "[unit]") {
    const std::string body = kLine1 + "\n" + kLine2 + "\n" + kLine3 + "\n";
    const std::string manifest =
        R"({"batch":"20260309081000_0042","file":"JQ_20260309081000_0042.jsonl","created":"2026-03-09T08:10:00+08:00","count":3,"sha256":"37bcd20c20b7e1d760648afd150ae2e86e7daf2ed2da70ddd7f1f1ba73ed9b86","schema":"FJWJQ/1.2","sender":"320104000000"})";
    auto m = parse_manifest(manifest, "20260309081000_0042");
    REQUIRE(m.state == ManifestResult::State::ok);
    CHECK(m.manifest.count == 3);
    SECTION("the §9 sample batch is accepted, also with the ferry's CRs") {
        auto c = check_body(body, m.manifest);
        CHECK(c.ok);
        CHECK(c.lines == std::vector<std::string>{kLine1, kLine2, kLine3});
        std::string crlf = kLine1 + "\r\n" + kLine2 + "\r\n" + kLine3 + "\r\n";
        CHECK(check_body(crlf, m.manifest).ok);
    }
    SECTION("incomplete or tampered files do not match") {
        CHECK_FALSE(check_body(body.substr(0, body.size() / 2), m.manifest).ok);
        std::string tampered = body;
        tampered.replace(tampered.find("吴女士"), 3, "张");
        auto c = check_body(tampered, m.manifest);
        CHECK_FALSE(c.ok);
        CHECK_THAT(c.problem, Catch::Contains("SHA-256"));
        CHECK(c.problem.find("张") == std::string::npos);
    }
    SECTION("a manifest being written waits, a wrong one is invalid") {
        CHECK(parse_manifest(manifest.substr(0, 60), "20260309081000_0042").state == ManifestResult::State::incomplete);
        CHECK(parse_manifest(manifest, "20260309081000_0043").state == ManifestResult::State::invalid);
        std::string other = manifest;
        other.replace(other.find("FJWJQ/1.2"), 9, "FJWJQ/9.9");
        CHECK(parse_manifest(other, "20260309081000_0042").state == ManifestResult::State::invalid);
    }
    SECTION("count must equal the number of lines") {
        Manifest two = m.manifest;
        two.count = 2;
        CHECK_FALSE(check_body(body, two).ok);
    }
    SECTION("mj=2 lines are scrubbed from the archived copy") {
        std::string secret = with("mj", "2", kLine3);
        auto [kept, removed] = scrub_confidential(kLine1 + "\r\n" + secret + "\r\n" + kLine2 + "\n");
        CHECK(removed == 1);
        CHECK(kept == kLine1 + "\r\n" + kLine2 + "\n");
    }
}

TEST_CASE("police: feedback per §7 from a hub write-back action", "[unit]") {
    json record = json::parse(mapped(kLine1).dump());
    json action = {{"v", 1}, {"writeback_id", 17}, {"key", "C20260309-000176:17"},
                   {"case_id", "C20260309-000176"}, {"action", "resolve"}, {"status", "resolved"},
                   {"note", "社区网格员已上门调解，报警人13600136001表示认可。"},
                   {"unit", {{"code", "D34"}, {"name", "瑞金路街道办事处"}}}, {"handler", "黄志强"},
                   {"at", "2026-03-09T11:40:00+08:00"}, {"record", record}};
    const std::int64_t now = 1773027700000;
    auto fb = feedback_record(action, now);
    CHECK(fb["fkid"] == "C20260309-000176:17");
    CHECK(fb["jjdbh"] == "32010020260308011952");
    CHECK(fb["yjjd"] == "320104009");
    CHECK(fb["fkzt"] == "已办结");
    CHECK(fb["fknr"] == "社区网格员已上门调解，报警人136****6001表示认可。");
    CHECK(fb["fkdw"] == "瑞金路街道办事处");
    CHECK(fb["fkr"] == "黄志强");
    CHECK(fb["fksj"] == 1773027600000);
    for (auto [a, s, z] : {std::tuple{"accept", "accepted", "已签收"}, {"start", "in_progress", "处置中"},
                           {"reopen", "in_progress", "处置中"}, {"return", "rejected", "退回"}}) {
        action["action"] = a;
        action["status"] = s;
        CHECK(feedback_record(action, now)["fkzt"] == z);
    }
    SECTION("an action the document cannot express is a permanent error naming it") {
        for (auto [a, s] : {std::pair{"close", "closed"}, {"dispatch", "dispatched"}, {"verify", "verified"},
                            {"merge", "resolved"}, {"split", "dispatched"}}) {
            INFO(a);
            action["action"] = a;
            action["status"] = s;
            try {
                feedback_record(action, now);
                FAIL("no error");
            } catch (const casehub::sdk::Error& e) {
                CHECK(e.status() == CASEHUB_ERR_UNSUPPORTED);
                CHECK_THAT(e.what(), Catch::Contains(std::string("'") + a + "'"));
            }
        }
    }
    SECTION("a record without a street and a unit that is not one cannot be answered") {
        action["unit"] = {{"code", "D01"}, {"name", "区城管局"}};
        action["record"]["responsible"] = json::array();
        CHECK_THROWS_AS(feedback_record(action, now), casehub::sdk::Error);
    }
    SECTION("times more than 5 minutes ahead are refused") {
        action["at"] = "2026-03-09T12:00:00+08:00";
        CHECK_THROWS_AS(feedback_record(action, now), casehub::sdk::Error);
    }
    SECTION("fkid fits 40 characters and is stable") {
        std::string long_key(60, 'k');
        CHECK(feedback_id(long_key).size() <= 40);
        CHECK(feedback_id(long_key) == feedback_id(long_key));
        CHECK(feedback_id(long_key) != feedback_id(std::string(61, 'k')));
    }
    SECTION("the §9 sample manifest hash is reproduced") {
        const std::string line =
            R"({"fkid":"QH-FK-20260309-000031","jjdbh":"32010020260308011952","jqh":"3201042026030800388","yjjd":"320104009","fkzt":"已办结","fknr":"社区网格员已上门调解，双方约定22:00后不再播放音乐，报警人表示认可。","fkdw":"瑞金路街道办事处","fkr":"黄志强","fksj":1773027600000})";
        CHECK(casehub::sdk::sha256_hex(line + "\n") == "f3fae1a6890ba06ebc5fabe5427c9ccf922fe26fea6602a09a8d9632aed5ef1f");
        CHECK(batch_id(1773027600000, 7) == "20260309114000_0007");
        auto mt = json::parse(manifest_text("20260309114000_0007", "JQFK_20260309114000_0007.jsonl", 1773027600000, 1,
                                            "f3fae1a6890ba06ebc5fabe5427c9ccf922fe26fea6602a09a8d9632aed5ef1f",
                                            kFeedbackSchema, "QH-CASEHUB"));
        CHECK(mt == json::parse(R"({"batch":"20260309114000_0007","file":"JQFK_20260309114000_0007.jsonl","created":"2026-03-09T11:40:00+08:00","count":1,"sha256":"f3fae1a6890ba06ebc5fabe5427c9ccf922fe26fea6602a09a8d9632aed5ef1f","schema":"FJWJQFK/1.0","sender":"QH-CASEHUB"})"));
    }
}
