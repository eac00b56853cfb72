// Whistles (吹哨) and reports (报到): opening, the tier/rank rules, step order and conflicts,
// overdue detection, re-whistles and the stored JSON form.
#include "command_fixtures.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace casehub::command;
using command_test::bj;
using command_test::bj_str;
using command_test::calendar;
using command_test::config;
using command_test::must;
using command_test::must_open;
using command_test::open_request;

namespace {

// A whistle whose units have signed and contacted, ready to report.
Whistle ready_to_report(const std::string& tier, std::vector<std::string> units = {"D01"}) {
    Whistle w = must_open(open_request("W1", tier, "work_progress", units, bj("2019-10-14 09:00")));
    for (const auto& u : units) {
        w = must(sign(w, u, bj("2019-10-14 09:30"), "值班员 王敏"));
        w = must(contact(w, u, bj("2019-10-14 15:00"), "电话对接"));
    }
    return w;
}

void check_error(const CommandError& e, const char* code, const char* field) {
    CHECK(e.code == code);
    CHECK(e.field == field);
    CHECK_FALSE(e.message.empty());
}

}  // namespace

TEST_CASE("the shipped rules and the 54 units load", "[unit]") {
    const auto& cfg = config();
    CHECK(cfg.units.size() == 54);
    CHECK(cfg.unit("D01")->name == "区城管局");
    CHECK(cfg.tier("major")->double_report());
    CHECK_FALSE(cfg.tier("general")->double_report());
    CHECK(cfg.kind("hard_problem")->report.amount == 5);
    CHECK(cfg.scoring.total_weight() == Approx(100));
}

TEST_CASE("opening a whistle computes each step's deadline on the calendar", "[unit]") {
    SECTION("work progress, blown on Friday 27 Sep 2019") {
        Whistle w = must_open(open_request("W1", "general", "work_progress", {"D01", "D34"}, bj("2019-09-27 10:00")));
        CHECK(bj_str(w.due.sign) == "2019-09-27 11:00");     // 1 hour
        CHECK(bj_str(w.due.contact) == "2019-09-28 10:00");  // 24 hours, wall clock
        CHECK(bj_str(w.due.report) == "2019-10-08 17:30");   // 3 working days
        CHECK_FALSE(w.due.estimated);
        CHECK(w.units.size() == 2);
        CHECK(w.is_open());
    }
    SECTION("a hard problem on the eve of National Day gets 5 working days") {
        Whistle w = must_open(open_request("W2", "larger", "hard_problem", {"D03"}, bj("2019-09-30 09:00")));
        CHECK(bj_str(w.due.report) == "2019-10-12 17:30");
    }
}

TEST_CASE("opening a whistle validates its request", "[unit]") {
    const auto at = bj("2019-10-14 09:00");
    auto fails = [&](OpenWhistle r, const char* code, const char* field) {
        auto w = open_whistle(config(), calendar(), r);
        REQUIRE_FALSE(w);
        check_error(w.error(), code, field);
    };
    fails(open_request("W1", "general", "work_progress", {"D01", "D99"}, at), errc::not_found, "units[1]");
    fails(open_request("W1", "general", "work_progress", {"D01", "D01"}, at), errc::invalid_argument, "units[1]");
    fails(open_request("W1", "general", "work_progress", {}, at), errc::invalid_argument, "units");
    fails(open_request("W1", "urgent", "work_progress", {"D01"}, at), errc::not_found, "tier");
    fails(open_request("W1", "general", "chat", {"D01"}, at), errc::not_found, "kind");
    fails(open_request("", "general", "work_progress", {"D01"}, at), errc::invalid_argument, "id");
    auto r = open_request("W1", "general", "work_progress", {"D01"}, at);
    r.street_code = "夫子庙";
    fails(r, errc::invalid_argument, "street_code");
}

TEST_CASE("tier and rank rules of a report", "[unit]") {
    const auto at = bj("2019-10-15 10:00");
    SECTION("a general whistle accepts a section chief, and a deputy") {
        CHECK(report(config(), ready_to_report("general"), "D01", at, {{"李强", "section_chief"}}));
        CHECK(report(config(), ready_to_report("general"), "D01", at, {{"赵丽", "deputy_head"}}));
    }
    SECTION("a larger whistle refuses a deputy, with the reason") {
        auto r = report(config(), ready_to_report("larger"), "D01", at, {{"赵丽", "deputy_head"}});
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::rank_too_low, "reporters");
        CHECK_THAT(r.error().message, Catch::Contains("larger"));
        CHECK_THAT(r.error().message, Catch::Contains("部门主要负责人 (head)"));
        CHECK_THAT(r.error().message, Catch::Contains("reported: 部门副职 (deputy_head)"));
    }
    SECTION("a larger whistle accepts the head, also when a deputy comes along") {
        CHECK(report(config(), ready_to_report("larger"), "D01", at, {{"孙伟", "head"}}));
        CHECK(report(config(), ready_to_report("larger"), "D01", at, {{"赵丽", "deputy_head"}, {"孙伟", "head"}}));
    }
    SECTION("a major whistle needs both district leaders (double report)") {
        auto only_committee = report(config(), ready_to_report("major"), "D01", at,
                                     {{"陈书记", "district_standing_committee"}, {"孙伟", "head"}});
        REQUIRE_FALSE(only_committee);
        check_error(only_committee.error(), errc::rank_too_low, "reporters");
        CHECK_THAT(only_committee.error().message, Catch::Contains("double report"));
        CHECK_THAT(only_committee.error().message, Catch::Contains("missing 分管副区长 (deputy_district_head)"));

        auto head_only = report(config(), ready_to_report("major"), "D01", at, {{"孙伟", "head"}});
        REQUIRE_FALSE(head_only);
        CHECK_THAT(head_only.error().message,
                   Catch::Contains("missing 挂钩区委常委 (district_standing_committee) and 分管副区长 (deputy_district_head)"));

        auto both = report(config(), ready_to_report("major"), "D01", at,
                           {{"陈书记", "district_standing_committee"}, {"刘副区长", "deputy_district_head"}});
        REQUIRE(both);
        CHECK(both->units[0].reporters.size() == 2);
        CHECK(both->units[0].reported_at == at);
    }
    SECTION("an unknown rank or a nameless reporter is refused") {
        auto r = report(config(), ready_to_report("general"), "D01", at, {{"李强", "section_chief"}, {"王五", "boss"}});
        REQUIRE_FALSE(r);
        check_error(r.error(), errc::not_found, "reporters[1].rank");
        auto nameless = report(config(), ready_to_report("general"), "D01", at, {{"", "head"}});
        REQUIRE_FALSE(nameless);
        check_error(nameless.error(), errc::invalid_argument, "reporters[0].person");
        auto nobody = report(config(), ready_to_report("general"), "D01", at, {});
        REQUIRE_FALSE(nobody);
        check_error(nobody.error(), errc::invalid_argument, "reporters");
    }
}

TEST_CASE("steps come in order, once each, and never after the whistle is closed", "[unit]") {
    const Whistle w = must_open(open_request("W1", "general", "work_progress", {"D01", "D34"}, bj("2019-10-14 09:00")));
    const auto t = bj("2019-10-14 10:00");

    auto early_contact = contact(w, "D01", t, "");
    REQUIRE_FALSE(early_contact);
    check_error(early_contact.error(), errc::out_of_order, "unit");

    const Whistle signed_w = must(sign(w, "D01", bj("2019-10-14 09:20"), "王敏"));
    auto twice = sign(signed_w, "D01", t, "王敏");
    REQUIRE_FALSE(twice);
    check_error(twice.error(), errc::conflict, "unit");

    auto early_report = report(config(), signed_w, "D01", t, {{"李强", "section_chief"}});
    REQUIRE_FALSE(early_report);
    check_error(early_report.error(), errc::out_of_order, "unit");

    auto before_signing = contact(signed_w, "D01", bj("2019-10-14 09:10"), "");
    REQUIRE_FALSE(before_signing);
    check_error(before_signing.error(), errc::invalid_argument, "at");

    auto before_whistle = sign(w, "D34", bj("2019-10-14 08:00"), "值班员");
    REQUIRE_FALSE(before_whistle);
    check_error(before_whistle.error(), errc::invalid_argument, "at");

    auto stranger = sign(w, "D02", t, "值班员");
    REQUIRE_FALSE(stranger);
    check_error(stranger.error(), errc::not_found, "unit");

    auto unsigned_by = sign(w, "D34", t, "");
    REQUIRE_FALSE(unsigned_by);
    check_error(unsigned_by.error(), errc::invalid_argument, "by");

    auto early_rating = rate(signed_w, "D01", 4, t, "街道");
    REQUIRE_FALSE(early_rating);
    check_error(early_rating.error(), errc::out_of_order, "unit");

    // Close it: no more steps, but a unit that never came is still rated.
    const Whistle closed = must(resolve(signed_w, true, bj("2019-10-18 16:00"), "周建国", "已拆除"));
    CHECK(closed.outcome == WhistleOutcome::resolved);
    auto late_sign = sign(closed, "D34", bj("2019-10-18 17:00"), "值班员");
    REQUIRE_FALSE(late_sign);
    check_error(late_sign.error(), errc::closed, "");
    auto again = resolve(closed, false, bj("2019-10-19 09:00"), "周建国", "");
    REQUIRE_FALSE(again);
    check_error(again.error(), errc::closed, "");
    const Whistle rated = must(rate(closed, "D34", 1, bj("2019-10-18 16:05"), "周建国"));
    CHECK(rated.answer("D34")->rating == 1);
    auto rated_twice = rate(rated, "D34", 2, bj("2019-10-18 16:06"), "周建国");
    REQUIRE_FALSE(rated_twice);
    check_error(rated_twice.error(), errc::conflict, "unit");
    auto out_of_scale = rate(closed, "D01", 6, bj("2019-10-18 16:05"), "周建国");
    REQUIRE_FALSE(out_of_scale);
    check_error(out_of_scale.error(), errc::invalid_argument, "rating");

    // The input state is untouched by every refused or applied step.
    CHECK_FALSE(w.answer("D01")->signed_at);
    CHECK(signed_w.is_open());
}

TEST_CASE("overdue lists the steps past their deadline and not done, while the whistle is open", "[unit]") {
    Whistle w = must_open(open_request("W1", "general", "work_progress", {"D01", "D34"}, bj("2019-10-14 09:00")));
    CHECK(overdue(w, bj("2019-10-14 09:59")).empty());

    auto at_11 = overdue(w, bj("2019-10-14 11:00"));
    REQUIRE(at_11.size() == 2);
    CHECK(at_11[0].unit == "D01");
    CHECK(at_11[0].step == Step::sign);
    CHECK(at_11[0].overdue_ms == kHourMs);
    CHECK(at_11[1].unit == "D34");

    w = must(sign(w, "D01", bj("2019-10-14 09:30"), "王敏"));
    w = must(contact(w, "D01", bj("2019-10-14 14:00"), "现场对接"));
    w = must(sign(w, "D34", bj("2019-10-14 12:00"), "值班员"));  // late, but done: no alert
    auto next_day = overdue(w, bj("2019-10-15 09:30"));
    REQUIRE(next_day.size() == 1);
    CHECK(next_day[0].unit == "D34");
    CHECK(next_day[0].step == Step::contact);

    // 3 working days from Monday 14 Oct end on Thursday 17 Oct at 17:30.
    CHECK(overdue(w, bj("2019-10-17 17:30")).size() == 1);
    auto friday = overdue(w, bj("2019-10-18 09:00"));
    REQUIRE(friday.size() == 3);  // D01 report, D34 contact and report
    CHECK(friday[0].unit == "D01");
    CHECK(friday[0].step == Step::report);
    CHECK(bj_str(friday[0].due) == "2019-10-17 17:30");

    w = must(resolve(w, false, bj("2019-10-18 10:00"), "周建国", "未能解决"));
    CHECK(overdue(w, bj("2019-10-30 09:00")).empty());
}

TEST_CASE("a re-whistle closes the whistle and opens its successor", "[unit]") {
    Whistle w = must_open(open_request("W1", "general", "work_progress", {"D01"}, bj("2019-10-14 09:00")));
    auto next = open_request("W2", "larger", "hard_problem", {"D01", "D03"}, bj("2019-10-21 09:00"));
    auto r = must(rewhistle(config(), calendar(), w, next));
    CHECK(r.previous.outcome == WhistleOutcome::rewhistled);
    CHECK(r.previous.next_id == "W2");
    CHECK(r.previous.outcome_at == bj("2019-10-21 09:00"));
    CHECK(r.next.previous_id == "W1");
    CHECK(r.next.tier == "larger");
    CHECK(bj_str(r.next.due.report) == "2019-10-28 17:30");  // 5 working days from Monday 21 Oct
    CHECK(r.next.is_open());

    auto again = rewhistle(config(), calendar(), r.previous, open_request("W3", "general", "work_progress", {"D01"},
                                                                          bj("2019-10-22 09:00")));
    REQUIRE_FALSE(again);
    check_error(again.error(), errc::closed, "");

    auto same_id = rewhistle(config(), calendar(), w, open_request("W1", "general", "work_progress", {"D01"},
                                                                   bj("2019-10-22 09:00")));
    REQUIRE_FALSE(same_id);
    check_error(same_id.error(), errc::conflict, "id");

    auto other_case = open_request("W4", "general", "work_progress", {"D01"}, bj("2019-10-22 09:00"));
    other_case.case_id = "C20191022-000009";
    auto moved = rewhistle(config(), calendar(), w, other_case);
    REQUIRE_FALSE(moved);
    check_error(moved.error(), errc::invalid_argument, "case_id");
}

TEST_CASE("the stored JSON form round-trips and rejects damage with the field", "[unit]") {
    Whistle w = ready_to_report("major", {"D01", "D34"});
    w = must(report(config(), w, "D01", bj("2019-10-16 10:00"),
                    {{"陈书记", "district_standing_committee"}, {"刘副区长", "deputy_district_head"}}));
    auto rated_before_report = rate(w, "D01", 5, bj("2019-10-16 09:00"), "周建国");
    REQUIRE_FALSE(rated_before_report);
    check_error(rated_before_report.error(), errc::invalid_argument, "at");
    w = must(rate(w, "D01", 5, bj("2019-10-16 11:00"), "周建国"));
    w = must(resolve(w, true, bj("2019-10-16 12:00"), "周建国", "已解决"));

    const auto j = to_json(w);
    CHECK(j["units"][0]["reporters"][1]["rank"] == "deputy_district_head");
    CHECK(j["units"][1]["reported_at"].is_null());
    auto back = whistle_from_json(j);
    REQUIRE(back);
    CHECK(to_json(back.value()) == j);
    CHECK(back->units[0].rating == 5);
    CHECK(back->outcome == WhistleOutcome::resolved);

    auto damaged = j;
    damaged["units"][0]["signed_at"] = "yesterday";
    auto bad = whistle_from_json(damaged);
    REQUIRE_FALSE(bad);
    check_error(bad.error(), errc::invalid_argument, "units[0].signed_at");

    damaged = j;
    damaged["due"]["estimated"] = "no";
    REQUIRE_FALSE(whistle_from_json(damaged));
    damaged = j;
    damaged["schema"] = 7;
    REQUIRE_FALSE(whistle_from_json(damaged));
    damaged = j;
    damaged["outcome"] = "maybe";
    REQUIRE_FALSE(whistle_from_json(damaged));
    CHECK_FALSE(whistle_from_json(nlohmann::json::array()));
}

TEST_CASE("a broken rules file is refused with file, line and key", "[unit]") {
    std::ifstream in(command_test::source_path("config/command.toml"));
    std::stringstream text;
    text << in.rdbuf();
    auto with = [&](const std::string& from, const std::string& to) {
        std::string s = text.str();
        const auto at = s.find(from);
        REQUIRE(at != std::string::npos);
        s.replace(at, from.size(), to);
        const auto path = std::filesystem::temp_directory_path() / "casehub-command-test.toml";
        std::ofstream(path) << s;
        auto cfg = load_command_config(path, command_test::source_path("config/qinhuai/departments.json"));
        std::filesystem::remove(path);
        REQUIRE_FALSE(cfg);
        return cfg.error().message;
    };
    const auto unknown_rank = with("accepted_ranks = [\"head\"", "accepted_ranks = [\"chief\"");
    CHECK_THAT(unknown_rank, Catch::Contains("casehub-command-test.toml:"));
    CHECK_THAT(unknown_rank, Catch::Contains("tiers[1].accepted_ranks[0]: unknown rank \"chief\""));
    CHECK_THAT(with("late_floor = 0.2", "late_flor = 0.2"), Catch::Contains("scoring.late_flor: unknown key"));
    CHECK_THAT(with("report = {amount = 5, unit = \"work_days\"}", "report = {amount = 5, unit = \"days\"}"),
               Catch::Contains("kinds[1].report.unit"));
    CHECK_THAT(with("street = {amount = 5, unit = \"work_days\"}", "street = \"later\""),
               Catch::Contains("escalation.time_limits.street: expected \"category\" or {amount, unit}"));
    auto no_units = load_command_config(command_test::source_path("config/command.toml"), "/nonexistent.json");
    REQUIRE_FALSE(no_units);
    CHECK_THAT(no_units.error().message, Catch::Contains("/nonexistent.json"));
}
