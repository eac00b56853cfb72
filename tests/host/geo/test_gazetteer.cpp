// Address geocoding with the gazetteer (host/geo/gazetteer.hpp): each rule on hand-written
// addresses (prefixes, places, aliases, roads with house numbers, intersections, relative
// phrases, the district boundary), the interface documents' addresses, load errors, and a
// labelled set of generated addresses in the styles of the 12345 and enforcement documents
// (street >= 90 %, community >= 75 %), kept in tests/host/geo/addresses.tsv.
#include "geo/gazetteer.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <numbers>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

using casehub::host::geo::GeocodeResult;
using casehub::host::geo::Gazetteer;
using casehub::host::geo::LonLat;
namespace fs = std::filesystem;

namespace {

const fs::path kConfig = fs::path(CASEHUB_SOURCE_DIR) / "config" / "qinhuai";

const Gazetteer& gazetteer() {
    static const Gazetteer g = [] {
        auto r = Gazetteer::load(kConfig / "gazetteer.json", kConfig / "divisions.json");
        if (!r) FAIL("gazetteer: " << r.error().message);
        return std::move(r).value();
    }();
    return g;
}

GeocodeResult geocode(const std::string& address) {
    GeocodeResult r = gazetteer().geocode(address);
    INFO(address << "\n" << r.explanation);
    CHECK(!r.explanation.empty());
    return r;
}

// ---- hand-written rules ----------------------------------------------------------------------

TEST_CASE("gazetteer: the configuration loads", "[unit]") {
    const Gazetteer& g = gazetteer();
    CHECK(g.entry_count() == 217);
}

TEST_CASE("gazetteer: prefixes are stripped, in any variant", "[unit]") {
    for (const char* a : {"瑞金新村", "秦淮区瑞金新村", "南京市秦淮区瑞金新村", "江苏省南京市秦淮区瑞金新村",
                          "江苏南京秦淮瑞金新村", "南京 市 秦淮 区  瑞金新村", "南京市　秦淮区瑞金新村8幢楼下"}) {
        auto r = geocode(a);
        INFO(a << "\n" << r.explanation);
        CHECK(r.matched);
        CHECK(r.matched_name == "瑞金新村");
        CHECK(r.matched_type == "compound");
        CHECK(r.street_code == "320104009");
        CHECK(r.community_code == "320104009006");
        CHECK(r.precision_m == 50);
    }
    auto r = geocode("江苏省南京市秦淮区瑞金新村8幢楼下");
    CHECK(r.explanation.find("stripped: 江苏省 南京市 秦淮区") != std::string::npos);
    // A prefix does not eat a place that begins with it.
    CHECK(geocode("南京市第一医院").matched_name == "南京市第一医院");
    CHECK(geocode("南京市一医院急诊门口").matched_name == "南京市第一医院");
    CHECK(geocode("秦淮河边").matched_name == "秦淮河");
    CHECK(geocode("南京航空航天大学").matched_name == "南京航空航天大学");
}

TEST_CASE("gazetteer: landmarks, compounds, schools, hospitals, markets, parks, aliases", "[unit]") {
    struct Case {
        const char* address;
        const char* name;
        const char* type;
        const char* community;
        int precision;
    };
    for (const Case& c : std::vector<Case>{
             {"夫子庙", "夫子庙", "landmark", "320104002015", 50},
             {"孔庙", "夫子庙", "landmark", "320104002015", 50},  // alias
             {"中国科举博物馆", "江南贡院", "landmark", "320104002005", 50},
             {"乌衣巷", "乌衣巷", "landmark", "320104002019", 50},
             {"乌衣巷社区", "乌衣巷社区", "compound", "320104002005", 50},  // <short_name>社区 entry
             {"瑞金新村社区居委会", "瑞金新村", "compound", "320104009006", 50},
             {"南航明故宫校区", "南京航空航天大学", "school", "320104009006", 50},
             {"三条巷幼儿园", "秦淮区三条巷幼儿园", "school", "320104006004", 50},  // without 秦淮区
             {"三条巷", "三条巷", "compound", "320104006004", 50},
             {"市中医院", "南京市中医院", "hospital", "320104003008", 50},
             {"七桥瓮花鸟鱼虫市场", "七桥瓮花鸟鱼虫市场", "market", "320104003004", 50},  // not the park
             {"七桥瓮", "七桥瓮湿地公园", "park", "320104003004", 50},
             {"白鹭洲公园", "白鹭洲公园", "park", "320104002002", 50},
             {"中山门农贸市场", "中山门农贸市场", "market", "320104009004", 50},
             {"中山门社区", "中山门社区", "compound", "320104009004", 50},
             {"新街口商业步行街", "新街口商业步行街", "compound", "320104006001", 50},  // longer than 新街口
             {"月牙湖公园北门广场", "月牙湖公园", "park", "320104010003", 50},
         }) {
        auto r = geocode(c.address);
        INFO(c.address << "\n" << r.explanation);
        REQUIRE(r.matched);
        CHECK(r.matched_name == c.name);
        CHECK(r.matched_type == c.type);
        CHECK(r.rule == c.type);
        CHECK(r.community_code == c.community);
        CHECK(r.community_code.substr(0, 9) == r.street_code);
        CHECK(r.precision_m == c.precision);
    }
    // The point is the entry's point.
    const auto& entries = gazetteer().entries();
    auto r = geocode("江南贡院");
    for (const auto& e : entries)
        if (e.name == "江南贡院") {
            CHECK(r.point.lon == e.point.lon);
            CHECK(r.point.lat == e.point.lat);
        }
}

TEST_CASE("gazetteer: roads with house numbers against the stretches' ranges", "[unit]") {
    struct Case {
        const char* address;
        const char* street;
        int precision;
        const char* rule;
    };
    for (const Case& c : std::vector<Case>{
             {"秦淮区中华路226号", "320104005", 100, "road_number_in_range"},  // enforcement sample
             {"秦淮区大光路68号", "320104008", 100, "road_number_in_range"},
             {"中华路128号", "320104002", 100, "road_number_in_range"},
             {"中华路一百二十八号", "320104002", 100, "road_number_in_range"},
             {"中华路一二八号", "320104002", 100, "road_number_in_range"},
             {"中华路１２８号", "320104002", 100, "road_number_in_range"},  // full-width digits
             {"中华路 28 号", "320104006", 100, "road_number_in_range"},
             {"长白街100-2号", "320104007", 100, "road_number_in_range"},
             {"长白街108号", "320104008", 100, "road_number_in_range"},
             {"太平路130号", "320104008", 100, "road_number_in_range"},  // alias of 太平南路
             {"中山东路360号", "320104010", 100, "road_number_in_range"},
             {"中华路500号", "320104005", 300, "road_number_nearest_range"},  // past the last range
             {"长乐路2号", "320104002", 300, "road_number_nearest_range"},    // range starts at 4
             {"中华路", "320104002", 300, "road_without_number"},             // longest stretch
             {"月牙湖街道瑞金路", "320104010", 300, "road_without_number"},    // the street named
             {"中华路往南50米", "320104002", 350, "road_without_number+relative"},  // 50米 is no number
         }) {
        auto r = geocode(c.address);
        INFO(c.address << "\n" << r.explanation);
        REQUIRE(r.matched);
        CHECK(r.matched_type == "road");
        CHECK(r.street_code == c.street);
        CHECK(r.precision_m == c.precision);
        CHECK(r.rule == c.rule);
    }
    // The chosen stretch's community and point.
    auto r = geocode("中华路226号");
    CHECK(r.community_code == "320104005009");
    for (const auto& e : gazetteer().entries())
        if (e.name == "中华路" && e.from == 194) CHECK((r.point.lon == e.point.lon && r.point.lat == e.point.lat));
    CHECK(r.explanation.find("226 lies in 194-248") != std::string::npos);
    // "光华路街道" is a street name, not the road 光华路.
    r = geocode("光华路街道银龙花园北门对面");
    CHECK(r.matched_name == "银龙花园");
    CHECK(r.community_code == "320104011007");
    CHECK(r.precision_m == 100);
}

TEST_CASE("gazetteer: intersections at the closest pair of stretches", "[unit]") {
    const auto& entries = gazetteer().entries();
    auto closest_midpoint = [&](const std::string& a, const std::string& b) {
        double best = 1e18;
        LonLat mid{};
        for (const auto& x : entries)
            for (const auto& y : entries) {
                if (x.name != a || y.name != b) continue;
                const double dx = (x.point.lon - y.point.lon) * std::cos(32.02 * std::numbers::pi / 180.0);
                const double dy = x.point.lat - y.point.lat;
                if (dx * dx + dy * dy < best) {
                    best = dx * dx + dy * dy;
                    mid = {(x.point.lon + y.point.lon) / 2, (x.point.lat + y.point.lat) / 2};
                }
            }
        return mid;
    };
    struct Case {
        const char* address;
        const char* a;
        const char* b;
        int precision;
    };
    for (const Case& c : std::vector<Case>{
             {"中山南路与建康路交叉口往东50米", "中山南路", "建康路", 200},
             {"中山南路与建康路交叉口", "中山南路", "建康路", 150},
             {"中华路瞻园路路口", "中华路", "瞻园路", 150},
             {"白下路和太平南路交界", "白下路", "太平南路", 150},
             {"秦淮区中山南路、集庆路十字路口附近", "中山南路", "集庆路", 200},
             {"王府大街游府西街口", "王府大街", "游府西街", 150},
         }) {
        auto r = geocode(c.address);
        INFO(c.address << "\n" << r.explanation);
        REQUIRE(r.matched);
        CHECK(r.rule.starts_with("intersection"));
        CHECK(r.precision_m == c.precision);
        const LonLat mid = closest_midpoint(c.a, c.b);
        CHECK(std::abs(r.point.lon - mid.lon) < 1e-9);
        CHECK(std::abs(r.point.lat - mid.lat) < 1e-9);
        CHECK(r.explanation.find("midpoint") != std::string::npos);
    }
    // Two roads side by side without a connector or a crossing word are not an intersection.
    auto r = geocode("中山南路建康路");
    CHECK(r.rule == "road_without_number");
}

TEST_CASE("gazetteer: relative phrases keep the anchor and add 50 m", "[unit]") {
    const GeocodeResult plain = geocode("夫子庙");
    for (const char* a : {"夫子庙附近", "夫子庙对面", "夫子庙旁", "夫子庙旁边", "夫子庙东侧", "夫子庙西侧",
                          "夫子庙南侧", "夫子庙北侧", "夫子庙门口", "夫子庙往东50米", "夫子庙向北一百米",
                          "夫子庙地铁站旁边", "靠近夫子庙"}) {
        auto r = geocode(a);
        INFO(a << "\n" << r.explanation);
        REQUIRE(r.matched);
        CHECK(r.matched_name == "夫子庙");
        CHECK(r.precision_m == 100);
        CHECK(r.rule == "landmark+relative");
        CHECK(r.point.lon == plain.point.lon);
        CHECK(r.point.lat == plain.point.lat);
        CHECK(r.explanation.find("relative phrase") != std::string::npos);
    }
    auto r = geocode("中华路128号门前");
    CHECK(r.precision_m == 150);
    // A gate or a building number is not a relative phrase.
    CHECK(geocode("月牙湖公园北门").precision_m == 50);
    CHECK(geocode("瑞金新村8幢楼下").precision_m == 50);
}

TEST_CASE("gazetteer: the interface documents' addresses", "[unit]") {
    struct Case {
        const char* address;
        const char* street;
        const char* community;  // "" when not asserted
        int precision;
    };
    for (const Case& c : std::vector<Case>{
             // 12345 (fsdz)
             {"秦淮区贡院街江南贡院东侧", "320104002", "320104002005", 100},
             {"月牙湖公园北门广场", "320104010", "320104010003", 50},
             {"瑞金新村12幢", "320104009", "320104009006", 50},
             {"光华路街道银龙花园北门对面", "320104011", "320104011007", 100},
             {"老门东箍桶巷口往南50米", "320104002", "", 100},
             // enforcement (违法地点)
             {"秦淮区箍桶巷35号门前,老门东北入口西侧", "320104002", "320104002012", 150},
             {"秦淮区大光路68号", "320104008", "320104008001", 100},
             {"秦淮区阳光里小区7幢\n楼顶（东侧单元）", "320104003", "320104003005", 50},
             {"秦淮区月牙湖公园北门", "320104010", "320104010003", 50},
             {"秦淮区中华路226号", "320104005", "320104005009", 100},
         }) {
        auto r = geocode(c.address);
        INFO(c.address << "\n" << r.explanation);
        REQUIRE(r.matched);
        CHECK(r.street_code == c.street);
        if (*c.community) CHECK(r.community_code == c.community);
        CHECK(r.precision_m == c.precision);
    }
}

TEST_CASE("gazetteer: no guessing across the district boundary", "[unit]") {
    for (const char* a : {"玄武区中山东路100号", "南京市玄武区瑞金新村", "建邺区江东中路100号", "鼓楼区中山路1号",
                          "南京市雨花台区雨花路1号", "江宁区双龙大道1000号", "栖霞区仙林大道", "苏州市观前街",
                          "北京东路20号", "新模范马路5号", "秦淮区", "夫子庙街道", "南京市", "", "   ", "某某小区门口"}) {
        auto r = geocode(a);
        INFO(a << "\n" << r.explanation);
        CHECK_FALSE(r.matched);
        CHECK(r.street_code.empty());
        CHECK(r.community_code.empty());
        CHECK(r.precision_m == 0);
    }
    CHECK(geocode("玄武区中山东路100号").explanation.find("玄武区") != std::string::npos);
    // Names that merely look like another district are ours.
    CHECK(geocode("建邺路100号").street_code == "320104012");
    CHECK(geocode("江宁路社区").community_code == "320104002016");
    CHECK(geocode("白下区中华路128号").street_code == "320104002");  // 白下区 merged into 秦淮区
}

TEST_CASE("gazetteer: the street from an operator-filled street name", "[unit]") {
    const Gazetteer& g = gazetteer();
    CHECK(g.street_by_name("夫子庙街道") == "320104002");
    CHECK(g.street_by_name("夫子庙") == "320104002");
    CHECK(g.street_by_name("夫子庙街道办") == "320104002");
    CHECK(g.street_by_name(" 秦淮区瑞金路街道办事处 ") == "320104009");
    CHECK(g.street_by_name("光华路") == "320104011");
    CHECK(g.street_by_name("秦虹街道") == "320104001");
    CHECK(g.street_by_name("Fuzimiao") == "320104002");
    CHECK(g.street_by_name("秦淮区夫子庙街道办事处") == "320104002");
    CHECK_FALSE(g.street_by_name("区局直属"));
    CHECK_FALSE(g.street_by_name(""));
    CHECK_FALSE(g.street_by_name("梅园新村街道"));
    CHECK_FALSE(g.street_by_name("玄武区梅园新村街道"));
    CHECK_FALSE(g.street_by_name("玄武区夫子庙街道"));
}

// ---- load errors and extension without a rebuild --------------------------------------------

struct TempDir {
    fs::path path;
    TempDir() {
        path = fs::temp_directory_path() / ("casehub-gaz-" + std::to_string(::getpid()) + "-" +
                                            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    fs::path write(const std::string& name, const std::string& text) const {
        std::ofstream(path / name) << text;
        return path / name;
    }
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_CASE("gazetteer: load errors name the file and the entry", "[unit]") {
    TempDir dir;
    const fs::path div = kConfig / "divisions.json";
    auto error_of = [&](const std::string& text) {
        const fs::path f = dir.write("g.json", text);
        auto r = Gazetteer::load(f, div);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find(f.string()) != std::string::npos);
        return r.error().message;
    };
    const std::string ok_entry =
        R"({"name":"测试广场","aliases":[],"type":"landmark","lon":118.79,"lat":32.02,"street_code":"320104002","community_code":"320104002015"})";
    CHECK(error_of("not json").find("JSON") != std::string::npos);
    CHECK(error_of("{}").find("array") != std::string::npos);
    CHECK(error_of("[" + ok_entry + R"(,{"name":"坏地方","type":"landmark","lon":118.79,"lat":32.02,"street_code":"320104099","community_code":"320104002015"}])")
              .find("entry 1 (坏地方)") != std::string::npos);
    CHECK(error_of(R"([{"name":"坏地方","type":"castle","lon":118.79,"lat":32.02,"street_code":"320104002","community_code":"320104002015"}])")
              .find("unknown type") != std::string::npos);
    CHECK(error_of(R"([{"name":"坏地方","type":"park","lon":118.79,"lat":32.02,"street_code":"320104002","community_code":"320104009006"}])")
              .find("belongs to street") != std::string::npos);
    CHECK(error_of(R"([{"name":"坏路","type":"road","lon":118.79,"lat":32.02,"street_code":"320104002","community_code":"320104002015","house_numbers":{"from":9,"to":3}}])")
              .find("house_numbers") != std::string::npos);
    CHECK(error_of("[" + ok_entry + R"(,{"name":"另一处","aliases":["测试广场"],"type":"park","lon":118.79,"lat":32.02,"street_code":"320104002","community_code":"320104002015"}])")
              .find("already used") != std::string::npos);
    CHECK(error_of(R"([{"name":"坏地方","type":"park","lat":32.02,"street_code":"320104002","community_code":"320104002015"}])")
              .find("lon and lat") != std::string::npos);
    auto missing = Gazetteer::load(dir.path / "absent.json", div);
    REQUIRE_FALSE(missing.ok());
    CHECK(missing.error().message.find("absent.json") != std::string::npos);
}

TEST_CASE("gazetteer: extended by editing the configuration, no rebuild", "[unit]") {
    TempDir dir;
    std::string text = slurp(kConfig / "gazetteer.json");
    const auto last = text.rfind(']');
    REQUIRE(last != std::string::npos);
    text.insert(last, R"(,{"name":"秦淮测试广场","aliases":["测试广场"],"type":"landmark","lon":118.7951,"lat":32.0301,"street_code":"320104008","community_code":"320104008004"})");
    auto g = Gazetteer::load(dir.write("gazetteer.json", text), kConfig / "divisions.json");
    REQUIRE(g.ok());
    auto r = g->geocode("南京市秦淮区测试广场东侧");
    CHECK(r.matched);
    CHECK(r.matched_name == "秦淮测试广场");
    CHECK(r.community_code == "320104008004");
    CHECK(r.precision_m == 100);
}

// ---- the labelled set ------------------------------------------------------------------------

// splitmix64: the same sequence on every platform and standard library.
struct Rng {
    std::uint64_t s;
    std::uint64_t next() {
        std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
    template <class T>
    const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }
    bool chance(int percent) { return below(100) < static_cast<std::size_t>(percent); }
};

struct Labelled {
    std::string address;
    std::set<std::string> streets, communities;  // empty: must not match
    std::string kind;
};

std::string chinese_number(int n) {
    static const char* digits[] = {"零", "一", "二", "三", "四", "五", "六", "七", "八", "九"};
    std::string out;
    const int h = n / 100, t = n / 10 % 10, u = n % 10;
    if (h) out += std::string(digits[h]) + "百";
    if (t) out += std::string(h || t > 1 ? digits[t] : "") + "十";
    else if (h && u) out += "零";
    if (u) out += digits[u];
    return out.empty() ? "零" : out;
}

std::string chinese_digits(int n) {
    static const char* digits[] = {"〇", "一", "二", "三", "四", "五", "六", "七", "八", "九"};
    std::string out;
    for (char c : std::to_string(n)) out += digits[c - '0'];
    return out;
}

std::string full_width(const std::string& ascii) {
    std::string out;
    for (char c : ascii) {
        if (c >= '0' && c <= '9') {
            const unsigned cp = 0xFF10u + static_cast<unsigned>(c - '0');
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += c;
        }
    }
    return out;
}

double metres(const LonLat& a, const LonLat& b) {
    const double dx = (a.lon - b.lon) * 111320.0 * std::cos(32.02 * std::numbers::pi / 180.0);
    const double dy = (a.lat - b.lat) * 110574.0;
    return std::sqrt(dx * dx + dy * dy);
}

std::vector<Labelled> labelled_set() {
    const auto& entries = gazetteer().entries();
    std::map<std::string, std::string> street_name;  // code -> 夫子庙街道
    {
        std::ifstream in(kConfig / "divisions.json");
        const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        // Small, fixed structure: pick "code":"3201040NN","name":"..." pairs of the streets.
        for (std::size_t p = text.find("\"streets\""); p != std::string::npos;) {
            p = text.find("\"code\"", p);
            if (p == std::string::npos || p > text.find("\"communities\"")) break;
            const auto c0 = text.find('"', text.find(':', p) + 1) + 1;
            const std::string code = text.substr(c0, text.find('"', c0) - c0);
            const auto n = text.find("\"name\"", c0);
            const auto n0 = text.find('"', text.find(':', n) + 1) + 1;
            street_name[code] = text.substr(n0, text.find('"', n0) - n0);
            p = n0;
        }
    }
    REQUIRE(street_name.size() == 12);

    Rng rng{20260309};
    std::vector<Labelled> set;
    auto add = [&](std::string address, const std::vector<const Gazetteer::Entry*>& labels, const char* kind) {
        Labelled l{std::move(address), {}, {}, kind};
        for (const auto* e : labels) {
            l.streets.insert(e->street_code);
            l.communities.insert(e->community_code);
        }
        set.push_back(std::move(l));
    };

    const std::vector<std::string> hotline_prefix = {"", "", "", "秦淮区", "南京市秦淮区", "南京秦淮", "秦淮区 ", "南京市 秦淮区"};
    const std::vector<std::string> enforcement_prefix = {"秦淮区", "秦淮区", "江苏省南京市秦淮区", "南京市秦淮区"};
    const std::vector<std::string> complaint = {"有人占道经营", "垃圾堆放无人清理", "晚上噪音扰民", "路灯不亮",
                                                "井盖缺失", "违章停车严重", "油烟扰民", "下水道堵塞"};
    const std::vector<std::string> relative = {"附近", "对面", "旁边", "旁", "东侧", "西侧", "南侧", "北侧",
                                               "门口", "往东50米", "往南100米", "北门对面", "斜对面", "往西二十米"};
    auto prefix = [&](bool enforcement) { return enforcement ? rng.pick(enforcement_prefix) : rng.pick(hotline_prefix); };
    auto tail = [&]() -> std::string {
        switch (rng.below(4)) {
            case 0: return "，" + rng.pick(complaint);
            case 1: return rng.pick(complaint);
            default: return "";
        }
    };

    // Places: every entry once, some twice, with varied templates.
    for (const auto& e : entries) {
        if (e.type == "road") continue;
        std::vector<std::string> forms{e.name};
        forms.insert(forms.end(), e.aliases.begin(), e.aliases.end());
        for (int round = 0; round < (rng.chance(40) ? 2 : 1); ++round) {
            const std::string& f = rng.pick(forms);
            const bool enforcement = rng.chance(35);
            std::string a = prefix(enforcement);
            if (rng.chance(12)) a += street_name[e.street_code];
            const int n = 1 + static_cast<int>(rng.below(30));
            if (e.type == "compound") {
                switch (rng.below(6)) {
                    case 0: a += f + std::to_string(n) + "幢楼下"; break;
                    case 1: a += f + "小区" + std::to_string(n) + "栋" + std::to_string(1 + rng.below(4)) + "单元"; break;
                    case 2: a += f + rng.pick(relative); break;
                    case 3: a += f + std::to_string(n) + "号楼"; break;
                    case 4: a += f + "小区" + std::to_string(n) + "幢\n楼顶（东侧单元）"; break;
                    default: a += f; break;
                }
            } else {
                switch (rng.below(5)) {
                    case 0: a += f + rng.pick(relative); break;
                    case 1: a += f + (e.type == "landmark" ? "地铁站旁边" : "大门口"); break;
                    case 2: a += f + "北门"; break;
                    case 3: a += "靠近" + f; break;
                    default: a += f; break;
                }
            }
            add(a + (enforcement ? "" : tail()), {&e}, "place");
        }
    }

    // Roads.
    std::map<std::string, std::vector<const Gazetteer::Entry*>> roads;
    for (const auto& e : entries)
        if (e.type == "road") roads[e.name].push_back(&e);
    std::vector<std::string> road_names;
    for (const auto& [name, v] : roads) road_names.push_back(name);
    auto nearest = [&](const std::vector<const Gazetteer::Entry*>& stretches, int n) {
        const Gazetteer::Entry* best = nullptr;
        int bd = 1 << 30;
        for (const auto* s : stretches) {
            const int d = n < s->from ? s->from - n : (n > s->to ? n - s->to : 0);
            if (d < bd) bd = d, best = s;
        }
        return best;
    };
    // Inside a range: every stretch once, then random ones.
    std::vector<const Gazetteer::Entry*> stretches;
    for (const auto& e : entries)
        if (e.type == "road") stretches.push_back(&e);
    for (std::size_t k = 0; k < stretches.size() + 40; ++k) {
        const auto* s = k < stretches.size() ? stretches[k] : rng.pick(stretches);
        const int n = s->from + static_cast<int>(rng.below(static_cast<std::size_t>(s->to - s->from + 1)));
        const bool enforcement = rng.chance(50);
        std::string a = prefix(enforcement);
        const std::string& road = s->aliases.empty() || rng.chance(70) ? s->name : rng.pick(s->aliases);
        switch (rng.below(8)) {
            case 0: a += road + chinese_number(n) + "号"; break;
            case 1: a += road + full_width(std::to_string(n)) + "号"; break;
            case 2: a += road + std::to_string(n) + "-" + std::to_string(1 + rng.below(5)) + "号"; break;
            case 3: a += road + std::to_string(n) + "号" + rng.pick(relative); break;
            case 4: a += road + " " + std::to_string(n) + " 号门前"; break;
            case 5: a += road + (n < 100 ? chinese_digits(n) : std::to_string(n)) + "号"; break;
            default: a += road + std::to_string(n) + "号"; break;
        }
        add(a + (enforcement ? "" : tail()), {s}, "road_in_range");
    }
    // Outside every range: the nearest range.
    for (int k = 0; k < 30; ++k) {
        const auto& v = roads[rng.pick(road_names)];
        int lo = 1 << 30, hi = 0;
        for (const auto* s : v) lo = std::min(lo, s->from), hi = std::max(hi, s->to);
        const int n = lo > 1 && rng.chance(30) ? 1 + static_cast<int>(rng.below(static_cast<std::size_t>(lo - 1)))
                                               : hi + 1 + static_cast<int>(rng.below(60));
        add(prefix(rng.chance(50)) + v.front()->name + std::to_string(n) + "号", {nearest(v, n)}, "road_outside_ranges");
    }
    // No number: with the street named (the stretch in it), or on a single-stretch road; a few
    // multi-stretch roads with nothing else are inherently ambiguous and labelled with a random
    // stretch.
    for (int k = 0; k < 30; ++k) {
        const auto& v = roads[rng.pick(road_names)];
        const auto* s = rng.pick(v);
        std::string a = prefix(false);
        if (k % 3 != 2 && v.size() > 1) a += street_name[s->street_code];
        a += s->name + (rng.chance(50) ? "沿线" : "") + rng.pick(complaint);
        add(a, {s}, "road_without_number");
    }
    // Intersections of roads whose stretches come within 600 m: labelled by the closest pair of
    // stretches (geometry computed here); either entry's street and community is right.
    struct Pair {
        const Gazetteer::Entry *a, *b;
    };
    std::vector<Pair> crossings;
    for (std::size_t i = 0; i < road_names.size(); ++i)
        for (std::size_t j = i + 1; j < road_names.size(); ++j) {
            Pair best{nullptr, nullptr};
            double bd = 1e18;
            for (const auto* x : roads[road_names[i]])
                for (const auto* y : roads[road_names[j]])
                    if (const double d = metres(x->point, y->point); d < bd) bd = d, best = {x, y};
            if (bd < 600) crossings.push_back(best);
        }
    REQUIRE(crossings.size() >= 30);
    const std::vector<std::string> crossing_forms = {"{A}与{B}交叉口", "{A}{B}路口", "{A}和{B}交界处",
                                                     "{A}与{B}交叉口往东50米", "{A}、{B}十字路口附近", "{A}与{B}交汇处"};
    for (std::size_t k = 0; k < crossings.size(); ++k) {
        const Pair& p = crossings[k];
        const bool swap = rng.chance(50);
        std::string form = rng.pick(crossing_forms);
        auto put = [&](const std::string& key, const std::string& v) { form.replace(form.find(key), key.size(), v); };
        put("{A}", swap ? p.b->name : p.a->name);
        put("{B}", swap ? p.a->name : p.b->name);
        add(prefix(false) + form + tail(), {p.a, p.b}, "intersection");
    }
    // Outside the district or no anchor: must not match.
    const std::vector<std::string> outside = {"玄武区", "鼓楼区", "建邺区", "雨花台区", "栖霞区", "江宁区", "南京市玄武区", "南京市鼓楼区"};
    const std::vector<std::string> elsewhere = {"北京东路", "新模范马路", "江东中路", "汉中路", "珠江路", "湖南路", "中央路"};
    for (int k = 0; k < 24; ++k) {
        const int n = 1 + static_cast<int>(rng.below(200));
        switch (k % 3) {
            case 0: add(rng.pick(outside) + rng.pick(road_names) + std::to_string(n) + "号", {}, "outside"); break;
            case 1: {
                const auto& e = entries[rng.below(entries.size())];
                add("南京市" + rng.pick(outside) + e.name + "附近", {}, "outside");
                break;
            }
            default: add(rng.pick(elsewhere) + std::to_string(n) + "号" + rng.pick(complaint), {}, "no_anchor"); break;
        }
    }
    return set;
}

std::string joined(const std::set<std::string>& s) {
    if (s.empty()) return "-";
    std::string out;
    for (const auto& x : s) out += (out.empty() ? "" : "|") + x;
    return out;
}

std::string tsv_field(const std::string& s) {
    std::string out;
    for (char c : s) out += c == '\n' ? std::string("\\n") : c == '\t' ? std::string("\\t") : std::string(1, c);
    return out;
}

TEST_CASE("gazetteer: labelled addresses in the 12345 and enforcement styles", "[unit]") {
    const std::vector<Labelled> set = labelled_set();
    REQUIRE(set.size() >= 200);

    // Keep the set reviewable: tests/host/geo/addresses.tsv (rewritten only when it changed).
    std::string tsv = "# address\texpected_street\texpected_community   (generated by test_gazetteer.cpp, seed 20260309; "
                      "'|' separates accepted alternatives, '-' means no match expected, \\n is a line break)\n";
    for (const auto& l : set) tsv += tsv_field(l.address) + "\t" + joined(l.streets) + "\t" + joined(l.communities) + "\n";
    const fs::path file = fs::path(CASEHUB_SOURCE_DIR) / "tests" / "host" / "geo" / "addresses.tsv";
    if (slurp(file) != tsv) {
        std::ofstream(file, std::ios::binary) << tsv;
        WARN("rewrote " << file.string());
    }

    std::map<std::string, std::pair<int, int>> by_kind;  // kind -> (street ok, total)
    int street_ok = 0, community_ok = 0, shown = 0;
    for (const auto& l : set) {
        const GeocodeResult r = gazetteer().geocode(l.address);
        const bool s_ok = l.streets.empty() ? !r.matched : (r.matched && l.streets.count(r.street_code) > 0);
        const bool c_ok = l.communities.empty() ? !r.matched : (r.matched && l.communities.count(r.community_code) > 0);
        street_ok += s_ok;
        community_ok += c_ok;
        by_kind[l.kind].first += s_ok;
        by_kind[l.kind].second += 1;
        if ((!s_ok || !c_ok) && shown++ < 12)
            std::printf("  miss%s: %s -> %s/%s (expected %s/%s)\n", s_ok ? " (community)" : "", tsv_field(l.address).c_str(),
                        r.street_code.c_str(), r.community_code.c_str(), joined(l.streets).c_str(), joined(l.communities).c_str());
    }
    const double n = static_cast<double>(set.size());
    const double street_acc = 100.0 * street_ok / n, community_acc = 100.0 * community_ok / n;
    std::printf("gazetteer labelled set: %zu addresses, street accuracy %.1f %% (%d), community accuracy %.1f %% (%d)\n",
                set.size(), street_acc, street_ok, community_acc, community_ok);
    for (const auto& [kind, v] : by_kind) std::printf("  %-20s street %d/%d\n", kind.c_str(), v.first, v.second);
    CHECK(street_acc >= 90.0);
    CHECK(community_acc >= 75.0);
}

TEST_CASE("gazetteer: geocodes per second (printed, not asserted)", "[unit]") {
    const std::vector<Labelled> set = labelled_set();
    const Gazetteer& g = gazetteer();
    std::size_t matched = 0, count = 0;
    const auto t0 = std::chrono::steady_clock::now();
    for (int pass = 0; pass < 50; ++pass)
        for (const auto& l : set) {
            matched += g.geocode(l.address).matched;
            ++count;
        }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("gazetteer: %zu geocodes in %.3f s = %.0f geocodes/s (one core, with explanations)\n", count, secs,
                static_cast<double>(count) / secs);
    CHECK(matched > 0);
}

}  // namespace
