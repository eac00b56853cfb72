// The monthly and annual reports: totals equal the inputs, all 54 units ranked, deterministic
// output, CSV shape, and an HTML page that needs nothing from outside.
#include "command_fixtures.hpp"

#include "command/report.hpp"
#include "command/scoring.hpp"

#include <algorithm>

using namespace casehub::command;
using command_test::bj;
using command_test::calendar;
using command_test::config;
using command_test::must;
using command_test::must_open;
using command_test::open_request;
using command_test::source_path;
using nlohmann::json;

namespace {

Whistle answered(const std::string& id, const std::string& street, std::vector<std::string> units,
                 std::int64_t at, bool resolved, int rating) {
    auto r = open_request(id, "general", "work_progress", units, at);
    r.street_code = street;
    Whistle w = must_open(r);
    for (const auto& u : units) {
        w = must(sign(w, u, at + 30 * kMinuteMs, "值班员"));
        w = must(contact(w, u, at + 2 * kHourMs, "对接"));
        w = must(report(config(), w, u, at + 26 * kHourMs, {{"李强", "section_chief"}}));
        w = must(rate(w, u, rating, at + 27 * kHourMs, "街道"));
    }
    return must(resolve(w, resolved, at + 28 * kHourMs, "街道", ""));
}

// The shipped division table's street names.
std::map<std::string, std::string> street_names() {
    auto s = load_street_names(source_path("config/qinhuai/divisions.json"));
    REQUIRE(s);
    return s.value();
}

ReportInput october_input() {
    ReportInput in;
    in.period = {2019, 10};
    in.as_of = bj("2019-11-01 10:00");
    in.street_names = street_names();
    in.whistles.push_back(answered("W1", "320104002", {"D01", "D34"}, bj("2019-10-14 09:00"), true, 5));
    in.whistles.push_back(answered("W2", "320104002", {"D01"}, bj("2019-10-15 09:00"), false, 3));
    in.whistles.push_back(answered("W3", "320104007", {"D03", "D09", "D39"}, bj("2019-10-21 09:00"), true, 4));
    // Still open, nobody signed; its sign and contact are late, its report not yet due.
    in.whistles.push_back(must_open(open_request("W4", "larger", "hard_problem", {"D11"}, bj("2019-10-31 09:00"))));
    // September: not in the October report.
    in.whistles.push_back(answered("W0", "320104001", {"D02"}, bj("2019-09-20 09:00"), true, 5));
    in.cases_solved_by_tier = {{"grid", 1800}, {"community", 120}, {"street", 60}, {"district", 20}};
    in.callbacks = {830, 120, 50};
    return in;
}

}  // namespace

TEST_CASE("the monthly report's totals equal its inputs", "[unit]") {
    const ReportInput in = october_input();
    const json r = build_report(config(), calendar(), in);

    CHECK(r["period"]["from"] == "2019-10-01");
    CHECK(r["period"]["to"] == "2019-10-31");
    CHECK(r["whistles"]["total"] == 4);
    CHECK(r["whistles"]["resolved"] == 2);
    CHECK(r["whistles"]["unresolved"] == 1);
    CHECK(r["whistles"]["open"] == 1);
    CHECK(r["whistles"]["resolution_rate"].get<double>() == Approx(0.6667));
    CHECK(r["whistles"]["by_tier"]["general"] == 3);
    CHECK(r["whistles"]["by_kind"]["hard_problem"] == 1);
    CHECK(r["units"]["total"] == 54);
    CHECK(r["units"]["summoned"] == 6);  // D01 D34 D03 D09 D39 D11
    CHECK(r["units"]["summons"] == 7);

    // All 54 units are ranked or listed; their whistles add up to the summons.
    const auto& ranking = r["ranking"];
    REQUIRE(ranking.size() == 54);
    std::int64_t summons = 0, ranked = 0;
    for (const auto& row : ranking) {
        summons += row["whistles"].get<std::int64_t>();
        if (!row["rank"].is_null()) ++ranked;
    }
    CHECK(summons == 7);
    CHECK(ranked == 6);
    CHECK(ranking[0]["rank"] == 1);
    CHECK(ranking[6]["rank"].is_null());
    CHECK(ranking[6]["code"] == "D02");  // unranked units follow in code order
    for (std::size_t i = 1; i < 6; ++i) CHECK(ranking[i - 1]["score"].get<double>() >= ranking[i]["score"].get<double>());
    // D34: one perfect whistle. D03, D09, D39 answered W3 identically: one shared rank, and the
    // next unit's rank counts them all (1, 2, 2, 2, 5).
    CHECK(ranking[0]["code"] == "D34");
    CHECK(ranking[0]["score"] == 100.0);
    CHECK(ranking[1]["score"] == ranking[3]["score"]);
    CHECK(ranking[1]["rank"] == 2);
    CHECK(ranking[3]["rank"] == 2);
    CHECK(ranking[4]["code"] == "D01");
    CHECK(ranking[4]["rank"] == 5);
    // D01's average is the mean of its two per-whistle scores.
    const auto d01 = std::find_if(ranking.begin(), ranking.end(), [](const json& row) { return row["code"] == "D01"; });
    double expected = 0;
    for (const auto* id : {"W1", "W2"}) {
        const auto& w = *std::find_if(in.whistles.begin(), in.whistles.end(), [&](const Whistle& x) { return x.id == id; });
        expected += score_unit(config().scoring, calendar(), w, *w.answer("D01")).score / 2;
    }
    CHECK((*d01)["score"].get<double>() == Approx(expected).margin(0.005));
    CHECK((*d01)["average_rating"].get<double>() == Approx(4.0));

    // On time: 7 signs and 7 contacts counted (W4's are late by the report's time), 6 reports
    // (W4's is not yet due).
    CHECK(r["on_time"]["sign"].get<double>() == Approx(6.0 / 7).margin(1e-4));
    CHECK(r["on_time"]["contact"].get<double>() == Approx(6.0 / 7).margin(1e-4));
    CHECK(r["on_time"]["report"].get<double>() == Approx(1.0));

    CHECK(r["satisfaction"]["total"] == 1000);
    CHECK(r["satisfaction"]["satisfied"] == 830);
    CHECK(r["satisfaction"]["rate"].get<double>() == Approx(0.95));
    CHECK(r["cases_solved"]["total"] == 2000);
    CHECK(r["cases_solved"]["by_tier"][0]["share"].get<double>() == Approx(0.9));

    REQUIRE(r["streets"].size() == 12);
    std::int64_t street_whistles = 0;
    for (const auto& s : r["streets"]) street_whistles += s["whistles"].get<std::int64_t>();
    CHECK(street_whistles == 4);
    CHECK(r["streets"][1]["name"] == "夫子庙街道");
    CHECK(r["streets"][1]["whistles"] == 3);
}

TEST_CASE("the report is deterministic whatever the input order", "[unit]") {
    ReportInput in = october_input();
    const json a = build_report(config(), calendar(), in);
    std::reverse(in.whistles.begin(), in.whistles.end());
    const json b = build_report(config(), calendar(), in);
    CHECK(a.dump() == b.dump());
    CHECK(report_csv(a) == report_csv(b));
    CHECK(report_html(a) == report_html(b));
}

TEST_CASE("the CSV ranking has a header and one row per unit", "[unit]") {
    const json r = build_report(config(), calendar(), october_input());
    const std::string csv = report_csv(r);
    CHECK(csv.rfind("rank,code,name,kind,whistles,score,sign_on_time,contact_on_time,report_on_time,average_rating,"
                    "resolved\r\n", 0) == 0);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 55);
    CHECK(csv.find("\r\n,D02,区市场监管局,government,0,,,,,,0\r\n") != std::string::npos);
    CHECK(report_csv(r, true).rfind("\xEF\xBB\xBF" "rank,", 0) == 0);
}

TEST_CASE("the HTML page is self-contained", "[unit]") {
    const json r = build_report(config(), calendar(), october_input());
    const std::string html = report_html(r);
    CHECK(html.rfind("<!DOCTYPE html>", 0) == 0);
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(html.find("2019年10月") != std::string::npos);
    for (const char* outside : {"http://", "https://", "src=", "<script", "<link", "url(", "@import", "href="})
        CHECK(html.find(outside) == std::string::npos);
    // Names from the input are escaped.
    ReportInput in = october_input();
    in.district_name = "<b>秦淮区</b>";
    const std::string escaped = report_html(build_report(config(), calendar(), in));
    CHECK(escaped.find("<b>") == std::string::npos);
    CHECK(escaped.find("&lt;b&gt;") != std::string::npos);
}

TEST_CASE("the annual roll-up adds the months up", "[unit]") {
    ReportInput in = october_input();
    in.period = {2019, 0};
    in.whistles.push_back(answered("W5", "320104010", {"D47"}, bj("2019-03-05 09:00"), true, 4));
    const json r = build_report(config(), calendar(), in);
    CHECK(r["period"]["kind"] == "year");
    CHECK(r["period"]["to"] == "2019-12-31");
    CHECK(r["whistles"]["total"] == 6);  // W0 (Sep), W1–W4 (Oct), W5 (Mar)
    REQUIRE(r["months"].size() == 12);
    std::int64_t total = 0, summons = 0;
    for (const auto& m : r["months"]) {
        total += m["total"].get<std::int64_t>();
        summons += m["summons"].get<std::int64_t>();
    }
    CHECK(total == 6);
    CHECK(summons == r["units"]["summons"].get<std::int64_t>());
    CHECK(r["months"][9]["total"] == 4);
    CHECK(r["months"][0]["average_score"].is_null());
    CHECK(report_html(r).find("逐月吹哨") != std::string::npos);
}
