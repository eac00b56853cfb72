// The working-time calendar: weekends, public holidays and adjusted working days (调休) from the
// shipped config/calendar.toml, and the deadline arithmetic on it.
#include "command_fixtures.hpp"

#include <filesystem>
#include <fstream>

using casehub::command::LocalDate;
using casehub::command::WorkCalendar;
using casehub::command::day_number;
using command_test::bj;
using command_test::bj_str;
using command_test::calendar;

namespace {

bool work_day(const char* date) {
    LocalDate d;
    REQUIRE(casehub::command::parse_date(date, d));
    return calendar().is_work_day(d);
}

// A calendar file written for one test, removed afterwards.
struct TempFile {
    std::filesystem::path path;
    explicit TempFile(const std::string& text) {
        path = std::filesystem::temp_directory_path() /
               ("casehub-calendar-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)) + ".toml");
        std::ofstream(path) << text;
    }
    ~TempFile() { std::filesystem::remove(path); }
};

const char* kHeader =
    "schema = \"casehub.calendar/1\"\n"
    "work_weekdays = [1, 2, 3, 4, 5]\n"
    "office_hours = [\"08:30-12:00\", \"13:30-17:30\"]\n";

}  // namespace

TEST_CASE("the shipped calendar covers 2019 to 2026 with its office hours", "[unit]") {
    CHECK(calendar().first_year() == 2019);
    CHECK(calendar().last_year() == 2026);
    CHECK(calendar().office_hours_per_day() == Approx(7.5));
}

TEST_CASE("working days: weekends, holidays and adjusted working weekends", "[unit]") {
    CHECK(work_day("2019-09-27"));   // Friday
    CHECK_FALSE(work_day("2019-09-28"));  // Saturday
    CHECK(work_day("2019-09-29"));   // Sunday worked before National Day (调休)
    for (const char* d : {"2019-10-01", "2019-10-04", "2019-10-07"}) CHECK_FALSE(work_day(d));
    CHECK(work_day("2019-10-08"));
    CHECK(work_day("2019-10-12"));   // Saturday worked after National Day
    CHECK(work_day("2018-12-29"));   // Saturday worked for New Year 2019 (the 2019 notice)
    CHECK_FALSE(work_day("2019-05-02"));  // Labour Day 2019 as changed to 1–4 May
    CHECK(work_day("2019-05-05"));   // … with Sunday 5 May worked
    CHECK_FALSE(work_day("2020-02-01"));  // announced as worked, then the Spring Festival was extended
    CHECK(work_day("2020-01-19"));
    CHECK_FALSE(work_day("2024-06-10"));  // Dragon Boat Festival, a Monday
    CHECK(work_day("2026-02-14"));   // Saturday worked before the 2026 Spring Festival
    CHECK_FALSE(work_day("2026-02-23"));  // Monday, last day of it
    CHECK(work_day("2026-02-28"));
}

TEST_CASE("add_work_days ends at the close of office hours of the n-th working day after", "[unit]") {
    const auto& cal = calendar();
    // Whistle on Friday 27 Sep 2019: Sunday 29 Sep (worked) is day 1, Monday 30 Sep day 2,
    // the National Day week is off, Tuesday 8 Oct is day 3.
    auto due = cal.add_work_days(bj("2019-09-27 10:00"), 3);
    CHECK(bj_str(due.at_ms) == "2019-10-08 17:30");
    CHECK_FALSE(due.estimated);
    // On Monday 30 Sep, the eve of National Day: 8, 9, 10 Oct.
    CHECK(bj_str(cal.add_work_days(bj("2019-09-30 09:00"), 3).at_ms) == "2019-10-10 17:30");
    // Five days from 30 Sep reach Saturday 12 Oct, a working day.
    CHECK(bj_str(cal.add_work_days(bj("2019-09-30 09:00"), 5).at_ms) == "2019-10-12 17:30");
    // The day the clock starts never counts, even at 08:00 on a working day.
    CHECK(bj_str(cal.add_work_days(bj("2019-10-14 08:00"), 1).at_ms) == "2019-10-15 17:30");
    // n = 0: today's close if a working day, else the next working day's.
    CHECK(bj_str(cal.add_work_days(bj("2019-09-28 10:00"), 0).at_ms) == "2019-09-29 17:30");
    CHECK(bj_str(cal.add_work_days(bj("2019-10-14 20:00"), 0).at_ms) == "2019-10-14 17:30");
    // The local date decides: Monday 07:00 in Nanjing is still Sunday in UTC.
    CHECK(bj_str(cal.add_work_days(bj("2019-10-14 07:00"), 1).at_ms) == "2019-10-15 17:30");
}

TEST_CASE("add_work_hours counts office time only: lunch, nights, weekends and holidays skipped", "[unit]") {
    const auto& cal = calendar();
    // Across lunch: 11:00–12:00 is one hour, the second starts at 13:30.
    CHECK(bj_str(cal.add_work_hours(bj("2019-09-23 11:00"), 2).at_ms) == "2019-09-23 14:30");
    // Ending exactly at noon stays at noon.
    CHECK(bj_str(cal.add_work_hours(bj("2019-09-23 11:00"), 1).at_ms) == "2019-09-23 12:00");
    // Started at lunch: the clock runs from 13:30.
    CHECK(bj_str(cal.add_work_hours(bj("2019-09-23 12:40"), 0.5).at_ms) == "2019-09-23 14:00");
    // Across the night.
    CHECK(bj_str(cal.add_work_hours(bj("2019-09-23 20:00"), 1).at_ms) == "2019-09-24 09:30");
    // Friday 17:00 + 1 h: half an hour on Friday, half on Monday morning.
    CHECK(bj_str(cal.add_work_hours(bj("2019-09-20 17:00"), 1).at_ms) == "2019-09-23 09:00");
    // The eve of National Day: the next office hour is after the holiday week.
    CHECK(bj_str(cal.add_work_hours(bj("2019-09-30 17:00"), 1).at_ms) == "2019-10-08 09:00");
    // A full working day is 7.5 hours.
    CHECK(bj_str(cal.add_work_hours(bj("2019-10-14 08:30"), 7.5).at_ms) == "2019-10-14 17:30");
    CHECK(bj_str(cal.add_work_hours(bj("2019-10-14 08:30"), 7.75).at_ms) == "2019-10-15 08:45");
    // Wall-clock hours ignore the calendar.
    CHECK(bj_str(WorkCalendar::add_hours(bj("2019-09-30 17:00"), 24)) == "2019-10-01 17:00");
}

TEST_CASE("work_hours_between sums the office time in a span", "[unit]") {
    const auto& cal = calendar();
    CHECK(cal.work_hours_between(bj("2019-10-14 08:00"), bj("2019-10-14 18:00")).hours == Approx(7.5));
    CHECK(cal.work_hours_between(bj("2019-10-14 11:30"), bj("2019-10-14 14:00")).hours == Approx(1.0));
    // Friday 16:30 → Monday 09:30 over a worked Sunday: 1 + 7.5 + 1.
    CHECK(cal.work_hours_between(bj("2019-09-27 16:30"), bj("2019-09-30 09:30")).hours == Approx(9.5));
    CHECK(cal.work_hours_between(bj("2019-10-01 00:00"), bj("2019-10-07 23:59")).hours == Approx(0.0));
    CHECK(cal.work_hours_between(bj("2019-10-14 14:00"), bj("2019-10-14 10:00")).hours == 0);
    // Inverse of add_work_hours.
    const auto start = bj("2019-09-26 15:10");
    const auto end = cal.add_work_hours(start, 13.25).at_ms;
    CHECK(cal.work_hours_between(start, end).hours == Approx(13.25));
}

TEST_CASE("outside the covered years only weekends are off, and results say estimated", "[unit]") {
    const auto& cal = calendar();
    LocalDate oct1_2030{2030, 10, 1};  // a Tuesday; no 2030 notice in the table
    CHECK(cal.is_work_day(oct1_2030));
    CHECK_FALSE(cal.covers(2030));
    auto due = cal.add_work_days(bj("2027-01-01 10:00"), 1);  // Friday → Monday 4 Jan
    CHECK(bj_str(due.at_ms) == "2027-01-04 17:30");
    CHECK(due.estimated);
    // Running from the last covered day into the next year is estimated too.
    CHECK(cal.add_work_days(bj("2026-12-31 10:00"), 1).estimated);
    CHECK_FALSE(cal.add_work_days(bj("2026-12-29 10:00"), 1).estimated);
    CHECK(cal.work_hours_between(bj("2026-12-31 08:00"), bj("2027-01-04 18:00")).estimated);
}

TEST_CASE("a broken calendar file is refused with file, line and key", "[unit]") {
    SECTION("an adjusted working day on a weekday") {
        TempFile f(std::string(kHeader) +
                   "[[arrangements]]\nyear = 2019\nnotice = \"x\"\ndays_off = []\nwork_days = [\"2019-09-30\"]\n");
        auto cal = WorkCalendar::load(f.path);
        REQUIRE_FALSE(cal);
        CHECK_THAT(cal.error().message, Catch::Contains(f.path.string() + ":8:"));
        CHECK_THAT(cal.error().message, Catch::Contains("work_days[0]"));
        CHECK_THAT(cal.error().message, Catch::Contains("Saturday or a Sunday"));
    }
    SECTION("a gap between years") {
        TempFile f(std::string(kHeader) +
                   "[[arrangements]]\nyear = 2019\nnotice = \"x\"\ndays_off = []\nwork_days = []\n"
                   "[[arrangements]]\nyear = 2021\nnotice = \"x\"\ndays_off = []\nwork_days = []\n");
        auto cal = WorkCalendar::load(f.path);
        REQUIRE_FALSE(cal);
        CHECK_THAT(cal.error().message, Catch::Contains("consecutive"));
    }
    SECTION("an unknown key") {
        TempFile f(std::string(kHeader) + "lunch = \"12:00\"\n");
        auto cal = WorkCalendar::load(f.path);
        REQUIRE_FALSE(cal);
        CHECK_THAT(cal.error().message, Catch::Contains(":4:"));
        CHECK_THAT(cal.error().message, Catch::Contains("lunch: unknown key"));
    }
    SECTION("a malformed span") {
        TempFile f(std::string(kHeader) +
                   "[[arrangements]]\nyear = 2019\nnotice = \"x\"\ndays_off = [\"2019-10-07/2019-10-01\"]\nwork_days = []\n");
        auto cal = WorkCalendar::load(f.path);
        REQUIRE_FALSE(cal);
        CHECK_THAT(cal.error().message, Catch::Contains("days_off[0]"));
    }
    SECTION("a missing file") {
        auto cal = WorkCalendar::load("/nonexistent/calendar.toml");
        REQUIRE_FALSE(cal);
        CHECK_THAT(cal.error().message, Catch::Contains("/nonexistent/calendar.toml"));
    }
}
