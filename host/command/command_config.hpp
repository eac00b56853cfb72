// The command centre's rules (config/command.toml) and the responding units
// (config/qinhuai/departments.json): whistle tiers and the ranks each accepts, whistle kinds and
// their step deadlines, score weights, case-tier escalation rules.
#pragma once

#include "command/calendar.hpp"
#include "common/result.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace casehub::command {

enum class TimeUnit { hours, work_hours, work_days };
std::string_view to_string(TimeUnit u);
bool parse_time_unit(std::string_view s, TimeUnit& out);

// "1 hour", "24 work hours", "3 work days".
struct Duration {
    double amount = 0;
    TimeUnit unit = TimeUnit::hours;
};

// The deadline `d` after `t` on `cal`.
CalendarTime deadline_after(const WorkCalendar& cal, std::int64_t t_ms, const Duration& d);
// How far `late_ms` is after `due_ms`, in `unit` (work days = office hours / office hours a day).
double lateness_in(const WorkCalendar& cal, std::int64_t due_ms, std::int64_t late_ms, TimeUnit unit);

struct Rank {
    std::string code, name_zh;
};

struct TierRule {
    std::string code, name_zh;
    // A report is accepted when one reporter holds one of accepted_ranks and, for a double
    // report, every rank of required_ranks is present.
    std::vector<std::string> accepted_ranks;
    std::vector<std::string> required_ranks;
    bool double_report() const { return !required_ranks.empty(); }
};

enum class Step { sign, contact, report };
inline constexpr Step kSteps[] = {Step::sign, Step::contact, Step::report};
std::string_view to_string(Step s);

struct KindRule {
    std::string code, name_zh;
    Duration sign, contact, report;  // each counted from the whistle's opening
    const Duration& of(Step s) const { return s == Step::sign ? sign : s == Step::contact ? contact : report; }
};

struct StepScoring {
    double weight = 0;
    // Lateness at which a late step's timeliness has decayed to late_floor.
    Duration grace;
};

struct ScoringRules {
    StepScoring sign, contact, report;
    double rating_weight = 0, resolved_weight = 0;
    double late_floor = 0.2;  // a late step still beats a missing one
    int unrated_rating = 3;   // rating assumed while the street has not rated
    const StepScoring& of(Step s) const { return s == Step::sign ? sign : s == Step::contact ? contact : report; }
    double total_weight() const {
        return sign.weight + contact.weight + report.weight + rating_weight + resolved_weight;
    }
};

struct EscalationRules {
    std::vector<std::string> tiers;                       // lowest first: grid … district
    std::map<std::string, std::string> start_by_priority;  // case priority → starting tier
    std::string difficult_tag = "difficult";
    std::string difficult_start;  // tier a difficult case starts at, at least
    // Time allowed at a tier before the case rises; nullopt = the category's own time limit.
    std::map<std::string, std::optional<Duration>> time_limits;
    int tier_index(std::string_view tier) const;  // -1 when unknown
};

struct Unit {
    std::string code, name, full_name, kind;
};

struct CommandConfig {
    std::vector<Rank> ranks;
    std::vector<TierRule> tiers;
    std::vector<KindRule> kinds;
    ScoringRules scoring;
    EscalationRules escalation;
    std::vector<Unit> units;  // the 54, in departments.json order

    const Rank* rank(std::string_view code) const;
    const TierRule* tier(std::string_view code) const;
    const KindRule* kind(std::string_view code) const;
    const Unit* unit(std::string_view code) const;
};

// Start-up: the rules and the units, or an Error naming file, line and key.
Result<CommandConfig> load_command_config(const std::filesystem::path& rules_toml,
                                          const std::filesystem::path& departments_json);

}  // namespace casehub::command
