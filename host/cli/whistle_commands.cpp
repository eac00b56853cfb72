#include "cli/whistle_commands.hpp"

#include "cli/control.hpp"
#include "config/hub_config.hpp"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <pwd.h>
#include <unistd.h>

namespace casehub::cli {

namespace {

using nlohmann::json;

std::string login() {
    if (const char* u = std::getenv("USER"); u && *u) return u;
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_name) return pw->pw_name;
    return "operator";
}

struct WhistleOptions {
    std::string verb, case_id, whistle_id, unit, street, grid, tier, kind, note, by, month;
    std::vector<std::string> units, reporters;
    int rating = 0;
    bool unresolved = false, json = false;
    std::string at;  // clock set
};

std::string t(const json& j, const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; }

// One request; prints the refusal ({error, code, field}) and returns the exit code: 0 done,
// 1 not found, 2 refused, 3 no answer.
int ask(const std::string& config, const json& req, bool as_json, const char* what, json& reply) {
    auto cfg = host::load_hub_config(config);
    if (!cfg) return std::cerr << cfg.error().message << "\n", 2;
    auto r = control_request(cfg->hub.control_endpoint, req, std::chrono::milliseconds(15000));
    if (!r) {
        std::cerr << "casehubd is not answering on " << cfg->hub.control_endpoint << "\n";
        return 3;
    }
    reply = std::move(*r);
    if (!reply.is_object() || reply.contains("error")) {
        if (as_json && reply.is_object()) std::cout << reply.dump() << std::endl;
        std::cerr << "casehub " << what << ": " << (reply.is_object() ? t(reply, "error") : "bad reply");
        if (reply.is_object() && !t(reply, "code").empty()) std::cerr << " [" << t(reply, "code") << "]";
        std::cerr << "\n";
        return reply.is_object() && t(reply, "code") == "not_found" ? 1 : 2;
    }
    if (as_json) std::cout << reply.dump() << "\n";
    return 0;
}

std::string when(const json& v) {
    if (!v.is_number_integer()) return "-";
    // Beijing time, minutes.
    const std::int64_t ms = v.get<std::int64_t>() + 8 * 3600000LL;
    const std::time_t s = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&s, &tm);
    char b[32];
    std::strftime(b, sizeof b, "%Y-%m-%d %H:%M", &tm);
    return b;
}

void print_whistle(const json& w) {
    std::cout << t(w, "id") << "  case " << t(w, "case_id") << "  street " << t(w, "street_code") << "  "
              << t(w, "tier") << "/" << t(w, "kind") << "  " << t(w, "outcome") << "  opened " << when(w["opened_at"])
              << " by " << t(w, "opened_by") << "\n";
    if (w.contains("deadlines"))
        std::cout << "  due: sign " << t(w["deadlines"], "sign") << ", contact " << t(w["deadlines"], "contact")
                  << ", report " << t(w["deadlines"], "report")
                  << (w["deadlines"].value("estimated", false) ? " (估算 estimated)" : "") << "\n";
    for (const auto& u : w.value("units", json::array())) {
        std::cout << "  " << t(u, "unit") << ": signed " << when(u["signed_at"]) << ", contacted "
                  << when(u["contacted_at"]) << ", reported " << when(u["reported_at"]);
        if (u.contains("reporters") && u["reporters"].is_array() && !u["reporters"].empty()) {
            std::cout << " (";
            bool first = true;
            for (const auto& r : u["reporters"]) {
                std::cout << (first ? "" : ", ") << t(r, "person") << " " << t(r, "rank");
                first = false;
            }
            std::cout << ")";
        }
        if (u["rating"].is_number()) std::cout << ", rated " << u["rating"];
        std::cout << "\n";
    }
    if (!t(w, "previous_id").empty()) std::cout << "  re-blows " << t(w, "previous_id") << "\n";
    if (!t(w, "next_id").empty()) std::cout << "  re-whistled as " << t(w, "next_id") << "\n";
}

int run_whistle(const std::string& config, const WhistleOptions& o) {
    json req;
    const std::string by = o.by.empty() ? login() : o.by;
    if (o.verb == "open") {
        req = {{"cmd", "whistle_open"}, {"case_id", o.case_id}, {"tier", o.tier}, {"kind", o.kind},
               {"units", o.units},      {"note", o.note},       {"by", by}};
        if (!o.street.empty()) req["street_code"] = o.street;
        if (!o.grid.empty()) req["grid_code"] = o.grid;
    } else if (o.verb == "sign") {
        req = {{"cmd", "whistle_sign"}, {"whistle_id", o.whistle_id}, {"unit", o.unit}, {"by", by}};
    } else if (o.verb == "contact") {
        req = {{"cmd", "whistle_contact"}, {"whistle_id", o.whistle_id}, {"unit", o.unit}, {"note", o.note}};
    } else if (o.verb == "report") {
        json reporters = json::array();
        for (const auto& r : o.reporters) {
            const auto colon = r.rfind(':');
            if (colon == std::string::npos || colon == 0 || colon + 1 == r.size()) {
                std::cerr << "casehub whistle report: --reporter is PERSON:RANK (e.g. 王强:head), got \"" << r << "\"\n";
                return 2;
            }
            reporters.push_back({{"person", r.substr(0, colon)}, {"rank", r.substr(colon + 1)}});
        }
        req = {{"cmd", "whistle_report"}, {"whistle_id", o.whistle_id}, {"unit", o.unit}, {"reporters", reporters}};
    } else if (o.verb == "rate") {
        req = {{"cmd", "whistle_rate"}, {"whistle_id", o.whistle_id}, {"unit", o.unit}, {"rating", o.rating}, {"by", by}};
    } else if (o.verb == "resolve") {
        req = {{"cmd", "whistle_resolve"}, {"whistle_id", o.whistle_id}, {"resolved", !o.unresolved},
               {"note", o.note},           {"by", by}};
    } else if (o.verb == "rewhistle") {
        req = {{"cmd", "whistle_rewhistle"}, {"whistle_id", o.whistle_id}, {"tier", o.tier}, {"kind", o.kind},
               {"units", o.units},           {"note", o.note},             {"by", by}};
    } else if (o.verb == "list") {
        req = {{"cmd", "whistles"}};
        if (!o.case_id.empty()) req["case_id"] = o.case_id;
        if (!o.street.empty()) req["street"] = o.street;
        if (!o.month.empty()) req["month"] = o.month;
    }
    json j;
    const std::string what = "whistle " + o.verb;
    if (int rc = ask(config, req, o.json, what.c_str(), j); rc != 0 || o.json) return rc;
    if (o.verb == "list") {
        for (const auto& w : j["whistles"]) print_whistle(w);
        std::cout << j["count"] << " whistle(s)\n";
        return 0;
    }
    std::cout << "whistle " << t(j, "whistle_id") << ": " << o.verb << " (event " << j["seq"] << ")\n";
    if (j.contains("whistle")) print_whistle(j["whistle"]);
    if (j.contains("next")) print_whistle(j["next"]);
    return 0;
}

}  // namespace

void add_whistle_commands(CLI::App& app, const std::string& config_path, std::function<int()>& run) {
    auto* w = app.add_subcommand("whistle", "the street blows the whistle, the units report (街道吹哨、部门报到)");
    w->require_subcommand(1);
    auto o = std::make_shared<WhistleOptions>();
    auto done = [&run, &config_path, o](const char* verb) {
        return [&run, &config_path, o, verb] {
            o->verb = verb;
            run = [&config_path, o] { return run_whistle(config_path, *o); };
        };
    };
    auto* open = w->add_subcommand("open", "blow the whistle on a case, summoning units");
    open->add_option("case_id", o->case_id, "the case")->required();
    open->add_option("--tier", o->tier, "general (一般), larger (较大) or major (重大)")->required();
    open->add_option("--kind", o->kind, "work_progress (推进工作) or hard_problem (破解难题)")->required();
    open->add_option("--unit", o->units, "a summoned unit, D01-D54 (repeatable)")->required();
    open->add_option("--street", o->street, "the whistling street's code (checked against the case's street)");
    open->add_option("--grid", o->grid, "a grid that whistles (needs [command] grid_whistles = true; checked against the case's grid)");
    open->add_option("--note", o->note, "what the street needs");
    open->add_option("--by", o->by, "who blows it (default: the login name)");
    open->add_flag("--json", o->json, "machine-readable output");
    open->callback(done("open"));

    auto* sign = w->add_subcommand("sign", "a unit signs for the whistle (签收)");
    sign->add_option("whistle_id", o->whistle_id)->required();
    sign->add_option("unit", o->unit, "the unit, D01-D54")->required();
    sign->add_option("--by", o->by, "who signs (default: the login name)");
    sign->add_flag("--json", o->json, "machine-readable output");
    sign->callback(done("sign"));

    auto* contact = w->add_subcommand("contact", "a unit contacts the street (对接)");
    contact->add_option("whistle_id", o->whistle_id)->required();
    contact->add_option("unit", o->unit, "the unit, D01-D54")->required();
    contact->add_option("--note", o->note, "what was agreed");
    contact->add_flag("--json", o->json, "machine-readable output");
    contact->callback(done("contact"));

    auto* report = w->add_subcommand("report", "a unit reports with the people who came (报到)");
    report->add_option("whistle_id", o->whistle_id)->required();
    report->add_option("unit", o->unit, "the unit, D01-D54")->required();
    report->add_option("--reporter", o->reporters,
                       "PERSON:RANK, rank one of section_chief, deputy_head, head, deputy_district_head, "
                       "district_standing_committee (repeatable)")
        ->required();
    report->add_flag("--json", o->json, "machine-readable output");
    report->callback(done("report"));

    auto* rate = w->add_subcommand("rate", "the street rates a unit's cooperation 1-5");
    rate->add_option("whistle_id", o->whistle_id)->required();
    rate->add_option("unit", o->unit, "the unit, D01-D54")->required();
    rate->add_option("rating", o->rating, "1 to 5")->required();
    rate->add_option("--by", o->by, "who rates (default: the login name)");
    rate->add_flag("--json", o->json, "machine-readable output");
    rate->callback(done("rate"));

    auto* resolve = w->add_subcommand("resolve", "the street closes the whistle: resolved (or --unresolved)");
    resolve->add_option("whistle_id", o->whistle_id)->required();
    resolve->add_flag("--unresolved", o->unresolved, "closed without a resolution");
    resolve->add_option("--note", o->note, "the outcome");
    resolve->add_option("--by", o->by, "who closes it (default: the login name)");
    resolve->add_flag("--json", o->json, "machine-readable output");
    resolve->callback(done("resolve"));

    auto* re = w->add_subcommand("rewhistle", "blow the whistle again (closes this one, opens its successor)");
    re->add_option("whistle_id", o->whistle_id)->required();
    re->add_option("--tier", o->tier, "general, larger or major")->required();
    re->add_option("--kind", o->kind, "work_progress or hard_problem")->required();
    re->add_option("--unit", o->units, "a summoned unit (repeatable)")->required();
    re->add_option("--note", o->note, "why");
    re->add_option("--by", o->by, "who (default: the login name)");
    re->add_flag("--json", o->json, "machine-readable output");
    re->callback(done("rewhistle"));

    auto* list = w->add_subcommand("list", "whistles of a case, a street or a month");
    list->add_option("--case", o->case_id, "a case id");
    list->add_option("--street", o->street, "a street code");
    list->add_option("--month", o->month, "YYYY-MM (opened in that month, Beijing time)");
    list->add_flag("--json", o->json, "machine-readable output");
    list->callback(done("list"));

    // The hub's clock: show it, or move a simulated one forward.
    auto* clock = app.add_subcommand("clock", "the hub's clock (wall, or simulated: `clock set` moves it)");
    auto* cset = clock->add_subcommand("set", "move the simulated clock forward; overdue alerts and escalations follow");
    cset->add_option("at", o->at, "RFC 3339 time, e.g. 2019-03-12T09:00:00+08:00")->required();
    cset->add_flag("--json", o->json, "machine-readable output");
    clock->add_flag("--json", o->json, "machine-readable output");
    clock->callback([&run, &config_path, o, cset] {
        run = [&config_path, o, cset] {
            json req = cset->parsed() ? json{{"cmd", "clock_set"}, {"at", o->at}} : json{{"cmd", "clock"}};
            json j;
            if (int rc = ask(config_path, req, o->json, cset->parsed() ? "clock set" : "clock", j); rc != 0 || o->json)
                return rc;
            std::cout << t(j, "now") << " (" << t(j, "mode") << ")";
            if (j.contains("events")) std::cout << ", " << j["events"] << " alert/escalation event(s)";
            std::cout << "\n";
            return 0;
        };
    });
}

}  // namespace casehub::cli
