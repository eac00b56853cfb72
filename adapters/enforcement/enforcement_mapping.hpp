// 综合行政执法 (enforcement) CSV exchange → casehub.record/1.
//
// Everything that does not touch the file system or the host lives here, header-only, so that
// it can be unit-tested without the hub: RFC 4180 splitting on the raw bytes (GB18030 and UTF-8
// alike: `,` `"` CR LF never occur inside a GB18030 multi-byte character), file validation
// (header, trailer `#END,<n>`), decoding, the §6 irregularities (dates, spreadsheet artefacts,
// white space, unidentified parties) and the mapping of one row (case-model §5 and §5.1).
//
// Interface document: enforcement-interface.md V1.2. Case model: case-model.md.
#pragma once

#include <casehub/sdk/masking.hpp>
#include <casehub/sdk/sha256.hpp>

#include <nlohmann/json.hpp>

#include <iconv.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace enforcement {

using json = nlohmann::json;

// §4: the 16 columns, in order.
inline constexpr std::array<std::string_view, 16> kColumns = {
    "案件编号", "案件来源", "案由",     "执法事项编码", "当事人类型", "当事人名称",
    "证件号码", "联系电话", "违法地点", "立案日期",     "案件状态",   "承办街道",
    "处罚决定书号", "罚款金额", "结案日期", "更新时间"};

enum Col : std::size_t {
    kId = 0, kSource, kCause, kItemCode, kPartyType, kPartyName, kPartyId, kPhone, kPlace,
    kRegDate, kStatus, kStreet, kDecisionNo, kFine, kCloseDate, kUpdated
};

enum class Encoding { gb18030, utf8 };

inline const char* encoding_name(Encoding e) { return e == Encoding::utf8 ? "UTF-8 (BOM)" : "GB18030"; }

// ---- decoding ------------------------------------------------------------------------------

// Bytes in the file's encoding → UTF-8. nullopt when the bytes are not valid in that encoding.
inline std::optional<std::string> to_utf8(std::string_view bytes, Encoding enc) {
    if (enc == Encoding::utf8) {
        // decode() yields one U+FFFD per ill-formed byte; a literal U+FFFD is 3 bytes long.
        for (const auto& cp : casehub::sdk::mask::detail::decode(bytes))
            if (cp.cp == 0xFFFD && cp.end - cp.begin == 1) return std::nullopt;
        return std::string(bytes);
    }
    bool ascii = true;
    for (unsigned char c : bytes) ascii = ascii && c < 0x80;
    if (ascii) return std::string(bytes);
    iconv_t cd = iconv_open("UTF-8", "GB18030");
    if (cd == reinterpret_cast<iconv_t>(-1)) throw std::runtime_error("iconv: GB18030 is not available");
    std::string out(bytes.size() * 2 + 16, '\0');
    char* in = const_cast<char*>(bytes.data());
    std::size_t in_left = bytes.size();
    char* o = out.data();
    std::size_t o_left = out.size();
    const std::size_t r = iconv(cd, &in, &in_left, &o, &o_left);
    iconv_close(cd);
    if (r == static_cast<std::size_t>(-1) || in_left != 0) return std::nullopt;
    out.resize(out.size() - o_left);
    return out;
}

// ---- CSV splitting -------------------------------------------------------------------------

struct RawRecord {
    std::size_t line = 0;            // physical line (1-based) where the record starts
    std::string_view bytes;          // the record's bytes without its line end
    std::vector<std::string> fields; // unquoted field bytes, still in the file's encoding
    bool unterminated = false;       // a quoted field runs to the end of the file
    bool blank() const { return bytes.empty(); }
};

// RFC 4180 on bytes. Records end at CRLF (or a bare LF, tolerated) outside quotes; inside quotes
// CR and LF are data. `body` starts after a BOM.
inline std::vector<RawRecord> split_records(std::string_view body) {
    std::vector<RawRecord> out;
    std::size_t i = 0, line = 1;
    const std::size_t n = body.size();
    while (i < n) {
        RawRecord r;
        r.line = line;
        const std::size_t start = i;
        std::string field;
        bool quoted = false, in_quotes = false;
        std::size_t end = n;  // end of the record's bytes (before its line end)
        std::size_t next = n;
        while (i < n) {
            const char c = body[i];
            if (in_quotes) {
                if (c == '"') {
                    if (i + 1 < n && body[i + 1] == '"') {
                        field += '"';
                        i += 2;
                        continue;
                    }
                    in_quotes = false;
                    ++i;
                    continue;
                }
                if (c == '\n') ++line;
                field += c;
                ++i;
                continue;
            }
            if (c == '"' && field.empty() && !quoted) {
                quoted = in_quotes = true;
                ++i;
                continue;
            }
            if (c == ',') {
                r.fields.push_back(std::move(field));
                field.clear();
                quoted = false;
                ++i;
                continue;
            }
            if (c == '\n' || (c == '\r' && i + 1 < n && body[i + 1] == '\n')) {
                end = i;
                next = i + (c == '\r' ? 2 : 1);
                ++line;
                break;
            }
            field += c;  // includes a stray '"' inside an unquoted field, kept as data
            ++i;
        }
        if (i >= n) {
            end = n;
            next = n;
            r.unterminated = in_quotes;
        }
        r.bytes = body.substr(start, end - start);
        if (!r.bytes.empty()) r.fields.push_back(std::move(field));
        out.push_back(std::move(r));
        i = next;
    }
    return out;
}

// ---- file validation (§3) ------------------------------------------------------------------

struct ParsedFile {
    Encoding encoding = Encoding::gb18030;
    std::string body;                // the file's bytes after the BOM (records view into it)
    std::vector<RawRecord> rows;     // data rows, in file order
    std::string reject;              // non-empty: the file is rejected as a whole (.reason text)
    std::size_t blank_lines = 0;     // blank lines (after the trailer, §6.4, or elsewhere)
    bool trailer_missing = false;    // incomplete in the sense of §6.5 (may still be written)
};

inline std::string trim_ascii(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t')) --e;
    return std::string(s.substr(b, e - b));
}

// Parses and validates a whole file. Rows are only usable when `reject` is empty.
inline ParsedFile parse_file(std::string bytes) {
    ParsedFile f;
    if (bytes.size() >= 3 && static_cast<unsigned char>(bytes[0]) == 0xEF &&
        static_cast<unsigned char>(bytes[1]) == 0xBB && static_cast<unsigned char>(bytes[2]) == 0xBF) {
        f.encoding = Encoding::utf8;
        bytes.erase(0, 3);
    }
    f.body = std::move(bytes);
    auto recs = split_records(f.body);
    if (recs.empty()) {
        f.reject = "empty file (no header, no trailer)";
        f.trailer_missing = true;
        return f;
    }
    // Last non-blank record: the trailer. Checked first: a file still being copied may end
    // anywhere, even inside the header, and must be waited for rather than rejected at once.
    std::size_t last = recs.size();
    while (last > 1 && recs[last - 1].blank()) --last;
    f.blank_lines = recs.size() - last;
    if (last <= 1) {
        f.reject = "trailer missing (the file has a header and no records)";
        f.trailer_missing = true;
        return f;
    }
    const RawRecord& t = recs[last - 1];
    const bool is_trailer = t.fields.size() == 2 && t.fields[0] == "#END";
    if (!is_trailer) {
        f.trailer_missing = true;
        if (t.unterminated)
            f.reject = "trailer missing (last record at line " + std::to_string(t.line) +
                       " ends inside a quoted field)";
        else
            f.reject = "trailer missing (last record at line " + std::to_string(t.line) +
                       " is a data row)";
        return f;
    }
    // Header.
    const RawRecord& h = recs.front();
    auto header_text = to_utf8(h.bytes, f.encoding);
    if (!header_text) {
        f.reject = "header at line 1 is not valid " + std::string(encoding_name(f.encoding));
        return f;
    }
    if (h.fields.size() != kColumns.size()) {
        f.reject = "header at line 1 has " + std::to_string(h.fields.size()) + " columns, expected 16";
        return f;
    }
    for (std::size_t c = 0; c < kColumns.size(); ++c) {
        auto name = to_utf8(h.fields[c], f.encoding);
        if (!name || *name != kColumns[c]) {
            f.reject = "header at line 1: column " + std::to_string(c + 1) + " is not '" +
                       std::string(kColumns[c]) + "'";
            return f;
        }
    }
    std::size_t declared = 0;
    {
        const std::string n = trim_ascii(t.fields[1]);
        bool ok = !n.empty() && n.size() <= 9;
        for (char c : n) ok = ok && c >= '0' && c <= '9';
        if (!ok) {
            f.reject = "trailer at line " + std::to_string(t.line) + " has no record count";
            f.trailer_missing = true;
            return f;
        }
        declared = std::stoul(n);
    }
    for (std::size_t k = 1; k + 1 < last; ++k) {
        if (recs[k].blank()) {
            ++f.blank_lines;
            continue;
        }
        if (!recs[k].fields.empty() && recs[k].fields[0].rfind("#END", 0) == 0) {
            f.reject = "trailer at line " + std::to_string(recs[k].line) + " is not the last record";
            return f;
        }
        f.rows.push_back(recs[k]);
    }
    if (declared != f.rows.size()) {
        f.reject = "trailer #END," + std::to_string(declared) + " at line " + std::to_string(t.line) +
                   " does not match the " + std::to_string(f.rows.size()) + " data rows";
        f.trailer_missing = true;  // an incomplete file (§3); may still be being written
        f.rows.clear();
        return f;
    }
    return f;
}

// ---- value helpers -------------------------------------------------------------------------

// Trims ASCII white space and U+3000 (§6.6).
inline std::string trim(std::string_view s) {
    auto is_sp_at = [&](std::size_t i, std::size_t& len) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') return len = 1, true;
        if (c == 0xE3 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
            static_cast<unsigned char>(s[i + 2]) == 0x80)
            return len = 3, true;
        return false;
    };
    std::size_t b = 0, e = s.size(), len = 0;
    while (b < e && is_sp_at(b, len)) b += len;
    while (e > b) {
        if (static_cast<unsigned char>(s[e - 1]) < 0x80) {
            const char c = s[e - 1];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                --e;
                continue;
            }
            break;
        }
        if (e - b >= 3 && static_cast<unsigned char>(s[e - 3]) == 0xE3 &&
            static_cast<unsigned char>(s[e - 2]) == 0x80 && static_cast<unsigned char>(s[e - 1]) == 0x80) {
            e -= 3;
            continue;
        }
        break;
    }
    return std::string(s.substr(b, e - b));
}

// Line breaks as LF (case model §1).
inline std::string lf(std::string s) {
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
    return out;
}

struct Date {
    int y = 0, m = 0, d = 0;
};

inline bool valid_date(int y, int m, int d) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1990 || y > 2099 || m < 1 || m > 12 || d < 1) return false;
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= days[m - 1] + (m == 2 && leap ? 1 : 0);
}

// §6.2: `2026-03-09`, `2026/3/9`, `2026年3月9日`, `2026-03-09 00:00:00` (V4.0). nullopt when the
// text is none of these or not a calendar date.
inline std::optional<Date> parse_date(std::string_view raw) {
    const std::string s = trim(raw);
    std::size_t i = 0;
    auto num = [&](int max_digits, int& v) {
        const std::size_t b = i;
        v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9' && static_cast<int>(i - b) < max_digits) v = v * 10 + (s[i++] - '0');
        return i > b;
    };
    auto lit = [&](std::string_view l) {
        if (s.compare(i, l.size(), l) == 0) {
            i += l.size();
            return true;
        }
        return false;
    };
    Date dt;
    if (!num(4, dt.y) || i != 4) return std::nullopt;
    std::string_view sep2;
    if (lit("-")) sep2 = "-";
    else if (lit("/")) sep2 = "/";
    else if (lit("年")) sep2 = "月";
    else return std::nullopt;
    if (!num(2, dt.m)) return std::nullopt;
    if (!lit(sep2)) return std::nullopt;
    if (!num(2, dt.d)) return std::nullopt;
    if (sep2 == "月" && !lit("日")) return std::nullopt;
    if (i < s.size()) {
        // A time part (V4.0 writes 00:00:00): `HH:mm:ss` or `H:mm`, after one space.
        if (!lit(" ")) return std::nullopt;
        int hh = 0, mm = 0, ss = 0;
        if (!num(2, hh) || !lit(":") || !num(2, mm)) return std::nullopt;
        if (lit(":") && !num(2, ss)) return std::nullopt;
        if (i != s.size() || hh > 23 || mm > 59 || ss > 59) return std::nullopt;
    }
    if (!valid_date(dt.y, dt.m, dt.d)) return std::nullopt;
    return dt;
}

inline std::string date_rfc3339(const Date& d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT00:00:00+08:00", d.y, d.m, d.d);
    return buf;
}

// 更新时间: exactly `yyyy-MM-dd HH:mm:ss`, Beijing time → RFC 3339 +08:00.
inline std::optional<std::string> parse_update_time(std::string_view raw) {
    const std::string s = trim(raw);
    if (s.size() != 19) return std::nullopt;
    for (std::size_t k = 0; k < 19; ++k) {
        const bool digit = s[k] >= '0' && s[k] <= '9';
        const char want = k == 4 || k == 7 ? '-' : k == 10 ? ' ' : k == 13 || k == 16 ? ':' : 0;
        if (want ? s[k] != want : !digit) return std::nullopt;
    }
    const int y = std::stoi(s.substr(0, 4)), m = std::stoi(s.substr(5, 2)), d = std::stoi(s.substr(8, 2));
    const int hh = std::stoi(s.substr(11, 2)), mm = std::stoi(s.substr(14, 2)), ss = std::stoi(s.substr(17, 2));
    if (!valid_date(y, m, d) || hh > 23 || mm > 59 || ss > 59) return std::nullopt;
    return s.substr(0, 10) + "T" + s.substr(11) + "+08:00";
}

// 罚款金额: `5000`, `1000.00`, `0`, or `"1,000.00"` from a spreadsheet (§6.3). Returns the amount
// in canonical form (no separators; decimals only when not whole), nullopt when unreadable.
inline std::optional<std::string> parse_fine(std::string_view raw) {
    std::string s = trim(raw);
    std::string digits, frac;
    std::size_t i = 0;
    std::size_t group = 0;
    bool grouped = false;
    for (; i < s.size() && s[i] != '.'; ++i) {
        if (s[i] == ',') {
            if (digits.empty() || (grouped && group != 3) || (!grouped && group > 3)) return std::nullopt;
            grouped = true;
            group = 0;
            continue;
        }
        if (s[i] < '0' || s[i] > '9') return std::nullopt;
        digits += s[i];
        ++group;
    }
    if (digits.empty() || (grouped && group != 3)) return std::nullopt;
    if (i < s.size()) {
        for (++i; i < s.size(); ++i) {
            if (s[i] < '0' || s[i] > '9') return std::nullopt;
            frac += s[i];
        }
        if (frac.empty() || frac.size() > 2) return std::nullopt;
    }
    while (digits.size() > 1 && digits[0] == '0') digits.erase(0, 1);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    return frac.empty() ? digits : digits + "." + frac;
}

// §4: `ZF` + `320104` + year + 6-digit serial.
inline bool documented_case_number(std::string_view s) {
    if (s.size() != 18 || s.substr(0, 8) != "ZF320104") return false;
    for (std::size_t k = 8; k < 18; ++k)
        if (s[k] < '0' || s[k] > '9') return false;
    return true;
}

// §5.2: CF + domain 01–08 + 4 digits (CF is the only power type in this exchange).
inline bool documented_item_code(std::string_view s) {
    if (s.size() != 8 || s.substr(0, 2) != "CF") return false;
    for (std::size_t k = 2; k < 8; ++k)
        if (s[k] < '0' || s[k] > '9') return false;
    const int domain = (s[2] - '0') * 10 + (s[3] - '0');
    return domain >= 1 && domain <= 8;
}

// 统一社会信用代码: 18 characters of the GB 32100 alphabet (no I O S V Z).
inline bool credit_code(std::string_view s) {
    if (s.size() != 18) return false;
    for (char c : s) {
        const bool ok = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z' && c != 'I' && c != 'O' &&
                                                    c != 'S' && c != 'V' && c != 'Z');
        if (!ok) return false;
    }
    return true;
}

// ---- code lists (§5, case model §5) --------------------------------------------------------

inline std::optional<std::string> channel_of(std::string_view source) {
    static const std::map<std::string, std::string, std::less<>> m = {
        {"巡查发现", "patrol"},   {"投诉举报", "phone"},     {"12345转办", "transfer"},
        {"数字城管转办", "transfer"}, {"上级交办", "leader"}, {"部门移送", "transfer"},
        {"媒体曝光", "media"}};
    auto it = m.find(source);
    if (it == m.end()) return std::nullopt;
    return it->second;
}

inline std::optional<std::string> status_of(std::string_view native) {
    static const std::map<std::string, std::string, std::less<>> m = {
        {"立案", "registered"}, {"调查取证", "in_progress"}, {"审查", "in_progress"},
        {"决定", "in_progress"}, {"执行", "resolved"},       {"结案", "closed"},
        {"不予立案", "rejected"}};
    auto it = m.find(native);
    if (it == m.end()) return std::nullopt;
    return it->second;
}

// The enforcement.zfsx mapping of categories.json.
struct Categories {
    std::string fallback = "other.unclassified";
    std::map<std::string, std::string, std::less<>> code_of;  // 执法事项编码 → common code

    static Categories from_json(const json& doc) {
        Categories c;
        if (doc.contains("fallback") && doc["fallback"].is_string()) c.fallback = doc["fallback"];
        const json& m = doc.at("mappings").at("enforcement.zfsx");
        for (const auto& e : m.at("entries")) c.code_of[e.at("native").get<std::string>()] = e.at("code").get<std::string>();
        if (c.code_of.empty()) throw std::runtime_error("mappings.enforcement.zfsx has no entries");
        return c;
    }
    static Categories load(const std::string& path) {
        std::ifstream in(path);
        if (!in) throw std::runtime_error("cannot read " + path);
        json doc = json::parse(in, nullptr, false);
        if (doc.is_discarded()) throw std::runtime_error(path + " is not JSON");
        try {
            return from_json(doc);
        } catch (const std::exception& e) {
            throw std::runtime_error(path + ": " + e.what());
        }
    }
};

// ---- one row → casehub.record/1 -------------------------------------------------------------

struct RowResult {
    std::optional<json> record;        // set when the row is good
    std::string reason, detail;        // dead letter otherwise (detail names column and line)
    std::vector<std::string> warnings; // masked; e.g. an unreadable 证件号码
    std::string record_id;             // 案件编号 as read (for logs; not personal)
};

// The personal columns masked, for logs and dead letters. Works on decoded fields.
inline std::string masked_row_text(const std::vector<std::string>& fields) {
    namespace mask = casehub::sdk::mask;
    std::string out;
    const bool legal = fields.size() > kPartyType && trim(fields[kPartyType]) == "法人";
    for (std::size_t c = 0; c < fields.size(); ++c) {
        std::string v;
        if (c == kPartyName && !legal) v = mask::name(fields[c]).value_or("");
        else if (c == kPartyId && !legal) v = mask::resident_id(fields[c]).value_or("");
        else if (c == kPhone) v = mask::phone(fields[c]).value_or(fields[c].empty() ? "" : "[withheld]");
        else v = mask::free_text(fields[c]);
        if (fields.size() != kColumns.size() && c != kPhone) {
            // Columns may be shifted: mask anything that could be a name as a name.
            if (c >= kPartyType && c <= kPhone) v = mask::name(fields[c]).value_or("");
        }
        if (c) out += ',';
        const bool quote = v.find_first_of(",\"\r\n") != std::string::npos;
        if (quote) {
            out += '"';
            for (char ch : v) {
                if (ch == '"') out += '"';
                out += ch;
            }
            out += '"';
        } else {
            out += v;
        }
    }
    return out;
}

inline std::string cut(std::string s, std::size_t max_chars) {
    std::size_t chars = 0, i = 0;
    for (; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
            if (chars == max_chars - 1) break;
            ++chars;
        }
    }
    if (i >= s.size()) return s;
    s.resize(i);
    return s + "…";
}

// Maps one decoded row. `raw` is the record's bytes in the file's encoding without its line end
// (raw_sha256), `where` names file and line for messages, `received_at` is RFC 3339.
inline RowResult map_row(const std::vector<std::string>& fields, std::string_view raw,
                         const Categories& cats, const std::string& received_at,
                         const std::string& where) {
    namespace mask = casehub::sdk::mask;
    RowResult r;
    auto fail = [&](std::string reason, std::string detail) {
        r.record.reset();
        r.reason = std::move(reason);
        r.detail = where + ": " + detail;
        return r;
    };
    if (fields.size() != kColumns.size())
        return fail("bad_row", std::to_string(fields.size()) + " fields, expected 16");
    std::array<std::string, 16> v;
    for (std::size_t c = 0; c < 16; ++c) v[c] = trim(fields[c]);
    r.record_id = v[kId];

    auto col = [](Col c) { return std::string(kColumns[c]); };
    // Required columns (§4).
    for (Col c : {kId, kSource, kCause, kItemCode, kPlace, kStatus, kStreet, kUpdated})
        if (v[c].empty()) return fail("missing_field", col(c) + " (column " + std::to_string(c + 1) + ") is empty");
    if (v[kId].size() > 64) return fail("bad_row", "案件编号 longer than 64 characters");
    for (unsigned char ch : v[kId])
        if (ch < 0x20 || ch == 0x7F) return fail("bad_row", "案件编号 contains a control character");
    if (!documented_case_number(v[kId]))
        r.warnings.push_back(where + ": 案件编号 " + v[kId] + " is not of the documented form ZF320104yyyyNNNNNN (kept verbatim)");

    const auto channel = channel_of(v[kSource]);
    if (!channel) return fail("missing_field", "案件来源 '" + mask::free_text(v[kSource]) + "' is not in the list of §5.1");
    const auto status = status_of(v[kStatus]);
    if (!status) return fail("missing_field", "案件状态 '" + mask::free_text(v[kStatus]) + "' is not in the list of §5.4");
    if (!documented_item_code(v[kItemCode]))
        return fail("missing_field", "执法事项编码 '" + mask::free_text(v[kItemCode]) + "' is not of the form CF<domain 01-08><4 digits> of §5.2");
    const auto updated = parse_update_time(v[kUpdated]);
    if (!updated) return fail("bad_time", "更新时间 '" + mask::free_text(v[kUpdated]) + "' is not yyyy-MM-dd HH:mm:ss");

    std::optional<Date> reg, closed;
    if (!v[kRegDate].empty() && !(reg = parse_date(v[kRegDate])))
        return fail("bad_time", "立案日期 '" + mask::free_text(v[kRegDate]) + "' is not a date in a format of §6.2");
    if (!v[kCloseDate].empty() && !(closed = parse_date(v[kCloseDate])))
        return fail("bad_time", "结案日期 '" + mask::free_text(v[kCloseDate]) + "' is not a date in a format of §6.2");
    std::optional<std::string> fine;
    if (!v[kFine].empty() && !(fine = parse_fine(v[kFine])))
        return fail("bad_value", "罚款金额 '" + mask::free_text(v[kFine]) + "' is not an amount in yuan");

    // Category (categories.json; a documented code without mapping → fallback, code kept).
    std::string code = cats.fallback;
    if (auto it = cats.code_of.find(v[kItemCode]); it != cats.code_of.end()) code = it->second;
    else r.warnings.push_back(where + ": 执法事项编码 " + v[kItemCode] + " has no mapping in categories.json; " + cats.fallback);

    // Parties (case model §2.1 parties[], §2.3; §6.8 unidentified parties).
    json parties = json::array();
    {
        const std::string& type = v[kPartyType];
        const bool any = !type.empty() || !v[kPartyName].empty() || !v[kPartyId].empty() || !v[kPhone].empty();
        if (any) {
            json p;
            std::string warn;
            auto phone = mask::phone(v[kPhone], &warn);
            if (!phone && !warn.empty()) r.warnings.push_back(where + ": 联系电话: " + warn + "; phone_masked null");
            if (type == "法人") {
                p["kind"] = "legal_person";
                const auto nm = mask::name(v[kPartyName]);  // only to detect 无名氏/无/empty
                p["name"] = nm ? json(lf(v[kPartyName])) : json(nullptr);
                if (v[kPartyId].empty()) {
                    p["id"] = nullptr;
                } else if (credit_code(v[kPartyId])) {
                    p["id"] = v[kPartyId];
                } else {
                    p["id"] = nullptr;
                    r.warnings.push_back(where + ": 证件号码 of a 法人 is not an 18-character 统一社会信用代码; id null");
                }
            } else {
                if (type != "自然人")
                    r.warnings.push_back(where + ": 当事人类型 '" + mask::free_text(type) +
                                         "' is not 自然人/法人; treated as a natural person (masked)");
                p["kind"] = "natural_person";
                const auto nm = mask::name(v[kPartyName]);
                p["name"] = nm ? json(*nm) : json(nullptr);
                std::string idwarn;
                const auto id = mask::resident_id(v[kPartyId], &idwarn);
                if (!id && !idwarn.empty()) r.warnings.push_back(where + ": 证件号码: " + idwarn + "; id null");
                p["id"] = id ? json(*id) : json(nullptr);
            }
            p["phone_masked"] = phone ? json(*phone) : json(nullptr);
            parties.push_back(std::move(p));
        }
    }

    // Description (case model §5.1), personal data in free text masked.
    const std::string place = lf(v[kPlace]);
    std::string desc = "案由：" + v[kCause] + "；地点：" + place + "；状态：" + v[kStatus];
    if (!v[kDecisionNo].empty() || fine) {
        desc += "；处罚：";
        if (!v[kDecisionNo].empty()) desc += v[kDecisionNo];
        if (!v[kDecisionNo].empty() && fine) desc += " ";
        if (fine) desc += *fine + "元";
    }
    desc = cut(mask::free_text(desc), 8000);

    json times = {{"reported_at", reg ? date_rfc3339(*reg) : *updated},
                  {"registered_at", reg ? json(date_rfc3339(*reg)) : json(nullptr)},
                  {"dispatched_at", nullptr},
                  {"due_at", nullptr},
                  {"resolved_at", nullptr},
                  {"closed_at", closed ? json(date_rfc3339(*closed)) : json(nullptr)},
                  {"updated_at", *updated}};

    json rec = {
        {"schema", "casehub.record/1"},
        {"source", {{"system", "enforcement"}, {"record_id", v[kId]}, {"version", *updated}, {"received_at", received_at}}},
        {"kind", "event"},
        {"appeal_type", nullptr},
        {"channel", *channel},
        {"category", {{"code", code}, {"native", {{"scheme", "enforcement.zfsx"}, {"code", v[kItemCode]}, {"name", v[kCause]}}}}},
        {"title", nullptr},
        {"description", desc},
        {"status", *status},
        {"status_native", v[kStatus]},
        {"priority", nullptr},
        {"times", times},
        {"location", {{"original", nullptr}, {"address", cut(mask::free_text(place), 2000)}, {"grid_code", nullptr}}},
        {"reporter", {{"kind", v[kSource] == "巡查发现" ? "enforcement_officer" : "unknown"},
                      {"name_masked", nullptr}, {"phone_masked", nullptr}, {"id_masked", nullptr}, {"worker_id", nullptr}}},
        {"parties", parties},
        {"responsible", json::array({{{"dept_code", nullptr}, {"name", v[kStreet]}, {"role", "lead"}}})},
        {"tags", json::array()},
        {"satisfaction", nullptr},
        {"confidentiality", "public"},
        {"attachments", json::array()},
        {"links", json::array()},
        {"raw_sha256", casehub::sdk::sha256_hex(raw)},
    };
    r.record = std::move(rec);
    return r;
}

// ---- cursor ---------------------------------------------------------------------------------

// `<file name>#<rows committed>`: rows [0, n) of that file are in the hub. Files are processed
// strictly one after the other, and a file is moved to done/ only after its last batch is acked,
// so every other file still in the folder has no committed row.
struct Cursor {
    std::string file;
    std::size_t rows = 0;

    std::string str() const { return file + "#" + std::to_string(rows); }
    static std::optional<Cursor> parse(std::string_view s) {
        const auto h = s.rfind('#');
        if (h == std::string_view::npos || h == 0 || h + 1 >= s.size() || s.size() - h > 10) return std::nullopt;
        Cursor c;
        c.file = std::string(s.substr(0, h));
        for (std::size_t k = h + 1; k < s.size(); ++k) {
            if (s[k] < '0' || s[k] > '9') return std::nullopt;
            c.rows = c.rows * 10 + static_cast<std::size_t>(s[k] - '0');
        }
        return c;
    }
};

// `ZFAJ_yyyyMMddHHmmss_NNN.csv` (§2).
inline bool export_file_name(std::string_view n) {
    if (n.size() != 27 || n.substr(0, 5) != "ZFAJ_" || n[19] != '_' || n.substr(23) != ".csv") return false;
    for (std::size_t k = 5; k < 23; ++k)
        if (k != 19 && (n[k] < '0' || n[k] > '9')) return false;
    return true;
}

}  // namespace enforcement
