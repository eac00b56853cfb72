// Fuzz target: strict RFC 3339 parsing and Beijing-time formatting
// (sdk/include/casehub/sdk/rfc3339.hpp).
//
// Input: a date-time string, e.g. "2026-03-09T09:12:33.385+08:00".
// Invariants (any violation traps):
//   - parse_rfc3339_ms accepts exactly what an independent reference parser (built on
//     std::chrono's calendar) accepts, and yields the same instant (fraction digits beyond the
//     millisecond truncated); is_rfc3339 agrees with it;
//   - an accepted instant round-trips: format_rfc3339_beijing(ms, true) parses back to exactly
//     ms, format_rfc3339_beijing(ms) to ms truncated to the second (0-999 ms earlier), both
//     ending in "+08:00" — as long as the Beijing year is within 0000-9999; outside it the
//     formatted string must be rejected (documented);
//   - the same holds for the first 8 input bytes taken as an arbitrary int64 epoch-ms value
//     (format_rfc3339_beijing claims no overflow even at INT64_MIN/MAX).
#include <casehub/sdk/rfc3339.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

namespace {

namespace chr = std::chrono;

// Reference: the grammar of the header, written independently, calendar by std::chrono.
std::optional<std::int64_t> reference_parse(std::string_view s) {
    auto num = [&](std::size_t pos, std::size_t n) -> int {
        if (pos + n > s.size()) return -1;
        int v = 0;
        for (std::size_t i = pos; i < pos + n; ++i) {
            if (s[i] < '0' || s[i] > '9') return -1;
            v = v * 10 + (s[i] - '0');
        }
        return v;
    };
    auto is = [&](std::size_t pos, std::string_view chars) {
        return pos < s.size() && chars.find(s[pos]) != std::string_view::npos;
    };
    const int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2),
              se = num(17, 2);
    if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || se < 0) return std::nullopt;
    if (!is(4, "-") || !is(7, "-") || !is(10, "Tt") || !is(13, ":") || !is(16, ":"))
        return std::nullopt;
    const chr::year_month_day ymd{chr::year{y}, chr::month{static_cast<unsigned>(mo)},
                                  chr::day{static_cast<unsigned>(d)}};
    if (!ymd.ok() || h > 23 || mi > 59 || se > 59) return std::nullopt;

    std::size_t pos = 19;
    int ms = 0;
    if (is(pos, ".")) {
        const std::size_t first = ++pos;
        while (is(pos, "0123456789")) ++pos;
        if (pos == first) return std::nullopt;
        std::string frac(s.substr(first, std::min<std::size_t>(3, pos - first)));
        frac.resize(3, '0');
        ms = std::stoi(frac);
    }
    chr::minutes offset{0};
    if (is(pos, "Zz") && pos + 1 == s.size()) {
    } else if (is(pos, "+-") && pos + 6 == s.size() && is(pos + 3, ":")) {
        const int oh = num(pos + 1, 2), om = num(pos + 4, 2);
        if (oh < 0 || om < 0 || oh > 23 || om > 59) return std::nullopt;
        offset = chr::hours{oh} + chr::minutes{om};
        if (s[pos] == '-') offset = -offset;
    } else {
        return std::nullopt;
    }
    const auto t = chr::sys_days{ymd} + chr::hours{h} + chr::minutes{mi} + chr::seconds{se} +
                   chr::milliseconds{ms} - offset;
    return chr::duration_cast<chr::milliseconds>(t.time_since_epoch()).count();
}

// Epoch ms whose Beijing (UTC+8) calendar year is 0000-9999: the formatter's valid range.
bool beijing_year_in_range(std::int64_t ms) {
    using chr::sys_days;
    const std::int64_t lo =
        chr::duration_cast<chr::milliseconds>(
            (sys_days{chr::year{0} / 1 / 1} - chr::hours{8}).time_since_epoch())
            .count();
    const std::int64_t hi =
        chr::duration_cast<chr::milliseconds>(
            (sys_days{chr::year{10000} / 1 / 1} - chr::hours{8}).time_since_epoch())
            .count();
    return ms >= lo && ms < hi;
}

std::int64_t floor_to_second(std::int64_t ms) {
    std::int64_t r = ms % 1000;
    if (r < 0) r += 1000;
    return ms - r;
}

void check_round_trip(std::int64_t ms) {
    using casehub::sdk::format_rfc3339_beijing;
    using casehub::sdk::parse_rfc3339_ms;
    const std::string with = format_rfc3339_beijing(ms, true);
    const std::string without = format_rfc3339_beijing(ms, false);
    const auto back_with = parse_rfc3339_ms(with);
    const auto back_without = parse_rfc3339_ms(without);
    if (beijing_year_in_range(ms)) {
        FUZZ_CHECK(with.size() == 29 && with.substr(23) == "+08:00", with);
        FUZZ_CHECK(without.size() == 25 && without.substr(19) == "+08:00", without);
        FUZZ_CHECK(back_with && *back_with == ms, with + " for " + std::to_string(ms));
        FUZZ_CHECK(back_without && *back_without == floor_to_second(ms),
                   without + " for " + std::to_string(ms));
        FUZZ_CHECK(reference_parse(with) == back_with, with);
    } else {
        FUZZ_CHECK(!back_with, with + " for " + std::to_string(ms));
        FUZZ_CHECK(!back_without, without + " for " + std::to_string(ms));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view s(reinterpret_cast<const char*>(data), size);

    const std::optional<std::int64_t> got = casehub::sdk::parse_rfc3339_ms(s);
    const std::optional<std::int64_t> want = reference_parse(s);
    FUZZ_CHECK(got.has_value() == want.has_value(), std::string(s));
    FUZZ_CHECK(!got || *got == *want,
               std::string(s) + ": " + std::to_string(*got) + " vs " + std::to_string(*want));
    FUZZ_CHECK(casehub::sdk::is_rfc3339(s) == got.has_value(), std::string(s));
    if (got) check_round_trip(*got);

    if (size >= 8) {
        std::int64_t raw;
        std::memcpy(&raw, data, sizeof raw);
        check_round_trip(raw);
    }
    return 0;
}
