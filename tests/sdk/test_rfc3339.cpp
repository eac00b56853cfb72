#include <casehub/sdk/rfc3339.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <limits>
#include <random>
#include <string>

using casehub::sdk::format_rfc3339_beijing;
using casehub::sdk::is_rfc3339;
using casehub::sdk::parse_rfc3339_ms;

TEST_CASE("rfc3339: valid date-times give UTC epoch milliseconds", "[unit][rfc3339]") {
    CHECK(parse_rfc3339_ms("2026-03-09T09:12:33+08:00") == 1773018753000);
    CHECK(parse_rfc3339_ms("2026-03-09T01:12:33Z") == 1773018753000);
    CHECK(parse_rfc3339_ms("2026-03-09t01:12:33z") == 1773018753000);
    CHECK(parse_rfc3339_ms("2026-03-08T20:12:33-05:00") == 1773018753000);
    CHECK(parse_rfc3339_ms("1970-01-01T00:00:00Z") == 0);
    CHECK(parse_rfc3339_ms("1970-01-01T00:00:00-00:00") == 0);  // RFC 3339 §4.3: unknown offset
    CHECK(parse_rfc3339_ms("1969-12-31T23:59:59Z") == -1000);
    CHECK(parse_rfc3339_ms("2000-02-29T00:00:00+00:00") == 951782400000);
    CHECK(parse_rfc3339_ms("0000-01-01T00:00:00Z") == -62167219200000);
    CHECK(parse_rfc3339_ms("9999-12-31T23:59:59Z") == 253402300799000);
    CHECK(parse_rfc3339_ms("2026-03-09T00:00:00+23:59") == 1773014400000 - (23 * 60 + 59) * 60000);
}

TEST_CASE("rfc3339: fractional seconds are truncated to milliseconds", "[unit][rfc3339]") {
    CHECK(parse_rfc3339_ms("2026-03-09T09:21:07.385+08:00") == 1773019267385);
    CHECK(parse_rfc3339_ms("2026-03-09T09:21:07.3+08:00") == 1773019267300);
    CHECK(parse_rfc3339_ms("2026-03-09T09:21:07.38+08:00") == 1773019267380);
    CHECK(parse_rfc3339_ms("2026-03-09T09:21:07.000+08:00") == 1773019267000);
    CHECK(parse_rfc3339_ms("2026-03-09T09:21:07.3859999999+08:00") == 1773019267385);
    CHECK(parse_rfc3339_ms("1969-12-31T23:59:59.9999Z") == -1);  // toward the earlier instant
}

TEST_CASE("rfc3339: everything that is not strict RFC 3339 is rejected", "[unit][rfc3339]") {
    const char* bad[] = {
        "",
        "2026-03-09 09:12:33",            // space, no offset
        "2026-03-09 09:12:33+08:00",      // space separator
        "2026-03-09T09:12:33",            // no offset
        "1741482753000",                  // epoch milliseconds
        "1741482753",                     // epoch seconds
        "2026-03-09",                     // date only
        "09:12:33+08:00",                 // time only
        "2026-02-30T09:12:33+08:00",      // no such date
        "2026-02-29T09:12:33+08:00",      // 2026 is not a leap year
        "1900-02-29T00:00:00Z",           // century, not a leap year
        "2026-04-31T00:00:00Z",
        "2026-00-10T00:00:00Z",
        "2026-13-10T00:00:00Z",
        "2026-03-00T00:00:00Z",
        "2026-03-32T00:00:00Z",
        "2026-03-09T24:00:00Z",           // hour 24
        "2026-03-09T23:60:00Z",
        "2026-12-31T23:59:60Z",           // leap second: rejected by design
        "2026-03-09T09:12:61Z",
        "2026-3-09T09:12:33Z",            // not zero-padded
        "2026-03-9T09:12:33Z",
        "2026-03-09T9:12:33Z",
        "26-03-09T09:12:33Z",
        "+2026-03-09T09:12:33Z",
        "2026/03/09T09:12:33Z",
        "2026-03-09T09.12.33Z",
        "2026-03-09X09:12:33Z",
        "2026-03-09T09:12:33.Z",          // fraction without digits
        "2026-03-09T09:12:33,5Z",         // comma fraction (ISO 8601, not RFC 3339)
        "2026-03-09T09:12:33+0800",       // offset without colon
        "2026-03-09T09:12:33+08",
        "2026-03-09T09:12:33+8:00",
        "2026-03-09T09:12:33+24:00",
        "2026-03-09T09:12:33+08:60",
        "2026-03-09T09:12:33 +08:00",
        "2026-03-09T09:12:33+08:00 ",
        " 2026-03-09T09:12:33+08:00",
        "2026-03-09T09:12:33ZZ",
        "2026-03-09T09:12:33Z+08:00",
        "2026-03-09T09:12:33UTC",
        "2026-03-09T09:12:33GMT+8",
        "２０２６-03-09T09:12:33Z",       // full-width digits
        ("2026-03-09T09:12:33\xEF\xBC\x8B" "08:00"),  // full-width plus
    };
    for (const char* s : bad) {
        INFO(s);
        CHECK_FALSE(is_rfc3339(s));
        CHECK_FALSE(parse_rfc3339_ms(s).has_value());
    }
    CHECK_FALSE(is_rfc3339(std::string_view("2026-03-09T09:12:33Z\0", 21)));
}

TEST_CASE("rfc3339: leap years follow the Gregorian rule", "[unit][rfc3339]") {
    CHECK(is_rfc3339("2024-02-29T00:00:00Z"));
    CHECK(is_rfc3339("2000-02-29T00:00:00Z"));
    CHECK(is_rfc3339("1600-02-29T00:00:00Z"));
    CHECK(is_rfc3339("0000-02-29T00:00:00Z"));
    CHECK_FALSE(is_rfc3339("2023-02-29T00:00:00Z"));
    CHECK_FALSE(is_rfc3339("2100-02-29T00:00:00Z"));
    CHECK_FALSE(is_rfc3339("1900-02-29T00:00:00Z"));
    for (int m = 1; m <= 12; ++m) {
        const int last[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        char ok[32], bad[32];
        std::snprintf(ok, sizeof ok, "2026-%02d-%02dT12:00:00Z", m, last[m - 1]);
        std::snprintf(bad, sizeof bad, "2026-%02d-%02dT12:00:00Z", m, last[m - 1] + 1);
        INFO(ok);
        CHECK(is_rfc3339(ok));
        CHECK_FALSE(is_rfc3339(bad));
    }
}

TEST_CASE("rfc3339: agrees with timegm on random instants", "[unit][rfc3339]") {
    std::mt19937_64 rng(20260309);
    std::uniform_int_distribution<int> year(1, 9999), month(1, 12), day(1, 28), hour(0, 23),
        minute(0, 59), second(0, 59);
    for (int i = 0; i < 5000; ++i) {
        std::tm tm{};
        tm.tm_year = year(rng) - 1900;
        tm.tm_mon = month(rng) - 1;
        tm.tm_mday = day(rng);
        tm.tm_hour = hour(rng);
        tm.tm_min = minute(rng);
        tm.tm_sec = second(rng);
        char buf[40];
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        const std::int64_t expected = static_cast<std::int64_t>(timegm(&tm)) * 1000;
        INFO(buf);
        REQUIRE(parse_rfc3339_ms(buf) == expected);
    }
}

TEST_CASE("rfc3339: Beijing formatting", "[unit][rfc3339]") {
    CHECK(format_rfc3339_beijing(1773018753000) == "2026-03-09T09:12:33+08:00");
    CHECK(format_rfc3339_beijing(1773018753385) == "2026-03-09T09:12:33+08:00");  // dropped
    CHECK(format_rfc3339_beijing(1773018753385, true) == "2026-03-09T09:12:33.385+08:00");
    CHECK(format_rfc3339_beijing(1773018753007, true) == "2026-03-09T09:12:33.007+08:00");
    CHECK(format_rfc3339_beijing(0) == "1970-01-01T08:00:00+08:00");
    CHECK(format_rfc3339_beijing(-1, true) == "1970-01-01T07:59:59.999+08:00");
    CHECK(format_rfc3339_beijing(-8 * 3600 * 1000) == "1970-01-01T00:00:00+08:00");
    CHECK(format_rfc3339_beijing(-8 * 3600 * 1000 - 1) == "1969-12-31T23:59:59+08:00");
    // Midnight crossing: 16:00Z is the next day in Beijing.
    CHECK(format_rfc3339_beijing(*parse_rfc3339_ms("2026-12-31T16:00:00Z")) ==
          "2027-01-01T00:00:00+08:00");
    CHECK(format_rfc3339_beijing(*parse_rfc3339_ms("2024-02-28T16:30:00Z")) ==
          "2024-02-29T00:30:00+08:00");
    CHECK(format_rfc3339_beijing(*parse_rfc3339_ms("0000-01-01T00:00:00+08:00")) ==
          "0000-01-01T00:00:00+08:00");
    CHECK(format_rfc3339_beijing(*parse_rfc3339_ms("9999-12-31T23:59:59.999+08:00"), true) ==
          "9999-12-31T23:59:59.999+08:00");
}

TEST_CASE("rfc3339: format and parse round-trip", "[unit][rfc3339]") {
    const std::int64_t lo = *parse_rfc3339_ms("0000-01-01T00:00:00+08:00");
    const std::int64_t hi = *parse_rfc3339_ms("9999-12-31T23:59:59.999+08:00");
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<std::int64_t> dist(lo, hi);
    for (int i = 0; i < 20000; ++i) {
        const std::int64_t ms = dist(rng);
        const std::string s = format_rfc3339_beijing(ms, true);
        INFO(ms << " " << s);
        REQUIRE(parse_rfc3339_ms(s) == ms);
        REQUIRE(parse_rfc3339_ms(format_rfc3339_beijing(ms)) == ms - (((ms % 1000) + 1000) % 1000));
    }
}

TEST_CASE("rfc3339: instants outside 0000-9999 format without overflow", "[unit][rfc3339]") {
    const auto min = std::numeric_limits<std::int64_t>::min();
    const auto max = std::numeric_limits<std::int64_t>::max();
    CHECK_FALSE(is_rfc3339(format_rfc3339_beijing(min, true)));
    CHECK_FALSE(is_rfc3339(format_rfc3339_beijing(max, true)));
    CHECK_FALSE(is_rfc3339(format_rfc3339_beijing(*parse_rfc3339_ms("0000-01-01T00:00:00Z") - 8 * 3600 * 1000 - 1)));
}
