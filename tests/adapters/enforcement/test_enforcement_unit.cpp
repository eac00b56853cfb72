// The enforcement adapter without the hub: [unit] the mapping header (enforcement-interface.md
// §3–§6, case-model §2.1/§2.3/§5/§5.1), [runtime] the plugin in-process against the fake host on a
// real folder (done/ rejected/ .reason, waiting for incomplete files, exact restarts).
#include "enforcement_mapping.hpp"

#include <casehub/sdk/fake_host.hpp>
#include <casehub/sdk/record_check.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <fstream>
#include <regex>
#include <thread>

extern "C" const casehub_plugin_descriptor* casehub_plugin_entry(uint32_t, uint32_t) CASEHUB_NOEXCEPT;

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Polls `pred` until true or `timeout`.
bool eventually(const std::function<bool()>& pred, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end)
        if (pred()) return true;
    return pred();
}

std::string gb(std::string_view utf8) {
    iconv_t cd = iconv_open("GB18030", "UTF-8");
    std::string out(utf8.size() * 2 + 8, '\0');
    char* in = const_cast<char*>(utf8.data());
    std::size_t il = utf8.size(), ol = out.size();
    char* o = out.data();
    REQUIRE(iconv(cd, &in, &il, &o, &ol) != static_cast<std::size_t>(-1));
    iconv_close(cd);
    out.resize(out.size() - ol);
    return out;
}

const std::string kHeader =
    "案件编号,案件来源,案由,执法事项编码,当事人类型,当事人名称,证件号码,联系电话,违法地点,立案日期,案件状态,承办街道,处罚决定书号,罚款金额,结案日期,更新时间";

// The sample file of §9, decoded; lines joined with CRLF except the bare LF inside record 3.
const std::vector<std::string> kSampleRows = {
    "ZF3201042026000318,巡查发现,占道经营,CF010001,自然人,王建华,320104198807121234,13800138002,\"秦淮区箍桶巷35号门前,老门东北入口西侧\",2026-03-06,调查取证,夫子庙街道,,,,2026-03-09 10:10:12",
    "ZF3201042026000241,12345转办,油烟扰民,CF050001,法人,\"南京\"\"金陵小馆\"\"餐饮管理有限公司\",91320104MA1N2K3L4Q,025-84000001,秦淮区大光路68号,2026/2/27,决定,大光路街道,秦综执罚决字〔2026〕第00087号,5000,,2026-03-09 10:11:55",
    "ZF3201042026000057,数字城管转办,违法建设,CF020001,自然人,李秀英,320104196503150021,13900139001;025-84000002,\"秦淮区阳光里小区7幢\n楼顶（东侧单元）\",2026年1月15日,执行,红花街道,秦综执罚决字〔2026〕第00031号,0,,2026-03-09 10:12:31",
    "ZF3201042026000322,投诉举报,占道经营,CF010001,,,,,秦淮区月牙湖公园北门,,不予立案,月牙湖街道,,,,2026-03-09 10:13:07",
    "ZF3201042026000198,巡查发现,店外经营,CF010002,法人,南京禾丰便利店有限公司,91320104MA1P8R2T5W,13800138003,秦淮区中华路226号,2026-02-20,结案,中华门街道,秦综执罚决字〔2026〕第00066号,1000.00,2026/3/8,2026-03-09 10:14:26",
};

std::string csv(const std::vector<std::string>& rows, std::optional<std::size_t> trailer_n = std::nullopt,
                bool trailer = true) {
    std::string s = kHeader + "\r\n";
    for (const auto& r : rows) s += r + "\r\n";
    if (trailer) s += "#END," + std::to_string(trailer_n.value_or(rows.size())) + "\r\n";
    return s;
}

const enforcement::Categories& cats() {
    static const auto c = enforcement::Categories::load(std::string(CASEHUB_SOURCE_DIR) + "/config/qinhuai/categories.json");
    return c;
}

enforcement::RowResult map(const enforcement::ParsedFile& f, std::size_t i) {
    std::vector<std::string> fields;
    for (const auto& x : f.rows.at(i).fields) fields.push_back(*enforcement::to_utf8(x, f.encoding));
    return enforcement::map_row(fields, f.rows[i].bytes, cats(), "2026-03-09T10:20:00+08:00",
                                "F.csv line " + std::to_string(f.rows[i].line));
}

json checked(const enforcement::RowResult& r) {
    REQUIRE(r.record.has_value());
    const std::string text = r.record->dump();
    auto fault = casehub::sdk::check_record(text);
    INFO(text);
    if (fault) FAIL(fault->reason << " " << fault->path << " " << fault->message);
    return *r.record;
}

std::string row(std::string status = "调查取证", std::string reg = "2026-03-06", std::string fine = "",
                std::string id = "320104198807121234", std::string type = "自然人", std::string name = "王建华",
                std::string source = "巡查发现", std::string code = "CF010001", std::string close = "") {
    return "ZF3201042026000318," + source + ",占道经营," + code + "," + type + "," + name + "," + id +
           ",13800138002,秦淮区箍桶巷35号," + reg + "," + status + ",夫子庙街道," +
           (fine.empty() ? "" : "秦综执罚决字〔2026〕第00123号") + "," + fine + "," + close + ",2026-03-09 10:10:12";
}

}  // namespace

TEST_CASE("enforcement: the sample file of section 9 (GB18030) maps to valid, masked casehub.record/1", "[unit]") {
    std::string bytes = gb(csv(kSampleRows));
    auto f = enforcement::parse_file(bytes);
    REQUIRE(f.reject.empty());
    CHECK(f.encoding == enforcement::Encoding::gb18030);
    REQUIRE(f.rows.size() == 5);
    CHECK(f.rows[3].line == 6);  // record 3 spans lines 4 and 5

    // raw_sha256: the record's bytes in the file's own encoding, without the line end.
    CHECK(f.rows[0].bytes == gb(kSampleRows[0]));
    CHECK(f.rows[2].bytes == gb(kSampleRows[2]));

    json r0 = checked(map(f, 0));
    CHECK(r0["source"]["record_id"] == "ZF3201042026000318");
    CHECK(r0["source"]["version"] == "2026-03-09T10:10:12+08:00");
    CHECK(r0["raw_sha256"] == casehub::sdk::sha256_hex(gb(kSampleRows[0])));
    CHECK(r0["kind"] == "event");
    CHECK(r0["channel"] == "patrol");
    CHECK(r0["reporter"]["kind"] == "enforcement_officer");
    CHECK(r0["status"] == "in_progress");
    CHECK(r0["status_native"] == "调查取证");
    CHECK(r0["category"]["code"] == "market_food.outside_store_trading");
    CHECK(r0["category"]["native"] == json{{"scheme", "enforcement.zfsx"}, {"code", "CF010001"}, {"name", "占道经营"}});
    CHECK(r0["times"]["reported_at"] == "2026-03-06T00:00:00+08:00");
    CHECK(r0["times"]["registered_at"] == "2026-03-06T00:00:00+08:00");
    CHECK(r0["times"]["updated_at"] == "2026-03-09T10:10:12+08:00");
    CHECK(r0["location"]["address"] == "秦淮区箍桶巷35号门前,老门东北入口西侧");
    CHECK(r0["location"]["original"].is_null());
    CHECK(r0["parties"] == json::array({{{"kind", "natural_person"}, {"name", "王**"},
                                         {"id", "320104********1234"}, {"phone_masked", "138****8002"}}}));
    CHECK(r0["responsible"] == json::array({{{"dept_code", nullptr}, {"name", "夫子庙街道"}, {"role", "lead"}}}));
    CHECK(r0["description"] == "案由：占道经营；地点：秦淮区箍桶巷35号门前,老门东北入口西侧；状态：调查取证");
    CHECK(r0["confidentiality"] == "public");
    CHECK(r0["priority"].is_null());

    json r1 = checked(map(f, 1));
    CHECK(r1["channel"] == "transfer");
    CHECK(r1["reporter"]["kind"] == "unknown");
    CHECK(r1["parties"] == json::array({{{"kind", "legal_person"}, {"name", "南京\"金陵小馆\"餐饮管理有限公司"},
                                         {"id", "91320104MA1N2K3L4Q"}, {"phone_masked", "0258*****01"}}}));
    CHECK(r1["times"]["reported_at"] == "2026-02-27T00:00:00+08:00");
    CHECK(r1["description"] == "案由：油烟扰民；地点：秦淮区大光路68号；状态：决定；处罚：秦综执罚决字〔2026〕第00087号 5000元");
    CHECK(r1["category"]["code"] == "environment.cooking_fume");

    json r2 = checked(map(f, 2));
    CHECK(r2["location"]["address"] == "秦淮区阳光里小区7幢\n楼顶（东侧单元）");
    CHECK(r2["times"]["reported_at"] == "2026-01-15T00:00:00+08:00");
    CHECK(r2["status"] == "resolved");
    CHECK(r2["parties"][0]["phone_masked"] == "139****9001,0258*****02");
    CHECK(r2["parties"][0]["name"] == "李**");
    CHECK(r2["description"] == "案由：违法建设；地点：秦淮区阳光里小区7幢\n楼顶（东侧单元）；状态：执行；处罚：秦综执罚决字〔2026〕第00031号 0元");

    json r3 = checked(map(f, 3));  // 不予立案: no 立案日期, no party
    CHECK(r3["status"] == "rejected");
    CHECK(r3["times"]["reported_at"] == "2026-03-09T10:13:07+08:00");
    CHECK(r3["times"]["registered_at"].is_null());
    CHECK(r3["parties"] == json::array());
    CHECK(r3["channel"] == "phone");

    json r4 = checked(map(f, 4));
    CHECK(r4["status"] == "closed");
    CHECK(r4["times"]["closed_at"] == "2026-03-08T00:00:00+08:00");
    CHECK(r4["description"] == "案由：店外经营；地点：秦淮区中华路226号；状态：结案；处罚：秦综执罚决字〔2026〕第00066号 1000元");
}

TEST_CASE("enforcement: UTF-8 files with BOM (export tool V4.0) and their date form", "[unit]") {
    std::string text = csv({row("结案", "2026-03-06 00:00:00", "1000.00", "32010419880712123X", "自然人", "王建华",
                                "巡查发现", "CF010001", "2026-03-08 00:00:00")});
    auto f = enforcement::parse_file("\xEF\xBB\xBF" + text);
    REQUIRE(f.reject.empty());
    CHECK(f.encoding == enforcement::Encoding::utf8);
    json r = checked(map(f, 0));
    CHECK(r["times"]["reported_at"] == "2026-03-06T00:00:00+08:00");
    CHECK(r["times"]["closed_at"] == "2026-03-08T00:00:00+08:00");
    CHECK(r["parties"][0]["id"] == "320104********123X");
    // The hash covers the UTF-8 bytes without the BOM and the line end.
    auto nl = text.find("\r\n");
    auto nl2 = text.find("\r\n", nl + 2);
    CHECK(r["raw_sha256"] == casehub::sdk::sha256_hex(text.substr(nl + 2, nl2 - nl - 2)));
    // Invalid UTF-8 in a BOM file is not decodable.
    CHECK_FALSE(enforcement::to_utf8("\xE6\xA1", enforcement::Encoding::utf8).has_value());
    CHECK_FALSE(enforcement::to_utf8("\x81", enforcement::Encoding::gb18030).has_value());
}

TEST_CASE("enforcement: incomplete files are rejected with a reason, a blank line after the trailer is not a record", "[unit]") {
    SECTION("no trailer: the last record is a data row") {
        auto f = enforcement::parse_file(gb(csv(kSampleRows, std::nullopt, false)));
        CHECK(f.trailer_missing);
        CHECK(f.reject == "trailer missing (last record at line 7 is a data row)");
    }
    SECTION("cut inside a quoted field") {
        std::string s = gb(csv(kSampleRows, std::nullopt, false));
        s = s.substr(0, s.find("楼顶") == std::string::npos ? s.find(gb("楼顶")) : s.find("楼顶"));
        auto f = enforcement::parse_file(s);
        CHECK(f.trailer_missing);
        CHECK_THAT(f.reject, Catch::Contains("ends inside a quoted field"));
    }
    SECTION("trailer count differs") {
        auto f = enforcement::parse_file(gb(csv(kSampleRows, 6)));
        CHECK(f.trailer_missing);
        CHECK(f.reject == "trailer #END,6 at line 8 does not match the 5 data rows");
        CHECK(f.rows.empty());
    }
    SECTION("header only, empty file, wrong header") {
        CHECK(enforcement::parse_file(gb(kHeader + "\r\n")).trailer_missing);
        CHECK(enforcement::parse_file("").reject == "empty file (no header, no trailer)");
        auto f = enforcement::parse_file(gb(csv({row()})).replace(0, 4, gb("编号")));
        CHECK(f.reject == "header at line 1: column 1 is not '案件编号'");
        CHECK_FALSE(f.trailer_missing);
    }
    SECTION("blank line after the trailer (V3.2)") {
        auto f = enforcement::parse_file(gb(csv(kSampleRows) + "\r\n"));
        CHECK(f.reject.empty());
        CHECK(f.rows.size() == 5);
        CHECK(f.blank_lines == 1);
    }
    SECTION("a trailer in the middle") {
        auto f = enforcement::parse_file(gb(kHeader + "\r\n" + row() + "\r\n#END,1\r\n" + row() + "\r\n#END,2\r\n"));
        CHECK_THAT(f.reject, Catch::Contains("is not the last record"));
    }
}

TEST_CASE("enforcement: dates in every form of section 6.2, and unreadable dates are dead-lettered", "[unit]") {
    for (const char* s : {"2026-03-09", "2026/3/9", "2026年3月9日", "2026-03-09 00:00:00", "2026/03/09", " 2026-3-9 "}) {
        auto d = enforcement::parse_date(s);
        REQUIRE(d);
        CHECK(enforcement::date_rfc3339(*d) == "2026-03-09T00:00:00+08:00");
    }
    CHECK(enforcement::parse_date("2024年2月29日"));
    for (const char* s : {"2026-02-30", "2025/2/29", "2026-13-01", "09.03.2026", "2026年3月9", "20260309", "2026-03-09T00:00:00", ""})
        CHECK_FALSE(enforcement::parse_date(s));
    CHECK(enforcement::parse_update_time("2026-03-09 10:10:12") == "2026-03-09T10:10:12+08:00");
    CHECK_FALSE(enforcement::parse_update_time("2026/3/9 10:10:12"));

    auto f = enforcement::parse_file(gb(csv({row("调查取证", "2026-13-45"), row("结案", "2026-03-06", "", "", "", "", "巡查发现", "CF010001", "3月8日")})));
    auto a = map(f, 0);
    CHECK_FALSE(a.record);
    CHECK(a.reason == "bad_time");
    CHECK(a.detail == "F.csv line 2: 立案日期 '2026-13-45' is not a date in a format of §6.2");
    auto b = map(f, 1);
    CHECK(b.reason == "bad_time");
    CHECK_THAT(b.detail, Catch::Contains("结案日期"));
}

TEST_CASE("enforcement: hand-made re-exports: 3.20104E+17 identity numbers and 1,000.00 fines", "[unit]") {
    auto f = enforcement::parse_file(gb(csv({row("决定", "2026/3/6", "\"1,000.00\"", "3.20104E+17"),
                                             row("决定", "2026/3/6", "\"12,500.50\"", "3.20104E+17", "法人", "南京禾丰便利店有限公司")})));
    REQUIRE(f.reject.empty());
    auto r = map(f, 0);
    json j = checked(r);
    CHECK(j["parties"][0]["id"].is_null());
    CHECK(j["parties"][0]["name"] == "王**");
    REQUIRE(r.warnings.size() == 1);
    CHECK_THAT(r.warnings[0], Catch::Contains("证件号码") && Catch::Contains("spreadsheet"));
    CHECK_THAT(j["description"].get<std::string>(), Catch::EndsWith("；处罚：秦综执罚决字〔2026〕第00123号 1000元"));
    auto r2 = map(f, 1);
    json j2 = checked(r2);
    CHECK(j2["parties"][0]["id"].is_null());  // not a 统一社会信用代码
    CHECK_THAT(j2["description"].get<std::string>(), Catch::EndsWith(" 12500.5元"));
    CHECK(enforcement::parse_fine("5000") == "5000");
    CHECK(enforcement::parse_fine("0") == "0");
    CHECK(enforcement::parse_fine("1,000.00") == "1000");
    CHECK_FALSE(enforcement::parse_fine("1,00.00"));
    CHECK_FALSE(enforcement::parse_fine("五千"));
    auto bad = map(enforcement::parse_file(gb(csv({row("决定", "2026/3/6", "五千")}))), 0);
    CHECK(bad.reason == "bad_value");
}

TEST_CASE("enforcement: white space incl. U+3000 is trimmed, unidentified parties give no party or a null name", "[unit]") {
    auto f = enforcement::parse_file(gb(csv({
        "ZF3201042026000400,巡查发现,占道经营,CF010001,自然人,　王建华 ,320104198807121234,13800138002,\"　秦淮区箍桶巷35号  \",2026-03-06,立案,　夫子庙街道,,,,2026-03-09 10:10:12",
        "ZF3201042026000401,巡查发现,占道经营,CF010001,,,,,秦淮区月牙湖公园北门,2026-03-06,立案,月牙湖街道,,,,2026-03-09 10:10:13",
        "ZF3201042026000402,巡查发现,占道经营,CF010001,自然人,无名氏,,,秦淮区月牙湖公园北门,2026-03-06,立案,月牙湖街道,,,,2026-03-09 10:10:14",
    })));
    REQUIRE(f.reject.empty());
    json a = checked(map(f, 0));
    CHECK(a["location"]["address"] == "秦淮区箍桶巷35号");
    CHECK(a["parties"][0]["name"] == "王**");
    CHECK(a["responsible"][0]["name"] == "夫子庙街道");
    CHECK(checked(map(f, 1))["parties"] == json::array());
    json c = checked(map(f, 2));
    CHECK(c["parties"] == json::array({{{"kind", "natural_person"}, {"name", nullptr}, {"id", nullptr}, {"phone_masked", nullptr}}}));
}

TEST_CASE("enforcement: values outside the document's code lists are dead-lettered, undocumented mappings fall back", "[unit]") {
    auto f = enforcement::parse_file(gb(csv({row("已立案"), row("调查取证", "2026-03-06", "", "320104198807121234", "自然人", "王建华", "群众来信"),
                                             row("调查取证", "2026-03-06", "", "320104198807121234", "自然人", "王建华", "巡查发现", "XK010001"),
                                             row("调查取证", "2026-03-06", "", "320104198807121234", "自然人", "王建华", "巡查发现", "CF019999"),
                                             "ZF3201042026000318,巡查发现,占道经营,CF010001,自然人,王建华,320104198807121234,13800138002"})));
    REQUIRE(f.reject.empty());
    auto a = map(f, 0);
    CHECK(a.reason == "missing_field");
    CHECK_THAT(a.detail, Catch::Contains("案件状态 '已立案'"));
    CHECK(map(f, 1).reason == "missing_field");
    CHECK_THAT(map(f, 1).detail, Catch::Contains("案件来源"));
    CHECK_THAT(map(f, 2).detail, Catch::Contains("执法事项编码 'XK010001'"));
    auto d = map(f, 3);
    json j = checked(d);
    CHECK(j["category"]["code"] == "other.unclassified");
    CHECK(j["category"]["native"]["code"] == "CF019999");
    auto e = map(f, 4);
    CHECK(e.reason == "bad_row");
    CHECK(e.detail == "F.csv line 6: 8 fields, expected 16");

    // The dead-letter copy of a row has the personal columns masked.
    std::vector<std::string> fields;
    for (const auto& x : f.rows[0].fields) fields.push_back(*enforcement::to_utf8(x, f.encoding));
    const std::string masked = enforcement::masked_row_text(fields);
    CHECK_THAT(masked, Catch::Contains(",王**,320104********1234,138****8002,"));
    CHECK_THAT(masked, !Catch::Contains("13800138002"));
    fields.clear();
    for (const auto& x : f.rows[4].fields) fields.push_back(*enforcement::to_utf8(x, f.encoding));
    CHECK(enforcement::masked_row_text(fields) == "ZF3201042026000318,巡查发现,占道经营,CF010001,自**,王**,3*****************,138****8002");
}

TEST_CASE("enforcement: cursor and file names", "[unit]") {
    auto c = enforcement::Cursor::parse("ZFAJ_20260309101500_001.csv#5");
    REQUIRE(c);
    CHECK(c->file == "ZFAJ_20260309101500_001.csv");
    CHECK(c->rows == 5);
    CHECK(c->str() == "ZFAJ_20260309101500_001.csv#5");
    CHECK_FALSE(enforcement::Cursor::parse("ZFAJ_20260309101500_001.csv"));
    CHECK_FALSE(enforcement::Cursor::parse("#5"));
    CHECK_FALSE(enforcement::Cursor::parse("x#5a"));
    CHECK(enforcement::export_file_name("ZFAJ_20260309101500_001.csv"));
    CHECK_FALSE(enforcement::export_file_name("ZFAJ_20260309101500_001.csv.tmp"));
    CHECK_FALSE(enforcement::export_file_name("ZFAJ_2026030910150_001.csv"));
    CHECK_FALSE(enforcement::export_file_name("notes.csv"));
}

// ---- runtime: the plugin in-process on a real folder -----------------------------------------

namespace {

struct Folder {
    fs::path root;
    Folder() {
        std::string t = (fs::temp_directory_path() / "enf-rt-XXXXXX").string();
        REQUIRE(::mkdtemp(t.data()) != nullptr);
        root = t;
    }
    ~Folder() { fs::remove_all(root); }
    void put(const std::string& name, const std::string& bytes) {
        std::ofstream(root / (name + ".tmp"), std::ios::binary) << bytes;
        fs::rename(root / (name + ".tmp"), root / name);
    }
    std::string read(const fs::path& p) const {
        std::ifstream in(root / p, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(in), {});
    }
};

json config(const Folder& f, int grace = 0) {
    return {{"dir", f.root.string()},
            {"categories_file", std::string(CASEHUB_SOURCE_DIR) + "/config/qinhuai/categories.json"},
            {"incomplete_grace_s", grace},
            {"batch_size", 2},
            {"scan_interval_ms", 50}};
}

std::string nth_row(int n, const std::string& status = "立案") {
    char id[32];
    std::snprintf(id, sizeof id, "ZF3201042026%06d", n);
    char upd[32];
    std::snprintf(upd, sizeof upd, "2026-03-09 10:%02d:%02d", n / 60 % 60, n % 60);
    return std::string(id) + ",巡查发现,占道经营,CF010001,自然人,王建华,320104198807121234,13800138002,秦淮区箍桶巷" +
           std::to_string(n) + "号,2026-03-06," + status + ",夫子庙街道,,,," + upd;
}

std::vector<std::string> ids(const std::vector<std::string>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(json::parse(r)["source"]["record_id"]);
    return out;
}

}  // namespace

TEST_CASE("enforcement: files are emitted in name order and moved to done/ after the ack, bad ones to rejected/", "[runtime]") {
    Folder dir;
    dir.put("ZFAJ_20260309101500_001.csv", gb(csv({nth_row(1), nth_row(2), nth_row(3)})));
    dir.put("ZFAJ_20260309101000_001.csv", "\xEF\xBB\xBF" + csv({nth_row(4)}) + "\r\n");
    dir.put("ZFAJ_20260309102000_001.csv", gb(csv({nth_row(5), nth_row(6)}, std::nullopt, false)));  // incomplete
    dir.put("ZFAJ_20260309102500_001.csv", gb(csv({nth_row(7), "ZF3201042026000008,巡查发现,占道经营,CF010001,自然人,王建华,,13800138002,x,2026-03-06,已立案,夫子庙街道,,,,2026-03-09 10:00:08"})));
    std::ofstream(dir.root / "ZFAJ_20260309103000_001.csv.tmp") << "partial";
    std::ofstream(dir.root / "readme.txt") << "x";

    casehub::sdk::FakeHost host(casehub_plugin_entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR));
    host.create(config(dir));
    host.start();
    REQUIRE(eventually([&] {
        host.poll(50ms);
        return fs::exists(dir.root / "done/ZFAJ_20260309102500_001.csv");
    }));
    CHECK(ids(host.records()) == std::vector<std::string>{"ZF3201042026000004", "ZF3201042026000001", "ZF3201042026000002",
                                                          "ZF3201042026000003", "ZF3201042026000007"});
    CHECK(fs::exists(dir.root / "done/ZFAJ_20260309101000_001.csv"));
    CHECK(fs::exists(dir.root / "done/ZFAJ_20260309101500_001.csv"));
    CHECK(fs::exists(dir.root / "rejected/ZFAJ_20260309102000_001.csv"));
    CHECK(dir.read("rejected/ZFAJ_20260309102000_001.csv.reason") ==
          "ZFAJ_20260309102000_001.csv: trailer missing (last record at line 3 is a data row)\n");
    CHECK(fs::exists(dir.root / "ZFAJ_20260309103000_001.csv.tmp"));  // .tmp files are not ours
    CHECK(fs::exists(dir.root / "readme.txt"));
    auto letters = host.dead_letters();
    REQUIRE(letters.size() == 1);
    CHECK(letters[0].reason == "missing_field");
    CHECK(letters[0].detail == "ZFAJ_20260309102500_001.csv line 3: 案件状态 '已立案' is not in the list of §5.4");
    CHECK(letters[0].cursor == "ZFAJ_20260309102500_001.csv#2");
    CHECK_THAT(letters[0].native, !Catch::Contains("13800138002") && Catch::Contains("138****8002"));
    CHECK(host.last_cursor() == "ZFAJ_20260309102500_001.csv#2");
    for (const auto& b : host.batches()) CHECK_FALSE(b.cursor.empty());
    for (const auto& l : host.logs()) {
        CHECK_THAT(l.message, !Catch::Contains("13800138002"));
        CHECK_THAT(l.message, !Catch::Contains("320104198807121234"));
    }
}

TEST_CASE("enforcement: a file without trailer is waited for during the grace period, then rejected", "[runtime]") {
    Folder dir;
    const std::string name = "ZFAJ_20260309101500_001.csv";
    std::ofstream(dir.root / name, std::ios::binary) << gb(csv({nth_row(1)}, std::nullopt, false));
    casehub::sdk::FakeHost host(casehub_plugin_entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR));
    host.create(config(dir, 2));
    host.start();
    host.run_for(300ms, 50ms);
    CHECK(fs::exists(dir.root / name));  // still being copied, perhaps
    CHECK(host.records().empty());
    // The copy completes: the file is taken as it is now.
    std::ofstream(dir.root / name, std::ios::binary | std::ios::app) << "#END,1\r\n";
    host.run_for(300ms, 50ms);
    CHECK(fs::exists(dir.root / "done" / name));
    CHECK(host.records().size() == 1);

    const std::string bad = "ZFAJ_20260309102000_001.csv";
    std::ofstream(dir.root / bad, std::ios::binary) << gb(csv({nth_row(2)}, std::nullopt, false));
    host.run_for(500ms, 50ms);
    CHECK(fs::exists(dir.root / bad));
    REQUIRE(eventually([&] {
        host.poll(50ms);
        return fs::exists(dir.root / "rejected" / bad);
    }, 5s));
    CHECK(fs::exists(dir.root / "rejected" / (bad + ".reason")));
    CHECK(host.records().size() == 1);
}

TEST_CASE("enforcement: restarts are exact: resume inside a file, and a fully committed file is moved without re-emitting", "[runtime]") {
    Folder dir;
    dir.put("ZFAJ_20260309101500_001.csv", gb(csv({nth_row(1), nth_row(2), nth_row(3), nth_row(4), nth_row(5)})));
    dir.put("ZFAJ_20260309102000_001.csv", gb(csv({nth_row(6)})));
    std::string cursor;
    {
        // Killed after the first batch (2 rows) was committed: no ack, nothing moved.
        casehub::sdk::FakeHost host(casehub_plugin_entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR));
        host.auto_ack = false;
        host.create(config(dir));
        host.start();
        host.poll(0ms);  // deadline passed: one batch
        auto b = host.batches();
        REQUIRE(b.size() >= 1);
        cursor = b[0].cursor;
        CHECK(cursor == "ZFAJ_20260309101500_001.csv#2");
    }
    std::vector<std::string> all;
    {
        casehub::sdk::FakeHost host(casehub_plugin_entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR));
        host.auto_ack = false;
        host.create(config(dir));
        host.start(cursor);
        // Everything of the first file emitted, never acked: the file stays.
        for (int i = 0; i < 10; ++i) host.poll(50ms);
        all = ids(host.records());
        CHECK(all == std::vector<std::string>{"ZF3201042026000003", "ZF3201042026000004", "ZF3201042026000005"});
        CHECK(fs::exists(dir.root / "ZFAJ_20260309101500_001.csv"));
        cursor = host.last_cursor();
        CHECK(cursor == "ZFAJ_20260309101500_001.csv#5");
    }
    {
        // Restart with every row committed: moved to done/, nothing emitted again.
        casehub::sdk::FakeHost host(casehub_plugin_entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR));
        host.create(config(dir));
        host.start(cursor);
        REQUIRE(eventually([&] {
            host.poll(50ms);
            return fs::exists(dir.root / "done/ZFAJ_20260309102000_001.csv");
        }));
        CHECK(ids(host.records()) == std::vector<std::string>{"ZF3201042026000006"});
        CHECK(fs::exists(dir.root / "done/ZFAJ_20260309101500_001.csv"));
    }
}

TEST_CASE("enforcement: an unreachable folder is transient and reported, a bad cursor or categories file is refused", "[runtime]") {
    Folder dir;
    json cfg = config(dir);
    cfg["dir"] = (dir.root / "not-mounted").string();
    casehub::sdk::FakeHost host(casehub_plugin_entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR));
    host.create(cfg);
    host.start();
    CHECK(host.poll(10ms) == CASEHUB_ERR_UNAVAILABLE);
    CHECK_THAT(host.last_error(), Catch::Contains("not reachable"));

    casehub::sdk::FakeHost h2(casehub_plugin_entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR));
    h2.create(config(dir));
    CHECK_THROWS(h2.start("garbage"));

    casehub::sdk::FakeHost h3(casehub_plugin_entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR));
    json bad = config(dir);
    bad["categories_file"] = (dir.root / "nope.json").string();
    CHECK_THROWS_WITH(h3.create(bad), Catch::Contains("categories_file"));
}
