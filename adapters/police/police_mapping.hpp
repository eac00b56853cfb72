// 公安 非警务警情移交 (police-interface.md V1.2) → casehub.record/1 (case-model.md §2, §5, §5.1).
//
// Everything here is a pure function of its inputs (no files, no host), so the mapping, the
// batch checks and the feedback format can be unit-tested without a hub:
//
//   map_line(line, categories, received_ms)   one JSON line of JQ_<batch>.jsonl → a record, a
//                                             dropped confidential record, or a dead letter
//   parse_manifest / check_body               the acceptance rule of §2 (manifest, SHA-256, count)
//   scrub_confidential                        a batch file without its mj=2 lines (§6)
//   feedback_line / manifest_text             §7 write-back (JQFK_<batch>.jsonl + manifest)
//
// Personal data: bjdh, bjrxm and every free text (bjnr, afdz, cjqk, bz) are masked by
// casehub::sdk::mask before anything leaves these functions; details and warnings name fields,
// never values. Records with mj = 2 (涉密) are only reported as `confidential`: no content, no id.
#pragma once

#include <casehub/sdk/masking.hpp>
#include <casehub/sdk/plugin.hpp>
#include <casehub/sdk/record_check.hpp>
#include <casehub/sdk/rfc3339.hpp>
#include <casehub/sdk/sha256.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <map>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qinhuai::police {

using nlohmann::json;

inline constexpr std::string_view kSystem = "police";
inline constexpr std::string_view kScheme = "police.bjxl";
inline constexpr std::string_view kRecordSchema = "FJWJQ/1.2";
inline constexpr std::string_view kFeedbackSchema = "FJWJQFK/1.0";
inline constexpr std::string_view kStatisticalUnit = "320104400";  // 夫子庙秦淮风光带 (§3, §8.6)

// The twelve streets of 秦淮区 that may receive a transfer (`yjjd` 320104001–012).
inline constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kStreets{{
    {"320104001", "秦虹街道办事处"},   {"320104002", "夫子庙街道办事处"},
    {"320104003", "红花街道办事处"},   {"320104004", "双塘街道办事处"},
    {"320104005", "中华门街道办事处"}, {"320104006", "五老村街道办事处"},
    {"320104007", "洪武路街道办事处"}, {"320104008", "大光路街道办事处"},
    {"320104009", "瑞金路街道办事处"}, {"320104010", "月牙湖街道办事处"},
    {"320104011", "光华路街道办事处"}, {"320104012", "朝天宫街道办事处"},
}};

inline std::optional<std::string_view> street_name(std::string_view code) {
    for (const auto& [c, n] : kStreets)
        if (c == code) return n;
    return std::nullopt;
}
// A unit name such as "夫子庙街道办事处", "秦淮区夫子庙街道" or "夫子庙街道" → its street code.
inline std::optional<std::string_view> street_code_by_name(std::string_view name) {
    for (const auto& [c, n] : kStreets) {
        std::string_view stem = n.substr(0, n.size() - std::string_view("办事处").size());
        if (name.find(stem) != std::string_view::npos) return c;
    }
    return std::nullopt;
}

// §5.1: the non-police categories transferred to the streets (bjxldm).
inline constexpr std::array<std::string_view, 18> kCodes51{
    "5001", "5002", "5003", "5004", "5005", "5101", "5102", "5103", "5201",
    "5202", "5301", "5302", "5303", "5401", "5402", "5403", "5404", "5999"};
inline bool in_code_list(std::string_view bjxldm) {
    for (auto c : kCodes51)
        if (c == bjxldm) return true;
    return false;
}

// ---------------------------------------------------------------------------------------------
// Category mapping (categories.json, mapping `police.bjxl`).

struct Categories {
    struct Entry {
        std::string code, name;
    };
    std::map<std::string, Entry, std::less<>> by_native;
    std::string fallback = "other.unclassified";
};

// Throws std::runtime_error naming what is wrong.
inline Categories load_categories(const json& doc) {
    Categories c;
    if (!doc.is_object() || !doc.contains("mappings") || !doc["mappings"].is_object())
        throw std::runtime_error("no \"mappings\" object");
    if (doc.contains("fallback") && doc["fallback"].is_string())
        c.fallback = doc["fallback"].get<std::string>();
    const auto it = doc["mappings"].find(std::string(kScheme));
    if (it == doc["mappings"].end() || !it->is_object() || !it->contains("entries") ||
        !(*it)["entries"].is_array())
        throw std::runtime_error("no mapping \"" + std::string(kScheme) + "\" with \"entries\"");
    for (const auto& e : (*it)["entries"]) {
        if (!e.is_object() || !e.contains("native") || !e["native"].is_string() ||
            !e.contains("code") || !e["code"].is_string())
            throw std::runtime_error("an entry of \"" + std::string(kScheme) +
                                     "\" lacks a string \"native\" or \"code\"");
        c.by_native[e["native"].get<std::string>()] =
            Categories::Entry{e["code"].get<std::string>(), e.value("name", std::string())};
    }
    if (c.by_native.empty()) throw std::runtime_error("mapping \"police.bjxl\" has no entries");
    return c;
}

// ---------------------------------------------------------------------------------------------
// One line of JQ_<batch>.jsonl.

struct LineResult {
    enum class Kind { record, confidential, dead_letter };
    Kind kind = Kind::dead_letter;
    std::string record;                 // casehub.record/1 JSON (record)
    std::string record_id;              // jjdbh (record, dead_letter); never set for confidential
    std::string version;                // source.version (record)
    std::string reason;                 // §2.5 reason code (dead_letter)
    std::string detail;                 // what is wrong, naming the key; no personal value
    std::string native_masked;          // the native line with personal data masked (dead_letter)
    std::vector<std::string> warnings;  // field-level notes for the log; no personal value
};

namespace detail {

inline const std::regex& mj2_pattern() {
    static const std::regex re(R"re("mj"\s*:\s*"?2(?![0-9.]))re");
    return re;
}

// The classification of a parsed line: 0, 1, 2, or nullopt when unreadable.
inline std::optional<int> classification(const json& rec) {
    auto it = rec.find("mj");
    if (it == rec.end()) return std::nullopt;
    if (it->is_number_integer() || it->is_number_unsigned()) {
        auto v = it->get<std::int64_t>();
        if (v >= 0 && v <= 2) return static_cast<int>(v);
        return std::nullopt;
    }
    if (it->is_number_float()) {
        double d = it->get<double>();
        if (d == 0.0 || d == 1.0 || d == 2.0) return static_cast<int>(d);
        return std::nullopt;
    }
    if (it->is_string()) {  // not the documented type, but the meaning is plain
        const auto& s = it->get_ref<const std::string&>();
        if (s == "0" || s == "1" || s == "2") return s[0] - '0';
    }
    return std::nullopt;
}

// Masks every personal value of a native record (for dead letters): bjdh, bjrxm, free texts.
inline json mask_native(json rec) {
    if (!rec.is_object()) return rec;
    for (const char* key : {"bjnr", "afdz", "cjqk", "bz"})
        if (auto it = rec.find(key); it != rec.end() && it->is_string())
            *it = casehub::sdk::mask::free_text(it->get<std::string>());
    if (auto it = rec.find("bjdh"); it != rec.end() && !it->is_null()) {
        auto m = it->is_string() ? casehub::sdk::mask::phone(it->get<std::string>()) : std::nullopt;
        *it = m ? json(*m) : json(nullptr);
    }
    if (auto it = rec.find("bjrxm"); it != rec.end() && !it->is_null()) {
        auto m = it->is_string() ? casehub::sdk::mask::name(it->get<std::string>()) : std::nullopt;
        *it = m ? json(*m) : json(nullptr);
    }
    return rec;
}

// A line that is not JSON: numbers masked as in free text, and the value after "bjrxm" (a name
// the free-text rules would not catch) masked when it can be found.
inline std::string mask_unparsed(std::string_view line) {
    std::string text = casehub::sdk::mask::free_text(line);
    static const std::regex name_re(R"re(("bjrxm"\s*:\s*")([^"]*))re");
    std::string out;
    auto begin = std::sregex_iterator(text.begin(), text.end(), name_re);
    std::size_t last = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it) {
        const auto& m = *it;
        out.append(text, last, static_cast<std::size_t>(m.position(0)) - last);
        out += m[1].str();
        out += casehub::sdk::mask::name(m[2].str()).value_or("");
        last = static_cast<std::size_t>(m.position(0) + m.length(0));
    }
    out.append(text, last, std::string::npos);
    return out;
}

struct Fault {
    std::string reason, detail;
};

// Trimmed (ASCII white space and U+3000), line ends as LF; empty → nullopt (case-model §1).
inline std::optional<std::string> text_or_null(const std::string& s) {
    std::string t;
    t.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\r') t += s[i];
        else if (i + 1 >= s.size() || s[i + 1] != '\n') t += '\n';
    }
    constexpr std::string_view ideographic_space = "\xE3\x80\x80";
    auto space_len = [&](std::size_t at) -> std::size_t {
        const char c = t[at];
        if (c == ' ' || c == '\t' || c == '\n') return 1;
        return t.compare(at, 3, ideographic_space) == 0 ? 3 : 0;
    };
    std::size_t b = 0, e = t.size();
    while (b < e) {
        std::size_t n = space_len(b);
        if (n == 0 || b + n > e) break;
        b += n;
    }
    while (e > b) {
        if (std::size_t n = space_len(e - 1); n == 1) { --e; continue; }
        if (e - b >= 3 && t.compare(e - 3, 3, ideographic_space) == 0) { e -= 3; continue; }
        break;
    }
    if (b == e) return std::nullopt;
    return t.substr(b, e - b);
}

// At most `max` code points: longer text keeps max - 1 and gets "…" (case-model §1).
inline std::string cut(const std::string& s, std::size_t max) {
    std::size_t code_points = 0, keep = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // continuation byte
        if (code_points + 1 == max) keep = i;
        if (++code_points > max) return s.substr(0, keep) + "…";
    }
    return s;
}

// An epoch time of §3 (ms; 10-digit seconds from the previous exchange version, §8.5).
inline std::optional<std::int64_t> epoch_ms(const json& v, bool* in_seconds) {
    double d;
    if (v.is_number_integer() || v.is_number_unsigned()) d = static_cast<double>(v.get<std::int64_t>());
    else if (v.is_number_float()) d = v.get<double>();
    else return std::nullopt;
    if (!std::isfinite(d) || d <= 0 || d != std::floor(d)) return std::nullopt;
    auto n = static_cast<std::int64_t>(d);
    if (n < 100'000'000'000LL) {  // before 1973 in ms: a time in seconds
        if (in_seconds) *in_seconds = true;
        n *= 1000;
    }
    if (n > 32'503'680'000'000LL) return std::nullopt;  // after 3000-01-01
    return n;
}

inline bool digits(std::string_view s, std::size_t n) {
    if (s.size() != n) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

}  // namespace detail

// True when a (CR-stripped) line of a batch file is a 涉密 record or cannot be classified. Used
// both to drop records and to scrub the archived batch files (§6).
inline bool is_confidential_line(std::string_view line) {
    json rec = json::parse(line, nullptr, false);
    if (rec.is_discarded() || !rec.is_object())
        return std::regex_search(line.begin(), line.end(), detail::mj2_pattern());
    auto mj = detail::classification(rec);
    return !mj || *mj == 2;
}

// Maps one line (without its line end and without a CR the ferry added) to casehub.record/1.
inline LineResult map_line(std::string_view line, const Categories& cats, std::int64_t received_ms) {
    using casehub::sdk::format_rfc3339_beijing;
    namespace mask = casehub::sdk::mask;
    LineResult out;
    json rec = json::parse(line, nullptr, false);
    if (rec.is_discarded() || !rec.is_object()) {
        // An unreadable line cannot show its classification; if it looks like mj = 2, it is
        // treated as one (dropped, not dead-lettered).
        if (std::regex_search(line.begin(), line.end(), detail::mj2_pattern())) {
            out.kind = LineResult::Kind::confidential;
            return out;
        }
        out.reason = "not_json";
        out.detail = rec.is_discarded() ? "the line is not JSON" : "the line is not a JSON object";
        out.native_masked = detail::mask_unparsed(line);
        return out;
    }
    // §6: mj = 2 is dropped before anything else is read; so is a record whose classification
    // cannot be read (dropping is the safe side).
    if (auto mj = detail::classification(rec); !mj || *mj == 2) {
        out.kind = LineResult::Kind::confidential;
        return out;
    }
    const int mj = *detail::classification(rec);

    auto fail = [&](std::string reason, std::string what) {
        out.kind = LineResult::Kind::dead_letter;
        out.reason = std::move(reason);
        out.detail = std::move(what);
        out.native_masked = detail::mask_native(rec).dump();
        return out;
    };
    auto warn = [&](std::string w) { out.warnings.push_back(std::move(w)); };
    // A string key of §3: absent → nullopt + `absent`; wrong type → fault.
    auto str = [&](const char* key, bool* absent, bool* wrong_type) -> std::optional<std::string> {
        auto it = rec.find(key);
        if (it == rec.end() || it->is_null()) {
            if (absent) *absent = true;
            return std::nullopt;
        }
        if (!it->is_string()) {
            if (wrong_type) *wrong_type = true;
            return std::nullopt;
        }
        return it->get<std::string>();
    };

    // Record id: jjdbh, one record per call sheet.
    bool absent = false, wrong = false;
    auto jjdbh = str("jjdbh", &absent, &wrong);
    if (wrong) return fail("bad_type", "jjdbh is not a string");
    if (!jjdbh || jjdbh->empty()) return fail("missing_field", "jjdbh (接警单编号) is missing or empty");
    if (jjdbh->size() > casehub::sdk::max_record_id_chars)
        return fail("too_long", "jjdbh is longer than 64 characters");
    for (unsigned char c : *jjdbh)
        if (c < 0x20 || c == 0x7F) return fail("bad_type", "jjdbh contains a control character");
    out.record_id = *jjdbh;

    // Version: gxsj.
    bool gx_seconds = false, bj_seconds = false, yj_seconds = false;
    auto gxsj_it = rec.find("gxsj");
    if (gxsj_it == rec.end() || gxsj_it->is_null())
        return fail("missing_field", "gxsj (更新时间) is missing");
    auto gxsj = detail::epoch_ms(*gxsj_it, &gx_seconds);
    if (!gxsj) return fail("bad_version", "gxsj (更新时间) is not an epoch time in ms");
    if (gx_seconds) warn("gxsj in seconds, read as seconds");

    auto bjsj_it = rec.find("bjsj");
    if (bjsj_it == rec.end() || bjsj_it->is_null())
        return fail("missing_field", "bjsj (报警时间) is missing");
    auto bjsj = detail::epoch_ms(*bjsj_it, &bj_seconds);
    if (!bjsj) return fail("bad_time", "bjsj (报警时间) is not an epoch time");
    std::optional<std::int64_t> yjsj;
    if (auto it = rec.find("yjsj"); it != rec.end() && !it->is_null()) {
        yjsj = detail::epoch_ms(*it, &yj_seconds);
        if (!yjsj) return fail("bad_time", "yjsj (移交时间) is not an epoch time");
    } else {
        warn("yjsj (移交时间) missing: dispatched_at null");
    }
    if (bj_seconds || yj_seconds) warn("bjsj/yjsj in seconds (previous exchange version, §8.5)");

    // Status: czlx.
    auto czlx_it = rec.find("czlx");
    int czlx = 0;
    if (czlx_it != rec.end() && czlx_it->is_number_integer()) czlx = czlx_it->get<int>();
    const char* status = nullptr;
    const char* status_native = nullptr;
    switch (czlx) {
        case 1: status = "dispatched"; status_native = "czlx=1 移交"; break;
        case 2: status = "dispatched"; status_native = "czlx=2 补充"; break;
        case 3: status = "cancelled"; status_native = "czlx=3 撤回"; break;
        default:
            return fail("missing_field", czlx_it == rec.end() || czlx_it->is_null()
                                             ? "czlx (操作类型) is missing"
                                             : "czlx (操作类型) is not 1 移交, 2 补充 or 3 撤回");
    }

    // Category: bjxldm (4 digits, the first two = bjlbdm).
    auto bjxldm = str("bjxldm", &absent, &wrong);
    auto bjlbdm = str("bjlbdm", nullptr, &wrong);
    if (wrong) return fail("bad_type", "bjlbdm/bjxldm is not a string");
    if (!bjxldm || bjxldm->empty()) return fail("missing_field", "bjxldm (报警细类代码) is missing");
    if (!detail::digits(*bjxldm, 4))
        return fail("bad_enum", "bjxldm (报警细类代码) is not 4 digits");
    if (bjlbdm && !bjlbdm->empty() && bjxldm->compare(0, 2, *bjlbdm) != 0)
        return fail("bad_enum", "bjxldm (报警细类代码) does not start with bjlbdm");
    json category;
    std::string common = cats.fallback;
    json native_name = nullptr;
    if (auto e = cats.by_native.find(*bjxldm); e != cats.by_native.end()) {
        common = e->second.code;
        if (!e->second.name.empty()) native_name = e->second.name;
    } else if (in_code_list(*bjxldm)) {
        warn("bjxldm " + *bjxldm + " has no entry in categories.json: " + common);
    } else {
        warn("bjxldm " + *bjxldm + " is outside §5.1 (police category picked by mistake, §8.8): " +
             common);
    }
    category = {{"code", common},
                {"native", {{"scheme", kScheme}, {"code", *bjxldm}, {"name", native_name}}}};

    // Priority: jqjb.
    json priority = nullptr;
    if (auto it = rec.find("jqjb"); it != rec.end() && !it->is_null()) {
        int j = it->is_number_integer() ? it->get<int>() : 0;
        if (j == 4) priority = "general";
        else if (j == 3) priority = "larger";
        else if (j == 1 || j == 2) priority = "major";
        else return fail("bad_enum", "jqjb (警情级别) is not 1–4");
    }

    // Street: yjjd; empty or the statistical unit 320104400 → no operator street (§5.1).
    json responsible = json::array();
    auto yjjd = str("yjjd", nullptr, &wrong);
    if (wrong) return fail("bad_type", "yjjd is not a string");
    if (yjjd && !yjjd->empty()) {
        if (*yjjd == kStatisticalUnit) {
            warn("yjjd 320104400 (夫子庙秦淮风光带) is not a street: no operator street (§8.6)");
        } else if (auto n = street_name(*yjjd)) {
            responsible.push_back({{"dept_code", *yjjd}, {"name", *n}, {"role", "lead"}});
        } else {
            return fail("bad_enum", "yjjd (移交街道代码) is not one of 320104001–320104012");
        }
    } else {
        warn("yjjd empty: no operator street (§8.6)");
    }

    // Location: zbx/zby/zbxt. Null for missing or 0; swapped axes are passed on (§2.5).
    json original = nullptr;
    {
        auto num = [&](const char* key) -> std::optional<double> {
            auto it = rec.find(key);
            if (it == rec.end() || !it->is_number()) return std::nullopt;
            double d = it->get<double>();
            return std::isfinite(d) ? std::optional<double>(d) : std::nullopt;
        };
        auto x = num("zbx"), y = num("zby");
        auto zbxt = str("zbxt", nullptr, nullptr).value_or("");
        if (x && y && !(*x == 0.0 && *y == 0.0)) {
            std::string crs;
            if (zbxt == "CGCS2000" || zbxt == "WGS84") crs = zbxt;
            else if (zbxt.empty()) { crs = "WGS84"; warn("zbxt empty with coordinates: WGS84 (§8.4)"); }
            if (crs.empty()) warn("zbxt is neither CGCS2000 nor WGS84: coordinates dropped");
            else original = {{"x", *x}, {"y", *y}, {"crs", crs}};
        } else if (x && y) {
            warn("coordinates 0, 0: location.original null (§8.4)");
        }
    }

    // Texts and the caller.
    std::string description;
    if (auto s = str("bjnr", nullptr, nullptr))
        description = detail::cut(mask::free_text(detail::text_or_null(*s).value_or("")),
                                  casehub::sdk::max_description_chars);
    json address = nullptr;
    if (auto s = str("afdz", nullptr, nullptr))
        if (auto t = detail::text_or_null(*s)) address = mask::free_text(*t);
    json phone = nullptr, name = nullptr;
    if (auto s = str("bjdh", nullptr, nullptr)) {
        std::string w;
        if (auto m = mask::phone(*s, &w)) phone = *m;
        else if (!w.empty()) warn("bjdh (报警电话): " + w);
    }
    if (auto s = str("bjrxm", nullptr, nullptr))
        if (auto m = mask::name(*s)) name = *m;

    json links = json::array(), tags = json::array();
    if (auto g = str("gljjdbh", nullptr, nullptr); g && !g->empty()) {
        links.push_back({{"system", kSystem}, {"record_id", *g}, {"relation", "duplicate_of"}});
        tags.push_back("repeat");
    }

    const std::string version = format_rfc3339_beijing(*gxsj, true);
    json doc = {
        {"schema", "casehub.record/1"},
        {"source",
         {{"system", kSystem},
          {"record_id", *jjdbh},
          {"version", version},
          {"received_at", format_rfc3339_beijing(received_ms, true)}}},
        {"kind", "incident"},
        {"appeal_type", nullptr},
        {"channel", "transfer"},
        {"category", category},
        {"title", nullptr},
        {"description", description},
        {"status", status},
        {"status_native", status_native},
        {"priority", priority},
        {"times",
         {{"reported_at", format_rfc3339_beijing(*bjsj, true)},
          {"registered_at", nullptr},
          {"dispatched_at", yjsj ? json(format_rfc3339_beijing(*yjsj, true)) : json(nullptr)},
          {"due_at", nullptr},
          {"resolved_at", nullptr},
          {"closed_at", nullptr},
          {"updated_at", version}}},
        {"location", {{"original", original}, {"address", address}, {"grid_code", nullptr}}},
        {"reporter",
         {{"kind", "citizen"},
          {"name_masked", name},
          {"phone_masked", phone},
          {"id_masked", nullptr},
          {"worker_id", nullptr}}},
        {"parties", json::array()},
        {"responsible", responsible},
        {"tags", tags},
        {"satisfaction", nullptr},
        {"confidentiality", mj == 1 ? "internal" : "public"},
        {"attachments", json::array()},
        {"links", links},
        {"raw_sha256", casehub::sdk::sha256_hex(line)},
    };
    // The hub's own check, so a fault is found here, with the native line at hand.
    if (auto f = casehub::sdk::check_record(doc)) return fail(f->reason, f->message);
    out.kind = LineResult::Kind::record;
    out.version = version;
    out.record = doc.dump();
    return out;
}

// ---------------------------------------------------------------------------------------------
// Batches (§2, §4).

struct Manifest {
    std::string batch, file, created, sha256, schema, sender;
    std::int64_t count = 0;
};

struct ManifestResult {
    enum class State { ok, incomplete, invalid };
    State state = State::incomplete;
    Manifest manifest;
    std::string problem;
};

// `incomplete`: not (yet) a JSON object — the ferry may still be writing it. `invalid`: a
// complete manifest that can never describe this batch.
inline ManifestResult parse_manifest(std::string_view bytes, std::string_view batch) {
    ManifestResult r;
    json m = json::parse(bytes, nullptr, false);
    if (m.is_discarded() || !m.is_object()) {
        r.problem = "manifest is not a complete JSON object";
        return r;
    }
    r.state = ManifestResult::State::invalid;
    auto s = [&](const char* k) -> std::optional<std::string> {
        auto it = m.find(k);
        if (it == m.end() || !it->is_string()) return std::nullopt;
        return it->get<std::string>();
    };
    auto b = s("batch"), f = s("file"), h = s("sha256"), sc = s("schema");
    if (!b || *b != batch) { r.problem = "manifest \"batch\" does not equal the file name's batch id"; return r; }
    if (!f || *f != "JQ_" + std::string(batch) + ".jsonl") { r.problem = "manifest \"file\" is not JQ_" + std::string(batch) + ".jsonl"; return r; }
    if (!h || !casehub::sdk::is_sha256_hex(*h)) { r.problem = "manifest \"sha256\" is not 64 lower-case hex digits"; return r; }
    if (!sc || *sc != kRecordSchema) { r.problem = "manifest \"schema\" is not FJWJQ/1.2"; return r; }
    auto c = m.find("count");
    if (c == m.end() || !c->is_number_integer() || c->get<std::int64_t>() < 0) {
        r.problem = "manifest \"count\" is not a non-negative integer";
        return r;
    }
    r.state = ManifestResult::State::ok;
    r.manifest = Manifest{*b, *f, s("created").value_or(""), *h, *sc, s("sender").value_or(""),
                          c->get<std::int64_t>()};
    return r;
}

// The records file without a CR the ferry added before each LF (§4: the hash is over the bytes
// as written by the sender).
inline std::string strip_cr(std::string_view raw) {
    std::string out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') continue;
        out += raw[i];
    }
    return out;
}

struct BodyCheck {
    bool ok = false;
    std::string problem;            // why not (yet): hash or count mismatch
    std::vector<std::string> lines; // the records' lines, without line ends (ok)
};

inline BodyCheck check_body(std::string_view raw, const Manifest& m) {
    BodyCheck r;
    const std::string body = strip_cr(raw);
    const std::string h = casehub::sdk::sha256_hex(body);
    if (h != m.sha256) {
        r.problem = "SHA-256 of " + m.file + " (" + std::to_string(raw.size()) + " bytes) is " +
                    h.substr(0, 16) + "…, the manifest says " + m.sha256.substr(0, 16) + "…";
        return r;
    }
    if (!body.empty() && body.back() != '\n') {
        r.problem = m.file + " does not end with LF";
        return r;
    }
    std::size_t start = 0;
    while (start < body.size()) {
        std::size_t nl = body.find('\n', start);
        r.lines.push_back(body.substr(start, nl - start));
        start = nl + 1;
    }
    if (static_cast<std::int64_t>(r.lines.size()) != m.count) {
        r.problem = m.file + " has " + std::to_string(r.lines.size()) + " lines, the manifest says " +
                    std::to_string(m.count);
        r.lines.clear();
        return r;
    }
    r.ok = true;
    return r;
}

// A batch file without its 涉密 lines (what the receiving side may keep, §6), and how many were
// removed. Lines keep their original line ends.
inline std::pair<std::string, std::size_t> scrub_confidential(std::string_view raw) {
    std::string out;
    std::size_t removed = 0, start = 0;
    while (start < raw.size()) {
        std::size_t nl = raw.find('\n', start);
        std::size_t end = nl == std::string_view::npos ? raw.size() : nl + 1;
        std::string_view whole = raw.substr(start, end - start);
        std::string_view line = whole;
        if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (!line.empty() && is_confidential_line(line)) ++removed;
        else out.append(whole);
        start = end;
    }
    return {out, removed};
}

// ---------------------------------------------------------------------------------------------
// Feedback (§7).

// fkid (≤ 40 characters, unique; the police side ignores a repeated one): the hub's write-back
// key, stable across retries, or a digest of it when it does not fit.
inline std::string feedback_id(std::string_view key) {
    bool plain = !key.empty() && key.size() <= 40;
    for (unsigned char c : key) plain = plain && c > 0x20 && c < 0x7F;
    if (plain) return std::string(key);
    return "CH-" + casehub::sdk::sha256_hex(key).substr(0, 37);
}

// §5.2 fkzt for a hub action (docs/write-back.md), or "" when the document cannot express it.
// The feedback is the street's report of where its handling stands, with no order imposed on
// it: a reopened case is being handled again (处置中). Dispatch (inside the street), verify and
// close (the police keep their own case; 已办结 was the street's last word), merge and split
// have no fkzt.
inline std::string_view fkzt_for(const json& action) {
    const std::string a = action.value("action", std::string());
    const std::string s = action.value("status", std::string());
    if (a == "accept" || (a.empty() && s == "accepted")) return "已签收";
    if (a == "start" || a == "reopen" || (a.empty() && s == "in_progress")) return "处置中";
    if (a == "resolve" || (a.empty() && s == "resolved")) return "已办结";
    if (a == "return" || (a.empty() && s == "rejected")) return "退回";
    return {};
}

// One feedback line for a write-back action of the hub. Throws casehub::sdk::Error
// (UNSUPPORTED: a status the document cannot express; INVALID_ARGUMENT: an action that cannot
// be written) naming the problem.
inline json feedback_record(const json& action, std::int64_t now_ms) {
    using casehub::sdk::Error;
    auto bad = [](const std::string& m) { return Error(CASEHUB_ERR_INVALID_ARGUMENT, m); };
    if (!action.is_object()) throw bad("write-back action is not a JSON object");
    const std::string_view fkzt = fkzt_for(action);
    if (fkzt.empty())
        throw Error(CASEHUB_ERR_UNSUPPORTED,
                    "police feedback (§5.2) has no status for action '" +
                        action.value("action", std::string()) + "' / status '" +
                        action.value("status", std::string()) +
                        "': only accept 已签收, start and reopen 处置中, resolve 已办结, return 退回");
    const std::string key = action.contains("key") && action["key"].is_string()
                                ? action["key"].get<std::string>()
                                : (action.contains("writeback_id") ? action["writeback_id"].dump() : "");
    if (key.empty()) throw bad("write-back action has no key");
    const json rec = action.value("record", json::object());
    std::string jjdbh;
    if (rec.is_object() && rec.contains("source") && rec["source"].is_object())
        jjdbh = rec["source"].value("record_id", std::string());
    if (jjdbh.empty()) throw bad("write-back action has no record.source.record_id (jjdbh)");
    if (rec["source"].value("system", std::string()) != kSystem)
        throw bad("write-back record is not a police record");

    // The street that handled it: the acting unit when it is a street, else the record's street.
    const json unit = action.value("unit", json::object());
    std::string unit_code = unit.is_object() ? unit.value("code", std::string()) : "";
    std::string unit_name = unit.is_object() ? unit.value("name", std::string()) : "";
    std::string yjjd;
    if (street_name(unit_code)) yjjd = unit_code;
    else if (auto c = street_code_by_name(unit_name)) yjjd = *c;
    else if (rec.contains("responsible") && rec["responsible"].is_array()) {
        for (const auto& r : rec["responsible"])
            if (r.is_object() && r.value("role", "") == "lead" && r.contains("dept_code") &&
                r["dept_code"].is_string() && street_name(r["dept_code"].get<std::string>())) {
                yjjd = r["dept_code"].get<std::string>();
                break;
            }
    }
    if (yjjd.empty())
        throw bad("cannot name the street (yjjd) that handled " + jjdbh +
                  ": the unit is not a street office and the record names no street");
    std::string fkdw = unit_name.empty() ? std::string(*street_name(yjjd)) : unit_name;
    std::string fkr = action.contains("handler") && action["handler"].is_string()
                          ? detail::text_or_null(action["handler"].get<std::string>()).value_or("")
                          : "";
    if (fkr.empty()) throw bad("write-back action has no handler (fkr, 反馈人)");
    std::string fknr;
    if (action.contains("note") && action["note"].is_string())
        fknr = detail::text_or_null(action["note"].get<std::string>()).value_or("");
    if (fknr.empty()) fknr = std::string(fkzt);
    fknr = detail::cut(casehub::sdk::mask::free_text(fknr), 1000);

    std::int64_t fksj = now_ms;
    if (action.contains("at") && action["at"].is_string()) {
        auto t = casehub::sdk::parse_rfc3339_ms(action["at"].get<std::string>());
        if (!t) throw bad("write-back 'at' is not an RFC 3339 time");
        if (*t > now_ms + 5 * 60 * 1000)
            throw bad("write-back 'at' is more than 5 minutes in the future");
        fksj = *t;
    }
    return json{{"fkid", feedback_id(key)}, {"jjdbh", jjdbh}, {"jqh", ""},
                {"yjjd", yjjd},           {"fkzt", fkzt},   {"fknr", fknr},
                {"fkdw", fkdw},           {"fkr", fkr},     {"fksj", fksj}};
}

inline std::string manifest_text(std::string_view batch, std::string_view file, std::int64_t created_ms,
                                 std::size_t count, std::string_view sha256, std::string_view schema,
                                 std::string_view sender) {
    json m = {{"batch", batch},
              {"file", file},
              {"created", casehub::sdk::format_rfc3339_beijing(created_ms)},
              {"count", count},
              {"sha256", sha256},
              {"schema", schema},
              {"sender", sender}};
    return m.dump() + "\n";
}

// Batch id: creation time yyyyMMddHHmmss (Beijing) + "_" + 4-digit sequence (§2).
inline std::string batch_id(std::int64_t ms, unsigned seq) {
    std::string t = casehub::sdk::format_rfc3339_beijing(ms);  // 2026-03-09T08:10:00+08:00
    std::string id;
    for (std::size_t i = 0; i < 19 && i < t.size(); ++i)
        if (t[i] >= '0' && t[i] <= '9') id += t[i];
    char s[8];
    std::snprintf(s, sizeof s, "_%04u", seq % 10000);
    return id + s;
}

}  // namespace qinhuai::police
