#include "command/scoring.hpp"

#include <algorithm>

namespace casehub::command {

UnitScore score_unit(const ScoringRules& rules, const WorkCalendar& cal, const Whistle& w, const UnitAnswer& a) {
    UnitScore s;
    s.whistle_id = w.id;
    s.unit = a.unit;
    s.provisional = w.is_open();
    double weighted = 0;
    for (std::size_t i = 0; i < 3; ++i) {
        const Step step = kSteps[i];
        const StepScoring& rule = rules.of(step);
        StepScore& st = s.steps[i];
        st.step = step;
        st.due = w.due.of(step);
        st.done_at = a.done_at(step);
        if (st.done_at) {
            st.on_time = *st.done_at <= st.due;
            if (st.on_time) {
                st.part = 1;
            } else {
                st.lateness = lateness_in(cal, st.due, *st.done_at, rule.grace.unit);
                st.part = std::max(rules.late_floor, 1 - st.lateness / rule.grace.amount);
            }
        }
        weighted += rule.weight * st.part;
    }
    s.rated = a.rating.has_value();
    s.rating = a.rating.value_or(rules.unrated_rating);
    s.resolved = w.outcome == WhistleOutcome::resolved;
    weighted += rules.rating_weight * (s.rating - 1) / 4.0;
    weighted += rules.resolved_weight * (s.resolved ? 1.0 : 0.0);
    s.score = 100.0 * weighted / rules.total_weight();
    return s;
}

std::vector<UnitScore> score_whistle(const ScoringRules& rules, const WorkCalendar& cal, const Whistle& w) {
    std::vector<UnitScore> out;
    for (const auto& a : w.units) out.push_back(score_unit(rules, cal, w, a));
    return out;
}

}  // namespace casehub::command
