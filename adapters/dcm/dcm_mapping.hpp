// 数字城管 (dcm) case → casehub.record/1 (case-model.md §2, §5, §5.1; dcm-interface.md §3–§6, §8).
//
// Header-only and free of I/O except Categories::load, so the mapping is unit-tested without the
// hub. The unit of mapping is the exact bytes of one `<case>…</case>` element as the centre sent
// them: raw_sha256 is their hash (case-model §2.1), and a bad case is dead-lettered as those bytes
// with the personal data masked.
#pragma once

#include <casehub/sdk/masking.hpp>
#include <casehub/sdk/rfc3339.hpp>
#include <casehub/sdk/sha256.hpp>

#include <nlohmann/json.hpp>
#include <pugixml.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dcm {

using json = nlohmann::json;

// ---- category table (categories.json, mappings dcm.event / dcm.component) --------------------

struct Categories {
    struct Entry {
        std::string code;  // common code
        std::string name;  // native name in the table
    };
    std::map<std::string, Entry, std::less<>> event, component;  // infosccode → entry
    std::set<std::string, std::less<>> known;                    // every common code
    std::string fallback = "other.unclassified";

    static Categories from_json(const json& doc) {
        Categories c;
        if (!doc.is_object() || !doc.contains("mappings"))
            throw std::runtime_error("not a casehub.categories document (no \"mappings\")");
        c.fallback = doc.value("fallback", std::string("other.unclassified"));
        for (const auto& cat : doc.value("categories", json::array()))
            if (cat.contains("code")) c.known.insert(cat["code"].get<std::string>());
        c.known.insert(c.fallback);
        const auto& m = doc["mappings"];
        for (auto [scheme, target] : {std::pair<const char*, decltype(&c.event)>{"dcm.event", &c.event},
                                      std::pair<const char*, decltype(&c.event)>{"dcm.component", &c.component}}) {
            if (!m.contains(scheme)) throw std::runtime_error(std::string("no mapping \"") + scheme + "\"");
            for (const auto& e : m[scheme].at("entries"))
                (*target)[e.at("native").get<std::string>()] = {e.at("code").get<std::string>(),
                                                                e.value("name", std::string())};
        }
        return c;
    }
    static Categories load(const std::string& path) {
        std::ifstream in(path);
        if (!in) throw std::runtime_error("cannot read " + path);
        json doc = json::parse(in, nullptr, false);
        if (doc.is_discarded()) throw std::runtime_error(path + " is not JSON");
        return from_json(doc);
    }
};

// ---- times -------------------------------------------------------------------------------------

inline constexpr std::string_view kPlaceholder = "1900-01-01 00:00:00";  // V1 "no value" (§8.6)

enum class TimeKind { empty, value, bad };
struct LocalTime {
    TimeKind kind = TimeKind::empty;
    std::string rfc3339;     // when value
    std::int64_t epoch_ms = 0;
};

// `yyyy-MM-dd HH:mm:ss` Beijing time (§2) → RFC 3339 +08:00. Empty and the V1 placeholder are
// "not yet" (§8.6); anything else that is not a real date-time of that form is bad.
inline LocalTime parse_local(std::string_view s) {
    LocalTime t;
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
    if (s.empty() || s == kPlaceholder) return t;
    t.kind = TimeKind::bad;
    if (s.size() != 19 || s[10] != ' ') return t;
    std::string r(s);
    r[10] = 'T';
    r += "+08:00";
    auto ms = casehub::sdk::parse_rfc3339_ms(r);
    if (!ms) return t;
    t.kind = TimeKind::value;
    t.rfc3339 = std::move(r);
    t.epoch_ms = *ms;
    return t;
}

// Epoch ms → `yyyy-MM-dd HH:mm:ss` Beijing time.
inline std::string format_local(std::int64_t epoch_ms) {
    std::string r = casehub::sdk::format_rfc3339_beijing(epoch_ms);  // 2026-03-09T08:52:40+08:00
    r = r.substr(0, 19);
    r[10] = ' ';
    return r;
}

// ---- text --------------------------------------------------------------------------------------

inline bool iequal_ascii(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

// Length of an HTML line break at `i` — `<br>`, `<br/>`, `<br />`, or the same written with
// `&lt;`/`&gt;` (literal inside CDATA, §8.8), any case — or 0.
inline std::size_t br_at(std::string_view s, std::size_t i) {
    std::string_view rest = s.substr(i);
    std::size_t open = 0;
    if (!rest.empty() && rest[0] == '<') open = 1;
    else if (rest.size() >= 4 && iequal_ascii(rest.substr(0, 4), "&lt;")) open = 4;
    else return 0;
    if (rest.size() < open + 2 || !iequal_ascii(rest.substr(open, 2), "br")) return 0;
    std::size_t j = open + 2;
    while (j < rest.size() && rest[j] == ' ') ++j;
    if (j < rest.size() && rest[j] == '/') ++j;
    if (j < rest.size() && rest[j] == '>') return j + 1;
    if (rest.size() >= j + 4 && iequal_ascii(rest.substr(j, 4), "&gt;")) return j + 4;
    return 0;
}

// Byte offset where the code point number `n` starts (s.size() if there are not that many).
inline std::size_t code_point_offset(std::string_view s, std::size_t n) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;  // continuation byte
        if (count++ == n) return i;
    }
    return s.size();
}

// The first `n` code points of `s`.
inline std::string first_chars(std::string_view s, std::size_t n) {
    return std::string(s.substr(0, code_point_offset(s, n)));
}

// The §7 feedback code for a hub action (docs/write-back.md), or "" when the document cannot
// express it. The feedback has two codes: 04 签收/开始处置 (accept, start) and 05 处置反馈
// (resolve). dispatch (派遣), verify (核查), close (结案), reopen (核查不通过), merge and split
// (作废 of a duplicate) are the centre's steps, and a unit's 退件 (return) is not a feedback
// code either: no feedback for them.
inline std::string feedback_code(std::string_view action) {
    if (action == "accept" || action == "start") return "04";
    if (action == "resolve") return "05";
    return {};
}

// At most `max` code points: a longer text is cut to max - 1 and `…` appended (case-model §1).
inline std::string cut_chars(const std::string& s, std::size_t max) {
    if (max == 0 || code_point_offset(s, max) == s.size()) return max == 0 ? std::string() : s;
    return first_chars(s, max - 1) + "…";
}

// description (§8.8): HTML line breaks → LF, CR LF → LF, trimmed, phones and IDs masked (§2.3),
// at most 8,000 characters. U+FFFD put in by the centre is kept.
inline std::string clean_text(std::string_view raw, std::size_t max_chars = 8000) {
    std::string out;
    out.reserve(raw.size());
    for (std::size_t i = 0; i < raw.size();) {
        if (std::size_t n = br_at(raw, i)) {
            out += '\n';
            i += n;
        } else if (raw[i] == '\r') {
            if (i + 1 >= raw.size() || raw[i + 1] != '\n') out += '\n';
            ++i;
        } else {
            out += raw[i++];
        }
    }
    auto is_ws = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    std::size_t b = 0, e = out.size();
    while (b < e && is_ws(static_cast<unsigned char>(out[b]))) ++b;
    while (e > b && is_ws(static_cast<unsigned char>(out[e - 1]))) --e;
    // U+3000 ideographic spaces at the ends, too
    while (e - b >= 3 && out.compare(b, 3, "\xE3\x80\x80") == 0) b += 3;
    while (e - b >= 3 && out.compare(e - 3, 3, "\xE3\x80\x80") == 0) e -= 3;
    std::string t = casehub::sdk::mask::free_text(std::string_view(out).substr(b, e - b));
    return cut_chars(t, max_chars);
}

// ---- the raw bytes of each <case> --------------------------------------------------------------

struct Slice {
    std::size_t begin = 0, end = 0;  // [begin, end) in the body
};

// Every `<case …>…</case>` (or `<case/>`) element of a response body, as byte ranges from `<case`
// to the matching `</case>` inclusive (case-model §2.1 for dcm). CDATA sections, comments and
// processing instructions are skipped, so a description holding `</case>` cannot cut a case.
inline std::vector<Slice> case_slices(std::string_view body) {
    std::vector<Slice> out;
    std::size_t i = 0, open = std::string_view::npos;
    auto name_end = [&](std::size_t p) {
        while (p < body.size() && body[p] != '>' && body[p] != '/' && body[p] != ' ' && body[p] != '\t' &&
               body[p] != '\n' && body[p] != '\r')
            ++p;
        return p;
    };
    while ((i = body.find('<', i)) != std::string_view::npos) {
        std::string_view rest = body.substr(i);
        if (rest.substr(0, 9) == "<![CDATA[") {
            std::size_t e = body.find("]]>", i + 9);
            if (e == std::string_view::npos) break;
            i = e + 3;
            continue;
        }
        if (rest.substr(0, 4) == "<!--") {
            std::size_t e = body.find("-->", i + 4);
            if (e == std::string_view::npos) break;
            i = e + 3;
            continue;
        }
        if (rest.substr(0, 2) == "<?" || rest.substr(0, 2) == "<!") {
            std::size_t e = body.find('>', i);
            if (e == std::string_view::npos) break;
            i = e + 1;
            continue;
        }
        bool closing = rest.size() > 1 && rest[1] == '/';
        std::size_t ns = i + (closing ? 2 : 1);
        std::size_t ne = name_end(ns);
        std::string_view name = body.substr(ns, ne - ns);
        std::size_t gt = body.find('>', ne);
        if (gt == std::string_view::npos) break;
        if (name == "case") {
            if (closing) {
                if (open != std::string_view::npos) out.push_back({open, gt + 1});
                open = std::string_view::npos;
            } else if (body[gt - 1] == '/') {
                out.push_back({i, gt + 1});
            } else {
                open = i;
            }
        }
        i = gt + 1;
    }
    return out;
}

// ---- masking of native bytes for dead letters --------------------------------------------------

// The case's bytes with reportername and reportertel masked (§2.3) and every phone or ID number
// in the rest masked as free text. Only this may be dead-lettered or logged.
inline std::string mask_native(std::string_view raw) {
    std::string s(raw);
    for (const char* tag : {"reportername", "reportertel"}) {
        const std::string open = std::string("<") + tag + ">", close = std::string("</") + tag + ">";
        std::size_t p = s.find(open);
        if (p == std::string::npos) continue;
        std::size_t vb = p + open.size();
        std::size_t ve = s.find(close, vb);
        if (ve == std::string::npos) {
            s.erase(vb);  // unterminated: drop everything after it
            break;
        }
        std::string v = s.substr(vb, ve - vb);
        std::optional<std::string> m = std::string(tag) == "reportername" ? casehub::sdk::mask::name(v)
                                                                          : casehub::sdk::mask::phone(v);
        s.replace(vb, ve - vb, m.value_or(v.empty() ? "" : "[withheld]"));
    }
    return casehub::sdk::mask::free_text(s);
}

// ---- one case ----------------------------------------------------------------------------------

struct Mapped {
    std::optional<json> record;  // the casehub.record/1 document, when the case is good
    std::string reason;          // else: a §2.5 reason code for the dead letter
    std::string detail;          // what and where (no personal values)
    std::string taskid;          // as read ("" when absent)
    LocalTime updatetime;        // for the cursor
    std::vector<std::string> warnings;  // field-level problems that did not reject the case
};

namespace detail {

inline std::string text_of(const pugi::xml_node& c, const char* name, bool* present = nullptr) {
    pugi::xml_node n = c.child(name);
    if (present) *present = static_cast<bool>(n);
    std::string v = n.child_value();  // concatenated? child_value gives the first PCDATA/CDATA
    if (n) {
        std::string all;
        for (pugi::xml_node k = n.first_child(); k; k = k.next_sibling())
            if (k.type() == pugi::node_pcdata || k.type() == pugi::node_cdata) all += k.value();
        v = all;
    }
    return v;
}

inline std::string trim(std::string s) {
    auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    std::size_t b = 0, e = s.size();
    while (b < e && ws(s[b])) ++b;
    while (e > b && ws(s[e - 1])) --e;
    return s.substr(b, e - b);
}

inline bool all_digits(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

inline json str_or_null(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// A coordinate: nullopt when empty, not a number, or 0 (§8.3).
inline std::optional<double> coord(const std::string& s, bool& unreadable) {
    unreadable = false;
    if (s.empty()) return std::nullopt;
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v)) {
        unreadable = true;
        return std::nullopt;
    }
    if (v == 0.0) return std::nullopt;
    return v;
}

inline std::string mime_of(std::string_view url) {
    std::size_t q = url.find_first_of("?#");
    std::string_view path = url.substr(0, q);
    std::size_t dot = path.rfind('.');
    std::string ext = dot == std::string_view::npos ? "" : std::string(path.substr(dot + 1));
    for (auto& ch : ext) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
    if (ext == "png") return "image/png";
    if (ext == "gif") return "image/gif";
    if (ext == "mp4") return "video/mp4";
    return "application/octet-stream";
}

}  // namespace detail

// Maps one case. `received_at`: RFC 3339 time the adapter read it.
inline Mapped map_case(std::string_view raw, const Categories& cats, const std::string& received_at) {
    using detail::text_of;
    using detail::trim;
    Mapped m;
    auto fail = [&](const char* reason, std::string detail) {
        m.reason = reason;
        m.detail = "case " + (m.taskid.empty() ? std::string("(no taskid)") : m.taskid) + ": " + detail;
        m.record.reset();
        return m;
    };

    pugi::xml_document doc;
    pugi::xml_parse_result pr = doc.load_buffer(raw.data(), raw.size(), pugi::parse_default, pugi::encoding_utf8);
    if (!pr) return fail("not_xml", std::string("the <case> element is not well-formed XML (") + pr.description() +
                                        " at byte " + std::to_string(pr.offset) + ")");
    pugi::xml_node c = doc.child("case");
    if (!c) return fail("not_xml", "no <case> element");

    auto get = [&](const char* name) { return trim(text_of(c, name)); };
    m.taskid = get("taskid");
    if (m.taskid.empty()) return fail("missing_field", "<taskid> is empty → $.source.record_id");
    if (m.taskid.size() > 64 || std::any_of(m.taskid.begin(), m.taskid.end(),
                                            [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; }))
        return fail("bad_type", "<taskid> is longer than 64 bytes or holds control characters → $.source.record_id");

    m.updatetime = parse_local(get("updatetime"));
    if (m.updatetime.kind == TimeKind::empty) return fail("missing_field", "<updatetime> is empty → $.source.version");
    if (m.updatetime.kind == TimeKind::bad)
        return fail("bad_time", "<updatetime> is not yyyy-MM-dd HH:mm:ss → $.source.version");

    // 问题类型 (§5, case-model §5)
    const std::string infotype = get("infotypecode");
    const char* kind = infotype == "1" ? "component" : infotype == "2" ? "event" : nullptr;
    if (!kind) return fail("bad_enum", "<infotypecode> '" + infotype + "' is not 1 or 2 (§3.2) → $.kind");
    const std::string sc = get("infosccode");
    const std::string bc = get("infobccode");
    if (sc.size() != 4 || !detail::all_digits(sc))
        return fail("bad_enum", "<infosccode> '" + sc + "' is not a 4-digit 小类 code (§5) → $.category.native.code");
    if (!bc.empty() && sc.compare(0, 2, bc) != 0)
        m.warnings.push_back("<infosccode> " + sc + " does not start with <infobccode> " + bc);
    const auto& table = infotype == "1" ? cats.component : cats.event;
    std::string category = cats.fallback;
    if (auto it = table.find(sc); it != table.end()) category = it->second.code;
    else m.warnings.push_back(std::string("<infosccode> ") + sc + " (" + (infotype == "1" ? "部件" : "事件") +
                              ") is not in the category table: " + cats.fallback);

    // 案件来源 (§6.1)
    const std::string src = get("eventsrccode");
    static const std::map<std::string, std::pair<const char*, const char*>, std::less<>> kSources{
        {"1", {"supervisor", "supervisor"}}, {"2", {"phone", "citizen"}}, {"3", {"transfer", "citizen"}},
        {"4", {"video", "video"}},           {"5", {"leader", "unknown"}}, {"9", {"other", "unknown"}}};
    auto srcit = kSources.find(src);
    if (srcit == kSources.end())
        return fail("bad_enum", "<eventsrccode> '" + src + "' is not in §6.1 → $.channel");

    // 案卷状态 (§6.2)
    const std::string sc_status = get("statuscode");
    static const std::map<std::string, const char*, std::less<>> kStatus{
        {"01", "new"},         {"02", "registered"}, {"03", "dispatched"}, {"04", "in_progress"},
        {"05", "resolved"},    {"06", "verified"},   {"07", "closed"},     {"09", "cancelled"}};
    auto stit = kStatus.find(sc_status);
    if (stit == kStatus.end())
        return fail("bad_enum", "<statuscode> '" + sc_status + "' is not in §6.2 → $.status");

    // 紧急程度
    const std::string urg = get("urgencycode");
    json priority;
    if (urg == "0") priority = "general";
    else if (urg == "1") priority = "larger";
    else return fail("bad_enum", "<urgencycode> '" + urg + "' is not 0 or 1 (§3.2) → $.priority");

    // Times (§2, §8.6)
    json times = json::object();
    struct T {
        const char* element;
        const char* field;
    };
    for (const T& t : {T{"discovertime", "reported_at"}, T{"registertime", "registered_at"},
                       T{"dispatchtime", "dispatched_at"}, T{"deadline", "due_at"},
                       T{"feedbacktime", "resolved_at"}, T{"endtime", "closed_at"}}) {
        LocalTime lt = parse_local(get(t.element));
        if (lt.kind == TimeKind::bad)
            return fail("bad_time", std::string("<") + t.element + "> is not yyyy-MM-dd HH:mm:ss → $.times." + t.field);
        times[t.field] = lt.kind == TimeKind::value ? json(lt.rfc3339) : json(nullptr);
    }
    // endtime is 结案 or 作废 time; only 结案 is a closing time.
    if (sc_status != "07") times["closed_at"] = nullptr;
    if (times["reported_at"].is_null()) {
        if (!times["registered_at"].is_null()) {
            times["reported_at"] = times["registered_at"];
            m.warnings.push_back("<discovertime> empty: reported_at = registertime");
        } else {
            return fail("missing_field", "<discovertime> and <registertime> are empty → $.times.reported_at");
        }
    }
    times["updated_at"] = m.updatetime.rfc3339;

    // Location (§4, §8.3, §8.7)
    json original = nullptr;
    {
        bool bx = false, by = false;
        auto x = detail::coord(get("x"), bx);
        auto y = detail::coord(get("y"), by);
        if (bx || by) m.warnings.push_back("<x>/<y> not a number: location.original null");
        if (x && y) original = {{"x", *x}, {"y", *y}, {"crs", "EPSG:4549"}};
        else if (x || y) m.warnings.push_back("only one of <x>/<y> given: location.original null");
    }
    const std::string bgid = get("bgid");
    json grid = nullptr;
    if (bgid.size() == 14 && detail::all_digits(bgid)) grid = bgid;
    else if (!bgid.empty() && bgid.size() != 15)
        m.warnings.push_back("<bgid> of " + std::to_string(bgid.size()) + " characters ignored");

    // Reporter (§2.3): raw values never leave this function.
    json reporter = {{"kind", srcit->second.second}, {"name_masked", nullptr}, {"phone_masked", nullptr},
                     {"id_masked", nullptr}, {"worker_id", detail::str_or_null(get("patrolid"))}};
    if (auto n = casehub::sdk::mask::name(get("reportername"))) reporter["name_masked"] = *n;
    {
        std::string warn;
        if (auto p = casehub::sdk::mask::phone(get("reportertel"), &warn)) reporter["phone_masked"] = *p;
        else if (!warn.empty()) m.warnings.push_back("<reportertel>: " + warn);
    }

    json responsible = json::array();
    const std::string dept = get("executedeptcode"), deptname = get("executedeptname");
    if (!dept.empty() || !deptname.empty())
        responsible.push_back({{"dept_code", detail::str_or_null(dept)},
                               {"name", detail::str_or_null(deptname)},
                               {"role", "lead"}});

    json attachments = json::array();
    for (pugi::xml_node p = c.child("photos").child("photo"); p; p = p.next_sibling("photo")) {
        std::string url = trim(p.attribute("url").value());
        if (url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0)
            attachments.push_back({{"uri", url}, {"mime", detail::mime_of(url)}});
        else if (!url.empty())
            m.warnings.push_back("<photo> url is not absolute http(s): dropped");
    }

    json links = json::array();
    const std::string bill = get("srcbillno");
    if (src == "3" && !bill.empty())
        links.push_back({{"system", "hotline12345"}, {"record_id", bill}, {"relation", "transferred_from"}});

    json tags = json::array();
    if (src == "5") tags.push_back("leader");

    const std::string statusname = get("statusname");
    const std::string scname = get("infoscname");
    json rec = {
        {"schema", "casehub.record/1"},
        {"source",
         {{"system", "dcm"}, {"record_id", m.taskid}, {"version", m.updatetime.rfc3339}, {"received_at", received_at}}},
        {"kind", kind},
        {"appeal_type", nullptr},
        {"channel", srcit->second.first},
        {"category",
         {{"code", category},
          {"native",
           {{"scheme", infotype == "1" ? "dcm.component" : "dcm.event"}, {"code", sc}, {"name", detail::str_or_null(scname)}}}}},
        {"title", nullptr},
        {"description", clean_text(text_of(c, "description"))},
        {"status", stit->second},
        {"status_native", statusname.empty() ? sc_status : sc_status + " " + statusname},
        {"priority", priority},
        {"times", times},
        {"location", {{"original", original}, {"address", detail::str_or_null(get("address"))}, {"grid_code", grid}}},
        {"reporter", reporter},
        {"parties", json::array()},
        {"responsible", responsible},
        {"tags", tags},
        {"satisfaction", nullptr},
        {"confidentiality", "public"},
        {"attachments", attachments},
        {"links", links},
        {"raw_sha256", casehub::sdk::sha256_hex(raw)},
    };
    m.record = std::move(rec);
    return m;
}

// ---- cursor ------------------------------------------------------------------------------------

// Position in the order (updatetime, taskid) of §3: the last case the hub has. Cases at or before
// it are skipped, so a page boundary inside one second neither loses nor repeats a case.
struct Cursor {
    std::string t;       // updatetime, yyyy-MM-dd HH:mm:ss
    std::string k;       // taskid ("" = nothing of second t yet)

    bool after(const std::string& time, const std::string& taskid) const {  // (time, taskid) > this
        if (time != t) return time > t;  // same fixed-width form: text order = time order
        return taskid > k;
    }
    std::string dump() const { return json{{"v", 1}, {"t", t}, {"k", k}}.dump(); }
    static std::optional<Cursor> parse(std::string_view s) {
        json j = json::parse(s, nullptr, false);
        if (!j.is_object() || j.value("v", 0) != 1 || !j.contains("t") || !j["t"].is_string() || !j.contains("k") ||
            !j["k"].is_string())
            return std::nullopt;
        Cursor c{j["t"].get<std::string>(), j["k"].get<std::string>()};
        if (parse_local(c.t).kind != TimeKind::value) return std::nullopt;
        return c;
    }
};

// Which page to ask for so that it overlaps the last processed case (index pos-1 of the order
// from updatedSince = cursor.t) and holds at least one case after it. Overlap lets the caller see
// whether the set moved under it (§8.4): if the page's first case is already after the cursor,
// cases before it moved away and the page may have skipped some.
struct PageRequest {
    int page_no = 1;
    int page_size = 100;
};
inline PageRequest page_for(long long pos, int size) {
    if (pos <= 0) return {1, size};
    const long long idx = pos - 1;  // index of the cursor case
    auto fits = [&](int cand) { return idx % cand != cand - 1; };
    for (int cand = std::max(size, 2); cand >= 2; --cand)
        if (fits(cand)) return {static_cast<int>(idx / cand + 1), cand};
    for (int cand = std::max(size, 2) + 1; cand <= 500; ++cand)
        if (fits(cand)) return {static_cast<int>(idx / cand + 1), cand};
    return {1, size};  // cannot happen: idx + 1 is not a multiple of every size up to 500
}

}  // namespace dcm
