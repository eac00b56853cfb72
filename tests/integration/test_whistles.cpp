// The command centre inside a real casehubd (docs/command-center.md): whistles step by step as
// events on the case and the feed, refusals with their reasons, overdue alerts on the working
// calendar (National Day 2019), escalation of case tiers, and reports whose totals match the store.
// The hub runs on a simulated clock that the tests move with `casehub clock set`.
#include "harness.hpp"

#include "config/hub_config.hpp"

#include <algorithm>
#include <set>
#include <sstream>

using namespace casehub::test;

namespace {

// Three cases (records 1, 2, 3 in streets 320104009, 320104011, 320104002), correlation off,
// the command centre on a simulated clock starting Monday 30 September 2019 09:00.
std::string command_toml(const std::string& start = "2019-09-30T09:00:00+08:00") {
    const std::string src = CASEHUB_SOURCE_DIR;
    return hub_toml("",
                    "[[adapters]]\nid = \"seq\"\nplugin = \"seq_source\"\n[adapters.config]\ncount = 3\nstreets = true\n",
                    kNoCorrelation + "[http]\nenabled = false\n[command]\nrules = \"" + src +
                        "/config/command.toml\"\ncalendar = \"" + src +
                        "/config/calendar.toml\"\nclock = \"simulated\"\nclock_start = " + start +
                        "\nalert_check_seconds = 60\n");
}

std::string case_of(const fs::path& db, const std::string& record_id) {
    auto r = query(db, "SELECT case_id FROM source_records WHERE system='seq' AND record_id='" + record_id + "'");
    return r.empty() ? "" : r[0];
}

// `casehub <args...> --json`: the hub's answer or its refusal {error, code, field}.
nlohmann::json cli_json(const fs::path& dir, std::vector<std::string> args, int* exit_code = nullptr) {
    args.push_back("--json");
    auto r = casehub_cli(dir, args);
    if (exit_code) *exit_code = r.exit_code;
    std::istringstream in(r.output);
    for (std::string l; std::getline(in, l);)
        if (!l.empty() && l[0] == '{') return nlohmann::json::parse(l);
    return {{"output", r.output}, {"exit_code", r.exit_code}};
}
nlohmann::json whistle(const fs::path& dir, std::vector<std::string> args, int* exit_code = nullptr) {
    args.insert(args.begin(), "whistle");
    return cli_json(dir, args, exit_code);
}
nlohmann::json clock_set(const fs::path& dir, const std::string& at) {
    auto j = cli_json(dir, {"clock", "set", at});
    INFO(j.dump());
    REQUIRE(j.contains("now"));
    return j;
}

// One request on the control socket, as the CLI and the HTTP API send it.
nlohmann::json control(const fs::path& dir, const nlohmann::json& req) {
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::req);
    s.set(zmq::sockopt::linger, 0);
    s.connect("ipc://" + (dir / "var/control.sock").string());
    s.send(zmq::buffer(req.dump()));
    zmq::pollitem_t it{static_cast<void*>(s), 0, ZMQ_POLLIN, 0};
    zmq::poll(&it, 1, std::chrono::milliseconds(10000));
    zmq::message_t m;
    if (!(it.revents & ZMQ_POLLIN) || !s.recv(m)) return nullptr;
    return nlohmann::json::parse(m.to_string_view(), nullptr, false);
}

long long count(const fs::path& db, const std::string& where) {
    return query_int(db, "SELECT count(*) FROM events WHERE " + where);
}

void start_with_cases(Hub& hub) {
    hub.start();
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM source_records") == 3; }, 20s));
    // Each new case gets its starting tier (grid for exposed garbage, a general category).
    REQUIRE(wait_until([&] { return query_int(hub.db(), "SELECT count(*) FROM case_tiers") == 3; }, 10s));
}

}  // namespace

TEST_CASE("whistles: every step is an event on the case's history and on the street's feed", "[integration]") {
    TempDir dir;
    Hub hub(dir.path, command_toml());
    start_with_cases(hub);
    const auto db = hub.db();
    const std::string c = case_of(db, "1");
    REQUIRE(query(db, "SELECT street_code FROM cases WHERE case_id='" + c + "'") == std::vector<std::string>{"320104009"});
    CHECK(query(db, "SELECT tier FROM case_tiers WHERE case_id='" + c + "'") == std::vector<std::string>{"grid"});

    auto j = whistle(dir.path, {"open", c, "--tier", "general", "--kind", "work_progress", "--unit", "D01", "--unit",
                                "D34", "--street", "320104009", "--note", "背街小巷垃圾清运", "--by", "瑞金路街道"});
    INFO(j.dump());
    REQUIRE(j["whistle_id"] == "W20190930-0001");
    const std::string w = j["whistle_id"];
    CHECK(j["whistle"]["deadlines"]["sign"] == "2019-09-30T10:00:00+08:00");
    CHECK(j["whistle"]["deadlines"]["contact"] == "2019-10-01T09:00:00+08:00");
    // 3 working days from Monday 30 September: 1–7 October are off, so 8, 9, 10 October.
    CHECK(j["whistle"]["deadlines"]["report"] == "2019-10-10T17:30:00+08:00");

    clock_set(dir.path, "2019-09-30T09:40:00+08:00");
    REQUIRE(whistle(dir.path, {"sign", w, "D01", "--by", "王强"}).contains("seq"));
    clock_set(dir.path, "2019-09-30T09:50:00+08:00");
    REQUIRE(whistle(dir.path, {"contact", w, "D01", "--note", "已与街道对接，明早清运"}).contains("seq"));
    REQUIRE(whistle(dir.path, {"report", w, "D01", "--reporter", "李四:section_chief"}).contains("seq"));
    REQUIRE(whistle(dir.path, {"rate", w, "D01", "4", "--by", "瑞金路街道"}).contains("seq"));
    REQUIRE(whistle(dir.path, {"sign", w, "D34", "--by", "周敏"}).contains("seq"));
    REQUIRE(whistle(dir.path, {"contact", w, "D34"}).contains("seq"));
    j = whistle(dir.path, {"report", w, "D34", "--reporter", "孙伟:deputy_head", "--reporter", "陈洁:section_chief"});
    INFO(j.dump());
    REQUIRE(j["whistle"]["units"][1]["reporters"].size() == 2);
    j = whistle(dir.path, {"resolve", w, "--note", "已清运", "--by", "瑞金路街道"});
    REQUIRE(j["whistle"]["outcome"] == "resolved");
    // A closed whistle still takes the ratings of units not yet rated.
    REQUIRE(whistle(dir.path, {"rate", w, "D34", "3", "--by", "瑞金路街道"}).contains("seq"));

    const std::vector<std::string> expected = {"whistle",          "whistle_signed",    "whistle_contacted",
                                               "whistle_reported", "whistle_rated",     "whistle_signed",
                                               "whistle_contacted", "whistle_reported", "whistle_resolved",
                                               "whistle_rated"};
    CHECK(query(db, "SELECT type FROM events WHERE case_id='" + c + "' AND type LIKE 'whistle%' ORDER BY seq") == expected);
    CHECK(count(db, "case_id='" + c + "' AND type LIKE 'whistle%' AND json_extract(detail, '$.whistle_id') = '" + w + "'") == 10);
    // Each step's time is the hub's (simulated) clock; the case row follows its last event.
    CHECK(query(db, "SELECT at FROM events WHERE type='whistle_signed' AND json_extract(detail, '$.unit')='D01'") ==
          std::vector<std::string>{"1569807600000"});  // 2019-09-30T09:40:00+08:00
    CHECK(query_int(db, "SELECT seq FROM cases WHERE case_id='" + c + "'") == query_int(db, "SELECT max(seq) FROM events WHERE case_id='" + c + "'"));
    // The stored whistle.
    CHECK(query(db, "SELECT outcome FROM whistles WHERE whistle_id='" + w + "'") == std::vector<std::string>{"resolved"});
    CHECK(query(db, "SELECT next_due_at IS NULL FROM whistles WHERE whistle_id='" + w + "'") == std::vector<std::string>{"1"});

    // On the feed: a consumer of the street sees the case and the ten steps, in order.
    auto r = casehub_cli(dir.path, {"feed", "tail", "--from", "0", "--street", "320104009", "--json", "--count", "11",
                                    "--timeout", "10"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    std::vector<std::string> types;
    std::istringstream in(r.output);
    for (std::string l; std::getline(in, l);)
        if (!l.empty() && l[0] == '{') types.push_back(nlohmann::json::parse(l)["type"]);
    REQUIRE(types.size() == 11);
    CHECK(types[0] == "created");
    CHECK(std::vector<std::string>(types.begin() + 1, types.end()) == expected);

    // List by case and by month.
    j = whistle(dir.path, {"list", "--case", c});
    REQUIRE(j["count"] == 1);
    CHECK(j["whistles"][0]["units"][0]["rating"] == 4);
    CHECK(j["whistles"][0]["units"][0]["signed_by"] == "王强");
    CHECK(whistle(dir.path, {"list", "--month", "2019-09"})["count"] == 1);
    // One whistle by id (what the HTTP API's GET /api/v1/whistles/{id} asks).
    j = control(dir.path, {{"cmd", "whistles"}, {"whistle_id", w}});
    REQUIRE(j["count"] == 1);
    CHECK(j["whistles"][0]["id"] == w);
    CHECK(control(dir.path, {{"cmd", "whistles"}, {"whistle_id", "W20190930-0999"}})["count"] == 0);
    CHECK(whistle(dir.path, {"list", "--month", "2019-10"})["count"] == 0);
    CHECK(whistle(dir.path, {"list", "--street", "320104011"})["count"] == 0);

    // A re-whistle closes the whistle and opens its successor (an unanswered general whistle
    // comes back as larger).
    const std::string c2 = case_of(db, "2");
    j = whistle(dir.path, {"open", c2, "--tier", "general", "--kind", "hard_problem", "--unit", "D05", "--by", "红花街道"});
    REQUIRE(j["whistle_id"] == "W20190930-0002");
    j = whistle(dir.path, {"rewhistle", "W20190930-0002", "--tier", "larger", "--kind", "hard_problem", "--unit", "D05",
                           "--unit", "D06", "--note", "一周无人报到", "--by", "红花街道"});
    INFO(j.dump());
    REQUIRE(j["next_id"] == "W20190930-0003");
    CHECK(j["whistle"]["outcome"] == "rewhistled");
    CHECK(j["next"]["previous_id"] == "W20190930-0002");
    CHECK(j["next"]["tier"] == "larger");
    CHECK(query(db, "SELECT type FROM events WHERE case_id='" + c2 + "' AND type LIKE 'whistle%' ORDER BY seq") ==
          std::vector<std::string>{"whistle", "whistle_rewhistled"});
    CHECK(query(db, "SELECT outcome FROM whistles WHERE case_id='" + c2 + "' ORDER BY whistle_id") ==
          std::vector<std::string>{"rewhistled", "open"});
}

TEST_CASE("whistles: refusals carry the reason and the code and the field and write nothing", "[integration]") {
    TempDir dir;
    Hub hub(dir.path, command_toml());
    start_with_cases(hub);
    const auto db = hub.db();
    const std::string c = case_of(db, "1");
    int code = 0;

    // A larger whistle must be answered by the head of the unit (or a district leader).
    auto j = whistle(dir.path, {"open", c, "--tier", "larger", "--kind", "work_progress", "--unit", "D01", "--unit", "D34"});
    REQUIRE(j["whistle_id"] == "W20190930-0001");
    const std::string w = j["whistle_id"];
    CHECK(j["whistle"]["street_code"] == "320104009");  // the case's street when none is given
    REQUIRE(whistle(dir.path, {"sign", w, "D01"}).contains("seq"));
    REQUIRE(whistle(dir.path, {"contact", w, "D01"}).contains("seq"));
    const auto events_before = count(db, "type LIKE 'whistle%'");
    j = whistle(dir.path, {"report", w, "D01", "--reporter", "赵六:deputy_head"}, &code);
    INFO(j.dump());
    CHECK(code == 2);
    CHECK(j["code"] == "rank_too_low");
    CHECK(j["field"] == "reporters");
    CHECK_THAT(j["error"].get<std::string>(), Catch::Contains("部门主要负责人 (head)"));
    CHECK_THAT(j["error"].get<std::string>(), Catch::Contains("reported: 部门副职 (deputy_head)"));
    // An unknown rank is not a low one.
    j = whistle(dir.path, {"report", w, "D01", "--reporter", "赵六:chief"}, &code);
    CHECK(j["code"] == "not_found");
    CHECK(j["field"] == "reporters[0].rank");
    CHECK(count(db, "type LIKE 'whistle%'") == events_before);
    CHECK(whistle(dir.path, {"report", w, "D01", "--reporter", "钱七:head"}).contains("seq"));

    // Out of order, twice, not summoned.
    j = whistle(dir.path, {"contact", w, "D34"}, &code);
    CHECK(j["code"] == "out_of_order");
    j = whistle(dir.path, {"sign", w, "D01"}, &code);
    CHECK(j["code"] == "conflict");
    j = whistle(dir.path, {"sign", w, "D02"}, &code);
    CHECK(code == 1);
    CHECK(j["code"] == "not_found");
    CHECK(j["field"] == "unit");
    j = whistle(dir.path, {"rate", w, "D01", "6"}, &code);
    CHECK(j["code"] == "invalid_argument");
    CHECK(j["field"] == "rating");

    // A street whistles on its own cases only.
    const auto whistles_before = query_int(db, "SELECT count(*) FROM whistles");
    j = whistle(dir.path, {"open", c, "--tier", "general", "--kind", "work_progress", "--unit", "D01", "--street", "320104002"}, &code);
    CHECK(code == 2);
    CHECK(j["code"] == "wrong_street");
    CHECK(j["field"] == "street_code");
    CHECK_THAT(j["error"].get<std::string>(), Catch::Contains("320104009"));
    // Unknown unit, case, whistle, tier.
    j = whistle(dir.path, {"open", c, "--tier", "general", "--kind", "work_progress", "--unit", "D01", "--unit", "D99"}, &code);
    CHECK(code == 1);
    CHECK(j["code"] == "not_found");
    CHECK(j["field"] == "units[1]");
    j = whistle(dir.path, {"open", "C20190930-000099", "--tier", "general", "--kind", "work_progress", "--unit", "D01"}, &code);
    CHECK(code == 1);
    CHECK(j["code"] == "not_found");
    CHECK(j["field"] == "case_id");
    j = whistle(dir.path, {"open", c, "--tier", "huge", "--kind", "work_progress", "--unit", "D01"}, &code);
    CHECK(j["code"] == "not_found");
    CHECK(j["field"] == "tier");
    j = whistle(dir.path, {"sign", "W20190930-9999", "D01"}, &code);
    CHECK(code == 1);
    CHECK(j["code"] == "not_found");
    CHECK(j["field"] == "whistle_id");
    CHECK(query_int(db, "SELECT count(*) FROM whistles") == whistles_before);

    // Closed: no step after the street closes it; the clock never goes back.
    REQUIRE(whistle(dir.path, {"resolve", w, "--unresolved", "--note", "协调未果"}).contains("seq"));
    j = whistle(dir.path, {"sign", w, "D34"}, &code);
    CHECK(j["code"] == "closed");
    j = cli_json(dir.path, {"clock", "set", "2019-09-29T09:00:00+08:00"}, &code);
    CHECK(code == 2);
    CHECK_THAT(j["error"].get<std::string>(), Catch::Contains("forward"));
    CHECK(query(db, "SELECT outcome FROM whistles WHERE whistle_id='" + w + "'") == std::vector<std::string>{"unresolved"});
}

TEST_CASE("whistles: overdue steps alert once on the working calendar and tiers escalate and reports match the store",
          "[integration]") {
    TempDir dir;
    Hub hub(dir.path, command_toml());
    start_with_cases(hub);
    const auto db = hub.db();
    const std::string c1 = case_of(db, "1"), c2 = case_of(db, "2"), c3 = case_of(db, "3");
    // Exposed garbage: 4 work hours at the grid, from Monday 09:00 → 14:30 (lunch 12:00–13:30).
    CHECK(query_int(db, "SELECT due_at FROM case_tiers WHERE case_id='" + c1 + "'") == 1569825000000);  // 14:30

    // W1: D01 signs and contacts at once; D34 does nothing. W2 resolved at once. W3 re-whistled as W4.
    auto j = whistle(dir.path, {"open", c1, "--tier", "general", "--kind", "work_progress", "--unit", "D01", "--unit", "D34"});
    const std::string w1 = j["whistle_id"];
    REQUIRE(whistle(dir.path, {"sign", w1, "D01"}).contains("seq"));
    REQUIRE(whistle(dir.path, {"contact", w1, "D01"}).contains("seq"));
    j = whistle(dir.path, {"open", c2, "--tier", "general", "--kind", "hard_problem", "--unit", "D05"});
    REQUIRE(whistle(dir.path, {"resolve", j["whistle_id"]}).contains("seq"));
    j = whistle(dir.path, {"open", c3, "--tier", "general", "--kind", "work_progress", "--unit", "D11"});
    j = whistle(dir.path, {"rewhistle", j["whistle_id"], "--tier", "major", "--kind", "hard_problem", "--unit", "D11",
                           "--unit", "D12"});
    REQUIRE(j["next_id"] == "W20190930-0004");

    const std::string alerts = "type='alert'";
    CHECK(count(db, alerts) == 0);
    // 10:30: D34 has not signed (due 10:00); W4's units neither (due 10:00 too).
    auto t = clock_set(dir.path, "2019-09-30T10:30:00+08:00");
    CHECK(count(db, alerts) == 3);
    CHECK(t["events"] == 3);
    CHECK(query(db, "SELECT json_extract(detail, '$.unit') || ' ' || json_extract(detail, '$.step') || ' ' ||"
                    " json_extract(detail, '$.due') FROM events WHERE type='alert' AND case_id='" + c1 + "'") ==
          std::vector<std::string>{"D34 sign 2019-09-30T10:00:00+08:00"});
    CHECK(count(db, "type='escalated'") == 0);
    clock_set(dir.path, "2019-09-30T10:31:00+08:00");
    CHECK(count(db, alerts) == 3);  // never repeated

    // Tuesday 1 October 09:30: contacts overdue (24 wall-clock hours); the cases left the grid at 14:30.
    clock_set(dir.path, "2019-10-01T09:30:00+08:00");
    CHECK(count(db, alerts + " AND case_id='" + c1 + "'") == 2);
    CHECK(count(db, "type='escalated'") == 3);
    CHECK(query(db, "SELECT DISTINCT tier FROM case_tiers") == std::vector<std::string>{"community"});
    CHECK(query_int(db, "SELECT since FROM case_tiers WHERE case_id='" + c1 + "'") == 1569825000000);
    auto e = nlohmann::json::parse(query(db, "SELECT detail FROM events WHERE type='escalated' AND case_id='" + c1 + "'").at(0));
    CHECK(e["from"] == "grid");
    CHECK(e["to"] == "community");
    // Community: 4 more work hours: 14:30–17:30 Monday, then 1–7 October are off: Tuesday 8th 09:30.
    CHECK(e["next_due_at"] == "2019-10-08T09:30:00+08:00");

    // Thursday 3 October, three calendar days after the whistle: National Day, no working day has
    // passed, the report (3 working days) is not due: no alert.
    const auto before = count(db, alerts + " AND case_id='" + c1 + "'");
    clock_set(dir.path, "2019-10-03T18:00:00+08:00");
    clock_set(dir.path, "2019-10-10T17:29:00+08:00");
    CHECK(count(db, alerts + " AND case_id='" + c1 + "' AND json_extract(detail, '$.step')='report'") == 0);
    CHECK(count(db, alerts + " AND case_id='" + c1 + "'") == before);
    // Thursday 10 October 17:31: the report of both units is overdue, once each.
    clock_set(dir.path, "2019-10-10T17:31:00+08:00");
    CHECK(query(db, "SELECT json_extract(detail, '$.unit') FROM events WHERE type='alert' AND case_id='" + c1 +
                    "' AND json_extract(detail, '$.step')='report' ORDER BY 1") == std::vector<std::string>{"D01", "D34"});
    CHECK(count(db, alerts + " AND json_extract(detail, '$.due')='2019-10-10T17:30:00+08:00'") == 2);
    clock_set(dir.path, "2019-10-11T09:00:00+08:00");
    CHECK(count(db, alerts + " AND case_id='" + c1 + "'") == 4);
    // One alert per (whistle, unit, step).
    CHECK(query_int(db, "SELECT count(DISTINCT json_extract(detail, '$.whistle_id') || json_extract(detail, '$.unit') ||"
                        " json_extract(detail, '$.step')) FROM events WHERE type='alert'") == count(db, alerts));
    // The resolved whistle raised nothing.
    CHECK(count(db, alerts + " AND case_id='" + c2 + "'") == 0);

    // Community → street on 8 October 09:30; the street has 5 working days (Saturday 12 October
    // was worked): 14 October 17:30. A solved case stays where it was solved.
    CHECK(query(db, "SELECT DISTINCT tier FROM case_tiers") == std::vector<std::string>{"street"});
    auto r = casehub_cli(dir.path, {"cases", "action", c3, "resolve", "--note", "已处理"});
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    clock_set(dir.path, "2019-10-15T09:00:00+08:00");
    CHECK(query(db, "SELECT tier FROM case_tiers ORDER BY case_id") ==
          std::vector<std::string>{"district", "district", "street"});
    CHECK(query(db, "SELECT due_at IS NULL FROM case_tiers ORDER BY case_id") == std::vector<std::string>{"1", "1", "1"});
    CHECK(count(db, "type='escalated'") == 8);

    // The September report: its totals are the store's.
    const std::string sept = "opened_at >= 1567267200000 AND opened_at < 1569859200000";  // 2019-09-01/10-01 +08:00
    r = casehub_cli(dir.path, {"report", "monthly", "2019-09", "--format", "json"});
    REQUIRE(r.exit_code == 0);
    auto rep = nlohmann::json::parse(r.output.substr(r.output.find('{')));
    const auto& ws = rep["whistles"];
    CHECK(ws["total"] == query_int(db, "SELECT count(*) FROM whistles WHERE " + sept));
    CHECK(ws["total"] == 4);
    CHECK(ws["total"] == count(db, "type IN ('whistle', 'whistle_rewhistled')"));  // each whistle is born by one event
    CHECK(ws["open"] == query_int(db, "SELECT count(*) FROM whistles WHERE outcome='open' AND " + sept));
    CHECK(ws["resolved"] == query_int(db, "SELECT count(*) FROM whistles WHERE outcome='resolved' AND " + sept));
    CHECK(ws["resolved"] == count(db, "type='whistle_resolved' AND json_extract(detail, '$.outcome')='resolved'"));
    CHECK(ws["rewhistled"] == count(db, "type='whistle_rewhistled'"));
    CHECK(ws["by_tier"]["major"] == query_int(db, "SELECT count(*) FROM whistles WHERE tier='major' AND " + sept));
    CHECK(rep["units"]["summons"] ==
          query_int(db, "SELECT sum(json_array_length(state, '$.units')) FROM whistles WHERE " + sept));
    CHECK(rep["units"]["summoned"] ==
          query_int(db, "SELECT count(DISTINCT json_extract(u.value, '$.unit')) FROM whistles, json_each(whistles.state, '$.units') u WHERE " + sept));
    CHECK(rep["units"]["total"] == 54);
    CHECK(rep["ranking"].size() == 54);
    CHECK(rep["satisfaction"]["total"] == 0);
    CHECK(rep["as_of"] == "2019-10-15T09:00:00+08:00");
    // The street of each whistle.
    long long street_sum = 0;
    for (const auto& s : rep["streets"]) street_sum += s["whistles"].get<long long>();
    CHECK(street_sum == 4);
    // October had none; the year has September's.
    r = casehub_cli(dir.path, {"report", "monthly", "2019-10"});
    CHECK(nlohmann::json::parse(r.output.substr(r.output.find('{')))["whistles"]["total"] == 0);
    r = casehub_cli(dir.path, {"report", "annual", "2019"});
    auto year = nlohmann::json::parse(r.output.substr(r.output.find('{')));
    CHECK(year["whistles"]["total"] == 4);
    CHECK(year["months"].size() == 12);
    CHECK(year["months"][8]["total"] == 4);
    // CSV: the ranking, one row per unit; HTML: one page with charts, written to a file.
    r = casehub_cli(dir.path, {"report", "monthly", "2019-09", "--format", "csv"});
    REQUIRE(r.exit_code == 0);
    CHECK(std::count(r.output.begin(), r.output.end(), '\n') >= 55);
    CHECK_THAT(r.output, Catch::Contains("rank,code,name,kind,whistles,score"));
    const auto page = dir.path / "2019-09.html";
    r = casehub_cli(dir.path, {"report", "monthly", "2019-09", "--format", "html", "--out", page.string()});
    REQUIRE(r.exit_code == 0);
    std::ifstream in(page);
    const std::string html((std::istreambuf_iterator<char>(in)), {});
    CHECK_THAT(html, Catch::Contains("<svg"));
    CHECK_THAT(html, Catch::Contains("区城管局"));
    r = casehub_cli(dir.path, {"report", "monthly", "2019"});
    CHECK(r.exit_code == 2);

    // The simulated clock survives a restart where it was left (steps never go back in time).
    REQUIRE(hub.terminate() == 0);
    hub.start();
    REQUIRE(wait_until([&] { return hub.status().is_object(); }, 10s));
    auto now = cli_json(dir.path, {"clock"});
    CHECK(now["now"] == "2019-10-15T09:00:00+08:00");
    CHECK(now["mode"] == "simulated");
}

TEST_CASE("whistles: a grid whistles on its own grid's cases only where the district allows it", "[integration]") {
    const std::string c_grid_of = "SELECT grid_code FROM cases WHERE case_id='";
    {  // Off by default: a grid's whistle is refused, naming the setting.
        TempDir dir;
        Hub hub(dir.path, command_toml());
        start_with_cases(hub);
        const std::string c = case_of(hub.db(), "1");
        const std::string grid = query(hub.db(), c_grid_of + c + "'")[0];
        int code = 0;
        auto j = whistle(dir.path, {"open", c, "--grid", grid, "--tier", "general", "--kind", "work_progress", "--unit", "D01"}, &code);
        INFO(j.dump());
        CHECK(code == 2);
        CHECK(j["code"] == "invalid_argument");
        CHECK(j["field"] == "grid_code");
        CHECK_THAT(j["error"].get<std::string>(), Catch::Contains("grid_whistles"));
        CHECK(query_int(hub.db(), "SELECT count(*) FROM whistles") == 0);
    }
    TempDir dir;
    std::string toml = command_toml();
    toml.replace(toml.find("[command]\n"), 10, "[command]\ngrid_whistles = true\n");
    Hub hub(dir.path, toml);
    start_with_cases(hub);
    const std::string c1 = case_of(hub.db(), "1"), c2 = case_of(hub.db(), "2");
    const std::string grid1 = query(hub.db(), c_grid_of + c1 + "'")[0], grid2 = query(hub.db(), c_grid_of + c2 + "'")[0];
    REQUIRE(grid1 != grid2);
    int code = 0;
    auto j = whistle(dir.path, {"open", c1, "--grid", grid2, "--tier", "general", "--kind", "work_progress", "--unit", "D01"}, &code);
    INFO(j.dump());
    CHECK(code == 2);
    CHECK(j["code"] == "wrong_grid");
    CHECK(j["field"] == "grid_code");
    j = whistle(dir.path, {"open", c1, "--grid", grid1, "--tier", "general", "--kind", "work_progress", "--unit", "D01"});
    REQUIRE(j.contains("whistle_id"));
    CHECK(j["whistle"]["grid_code"] == grid1);
    CHECK(j["whistle"]["street_code"] == query(hub.db(), "SELECT street_code FROM cases WHERE case_id='" + c1 + "'")[0]);
    auto detail = nlohmann::json::parse(query(hub.db(), "SELECT detail FROM events WHERE type='whistle'")[0]);
    CHECK(detail["grid_code"] == grid1);
}

TEST_CASE("hub config: the command section is off when absent and validated when present", "[unit]") {
    using casehub::host::parse_hub_config;
    auto off = parse_hub_config("", "/etc/casehub/casehub.toml");
    REQUIRE(off);
    CHECK_FALSE(off->command.enabled);
    auto on = parse_hub_config("[command]\nclock = \"simulated\"\nclock_start = \"2019-09-30T09:00:00+08:00\"\n",
                               "/etc/casehub/casehub.toml");
    REQUIRE(on);
    CHECK(on->command.enabled);
    CHECK(on->command.rules == "/etc/casehub/command.toml");
    CHECK(on->command.calendar == "/etc/casehub/calendar.toml");
    CHECK(on->command.alert_check == std::chrono::seconds(60));
    CHECK(on->command.simulated_clock);
    CHECK(on->command.clock_start_ms == 1569805200000);
    auto native = parse_hub_config("[command]\nclock = \"simulated\"\nclock_start = 2019-09-30T01:00:00Z\n", "c.toml");
    REQUIRE(native);
    CHECK(native->command.clock_start_ms == 1569805200000);
    auto no_start = parse_hub_config("[command]\nclock = \"simulated\"\n", "c.toml");
    REQUIRE_FALSE(no_start);
    CHECK_THAT(no_start.error().message, Catch::Contains("command.clock_start"));
    auto bad = parse_hub_config("[command]\nclock = \"lunar\"\n", "c.toml");
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("c.toml:2:1: command.clock"));
    auto zero = parse_hub_config("[command]\nalert_check_seconds = 0\n", "c.toml");
    REQUIRE_FALSE(zero);
    CHECK_THAT(zero.error().message, Catch::Contains("alert_check_seconds"));
    auto typo = parse_hub_config("[command]\nalert_check_second = 5\n", "c.toml");
    REQUIRE_FALSE(typo);
    CHECK_THAT(typo.error().message, Catch::Contains("unknown key"));
    auto disabled = parse_hub_config("[command]\nenabled = false\nclock = \"simulated\"\n", "c.toml");
    REQUIRE(disabled);
    CHECK_FALSE(disabled->command.enabled);
}
