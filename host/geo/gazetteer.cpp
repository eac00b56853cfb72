#include "geo/gazetteer.hpp"

#include <casehub/sdk/utf8.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>

namespace casehub::host::geo {
namespace {

using json = nlohmann::json;

// ---- UTF-8 ---------------------------------------------------------------------------------

// The code point at s[i] and its length in bytes; an invalid byte is returned as itself.
std::uint32_t decode(std::string_view s, std::size_t i, std::size_t* len) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    auto cont = [&](std::size_t k) {
        return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    };
    auto at = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
    if (b0 < 0x80) {
        *len = 1;
        return b0;
    }
    if ((b0 & 0xE0) == 0xC0 && cont(1)) {
        *len = 2;
        return ((b0 & 0x1Fu) << 6) | at(1);
    }
    if ((b0 & 0xF0) == 0xE0 && cont(1) && cont(2)) {
        *len = 3;
        return ((b0 & 0x0Fu) << 12) | (at(1) << 6) | at(2);
    }
    if ((b0 & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
        *len = 4;
        return ((b0 & 0x07u) << 18) | (at(1) << 12) | (at(2) << 6) | at(3);
    }
    *len = 1;
    return b0;
}

std::uint32_t first_code_point(std::string_view s) {
    std::size_t len = 0;
    return s.empty() ? 0 : decode(s, 0, &len);
}

void append_utf8(std::string& out, std::uint32_t cp) { sdk::utf8::append(out, static_cast<char32_t>(cp)); }

// Full-width ASCII to ASCII, dashes to '-', whitespace dropped; segments end at , ; 。 and line
// breaks (empty segments are dropped).
std::vector<std::string> normalize(std::string_view in) {
    std::vector<std::string> segments;
    std::string cur;
    auto end_segment = [&] {
        if (!cur.empty()) segments.push_back(std::move(cur));
        cur.clear();
    };
    for (std::size_t i = 0; i < in.size();) {
        std::size_t len = 0;
        std::uint32_t cp = decode(in, i, &len);
        i += len;
        if (cp >= 0xFF01 && cp <= 0xFF5E) cp -= 0xFEE0;  // full-width ASCII
        switch (cp) {
            case ' ': case '\t': case '\v': case '\f': case 0xA0: case 0x3000: case 0xFEFF:
                continue;
            case '\n': case '\r': case ',': case ';': case 0x3002 /* 。 */:
                end_segment();
                continue;
            case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014: case 0x2212:
                cp = '-';
                break;
            default:
                break;
        }
        append_utf8(cur, cp);
    }
    end_segment();
    return segments;
}

bool starts_with_at(std::string_view s, std::size_t pos, std::string_view p) {
    return pos <= s.size() && s.substr(pos).starts_with(p);
}

// ---- vocabulary ----------------------------------------------------------------------------

// Naming any of these puts the address outside 秦淮区 (Nanjing's other districts, the former
// 下关区 now in 鼓楼区, and nearby cities and provinces). 白下区 merged into 秦淮区 in 2013 and is
// a prefix of ours.
constexpr std::string_view kOutside[] = {
    "玄武区", "鼓楼区", "建邺区", "雨花台区", "栖霞区", "江宁区", "浦口区", "六合区", "溧水区",
    "高淳区", "下关区", "江北新区", "无锡市", "徐州市", "常州市", "苏州市", "南通市", "连云港市",
    "淮安市", "盐城市", "扬州市", "镇江市", "泰州市", "宿迁市", "马鞍山市", "滁州市", "上海市",
    "北京市", "杭州市", "合肥市", "浙江省", "安徽省"};

// Stripped administrative prefixes (the longest known surface wins, so 南京市第一医院 and 秦淮河
// are not cut).
constexpr std::string_view kPrefixes[] = {"中国", "江苏省", "江苏", "南京市", "南京", "秦淮区",
                                          "秦淮", "白下区"};

// Relative phrases: the anchor is kept, precision + 50. Distances ("50米") are detected apart.
constexpr std::string_view kRelative[] = {
    "斜对面", "对面", "对过", "附近", "周边", "周围", "一带", "旁边", "边上", "隔壁", "旁",
    "东侧", "西侧", "南侧", "北侧", "东边", "西边", "南边", "北边", "东面", "西面", "南面",
    "北面", "东首", "西首", "以东", "以西", "以南", "以北", "往东", "往西", "往南", "往北",
    "向东", "向西", "向南", "向北", "朝东", "朝西", "朝南", "朝北", "东北角", "东南角",
    "西北角", "西南角", "门口", "门前", "后面", "后侧", "背后", "靠近", "临近", "沿线"};

// Between the two roads of an intersection (after normalisation).
constexpr std::string_view kConnectors[] = {"与", "和", "及", "跟", "同", "/", "、", "&", "x",
                                            "X", "×", "交"};
// After the second road of an intersection.
constexpr std::string_view kCrossing[] = {"交叉路口", "交叉口", "十字路口", "丁字路口",
                                          "十字口", "路口", "交界处", "交界", "交汇处", "交汇",
                                          "交口", "口"};

constexpr std::string_view kPlaceTypes[] = {"landmark", "compound", "school", "hospital",
                                            "market", "park", "road"};

int chinese_digit(std::uint32_t cp) {
    switch (cp) {
        case 0x96F6: case 0x3007: return 0;  // 零 〇
        case 0x4E00: return 1;               // 一
        case 0x4E8C: case 0x4E24: return 2;  // 二 两
        case 0x4E09: return 3;               // 三
        case 0x56DB: return 4;               // 四
        case 0x4E94: return 5;               // 五
        case 0x516D: return 6;               // 六
        case 0x4E03: return 7;               // 七
        case 0x516B: return 8;               // 八
        case 0x4E5D: return 9;               // 九
        default: return -1;
    }
}

int chinese_unit(std::uint32_t cp) {
    switch (cp) {
        case 0x5341: return 10;    // 十
        case 0x767E: return 100;   // 百
        case 0x5343: return 1000;  // 千
        default: return 0;
    }
}

// A number at s[pos]: ASCII digits, or Chinese numerals (一百二十八, 十二, or digit by digit
// 一二八). Sets *end past it.
std::optional<int> parse_number(std::string_view s, std::size_t pos, std::size_t* end) {
    std::size_t i = pos;
    if (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        long v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            if (v < 10'000'000) v = v * 10 + (s[i] - '0');
            ++i;
        }
        *end = i;
        return static_cast<int>(v);
    }
    long total = 0, pending = 0, concat = 0;
    bool any = false, units = false;
    int chars = 0;
    while (i < s.size() && chars < 12) {
        std::size_t len = 0;
        const std::uint32_t cp = decode(s, i, &len);
        const int d = chinese_digit(cp);
        const int u = chinese_unit(cp);
        if (d >= 0) {
            pending = d;
            concat = concat * 10 + d;
        } else if (u > 0) {
            total += (pending == 0 && !any ? 1 : pending) * u;
            pending = 0;
            units = true;
        } else {
            break;
        }
        any = true;
        ++chars;
        i += len;
    }
    if (!any) return std::nullopt;
    *end = i;
    return static_cast<int>(units ? total + pending : concat);
}

// Local planar distance in metres (fine at district scale).
double distance_m(const LonLat& a, const LonLat& b) {
    constexpr double kPi = 3.14159265358979323846;
    const double k = std::cos((a.lat + b.lat) / 2.0 * kPi / 180.0);
    const double dx = (a.lon - b.lon) * 111320.0 * k;
    const double dy = (a.lat - b.lat) * 110574.0;
    return std::sqrt(dx * dx + dy * dy);
}

std::string range_text(int from, int to) { return std::to_string(from) + "-" + std::to_string(to); }

// Distance of a house number to a range (0 inside).
int range_distance(int n, int from, int to) { return n < from ? from - n : (n > to ? n - to : 0); }

Result<json> read_json(const std::filesystem::path& file, const char* what) {
    std::ifstream in(file);
    if (!in) return make_error(file.string() + ": cannot open the " + what);
    json j = json::parse(in, nullptr, false);
    if (j.is_discarded()) return make_error(file.string() + ": the " + std::string(what) + " is not valid JSON");
    return j;
}

std::string str_field(const json& o, const char* key) {
    auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

// ---- load ----------------------------------------------------------------------------------

Result<Gazetteer> Gazetteer::load(const std::filesystem::path& gazetteer_json,
                                  const std::filesystem::path& divisions_json) {
    Gazetteer g;

    // Divisions: the 12 streets and the communities the entries must name.
    auto dj = read_json(divisions_json, "division table");
    if (!dj) return dj.error();
    const std::string dfile = divisions_json.string();
    if (!dj->is_object() || !dj->contains("streets") || !(*dj)["streets"].is_array())
        return make_error(dfile + ": not a division table (no \"streets\" array)");
    std::unordered_map<std::string, std::string> community_street;  // community code -> street
    for (std::size_t i = 0; i < (*dj)["streets"].size(); ++i) {
        const json& s = (*dj)["streets"][i];
        Street st{str_field(s, "code"), str_field(s, "name"), {}, str_field(s, "name_en")};
        if (st.code.size() != 9 || st.name.empty())
            return make_error(dfile + ": streets[" + std::to_string(i) + "] needs a 9-digit code and a name");
        st.short_name = st.name;
        if (st.short_name.ends_with("街道")) st.short_name.resize(st.short_name.size() - std::string_view("街道").size());
        g.streets_.push_back(std::move(st));
    }
    if (g.streets_.empty()) return make_error(dfile + ": no streets");
    if (dj->contains("communities") && (*dj)["communities"].is_array()) {
        for (std::size_t i = 0; i < (*dj)["communities"].size(); ++i) {
            const json& c = (*dj)["communities"][i];
            const std::string code = str_field(c, "code"), street = str_field(c, "street_code");
            if (code.size() != 12 || street.size() != 9)
                return make_error(dfile + ": communities[" + std::to_string(i) + "] needs a 12-digit code and a street_code");
            community_street[code] = street;
        }
    }
    if (community_street.empty()) return make_error(dfile + ": no communities");

    // Gazetteer entries.
    auto gj = read_json(gazetteer_json, "gazetteer");
    if (!gj) return gj.error();
    const std::string gfile = gazetteer_json.string();
    const json* list = &*gj;
    if (gj->is_object()) {
        for (const char* key : {"entries", "places"})
            if (gj->contains(key)) list = &(*gj)[key];
    }
    if (!list->is_array()) return make_error(gfile + ": not a gazetteer (expected an array of places)");
    std::unordered_map<std::string, int> road_index;
    for (std::size_t i = 0; i < list->size(); ++i) {
        const json& o = (*list)[i];
        Entry e;
        e.name = o.is_object() ? str_field(o, "name") : std::string();
        const std::string where = gfile + ": entry " + std::to_string(i) + (e.name.empty() ? "" : " (" + e.name + ")");
        if (!o.is_object() || e.name.empty()) return make_error(where + ": needs a name");
        e.type = str_field(o, "type");
        if (std::find(std::begin(kPlaceTypes), std::end(kPlaceTypes), e.type) == std::end(kPlaceTypes))
            return make_error(where + ": unknown type \"" + e.type + "\" (landmark, compound, school, hospital, market, park, road)");
        if (!o.contains("lon") || !o["lon"].is_number() || !o.contains("lat") || !o["lat"].is_number())
            return make_error(where + ": needs numeric lon and lat");
        e.point = {o["lon"].get<double>(), o["lat"].get<double>()};
        if (!(e.point.lon > 73 && e.point.lon < 136 && e.point.lat > 3 && e.point.lat < 54))
            return make_error(where + ": lon/lat outside China (WGS-84 degrees, longitude first)");
        e.street_code = str_field(o, "street_code");
        e.community_code = str_field(o, "community_code");
        if (std::none_of(g.streets_.begin(), g.streets_.end(), [&](const Street& s) { return s.code == e.street_code; }))
            return make_error(where + ": street_code \"" + e.street_code + "\" is not a street of " + dfile);
        auto cs = community_street.find(e.community_code);
        if (cs == community_street.end())
            return make_error(where + ": community_code \"" + e.community_code + "\" is not a community of " + dfile);
        if (cs->second != e.street_code)
            return make_error(where + ": community " + e.community_code + " belongs to street " + cs->second + ", not " + e.street_code);
        if (o.contains("aliases")) {
            if (!o["aliases"].is_array()) return make_error(where + ": aliases must be an array of strings");
            for (const json& a : o["aliases"]) {
                if (!a.is_string() || a.get<std::string>().empty()) return make_error(where + ": aliases must be non-empty strings");
                e.aliases.push_back(a.get<std::string>());
            }
        }
        if (o.contains("house_numbers")) {
            const json& h = o["house_numbers"];
            if (!h.is_object() || !h.contains("from") || !h.contains("to") || !h["from"].is_number_integer() ||
                !h["to"].is_number_integer() || h["from"].get<int>() > h["to"].get<int>() || h["from"].get<int>() < 0)
                return make_error(where + ": house_numbers must be {from, to} integers with 0 <= from <= to");
            if (e.type != "road") return make_error(where + ": house_numbers on a " + e.type + " (roads only)");
            e.has_range = true;
            e.from = h["from"].get<int>();
            e.to = h["to"].get<int>();
        }
        const int index = static_cast<int>(g.entries_.size());
        if (e.type == "road") {
            auto [it, fresh] = road_index.emplace(e.name, static_cast<int>(g.roads_.size()));
            if (fresh) g.roads_.push_back(Road{e.name, {}});
            g.roads_[static_cast<std::size_t>(it->second)].stretches.push_back(index);
        }
        g.entries_.push_back(std::move(e));
    }
    if (g.entries_.empty()) return make_error(gfile + ": no entries");

    // Surfaces. Collisions between administrative words, names and aliases of different places
    // are configuration errors; a derived alias (a name without its 秦淮区/南京市 prefix) that
    // collides is dropped.
    std::unordered_map<std::string, int> seen;  // text -> surface index
    auto owner = [&](const Surface& s) -> std::string {
        switch (s.kind) {
            case Kind::place: return "entry " + std::to_string(s.target) + " (" + g.entries_[static_cast<std::size_t>(s.target)].name + ")";
            case Kind::road: return "road " + g.roads_[static_cast<std::size_t>(s.target)].name;
            case Kind::street: return "street " + g.streets_[static_cast<std::size_t>(s.target)].name;
            case Kind::prefix: return "the prefix " + s.text;
        }
        return {};
    };
    auto add = [&](std::string text, Kind kind, int target, bool alias, bool derived) -> Result<void> {
        Surface s{std::move(text), kind, target, alias};
        auto it = seen.find(s.text);
        if (it != seen.end()) {
            const Surface& old = g.surfaces_[static_cast<std::size_t>(it->second)];
            if (old.kind == kind && old.target == target) return {};
            if (derived) return {};
            return make_error(gfile + ": \"" + s.text + "\" of " + owner(s) + " is already used by " + owner(old));
        }
        seen.emplace(s.text, static_cast<int>(g.surfaces_.size()));
        g.surfaces_.push_back(std::move(s));
        return {};
    };
    for (std::string_view p : kPrefixes) (void)add(std::string(p), Kind::prefix, -1, false, false);
    for (std::size_t i = 0; i < g.streets_.size(); ++i) {
        for (const char* suffix : {"", "办", "办事处"})
            if (auto r = add(g.streets_[i].name + suffix, Kind::street, static_cast<int>(i), false, false); !r) return r.error();
    }
    auto entry_surface = [&](std::size_t i, const std::string& text, bool alias, bool derived) {
        const Entry& e = g.entries_[i];
        if (e.type == "road") return add(text, Kind::road, road_index.at(e.name), alias, derived);
        return add(text, Kind::place, static_cast<int>(i), alias, derived);
    };
    for (std::size_t i = 0; i < g.entries_.size(); ++i)
        if (auto r = entry_surface(i, g.entries_[i].name, false, false); !r) return r.error();
    for (std::size_t i = 0; i < g.entries_.size(); ++i)
        for (const std::string& a : g.entries_[i].aliases)
            if (auto r = entry_surface(i, a, true, false); !r) return r.error();
    for (std::size_t i = 0; i < g.entries_.size(); ++i) {
        std::vector<std::string> forms{g.entries_[i].name};
        forms.insert(forms.end(), g.entries_[i].aliases.begin(), g.entries_[i].aliases.end());
        for (const std::string& f : forms)
            for (std::string_view p : {"秦淮区", "南京市"})
                if (f.starts_with(p) && f.size() >= p.size() + 6)  // at least two characters left
                    (void)entry_surface(i, f.substr(p.size()), true, true);
    }
    for (std::size_t i = 0; i < g.surfaces_.size(); ++i)
        g.by_first_[first_code_point(g.surfaces_[i].text)].push_back(static_cast<int>(i));
    for (auto& [cp, v] : g.by_first_)
        std::sort(v.begin(), v.end(), [&](int a, int b) {
            const auto& sa = g.surfaces_[static_cast<std::size_t>(a)].text;
            const auto& sb = g.surfaces_[static_cast<std::size_t>(b)].text;
            return sa.size() != sb.size() ? sa.size() > sb.size() : a < b;
        });
    return g;
}

// ---- geocode -------------------------------------------------------------------------------

namespace {

struct Token {
    std::size_t pos = 0, end = 0;
    int surface = -1;
};

struct Candidate {
    std::size_t segment = 0, pos = 0, end = 0;
    int precision = 0;
    int surface = -1;            // place or road (first road for an intersection)
    int surface_b = -1;          // second road of an intersection
    std::optional<int> number;   // house number after a road
    std::string rule;
};

}  // namespace

GeocodeResult Gazetteer::geocode(std::string_view address) const {
    GeocodeResult r;
    std::string& ex = r.explanation;
    const std::vector<std::string> segments = normalize(address);
    if (segments.empty()) {
        ex = "empty address: not matched";
        return r;
    }
    std::string shown;
    for (const auto& s : segments) shown += (shown.empty() ? "" : ",") + s;
    ex = "normalized: " + shown + "\n";

    for (const auto& s : segments)
        for (std::string_view o : kOutside)
            if (s.find(o) != std::string::npos) {
                ex += "names " + std::string(o) + ", outside 秦淮区: not matched (no guessing across the district boundary)";
                return r;
            }

    // Tokenise: the longest known surface at each position.
    std::vector<std::vector<Token>> tokens(segments.size());
    std::string stripped;
    std::vector<int> street_hints;
    for (std::size_t si = 0; si < segments.size(); ++si) {
        const std::string& s = segments[si];
        for (std::size_t i = 0; i < s.size();) {
            std::size_t len = 0;
            const std::uint32_t cp = decode(s, i, &len);
            int found = -1;
            if (auto it = by_first_.find(cp); it != by_first_.end()) {
                for (int k : it->second)
                    if (starts_with_at(s, i, surfaces_[static_cast<std::size_t>(k)].text)) {
                        found = k;
                        break;
                    }
            }
            if (found < 0) {
                i += len;
                continue;
            }
            const Surface& sf = surfaces_[static_cast<std::size_t>(found)];
            if (sf.kind == Kind::prefix || sf.kind == Kind::street) {
                // An administrative word gives way to a place that starts inside it and runs
                // past its end (南京市一医院: 南京 + 市一医院).
                std::size_t cut = 0;
                for (std::size_t j = i + len; j < i + sf.text.size() && !cut;) {
                    std::size_t jl = 0;
                    const std::uint32_t jc = decode(s, j, &jl);
                    if (auto it = by_first_.find(jc); it != by_first_.end())
                        for (int k : it->second) {
                            const Surface& o = surfaces_[static_cast<std::size_t>(k)];
                            if ((o.kind == Kind::place || o.kind == Kind::road) && j + o.text.size() > i + sf.text.size() &&
                                starts_with_at(s, j, o.text)) {
                                cut = j;
                                break;
                            }
                        }
                    j += jl;
                }
                if (cut) {
                    stripped += (stripped.empty() ? "" : " ") + s.substr(i, cut - i);
                    i = cut;
                    continue;
                }
            }
            if (sf.kind == Kind::prefix) {
                stripped += (stripped.empty() ? "" : " ") + sf.text;
            } else if (sf.kind == Kind::street) {
                stripped += (stripped.empty() ? "" : " ") + sf.text;
                if (std::find(street_hints.begin(), street_hints.end(), sf.target) == street_hints.end())
                    street_hints.push_back(sf.target);
            }
            tokens[si].push_back({i, i + sf.text.size(), found});
            i += sf.text.size();
        }
    }
    if (!stripped.empty()) ex += "stripped: " + stripped + "\n";
    for (int h : street_hints) {
        const Street& st = streets_[static_cast<std::size_t>(h)];
        ex += "the text names street " + st.name + " (" + st.code + ")\n";
    }

    // Candidates, segment by segment; consumed[] marks what is not residual text.
    std::vector<Candidate> cands;
    std::vector<std::vector<bool>> consumed(segments.size());
    for (std::size_t si = 0; si < segments.size(); ++si) {
        const std::string& s = segments[si];
        consumed[si].assign(s.size(), false);
        auto consume = [&](std::size_t a, std::size_t b) {
            for (std::size_t k = a; k < b && k < s.size(); ++k) consumed[si][k] = true;
        };
        const auto& ts = tokens[si];
        for (std::size_t ti = 0; ti < ts.size(); ++ti) {
            const Token& t = ts[ti];
            const Surface& sf = surfaces_[static_cast<std::size_t>(t.surface)];
            consume(t.pos, t.end);
            if (sf.kind == Kind::place) {
                const Entry& e = entries_[static_cast<std::size_t>(sf.target)];
                cands.push_back({si, t.pos, t.end, 50, t.surface, -1, std::nullopt, e.type});
                continue;
            }
            if (sf.kind != Kind::road) continue;
            // Intersection: the next token is another road, joined by a connector or followed by
            // a crossing word.
            if (ti + 1 < ts.size()) {
                const Token& u = ts[ti + 1];
                const Surface& sg = surfaces_[static_cast<std::size_t>(u.surface)];
                if (sg.kind == Kind::road && sg.target != sf.target) {
                    const std::string_view gap = std::string_view(s).substr(t.end, u.pos - t.end);
                    const bool connector = !gap.empty() && std::find(std::begin(kConnectors), std::end(kConnectors), gap) != std::end(kConnectors);
                    std::size_t cross_end = u.end;
                    for (std::string_view c : kCrossing)
                        if (starts_with_at(s, u.end, c)) {
                            cross_end = u.end + c.size();
                            break;
                        }
                    if ((gap.empty() || connector) && (connector || cross_end > u.end)) {
                        consume(t.pos, cross_end);
                        cands.push_back({si, t.pos, cross_end, 150, t.surface, u.surface, std::nullopt, "intersection"});
                        ++ti;
                        continue;
                    }
                }
            }
            // House number right after the road: 12号, 100-2号, 一百二十八号; a bare number at
            // the end of the segment also counts, a distance (50米) does not.
            std::size_t nend = 0;
            std::optional<int> number = parse_number(s, t.end, &nend);
            if (number) {
                std::size_t k = nend;
                if (k < s.size() && (s[k] == '-' || starts_with_at(s, k, "之"))) {
                    std::size_t sub_end = 0;
                    const std::size_t sub = k + (s[k] == '-' ? 1 : std::string_view("之").size());
                    if (parse_number(s, sub, &sub_end)) k = sub_end;
                }
                if (starts_with_at(s, k, "号") || starts_with_at(s, k, "號")) {
                    nend = k + std::string_view("号").size();
                } else if (k == s.size()) {
                    nend = k;
                } else {
                    number.reset();
                }
            }
            if (number) consume(t.end, nend);
            Candidate c{si, t.pos, number ? nend : t.end, 300, t.surface, -1, number, "road_without_number"};
            if (number) {
                const Road& road = roads_[static_cast<std::size_t>(sf.target)];
                const bool inside = std::any_of(road.stretches.begin(), road.stretches.end(), [&](int e) {
                    const Entry& x = entries_[static_cast<std::size_t>(e)];
                    return x.has_range && *number >= x.from && *number <= x.to;
                });
                c.precision = inside ? 100 : 300;
                c.rule = inside ? "road_number_in_range" : "road_number_nearest_range";
            }
            cands.push_back(std::move(c));
        }
    }

    auto surface_name = [&](int k) -> const std::string& { return surfaces_[static_cast<std::size_t>(k)].text; };
    auto describe = [&](const Candidate& c) {
        std::string d = surface_name(c.surface);
        if (c.surface_b >= 0) d += "+" + surface_name(c.surface_b);
        if (c.number) d += " " + std::to_string(*c.number) + "号";
        return d + " (" + c.rule + ", " + std::to_string(c.precision) + " m)";
    };

    if (cands.empty()) {
        ex += "no gazetteer entry recognised: not matched";
        return r;
    }
    std::string listed;
    for (const auto& c : cands) listed += (listed.empty() ? "" : "; ") + describe(c);
    ex += "candidates: " + listed + "\n";

    // The first segment with a candidate decides: smallest precision, then longer, then earlier.
    const std::size_t seg = cands.front().segment;
    const Candidate* best = nullptr;
    for (const auto& c : cands) {
        if (c.segment != seg) continue;
        if (!best || c.precision < best->precision ||
            (c.precision == best->precision && (c.end - c.pos) > (best->end - best->pos)))
            best = &c;
    }
    const Candidate& b = *best;
    const Surface& sf = surfaces_[static_cast<std::size_t>(b.surface)];
    const auto in_seg = std::count_if(cands.begin(), cands.end(), [&](const Candidate& c) { return c.segment == seg; });
    std::string why = "chose " + describe(b) + ": ";
    if (cands.size() == 1) {
        why += "the only candidate";
    } else {
        why += in_seg == 1 ? "the only candidate" : "smallest precision, then the longest surface, then the earliest";
        if (static_cast<std::size_t>(in_seg) < cands.size())
            why += " in the first segment with an anchor (later segments are context only)";
    }
    ex += why + "\n";

    // Resolve the entry (road stretch, intersection point).
    int chosen = -1;
    LonLat point{};
    if (sf.kind == Kind::place) {
        chosen = sf.target;
        point = entries_[static_cast<std::size_t>(chosen)].point;
        r.matched_type = entries_[static_cast<std::size_t>(chosen)].type;
        r.rule = r.matched_type;
        if (sf.alias) ex += "\"" + sf.text + "\" is an alias of " + entries_[static_cast<std::size_t>(chosen)].name + "\n";
    } else if (b.surface_b >= 0) {
        const Road& ra = roads_[static_cast<std::size_t>(sf.target)];
        const Road& rb = roads_[static_cast<std::size_t>(surfaces_[static_cast<std::size_t>(b.surface_b)].target)];
        double best_d = std::numeric_limits<double>::infinity();
        int ea = -1, eb = -1;
        for (int x : ra.stretches)
            for (int y : rb.stretches) {
                const double d = distance_m(entries_[static_cast<std::size_t>(x)].point, entries_[static_cast<std::size_t>(y)].point);
                if (d < best_d) {
                    best_d = d;
                    ea = x;
                    eb = y;
                }
            }
        const Entry& a = entries_[static_cast<std::size_t>(ea)];
        const Entry& c = entries_[static_cast<std::size_t>(eb)];
        chosen = ea;
        point = {(a.point.lon + c.point.lon) / 2.0, (a.point.lat + c.point.lat) / 2.0};
        r.matched_type = "road";
        r.rule = "intersection";
        ex += "intersection: closest stretches " + a.name + " " + range_text(a.from, a.to) + " (" + a.community_code + ") and " +
              c.name + " " + range_text(c.from, c.to) + " (" + c.community_code + "), " +
              std::to_string(static_cast<long>(std::lround(best_d))) + " m apart; point = their midpoint, street and community of " +
              a.name + "'s stretch\n";
        r.matched_name = a.name + "与" + c.name;
    } else {
        const Road& road = roads_[static_cast<std::size_t>(sf.target)];
        std::string ranges;
        for (int e : road.stretches) {
            const Entry& x = entries_[static_cast<std::size_t>(e)];
            ranges += (ranges.empty() ? "" : ", ") + (x.has_range ? range_text(x.from, x.to) : std::string("no range")) + " (" + x.street_code + ")";
        }
        ex += road.name + ": " + std::to_string(road.stretches.size()) + " stretch(es): " + ranges + "\n";
        if (b.number) {
            int best_dist = std::numeric_limits<int>::max();
            for (int e : road.stretches) {
                const Entry& x = entries_[static_cast<std::size_t>(e)];
                if (!x.has_range) continue;
                const int d = range_distance(*b.number, x.from, x.to);
                if (d < best_dist) {
                    best_dist = d;
                    chosen = e;
                }
            }
            if (chosen >= 0) {
                const Entry& x = entries_[static_cast<std::size_t>(chosen)];
                ex += std::to_string(*b.number) + (best_dist == 0 ? " lies in " : " is outside every range; nearest ") + range_text(x.from, x.to) + "\n";
            }
        }
        if (chosen < 0) {
            // No usable number: the street named in the text, else another anchor, else the
            // longest stretch.
            for (int h : street_hints)
                for (int e : road.stretches)
                    if (chosen < 0 && entries_[static_cast<std::size_t>(e)].street_code == streets_[static_cast<std::size_t>(h)].code) {
                        chosen = e;
                        ex += "no usable number: the stretch in " + streets_[static_cast<std::size_t>(h)].name + " named in the text\n";
                    }
            if (chosen < 0 && road.stretches.size() > 1) {
                for (const auto& c : cands) {
                    const Surface& o = surfaces_[static_cast<std::size_t>(c.surface)];
                    if (o.kind != Kind::place) continue;
                    const Entry& anchor = entries_[static_cast<std::size_t>(o.target)];
                    double best_d = std::numeric_limits<double>::infinity();
                    for (int e : road.stretches) {
                        const double d = distance_m(entries_[static_cast<std::size_t>(e)].point, anchor.point);
                        if (d < best_d) {
                            best_d = d;
                            chosen = e;
                        }
                    }
                    ex += "no usable number: the stretch nearest " + anchor.name + " also named in the text\n";
                    break;
                }
            }
            if (chosen < 0) {
                int width = -1;
                for (int e : road.stretches) {
                    const Entry& x = entries_[static_cast<std::size_t>(e)];
                    const int w = x.has_range ? x.to - x.from : 0;
                    if (w > width) {
                        width = w;
                        chosen = e;
                    }
                }
                ex += road.stretches.size() > 1 ? "no usable number: the longest stretch\n" : "no usable number: its only stretch\n";
            }
        }
        point = entries_[static_cast<std::size_t>(chosen)].point;
        r.matched_type = "road";
        r.rule = b.rule;
    }
    const Entry& e = entries_[static_cast<std::size_t>(chosen)];
    if (r.matched_name.empty()) r.matched_name = e.name;
    r.street_code = e.street_code;
    r.community_code = e.community_code;
    r.point = point;
    r.precision_m = b.precision;

    // Relative phrases in the residual text of the anchor's segment.
    const std::string& s = segments[seg];
    std::string residual;
    residual.reserve(s.size());
    for (std::size_t k = 0; k < s.size(); ++k) residual += consumed[seg][k] ? '\x01' : s[k];
    std::string relative;
    for (std::string_view p : kRelative)
        if (residual.find(p) != std::string::npos) {
            relative = std::string(p);
            break;
        }
    if (relative.empty()) {
        // A distance: digits or Chinese numerals followed by 米 (or m).
        for (std::size_t k = 0; k < residual.size() && relative.empty();) {
            std::size_t end = 0;
            if (auto n = parse_number(residual, k, &end)) {
                std::size_t m = end;
                if (starts_with_at(residual, m, "米") || (m < residual.size() && residual[m] == 'm' && (m + 1 == residual.size() || !std::isalpha(static_cast<unsigned char>(residual[m + 1])))))
                    relative = residual.substr(k, m - k) + (residual[m] == 'm' ? "m" : "米");
                k = std::max(end, k + 1);
            } else {
                std::size_t len = 0;
                decode(residual, k, &len);
                k += len;
            }
        }
    }
    if (!relative.empty()) {
        r.precision_m += 50;
        r.rule += "+relative";
        ex += "relative phrase \"" + relative + "\" keeps the anchor: +50 m\n";
    }
    for (int h : street_hints)
        if (streets_[static_cast<std::size_t>(h)].code != r.street_code)
            ex += "note: the text names " + streets_[static_cast<std::size_t>(h)].name + " but the anchor lies in " + r.street_code + "\n";
    ex += "result: " + r.matched_name + " -> street " + r.street_code + ", community " + r.community_code + ", precision " +
          std::to_string(r.precision_m) + " m";
    r.matched = true;
    return r;
}

// ---- street names --------------------------------------------------------------------------

std::optional<std::string> Gazetteer::street_by_name(std::string_view name) const {
    std::string s;
    for (const auto& seg : normalize(name)) s += seg;
    if (s.empty()) return std::nullopt;
    for (std::string_view o : kOutside)
        if (s.find(o) != std::string::npos) return std::nullopt;
    for (bool again = true; again;) {
        again = false;
        for (std::string_view p : {"江苏省", "江苏", "南京市", "南京", "秦淮区"})
            if (s.starts_with(p) && s.size() > p.size()) {
                s.erase(0, p.size());
                again = true;
            }
    }
    std::string bare = s;
    for (std::string_view suffix : {"街道办事处", "街道办", "街道", "办事处", "办"})
        if (bare.ends_with(suffix) && bare.size() > suffix.size()) {
            bare.resize(bare.size() - suffix.size());
            break;
        }
    for (const Street& st : streets_) {
        if (bare == st.short_name || s == st.name) return st.code;
        if (!st.name_en.empty() && s.size() == st.name_en.size() &&
            std::equal(s.begin(), s.end(), st.name_en.begin(), [](char a, char c) {
                return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(c));
            }))
            return st.code;
    }
    // A longer text naming exactly one street in full.
    std::optional<std::string> found;
    for (const Street& st : streets_)
        if (s.find(st.name) != std::string::npos) {
            if (found && *found != st.code) return std::nullopt;
            found = st.code;
        }
    return found;
}

}  // namespace casehub::host::geo
