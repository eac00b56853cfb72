// The command centre in casehubd: whistles (街道吹哨、部门报到), the overdue-step alerts, case-tier
// escalation and the monthly / annual reports (docs/command-center.md).
//
// The rules are host/command (pure code); this file keeps the state in the store and makes every
// write one transaction: the whistle row, an event on the case (so the case's history and the feed
// show it), then the publish. Errors are {"error", "code", "field"} like case_action's; the codes
// are host/command's (invalid_argument, not_found, conflict, rank_too_low, out_of_order, closed)
// plus wrong_street (a street whistling on another street's case) and unavailable ([command] off).
//
// Time is the hub's Clock (daemon/clock.hpp): the wall clock, or a simulated one that moves only by
// `clock_set`. Timers run every alert_check_seconds of that clock and right after a clock_set;
// each pass reads only what is due (indexed next_due_at / due_at), a bounded number of rows.
#include "daemon/command_center.hpp"
#include "daemon/hub.hpp"

#include "command/report.hpp"
#include "command/whistle.hpp"

#include <casehub/sdk/rfc3339.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace casehub::host {

namespace cmd = casehub::command;
using nlohmann::json;

namespace {

constexpr int kDueRowsPerPass = 200;        // whistles / case tiers looked at per timer pass
constexpr std::uint64_t kEventsPerScan = 20'000;  // events looked at per scan for new cases

json err(const std::string& code, const std::string& message, const std::string& field = "") {
    return json{{"error", message}, {"code", code}, {"field", field}};
}
json err(const cmd::CommandError& e) { return err(e.code, e.message, e.field); }

std::string rfc(std::int64_t ms) { return sdk::format_rfc3339_beijing(ms); }

// A string field: absent → `def`; present and not a string → an error.
std::optional<json> get_str(const json& req, const char* key, std::string& out, bool required) {
    if (!req.contains(key) || req[key].is_null()) {
        if (required) return err(cmd::errc::invalid_argument, std::string(key) + " is required", key);
        return std::nullopt;
    }
    if (!req[key].is_string()) return err(cmd::errc::invalid_argument, std::string(key) + " must be a string", key);
    out = req[key].get<std::string>();
    if (required && out.empty()) return err(cmd::errc::invalid_argument, std::string(key) + " is required", key);
    return std::nullopt;
}

std::optional<json> get_units(const json& req, std::vector<std::string>& out) {
    if (!req.contains("units") || !req["units"].is_array())
        return err(cmd::errc::invalid_argument, "units must be an array of unit codes (D01–D54)", "units");
    for (std::size_t i = 0; i < req["units"].size(); ++i) {
        const auto& u = req["units"][i];
        if (!u.is_string())
            return err(cmd::errc::invalid_argument, "units[" + std::to_string(i) + "] must be a string",
                       "units[" + std::to_string(i) + "]");
        out.push_back(u.get<std::string>());
    }
    return std::nullopt;
}

std::string day_key(std::int64_t ms) {  // YYYYMMDD, Beijing
    const auto d = cmd::local_date(ms);
    char b[16];
    std::snprintf(b, sizeof b, "%04d%02u%02u", d.year % 10000, d.month % 100, d.day % 100);
    return b;
}

std::string step_key(const std::string& unit, cmd::Step s) { return unit + ":" + std::string(cmd::to_string(s)); }

// The earliest deadline of a step not done and not alerted on an open whistle.
std::optional<std::int64_t> next_due(const cmd::Whistle& w, const std::set<std::string>& alerted) {
    if (!w.is_open()) return std::nullopt;
    std::optional<std::int64_t> out;
    for (const auto& a : w.units)
        for (cmd::Step s : cmd::kSteps)
            if (!a.done_at(s) && !alerted.count(step_key(a.unit, s)))
                out = std::min(out.value_or(w.due.of(s)), w.due.of(s));
    return out;
}

std::set<std::string> alerted_of(const WhistleRow& r) {
    std::set<std::string> out;
    auto j = json::parse(r.alerted, nullptr, false);
    if (j.is_array())
        for (const auto& k : j)
            if (k.is_string()) out.insert(k.get<std::string>());
    return out;
}

WhistleRow row_of(const cmd::Whistle& w, const std::set<std::string>& alerted) {
    WhistleRow r;
    r.whistle_id = w.id;
    r.case_id = w.case_id;
    r.street_code = w.street_code;
    r.tier = w.tier;
    r.kind = w.kind;
    r.state = cmd::to_json(w).dump();
    r.opened_at = w.opened_at;
    r.outcome = std::string(cmd::to_string(w.outcome));
    if (!w.is_open()) r.closed_at = w.outcome_at;
    r.next_due_at = next_due(w, alerted);
    r.alerted = json(std::vector<std::string>(alerted.begin(), alerted.end())).dump();
    return r;
}

std::string human_ms(std::int64_t ms) {
    const std::int64_t min = ms / 60'000;
    if (min < 60) return std::to_string(min) + " min";
    if (min < 48 * 60) return std::to_string(min / 60) + " h " + std::to_string(min % 60) + " min";
    return std::to_string(min / 1440) + " d " + std::to_string(min / 60 % 24) + " h";
}

json due_json(const cmd::Whistle& w) {
    return {{"sign", rfc(w.due.sign)}, {"contact", rfc(w.due.contact)}, {"report", rfc(w.due.report)},
            {"estimated", w.due.estimated}};
}

// A whistle for a reply or a list: the stored state plus readable times and the outcome.
json whistle_view(const cmd::Whistle& w) {
    json j = cmd::to_json(w);
    j["opened"] = rfc(w.opened_at);
    j["deadlines"] = due_json(w);
    return j;
}

std::string amount_text(double a) {
    if (a == static_cast<double>(static_cast<std::int64_t>(a))) return std::to_string(static_cast<std::int64_t>(a));
    return json(a).dump();
}

bool solved_status(const std::string& s) { return s == "resolved" || s == "verified" || s == "closed"; }

}  // namespace

// ---- start-up -------------------------------------------------------------------------------

Result<void> Hub::start_command() {
    const auto& c = cfg_.command;
    if (c.simulated_clock) {
        std::int64_t start = c.clock_start_ms;
        // A restart resumes where the simulated clock was: whistles' steps must not go back in time.
        auto kept = store_->meta("clock_at");
        if (!kept) return kept.error();
        if (*kept) start = std::max(start, static_cast<std::int64_t>(std::stoll(**kept)));
        clock_ = Clock::simulated(start);
        spdlog::info("casehubd: simulated clock at {}", rfc(start));
    }
    if (!c.enabled) return {};
    auto cc = std::make_shared<CommandCenter>();
    auto cal = cmd::WorkCalendar::load(c.calendar);
    if (!cal) return cal.error();
    cc->cal = std::move(*cal);
    auto rules = cmd::load_command_config(c.rules, cfg_.hub.reference_dir / "departments.json");
    if (!rules) return rules.error();
    cc->cfg = std::move(*rules);
    auto cats = cmd::CategoryLimits::load(cfg_.hub.reference_dir / "categories.json");
    if (!cats) return cats.error();
    cc->categories = std::move(*cats);
    auto streets = cmd::load_street_names(cfg_.hub.reference_dir / "divisions.json");
    if (!streets) return streets.error();
    cc->street_names = std::move(*streets);
    cc->alert_check_ms = static_cast<std::int64_t>(c.alert_check.count()) * 1000;
    auto seq = store_->meta("tiers_seq");
    if (!seq) return seq.error();
    if (*seq) cc->tiers_seq = static_cast<std::uint64_t>(std::stoull(**seq));
    command_ = std::move(cc);
    spdlog::info("casehubd: command centre on ({} units, calendar {}–{}, alerts every {} s of the {} clock)",
                 command_->cfg.units.size(), command_->cal.first_year(), command_->cal.last_year(),
                 c.alert_check.count(), clock_.mode_name());
    return {};
}

// ---- events on the case ---------------------------------------------------------------------

// Appends an event of `type` on the case (inside the caller's transaction); the case row's seq
// follows its last event.
Result<EventRow> Hub::case_event(const std::string& case_id, const std::string& type, std::int64_t at,
                                 const json& detail) {
    auto found = store_->find_case(case_id);
    if (!found) return found.error();
    if (!*found) return make_error("no case " + case_id);
    CaseRow row = std::move(**found);
    json doc = json::parse(row.doc, nullptr, false);
    if (doc.is_object()) {
        doc["seq"] = store_->head_seq() + 1;  // the event below
        row.doc = doc.dump();
    }
    EventRow ev = event_of(row, type, at, detail.dump());
    if (auto r = store_->append_event(ev); !r) return r.error();
    if (auto r = store_->put_case(row, ev.seq); !r) return r.error();
    return ev;
}

// ---- control commands -----------------------------------------------------------------------

bool Hub::is_command_request(const std::string& c) {
    return c.rfind("whistle", 0) == 0 || c == "report" || c == "clock" || c == "clock_set";
}

json Hub::command_request(const json& req) {
    const std::string c = req.value("cmd", "");
    try {
        if (c == "clock") return {{"mode", clock_.mode_name()}, {"now", rfc(clock_.now_ms())}, {"now_ms", clock_.now_ms()}};
        if (c == "clock_set") return clock_set(req);
        if (!command_)
            return err("unavailable", "the command centre is off ([command] in " + cfg_.file.string() +
                                          ": absent or enabled = false)");
        if (c == "whistles") return whistles_json(req);
        if (c == "report") return command_report(req);
        return whistle_step(req);
    } catch (const std::exception& e) {  // a bug here must not take the hub down
        spdlog::error("{}: {}", c, e.what());
        return err("internal", c + " failed: " + e.what());
    }
}

json Hub::clock_set(const json& req) {
    std::string at;
    if (auto e = get_str(req, "at", at, true)) return *e;
    auto ms = sdk::parse_rfc3339_ms(at);
    if (!ms) return err(cmd::errc::invalid_argument, "at must be an RFC 3339 time, e.g. 2019-03-12T09:00:00+08:00", "at");
    std::string why;
    if (!clock_.set(*ms, why)) return err(clock_.is_simulated() ? "conflict" : "invalid_argument", why + " (now " + rfc(clock_.now_ms()) + ")", "at");
    if (auto r = store_->set_meta("clock_at", std::to_string(*ms)); !r) spdlog::error("clock: {}", r.error().message);
    json out = {{"mode", clock_.mode_name()}, {"now", rfc(clock_.now_ms())}, {"now_ms", clock_.now_ms()}};
    if (command_) {
        commit_pending();  // records that came before the move are on the cases first
        const auto before = store_->head_seq();
        command_timers(true);
        out["events"] = store_->head_seq() - before;
    }
    return out;
}

json Hub::whistle_step(const json& req) {
    const std::string c = req.value("cmd", "");
    static const std::set<std::string> known = {"whistle_open",  "whistle_sign",    "whistle_contact",
                                                "whistle_report", "whistle_rate",   "whistle_resolve",
                                                "whistle_rewhistle"};
    if (!known.count(c)) return err(cmd::errc::invalid_argument, "unknown command \"" + c + "\"", "cmd");
    const CommandCenter& cc = *command_;
    commit_pending();  // the case as the records so far made it
    const std::int64_t now = clock_.now_ms();

    if (c == "whistle_open") {
        std::string case_id, street, grid, tier, kind, note, by;
        std::vector<std::string> units;
        for (auto [k, out, required] : {std::tuple{"case_id", &case_id, true}, std::tuple{"street_code", &street, false},
                                        std::tuple{"grid_code", &grid, false}, std::tuple{"tier", &tier, true},
                                        std::tuple{"kind", &kind, true}, std::tuple{"note", &note, false},
                                        std::tuple{"by", &by, true}})
            if (auto e = get_str(req, k, *out, required)) return *e;
        if (auto e = get_units(req, units)) return *e;
        auto found = store_->find_case(case_id);
        if (!found) return err("internal", found.error().message);
        if (!*found) return err(cmd::errc::not_found, "no case " + case_id, "case_id");
        if ((*found)->merged_into)
            return err(cmd::errc::conflict, "case " + case_id + " was merged into " + *(*found)->merged_into, "case_id");
        const std::string& case_street = (*found)->street_code;
        if (!street.empty() && !case_street.empty() && street != case_street)
            return err("wrong_street", "case " + case_id + " is in street " + case_street + " (" +
                                           (cc.street_names.count(case_street) ? cc.street_names.at(case_street) : "?") +
                                           "), not " + street + ": a street whistles on its own cases",
                       "street_code");
        if (street.empty()) street = case_street;
        // A grid whistles only where the district allows it, and only on its own grid's cases.
        if (!grid.empty() && !cfg_.command.grid_whistles)
            return err(cmd::errc::invalid_argument,
                       "grids do not whistle here: only streets ([command] grid_whistles = true allows it)", "grid_code");
        if (!grid.empty() && grid != (*found)->grid_code)
            return err("wrong_grid", "case " + case_id + " is in grid " +
                                         ((*found)->grid_code.empty() ? std::string("(none)") : (*found)->grid_code) +
                                         ", not " + grid + ": a grid whistles on its own cases",
                       "grid_code");
        if (auto r = store_->begin(); !r) return err("internal", r.error().message);
        auto fail = [&](json e) {
            store_->rollback();
            return e;
        };
        auto id = store_->next_whistle_id(day_key(now));
        if (!id) return fail(err("internal", id.error().message));
        auto w = cmd::open_whistle(cc.cfg, cc.cal, {*id, case_id, street, tier, kind, note, units, now, by, "", grid});
        if (!w) return fail(err(w.error()));
        if (auto r = store_->put_whistle(row_of(w.value(), {})); !r) return fail(err("internal", r.error().message));
        json detail = {{"whistle_id", *id}, {"step", "open"},   {"tier", tier},        {"kind", kind},
                       {"units", units},    {"note", note},     {"by", by},            {"street_code", street},
                       {"grid_code", grid},
                       {"due", due_json(w.value())}};
        auto ev = case_event(case_id, "whistle", now, detail);
        if (!ev) return fail(err("internal", ev.error().message));
        if (auto r = store_->commit(); !r) return err("internal", r.error().message);
        publish({*ev});
        spdlog::info("whistle {} on case {} by street {}: {} {}, {} unit(s)", *id, case_id, street, tier, kind, units.size());
        return {{"whistle_id", *id}, {"seq", ev->seq}, {"whistle", whistle_view(w.value())}};
    }

    std::string id;
    if (auto e = get_str(req, "whistle_id", id, true)) return *e;
    auto found = store_->find_whistle(id);
    if (!found) return err("internal", found.error().message);
    if (!*found) return err(cmd::errc::not_found, "no whistle " + id, "whistle_id");
    const WhistleRow before = std::move(**found);
    auto parsed = cmd::whistle_from_json(json::parse(before.state, nullptr, false));
    if (!parsed) return err("internal", "whistle " + id + " is unreadable: " + parsed.error().message);
    const cmd::Whistle& w = parsed.value();
    std::set<std::string> alerted = alerted_of(before);

    std::string unit, by, note;
    json detail = {{"whistle_id", id}};
    std::optional<cmd::CommandResult<cmd::Whistle>> next;
    std::optional<cmd::Whistle> successor;  // re-whistle
    std::string type;
    if (c == "whistle_sign" || c == "whistle_contact" || c == "whistle_report" || c == "whistle_rate")
        if (auto e = get_str(req, "unit", unit, true)) return *e;
    if (c == "whistle_sign") {
        if (auto e = get_str(req, "by", by, true)) return *e;
        next = cmd::sign(w, unit, now, by);
        type = "whistle_signed";
        detail.update({{"step", "sign"}, {"unit", unit}, {"by", by}});
    } else if (c == "whistle_contact") {
        if (auto e = get_str(req, "note", note, false)) return *e;
        next = cmd::contact(w, unit, now, note);
        type = "whistle_contacted";
        detail.update({{"step", "contact"}, {"unit", unit}, {"note", note}});
    } else if (c == "whistle_report") {
        if (!req.contains("reporters") || !req["reporters"].is_array())
            return err(cmd::errc::invalid_argument, "reporters must be an array of {person, rank}", "reporters");
        std::vector<cmd::Reporter> reporters;
        for (std::size_t i = 0; i < req["reporters"].size(); ++i) {
            const auto& r = req["reporters"][i];
            const std::string f = "reporters[" + std::to_string(i) + "]";
            if (!r.is_object() || !r.contains("person") || !r["person"].is_string() || !r.contains("rank") ||
                !r["rank"].is_string())
                return err(cmd::errc::invalid_argument, f + " must be {person, rank} (strings)", f);
            reporters.push_back({r["person"].get<std::string>(), r["rank"].get<std::string>()});
        }
        next = cmd::report(cc.cfg, w, unit, now, reporters);
        type = "whistle_reported";
        detail.update({{"step", "report"}, {"unit", unit}, {"reporters", req["reporters"]}});
    } else if (c == "whistle_rate") {
        if (auto e = get_str(req, "by", by, true)) return *e;
        if (!req.contains("rating") || !req["rating"].is_number_integer())
            return err(cmd::errc::invalid_argument, "rating must be an integer 1 to 5", "rating");
        const int rating = req["rating"].get<int>();
        next = cmd::rate(w, unit, rating, now, by);
        type = "whistle_rated";
        detail.update({{"step", "rate"}, {"unit", unit}, {"rating", rating}, {"by", by}});
    } else if (c == "whistle_resolve") {
        if (auto e = get_str(req, "by", by, true)) return *e;
        if (auto e = get_str(req, "note", note, false)) return *e;
        if (!req.contains("resolved") || !req["resolved"].is_boolean())
            return err(cmd::errc::invalid_argument, "resolved must be true or false", "resolved");
        const bool resolved = req["resolved"].get<bool>();
        next = cmd::resolve(w, resolved, now, by, note);
        type = "whistle_resolved";
        detail.update({{"step", "resolve"}, {"outcome", resolved ? "resolved" : "unresolved"}, {"note", note}, {"by", by}});
    }

    if (auto r = store_->begin(); !r) return err("internal", r.error().message);
    auto fail = [&](json e) {
        store_->rollback();
        return e;
    };
    std::vector<EventRow> events;
    if (c == "whistle_rewhistle") {
        std::string tier, kind;
        std::vector<std::string> units;
        for (auto [k, out, required] : {std::tuple{"tier", &tier, true}, std::tuple{"kind", &kind, true},
                                        std::tuple{"note", &note, false}, std::tuple{"by", &by, true}})
            if (auto e = get_str(req, k, *out, required)) return fail(*e);
        if (auto e = get_units(req, units)) return fail(*e);
        auto new_id = store_->next_whistle_id(day_key(now));
        if (!new_id) return fail(err("internal", new_id.error().message));
        auto rw = cmd::rewhistle(cc.cfg, cc.cal, w, {*new_id, w.case_id, w.street_code, tier, kind, note, units, now, by, w.id});
        if (!rw) return fail(err(rw.error()));
        next = rw.value().previous;
        successor = rw.value().next;
        type = "whistle_rewhistled";
        detail.update({{"step", "rewhistle"}, {"next_id", *new_id}, {"tier", tier}, {"kind", kind}, {"units", units},
                       {"note", note}, {"by", by}, {"due", due_json(*successor)}});
    }
    if (!next->ok()) return fail(err(next->error()));
    const cmd::Whistle& after = next->value();
    if (auto r = store_->put_whistle(row_of(after, alerted)); !r) return fail(err("internal", r.error().message));
    if (successor)
        if (auto r = store_->put_whistle(row_of(*successor, {})); !r) return fail(err("internal", r.error().message));
    auto ev = case_event(w.case_id, type, now, detail);
    if (!ev) return fail(err("internal", ev.error().message));
    if (auto r = store_->commit(); !r) return err("internal", r.error().message);
    publish({*ev});
    spdlog::info("whistle {}: {} {}", id, detail.value("step", ""), unit);
    json out = {{"whistle_id", id}, {"seq", ev->seq}, {"whistle", whistle_view(after)}};
    if (successor) {
        out["next_id"] = successor->id;
        out["next"] = whistle_view(*successor);
    }
    return out;
}

json Hub::whistles_json(const json& req) {
    std::string case_id, street, month;
    for (auto [k, out] : {std::pair{"case_id", &case_id}, std::pair{"street", &street}, std::pair{"month", &month}})
        if (auto e = get_str(req, k, *out, false)) return *e;
    if (case_id.empty()) case_id = req.value("case", "");
    std::int64_t from = 0, to = 0;
    if (!month.empty()) {
        cmd::LocalDate d;
        if (!cmd::parse_date(month + "-01", d))
            return err(cmd::errc::invalid_argument, "month must be YYYY-MM, got \"" + month + "\"", "month");
        from = cmd::instant_of(cmd::day_number(d), 0);
        cmd::LocalDate e = d.month == 12 ? cmd::LocalDate{d.year + 1, 1, 1} : cmd::LocalDate{d.year, d.month + 1, 1};
        to = cmd::instant_of(cmd::day_number(e), 0);
    }
    std::string whistle_id;
    if (auto e = get_str(req, "whistle_id", whistle_id, false)) return *e;
    std::vector<WhistleRow> one;
    if (!whistle_id.empty()) {  // one whistle (an empty list when there is none)
        auto w = store_->find_whistle(whistle_id);
        if (!w) return err("internal", w.error().message);
        if (*w) one.push_back(std::move(**w));
    }
    int limit = 1000;
    if (req.contains("limit") && req["limit"].is_number_integer()) limit = std::clamp(req["limit"].get<int>(), 1, 100000);
    auto rows = whistle_id.empty() ? store_->whistles(case_id, street, from, to, limit)
                                   : Result<std::vector<WhistleRow>>(std::move(one));
    if (!rows) return err("internal", rows.error().message);
    json list = json::array();
    for (const auto& r : *rows) {
        auto w = cmd::whistle_from_json(json::parse(r.state, nullptr, false));
        if (!w) continue;
        json j = whistle_view(w.value());
        j["alerted"] = json::parse(r.alerted, nullptr, false);
        list.push_back(std::move(j));
    }
    return {{"whistles", list}, {"count", list.size()}, {"now", rfc(clock_.now_ms())}};
}

// ---- reports --------------------------------------------------------------------------------

json Hub::command_report(const json& req) {
    const CommandCenter& cc = *command_;
    std::string period, format = "json";
    if (auto e = get_str(req, "period", period, true)) return *e;
    if (auto e = get_str(req, "format", format, false)) return *e;
    if (format != "json" && format != "csv" && format != "html")
        return err(cmd::errc::invalid_argument, "format is json, csv or html", "format");
    cmd::ReportPeriod p;
    cmd::LocalDate start, end;
    cmd::LocalDate d;
    if (period.size() == 7 && cmd::parse_date(period + "-01", d)) {
        p = {d.year, static_cast<int>(d.month)};
        start = d;
        end = d.month == 12 ? cmd::LocalDate{d.year + 1, 1, 1} : cmd::LocalDate{d.year, d.month + 1, 1};
    } else if (period.size() == 4 && cmd::parse_date(period + "-01-01", d)) {
        p = {d.year, 0};
        start = d;
        end = {d.year + 1, 1, 1};
    } else {
        return err(cmd::errc::invalid_argument, "period is a month (2019-03) or a year (2019), got \"" + period + "\"",
                   "period");
    }
    const std::int64_t from = cmd::instant_of(cmd::day_number(start), 0), to = cmd::instant_of(cmd::day_number(end), 0);
    commit_pending();

    cmd::ReportInput in;
    in.period = p;
    in.street_names = cc.street_names;
    in.as_of = clock_.now_ms();
    auto rows = store_->whistles("", "", from, to, 10'000'000);
    if (!rows) return err("internal", rows.error().message);
    for (const auto& r : *rows) {
        auto w = cmd::whistle_from_json(json::parse(r.state, nullptr, false));
        if (!w) return err("internal", "whistle " + r.whistle_id + " is unreadable: " + w.error().message);
        in.whistles.push_back(std::move(w).value());
    }
    // Cases solved in the period, by the tier they were at (case_tiers) when solved.
    auto solved = store_->solved_case_tiers();
    if (!solved) return err("internal", solved.error().message);
    std::int64_t solved_undated = 0;
    for (const auto& [tier, at] : *solved) {
        auto ms = sdk::parse_rfc3339_ms(at);
        if (!ms) {
            ++solved_undated;
            continue;
        }
        if (*ms >= from && *ms < to) ++in.cases_solved_by_tier[tier];
    }
    // 12345 callbacks (回访): the hotline records' satisfaction, dated by their last change.
    auto sat = store_->satisfactions("hotline12345");
    if (!sat) return err("internal", sat.error().message);
    for (const auto& [value, at] : *sat) {
        auto ms = sdk::parse_rfc3339_ms(at);
        if (!ms || *ms < from || *ms >= to) continue;
        if (value == "satisfied") ++in.callbacks.satisfied;
        else if (value == "basically_satisfied") ++in.callbacks.basically_satisfied;
        else if (value == "dissatisfied") ++in.callbacks.dissatisfied;
    }
    json report = cmd::build_report(cc.cfg, cc.cal, in);
    json notes = json::array();
    if (in.callbacks.satisfied + in.callbacks.basically_satisfied + in.callbacks.dissatisfied == 0)
        notes.push_back("no 12345 callback (hotline12345 record with a satisfaction) in the period: satisfaction is 0");
    if (solved_undated)
        notes.push_back(std::to_string(solved_undated) + " solved case(s) without times.resolved_at are not counted");
    json out = {{"period", period}, {"format", format}, {"notes", notes}};
    if (format == "json") out["report"] = std::move(report);
    else if (format == "csv") out["content"] = cmd::report_csv(report, req.value("excel_bom", false));
    else out["content"] = cmd::report_html(report);
    return out;
}

// ---- timers ---------------------------------------------------------------------------------

void Hub::command_tick(std::int64_t now_mono) {
    if (!command_ || stopping_) return;
    CommandCenter& cc = *command_;
    if (cc.more_cases || now_mono - cc.last_scan_mono >= 1000) {
        cc.last_scan_mono = now_mono;
        assign_tiers();
    }
    const std::int64_t now = clock_.now_ms();
    if (cc.more_due || now - cc.last_check >= cc.alert_check_ms) command_timers(false);
}

// New cases get their starting tier (escalation.hpp starting_tier) and the time it runs out.
// New cases are found through the `created` events after the last one looked at.
void Hub::assign_tiers() {
    CommandCenter& cc = *command_;
    const std::uint64_t head = store_->head_seq();
    if (cc.tiers_seq >= head) {
        cc.more_cases = false;
        return;
    }
    const std::uint64_t upto = std::min(head, cc.tiers_seq + kEventsPerScan);
    auto created = store_->created_cases(cc.tiers_seq, upto);
    if (!created) {
        spdlog::error("case tiers: {}", created.error().message);
        return;
    }
    if (auto r = store_->begin(); !r) return spdlog::error("case tiers: {}", r.error().message);
    for (const auto& [seq, case_id] : *created) {
        auto have = store_->case_tier(case_id);
        if (!have) return store_->rollback(), spdlog::error("case tiers: {}", have.error().message);
        if (*have) continue;
        auto c = store_->find_case(case_id);
        if (!c) return store_->rollback(), spdlog::error("case tiers: {}", c.error().message);
        if (!*c || (*c)->merged_into) continue;
        cmd::CaseFacts facts{(*c)->category_code, (*c)->priority, {}};
        const json doc = json::parse((*c)->doc, nullptr, false);
        if (doc.is_object() && doc.contains("tags") && doc["tags"].is_array())
            for (const auto& t : doc["tags"])
                if (t.is_string()) facts.tags.push_back(t.get<std::string>());
        CaseTierRow t;
        t.case_id = case_id;
        t.since = (*c)->created_at;
        auto start = cmd::starting_tier(cc.cfg.escalation, cc.categories, facts);
        if (start) {
            t.tier = start.value().tier;
            t.reason = start.value().reason;
        } else {
            t.tier = cc.cfg.escalation.tiers.front();
            t.reason = "starting tier unknown (" + start.error().message + "): the lowest";
        }
        if (is_open_status((*c)->status) && !solved_status((*c)->status)) {
            auto next = cmd::next_escalation(cc.cfg.escalation, cc.cal, cc.categories, facts.category, t.tier, t.since);
            if (next && next.value()) t.due_at = next.value()->deadline;
        }
        if (auto r = store_->put_case_tier(t); !r) return store_->rollback(), spdlog::error("case tiers: {}", r.error().message);
    }
    if (auto r = store_->set_meta("tiers_seq", std::to_string(upto)); !r)
        return store_->rollback(), spdlog::error("case tiers: {}", r.error().message);
    if (auto r = store_->commit(); !r) return spdlog::error("case tiers: {}", r.error().message);
    cc.tiers_seq = upto;
    cc.more_cases = upto < head;
}

// One pass: alerts for overdue whistle steps, then escalations due. `all`: until nothing is due
// (after clock_set, so its reply reflects the new time).
void Hub::command_timers(bool all) {
    CommandCenter& cc = *command_;
    const std::int64_t now = clock_.now_ms();
    cc.last_check = now;
    if (all)
        do assign_tiers();
        while (cc.more_cases);
    int rounds = 0;
    do {
        cc.more_due = false;
        std::vector<EventRow> events;
        if (auto r = store_->begin(); !r) return spdlog::error("command timers: {}", r.error().message);
        auto fail = [&](const std::string& m) {
            store_->rollback();
            spdlog::error("command timers: {}", m);
        };
        // Overdue steps: one alert per (whistle, unit, step), never repeated.
        auto due = store_->due_whistles(now, kDueRowsPerPass);
        if (!due) return fail(due.error().message);
        if (static_cast<int>(due->size()) == kDueRowsPerPass) cc.more_due = true;
        for (auto& row : *due) {
            auto w = cmd::whistle_from_json(json::parse(row.state, nullptr, false));
            std::set<std::string> alerted = alerted_of(row);
            if (!w) {  // never loop on it
                row.next_due_at.reset();
                if (auto r = store_->put_whistle(row); !r) return fail(r.error().message);
                continue;
            }
            for (const auto& o : cmd::overdue(w.value(), now)) {
                const std::string key = step_key(o.unit, o.step);
                if (!alerted.insert(key).second) continue;
                const cmd::Unit* u = cc.cfg.unit(o.unit);
                json detail = {{"whistle_id", row.whistle_id},
                               {"alert", "overdue"},
                               {"unit", o.unit},
                               {"unit_name", u ? u->name : ""},
                               {"step", std::string(cmd::to_string(o.step))},
                               {"due", rfc(o.due)},
                               {"due_ms", o.due},
                               {"overdue_ms", o.overdue_ms},
                               {"late", human_ms(o.overdue_ms)},
                               {"tier", row.tier},
                               {"kind", row.kind},
                               {"message", "whistle " + row.whistle_id + ": " + o.unit + (u ? " " + u->name : "") +
                                               " has not done " + std::string(cmd::to_string(o.step)) + ", due " +
                                               rfc(o.due) + ", " + human_ms(o.overdue_ms) + " late"}};
                auto ev = case_event(row.case_id, "alert", now, detail);
                if (!ev) return fail(ev.error().message);
                events.push_back(std::move(*ev));
            }
            if (auto r = store_->put_whistle(row_of(w.value(), alerted)); !r) return fail(r.error().message);
        }
        // Escalation: a case not solved at its tier in time rises (possibly several tiers at once
        // after a long clock jump; each rise is its own event, since = the previous deadline).
        auto tiers = store_->due_case_tiers(now, kDueRowsPerPass);
        if (!tiers) return fail(tiers.error().message);
        if (static_cast<int>(tiers->size()) == kDueRowsPerPass) cc.more_due = true;
        for (auto& t : *tiers) {
            auto c = store_->find_case(t.case_id);
            if (!c) return fail(c.error().message);
            if (!*c || (*c)->merged_into || !is_open_status((*c)->status) || solved_status((*c)->status)) {
                t.due_at.reset();  // solved, ended or merged: the tier stays as it is
                if (auto r = store_->put_case_tier(t); !r) return fail(r.error().message);
                continue;
            }
            const std::string category = (*c)->category_code;
            for (int guard = 0; t.due_at && *t.due_at <= now && guard < 8; ++guard) {
                auto step = cmd::next_escalation(cc.cfg.escalation, cc.cal, cc.categories, category, t.tier, t.since);
                if (!step || !step.value()) {
                    t.due_at.reset();
                    break;
                }
                const cmd::Escalation& e = *step.value();
                const std::string from = t.tier;
                const std::int64_t deadline = *t.due_at;
                t.tier = e.next_tier;
                t.since = deadline;
                t.reason = "time limit at " + from + " (" + amount_text(e.limit.amount) + " " +
                           std::string(cmd::to_string(e.limit.unit)) + ") ran out at " + rfc(deadline);
                auto after = cmd::next_escalation(cc.cfg.escalation, cc.cal, cc.categories, category, t.tier, t.since);
                t.due_at.reset();
                if (after && after.value()) t.due_at = after.value()->deadline;
                json detail = {{"from", from},
                               {"to", t.tier},
                               {"since", rfc(deadline)},
                               {"limit", {{"amount", e.limit.amount}, {"unit", std::string(cmd::to_string(e.limit.unit))}}},
                               {"reason", t.reason},
                               {"next_due_at", t.due_at ? json(rfc(*t.due_at)) : json(nullptr)},
                               {"estimated", e.estimated}};
                auto ev = case_event(t.case_id, "escalated", now, detail);
                if (!ev) return fail(ev.error().message);
                events.push_back(std::move(*ev));
            }
            if (auto r = store_->put_case_tier(t); !r) return fail(r.error().message);
        }
        if (auto r = store_->commit(); !r) return spdlog::error("command timers: {}", r.error().message);
        if (!events.empty()) spdlog::info("command timers: {} alert/escalation event(s)", events.size());
        publish(events);
    } while (all && cc.more_due && ++rounds < 1000);
}

}  // namespace casehub::host
