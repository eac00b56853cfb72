#include "correlate/text.hpp"

#include <algorithm>

namespace casehub::host::correlate {

namespace {

// Decodes one UTF-8 sequence at s[i]; advances i. Invalid bytes decode as U+FFFD.
char32_t next_cp(std::string_view s, std::size_t& i) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
        ++i;
        return 0xFFFD;
    }
    char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (int k = 1; k < len; ++k) {
        const auto c = static_cast<unsigned char>(s[i + k]);
        if ((c & 0xC0) != 0x80) {
            ++i;
            return 0xFFFD;
        }
        cp = (cp << 6) | (c & 0x3F);
    }
    i += len;
    return cp;
}

bool is_alnum(char32_t c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_fullwidth_alnum(char32_t c) {
    return (c >= 0xFF10 && c <= 0xFF19) || (c >= 0xFF21 && c <= 0xFF3A) || (c >= 0xFF41 && c <= 0xFF5A);
}
bool is_han(char32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2FFFF) ||
           c == 0x3007;  // 〇
}

// FNV-1a, folded to 16 bits.
std::uint32_t fnv(std::uint32_t h, std::uint32_t v) {
    for (int k = 0; k < 4; ++k) {
        h ^= (v >> (8 * k)) & 0xFF;
        h *= 16777619u;
    }
    return h;
}

}  // namespace

std::string strip_phrases(std::string_view text, const std::vector<std::string>& phrases) {
    std::string out(text);
    for (const auto& p : phrases) {
        if (p.empty()) continue;
        for (std::size_t at = out.find(p); at != std::string::npos; at = out.find(p, at)) out.replace(at, p.size(), " ");
    }
    return out;
}

Signature bigrams(std::string_view text, const Signature* discount, std::size_t max_bigrams) {
    Signature out;
    // Tokens: one Han character, or one run of ASCII/full-width letters and digits (lower-cased).
    std::uint32_t prev = 0;
    bool have_prev = false;
    std::size_t i = 0;
    auto emit = [&](std::uint32_t tok) {
        if (have_prev) {
            const std::uint32_t h = fnv(fnv(2166136261u, prev), tok);
            out.push_back(static_cast<std::uint16_t>((h >> 16) ^ (h & 0xFFFF)));
        }
        prev = tok;
        have_prev = true;
    };
    while (i < text.size() && out.size() < max_bigrams * 2) {
        char32_t c = next_cp(text, i);
        if (is_han(c)) {
            emit(static_cast<std::uint32_t>(c));
        } else if (is_alnum(c) || is_fullwidth_alnum(c)) {
            std::uint32_t h = 0x9E3779B9u;
            for (;;) {
                if (is_fullwidth_alnum(c)) c -= 0xFEE0;
                if (c >= 'A' && c <= 'Z') c += 32;
                h = fnv(h, static_cast<std::uint32_t>(c));
                if (i >= text.size()) break;
                std::size_t j = i;
                char32_t d = next_cp(text, j);
                if (!(is_alnum(d) || is_fullwidth_alnum(d))) break;
                i = j;
                c = d;
            }
            emit(h | 0x80000000u);  // never equal to a Han code point
        } else {
            have_prev = false;  // punctuation, space, symbols break the chain
        }
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    if (discount && !discount->empty()) {
        Signature kept;
        kept.reserve(out.size());
        std::set_difference(out.begin(), out.end(), discount->begin(), discount->end(), std::back_inserter(kept));
        out.swap(kept);
    }
    if (out.size() > max_bigrams) out.resize(max_bigrams);
    return out;
}

double dice(const Signature& a, const Signature& b) {
    if (a.empty() || b.empty()) return 0.0;
    std::size_t i = 0, j = 0, common = 0;
    while (i < a.size() && j < b.size()) {
        if (a[i] < b[j]) ++i;
        else if (b[j] < a[i]) ++j;
        else ++common, ++i, ++j;
    }
    return 2.0 * static_cast<double>(common) / static_cast<double>(a.size() + b.size());
}

std::string to_bytes(const Signature& s) {
    std::string out(s.size() * 2, '\0');
    for (std::size_t k = 0; k < s.size(); ++k) {
        out[2 * k] = static_cast<char>(s[k] & 0xFF);
        out[2 * k + 1] = static_cast<char>(s[k] >> 8);
    }
    return out;
}

void from_bytes(std::string_view b, Signature& s) {
    s.resize(b.size() / 2);
    for (std::size_t k = 0; k < s.size(); ++k)
        s[k] = static_cast<std::uint16_t>(static_cast<unsigned char>(b[2 * k]) |
                                          (static_cast<unsigned char>(b[2 * k + 1]) << 8));
}

Signature from_bytes(std::string_view b) {
    Signature s;
    from_bytes(b, s);
    return s;
}

}  // namespace casehub::host::correlate
