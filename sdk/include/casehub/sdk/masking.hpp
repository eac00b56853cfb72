// Masking of personal data in the adapter (case-model.md §2.3). Header-only, standard library
// only. Raw values never leave the adapter: only what these functions return may be logged,
// dead-lettered or sent to the hub.
//
//   rec["reporter"]["phone_masked"] = to_json(mask::phone(native_phone, &warning));
//   rec["description"] = mask::free_text(native_text);
//
// Structured fields:
//   phone(raw)       mobile (11 digits starting 1 after removing +86 / 0086 / 86, spaces, '-')
//                    → first 3 + "****" + last 4; other numbers of 7–12 digits → first 4 + one
//                    '*' per hidden digit + last 2; 1–6 digits → all '*'. Several numbers
//                    separated by / , ， ; ； 、 or by spaces between complete numbers → each
//                    masked, joined with ','. Not-personal values → nullopt.
//   resident_id(raw) 18 digits (last may be X/x) → first 6 + "********" + last 4; 15 digits →
//                    first 6 + "*****" + last 4; any other document → last 2 characters kept,
//                    every other character '*'. Spreadsheet number forms → nullopt + warning.
//   name(raw)        first code point + one '*' per remaining code point; one code point → "*".
//   free_text(text)  every phone candidate and resident-ID candidate of §2.3 replaced by its
//                    masked form (the whole candidate, prefix, parentheses and separators
//                    included).
//
// Decisions where §2.3 leaves room:
//   - Not-personal values (匿名 保密 无 无名氏 不详 未知, empty) are matched exactly after trimming
//     ASCII white space and U+3000; they give nullopt without a warning.
//   - Unreadable values give nullopt and, if `warning` is non-null, a one-line reason that names
//     the problem but never repeats the value (warnings are logged). The caller prefixes the
//     field name. A list of phone numbers with one unreadable member is unreadable as a whole;
//     not-personal members of a list (`13851234567/无`) are skipped.
//   - Full-width forms (U+FF01–U+FF5E, e.g. `１３８`, `＋８６`, `（０２５）`, `Ｘ`) and U+3000 are read as
//     their ASCII counterparts, in fields and in free text. Masked output always uses ASCII digits
//     and ASCII 'X' (a lower-case x ending a resident ID is written upper-case).
//   - Prefix: `+86`, `0086` are always removed; a bare `86` only when what follows is a mobile
//     number (13 digits `86 1xxxxxxxxxx`). The prefix is not part of the masked form. After an
//     explicit `+86`/`0086` a fixed line may omit its trunk 0 (`+86 25 8451 2345`); it is then
//     masked as the 10–11 digits written (`2584****45`). In a field, parentheses around the
//     area code are accepted as in free text.
//   - Spaces in a phone field: a space splits two numbers when the digits before it already form
//     a complete number (a mobile, or 10–12 digits starting with 0) or when joining would give
//     more than 12 digits; otherwise it is a grouping space (`138 5123 4567`, `025 84512345`).
//   - Free text: a run is maximal digits with single spaces or '-' between them. Inside a run,
//     the longest stretch of whole digit groups starting at each group that is a phone (with
//     optional prefix) is masked, so `13851234567 02584512345` masks both. A resident ID is a
//     single group without separators (15 digits, 18 digits, or 17 digits + X/x); `0086`+mobile
//     (15 digits) is a phone, not an ID. A digit group joined to a decimal point and a digit
//     (`13851234567.50`) is an amount and is left alone, as are groups of other lengths
//     (order numbers). Invalid UTF-8 bytes in free text are copied through unchanged.
//   - Invalid UTF-8 in name(): each bad byte counts as one character; if the first character is
//     bad it is written as U+FFFD, so the output is always valid UTF-8.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <casehub/sdk/utf8.hpp>

namespace casehub::sdk::mask {

namespace detail {

struct CodePoint {
    char32_t cp;        // decoded value; 0xFFFD for an invalid byte
    std::size_t begin;  // byte offset in the source
    std::size_t end;
};

// Lenient UTF-8 decoding: an ill-formed sequence yields one U+FFFD per bad byte.
inline std::vector<CodePoint> decode(std::string_view s) {
    std::vector<CodePoint> out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        char32_t cp = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (c < 0x80) {
            out.push_back({c, i, i + 1});
            ++i;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F;
        } else if (c == 0xE0) {
            len = 3, cp = c & 0x0F, lo = 0xA0;
        } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
            len = 3, cp = c & 0x0F;
        } else if (c == 0xED) {
            len = 3, cp = c & 0x0F, hi = 0x9F;
        } else if (c == 0xF0) {
            len = 4, cp = c & 0x07, lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            len = 4, cp = c & 0x07;
        } else if (c == 0xF4) {
            len = 4, cp = c & 0x07, hi = 0x8F;
        }
        bool ok = len != 0 && s.size() - i >= len;
        for (std::size_t k = 1; ok && k < len; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) ok = false;
            cp = (cp << 6) | (b & 0x3F);
        }
        if (!ok) {
            out.push_back({0xFFFD, i, i + 1});
            ++i;
        } else {
            out.push_back({cp, i, i + len});
            i += len;
        }
    }
    return out;
}

inline void append_utf8(std::string& out, char32_t cp) { utf8::append(out, cp); }

// Full-width ASCII forms (U+FF01–U+FF5E) and the ideographic space read as ASCII.
constexpr char32_t fold(char32_t cp) noexcept {
    if (cp >= 0xFF01 && cp <= 0xFF5E) return cp - 0xFF01 + 0x21;
    if (cp == 0x3000) return U' ';
    return cp;
}

constexpr bool is_space(char32_t cp) noexcept {
    return cp == U' ' || cp == U'\t' || cp == U'\n' || cp == U'\r' || cp == U'\v' ||
           cp == U'\f' || cp == 0x3000;
}

constexpr bool is_digit(char32_t cp) noexcept { return cp >= U'0' && cp <= U'9'; }

// Code points of `raw`, folded, without leading and trailing white space.
inline std::vector<char32_t> folded_trimmed(std::string_view raw) {
    std::vector<char32_t> v;
    for (const auto& c : decode(raw)) v.push_back(fold(c.cp));
    std::size_t b = 0, e = v.size();
    while (b < e && is_space(v[b])) ++b;
    while (e > b && is_space(v[e - 1])) --e;
    return {v.begin() + static_cast<std::ptrdiff_t>(b), v.begin() + static_cast<std::ptrdiff_t>(e)};
}

inline std::string to_utf8(const std::vector<char32_t>& v) {
    std::string s;
    for (char32_t cp : v) append_utf8(s, cp);
    return s;
}

// §2.3: values that are not personal data.
inline bool not_personal(const std::vector<char32_t>& trimmed) {
    if (trimmed.empty()) return true;
    const std::string s = to_utf8(trimmed);
    for (std::string_view w : {"匿名", "保密", "无", "无名氏", "不详", "未知"})
        if (s == w) return true;
    return false;
}

inline void set_warning(std::string* warning, std::string_view text) {
    if (warning) *warning = text;
}

// A phone number already reduced to its digits (prefix removed).
inline std::string mask_phone_digits(std::string_view d) {
    const std::size_t n = d.size();
    if (n == 11 && d[0] == '1') return std::string(d.substr(0, 3)) + "****" + std::string(d.substr(7));
    if (n >= 7) return std::string(d.substr(0, 4)) + std::string(n - 6, '*') + std::string(d.substr(n - 2));
    return std::string(n, '*');
}

// `d` (digits) is a mobile number, or a fixed line of 10–12 digits starting with 0.
constexpr bool complete_phone(std::string_view d) noexcept {
    return (d.size() == 11 && d[0] == '1') || (d.size() >= 10 && d.size() <= 12 && d[0] == '0');
}

// Removes the country prefix from the digits `d`. `plus`: the number was written with '+'.
// Returns false when a '+' is not followed by 86.
inline bool strip_prefix(std::string& d, bool plus) {
    if (plus) {
        if (d.size() < 2 || d.compare(0, 2, "86") != 0) return false;
        d.erase(0, 2);
    } else if (d.size() > 4 && d.compare(0, 4, "0086") == 0) {
        d.erase(0, 4);
    } else if (d.size() == 13 && d.compare(0, 3, "861") == 0) {
        d.erase(0, 2);
    }
    return true;
}

enum class Parse { ok, empty, bad_char, bad_plus, too_long };

// One phone number written with digits, spaces, '-', an optional leading '+' and at most one
// pair of parentheses. `out` receives its digits with the prefix removed.
inline Parse parse_one_phone(const std::vector<char32_t>& t, std::string& out) {
    out.clear();
    bool plus = false, open = false, closed = false;
    for (std::size_t i = 0; i < t.size(); ++i) {
        const char32_t c = t[i];
        if (is_digit(c)) {
            out += static_cast<char>(c);
        } else if (c == U'+' && out.empty() && !plus && !open) {
            plus = true;
        } else if (c == U'(' && !open && !closed) {
            open = true;
        } else if (c == U')' && open && !closed && !out.empty()) {
            closed = true;
        } else if (c != U' ' && c != U'-') {
            return Parse::bad_char;
        }
    }
    if (open && !closed) return Parse::bad_char;
    if (!strip_prefix(out, plus)) return Parse::bad_plus;
    if (out.empty()) return Parse::empty;
    if (out.size() > 12) return Parse::too_long;
    return Parse::ok;
}

constexpr bool list_separator(char32_t c) noexcept {
    return c == U'/' || c == U',' || c == U';' || c == U'、';  // ， ； are folded to , ;
}

// ---- free text ----------------------------------------------------------------------------

struct Group {
    std::size_t first, last;  // indices (inclusive) of the group's first and last digit
    std::size_t start;        // index where a candidate starting with this group begins
                              // ('(' of a parenthesised area code, else `first`)
    bool amount = false;      // joined to a decimal point: never part of a candidate
};

inline bool paren_open(char32_t c) noexcept { return c == U'('; }
inline bool paren_close(char32_t c) noexcept { return c == U')'; }

}  // namespace detail

// ---------------------------------------------------------------------------------------------

inline std::optional<std::string> phone(std::string_view raw, std::string* warning = nullptr) {
    using namespace detail;
    const auto v = folded_trimmed(raw);
    if (not_personal(v)) return std::nullopt;

    // Split on list separators; each piece is split further on spaces between complete numbers.
    std::vector<std::vector<char32_t>> pieces(1);
    for (char32_t c : v) {
        if (list_separator(c)) pieces.emplace_back();
        else pieces.back().push_back(c == U'\t' ? U' ' : c);
    }

    std::string result;
    std::string digits, joined_digits;
    auto fail = [&](Parse p) -> std::optional<std::string> {
        switch (p) {
        case Parse::bad_char:
            set_warning(warning, "phone: not readable as a phone number (letters or other characters)");
            break;
        case Parse::bad_plus:
            set_warning(warning, "phone: international prefix other than +86");
            break;
        case Parse::too_long:
            set_warning(warning, "phone: more than 12 digits");
            break;
        default:
            set_warning(warning, "phone: no digits");
            break;
        }
        return std::nullopt;
    };
    auto emit = [&](const std::string& d) {
        if (!result.empty()) result += ',';
        result += mask_phone_digits(d);
    };

    for (auto& piece : pieces) {
        // Trim the piece.
        std::size_t b = 0, e = piece.size();
        while (b < e && is_space(piece[b])) ++b;
        while (e > b && is_space(piece[e - 1])) --e;
        std::vector<char32_t> p(piece.begin() + static_cast<std::ptrdiff_t>(b),
                                piece.begin() + static_cast<std::ptrdiff_t>(e));
        if (not_personal(p)) continue;  // empty piece (`a/`) or `无` inside a list

        // Tokens separated by runs of spaces.
        std::vector<std::vector<char32_t>> tokens(1);
        for (char32_t c : p) {
            if (is_space(c)) {
                if (!tokens.back().empty()) tokens.emplace_back();
            } else {
                tokens.back().push_back(c);
            }
        }
        std::vector<char32_t> acc = tokens[0];
        for (std::size_t k = 1; k < tokens.size(); ++k) {
            std::vector<char32_t> joined = acc;
            joined.push_back(U' ');
            joined.insert(joined.end(), tokens[k].begin(), tokens[k].end());
            const Parse pa = parse_one_phone(acc, digits);
            const Parse pj = parse_one_phone(joined, joined_digits);
            const bool split = (pa == Parse::ok && complete_phone(digits)) ||
                               (pa == Parse::ok && pj == Parse::too_long);
            if (split) {
                emit(digits);
                acc = tokens[k];
            } else {
                acc = std::move(joined);
            }
        }
        const Parse pa = parse_one_phone(acc, digits);
        if (pa != Parse::ok) return fail(pa);
        emit(digits);
    }
    if (result.empty()) return std::nullopt;  // only not-personal members
    return result;
}

inline std::optional<std::string> resident_id(std::string_view raw, std::string* warning = nullptr) {
    using namespace detail;
    const auto v = folded_trimmed(raw);
    if (not_personal(v)) return std::nullopt;

    // Spreadsheet number forms: 3.20104E+17, 320104198807121234.0, 1.5e10.
    {
        std::size_t i = 0;
        auto digits = [&] {
            const std::size_t s = i;
            while (i < v.size() && is_digit(v[i])) ++i;
            return i - s;
        };
        bool number = digits() > 0, fraction = false, exponent = false;
        if (number && i < v.size() && v[i] == U'.') {
            ++i;
            fraction = digits() > 0;
            number = fraction;
        }
        if (number && i < v.size() && (v[i] == U'E' || v[i] == U'e')) {
            ++i;
            if (i < v.size() && (v[i] == U'+' || v[i] == U'-')) ++i;
            exponent = digits() > 0;
            number = exponent;
        }
        if (number && i == v.size() && (fraction || exponent)) {
            set_warning(warning, "id: spreadsheet number form (digits lost), not readable as an identity document");
            return std::nullopt;
        }
    }

    std::size_t n_digits = 0;
    for (char32_t c : v) n_digits += is_digit(c);
    const std::size_t n = v.size();
    const bool all_digits = n_digits == n;
    const bool x_last = n == 18 && n_digits == 17 && (v[17] == U'X' || v[17] == U'x');
    if ((n == 18 && (all_digits || x_last)) || (n == 15 && all_digits)) {
        std::string out;
        for (std::size_t k = 0; k < 6; ++k) out += static_cast<char>(v[k]);
        out += std::string(n == 18 ? 8 : 5, '*');
        for (std::size_t k = n - 4; k < n; ++k) out += static_cast<char>(v[k] == U'x' ? U'X' : v[k]);
        return out;
    }
    if (n <= 2) {
        set_warning(warning, "id: too short to be an identity document");
        return std::nullopt;
    }
    // Other identity documents: last 2 kept, every other character '*'.
    std::string out(n - 2, '*');
    append_utf8(out, v[n - 2]);
    append_utf8(out, v[n - 1]);
    return out;
}

inline std::optional<std::string> name(std::string_view raw) {
    using namespace detail;
    // Trim without folding: the first character is kept as written.
    auto cps = decode(raw);
    std::size_t b = 0, e = cps.size();
    while (b < e && is_space(cps[b].cp)) ++b;
    while (e > b && is_space(cps[e - 1].cp)) --e;
    std::vector<char32_t> v;
    for (std::size_t k = b; k < e; ++k) v.push_back(cps[k].cp);
    if (not_personal(v)) return std::nullopt;
    if (v.size() == 1) return std::string("*");
    std::string out;
    append_utf8(out, v[0]);
    out += std::string(v.size() - 1, '*');
    return out;
}

inline std::string free_text(std::string_view text) {
    using namespace detail;
    const auto cps = decode(text);
    const std::size_t n = cps.size();
    std::vector<char32_t> f(n);
    for (std::size_t i = 0; i < n; ++i) f[i] = fold(cps[i].cp);
    auto dig = [&](std::size_t i) { return i < n && is_digit(f[i]); };

    struct Replacement {
        std::size_t from, to;  // code point indices [from, to)
        std::string with;
    };
    std::vector<Replacement> reps;

    std::size_t i = 0;
    while (i < n) {
        // A run starts at a digit not preceded by a digit, or at '(' + digits + ')'.
        const bool at_paren = paren_open(f[i]) && dig(i + 1);
        if (!(dig(i) || at_paren) || (i > 0 && dig(i - 1))) {
            ++i;
            continue;
        }
        // Collect the run's digit groups.
        std::vector<Group> groups;
        std::size_t j = i;
        bool first = true;
        while (true) {
            std::size_t start = j;
            bool paren = false;
            if (first && paren_open(f[j])) {
                paren = true;
                ++j;
            }
            const std::size_t g0 = j;
            while (dig(j)) ++j;
            if (j == g0) break;  // defensive; cannot happen
            Group g{g0, j - 1, start};
            if (paren) {
                // "(025)" must close right after its digits and be followed by the number,
                // directly or after one space or '-'.
                if (j < n && paren_close(f[j]) &&
                    (dig(j + 1) || (j + 2 < n && (f[j + 1] == U' ' || f[j + 1] == U'-') && dig(j + 2)))) {
                    groups.push_back(g);
                    j += dig(j + 1) ? 1 : 2;
                    first = false;
                    continue;
                }
                g.start = g0;  // unmatched '(': an ordinary group
            }
            // Decimal point before or after: an amount.
            if ((g0 >= 2 && f[g0 - 1] == U'.' && dig(g0 - 2)) || (j + 1 < n && f[j] == U'.' && dig(j + 1)))
                g.amount = true;
            groups.push_back(g);
            first = false;
            if (j + 1 < n && (f[j] == U' ' || f[j] == U'-') && dig(j + 1)) {
                ++j;
                continue;
            }
            break;
        }
        const std::size_t run_end = j;  // index after the run's last digit (or ')')
        if (groups.empty()) {
            i = std::max(i + 1, run_end);
            continue;
        }

        // Within the run: at each group, the longest stretch of whole groups that is a phone,
        // else a resident ID made of that group alone.
        std::size_t a = 0;
        while (a < groups.size()) {
            bool done = false;
            std::string d;
            std::vector<std::string> concat;  // digits of groups a..b
            for (std::size_t b = a; b < groups.size() && !groups[b].amount; ++b) {
                std::string s = concat.empty() ? std::string() : concat.back();
                for (std::size_t k = groups[b].first; k <= groups[b].last; ++k)
                    s += static_cast<char>(f[k]);
                if (s.size() > 16) break;
                concat.push_back(std::move(s));
            }
            for (std::size_t len = concat.size(); len > 0 && !done; --len) {
                const std::string& s = concat[len - 1];
                const std::size_t b = a + len - 1;
                std::size_t from = groups[a].start;
                const bool plus = from > 0 && f[from - 1] == U'+' && from == groups[a].first;
                d = s;
                bool ok = false;
                if (plus && d.size() > 2 && d.compare(0, 2, "86") == 0) {
                    d.erase(0, 2);
                    // After +86 the trunk 0 of a fixed line may be left out.
                    ok = complete_phone(d) || (d.size() >= 9 && d.size() <= 11 && d[0] != '0' && d[0] != '1');
                    if (ok) --from;  // the '+' belongs to the candidate
                }
                if (!ok) {
                    d = s;
                    if (d.size() > 4 && d.compare(0, 4, "0086") == 0) {
                        d.erase(0, 4);
                        ok = complete_phone(d) || (d.size() >= 9 && d.size() <= 11 && d[0] != '0' && d[0] != '1');
                    }
                }
                if (!ok) {
                    d = s;
                    if (d.size() == 13 && d.compare(0, 3, "861") == 0) d.erase(0, 2);
                    ok = complete_phone(d);
                }
                if (ok) {
                    reps.push_back({from, groups[b].last + 1, mask_phone_digits(d)});
                    a = b + 1;
                    done = true;
                }
            }
            if (done) continue;
            const Group& g = groups[a];
            const std::size_t len = g.last - g.first + 1;
            if (!g.amount && g.start == g.first) {
                const bool x = len == 17 && g.last + 1 < n && (f[g.last + 1] == U'X' || f[g.last + 1] == U'x');
                if (len == 18 || len == 15 || x) {
                    std::string out;
                    for (std::size_t k = g.first; k < g.first + 6; ++k) out += static_cast<char>(f[k]);
                    out += std::string(len == 15 ? 5 : 8, '*');
                    const std::size_t end = x ? g.last + 2 : g.last + 1;
                    for (std::size_t k = end - 4; k < end; ++k)
                        out += static_cast<char>(f[k] == U'x' ? U'X' : f[k]);
                    reps.push_back({g.first, end, std::move(out)});
                }
            }
            ++a;
        }
        i = std::max(i + 1, run_end);
    }

    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;  // byte position in text
    for (const auto& r : reps) {
        const std::size_t from = cps[r.from].begin;
        out.append(text.substr(pos, from - pos));
        out += r.with;
        pos = cps[r.to - 1].end;
    }
    out.append(text.substr(pos));
    return out;
}

}  // namespace casehub::sdk::mask
