// 12345 work order (hotline12345-interface.md §3.3) → casehub.record/1 (case-model.md §2, §5).
//
// Pure functions, no I/O besides loading the category file: unit-tested without a hub.
//
//   Categories cats = Categories::load("config/qinhuai/categories.json");
//   for (std::string_view item : item_spans(body)) {
//       Mapped m = map_item(item, cats, now_ms);
//       if (m.fault) host.dead_letter(m.fault->reason, m.fault->detail, mask_native(item));
//       else host.emit({m.record}, cursor);
//   }
//
// Decisions (docs/adapters/hotline12345.md has the full table):
//   - A value outside the document's code lists (sqly, sqlx, jjcd, sfbm, clzt, myd, zblx) is a
//     dead letter (`bad_enum`, case-model §5.1), never guessed. A required key that is absent or
//     empty is `missing_field`; a key of the wrong JSON type `bad_type`; a time that is not the
//     document's `yyyy-MM-dd HH:mm:ss` (`gxsj` with `.SSS`) `bad_time`.
//   - `wtfl` not in categories.json (other branches: 教育, 医疗卫生 …) → `other.unclassified`
//     with the path kept; an empty path or one with an empty level is `missing_field`/`bad_type`.
//   - `jd`/`wd` empty, `"0"`, unreadable or 0 → no coordinates (never 0,0). `zblx` absent: BD09
//     when `ldsj` is before 2023-05-01, else GCJ02 (case-model §5.1).
//   - `times.closed_at` = `gxsj` when `clzt` is 已归档 (the document has no archive time).
//   - `glgdbh` → link duplicate_of (hotline12345) and tag `repeat`; `gljjdbh` → link
//     transferred_from (police).
#pragma once

#include <casehub/sdk/masking.hpp>
#include <casehub/sdk/plugin.hpp>
#include <casehub/sdk/record_check.hpp>
#include <casehub/sdk/rfc3339.hpp>
#include <casehub/sdk/sha256.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace casehub::hotline12345 {

using nlohmann::json;

// ---- category mapping (categories.json, mappings["hotline12345.wtfl"]) ---------------------

struct Category {
    std::string code;  // common code
    std::string name;  // native leaf name
};

class Categories {
public:
    static constexpr const char* kScheme = "hotline12345.wtfl";

    static Categories from_json(const json& doc, const std::string& where) {
        Categories c;
        if (!doc.is_object() || !doc.contains("mappings") || !doc["mappings"].is_object())
            throw sdk::ConfigError(where + ": no \"mappings\" object");
        const json& m = doc["mappings"];
        if (!m.contains(kScheme) || !m[kScheme].is_object() || !m[kScheme].contains("entries") ||
            !m[kScheme]["entries"].is_array())
            throw sdk::ConfigError(where + ": mappings has no \"" + kScheme + "\" entries");
        c.fallback_ = doc.value("fallback", std::string("other.unclassified"));
        for (const auto& e : m[kScheme]["entries"]) {
            if (!e.is_object() || !e.contains("native") || !e["native"].is_string() ||
                !e.contains("code") || !e["code"].is_string())
                throw sdk::ConfigError(where + ": an entry of " + kScheme + " lacks native or code");
            c.map_[e["native"].get<std::string>()] = {e["code"].get<std::string>(),
                                                     e.value("name", std::string())};
        }
        if (c.map_.empty()) throw sdk::ConfigError(where + ": " + kScheme + " has no entries");
        return c;
    }
    static Categories load(const std::string& path) {
        std::ifstream in(path);
        if (!in) throw sdk::ConfigError("categories_file " + path + ": cannot be read");
        json doc = json::parse(in, nullptr, false);
        if (doc.is_discarded()) throw sdk::ConfigError("categories_file " + path + ": not JSON");
        return from_json(doc, "categories_file " + path);
    }
    // nullptr when the path is not mapped.
    const Category* find(std::string_view native) const {
        auto it = map_.find(std::string(native));
        return it == map_.end() ? nullptr : &it->second;
    }
    const std::string& fallback() const { return fallback_; }
    std::size_t size() const { return map_.size(); }

private:
    std::map<std::string, Category> map_;
    std::string fallback_ = "other.unclassified";
};

// ---- exact item bytes: the elements of data.items in the response body ---------------------

namespace scan {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

inline void ws(std::string_view s, std::size_t& i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
}
inline void expect(std::string_view s, std::size_t& i, char c) {
    ws(s, i);
    if (i >= s.size() || s[i] != c)
        throw Error(std::string("expected '") + c + "' at byte " + std::to_string(i));
    ++i;
}
// A string starting at s[i] == '"'; returns its raw contents (escapes not decoded).
inline std::string_view string(std::string_view s, std::size_t& i) {
    ws(s, i);
    if (i >= s.size() || s[i] != '"') throw Error("expected a string at byte " + std::to_string(i));
    std::size_t b = ++i;
    while (i < s.size() && s[i] != '"') i += s[i] == '\\' ? 2 : 1;
    if (i >= s.size()) throw Error("unterminated string");
    return s.substr(b, i++ - b);
}
// Skips any JSON value; returns its span.
inline std::string_view value(std::string_view s, std::size_t& i, int depth = 0) {
    if (depth > 64) throw Error("nested too deeply");
    ws(s, i);
    if (i >= s.size()) throw Error("unexpected end of body");
    const std::size_t b = i;
    if (s[i] == '"') {
        string(s, i);
    } else if (s[i] == '{' || s[i] == '[') {
        const char close = s[i] == '{' ? '}' : ']';
        const bool obj = s[i] == '{';
        ++i;
        ws(s, i);
        if (i < s.size() && s[i] == close) {
            ++i;
        } else {
            for (;;) {
                if (obj) {
                    string(s, i);
                    expect(s, i, ':');
                }
                value(s, i, depth + 1);
                ws(s, i);
                if (i < s.size() && s[i] == ',') {
                    ++i;
                    continue;
                }
                expect(s, i, close);
                break;
            }
        }
    } else {
        while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' &&
               s[i] != '\n' && s[i] != '\r' && s[i] != '\t')
            ++i;
        if (i == b) throw Error("unexpected byte at " + std::to_string(i));
    }
    return s.substr(b, i - b);
}
// Calls f(key, span of value) for each member of the object at s[i].
template <class F>
void members(std::string_view s, std::size_t& i, F&& f) {
    expect(s, i, '{');
    ws(s, i);
    if (i < s.size() && s[i] == '}') {
        ++i;
        return;
    }
    for (;;) {
        std::string_view k = string(s, i);
        expect(s, i, ':');
        ws(s, i);
        std::size_t at = i;
        std::string_view v = value(s, i);
        f(k, v, at);
        ws(s, i);
        if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
        }
        expect(s, i, '}');
        return;
    }
}

}  // namespace scan

// The exact bytes of each element of `data.items`, in order (case-model §2.1: `raw_sha256` is
// the hash of the item's bytes from its `{` to its matching `}`). Throws scan::Error when the
// body is not the §2.1/§3 envelope.
inline std::vector<std::string_view> item_spans(std::string_view body) {
    std::vector<std::string_view> out;
    bool found = false;
    std::size_t i = 0;
    scan::members(body, i, [&](std::string_view k, std::string_view v, std::size_t) {
        if (k != "data" || v.empty() || v.front() != '{') return;
        std::size_t j = 0;
        scan::members(v, j, [&](std::string_view k2, std::string_view items, std::size_t) {
            if (k2 != "items") return;
            if (items.empty() || items.front() != '[') throw scan::Error("data.items is not an array");
            found = true;
            std::size_t p = 1;
            scan::ws(items, p);
            if (p < items.size() && items[p] == ']') return;
            for (;;) {
                scan::ws(items, p);
                out.push_back(scan::value(items, p));
                scan::ws(items, p);
                if (p < items.size() && items[p] == ',') {
                    ++p;
                    continue;
                }
                break;
            }
        });
    });
    if (!found) throw scan::Error("no data.items array");
    return out;
}

// ---- times ----------------------------------------------------------------------------------

// `yyyy-MM-dd HH:mm:ss` (Beijing time), with `.SSS` when millis; epoch ms or nullopt.
inline std::optional<std::int64_t> parse_local(std::string_view s, bool millis) {
    if (s.size() != (millis ? 23u : 19u)) return std::nullopt;
    std::string t(s.substr(0, 19));
    if (t[10] != ' ') return std::nullopt;
    t[10] = 'T';
    t += millis ? std::string(s.substr(19)) : std::string();
    t += "+08:00";
    if (millis && s[19] != '.') return std::nullopt;
    return sdk::parse_rfc3339_ms(t);
}

// Beijing local text `yyyy-MM-dd HH:mm:ss` for an epoch ms instant.
inline std::string format_local(std::int64_t ms) {
    std::string r = sdk::format_rfc3339_beijing(ms, false);  // 2026-03-09T09:12:33+08:00
    return r.substr(0, 10) + " " + r.substr(11, 8);
}

// The §4 feedback `clzt` for a hub action (docs/write-back.md), or "" when the document cannot
// express it: 办理中 (accept, start: signed for, handling), 已办结 (resolve), 退单 (return). The
// rest are the centre's steps, with no feedback of the district's: 派单 (dispatch), 回访
// (verify), 归档 (close), 重办 (reopen: the centre sends an order back), and the merging of
// repeat calls (`glgdbh`: merge and split).
inline std::string feedback_clzt(std::string_view action) {
    if (action == "accept" || action == "start") return "办理中";
    if (action == "resolve") return "已办结";
    if (action == "return") return "退单";
    return {};
}

// 2023-05-01 00:00 +08:00: before it, orders without `zblx` carry BD-09 (§3.3, case-model §5.1).
inline constexpr std::int64_t kBd09Until = 1682870400000;

// ---- the mapping ----------------------------------------------------------------------------

struct Fault {
    std::string reason;  // a case-model §2.5 reason code
    std::string detail;  // names the key and the problem, never a personal value
};

struct Mapped {
    std::string gdbh;            // empty when unknown
    std::string gxsj;            // native text, empty when unknown
    std::int64_t gxsj_ms = -1;   // -1 when unknown
    std::optional<Fault> fault;  // set: dead letter
    std::string record;          // casehub.record/1 JSON when no fault
    std::vector<std::string> warnings;
};

namespace detail {

struct Bad {
    Fault f;
};

inline std::string trim(std::string_view s) {
    auto sp = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && sp(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && sp(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    // U+3000 ideographic space at either end
    while (s.size() >= 3 && s.substr(0, 3) == "\xE3\x80\x80") s.remove_prefix(3);
    while (s.size() >= 3 && s.substr(s.size() - 3) == "\xE3\x80\x80") s.remove_suffix(3);
    return std::string(s);
}

inline std::string normalise_text(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\r') {
            out += '\n';
            if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
        } else {
            out += s[i];
        }
    }
    return trim(out);
}

// Cuts to `max` code points, appending … (counted) when cut.
inline std::string cut(const std::string& s, std::size_t max) {
    std::size_t n = 0, i = 0;
    std::size_t cut_at = std::string::npos;
    while (i < s.size()) {
        if (n == max - 1 && cut_at == std::string::npos) cut_at = i;
        auto c = static_cast<unsigned char>(s[i]);
        i += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        ++n;
    }
    if (n <= max) return s;
    return s.substr(0, cut_at) + "\xE2\x80\xA6";
}

// Text value of a key that must be present and a string ("" allowed unless required).
inline std::string text(const json& it, const char* key, bool required) {
    auto p = it.find(key);
    if (p == it.end()) throw Bad{{"missing_field", std::string("key ") + key + " is absent"}};
    if (!p->is_string()) throw Bad{{"bad_type", std::string("key ") + key + " is not a string"}};
    std::string v = trim(p->get<std::string>());
    if (required && v.empty()) throw Bad{{"missing_field", std::string("key ") + key + " is empty"}};
    return v;
}
// Optional text: absent tolerated (returns "").
inline std::string opt_text(const json& it, const char* key) {
    auto p = it.find(key);
    if (p == it.end() || p->is_null()) return {};
    if (!p->is_string()) throw Bad{{"bad_type", std::string("key ") + key + " is not a string"}};
    return trim(p->get<std::string>());
}

inline json time_or_null(const json& it, const char* key, bool required, std::int64_t* ms_out = nullptr) {
    std::string v = required ? text(it, key, true) : opt_text(it, key);
    if (v.empty()) return nullptr;
    auto ms = parse_local(v, false);
    if (!ms) throw Bad{{"bad_time", std::string("key ") + key + " is not yyyy-MM-dd HH:mm:ss"}};
    if (ms_out) *ms_out = *ms;
    return sdk::format_rfc3339_beijing(*ms, false);
}

template <std::size_t N>
inline const char* lookup(const std::pair<const char*, const char*> (&table)[N], std::string_view v) {
    for (const auto& [k, val] : table)
        if (v == k) return val;
    return nullptr;
}

inline json mask_or_null(std::optional<std::string> v) {
    if (!v || v->empty()) return nullptr;
    return *v;
}

inline json masked_text(const std::string& raw, std::size_t max) {
    std::string t = normalise_text(raw);
    if (t.empty()) return nullptr;
    return cut(sdk::mask::free_text(t), max);
}

// A decimal coordinate or nullopt.
inline std::optional<double> coord(const std::string& s) {
    if (s.empty()) return std::nullopt;
    char* end = nullptr;
    double d = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0' || !(d == d) || d == 0.0 || d > 1e4 || d < -1e4)
        return std::nullopt;
    return d;
}

inline std::vector<std::string> split_units(const std::string& s) {
    std::vector<std::string> out;
    std::string cur;
    auto flush = [&] {
        std::string t = trim(cur);
        if (!t.empty()) out.push_back(t);
        cur.clear();
    };
    for (std::size_t i = 0; i < s.size();) {
        if (s[i] == ',' || s[i] == ';') {
            flush();
            ++i;
        } else if (s.compare(i, 3, "\xE3\x80\x81") == 0 || s.compare(i, 3, "\xEF\xBC\x8C") == 0 ||
                   s.compare(i, 3, "\xEF\xBC\x9B") == 0) {  // 、 ， ；
            flush();
            i += 3;
        } else {
            cur += s[i++];
        }
    }
    flush();
    return out;
}

inline bool is_gdbh(std::string_view s) {
    if (s.size() != 16 || s[0] != 'N' || s[1] != 'J') return false;
    for (std::size_t i = 2; i < s.size(); ++i)
        if (s[i] < '0' || s[i] > '9') return false;
    return true;
}

// The same rules the hub's validator applies (record_check.hpp), so an attachment never makes a
// whole record invalid.
inline bool is_http_url(std::string_view u) { return sdk::is_http_uri(u); }
inline bool is_mime(std::string_view m) { return sdk::is_mime_type(m); }

}  // namespace detail

// Code lists of the document (§3.3, §5) and their common values (case-model §5).
inline constexpr std::pair<const char*, const char*> kStatus[] = {
    {"待受理", "new"},       {"已受理", "registered"}, {"已派单", "dispatched"}, {"办理中", "in_progress"},
    {"已办结", "resolved"},  {"已回访", "verified"},   {"已归档", "closed"},     {"退单", "rejected"}};
inline constexpr std::pair<const char*, const char*> kChannel[] = {
    {"电话", "phone"},  {"微信", "wechat"},    {"网站", "web"},          {"我的南京APP", "app"},
    {"市长信箱", "letter"}, {"110接警", "transfer"}, {"省平台转办", "leader"}, {"其他", "other"}};
inline constexpr std::pair<const char*, const char*> kAppealType[] = {
    {"咨询", "consult"}, {"求助", "help"},    {"投诉", "complaint"}, {"举报", "report"},
    {"建议", "suggest"}, {"感谢", "thanks"}, {"其他", "other"}};
inline constexpr std::pair<const char*, const char*> kPriority[] = {
    {"一般", "general"}, {"紧急", "larger"}, {"特急", "major"}};
inline constexpr std::pair<const char*, const char*> kSatisfaction[] = {
    {"满意", "satisfied"}, {"基本满意", "basically_satisfied"}, {"不满意", "dissatisfied"},
    {"未联系上", "unreachable"}};

// Maps one item (its exact bytes) to a casehub.record/1 document, or a fault.
inline Mapped map_item(std::string_view raw, const Categories& cats, std::int64_t now_ms) {
    using namespace detail;
    Mapped m;
    json it = json::parse(raw, nullptr, false);
    if (it.is_discarded() || !it.is_object()) {
        m.fault = Fault{"not_json", "work order item is not a JSON object"};
        return m;
    }
    try {
        // Identity and version first: the cursor and the duplicate filter need them.
        m.gdbh = text(it, "gdbh", true);
        if (!is_gdbh(m.gdbh)) {
            m.gdbh.clear();
            throw Bad{{"bad_type", "key gdbh is not NJ + 14 digits"}};
        }
        m.gxsj = text(it, "gxsj", true);
        auto gx = parse_local(m.gxsj, true);
        if (!gx) throw Bad{{"bad_time", "key gxsj is not yyyy-MM-dd HH:mm:ss.SSS"}};
        m.gxsj_ms = *gx;

        const std::string clzt = text(it, "clzt", true);
        const char* status = lookup(kStatus, clzt);
        if (!status) throw Bad{{"bad_enum", "clzt '" + clzt + "' is not in §5.3"}};
        const std::string sqly = text(it, "sqly", true);
        const char* channel = lookup(kChannel, sqly);
        if (!channel) throw Bad{{"bad_enum", "sqly '" + sqly + "' is not in §5.1"}};
        const std::string sqlx = text(it, "sqlx", true);
        const char* appeal = lookup(kAppealType, sqlx);
        if (!appeal) throw Bad{{"bad_enum", "sqlx '" + sqlx + "' is not in §3.3"}};
        const std::string jjcd = text(it, "jjcd", true);
        const char* priority = lookup(kPriority, jjcd);
        if (!priority) throw Bad{{"bad_enum", "jjcd '" + jjcd + "' is not 一般/紧急/特急"}};
        const std::string sfbm = text(it, "sfbm", true);
        if (sfbm != "0" && sfbm != "1") throw Bad{{"bad_enum", "sfbm '" + sfbm + "' is not 0 or 1"}};
        const std::string myd = text(it, "myd", false);
        json satisfaction = nullptr;
        if (!myd.empty()) {
            const char* s = lookup(kSatisfaction, myd);
            if (!s) throw Bad{{"bad_enum", "myd '" + myd + "' is not in §3.3"}};
            satisfaction = s;
        }

        // Category: the full path; unmapped → fallback with the native path kept.
        const std::string wtfl = text(it, "wtfl", true);
        std::vector<std::string> levels;
        for (std::size_t b = 0;;) {
            std::size_t e = wtfl.find('>', b);
            levels.push_back(trim(std::string_view(wtfl).substr(b, e == std::string::npos ? e : e - b)));
            if (e == std::string::npos) break;
            b = e + 1;
        }
        for (const auto& l : levels)
            if (l.empty()) throw Bad{{"bad_type", "wtfl has an empty level"}};
        const Category* cat = cats.find(wtfl);
        json category = {{"code", cat ? cat->code : cats.fallback()},
                         {"native", {{"scheme", Categories::kScheme}, {"code", wtfl},
                                     {"name", cat && !cat->name.empty() ? cat->name : levels.back()}}}};
        if (!cat) m.warnings.push_back("wtfl '" + wtfl + "' of " + m.gdbh + " has no mapping: " + cats.fallback());

        // Times.
        std::int64_t ldsj_ms = 0;
        json times = {
            {"reported_at", time_or_null(it, "ldsj", true, &ldsj_ms)},
            {"registered_at", nullptr},
            {"dispatched_at", time_or_null(it, "pdsj", false)},
            {"due_at", time_or_null(it, "blsx", false)},
            {"resolved_at", time_or_null(it, "bjsj", false)},
            {"closed_at", clzt == "已归档" ? json(sdk::format_rfc3339_beijing(m.gxsj_ms, true)) : json(nullptr)},
            {"updated_at", sdk::format_rfc3339_beijing(m.gxsj_ms, true)},
        };
        // hfsj is validated (a bad time is a bad record) but has no field of its own.
        time_or_null(it, "hfsj", false);

        // Location: text address; coordinates only when both are usable.
        json original = nullptr;
        const std::string jd = opt_text(it, "jd"), wd = opt_text(it, "wd");
        std::string zblx;
        bool has_zblx = it.contains("zblx");
        if (has_zblx) {
            zblx = opt_text(it, "zblx");
            if (!zblx.empty() && zblx != "gcj02" && zblx != "bd09")
                throw Bad{{"bad_enum", "zblx '" + zblx + "' is not gcj02 or bd09"}};
        }
        auto x = coord(jd), y = coord(wd);
        if (x && y) {
            std::string crs;
            if (zblx == "bd09") crs = "BD09";
            else if (zblx == "gcj02") crs = "GCJ02";
            else crs = ldsj_ms < kBd09Until ? "BD09" : "GCJ02";
            original = {{"x", *x}, {"y", *y}, {"crs", crs}};
        } else if ((!jd.empty() && jd != "0") || (!wd.empty() && wd != "0")) {
            m.warnings.push_back("jd/wd of " + m.gdbh + " not usable as coordinates: location from address only");
        }
        const std::string fsdz = normalise_text(opt_text(it, "fsdz"));
        json location = {{"original", original},
                         {"address", fsdz.empty() ? json(nullptr) : json(sdk::mask::free_text(fsdz))},
                         {"grid_code", nullptr}};

        // Reporter (masked, §2.3).
        std::string warn;
        json phone = mask_or_null(sdk::mask::phone(opt_text(it, "ldhm"), &warn));
        if (!warn.empty()) m.warnings.push_back("ldhm of " + m.gdbh + ": " + warn);
        json name = mask_or_null(sdk::mask::name(opt_text(it, "ldrxm")));
        json reporter = {{"kind", "citizen"}, {"name_masked", name}, {"phone_masked", phone},
                         {"id_masked", nullptr}, {"worker_id", nullptr}};

        // Responsible units.
        json responsible = json::array();
        const std::string zbdw = opt_text(it, "zbdw"), zbdwbm = opt_text(it, "zbdwbm");
        if (!zbdw.empty() || !zbdwbm.empty())
            responsible.push_back({{"dept_code", zbdwbm.empty() ? json(nullptr) : json(zbdwbm)},
                                   {"name", zbdw.empty() ? json(nullptr) : json(zbdw)},
                                   {"role", "lead"}});
        for (const auto& u : split_units(opt_text(it, "xbdw")))
            responsible.push_back({{"dept_code", nullptr}, {"name", u}, {"role", "assist"}});

        // Attachments.
        json attachments = json::array();
        if (it.contains("fj") && !it["fj"].is_null()) {
            if (!it["fj"].is_array()) throw Bad{{"bad_type", "key fj is not an array"}};
            for (const auto& f : it["fj"]) {
                std::string url = f.is_object() ? f.value("url", std::string()) : std::string();
                std::string lx = f.is_object() ? f.value("lx", std::string()) : std::string();
                if (!is_http_url(url)) {
                    m.warnings.push_back("an attachment of " + m.gdbh + " has no http(s) url: skipped");
                    continue;
                }
                if (!is_mime(lx)) lx = "application/octet-stream";
                attachments.push_back({{"uri", url}, {"mime", lx}});
            }
        }

        // Links and tags.
        json links = json::array();
        json tags = json::array();
        const std::string glgdbh = opt_text(it, "glgdbh"), gljjdbh = opt_text(it, "gljjdbh");
        if (!glgdbh.empty()) {
            links.push_back({{"system", "hotline12345"}, {"record_id", glgdbh}, {"relation", "duplicate_of"}});
            tags.push_back("repeat");
        }
        if (!gljjdbh.empty())
            links.push_back({{"system", "police"}, {"record_id", gljjdbh}, {"relation", "transferred_from"}});
        else if (sqly == "110接警")
            m.warnings.push_back(m.gdbh + " is a 110 transfer without gljjdbh");
        if (auto c = it.find("cbcs"); c != it.end() && !c->is_number_integer())
            throw Bad{{"bad_type", "key cbcs is not an integer"}};

        const std::string sqnr = text(it, "sqnr", false);
        json title = masked_text(opt_text(it, "sqbt"), 200);
        json description = masked_text(sqnr, 8000);

        json rec = {
            {"schema", "casehub.record/1"},
            {"source", {{"system", "hotline12345"}, {"record_id", m.gdbh},
                        {"version", sdk::format_rfc3339_beijing(m.gxsj_ms, true)},
                        {"received_at", sdk::format_rfc3339_beijing(now_ms, true)}}},
            {"kind", "appeal"},
            {"appeal_type", appeal},
            {"channel", channel},
            {"category", category},
            {"title", title},
            {"description", description.is_null() ? json("") : description},
            {"status", status},
            {"status_native", clzt},
            {"priority", priority},
            {"times", times},
            {"location", location},
            {"reporter", reporter},
            {"parties", json::array()},
            {"responsible", responsible},
            {"tags", tags},
            {"satisfaction", satisfaction},
            {"confidentiality", (sfbm == "1" || sqlx == "举报") ? "internal" : "public"},
            {"attachments", attachments},
            {"links", links},
            {"raw_sha256", sdk::sha256_hex(raw)},
        };
        // The hub's own validation, run here so that a record it would refuse becomes a dead
        // letter with the native bytes instead of a validation failure without them.
        if (auto f = sdk::check_record(rec)) throw Bad{{f->reason, f->message}};
        m.record = rec.dump();
    } catch (const Bad& b) {
        m.fault = b.f;
        if (!m.gdbh.empty()) m.fault->detail = "work order " + m.gdbh + ": " + m.fault->detail;
    }
    return m;
}

// The item with its personal data masked, for a dead letter (never the raw bytes).
inline std::string mask_native(std::string_view raw) {
    json it = json::parse(raw, nullptr, false);
    if (it.is_discarded() || !it.is_object()) {
        // Not an object: only free-text masking is possible; names cannot be found reliably,
        // so everything after a "ldrxm" key is withheld.
        std::string t = sdk::mask::free_text(raw);
        if (auto p = t.find("ldrxm"); p != std::string::npos) t = t.substr(0, p) + "ldrxm…[withheld]";
        return t;
    }
    for (auto& [k, v] : it.items()) {
        if (!v.is_string()) continue;
        const std::string s = v.get<std::string>();
        if (k == "ldhm") {
            auto p = sdk::mask::phone(s);
            v = p ? json(*p) : json(s.empty() || s == "保密" ? s : "[withheld]");
        } else if (k == "ldrxm") {
            auto n = sdk::mask::name(s);
            v = n ? json(*n) : json(s.empty() || s == "保密" || s == "匿名" ? s : "[withheld]");
        } else {
            v = sdk::mask::free_text(s);
        }
    }
    return it.dump();
}

}  // namespace casehub::hotline12345
