// Strict RFC 3339 date-times, as `casehub.record/1` requires (case-model.md §1).
//
//   date-time = YYYY "-" MM "-" DD ("T" / "t") hh ":" mm ":" ss ["." 1*DIGIT] offset
//   offset    = "Z" / "z" / ("+" / "-") hh ":" mm
//
// Accepted: years 0000–9999, real calendar dates (Gregorian leap years), hours 00–23, minutes
// 00–59, seconds 00–59, any number of fraction digits (truncated to milliseconds), offsets up to
// ±23:59 (`-00:00` is accepted and means UTC, as RFC 3339 §4.3 allows).
// Rejected: a space instead of 'T', a missing offset, epoch numbers, `2026-02-30`, and second 60.
// Leap seconds are rejected on purpose: no department system emits them, epoch milliseconds
// cannot represent them, and accepting `23:59:60` would make two different strings the same
// instant without telling anyone.
//
// Pure arithmetic (days-from-civil, proleptic Gregorian): no locale, no time zone database.
// Beijing time is UTC+08:00 all year (China has had no daylight saving time since 1991).
#pragma once

#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace casehub::sdk {

namespace detail {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) noexcept {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);                  // [0, 399]
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;   // [0, 365]
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;             // [0, 146096]
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct CivilDate {
    std::int64_t year;
    unsigned month;
    unsigned day;
};

// Inverse of days_from_civil.
constexpr CivilDate civil_from_days(std::int64_t z) noexcept {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);                   // [0, 146096]
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
    const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               // [0, 365]
    const unsigned mp = (5 * doy + 2) / 153;                                    // [0, 11]
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;                            // [1, 31]
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;                               // [1, 12]
    return {y + (m <= 2), m, d};
}

constexpr bool is_leap_year(std::int64_t y) noexcept {
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

constexpr unsigned days_in_month(std::int64_t y, unsigned m) noexcept {
    constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap_year(y) ? 29 : days[m - 1];
}

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

// `n` ASCII digits at s[pos], or -1.
constexpr int fixed_digits(std::string_view s, std::size_t pos, std::size_t n) noexcept {
    if (pos + n > s.size()) return -1;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
        if (!is_digit(s[i])) return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

inline char* put2(char* p, unsigned v) noexcept {
    p[0] = static_cast<char>('0' + v / 10);
    p[1] = static_cast<char>('0' + v % 10);
    return p + 2;
}

}  // namespace detail

// UTC epoch milliseconds of a strict RFC 3339 date-time, or nullopt. Fraction digits beyond the
// millisecond are truncated (toward the earlier instant), never rounded.
constexpr std::optional<std::int64_t> parse_rfc3339_ms(std::string_view s) noexcept {
    using detail::fixed_digits;
    // Shortest form: "YYYY-MM-DDThh:mm:ssZ" (20 characters).
    if (s.size() < 20) return std::nullopt;
    const int year = fixed_digits(s, 0, 4);
    const int month = fixed_digits(s, 5, 2);
    const int day = fixed_digits(s, 8, 2);
    const int hour = fixed_digits(s, 11, 2);
    const int minute = fixed_digits(s, 14, 2);
    const int second = fixed_digits(s, 17, 2);
    if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0)
        return std::nullopt;
    if (s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' ||
        s[16] != ':')
        return std::nullopt;
    if (month < 1 || month > 12 || day < 1 ||
        static_cast<unsigned>(day) > detail::days_in_month(year, static_cast<unsigned>(month)))
        return std::nullopt;
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;

    std::size_t pos = 19;
    std::int64_t millis = 0;
    if (s[pos] == '.') {
        ++pos;
        const std::size_t first = pos;
        while (pos < s.size() && detail::is_digit(s[pos])) {
            if (pos - first < 3) millis = millis * 10 + (s[pos] - '0');
            ++pos;
        }
        const std::size_t n = pos - first;
        if (n == 0) return std::nullopt;
        for (std::size_t i = n; i < 3; ++i) millis *= 10;
    }
    if (pos >= s.size()) return std::nullopt;  // no offset

    std::int64_t offset_s = 0;
    if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
        if (pos + 6 != s.size() || s[pos + 3] != ':') return std::nullopt;
        const int oh = fixed_digits(s, pos + 1, 2);
        const int om = fixed_digits(s, pos + 4, 2);
        if (oh < 0 || om < 0 || oh > 23 || om > 59) return std::nullopt;
        offset_s = (oh * 3600 + om * 60) * (s[pos] == '-' ? -1 : 1);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;

    const std::int64_t days =
        detail::days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
    const std::int64_t secs = days * 86400 + hour * 3600 + minute * 60 + second - offset_s;
    return secs * 1000 + millis;
}

constexpr bool is_rfc3339(std::string_view s) noexcept { return parse_rfc3339_ms(s).has_value(); }

// `2026-03-09T09:12:33+08:00` (or `2026-03-09T09:12:33.385+08:00` with_millis) for a UTC epoch
// millisecond instant. Milliseconds are dropped, not rounded, without with_millis. Instants
// outside years 0000–9999 give a string is_rfc3339() rejects (the year is printed as is).
inline std::string format_rfc3339_beijing(std::int64_t epoch_ms, bool with_millis = false) {
    constexpr std::int64_t day_ms = 86'400'000;
    constexpr std::int64_t beijing_ms = 8 * 3'600'000;
    // Floor division written so that no intermediate overflows, even at INT64_MIN/MAX.
    std::int64_t days = epoch_ms / day_ms;
    std::int64_t ms_of_day = epoch_ms % day_ms;
    if (ms_of_day < 0) {
        ms_of_day += day_ms;
        --days;
    }
    ms_of_day += beijing_ms;
    if (ms_of_day >= day_ms) {
        ms_of_day -= day_ms;
        ++days;
    }
    const detail::CivilDate date = detail::civil_from_days(days);
    const auto msd = static_cast<unsigned>(ms_of_day);

    std::array<char, 64> buf{};
    char* p = buf.data();
    char* const end = buf.data() + buf.size();
    std::int64_t year = date.year;
    if (year < 0) {
        *p++ = '-';
        year = -year;
    }
    if (year < 1000) *p++ = '0';
    if (year < 100) *p++ = '0';
    if (year < 10) *p++ = '0';
    p = std::to_chars(p, end, year).ptr;
    *p++ = '-';
    p = detail::put2(p, date.month);
    *p++ = '-';
    p = detail::put2(p, date.day);
    *p++ = 'T';
    p = detail::put2(p, msd / 3'600'000);
    *p++ = ':';
    p = detail::put2(p, msd / 60'000 % 60);
    *p++ = ':';
    p = detail::put2(p, msd / 1000 % 60);
    if (with_millis) {
        *p++ = '.';
        *p++ = static_cast<char>('0' + msd % 1000 / 100);
        p = detail::put2(p, msd % 100);
    }
    for (char c : std::string_view("+08:00")) *p++ = c;
    return std::string(buf.data(), p);
}

}  // namespace casehub::sdk
