// Case tiers and escalation: 小事不出网格、大事不出社区、难事不出街道.
//
// A case is handled at a tier (grid → community → street → district, config/command.toml
// [escalation]). It starts at the highest of: the tier its category's default priority gives,
// the tier its own priority gives, and — when tagged difficult — difficult_start. It rises one
// tier each time its time limit at the current tier runs out; the limit is the category's own
// (categories.json sla, in work hours / work days / hours) or a configured duration.
#pragma once

#include "command/calendar.hpp"
#include "command/command_config.hpp"
#include "command/command_result.hpp"
#include "common/result.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace casehub::command {

struct CategoryLimit {
    std::string code, default_priority;
    Duration sla;
};

// The categories' default priorities and time limits (config/qinhuai/categories.json).
class CategoryLimits {
public:
    static Result<CategoryLimits> load(const std::filesystem::path& file);
    // The category, else the taxonomy's fallback category, else nullptr.
    const CategoryLimit* find(std::string_view code) const;
    std::size_t size() const { return by_code_.size(); }

private:
    static Result<CategoryLimits> load_categories(const std::filesystem::path& file);
    std::map<std::string, CategoryLimit, std::less<>> by_code_;
    std::string fallback_;
};

struct CaseFacts {
    std::string category;
    std::string priority;  // general / larger / major, "" = the category's default
    std::vector<std::string> tags;
};

struct TierDecision {
    std::string tier;
    std::string reason;  // one line: which rule set it
};

CommandResult<TierDecision> starting_tier(const EscalationRules& rules, const CategoryLimits& categories,
                                          const CaseFacts& c);

struct Escalation {
    std::string next_tier;
    std::int64_t deadline = 0;  // when the case rises if not solved at `tier`
    bool estimated = false;     // the calendar had to guess (a year beyond its table)
    Duration limit;
};

// nullopt at the top tier (nowhere to rise to).
CommandResult<std::optional<Escalation>> next_escalation(const EscalationRules& rules, const WorkCalendar& cal,
                                                         const CategoryLimits& categories,
                                                         std::string_view category, std::string_view tier,
                                                         std::int64_t since);

// The tier an unsolved case has reached at `now`, having entered `tier` at `since`, and when it
// entered that tier.
struct TierAt {
    std::string tier;
    std::int64_t since = 0;
};
CommandResult<TierAt> tier_at(const EscalationRules& rules, const WorkCalendar& cal, const CategoryLimits& categories,
                              std::string_view category, std::string_view tier, std::int64_t since,
                              std::int64_t now);

// Cases solved per tier → each tier's share and the share solved at or below it
// ("90 % solved inside the grid" is the first tier's share).
struct TierShare {
    std::string tier;
    std::int64_t solved = 0;
    double share = 0, cumulative_share = 0;
};
std::vector<TierShare> tier_shares(const EscalationRules& rules, const std::map<std::string, std::int64_t>& solved_by_tier);

}  // namespace casehub::command
