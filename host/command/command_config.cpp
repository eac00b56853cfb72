#include "command/command_config.hpp"

#include "command/toml_reader.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

namespace casehub::command {

std::string_view to_string(TimeUnit u) {
    switch (u) {
        case TimeUnit::hours: return "hours";
        case TimeUnit::work_hours: return "work_hours";
        case TimeUnit::work_days: return "work_days";
    }
    return "hours";
}

bool parse_time_unit(std::string_view s, TimeUnit& out) {
    if (s == "hours") out = TimeUnit::hours;
    else if (s == "work_hours") out = TimeUnit::work_hours;
    else if (s == "work_days") out = TimeUnit::work_days;
    else return false;
    return true;
}

std::string_view to_string(Step s) {
    switch (s) {
        case Step::sign: return "sign";
        case Step::contact: return "contact";
        case Step::report: return "report";
    }
    return "sign";
}

CalendarTime deadline_after(const WorkCalendar& cal, std::int64_t t_ms, const Duration& d) {
    switch (d.unit) {
        case TimeUnit::hours: return {WorkCalendar::add_hours(t_ms, d.amount), false};
        case TimeUnit::work_hours: return cal.add_work_hours(t_ms, d.amount);
        case TimeUnit::work_days: return cal.add_work_days(t_ms, static_cast<int>(std::lround(d.amount)));
    }
    return {t_ms, false};
}

double lateness_in(const WorkCalendar& cal, std::int64_t due_ms, std::int64_t late_ms, TimeUnit unit) {
    if (late_ms <= due_ms) return 0;
    switch (unit) {
        case TimeUnit::hours: return static_cast<double>(late_ms - due_ms) / kHourMs;
        case TimeUnit::work_hours: return cal.work_hours_between(due_ms, late_ms).hours;
        case TimeUnit::work_days:
            return cal.work_hours_between(due_ms, late_ms).hours / cal.office_hours_per_day();
    }
    return 0;
}

int EscalationRules::tier_index(std::string_view tier) const {
    auto it = std::find(tiers.begin(), tiers.end(), tier);
    return it == tiers.end() ? -1 : static_cast<int>(it - tiers.begin());
}

const Rank* CommandConfig::rank(std::string_view code) const {
    for (const auto& r : ranks)
        if (r.code == code) return &r;
    return nullptr;
}
const TierRule* CommandConfig::tier(std::string_view code) const {
    for (const auto& t : tiers)
        if (t.code == code) return &t;
    return nullptr;
}
const KindRule* CommandConfig::kind(std::string_view code) const {
    for (const auto& k : kinds)
        if (k.code == code) return &k;
    return nullptr;
}
const Unit* CommandConfig::unit(std::string_view code) const {
    for (const auto& u : units)
        if (u.code == code) return &u;
    return nullptr;
}

namespace {

Duration read_duration(const TomlTable& t) {
    t.only_keys({"amount", "unit"});
    Duration d;
    d.amount = t.number("amount");
    if (!(d.amount > 0) || d.amount > 10000) t.fail("amount", "must be > 0 (and sane)");
    if (!parse_time_unit(t.string("unit"), d.unit))
        t.fail("unit", "expected \"hours\", \"work_hours\" or \"work_days\"");
    if (d.unit == TimeUnit::work_days && d.amount != std::floor(d.amount))
        t.fail("amount", "work days are whole days");
    return d;
}

std::vector<std::string> read_codes(const TomlTable& t, std::string_view key, const CommandConfig& cfg) {
    std::vector<std::string> out;
    for (const auto& n : t.array(key)) {
        auto code = n.string();
        if (!cfg.rank(code)) n.fail("unknown rank \"" + code + "\" (not in [[ranks]])");
        out.push_back(code);
    }
    return out;
}

StepScoring read_step_scoring(const TomlTable& t) {
    t.only_keys({"weight", "grace"});
    StepScoring s;
    s.weight = t.number("weight");
    if (s.weight < 0) t.fail("weight", "must be ≥ 0");
    s.grace = read_duration(t.table("grace"));
    return s;
}

void load_rules(const std::filesystem::path& file, CommandConfig& cfg) {
    TomlReader doc(file);
    const auto root = doc.root();
    root.only_keys({"schema", "ranks", "tiers", "kinds", "scoring", "escalation"});
    if (root.string("schema") != "casehub.command/1") root.fail("schema", "expected \"casehub.command/1\"");

    for (const auto& n : root.array("ranks")) {
        const auto t = n.table();
        t.only_keys({"code", "name_zh"});
        Rank r{t.string("code"), t.string("name_zh")};
        if (r.code.empty() || cfg.rank(r.code)) t.fail("code", "empty or listed twice");
        cfg.ranks.push_back(std::move(r));
    }
    if (cfg.ranks.empty()) root.fail("ranks", "no rank");

    for (const auto& n : root.array("tiers")) {
        const auto t = n.table();
        t.only_keys({"code", "name_zh", "accepted_ranks", "required_ranks"});
        TierRule tier{t.string("code"), t.string("name_zh"), read_codes(t, "accepted_ranks", cfg), {}};
        if (tier.code.empty() || cfg.tier(tier.code)) t.fail("code", "empty or listed twice");
        if (tier.accepted_ranks.empty()) t.fail("accepted_ranks", "no rank could ever answer this tier");
        if (t.has("required_ranks")) tier.required_ranks = read_codes(t, "required_ranks", cfg);
        cfg.tiers.push_back(std::move(tier));
    }
    if (cfg.tiers.empty()) root.fail("tiers", "no tier");

    for (const auto& n : root.array("kinds")) {
        const auto t = n.table();
        t.only_keys({"code", "name_zh", "sign", "contact", "report"});
        KindRule k{t.string("code"), t.string("name_zh"), read_duration(t.table("sign")),
                   read_duration(t.table("contact")), read_duration(t.table("report"))};
        if (k.code.empty() || cfg.kind(k.code)) t.fail("code", "empty or listed twice");
        cfg.kinds.push_back(std::move(k));
    }
    if (cfg.kinds.empty()) root.fail("kinds", "no kind");

    const auto s = root.table("scoring");
    s.only_keys({"late_floor", "unrated_rating", "rating_weight", "resolved_weight", "sign", "contact", "report"});
    cfg.scoring.late_floor = s.number("late_floor");
    if (cfg.scoring.late_floor < 0 || cfg.scoring.late_floor > 1) s.fail("late_floor", "must be in [0, 1]");
    cfg.scoring.unrated_rating = static_cast<int>(s.integer("unrated_rating"));
    if (cfg.scoring.unrated_rating < 1 || cfg.scoring.unrated_rating > 5) s.fail("unrated_rating", "must be 1–5");
    cfg.scoring.rating_weight = s.number("rating_weight");
    cfg.scoring.resolved_weight = s.number("resolved_weight");
    if (cfg.scoring.rating_weight < 0) s.fail("rating_weight", "must be ≥ 0");
    if (cfg.scoring.resolved_weight < 0) s.fail("resolved_weight", "must be ≥ 0");
    cfg.scoring.sign = read_step_scoring(s.table("sign"));
    cfg.scoring.contact = read_step_scoring(s.table("contact"));
    cfg.scoring.report = read_step_scoring(s.table("report"));
    if (!(cfg.scoring.total_weight() > 0)) s.fail("sign", "the weights add up to 0");

    const auto e = root.table("escalation");
    e.only_keys({"tiers", "difficult_tag", "difficult_start", "start_by_priority", "time_limits"});
    auto& esc = cfg.escalation;
    for (const auto& n : e.array("tiers")) {
        auto tier = n.string();
        if (tier.empty() || esc.tier_index(tier) >= 0) n.fail("empty or listed twice");
        esc.tiers.push_back(tier);
    }
    if (esc.tiers.size() < 2) e.fail("tiers", "needs at least two tiers to escalate between");
    auto known_tier = [&](const TomlNode& n) {
        auto tier = n.string();
        if (esc.tier_index(tier) < 0) n.fail("unknown tier \"" + tier + "\" (not in escalation.tiers)");
        return tier;
    };
    esc.difficult_tag = e.string("difficult_tag");
    esc.difficult_start = known_tier(e.node("difficult_start"));
    const auto starts = e.table("start_by_priority");
    for (const auto& key : starts.keys()) esc.start_by_priority[key] = known_tier(starts.node(key));
    // Case priorities (categories.json "priorities") share the whistle tiers' vocabulary.
    for (const auto& tier : cfg.tiers)
        if (!esc.start_by_priority.count(tier.code))
            starts.fail(tier.code, "missing: every priority (general, larger, major) needs a starting tier");
    const auto limits = e.table("time_limits");
    for (const auto& key : limits.keys()) {
        const auto n = limits.node(key);
        if (esc.tier_index(key) < 0) limits.fail(key, "unknown tier (not in escalation.tiers)");
        if (key == esc.tiers.back()) limits.fail(key, "the top tier cannot rise further; leave it out");
        if (n.is_string()) {
            if (n.string() != "category") n.fail("expected \"category\" or {amount, unit}");
            esc.time_limits[key] = std::nullopt;
        } else {
            esc.time_limits[key] = read_duration(n.table());
        }
    }
    for (std::size_t i = 0; i + 1 < esc.tiers.size(); ++i)
        if (!esc.time_limits.count(esc.tiers[i]))
            limits.fail(esc.tiers[i], "missing: every tier but the top needs a time limit");
}

void load_units(const std::filesystem::path& file, CommandConfig& cfg) {
    std::ifstream in(file);
    if (!in) throw LoadError(file.string() + ": cannot open the list of responding units");
    const auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("departments") || !j["departments"].is_array())
        throw LoadError(file.string() + ": not a department list (no \"departments\" array)");
    std::size_t i = 0;
    for (const auto& d : j["departments"]) {
        const std::string where = file.string() + ": departments[" + std::to_string(i++) + "]";
        if (!d.is_object() || !d.contains("code") || !d["code"].is_string() || !d.contains("name") ||
            !d["name"].is_string())
            throw LoadError(where + ": needs a string code and name");
        Unit u{d["code"].get<std::string>(), d["name"].get<std::string>(), d.value("full_name", ""),
               d.value("kind", "")};
        if (cfg.unit(u.code)) throw LoadError(where + ": code " + u.code + " listed twice");
        cfg.units.push_back(std::move(u));
    }
    if (cfg.units.empty()) throw LoadError(file.string() + ": no department");
}

}  // namespace

Result<CommandConfig> load_command_config(const std::filesystem::path& rules_toml,
                                          const std::filesystem::path& departments_json) {
    try {
        CommandConfig cfg;
        load_rules(rules_toml, cfg);
        load_units(departments_json, cfg);
        return cfg;
    } catch (const LoadError& e) {
        return make_error(e.what());
    } catch (const nlohmann::json::exception& e) {  // a departments.json field of the wrong type
        return make_error(departments_json.string() + ": " + e.what());
    }
}

}  // namespace casehub::command
