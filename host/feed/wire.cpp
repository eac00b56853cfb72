#include "feed/wire.hpp"

#include "common/json_dump.hpp"

#include <casehub/sdk/utf8.hpp>

#include <nlohmann/json.hpp>

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace casehub::host::wire {

namespace {

using uchar = unsigned char;
constexpr auto npos = std::string_view::npos;

// Length of the well-formed UTF-8 sequence at p (the ranges nlohmann's lexer accepts), 0 when
// there is none.
std::size_t utf8_len(const uchar* p, const uchar* end) {
    return p[0] < 0x80 ? 1 : static_cast<std::size_t>(json_dump_detail::utf8_length(p, end));
}

void append_u64(std::string& out, std::uint64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

void append_i64(std::string& out, std::int64_t v) {
    char buf[24];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

using json_dump_detail::skip_plain;

// A recursive descent over one JSON value, no allocation but for floats. Both modes decline
// (the caller then asks nlohmann) anything they are not sure of, an escaped key among it, and
// take only objects whose keys strictly increase, so no key is there twice.
//   Canonical: the text is exactly what nlohmann's dump() writes of the value it reads.
//   !Canonical: nlohmann reads it, and reads the same value back from its own dump() of it
//     (a number's text and the form of a string's escapes are not checked).
template <bool Canonical>
class Scan {
public:
    Scan(const char* p, const char* e) : p_(p), e_(e) {}
    bool value(int depth) {
        if (p_ == e_ || depth > kMaxDepth) return false;
        switch (*p_) {
            case '{': return object(depth);
            case '[': return array(depth);
            case '"': return string(nullptr);
            case 't': return word("true");
            case 'f': return word("false");
            case 'n': return word("null");
            default: return number();
        }
    }
    const char* pos() const { return p_; }

private:
    static constexpr int kMaxDepth = 200;  // deeper than any detail; beyond it nlohmann decides

    bool word(std::string_view w) {
        if (static_cast<std::size_t>(e_ - p_) < w.size() || std::memcmp(p_, w.data(), w.size()) != 0) return false;
        p_ += w.size();
        return true;
    }

    // `key`: when set, the raw content, and the string must hold no escape (the key order is
    // then checked on the raw bytes, which is the decoded order).
    bool string(std::string_view* key) {
        ++p_;  // the opening quote
        const char* start = p_;
        while (p_ < e_) {
            const uchar c = static_cast<uchar>(*p_);
            if (c == '"') {
                if (key) *key = std::string_view(start, static_cast<std::size_t>(p_ - start));
                ++p_;
                return true;
            }
            if (c < 0x20) return false;  // not JSON at all
            if (c == '\\') {
                if (key || e_ - p_ < 2) return false;
                const char x = p_[1];
                if (x == '"' || x == '\\' || x == 'b' || x == 'f' || x == 'n' || x == 'r' || x == 't') {
                    p_ += 2;
                    continue;
                }
                if constexpr (!Canonical) {
                    if (x == '/') {
                        p_ += 2;
                        continue;
                    }
                    if (x != 'u' || !code_unit_escape()) return false;
                    continue;
                }
                // nlohmann writes \u00xx (lower case) only for the controls without a short form.
                if (x != 'u' || e_ - p_ < 6 || p_[2] != '0' || p_[3] != '0') return false;
                const int hi = hex_value(p_[4]), lo = hex_value(p_[5]);
                if (hi < 0 || hi > 1 || lo < 0 || (p_[5] >= 'A' && p_[5] <= 'F')) return false;
                const int cp = hi * 16 + lo;
                if (cp == 0x08 || cp == 0x09 || cp == 0x0A || cp == 0x0C || cp == 0x0D) return false;
                p_ += 6;
                continue;
            }
            if (c < 0x80) {
                // In an ASCII run (most of a detail: keys, codes), eight bytes at a time.
                p_ = skip_plain(p_ + 1, e_);
                continue;
            }
            const std::size_t n = utf8_len(reinterpret_cast<const uchar*>(p_), reinterpret_cast<const uchar*>(e_));
            if (n == 0) return false;
            p_ += n;
        }
        return false;
    }

    bool object(int depth) {
        ++p_;
        if (p_ < e_ && *p_ == '}') {
            ++p_;
            return true;
        }
        std::string_view prev;
        bool first = true;
        for (;;) {
            if (p_ == e_ || *p_ != '"') return false;
            std::string_view key;
            if (!string(&key)) return false;
            // nlohmann keeps an object in a std::map: sorted, one value per key.
            if (!first && !(prev < key)) return false;
            prev = key;
            first = false;
            if (p_ == e_ || *p_++ != ':') return false;
            if (!value(depth + 1)) return false;
            if (p_ == e_) return false;
            if (*p_ == '}') {
                ++p_;
                return true;
            }
            if (*p_++ != ',') return false;
        }
    }

    bool array(int depth) {
        ++p_;
        if (p_ < e_ && *p_ == ']') {
            ++p_;
            return true;
        }
        for (;;) {
            if (!value(depth + 1)) return false;
            if (p_ == e_) return false;
            if (*p_ == ']') {
                ++p_;
                return true;
            }
            if (*p_++ != ',') return false;
        }
    }

    bool number() {
        const char* start = p_;
        const bool neg = p_ < e_ && *p_ == '-';
        if (neg) ++p_;
        if (p_ == e_ || *p_ < '0' || *p_ > '9') return false;
        if (*p_ == '0') {
            ++p_;
        } else {
            while (p_ < e_ && *p_ >= '0' && *p_ <= '9') ++p_;
        }
        bool is_float = false;
        if (p_ < e_ && *p_ == '.') {
            is_float = true;
            ++p_;
            if (p_ == e_ || *p_ < '0' || *p_ > '9') return false;
            while (p_ < e_ && *p_ >= '0' && *p_ <= '9') ++p_;
        }
        if (p_ < e_ && (*p_ == 'e' || *p_ == 'E')) {
            is_float = true;
            ++p_;
            if (p_ < e_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (p_ == e_ || *p_ < '0' || *p_ > '9') return false;
            while (p_ < e_ && *p_ >= '0' && *p_ <= '9') ++p_;
        }
        const std::string_view tok(start, static_cast<std::size_t>(p_ - start));
        if constexpr (!Canonical) {
            // nlohmann reads any such text; it refuses only a float beyond double's range,
            // possible with an exponent or past 308 digits (those are left to it).
            if (tok.size() > 300) return false;
            const bool exponent = tok.find_first_of("eE") != std::string_view::npos;
            if (!exponent) return true;
            double d = 0;
            const auto r = std::from_chars(tok.data(), tok.data() + tok.size(), d);
            return r.ec == std::errc() && r.ptr == tok.data() + tok.size() && std::isfinite(d);
        }
        if (!is_float) {
            // nlohmann: unsigned if it fits, signed if negative and fits, else a float (whose
            // dump differs); "-0" is the integer 0.
            if (neg) {
                if (tok == "-0") return false;
                std::int64_t v = 0;
                const auto r = std::from_chars(tok.data(), tok.data() + tok.size(), v);
                return r.ec == std::errc() && r.ptr == tok.data() + tok.size();
            }
            std::uint64_t v = 0;
            const auto r = std::from_chars(tok.data(), tok.data() + tok.size(), v);
            return r.ec == std::errc() && r.ptr == tok.data() + tok.size();
        }
        // A float is canonical when nlohmann writes the value it reads back as the same text:
        // from_chars rounds as its lexer's strtod does (correctly); out of range is left to it.
        // Its dump() of a finite double is exactly detail::to_chars into a 64-byte buffer,
        // called here without the serializer (whose locale look-up and string cost more).
        // The answer depends on the text alone, and details repeat the same few hundred
        // scores and distances: texts found canonical are remembered (float_memo()).
        auto& memo = float_memo();
        if (memo.has(tok)) return true;
        double d = 0;
        const auto r = std::from_chars(tok.data(), tok.data() + tok.size(), d);
        if (r.ec != std::errc() || r.ptr != tok.data() + tok.size() || !std::isfinite(d)) return false;
        std::array<char, 64> buf{};
        const char* end = nlohmann::detail::to_chars(buf.data(), buf.data() + buf.size(), d);
        if (std::string_view(buf.data(), static_cast<std::size_t>(end - buf.data())) != tok) return false;
        memo.add(tok);
        return true;
    }

    // At p_, "\\uXXXX" as nlohmann's lexer takes it: a high surrogate only followed by an
    // escaped low one, never a low one alone. Moves past it (and its pair).
    bool code_unit_escape() {
        auto hex4_at = [&](const char* q, unsigned& v) {
            if (e_ - q < 6 || q[0] != '\\' || q[1] != 'u') return false;
            v = 0;
            for (int i = 2; i < 6; ++i) {
                const int h = hex_value(q[i]);
                if (h < 0) return false;
                v = v * 16 + static_cast<unsigned>(h);
            }
            return true;
        };
        unsigned cp = 0;
        if (!hex4_at(p_, cp) || (cp >= 0xDC00 && cp <= 0xDFFF)) return false;
        p_ += 6;
        if (cp < 0xD800 || cp > 0xDBFF) return true;
        unsigned lo = 0;
        if (!hex4_at(p_, lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
        p_ += 6;
        return true;
    }

    // Float texts known canonical, per thread (the replay server's, each client's): direct
    // mapped on a hash of the text; a miss is only the full check again.
    struct FloatMemo {
        static constexpr std::size_t kSlots = 4096, kMaxLen = 23;
        struct Slot {
            std::uint8_t len = 0;  // 0: empty
            char text[kMaxLen];
        };
        std::array<Slot, kSlots> slots{};

        static std::size_t index(std::string_view t) {
            std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
            for (const char c : t) h = (h ^ static_cast<uchar>(c)) * 0x100000001b3ull;
            return static_cast<std::size_t>(h ^ (h >> 29)) & (kSlots - 1);
        }
        bool has(std::string_view t) const {
            if (t.size() > kMaxLen) return false;
            const Slot& s = slots[index(t)];
            return s.len == t.size() && std::memcmp(s.text, t.data(), t.size()) == 0;
        }
        void add(std::string_view t) {
            if (t.size() > kMaxLen) return;
            Slot& s = slots[index(t)];
            s.len = static_cast<std::uint8_t>(t.size());
            std::memcpy(s.text, t.data(), t.size());
        }
    };
    static FloatMemo& float_memo() {
        thread_local FloatMemo memo;
        return memo;
    }

    const char* p_;
    const char* e_;
};

struct Reader {
    const char* p;
    const char* e;

    bool lit(std::string_view s) {
        if (static_cast<std::size_t>(e - p) < s.size() || std::memcmp(p, s.data(), s.size()) != 0) return false;
        p += s.size();
        return true;
    }

    // Digits of a JSON integer without a sign; declines leading zeros and anything a float has.
    bool digits(std::uint64_t& v) {
        const char* start = p;
        if (p == e || *p < '0' || *p > '9') return false;
        if (*p == '0' && p + 1 < e && p[1] >= '0' && p[1] <= '9') return false;
        const auto r = std::from_chars(p, e, v);
        if (r.ec != std::errc()) return false;
        p = r.ptr;
        if (p < e && (*p == '.' || *p == 'e' || *p == 'E')) return false;
        return p > start;
    }

    bool u64(std::uint64_t& v) { return digits(v); }

    bool i64(std::int64_t& v) {
        const bool neg = p < e && *p == '-';
        if (neg) ++p;
        std::uint64_t m = 0;
        if (!digits(m)) return false;
        if (neg) {
            if (m == 0 || m > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1) return false;
            v = m == static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()) + 1
                    ? std::numeric_limits<std::int64_t>::min()
                    : -static_cast<std::int64_t>(m);
            return true;
        }
        if (m > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return false;
        v = static_cast<std::int64_t>(m);
        return true;
    }

    // A JSON string, decoded as nlohmann decodes it; declines what nlohmann rejects.
    bool str(std::string& out) {
        out.clear();
        if (p == e || *p != '"') return false;
        ++p;
        for (;;) {
            const char* run = p;
            p = skip_plain(p, e);
            while (p < e) {
                const uchar c = static_cast<uchar>(*p);
                if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
                ++p;
            }
            out.append(run, p);
            if (p == e) return false;
            const uchar c = static_cast<uchar>(*p);
            if (c == '"') {
                ++p;
                return true;
            }
            if (c < 0x20) return false;
            if (c >= 0x80) {
                const std::size_t n = utf8_len(reinterpret_cast<const uchar*>(p), reinterpret_cast<const uchar*>(e));
                if (n == 0) return false;
                out.append(p, n);
                p += n;
                continue;
            }
            if (!escape(out)) return false;
        }
    }

    bool hex4(unsigned& v) {
        if (e - p < 4) return false;
        v = 0;
        for (int i = 0; i < 4; ++i) {
            const int h = hex_value(p[i]);
            if (h < 0) return false;
            v = v * 16 + static_cast<unsigned>(h);
        }
        p += 4;
        return true;
    }

    bool escape(std::string& out) {
        if (e - p < 2) return false;
        const char x = p[1];
        p += 2;
        switch (x) {
            case '"': out += '"'; return true;
            case '\\': out += '\\'; return true;
            case '/': out += '/'; return true;
            case 'b': out += '\b'; return true;
            case 'f': out += '\f'; return true;
            case 'n': out += '\n'; return true;
            case 'r': out += '\r'; return true;
            case 't': out += '\t'; return true;
            case 'u': break;
            default: return false;
        }
        unsigned cp = 0;
        if (!hex4(cp)) return false;
        if (cp >= 0xDC00 && cp <= 0xDFFF) return false;  // a lone low surrogate
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo = 0;
            if (!lit("\\u") || !hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        }
        sdk::utf8::append(out, static_cast<char32_t>(cp));
        return true;
    }
};

}  // namespace

EventFields fields_of(const EventRow& e) {
    EventFields f;
    f.seq = e.seq;
    f.case_id = e.case_id;
    f.type = e.type;
    f.street_code = e.street_code;
    f.prev_street_seq = e.prev_street_seq;
    f.community_code = e.community_code;
    f.grid_code = e.grid_code;
    f.category_family = e.category_family;
    f.status = e.status;
    f.at = e.at;
    f.detail = e.detail;
    f.detail_canonical = e.detail_canonical;
    return f;
}

bool append_event_header(std::string& out, const EventFields& e) {
    // nlohmann's key order (its objects are sorted maps), so the bytes are what it wrote.
    out += "{\"at\":";
    append_i64(out, e.at);
    out += ",\"case_id\":";
    if (!append_json_string(out, e.case_id)) return false;
    out += ",\"category_family\":";
    if (!append_json_string(out, e.category_family)) return false;
    out += ",\"community_code\":";
    if (!append_json_string(out, e.community_code)) return false;
    out += ",\"detail\":";
    if (e.detail.empty()) {
        out += "{}";
    } else {
        // Stored by the hub as nlohmann's dump(): inserted as is when it is in that form.
        if (e.detail.front() != '{' || (!e.detail_canonical && !is_canonical_json(e.detail))) return false;
        out += e.detail;
    }
    out += ",\"grid_code\":";
    if (!append_json_string(out, e.grid_code)) return false;
    out += ",\"prev_street_seq\":";
    append_u64(out, e.prev_street_seq);
    out += ",\"seq\":";
    append_u64(out, e.seq);
    out += ",\"status\":";
    if (!append_json_string(out, e.status)) return false;
    out += ",\"street_code\":";
    if (!append_json_string(out, e.street_code)) return false;
    out += ",\"type\":";
    if (!append_json_string(out, e.type)) return false;
    out += '}';
    return true;
}

std::size_t canonical_json_end(std::string_view text, std::size_t pos) {
    if (pos >= text.size()) return npos;
    Scan<true> c(text.data() + pos, text.data() + text.size());
    if (!c.value(0)) return npos;
    return static_cast<std::size_t>(c.pos() - text.data());
}

std::size_t json_value_end(std::string_view text, std::size_t pos) {
    if (pos >= text.size()) return npos;
    Scan<false> c(text.data() + pos, text.data() + text.size());
    if (!c.value(0)) return npos;
    return static_cast<std::size_t>(c.pos() - text.data());
}

bool parse_event_header_fast(std::string_view header, EventRow& out) {
    Reader r{header.data(), header.data() + header.size()};
    if (!r.lit("{\"at\":") || !r.i64(out.at)) return false;
    if (!r.lit(",\"case_id\":") || !r.str(out.case_id)) return false;
    if (!r.lit(",\"category_family\":") || !r.str(out.category_family)) return false;
    if (!r.lit(",\"community_code\":") || !r.str(out.community_code)) return false;
    if (!r.lit(",\"detail\":")) return false;
    {
        // The server's text as it is, once it is known to be a JSON object nlohmann reads the
        // same from it as from its dump(): what casehubd sends is that dump already.
        const std::size_t at = static_cast<std::size_t>(r.p - header.data());
        if (r.p == r.e || *r.p != '{') return false;
        const std::size_t end = json_value_end(header, at);
        if (end == npos) return false;
        out.detail.assign(header.data() + at, end - at);
        r.p = header.data() + end;
    }
    if (!r.lit(",\"grid_code\":") || !r.str(out.grid_code)) return false;
    if (!r.lit(",\"prev_street_seq\":") || !r.u64(out.prev_street_seq)) return false;
    if (!r.lit(",\"seq\":") || !r.u64(out.seq)) return false;
    if (!r.lit(",\"status\":") || !r.str(out.status)) return false;
    if (!r.lit(",\"street_code\":") || !r.str(out.street_code)) return false;
    if (!r.lit(",\"type\":") || !r.str(out.type)) return false;
    return r.lit("}") && r.p == r.e;
}

}  // namespace casehub::host::wire
