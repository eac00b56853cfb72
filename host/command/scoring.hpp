// One whistle, one assessment (一哨一考核): a 0–100 score for each summoned unit on each whistle.
//
//   score = 100 × (Σ_step w_step × t_step + w_rating × (rating − 1) / 4 + w_resolved × R) / Σ w
//
//   t_step  1 when the step (sign, contact, report) was done by its deadline;
//           max(late_floor, 1 − lateness / grace) when late, lateness in the grace's unit;
//           0 when never done.
//   rating  the street's 1–5 cooperation rating; unrated_rating while there is none.
//   R       1 when the street resolved the whistle, else 0 (unresolved, re-whistled, still open).
//
// Weights, graces and the floor are config/command.toml [scoring]; docs/command-center.md works
// one example through (tests/host/command/test_scoring.cpp checks it).
#pragma once

#include "command/calendar.hpp"
#include "command/command_config.hpp"
#include "command/whistle.hpp"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace casehub::command {

struct StepScore {
    Step step = Step::sign;
    std::int64_t due = 0;
    std::optional<std::int64_t> done_at;
    bool on_time = false;
    double lateness = 0;  // in the unit of the step's grace; 0 when on time or not done
    double part = 0;      // t_step, 0–1
};

struct UnitScore {
    std::string whistle_id, unit;
    std::array<StepScore, 3> steps;  // sign, contact, report
    int rating = 0;                  // the rating used (the street's, or unrated_rating)
    bool rated = false;
    bool resolved = false;
    bool provisional = false;  // the whistle is still open: missing steps may yet be done
    double score = 0;          // 0–100, unrounded
};

UnitScore score_unit(const ScoringRules& rules, const WorkCalendar& cal, const Whistle& w, const UnitAnswer& a);
std::vector<UnitScore> score_whistle(const ScoringRules& rules, const WorkCalendar& cal, const Whistle& w);

}  // namespace casehub::command
