#include "command/whistle.hpp"

#include <algorithm>
#include <set>

namespace casehub::command {

std::string_view to_string(WhistleOutcome o) {
    switch (o) {
        case WhistleOutcome::open: return "open";
        case WhistleOutcome::resolved: return "resolved";
        case WhistleOutcome::unresolved: return "unresolved";
        case WhistleOutcome::rewhistled: return "rewhistled";
    }
    return "open";
}

const UnitAnswer* Whistle::answer(std::string_view unit) const {
    for (const auto& a : units)
        if (a.unit == unit) return &a;
    return nullptr;
}

namespace {

bool is_street_code(std::string_view s) {
    return s.size() == 9 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string rank_label(const CommandConfig& cfg, std::string_view code) {
    const Rank* r = cfg.rank(code);
    return (r && !r->name_zh.empty() ? r->name_zh + " (" : std::string("(")) + std::string(code) + ")";
}

std::string rank_list(const CommandConfig& cfg, const std::vector<std::string>& codes, std::string_view joiner) {
    std::string out;
    for (std::size_t i = 0; i < codes.size(); ++i) {
        if (i) out += i + 1 == codes.size() ? std::string(joiner) : std::string(", ");
        out += rank_label(cfg, codes[i]);
    }
    return out;
}

// The common preamble of a unit step: the whistle is open and summoned the unit.
CommandResult<std::size_t> summoned_unit(const Whistle& w, std::string_view unit) {
    if (!w.is_open())
        return command_error(errc::closed, "whistle " + w.id + " is " + std::string(to_string(w.outcome)) +
                                               "; no further steps are taken on it");
    for (std::size_t i = 0; i < w.units.size(); ++i)
        if (w.units[i].unit == unit) return i;
    return command_error(errc::not_found, "unit " + std::string(unit) + " was not summoned by whistle " + w.id, "unit");
}

// Steps happen in time order: a step dated before the one it follows is a typo or a clock fault.
std::optional<CommandError> too_early(std::int64_t at, std::int64_t earliest, std::string_view what) {
    if (at < earliest) return command_error(errc::invalid_argument, "the time is before " + std::string(what), "at");
    return std::nullopt;
}

CommandError make_rank_refusal(const CommandConfig& cfg, const TierRule& tier, const std::vector<Reporter>& reporters,
                               const std::vector<std::string>& missing) {
    std::vector<std::string> came;
    for (const auto& r : reporters) came.push_back(r.rank);
    const std::string tier_label = tier.code + " whistle" + (tier.name_zh.empty() ? "" : " (" + tier.name_zh + ")");
    if (!missing.empty())
        return command_error(errc::rank_too_low,
                             "a " + tier_label + " needs a double report: " +
                                 rank_list(cfg, tier.required_ranks, " and ") + " must all come; missing " +
                                 rank_list(cfg, missing, " and ") + "; reported: " + rank_list(cfg, came, ", "),
                             "reporters");
    return command_error(errc::rank_too_low,
                         "a " + tier_label + " must be answered by " + rank_list(cfg, tier.accepted_ranks, " or ") +
                             "; reported: " + rank_list(cfg, came, ", "),
                         "reporters");
}

}  // namespace

CommandResult<Whistle> open_whistle(const CommandConfig& cfg, const WorkCalendar& cal, const OpenWhistle& req) {
    if (req.id.empty()) return command_error(errc::invalid_argument, "a whistle needs an id", "id");
    if (req.case_id.empty()) return command_error(errc::invalid_argument, "a whistle is blown on a case", "case_id");
    if (!is_street_code(req.street_code))
        return command_error(errc::invalid_argument, "street_code is a 9-digit street code, e.g. 320104002",
                             "street_code");
    if (req.by.empty()) return command_error(errc::invalid_argument, "who blows the whistle?", "by");
    if (req.previous_id == req.id)
        return command_error(errc::invalid_argument, "a whistle cannot re-blow itself", "previous_id");
    const TierRule* tier = cfg.tier(req.tier);
    if (!tier) return command_error(errc::not_found, "unknown whistle tier \"" + req.tier + "\"", "tier");
    const KindRule* kind = cfg.kind(req.kind);
    if (!kind) return command_error(errc::not_found, "unknown whistle kind \"" + req.kind + "\"", "kind");
    if (req.units.empty()) return command_error(errc::invalid_argument, "summon at least one unit", "units");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < req.units.size(); ++i) {
        const std::string field = "units[" + std::to_string(i) + "]";
        if (!cfg.unit(req.units[i]))
            return command_error(errc::not_found, "unknown unit \"" + req.units[i] + "\" (not in departments.json)", field);
        if (!seen.insert(req.units[i]).second)
            return command_error(errc::invalid_argument, "unit " + req.units[i] + " summoned twice", field);
    }

    Whistle w;
    w.id = req.id;
    w.case_id = req.case_id;
    w.street_code = req.street_code;
    w.grid_code = req.grid_code;
    w.tier = req.tier;
    w.kind = req.kind;
    w.note = req.note;
    w.opened_at = req.at;
    w.opened_by = req.by;
    w.previous_id = req.previous_id;
    const auto sign_due = deadline_after(cal, req.at, kind->sign);
    const auto contact_due = deadline_after(cal, req.at, kind->contact);
    const auto report_due = deadline_after(cal, req.at, kind->report);
    w.due = {sign_due.at_ms, contact_due.at_ms, report_due.at_ms,
             sign_due.estimated || contact_due.estimated || report_due.estimated};
    for (const auto& u : req.units) w.units.push_back(UnitAnswer{u});
    return w;
}

CommandResult<Whistle> sign(const Whistle& w, std::string_view unit, std::int64_t at, std::string by) {
    auto i = summoned_unit(w, unit);
    if (!i) return i.error();
    const UnitAnswer& a = w.units[i.value()];
    if (a.signed_at) return command_error(errc::conflict, "unit " + a.unit + " has already signed", "unit");
    if (by.empty()) return command_error(errc::invalid_argument, "who signs for the unit?", "by");
    if (auto e = too_early(at, w.opened_at, "the whistle was blown")) return *e;
    Whistle next = w;
    next.units[i.value()].signed_at = at;
    next.units[i.value()].signed_by = std::move(by);
    return next;
}

CommandResult<Whistle> contact(const Whistle& w, std::string_view unit, std::int64_t at, std::string note) {
    auto i = summoned_unit(w, unit);
    if (!i) return i.error();
    const UnitAnswer& a = w.units[i.value()];
    if (!a.signed_at)
        return command_error(errc::out_of_order, "unit " + a.unit + " must sign (签收) before contacting the street", "unit");
    if (a.contacted_at) return command_error(errc::conflict, "unit " + a.unit + " has already contacted the street", "unit");
    if (auto e = too_early(at, *a.signed_at, "the unit signed")) return *e;
    Whistle next = w;
    next.units[i.value()].contacted_at = at;
    next.units[i.value()].contact_note = std::move(note);
    return next;
}

CommandResult<Whistle> report(const CommandConfig& cfg, const Whistle& w, std::string_view unit, std::int64_t at,
                              std::vector<Reporter> reporters) {
    auto i = summoned_unit(w, unit);
    if (!i) return i.error();
    const UnitAnswer& a = w.units[i.value()];
    if (!a.contacted_at)
        return command_error(errc::out_of_order, "unit " + a.unit + " must contact the street before reporting",
                             "unit");
    if (a.reported_at) return command_error(errc::conflict, "unit " + a.unit + " has already reported", "unit");
    if (auto e = too_early(at, *a.contacted_at, "the unit contacted the street")) return *e;
    if (reporters.empty())
        return command_error(errc::invalid_argument, "a report names who came and their rank", "reporters");
    for (std::size_t r = 0; r < reporters.size(); ++r) {
        const std::string field = "reporters[" + std::to_string(r) + "]";
        if (reporters[r].person.empty())
            return command_error(errc::invalid_argument, "who came?", field + ".person");
        if (!cfg.rank(reporters[r].rank))
            return command_error(errc::not_found, "unknown rank \"" + reporters[r].rank + "\"", field + ".rank");
    }
    const TierRule* tier = cfg.tier(w.tier);
    if (!tier) return command_error(errc::not_found, "the whistle's tier \"" + w.tier + "\" is no longer configured", "tier");
    auto present = [&](std::string_view rank) {
        return std::any_of(reporters.begin(), reporters.end(), [&](const Reporter& r) { return r.rank == rank; });
    };
    std::vector<std::string> missing;
    for (const auto& rank : tier->required_ranks)
        if (!present(rank)) missing.push_back(rank);
    const bool accepted = std::any_of(tier->accepted_ranks.begin(), tier->accepted_ranks.end(), present);
    if (!missing.empty() || !accepted) return make_rank_refusal(cfg, *tier, reporters, missing);

    Whistle next = w;
    next.units[i.value()].reported_at = at;
    next.units[i.value()].reporters = std::move(reporters);
    return next;
}

CommandResult<Whistle> rate(const Whistle& w, std::string_view unit, int rating, std::int64_t at, std::string by) {
    if (rating < 1 || rating > 5) return command_error(errc::invalid_argument, "a rating is 1 to 5", "rating");
    auto it = std::find_if(w.units.begin(), w.units.end(), [&](const UnitAnswer& a) { return a.unit == unit; });
    if (it == w.units.end())
        return command_error(errc::not_found, "unit " + std::string(unit) + " was not summoned by whistle " + w.id, "unit");
    if (it->rating) return command_error(errc::conflict, "unit " + it->unit + " has already been rated", "unit");
    if (w.is_open() && !it->reported_at)
        return command_error(errc::out_of_order,
                             "unit " + it->unit + " is rated after it reports, or once the whistle is closed", "unit");
    if (by.empty()) return command_error(errc::invalid_argument, "who rates?", "by");
    if (auto e = too_early(at, it->reported_at.value_or(w.opened_at), "the unit reported")) return *e;
    Whistle next = w;
    auto& a = next.units[static_cast<std::size_t>(it - w.units.begin())];
    a.rating = rating;
    a.rated_at = at;
    a.rated_by = std::move(by);
    return next;
}

CommandResult<Whistle> resolve(const Whistle& w, bool resolved, std::int64_t at, std::string by, std::string note) {
    if (!w.is_open())
        return command_error(errc::closed, "whistle " + w.id + " is already " + std::string(to_string(w.outcome)));
    if (by.empty()) return command_error(errc::invalid_argument, "who closes the whistle?", "by");
    if (auto e = too_early(at, w.opened_at, "the whistle was blown")) return *e;
    Whistle next = w;
    next.outcome = resolved ? WhistleOutcome::resolved : WhistleOutcome::unresolved;
    next.outcome_at = at;
    next.outcome_by = std::move(by);
    next.outcome_note = std::move(note);
    return next;
}

CommandResult<Rewhistled> rewhistle(const CommandConfig& cfg, const WorkCalendar& cal, const Whistle& w,
                                    OpenWhistle next) {
    if (!w.is_open())
        return command_error(errc::closed, "whistle " + w.id + " is already " + std::string(to_string(w.outcome)));
    if (!next.previous_id.empty() && next.previous_id != w.id)
        return command_error(errc::invalid_argument, "previous_id must be " + w.id, "previous_id");
    if (next.id == w.id) return command_error(errc::conflict, "the new whistle needs its own id", "id");
    if (next.case_id != w.case_id)
        return command_error(errc::invalid_argument, "a re-whistle stays on case " + w.case_id, "case_id");
    if (auto e = too_early(next.at, w.opened_at, "the whistle was blown")) return *e;
    next.previous_id = w.id;
    auto opened = open_whistle(cfg, cal, next);
    if (!opened) return opened.error();
    Rewhistled out{w, std::move(opened).value()};
    out.previous.outcome = WhistleOutcome::rewhistled;
    out.previous.outcome_at = next.at;
    out.previous.outcome_by = next.by;
    out.previous.outcome_note = next.note;
    out.previous.next_id = next.id;
    return out;
}

std::vector<OverdueStep> overdue(const Whistle& w, std::int64_t now) {
    std::vector<OverdueStep> out;
    if (!w.is_open()) return out;  // a closed whistle raises no alerts; scoring counts what was missed
    for (const auto& a : w.units)
        for (Step s : kSteps)
            if (!a.done_at(s) && now > w.due.of(s)) out.push_back({a.unit, s, w.due.of(s), now - w.due.of(s)});
    return out;
}

// ---- JSON -----------------------------------------------------------------------------------

namespace {

using nlohmann::json;

json opt(const std::optional<std::int64_t>& v) { return v ? json(*v) : json(nullptr); }

// A reader that remembers the first error and its field, so from_json stays linear.
struct JsonIn {
    std::optional<CommandError> err;

    void fail(const std::string& field, const std::string& what) {
        if (!err) err = command_error(errc::invalid_argument, field + ": " + what, field);
    }
    const json* get(const json& o, const std::string& key, const std::string& field) {
        if (!o.is_object() || !o.contains(key)) {
            fail(field, "missing");
            return nullptr;
        }
        return &o[key];
    }
    std::string str(const json& o, const std::string& key, const std::string& prefix = "") {
        const json* v = get(o, key, prefix + key);
        if (v && !v->is_string()) fail(prefix + key, "expected a string");
        return v && v->is_string() ? v->get<std::string>() : std::string();
    }
    std::int64_t num(const json& o, const std::string& key, const std::string& prefix = "") {
        const json* v = get(o, key, prefix + key);
        if (v && !v->is_number_integer()) fail(prefix + key, "expected an integer (epoch ms)");
        return v && v->is_number_integer() ? v->get<std::int64_t>() : 0;
    }
    std::optional<std::int64_t> opt_num(const json& o, const std::string& key, const std::string& prefix = "") {
        if (!o.contains(key) || o[key].is_null()) return std::nullopt;
        return num(o, key, prefix);
    }
};

}  // namespace

json to_json(const Whistle& w) {
    json units = json::array();
    for (const auto& a : w.units) {
        json reporters = json::array();
        for (const auto& r : a.reporters) reporters.push_back({{"person", r.person}, {"rank", r.rank}});
        units.push_back({{"unit", a.unit},
                         {"signed_at", opt(a.signed_at)},
                         {"signed_by", a.signed_by},
                         {"contacted_at", opt(a.contacted_at)},
                         {"contact_note", a.contact_note},
                         {"reported_at", opt(a.reported_at)},
                         {"reporters", reporters},
                         {"rating", a.rating ? json(*a.rating) : json(nullptr)},
                         {"rated_at", opt(a.rated_at)},
                         {"rated_by", a.rated_by}});
    }
    return {{"schema", "casehub.whistle/1"},
            {"id", w.id},
            {"case_id", w.case_id},
            {"street_code", w.street_code},
            {"grid_code", w.grid_code},
            {"tier", w.tier},
            {"kind", w.kind},
            {"note", w.note},
            {"opened_at", w.opened_at},
            {"opened_by", w.opened_by},
            {"previous_id", w.previous_id},
            {"due", {{"sign", w.due.sign}, {"contact", w.due.contact}, {"report", w.due.report}, {"estimated", w.due.estimated}}},
            {"units", units},
            {"outcome", std::string(to_string(w.outcome))},
            {"outcome_at", opt(w.outcome_at)},
            {"outcome_by", w.outcome_by},
            {"outcome_note", w.outcome_note},
            {"next_id", w.next_id}};
}

CommandResult<Whistle> whistle_from_json(const json& j) {
    JsonIn in;
    if (!j.is_object() || !j.contains("schema") || j["schema"] != "casehub.whistle/1")
        return command_error(errc::invalid_argument, "not a casehub.whistle/1 object", "schema");
    Whistle w;
    w.id = in.str(j, "id");
    w.case_id = in.str(j, "case_id");
    w.street_code = in.str(j, "street_code");
    w.grid_code = j.value("grid_code", std::string());  // absent in whistles stored before grids could whistle
    w.tier = in.str(j, "tier");
    w.kind = in.str(j, "kind");
    w.note = in.str(j, "note");
    w.opened_at = in.num(j, "opened_at");
    w.opened_by = in.str(j, "opened_by");
    w.previous_id = in.str(j, "previous_id");
    if (const json* due = in.get(j, "due", "due")) {
        w.due.sign = in.num(*due, "sign", "due.");
        w.due.contact = in.num(*due, "contact", "due.");
        w.due.report = in.num(*due, "report", "due.");
        if (due->is_object() && due->contains("estimated")) {
            if (!(*due)["estimated"].is_boolean()) in.fail("due.estimated", "expected true or false");
            else w.due.estimated = (*due)["estimated"].get<bool>();
        }
    }
    if (const json* units = in.get(j, "units", "units"); units && units->is_array()) {
        for (std::size_t i = 0; i < units->size(); ++i) {
            const json& u = (*units)[i];
            const std::string p = "units[" + std::to_string(i) + "].";
            UnitAnswer a;
            a.unit = in.str(u, "unit", p);
            a.signed_at = in.opt_num(u, "signed_at", p);
            a.signed_by = in.str(u, "signed_by", p);
            a.contacted_at = in.opt_num(u, "contacted_at", p);
            a.contact_note = in.str(u, "contact_note", p);
            a.reported_at = in.opt_num(u, "reported_at", p);
            if (const json* rs = in.get(u, "reporters", p + "reporters"); rs && rs->is_array())
                for (std::size_t r = 0; r < rs->size(); ++r) {
                    const std::string rp = p + "reporters[" + std::to_string(r) + "].";
                    a.reporters.push_back({in.str((*rs)[r], "person", rp), in.str((*rs)[r], "rank", rp)});
                }
            if (auto rating = in.opt_num(u, "rating", p)) {
                if (*rating < 1 || *rating > 5) in.fail(p + "rating", "a rating is 1 to 5");
                a.rating = static_cast<int>(*rating);
            }
            a.rated_at = in.opt_num(u, "rated_at", p);
            a.rated_by = in.str(u, "rated_by", p);
            w.units.push_back(std::move(a));
        }
    } else {
        in.fail("units", "expected an array");
    }
    const std::string outcome = in.str(j, "outcome");
    if (outcome == "open") w.outcome = WhistleOutcome::open;
    else if (outcome == "resolved") w.outcome = WhistleOutcome::resolved;
    else if (outcome == "unresolved") w.outcome = WhistleOutcome::unresolved;
    else if (outcome == "rewhistled") w.outcome = WhistleOutcome::rewhistled;
    else in.fail("outcome", "expected open, resolved, unresolved or rewhistled");
    w.outcome_at = in.opt_num(j, "outcome_at");
    w.outcome_by = in.str(j, "outcome_by");
    w.outcome_note = in.str(j, "outcome_note");
    w.next_id = in.str(j, "next_id");
    if (in.err) return *in.err;
    return w;
}

}  // namespace casehub::command
