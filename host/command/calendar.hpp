// The district's working-time calendar (config/calendar.toml): which days are worked,
// the office hours of a working day, and deadline arithmetic on them.
//
// Instants are UTC epoch milliseconds; "local" is Beijing time, UTC+08:00 all year (China has had
// no daylight saving time since 1991), so local dates need no time-zone database.
//
// Conventions (docs/command-center.md §Calendar):
// - add_work_days(t, n): the end of office hours of the n-th working day after t's local date;
//   t's own date never counts, whatever the hour. n = 0 is the end of office hours of t's date if
//   it is a working day, else of the next working day.
// - add_work_hours(t, h): the instant at which h hours of office time have passed since t; time
//   outside office hours (nights, lunch, days off) does not count. A deadline that lands exactly
//   on the end of an office period is that end (12:00), not the start of the next one.
// - Outside the years the file covers, days off are the weekends only: every function still
//   answers, and the result says `estimated` so callers can show it (the State Council publishes
//   each year's arrangement only in the November before).
#pragma once

#include "common/result.hpp"

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace casehub::command {

constexpr std::int64_t kMinuteMs = 60'000;
constexpr std::int64_t kHourMs = 3'600'000;
constexpr std::int64_t kDayMs = 86'400'000;
constexpr std::int64_t kBeijingOffsetMs = 8 * kHourMs;

struct LocalDate {
    int year = 1970;
    unsigned month = 1, day = 1;
    friend bool operator==(const LocalDate&, const LocalDate&) = default;
};

// Days since 1970-01-01 and back.
std::int64_t day_number(const LocalDate& d);
LocalDate date_of_day(std::int64_t day);
// Local (Beijing) date of an instant, and the instant of a local date at a minute of that day.
LocalDate local_date(std::int64_t epoch_ms);
std::int64_t local_day(std::int64_t epoch_ms);
std::int64_t instant_of(std::int64_t day, int minute_of_day);
// "2019-09-27" strict; nullopt-like false on anything else.
bool parse_date(std::string_view s, LocalDate& out);
std::string format_date(const LocalDate& d);
// ISO weekday, Monday = 1 … Sunday = 7.
int iso_weekday(std::int64_t day);

// One stretch of office time within a day, in minutes since local midnight: [begin, end).
struct OfficePeriod {
    int begin_minute = 0, end_minute = 0;
};

// A computed instant, flagged when a day outside the calendar's years was involved.
struct CalendarTime {
    std::int64_t at_ms = 0;
    bool estimated = false;
};

struct CalendarHours {
    double hours = 0;
    bool estimated = false;
};

class WorkCalendar {
public:
    // Throws nothing: a bad file is an Error naming file, line and key.
    static Result<WorkCalendar> load(const std::filesystem::path& file);

    bool covers(int year) const { return year >= first_year_ && year <= last_year_; }
    int first_year() const { return first_year_; }
    int last_year() const { return last_year_; }

    bool is_work_day(const LocalDate& d) const { return is_work_day(day_number(d)); }
    bool is_work_day(std::int64_t day) const;
    // A day the State Council made a day off / a weekend day it made a working day (调休).
    bool is_holiday(std::int64_t day) const { return days_off_.count(day) != 0; }
    bool is_adjusted_work_day(std::int64_t day) const { return worked_.count(day) != 0; }

    CalendarTime add_work_days(std::int64_t t_ms, int n) const;
    CalendarTime add_work_hours(std::int64_t t_ms, double hours) const;
    static std::int64_t add_hours(std::int64_t t_ms, double hours);
    // Office time between a and b (0 when b <= a).
    CalendarHours work_hours_between(std::int64_t a_ms, std::int64_t b_ms) const;

    const std::vector<OfficePeriod>& office_hours() const { return periods_; }
    double office_hours_per_day() const;

private:
    bool estimated_day(std::int64_t day) const { return !covers(date_of_day(day).year); }

    std::vector<OfficePeriod> periods_;  // sorted, not overlapping, inside one day
    std::set<int> work_weekdays_{1, 2, 3, 4, 5};
    std::set<std::int64_t> days_off_;
    std::set<std::int64_t> worked_;
    int first_year_ = 0, last_year_ = -1;  // nothing covered
};

}  // namespace casehub::command
