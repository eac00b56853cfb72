// The command centre inside casehubd (daemon/whistles.cpp): the rules, the calendar and the timers'
// bookkeeping. Loaded once at start-up from [command] (config/command.toml, config/calendar.toml,
// the reference folder's departments.json, categories.json and divisions.json).
#pragma once

#include "command/calendar.hpp"
#include "command/command_config.hpp"
#include "command/escalation.hpp"

#include <cstdint>
#include <map>
#include <string>

namespace casehub::host {

struct CommandCenter {
    command::CommandConfig cfg;
    command::WorkCalendar cal;
    command::CategoryLimits categories;
    std::map<std::string, std::string> street_names;  // 9-digit code → name, for reports
    std::int64_t alert_check_ms = 60'000;             // of the hub's clock

    // Timers' bookkeeping.
    std::int64_t last_check = 0;      // hub clock of the last timer pass (0: none yet)
    std::int64_t last_scan_mono = 0;  // the last look for new cases (monotonic ms)
    std::uint64_t tiers_seq = 0;      // events up to here were looked at for new cases (meta tiers_seq)
    bool more_cases = false;          // the last look was bounded: look again at once
    bool more_due = false;            // a timer pass was bounded: run again at once
};

}  // namespace casehub::host
