#include "command/escalation.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

namespace casehub::command {

Result<CategoryLimits> CategoryLimits::load(const std::filesystem::path& file) {
    try {
        return load_categories(file);
    } catch (const nlohmann::json::exception& e) {  // a field of the wrong type
        return make_error(file.string() + ": " + e.what());
    }
}

Result<CategoryLimits> CategoryLimits::load_categories(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return make_error(file.string() + ": cannot open the category taxonomy");
    const auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("categories") || !j["categories"].is_array())
        return make_error(file.string() + ": not a category taxonomy (no \"categories\" array)");
    CategoryLimits out;
    out.fallback_ = j.value("fallback", "");
    std::size_t i = 0;
    for (const auto& c : j["categories"]) {
        const std::string where = file.string() + ": categories[" + std::to_string(i++) + "]";
        if (!c.is_object() || !c.contains("code") || !c["code"].is_string())
            return make_error(where + ": no code");
        CategoryLimit limit{c["code"].get<std::string>(), c.value("default_priority", "general"), {}};
        const auto& sla = c.contains("sla") ? c["sla"] : nlohmann::json();
        if (!sla.is_object() || !sla.contains("value") || !sla["value"].is_number() || !sla.contains("unit") ||
            !sla["unit"].is_string())
            return make_error(where + ".sla: expected {value, unit}");
        limit.sla.amount = sla["value"].get<double>();
        // categories.json spells units in the singular (work_hour, work_day, hour).
        const auto unit = sla["unit"].get<std::string>();
        if (unit == "work_hour") limit.sla.unit = TimeUnit::work_hours;
        else if (unit == "work_day") limit.sla.unit = TimeUnit::work_days;
        else if (unit == "hour") limit.sla.unit = TimeUnit::hours;
        else return make_error(where + ".sla.unit: expected work_hour, work_day or hour, got " + unit);
        if (!(limit.sla.amount > 0)) return make_error(where + ".sla.value: must be > 0");
        out.by_code_.emplace(limit.code, std::move(limit));
    }
    if (out.by_code_.empty()) return make_error(file.string() + ": no categories");
    return out;
}

const CategoryLimit* CategoryLimits::find(std::string_view code) const {
    auto it = by_code_.find(code);
    if (it == by_code_.end()) it = by_code_.find(fallback_);
    return it == by_code_.end() ? nullptr : &it->second;
}

CommandResult<TierDecision> starting_tier(const EscalationRules& rules, const CategoryLimits& categories,
                                          const CaseFacts& c) {
    const CategoryLimit* cat = categories.find(c.category);
    if (!cat) return command_error(errc::not_found, "unknown category \"" + c.category + "\"", "category");
    auto tier_of = [&](const std::string& priority) -> int {
        auto it = rules.start_by_priority.find(priority);
        return it == rules.start_by_priority.end() ? -1 : rules.tier_index(it->second);
    };
    int best = tier_of(cat->default_priority);
    if (best < 0)
        return command_error(errc::not_found, "category " + cat->code + "'s priority \"" + cat->default_priority +
                                                  "\" has no starting tier", "category");
    std::string reason = "category " + cat->code + " (" + cat->default_priority + ")";
    if (!c.priority.empty()) {
        const int by_priority = tier_of(c.priority);
        if (by_priority < 0) return command_error(errc::not_found, "unknown priority \"" + c.priority + "\"", "priority");
        if (by_priority > best) {
            best = by_priority;
            reason = "priority " + c.priority;
        }
    }
    if (std::find(c.tags.begin(), c.tags.end(), rules.difficult_tag) != c.tags.end()) {
        const int difficult = rules.tier_index(rules.difficult_start);
        if (difficult > best) {
            best = difficult;
            reason = "tagged " + rules.difficult_tag;
        }
    }
    return TierDecision{rules.tiers[static_cast<std::size_t>(best)], reason};
}

CommandResult<std::optional<Escalation>> next_escalation(const EscalationRules& rules, const WorkCalendar& cal,
                                                         const CategoryLimits& categories,
                                                         std::string_view category, std::string_view tier,
                                                         std::int64_t since) {
    const int index = rules.tier_index(tier);
    if (index < 0) return command_error(errc::not_found, "unknown tier \"" + std::string(tier) + "\"", "tier");
    if (static_cast<std::size_t>(index) + 1 == rules.tiers.size()) return std::optional<Escalation>{};
    auto limit_it = rules.time_limits.find(std::string(tier));
    if (limit_it == rules.time_limits.end())
        return command_error(errc::not_found, "no time limit for tier " + std::string(tier), "tier");
    Duration limit;
    if (limit_it->second) {
        limit = *limit_it->second;
    } else {
        const CategoryLimit* cat = categories.find(category);
        if (!cat) return command_error(errc::not_found, "unknown category \"" + std::string(category) + "\"", "category");
        limit = cat->sla;
    }
    const CalendarTime due = deadline_after(cal, since, limit);
    return std::optional<Escalation>{
        Escalation{rules.tiers[static_cast<std::size_t>(index) + 1], due.at_ms, due.estimated, limit}};
}

CommandResult<TierAt> tier_at(const EscalationRules& rules, const WorkCalendar& cal, const CategoryLimits& categories,
                              std::string_view category, std::string_view tier, std::int64_t since,
                              std::int64_t now) {
    TierAt at{std::string(tier), since};
    for (;;) {
        auto next = next_escalation(rules, cal, categories, category, at.tier, at.since);
        if (!next) return next.error();
        if (!next.value() || next.value()->deadline > now) return at;
        at = {next.value()->next_tier, next.value()->deadline};
    }
}

std::vector<TierShare> tier_shares(const EscalationRules& rules, const std::map<std::string, std::int64_t>& solved_by_tier) {
    std::int64_t total = 0;
    for (const auto& tier : rules.tiers) {
        auto it = solved_by_tier.find(tier);
        if (it != solved_by_tier.end()) total += it->second;
    }
    std::vector<TierShare> out;
    std::int64_t running = 0;
    for (const auto& tier : rules.tiers) {
        auto it = solved_by_tier.find(tier);
        const std::int64_t n = it == solved_by_tier.end() ? 0 : it->second;
        running += n;
        out.push_back({tier, n, total ? static_cast<double>(n) / total : 0.0,
                       total ? static_cast<double>(running) / total : 0.0});
    }
    return out;
}

}  // namespace casehub::command
