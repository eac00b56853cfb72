// 一哨一考核: the score formula, and the worked example of docs/command-center.md §Scoring,
// number for number.
#include "command_fixtures.hpp"

#include "command/scoring.hpp"

using namespace casehub::command;
using command_test::bj;
using command_test::bj_str;
using command_test::calendar;
using command_test::config;
using command_test::must;
using command_test::must_open;
using command_test::open_request;

namespace {

// The docs' example: a work-progress whistle blown on Monday 14 Oct 2019 at 09:00 on 区城管局
// (D01) and 环卫所 (D34), resolved on Friday 18 Oct.
Whistle worked_example() {
    Whistle w = must_open(open_request("W-EX", "general", "work_progress", {"D01", "D34"}, bj("2019-10-14 09:00")));
    w = must(sign(w, "D01", bj("2019-10-14 09:40"), "王敏"));
    w = must(contact(w, "D01", bj("2019-10-15 11:00"), "电话对接"));
    w = must(report(config(), w, "D01", bj("2019-10-18 12:00"), {{"李强", "section_chief"}}));
    w = must(rate(w, "D01", 4, bj("2019-10-18 15:00"), "周建国"));
    w = must(sign(w, "D34", bj("2019-10-14 11:30"), "值班员"));
    w = must(resolve(w, true, bj("2019-10-18 16:00"), "周建国", "占道经营已清理"));
    w = must(rate(w, "D34", 2, bj("2019-10-18 16:05"), "周建国"));
    return w;
}

}  // namespace

TEST_CASE("scoring: the worked example of the docs", "[unit]") {
    const Whistle w = worked_example();
    CHECK(bj_str(w.due.sign) == "2019-10-14 10:00");
    CHECK(bj_str(w.due.contact) == "2019-10-15 09:00");
    CHECK(bj_str(w.due.report) == "2019-10-17 17:30");

    const auto scores = score_whistle(config().scoring, calendar(), w);
    REQUIRE(scores.size() == 2);

    const UnitScore& d01 = scores[0];
    CHECK(d01.unit == "D01");
    CHECK(d01.steps[0].on_time);
    CHECK(d01.steps[0].part == 1.0);
    CHECK_FALSE(d01.steps[1].on_time);
    CHECK(d01.steps[1].lateness == Approx(2.0));        // hours
    CHECK(d01.steps[1].part == Approx(1 - 2.0 / 24));   // 0.9167
    CHECK(d01.steps[2].lateness == Approx(3.5 / 7.5));  // work days: Fri 08:30–12:00
    CHECK(d01.steps[2].part == Approx(1 - (3.5 / 7.5) / 3));  // 0.8444
    CHECK(d01.rating == 4);
    CHECK(d01.resolved);
    CHECK_FALSE(d01.provisional);
    // (10×1 + 15×0.91667 + 25×0.84444 + 25×0.75 + 25×1) / 100 × 100
    CHECK(d01.score == Approx(88.6111).epsilon(1e-5));

    const UnitScore& d34 = scores[1];
    CHECK(d34.steps[0].lateness == Approx(1.5));
    CHECK(d34.steps[0].part == Approx(0.625));
    CHECK_FALSE(d34.steps[1].done_at);
    CHECK(d34.steps[1].part == 0);
    CHECK(d34.steps[2].part == 0);
    // 10×0.625 + 25×0.25 + 25×1
    CHECK(d34.score == Approx(37.5));
}

TEST_CASE("scoring: floors, unrated whistles and unresolved ones", "[unit]") {
    Whistle w = must_open(open_request("W1", "general", "work_progress", {"D01"}, bj("2019-10-14 09:00")));
    // Signed two days late: far past the 4-hour grace, so the floor (0.2), not 0.
    w = must(sign(w, "D01", bj("2019-10-16 09:00"), "王敏"));
    auto open_score = score_unit(config().scoring, calendar(), w, w.units[0]);
    CHECK(open_score.steps[0].part == Approx(0.2));
    CHECK(open_score.provisional);
    CHECK_FALSE(open_score.rated);
    CHECK(open_score.rating == 3);  // unrated_rating
    // 10×0.2 + 25×0.5
    CHECK(open_score.score == Approx(14.5));

    w = must(resolve(w, false, bj("2019-10-20 09:00"), "周建国", "未解决"));
    auto closed_score = score_unit(config().scoring, calendar(), w, w.units[0]);
    CHECK_FALSE(closed_score.provisional);
    CHECK_FALSE(closed_score.resolved);
    CHECK(closed_score.score == Approx(14.5));

    // Everything on time, rated 5, resolved: 100.
    Whistle best = must_open(open_request("W2", "general", "work_progress", {"D02"}, bj("2019-10-14 09:00")));
    best = must(sign(best, "D02", bj("2019-10-14 09:05"), "a"));
    best = must(contact(best, "D02", bj("2019-10-14 10:00"), ""));
    best = must(report(config(), best, "D02", bj("2019-10-15 10:00"), {{"b", "head"}}));
    best = must(rate(best, "D02", 5, bj("2019-10-15 11:00"), "c"));
    best = must(resolve(best, true, bj("2019-10-15 12:00"), "c", ""));
    CHECK(score_unit(config().scoring, calendar(), best, best.units[0]).score == Approx(100));
}
