// A whistle (吹哨) and the units' answers to it (报到), as pure state transitions.
//
// The street opens a whistle on a case with a tier (general / larger / major) and a kind
// (work_progress / hard_problem), summoning one or more of the 54 units. Each unit signs (签收),
// contacts the street (对接) and reports (报到) with the people who came and their ranks; the
// street rates each unit's cooperation 1–5 and finally resolves the whistle (resolved or
// unresolved) or re-whistles it (a new whistle pointing back to this one).
//
// Every operation takes the current state and one step, validates it and returns the new state
// or a CommandError {code, message, field}; nothing is mutated on error and nothing throws. The
// deadlines of the three steps are computed once, when the whistle opens, so a later change of
// the rules does not move the goalposts of whistles already running.
#pragma once

#include "command/calendar.hpp"
#include "command/command_config.hpp"
#include "command/command_result.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace casehub::command {

struct Reporter {
    std::string person, rank;
};

// One summoned unit's progress on one whistle.
struct UnitAnswer {
    std::string unit;  // departments.json code, "D01"
    std::optional<std::int64_t> signed_at;
    std::string signed_by;
    std::optional<std::int64_t> contacted_at;
    std::string contact_note;
    std::optional<std::int64_t> reported_at;
    std::vector<Reporter> reporters;
    std::optional<int> rating;  // 1–5, by the street
    std::optional<std::int64_t> rated_at;
    std::string rated_by;

    std::optional<std::int64_t> done_at(Step s) const {
        return s == Step::sign ? signed_at : s == Step::contact ? contacted_at : reported_at;
    }
};

enum class WhistleOutcome { open, resolved, unresolved, rewhistled };
std::string_view to_string(WhistleOutcome o);

struct StepDeadlines {
    std::int64_t sign = 0, contact = 0, report = 0;
    bool estimated = false;  // a day outside the calendar's years was involved
    std::int64_t of(Step s) const { return s == Step::sign ? sign : s == Step::contact ? contact : report; }
};

struct Whistle {
    std::string id, case_id, street_code, tier, kind, note;
    std::int64_t opened_at = 0;
    std::string opened_by;
    std::string previous_id;  // the whistle this one re-blows, or ""
    StepDeadlines due;
    std::vector<UnitAnswer> units;
    WhistleOutcome outcome = WhistleOutcome::open;
    std::optional<std::int64_t> outcome_at;
    std::string outcome_by, outcome_note;
    std::string next_id;  // set when re-whistled
    std::string grid_code;  // the grid that whistled; "" when the street did

    bool is_open() const { return outcome == WhistleOutcome::open; }
    const UnitAnswer* answer(std::string_view unit) const;
};

struct OpenWhistle {
    std::string id, case_id, street_code, tier, kind, note;
    std::vector<std::string> units;
    std::int64_t at = 0;
    std::string by;
    std::string previous_id;
    std::string grid_code;  // a grid's whistle (the hub checks it is the case's grid); "" for the street
};

CommandResult<Whistle> open_whistle(const CommandConfig& cfg, const WorkCalendar& cal, const OpenWhistle& req);
CommandResult<Whistle> sign(const Whistle& w, std::string_view unit, std::int64_t at, std::string by);
CommandResult<Whistle> contact(const Whistle& w, std::string_view unit, std::int64_t at, std::string note);
// Refused with rank_too_low (field "reporters") when the ranks do not meet the whistle's tier.
CommandResult<Whistle> report(const CommandConfig& cfg, const Whistle& w, std::string_view unit, std::int64_t at,
                              std::vector<Reporter> reporters);
// After the unit reported, or once the whistle is closed (a unit that never came is rated too).
CommandResult<Whistle> rate(const Whistle& w, std::string_view unit, int rating, std::int64_t at, std::string by);
CommandResult<Whistle> resolve(const Whistle& w, bool resolved, std::int64_t at, std::string by, std::string note);

struct Rewhistled {
    Whistle previous;  // outcome rewhistled
    Whistle next;      // open, previous_id set
};
// Closes an open whistle as re-whistled and opens its successor; tier, kind and units may change
// (an unanswered general whistle often comes back as larger).
CommandResult<Rewhistled> rewhistle(const CommandConfig& cfg, const WorkCalendar& cal, const Whistle& w,
                                    OpenWhistle next);

// A step past its deadline and not done, on an open whistle: the alerts to raise.
struct OverdueStep {
    std::string unit;
    Step step;
    std::int64_t due = 0;
    std::int64_t overdue_ms = 0;  // now - due
};
std::vector<OverdueStep> overdue(const Whistle& w, std::int64_t now);

// The state as stored by the daemon (SQLite, as JSON). Times are epoch ms; absent steps are null.
nlohmann::json to_json(const Whistle& w);
CommandResult<Whistle> whistle_from_json(const nlohmann::json& j);

}  // namespace casehub::command
