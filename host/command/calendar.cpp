#include "command/calendar.hpp"

#include "command/toml_reader.hpp"

#include <casehub/sdk/rfc3339.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace casehub::command {

namespace {

// Floor division: instants before 1970 still land on the right day.
std::int64_t floor_div(std::int64_t a, std::int64_t b) {
    std::int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

// "08:30-12:00" → a period; false on anything else.
bool parse_period(std::string_view s, OfficePeriod& out) {
    auto two = [&](std::size_t pos) -> int {
        if (pos + 2 > s.size() || s[pos] < '0' || s[pos] > '9' || s[pos + 1] < '0' || s[pos + 1] > '9') return -1;
        return (s[pos] - '0') * 10 + (s[pos + 1] - '0');
    };
    if (s.size() != 11 || s[2] != ':' || s[5] != '-' || s[8] != ':') return false;
    const int h1 = two(0), m1 = two(3), h2 = two(6), m2 = two(9);
    if (h1 < 0 || m1 < 0 || h2 < 0 || m2 < 0 || h1 > 24 || h2 > 24 || m1 > 59 || m2 > 59) return false;
    out.begin_minute = h1 * 60 + m1;
    out.end_minute = h2 * 60 + m2;
    return out.begin_minute < out.end_minute && out.end_minute <= 24 * 60;
}

}  // namespace

std::int64_t day_number(const LocalDate& d) {
    return sdk::detail::days_from_civil(d.year, d.month, d.day);
}

LocalDate date_of_day(std::int64_t day) {
    const auto c = sdk::detail::civil_from_days(day);
    return {static_cast<int>(c.year), c.month, c.day};
}

std::int64_t local_day(std::int64_t epoch_ms) { return floor_div(epoch_ms + kBeijingOffsetMs, kDayMs); }

LocalDate local_date(std::int64_t epoch_ms) { return date_of_day(local_day(epoch_ms)); }

std::int64_t instant_of(std::int64_t day, int minute_of_day) {
    return day * kDayMs + minute_of_day * kMinuteMs - kBeijingOffsetMs;
}

bool parse_date(std::string_view s, LocalDate& out) {
    using sdk::detail::fixed_digits;
    if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
    const int y = fixed_digits(s, 0, 4), m = fixed_digits(s, 5, 2), d = fixed_digits(s, 8, 2);
    if (y < 0 || m < 1 || m > 12 || d < 1) return false;
    if (static_cast<unsigned>(d) > sdk::detail::days_in_month(y, static_cast<unsigned>(m))) return false;
    out = {y, static_cast<unsigned>(m), static_cast<unsigned>(d)};
    return true;
}

std::string format_date(const LocalDate& d) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", d.year, d.month, d.day);
    return buf;
}

int iso_weekday(std::int64_t day) {
    // 1970-01-01 was a Thursday (4).
    const std::int64_t w = (day % 7 + 7 + 3) % 7;  // Monday = 0
    return static_cast<int>(w) + 1;
}

// ---- loading --------------------------------------------------------------------------------

Result<WorkCalendar> WorkCalendar::load(const std::filesystem::path& file) {
    // Start-up code: the reader throws LoadError with file:line:key, turned into an Error here.
    try {
        TomlReader doc(file);
        WorkCalendar cal;
        cal.periods_.clear();
        const auto& root = doc.root();
        root.only_keys({"schema", "work_weekdays", "office_hours", "arrangements"});
        if (root.string("schema") != "casehub.calendar/1")
            root.fail("schema", "expected \"casehub.calendar/1\"");

        cal.work_weekdays_.clear();
        for (const auto& w : root.array("work_weekdays")) {
            const auto d = w.integer();
            if (d < 1 || d > 7) w.fail("an ISO weekday is 1 (Monday) … 7 (Sunday)");
            cal.work_weekdays_.insert(static_cast<int>(d));
        }
        if (cal.work_weekdays_.empty()) root.fail("work_weekdays", "needs at least one day");

        for (const auto& p : root.array("office_hours")) {
            OfficePeriod period;
            if (!parse_period(p.string(), period)) p.fail("expected \"HH:MM-HH:MM\" with begin < end");
            if (!cal.periods_.empty() && period.begin_minute < cal.periods_.back().end_minute)
                p.fail("office periods must be in order and must not overlap");
            cal.periods_.push_back(period);
        }
        if (cal.periods_.empty()) root.fail("office_hours", "needs at least one period");

        std::set<int> years;
        for (const auto& a : root.array("arrangements")) {
            const auto& t = a.table();
            t.only_keys({"year", "notice", "days_off", "work_days"});
            const auto year = t.integer("year");
            if (year < 1900 || year > 9999) t.fail("year", "out of range");
            if (!years.insert(static_cast<int>(year)).second) t.fail("year", "listed twice");
            t.string("notice");  // required: where the days come from
            for (const auto& span : t.array("days_off")) {
                // "2019-10-01/2019-10-07" (an ISO 8601 interval) or one date.
                const std::string s = span.string();
                const auto slash = s.find('/');
                LocalDate from, to;
                const bool ok = slash == std::string::npos
                                    ? parse_date(s, from) && parse_date(s, to)
                                    : parse_date(std::string_view(s).substr(0, slash), from) &&
                                          parse_date(std::string_view(s).substr(slash + 1), to);
                if (!ok || day_number(to) < day_number(from))
                    span.fail("expected \"YYYY-MM-DD\" or \"YYYY-MM-DD/YYYY-MM-DD\" (first ≤ last)");
                if (day_number(to) - day_number(from) > 15) span.fail("a holiday longer than 16 days: a typo?");
                for (auto d = day_number(from); d <= day_number(to); ++d) cal.days_off_.insert(d);
            }
            for (const auto& w : t.array("work_days")) {
                LocalDate d;
                if (!parse_date(w.string(), d)) w.fail("expected \"YYYY-MM-DD\"");
                const int wd = iso_weekday(day_number(d));
                if (wd < 6) w.fail("an adjusted working day (调休) is a Saturday or a Sunday");
                cal.worked_.insert(day_number(d));
            }
        }
        if (years.empty()) root.fail("arrangements", "no year listed");
        if (*years.rbegin() - *years.begin() + 1 != static_cast<int>(years.size()))
            root.fail("arrangements", "the years must be consecutive (a missing year would be silently wrong)");
        for (auto d : cal.worked_)
            if (cal.days_off_.count(d))
                root.fail("arrangements", format_date(date_of_day(d)) + " is both a day off and a working day");
        cal.first_year_ = *years.begin();
        cal.last_year_ = *years.rbegin();
        return cal;
    } catch (const LoadError& e) {
        return make_error(e.what());
    }
}

// ---- questions ------------------------------------------------------------------------------

bool WorkCalendar::is_work_day(std::int64_t day) const {
    if (days_off_.count(day)) return false;
    if (worked_.count(day)) return true;
    return work_weekdays_.count(iso_weekday(day)) != 0;
}

double WorkCalendar::office_hours_per_day() const {
    int minutes = 0;
    for (const auto& p : periods_) minutes += p.end_minute - p.begin_minute;
    return minutes / 60.0;
}

// ---- arithmetic -----------------------------------------------------------------------------

CalendarTime WorkCalendar::add_work_days(std::int64_t t_ms, int n) const {
    std::int64_t day = local_day(t_ms);
    bool estimated = estimated_day(day);
    if (n <= 0) {
        while (!is_work_day(day)) estimated |= estimated_day(++day);
    } else {
        for (int counted = 0; counted < n;) {
            estimated |= estimated_day(++day);
            if (is_work_day(day)) ++counted;
        }
    }
    return {instant_of(day, periods_.back().end_minute), estimated};
}

CalendarTime WorkCalendar::add_work_hours(std::int64_t t_ms, double hours) const {
    std::int64_t remaining = std::llround(hours * kHourMs);
    std::int64_t day = local_day(t_ms);
    bool estimated = estimated_day(day);
    if (remaining <= 0) return {t_ms, estimated};
    std::int64_t pos = t_ms;
    for (;;) {
        if (is_work_day(day)) {
            for (const auto& p : periods_) {
                const std::int64_t begin = std::max(pos, instant_of(day, p.begin_minute));
                const std::int64_t end = instant_of(day, p.end_minute);
                if (begin >= end) continue;
                if (remaining <= end - begin) return {begin + remaining, estimated};
                remaining -= end - begin;
            }
        }
        estimated |= estimated_day(++day);
        pos = instant_of(day, 0);
    }
}

std::int64_t WorkCalendar::add_hours(std::int64_t t_ms, double hours) {
    return t_ms + std::llround(hours * kHourMs);
}

CalendarHours WorkCalendar::work_hours_between(std::int64_t a_ms, std::int64_t b_ms) const {
    if (b_ms <= a_ms) return {0, estimated_day(local_day(a_ms))};
    std::int64_t total = 0;
    bool estimated = false;
    for (std::int64_t day = local_day(a_ms), last = local_day(b_ms); day <= last; ++day) {
        estimated |= estimated_day(day);
        if (!is_work_day(day)) continue;
        for (const auto& p : periods_) {
            const std::int64_t begin = std::max(a_ms, instant_of(day, p.begin_minute));
            const std::int64_t end = std::min(b_ms, instant_of(day, p.end_minute));
            if (end > begin) total += end - begin;
        }
    }
    return {static_cast<double>(total) / kHourMs, estimated};
}

}  // namespace casehub::command
