// nlohmann::json's compact dump(), byte for byte, at a fraction of its cost.
//
// nlohmann's serializer decodes every byte of every string through a UTF-8 state machine, one
// character at a time; on the hub's hot path (a 3.6 KB case document, an event header and its
// detail per record, mostly Chinese text) that was a tenth of casehubd's instructions. Here a
// string is checked and copied in one pass, in runs between the bytes that need escaping; floats
// go through nlohmann's own shortest-form conversion. A string that is not valid UTF-8 (and
// binary values) are left to nlohmann itself, so the output and the errors (type_error 316 with
// the strict handler) stay exactly those of dump().
#pragma once

#include <boost/container/small_vector.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cassert>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <cmath>
#include <string>
#include <string_view>

namespace casehub::host {

namespace json_dump_detail {

// How many of the eight bytes at p, from the first, JSON copies as they are (not a control,
// '"', '\\' or beyond ASCII). SWAR: a byte of x is zero when (x - 0x0101..) & ~x & 0x8080..
// has its high bit; a borrow can flag a later byte too, never an earlier one, so the lowest
// flag is exact.
inline int plain_prefix8(const char* p) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    constexpr std::uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    auto zero_byte = [](std::uint64_t x) { return (x - ones) & ~x & high; };
    const std::uint64_t control = (w - 0x20 * ones) & ~w & high;  // a byte < 0x20 (or >= 0x80)
    const std::uint64_t m = (w & high) | control | zero_byte(w ^ ('"' * ones)) | zero_byte(w ^ ('\\' * ones));
    if (m == 0) return 8;
    if constexpr (std::endian::native == std::endian::little) return std::countr_zero(m) >> 3;
    return 0;
}

// The first byte at or after p that is not plain (see plain_prefix8), or where the last eight
// bytes before e begin: the caller goes on byte by byte from there.
inline const char* skip_plain(const char* p, const char* e) {
    while (e - p >= 8) {
        const int n = plain_prefix8(p);
        p += n;
        if (n < 8) break;
    }
    return p;
}

inline bool plain_ascii(std::string_view s) {
    const char* e = s.data() + s.size();
    for (const char* p = skip_plain(s.data(), e); p < e; ++p) {
        const auto c = static_cast<unsigned char>(*p);
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') return false;
    }
    return true;
}

// The length of the UTF-8 sequence at p (lead byte >= 0x80), or 0 when it is not valid UTF-8
// (truncated, overlong, a surrogate, beyond U+10FFFF): as nlohmann's decoder decides.
inline int utf8_length(const unsigned char* p, const unsigned char* e) {
    const unsigned char c = *p;
    int n;
    std::uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) n = 1, cp = c & 0x1Fu;
    else if ((c & 0xF0) == 0xE0) n = 2, cp = c & 0x0Fu;
    else if (c >= 0xF0 && c <= 0xF4) n = 3, cp = c & 0x07u;
    else return 0;
    if (e - p <= n) return 0;
    for (int k = 1; k <= n; ++k) {
        if ((p[k] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (p[k] & 0x3Fu);
    }
    if (n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return n + 1;
}

// Appends to a string through a raw pointer: std::string's push_back and append are compiled
// out of line (libstdc++ instantiates basic_string<char> once), a call per character.
class Writer {
public:
    explicit Writer(std::string& out) : out_(out), len_(out.size()) {}
    ~Writer() { out_.resize(len_); }
    Writer(const Writer&) = delete;
    Writer& operator=(const Writer&) = delete;
    // The growth is out of line so that put() stays small enough to be inlined: it is called
    // for every run of a string and every punctuation mark (it was a call each, 3 % of the
    // intake thread's instructions).
    char* room(std::size_t n) {
        if (len_ + n > out_.size()) [[unlikely]]
            grow(n);
        return out_.data() + len_;
    }
    void put(char c) { *room(1) = c, ++len_; }
    void put(const char* p, std::size_t n) {
        std::memcpy(room(n), p, n);
        len_ += n;
    }
    void put(std::string_view s) { put(s.data(), s.size()); }
    std::size_t size() const { return len_; }
    void truncate(std::size_t n) { len_ = n; }

private:
    [[gnu::noinline]] void grow(std::size_t n) { out_.resize(std::max(out_.size() * 2, len_ + n + 256)); }

    std::string& out_;
    std::size_t len_;
};

// One pass: copies runs of bytes that need no escape, escapes as nlohmann does with
// ensure_ascii off (the two-character escapes, \u00xx in lower-case hex for the other control
// characters), and checks the UTF-8 on the way. False, with nothing written, when the string is
// not UTF-8.
inline bool put_escaped(Writer& w, std::string_view s) {
    const std::size_t mark = w.size();
    const auto* b = reinterpret_cast<const unsigned char*>(s.data());
    const auto* e = b + s.size();
    const auto* run = b;
    w.put('"');
    for (const auto* p = b; p < e;) {
        const unsigned char c = *p;
        if (c >= 0x80) {
            // Most of the hub's text is Chinese: three bytes led by E1–EC or EE–EF, where any
            // two continuation bytes are valid (E0 and ED, with their overlong and surrogate
            // limits, take the full check below).
            if (c >= 0xE1 && c <= 0xEF && c != 0xED && e - p > 2 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
                p += 3;
                continue;
            }
            const int n = utf8_length(p, e);
            if (n == 0) {
                w.truncate(mark);
                return false;
            }
            p += n;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            // In an ASCII run (keys, codes, numbers in text), eight bytes at a time.
            p = reinterpret_cast<const unsigned char*>(skip_plain(reinterpret_cast<const char*>(p + 1),
                                                                  reinterpret_cast<const char*>(e)));
            continue;
        }
        w.put(reinterpret_cast<const char*>(run), static_cast<std::size_t>(p - run));
        switch (c) {
            case '"': w.put("\\\"", 2); break;
            case '\\': w.put("\\\\", 2); break;
            case '\b': w.put("\\b", 2); break;
            case '\f': w.put("\\f", 2); break;
            case '\n': w.put("\\n", 2); break;
            case '\r': w.put("\\r", 2); break;
            case '\t': w.put("\\t", 2); break;
            default: {
                static constexpr char hex[] = "0123456789abcdef";
                const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xF]};
                w.put(u, 6);
            }
        }
        run = ++p;
    }
    w.put(reinterpret_cast<const char*>(run), static_cast<std::size_t>(e - run));
    w.put('"');
    return true;
}

inline void put_string(Writer& w, const std::string& s, nlohmann::json::error_handler_t handler) {
    if (!put_escaped(w, s)) w.put(nlohmann::json(s).dump(-1, ' ', false, handler));  // nlohmann's own error or replacement
}

inline void put_json(Writer& w, const nlohmann::json& j, nlohmann::json::error_handler_t handler) {
    using nlohmann::json;
    switch (j.type()) {
        case json::value_t::object: {
            w.put('{');
            bool first = true;
            for (const auto& [k, v] : j.get_ref<const json::object_t&>()) {
                if (!first) w.put(',');
                first = false;
                put_string(w, k, handler);
                w.put(':');
                put_json(w, v, handler);
            }
            w.put('}');
            return;
        }
        case json::value_t::array: {
            w.put('[');
            bool first = true;
            for (const auto& v : j.get_ref<const json::array_t&>()) {
                if (!first) w.put(',');
                first = false;
                put_json(w, v, handler);
            }
            w.put(']');
            return;
        }
        case json::value_t::string: put_string(w, j.get_ref<const std::string&>(), handler); return;
        case json::value_t::boolean: j.get<bool>() ? w.put("true", 4) : w.put("false", 5); return;
        case json::value_t::null: w.put("null", 4); return;
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: {
            char* at = w.room(24);
            const auto r = j.is_number_unsigned() ? std::to_chars(at, at + 24, j.get<std::uint64_t>())
                                                  : std::to_chars(at, at + 24, j.get<std::int64_t>());
            w.truncate(w.size() + static_cast<std::size_t>(r.ptr - at));
            return;
        }
        case json::value_t::number_float: {
            const double v = j.get<double>();
            if (!std::isfinite(v)) return w.put("null", 4);
            char* at = w.room(64);  // nlohmann's own shortest round-trip form (its serializer calls the same)
            w.truncate(w.size() + static_cast<std::size_t>(nlohmann::detail::to_chars(at, at + 64, v) - at));
            return;
        }
        default: w.put(j.dump(-1, ' ', false, handler)); return;  // binary, discarded
    }
}

}  // namespace json_dump_detail

// Appends `s` as a JSON string exactly as dump() writes it; false, with `out` as it was, when
// `s` is not valid UTF-8 (nlohmann would fail or substitute: the caller decides).
inline bool append_json_string(std::string& out, std::string_view s) {
    // Ids and codes are plain ASCII: appended as they are (a Writer would grow `out` by zero
    // filling and shrink it back, per call).
    if (json_dump_detail::plain_ascii(s)) {
        const std::size_t at = out.size();
        out.resize(at + s.size() + 2);  // one call: std::string's appends are out of line
        char* d = out.data() + at;
        d[0] = '"';
        if (!s.empty()) std::memcpy(d + 1, s.data(), s.size());
        d[s.size() + 1] = '"';
        return true;
    }
    json_dump_detail::Writer w(out);
    return json_dump_detail::put_escaped(w, s);
}

inline void append_json(std::string& out, const nlohmann::json& j,
                        nlohmann::json::error_handler_t handler = nlohmann::json::error_handler_t::strict) {
    json_dump_detail::Writer w(out);
    json_dump_detail::put_json(w, j, handler);
}

// A JSON object written member by member, in any order, and given out with its keys in byte
// order as nlohmann's map keeps them: dump() of the same object without building the tree. The
// event detail of every record was a map node and a key string per member, then a walk to
// serialise them: about 6 % of the intake thread. Keys are plain ASCII (names the hub chose,
// not data) and unique; values are written as dump_json writes them, strictly (text that is not
// UTF-8 throws nlohmann's type_error 316, as dump() would). compose.cpp's ObjectText streams a
// large document whose members its caller already gives in key order; this one buffers small
// objects whose members come in whatever order the code decides them.
class JsonObjectText {
public:
    JsonObjectText& string(std::string_view key, std::string_view v) {
        {
            json_dump_detail::Writer w(open(key));  // sizes buf_ when it goes, before close()
            if (!json_dump_detail::put_escaped(w, v)) w.put(nlohmann::json(std::string(v)).dump());  // throws: not UTF-8
        }
        return close();
    }
    JsonObjectText& integer(std::string_view key, std::int64_t v) {
        char b[24];
        open(key).append(b, static_cast<std::size_t>(std::to_chars(b, b + sizeof b, v).ptr - b));
        return close();
    }
    // A double as nlohmann writes one (shortest round trip, "2.0" for a whole number), null when
    // not finite.
    JsonObjectText& number(std::string_view key, double v) {
        if (!std::isfinite(v)) return null(key);
        char b[64];
        open(key).append(b, static_cast<std::size_t>(nlohmann::detail::to_chars(b, b + sizeof b, v) - b));
        return close();
    }
    JsonObjectText& boolean(std::string_view key, bool v) {
        open(key).append(v ? "true" : "false");
        return close();
    }
    JsonObjectText& null(std::string_view key) {
        open(key).append("null");
        return close();
    }
    JsonObjectText& value(std::string_view key, const nlohmann::json& v) {
        append_json(open(key), v);
        return close();
    }
    JsonObjectText& object(std::string_view key, const JsonObjectText& v) {
        v.append_to(open(key));
        return close();
    }

    bool has(std::string_view key) const {
        for (const auto& m : members_)
            if (key_of(m) == key) return true;
        return false;
    }
    bool empty() const { return members_.empty(); }

    void append_to(std::string& out) const {
        // A dozen members at most, in practice: an insertion sort of their indexes.
        const std::size_t n = members_.size();
        boost::container::small_vector<std::uint32_t, kInline> order(n);
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t j = i;
            for (; j > 0 && key_of(members_[i]) < key_of(members_[order[j - 1]]); --j) order[j] = order[j - 1];
            order[j] = static_cast<std::uint32_t>(i);
        }
        std::size_t size = n + 1;
        for (const auto& m : members_) size += m.end - m.begin;
        out.reserve(out.size() + size);
        out.push_back('{');
        for (std::size_t i = 0; i < n; ++i) {
            if (i) out.push_back(',');
            const Member& m = members_[order[i]];
            out.append(buf_, m.begin, m.end - m.begin);
        }
        out.push_back('}');
    }
    std::string str() const {
        std::string out;
        append_to(out);
        return out;
    }

private:
    // A member's text in buf_ is "key":value; the key starts one byte after begin.
    struct Member {
        std::uint32_t begin, key_size, end;
    };
    std::string_view key_of(const Member& m) const { return std::string_view(buf_).substr(m.begin + 1, m.key_size); }
    std::string& open(std::string_view key) {
        assert(json_dump_detail::plain_ascii(key) && !has(key));
        if (buf_.empty()) buf_.reserve(256);  // one allocation for most objects of the detail
        members_.push_back({static_cast<std::uint32_t>(buf_.size()), static_cast<std::uint32_t>(key.size()), 0});
        buf_.push_back('"');
        buf_.append(key);
        buf_.append("\":", 2);
        return buf_;
    }
    JsonObjectText& close() {
        members_.back().end = static_cast<std::uint32_t>(buf_.size());
        return *this;
    }

    static constexpr std::size_t kInline = 16;  // the detail's largest object has 13 members
    std::string buf_;
    boost::container::small_vector<Member, kInline> members_;
};

inline std::string dump_json(const nlohmann::json& j,
                             nlohmann::json::error_handler_t handler = nlohmann::json::error_handler_t::strict) {
    std::string out;
    out.reserve(256);
    append_json(out, j, handler);
    return out;
}

}  // namespace casehub::host
