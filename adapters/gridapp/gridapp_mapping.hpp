// 网格通 (gridapp) event → casehub.record/1, per gridapp-interface.md §3/§5 and case-model.md
// §2, §5 and §5.1. Header-only and free of the host, so the mapping is unit-tested directly.
//
// classify(bytes) sorts a native event body into one of three outcomes, which decide the
// webhook answer (§2.1, case-model §5.1):
//   - Outcome::record        a casehub.record/1 document (answered 2xx once the hub acked it);
//   - Outcome::invalid       well-formed JSON with an invalid value (unknown category or status,
//                            bad time, bad revision ...): answered 202 and dead-lettered;
//   - Outcome::malformed     not JSON, not an object, or a required key missing: answered 400
//                            (and dead-lettered so the hub's operators see it too).
// Every string that leaves this header (record, dead-letter detail, masked native bytes,
// warnings) has personal data masked per case-model §2.3.
#pragma once

#include <casehub/sdk/masking.hpp>
#include <casehub/sdk/rfc3339.hpp>
#include <casehub/sdk/sha256.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gridapp {

using nlohmann::json;

// ---- the document's closed lists (§5.1, §5.2, §3) ----------------------------------------------

// §5.1: every code the document defines. A code outside this list is dead-lettered; a code in
// it that categories.json does not map becomes other.unclassified.
inline constexpr std::array<std::string_view, 30> kDocumentCategories{
    "HJWS-01", "HJWS-02", "HJWS-03", "HJWS-04", "HJWS-05", "SRZX-01", "SRZX-02", "SRZX-03",
    "SRZX-04", "SRZX-05", "SRZX-06", "SRZX-07", "SSSB-01", "SSSB-02", "SSSB-03", "SSSB-04",
    "SSSB-05", "AQYH-01", "AQYH-02", "AQYH-03", "AQYH-04", "AQYH-05", "AQYH-06", "MDJF-01",
    "MDJF-02", "MDJF-03", "MDJF-04", "MSFW-01", "MSFW-02", "MSFW-03"};

inline bool is_document_category(std::string_view c) {
    for (auto k : kDocumentCategories)
        if (k == c) return true;
    return false;
}

// Keys §3 marks required. A body without one of them is answered 400.
inline constexpr std::array<std::string_view, 12> kRequiredKeys{
    "eventType", "eventId",  "revision", "gridCode",     "workerId",    "workerName",
    "reportedAt", "updatedAt", "category", "categoryName", "description", "status"};

inline constexpr std::string_view kFallbackCategory = "other.unclassified";
inline constexpr std::size_t kMaxDescriptionChars = 8000;

// ---- category mapping (categories.json, mapping "gridapp.category") ---------------------------

struct Categories {
    struct Entry {
        std::string code, name;
    };
    std::map<std::string, Entry, std::less<>> by_native;

    // Throws std::runtime_error naming the file and the problem.
    static Categories load(const std::string& file) {
        std::ifstream in(file, std::ios::binary);
        if (!in) throw std::runtime_error("categories_file '" + file + "' cannot be opened");
        json doc = json::parse(in, nullptr, false);
        if (doc.is_discarded() || !doc.is_object())
            throw std::runtime_error("categories_file '" + file + "' is not a JSON object");
        return from_json(doc, file);
    }
    static Categories from_json(const json& doc, const std::string& what = "categories.json") {
        const json* m = nullptr;
        if (auto it = doc.find("mappings"); it != doc.end() && it->is_object())
            if (auto g = it->find("gridapp.category"); g != it->end()) m = &*g;
        if (m == nullptr || !m->contains("entries") || !(*m)["entries"].is_array())
            throw std::runtime_error(what + " has no mappings.\"gridapp.category\".entries");
        Categories c;
        for (const auto& e : (*m)["entries"]) {
            if (!e.is_object() || !e.value("native", json()).is_string() ||
                !e.value("code", json()).is_string())
                throw std::runtime_error(what + ": a gridapp.category entry lacks native or code");
            c.by_native[e["native"].get<std::string>()] = {e["code"].get<std::string>(),
                                                           e.value("name", std::string())};
        }
        if (c.by_native.empty()) throw std::runtime_error(what + ": gridapp.category has no entries");
        return c;
    }
};

// ---- small helpers -------------------------------------------------------------------------------

// Beijing-time local text without offset ("2026-03-09 09:12:33", app versions before 2.4, §6.5)
// or ISO 8601 with offset → epoch ms. Anything else → nullopt.
inline std::optional<std::int64_t> parse_time(std::string_view s) {
    if (auto ms = casehub::sdk::parse_rfc3339_ms(s)) return ms;
    // "yyyy-MM-dd HH:mm:ss" or "yyyy-MM-ddTHH:mm:ss" (optionally .fff), no zone: Beijing time.
    if (s.size() < 19) return std::nullopt;
    std::string t(s);
    if (t[10] != ' ' && t[10] != 'T') return std::nullopt;
    t[10] = 'T';
    for (char c : t)
        if (c == 'Z' || c == 'z' || c == '+') return std::nullopt;
    if (t.size() > 19 && t[19] != '.') return std::nullopt;
    return casehub::sdk::parse_rfc3339_ms(t + "+08:00");
}

inline std::string rfc3339(std::int64_t ms) { return casehub::sdk::format_rfc3339_beijing(ms); }

inline bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

inline std::string trim(std::string_view s) {
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && ws(s.front())) s.remove_prefix(1);
    while (!s.empty() && ws(s.back())) s.remove_suffix(1);
    return std::string(s);
}

// Code points, counted on valid UTF-8 (the JSON parser guarantees it).
inline std::size_t utf8_chars(std::string_view s) {
    std::size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}
inline std::string cut_chars(const std::string& s, std::size_t max) {
    if (utf8_chars(s) <= max) return s;
    std::size_t n = 0, i = 0;
    for (; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (n == max - 1) break;
            ++n;
        }
    }
    return s.substr(0, i) + "…";
}

// Text: CRLF → LF, trimmed, phone numbers and resident IDs masked.
inline std::string clean_text(std::string_view raw) {
    std::string s;
    s.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '\r') {
            if (i + 1 < raw.size() && raw[i + 1] == '\n') continue;
            s += '\n';
            continue;
        }
        s += raw[i];
    }
    return casehub::sdk::mask::free_text(trim(s));
}

inline json opt_text(const json& v) {
    if (!v.is_string()) return nullptr;
    std::string t = clean_text(v.get_ref<const std::string&>());
    return t.empty() ? json(nullptr) : json(t);
}

inline std::string str_or_empty(const json& obj, const char* key) {
    if (!obj.is_object()) return {};
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// The value of query parameter `exp` (unix seconds) of a signed photo URL, if any.
inline std::optional<std::int64_t> url_expiry(std::string_view uri) {
    auto q = uri.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    std::string_view query = uri.substr(q + 1);
    while (!query.empty()) {
        auto amp = query.find('&');
        std::string_view kv = query.substr(0, amp);
        if (kv.substr(0, 4) == "exp=" && all_digits(kv.substr(4)) && kv.size() <= 4 + 12)
            return std::stoll(std::string(kv.substr(4)));
        if (amp == std::string_view::npos) break;
        query.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

inline std::string mime_of(std::string_view uri) {
    std::string_view path = uri.substr(0, uri.find_first_of("?#"));
    auto dot = path.rfind('.');
    std::string ext;
    if (dot != std::string_view::npos && path.find('/', dot) == std::string_view::npos)
        for (char c : path.substr(dot + 1)) ext += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
    if (ext == "png") return "image/png";
    if (ext == "webp") return "image/webp";
    if (ext == "heic") return "image/heic";
    if (ext == "mp4") return "video/mp4";
    return "application/octet-stream";
}

// ---- masking of native bytes for dead letters and logs ----------------------------------------

// Masks the personal fields of a parsed event in place: workerName by the name rule; the free
// texts (description, address, handling.result) by the free-text rule.
inline void mask_event(json& ev) {
    if (!ev.is_object()) return;
    if (auto it = ev.find("workerName"); it != ev.end() && it->is_string()) {
        auto m = casehub::sdk::mask::name(it->get<std::string>());
        *it = m ? json(*m) : json(nullptr);
    }
    for (const char* k : {"description", "address", "categoryName", "closeReason"})
        if (auto it = ev.find(k); it != ev.end() && it->is_string())
            *it = casehub::sdk::mask::free_text(it->get<std::string>());
    if (auto h = ev.find("handling"); h != ev.end() && h->is_object())
        for (auto& [k, v] : h->items())
            if (v.is_string()) v = casehub::sdk::mask::free_text(v.get<std::string>());
}

// Bytes that are not a JSON object: invalid UTF-8 replaced, `"workerName":"…"` masked by the
// name rule, everything else by the free-text rule.
inline std::string mask_unparsed(std::string_view raw, std::size_t limit = 64 * 1024) {
    std::string s;
    s.reserve(std::min(raw.size(), limit));
    // Replace invalid UTF-8 (and NULs) so the copy is printable.
    for (std::size_t i = 0; i < raw.size() && s.size() < limit;) {
        unsigned char c = static_cast<unsigned char>(raw[i]);
        std::size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= raw.size();
        for (std::size_t k = 1; ok && k < len; ++k)
            ok = (static_cast<unsigned char>(raw[i + k]) & 0xC0) == 0x80;
        if (ok && c != 0) {
            s.append(raw.substr(i, len));
            i += len;
        } else {
            s += "\xEF\xBF\xBD";
            ++i;
        }
    }
    // "workerName" : "<value>" → masked value (the only personal field that is not free text).
    const std::string key = "\"workerName\"";
    for (std::size_t pos = s.find(key); pos != std::string::npos; pos = s.find(key, pos + 1)) {
        std::size_t p = pos + key.size();
        while (p < s.size() && (s[p] == ' ' || s[p] == ':' || s[p] == '\t')) ++p;
        if (p >= s.size() || s[p] != '"') continue;
        std::size_t e = p + 1;
        while (e < s.size() && s[e] != '"' && s[e] != ',' && s[e] != '}') ++e;
        auto m = casehub::sdk::mask::name(s.substr(p + 1, e - p - 1));
        s.replace(p + 1, e - p - 1, m ? *m : std::string());
    }
    return casehub::sdk::mask::free_text(s);
}

// ---- classification and normalisation ----------------------------------------------------------

struct Outcome {
    enum Kind { record, invalid, malformed } kind = malformed;
    std::string doc;             // record: the casehub.record/1 JSON
    std::string reason;          // invalid/malformed: a case-model §2.5 reason code
    std::string detail;          // one line naming the field and what is wrong (masked)
    std::string native_masked;   // invalid/malformed: the native bytes, masked
    std::string event_id;        // when readable
    std::uint64_t revision = 0;  // when readable
    std::optional<std::int64_t> updated_ms;  // updatedAt, when readable
    std::vector<std::string> warnings;       // masked, for the log
};

namespace detail {

inline Outcome fail(Outcome o, Outcome::Kind k, std::string reason, std::string detail,
                    std::string native_masked) {
    o.kind = k;
    o.reason = std::move(reason);
    o.detail = std::move(detail);
    o.native_masked = std::move(native_masked);
    return o;
}

inline std::string quoted(std::string_view v) {
    // Only non-personal values are quoted into details (codes, statuses, times): cut them short.
    std::string s(v.substr(0, 60));
    return "'" + casehub::sdk::mask::free_text(s) + "'";
}

}  // namespace detail

// §5 gridapp row: 待处置 registered; 处置中 in_progress; 已上报 dispatched; 已办结 resolved;
// 已关闭 + 办结归档 closed, + 误报作废 / 重复上报 cancelled.
inline std::optional<std::string> map_status(std::string_view status, std::string_view close_reason) {
    if (status == "待处置") return "registered";
    if (status == "处置中") return "in_progress";
    if (status == "已上报") return "dispatched";
    if (status == "已办结") return "resolved";
    if (status == "已关闭") {
        if (close_reason == "办结归档") return "closed";
        if (close_reason == "误报作废" || close_reason == "重复上报") return "cancelled";
    }
    return std::nullopt;
}

// Normalises one native event. `raw` is the exact bytes whose SHA-256 is raw_sha256 (the webhook
// body, or the event's bytes in a catch-up page). `received_ms`: when the adapter read it.
inline Outcome classify(std::string_view raw, const Categories& cats, std::int64_t received_ms) {
    namespace mask = casehub::sdk::mask;
    Outcome o;
    json ev = json::parse(raw.begin(), raw.end(), nullptr, false);
    if (ev.is_discarded())
        return detail::fail(std::move(o), Outcome::malformed, "not_json",
                            "body is not JSON (" + std::to_string(raw.size()) + " bytes)",
                            mask_unparsed(raw));
    if (!ev.is_object())
        return detail::fail(std::move(o), Outcome::malformed, "not_json",
                            "body is JSON but not an object", mask_unparsed(raw));

    // What identifies the event, for logs and the cursor, as far as it is readable.
    if (auto it = ev.find("eventId"); it != ev.end() && it->is_string()) o.event_id = it->get<std::string>();
    if (auto it = ev.find("revision"); it != ev.end() && it->is_number_unsigned())
        o.revision = it->get<std::uint64_t>();
    if (auto it = ev.find("updatedAt"); it != ev.end() && it->is_string())
        o.updated_ms = parse_time(it->get<std::string>());

    json masked = ev;
    mask_event(masked);
    const std::string native_masked = masked.dump();
    const std::string where = o.event_id.empty() ? std::string("event") : "event " + detail::quoted(o.event_id);

    for (auto k : kRequiredKeys) {
        auto it = ev.find(std::string(k));
        if (it == ev.end() || it->is_null())
            return detail::fail(std::move(o), Outcome::malformed, "missing_field",
                                where + ": required key '" + std::string(k) + "' is missing (§3)",
                                native_masked);
    }

    auto invalid = [&](std::string reason, std::string what) {
        return detail::fail(std::move(o), Outcome::invalid, std::move(reason), where + ": " + what,
                            native_masked);
    };
    auto need_string = [&](const char* k) -> const std::string* {
        const json& v = ev[k];
        return v.is_string() ? &v.get_ref<const std::string&>() : nullptr;
    };

    // Types of the required keys.
    for (const char* k : {"eventType", "eventId", "gridCode", "workerId", "workerName", "reportedAt",
                          "updatedAt", "category", "categoryName", "description", "status"})
        if (!need_string(k)) return invalid("bad_type", std::string("$.") + k + " is not a string");
    if (!ev["revision"].is_number_integer() || ev["revision"].get<std::int64_t>() < 1)
        return invalid("bad_version", "$.revision is not an integer >= 1");
    o.revision = ev["revision"].get<std::uint64_t>();

    const std::string& event_id = *need_string("eventId");
    if (event_id.empty() || event_id.size() > 64)
        return invalid("missing_field", "$.eventId is empty or longer than 64 characters");
    for (unsigned char c : event_id)
        if (c < 0x20 || c == 0x7f) return invalid("bad_type", "$.eventId contains a control character");

    const std::string& event_type = *need_string("eventType");
    if (event_type != "created" && event_type != "updated" && event_type != "closed")
        return invalid("bad_enum", "$.eventType " + detail::quoted(event_type) +
                                       " is not created, updated or closed (§3)");

    // Times (§3; §6.5 local times without offset are Beijing time).
    auto reported = parse_time(*need_string("reportedAt"));
    if (!reported) return invalid("bad_time", "$.reportedAt " + detail::quoted(*need_string("reportedAt")) + " is not a time");
    auto updated = parse_time(*need_string("updatedAt"));
    if (!updated) return invalid("bad_time", "$.updatedAt " + detail::quoted(*need_string("updatedAt")) + " is not a time");
    o.updated_ms = updated;

    // Category (§5.1): outside the document's list → dead letter; in it but unmapped → fallback.
    const std::string& native_code = *need_string("category");
    if (!is_document_category(native_code))
        return invalid("missing_field", "$.category " + detail::quoted(native_code) +
                                            " is not a code of gridapp-interface §5.1; category.code cannot be mapped");
    std::string code(kFallbackCategory);
    if (auto it = cats.by_native.find(native_code); it != cats.by_native.end()) code = it->second.code;
    else o.warnings.push_back(where + ": category " + native_code + " has no mapping in categories.json, " +
                              "using " + std::string(kFallbackCategory));

    // Status (§5.2).
    const std::string& status_native = *need_string("status");
    const std::string close_reason = str_or_empty(ev, "closeReason");
    auto status = map_status(status_native, close_reason);
    if (!status) {
        if (status_native == "已关闭")
            return invalid("missing_field", "$.closeReason " + detail::quoted(close_reason) +
                                                " is not 办结归档, 误报作废 or 重复上报 for status 已关闭; status cannot be mapped");
        return invalid("missing_field", "$.status " + detail::quoted(status_native) +
                                            " is not a status of gridapp-interface §5.2; status cannot be mapped");
    }

    // Handling (§3): mode, escalateTo, result, at.
    const json handling = ev.value("handling", json(nullptr));
    if (!handling.is_null() && !handling.is_object())
        return invalid("bad_type", "$.handling is neither an object nor null");
    const std::string mode = str_or_empty(handling, "mode");
    const std::string escalate_to = str_or_empty(handling, "escalateTo");
    std::optional<std::int64_t> handling_at;
    if (const std::string at = str_or_empty(handling, "at"); !at.empty()) {
        handling_at = parse_time(at);
        if (!handling_at) return invalid("bad_time", "$.handling.at " + detail::quoted(at) + " is not a time");
    }
    if (!mode.empty() && mode != "自行处置" && mode != "上报")
        return invalid("bad_enum", "$.handling.mode " + detail::quoted(mode) + " is not 自行处置 or 上报");
    if (mode == "上报" && !escalate_to.empty() && escalate_to != "社区" && escalate_to != "街道")
        return invalid("bad_enum", "$.handling.escalateTo " + detail::quoted(escalate_to) + " is not 社区 or 街道");

    // ---- the record ----
    json rec;
    rec["schema"] = "casehub.record/1";
    rec["source"] = {{"system", "gridapp"},
                     {"record_id", event_id},
                     {"version", std::to_string(o.revision)},
                     {"received_at", rfc3339(received_ms)}};
    rec["kind"] = "event";
    rec["appeal_type"] = nullptr;
    rec["channel"] = "grid_worker";
    json native = {{"scheme", "gridapp.category"}, {"code", native_code}};
    native["name"] = opt_text(ev["categoryName"]);
    rec["category"] = {{"code", code}, {"native", native}};
    rec["title"] = nullptr;

    std::string description = clean_text(*need_string("description"));
    if (const std::string result = clean_text(str_or_empty(handling, "result")); !result.empty())
        description += (description.empty() ? "" : "\n") + std::string("处置结果：") + result;
    rec["description"] = cut_chars(description, kMaxDescriptionChars);

    rec["status"] = *status;
    rec["status_native"] = status_native == "已关闭" ? status_native + " " + close_reason : status_native;
    rec["priority"] = nullptr;

    json times = {{"reported_at", rfc3339(*reported)},
                  {"registered_at", rfc3339(*reported)},
                  {"dispatched_at", nullptr},
                  {"due_at", nullptr},
                  {"resolved_at", nullptr},
                  {"closed_at", nullptr},
                  {"updated_at", rfc3339(*updated)}};
    if (mode == "上报" && *status == "dispatched") times["dispatched_at"] = rfc3339(handling_at.value_or(*updated));
    if (*status == "resolved" || *status == "closed") {
        bool has_result = !trim(str_or_empty(handling, "result")).empty();
        if (*status == "resolved") times["resolved_at"] = rfc3339(has_result && handling_at ? *handling_at : *updated);
        else if (has_result && handling_at) times["resolved_at"] = rfc3339(*handling_at);
    }
    if (status_native == "已关闭") times["closed_at"] = rfc3339(*updated);
    rec["times"] = times;

    // Location (§3, §6.3; case-model §5.1: unusable coordinates → original null, grid code kept).
    json location = {{"original", nullptr}, {"address", nullptr}, {"grid_code", nullptr}};
    if (auto it = ev.find("location"); it != ev.end() && !it->is_null()) {
        const json& l = *it;
        std::string crs;
        const std::string type = str_or_empty(l, "coordType");
        if (type == "gcj02") crs = "GCJ02";
        else if (type == "bd09") crs = "BD09";
        else if (type == "wgs84") crs = "WGS84";
        bool numbers = l.is_object() && l.contains("lng") && l.contains("lat") && l["lng"].is_number() &&
                       l["lat"].is_number();
        if (crs.empty()) {
            o.warnings.push_back(where + ": location.coordType " + detail::quoted(type) +
                                 " is not gcj02, bd09 or wgs84; coordinates not used");
        } else if (!numbers) {
            o.warnings.push_back(where + ": location has no numeric lng/lat; coordinates not used");
        } else {
            double x = l["lng"].get<double>(), y = l["lat"].get<double>();
            if (x == 0.0 && y == 0.0) {
                o.warnings.push_back(where + ": location is 0,0 (positioning failed); coordinates not used");
            } else {
                location["original"] = {{"x", x}, {"y", y}, {"crs", crs}};
            }
        }
    }
    location["address"] = opt_text(ev.value("address", json(nullptr)));
    const std::string& grid = *need_string("gridCode");
    if (grid.size() == 14 && all_digits(grid)) location["grid_code"] = grid;
    else o.warnings.push_back(where + ": gridCode " + detail::quoted(grid) + " is not 14 digits; not used");
    rec["location"] = location;

    // Reporter: the grid worker (name masked; the staff number is not personal data here).
    json reporter = {{"kind", "grid_worker"}, {"name_masked", nullptr}, {"phone_masked", nullptr},
                     {"id_masked", nullptr}, {"worker_id", nullptr}};
    if (auto n = mask::name(*need_string("workerName"))) reporter["name_masked"] = *n;
    if (const std::string w = trim(*need_string("workerId")); !w.empty()) reporter["worker_id"] = w;
    rec["reporter"] = reporter;
    rec["parties"] = json::array();

    // Responsible (case-model §5): 上报 to 社区 → the community of gridCode (12 digits), to 街道
    // → its street (9 digits).
    json responsible = json::array();
    if (mode == "上报" && grid.size() == 14 && all_digits(grid)) {
        if (escalate_to == "社区")
            responsible.push_back({{"dept_code", grid.substr(0, 12)}, {"name", "社区"}, {"role", "lead"}});
        else if (escalate_to == "街道")
            responsible.push_back({{"dept_code", grid.substr(0, 9)}, {"name", "街道"}, {"role", "lead"}});
    }
    rec["responsible"] = responsible;

    json tags = json::array();
    if (auto it = ev.find("tags"); it != ev.end() && it->is_array()) {
        for (const auto& t : *it) {
            if (!t.is_string()) continue;
            const std::string s = trim(t.get<std::string>());
            std::string m = s == "疑难" ? "difficult" : s == "重复" ? "repeat" : s == "督办" ? "supervised" : s;
            if (!m.empty() && std::find(tags.begin(), tags.end(), json(m)) == tags.end()) tags.push_back(m);
        }
    }
    rec["tags"] = tags;
    rec["satisfaction"] = nullptr;
    rec["confidentiality"] = native_code.rfind("MDJF-", 0) == 0 ? "internal" : "public";

    // Photos (§3, §6.6): signed URLs valid 7 days; an expired one is not passed on.
    json attachments = json::array();
    if (auto it = ev.find("photos"); it != ev.end() && it->is_array()) {
        int expired = 0;
        for (const auto& p : *it) {
            if (!p.is_string()) continue;
            const std::string& u = p.get_ref<const std::string&>();
            if (u.rfind("http://", 0) != 0 && u.rfind("https://", 0) != 0) continue;
            if (auto exp = url_expiry(u); exp && *exp * 1000 < received_ms) {
                ++expired;
                continue;
            }
            attachments.push_back({{"uri", u}, {"mime", mime_of(u)}});
        }
        if (expired > 0)
            o.warnings.push_back(where + ": " + std::to_string(expired) + " photo URL(s) expired, not passed on");
    }
    rec["attachments"] = attachments;

    json links = json::array();
    if (const std::string dup = trim(str_or_empty(ev, "duplicateOf")); !dup.empty() && dup != event_id && dup.size() <= 64)
        links.push_back({{"system", "gridapp"}, {"record_id", dup}, {"relation", "duplicate_of"}});
    rec["links"] = links;
    rec["raw_sha256"] = casehub::sdk::sha256_hex(raw);

    o.kind = Outcome::record;
    o.doc = rec.dump();
    return o;
}

// ---- catch-up answers (§4): the exact bytes of each event -----------------------------------------

// Byte spans [begin, end) of the elements of data.events in a §4 answer, from `{` to its matching
// `}`, as raw_sha256 needs them (case-model §2.1). Expects `body` to be valid JSON (parse it
// first); returns nullopt if data.events is absent or not an array.
namespace span_detail {
inline std::size_t skip_ws(std::string_view s, std::size_t i) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
    return i;
}
inline std::size_t skip_string(std::string_view s, std::size_t i) {  // at '"' → after closing '"'
    for (++i; i < s.size(); ++i) {
        if (s[i] == '\\') ++i;
        else if (s[i] == '"') return i + 1;
    }
    return s.size();
}
inline std::size_t skip_value(std::string_view s, std::size_t i) {
    i = skip_ws(s, i);
    if (i >= s.size()) return i;
    if (s[i] == '"') return skip_string(s, i);
    if (s[i] == '{' || s[i] == '[') {
        int depth = 0;
        for (; i < s.size(); ++i) {
            char c = s[i];
            if (c == '"') {
                i = skip_string(s, i) - 1;
            } else if (c == '{' || c == '[') {
                ++depth;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) return i + 1;
            }
        }
        return s.size();
    }
    while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
           s[i] != '\r' && s[i] != '\t')
        ++i;
    return i;
}
// The value span of member `key` of the object starting at `i` ('{').
inline std::optional<std::pair<std::size_t, std::size_t>> member(std::string_view s, std::size_t i,
                                                                 std::string_view key) {
    i = skip_ws(s, i);
    if (i >= s.size() || s[i] != '{') return std::nullopt;
    ++i;
    while (true) {
        i = skip_ws(s, i);
        if (i >= s.size() || s[i] == '}') return std::nullopt;
        if (s[i] != '"') return std::nullopt;
        std::size_t kend = skip_string(s, i);
        // Keys of §4 answers are plain ASCII: compare the unescaped text directly.
        std::string_view k = s.substr(i + 1, kend - i - 2);
        i = skip_ws(s, kend);
        if (i >= s.size() || s[i] != ':') return std::nullopt;
        std::size_t vbeg = skip_ws(s, i + 1);
        std::size_t vend = skip_value(s, vbeg);
        if (k == key) return std::make_pair(vbeg, vend);
        i = skip_ws(s, vend);
        if (i < s.size() && s[i] == ',') ++i;
    }
}
}  // namespace span_detail

inline std::optional<std::vector<std::string_view>> event_spans(std::string_view body) {
    using namespace span_detail;
    auto data = member(body, 0, "data");
    if (!data) return std::nullopt;
    auto events = member(body, data->first, "events");
    if (!events) return std::nullopt;
    std::size_t i = skip_ws(body, events->first);
    if (i >= body.size() || body[i] != '[') return std::nullopt;
    std::vector<std::string_view> out;
    ++i;
    while (true) {
        i = skip_ws(body, i);
        if (i >= body.size() || body[i] == ']') break;
        std::size_t e = skip_value(body, i);
        out.push_back(body.substr(i, e - i));
        i = skip_ws(body, e);
        if (i < body.size() && body[i] == ',') ++i;
    }
    return out;
}

}  // namespace gridapp
