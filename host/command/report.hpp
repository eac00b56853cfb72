// The district's monthly and annual report of the whistle system: all 54 units ranked by their
// average per-whistle score (units with no whistle are listed too), whistle and unit counts,
// resolution and on-time rates, 12345 callback satisfaction, cases solved per tier.
//
// build_report gives the JSON (the source of truth, casehub.command-report/1); the CSV (unit
// ranking) and the HTML page (self-contained: inline CSS and SVG, no script, no external asset)
// are rendered from that JSON. Same input, same bytes: nothing depends on the clock or on
// hash order. docs/command-center.md §Reports defines every figure.
#pragma once

#include "command/calendar.hpp"
#include "command/command_config.hpp"
#include "command/whistle.hpp"
#include "common/result.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace casehub::command {

struct ReportPeriod {
    int year = 2019;
    int month = 0;  // 1–12; 0 = the whole year (annual roll-up with a per-month series)
};

// 12345 hotline callback results for the period (回访: 满意 / 基本满意 / 不满意).
struct CallbackCounts {
    std::int64_t satisfied = 0, basically_satisfied = 0, dissatisfied = 0;
};

struct ReportInput {
    ReportPeriod period;
    std::vector<Whistle> whistles;  // any; those opened (local date) in the period count
    std::map<std::string, std::int64_t> cases_solved_by_tier;  // grid / community / street / district
    CallbackCounts callbacks;
    std::map<std::string, std::string> street_names;  // 9-digit code → name; streets listed even with 0
    std::int64_t as_of = 0;  // when the report is made: a step not done and not yet due is not late
    std::string district_name = "秦淮区";
};

nlohmann::json build_report(const CommandConfig& cfg, const WorkCalendar& cal, const ReportInput& in);
// Both render the JSON build_report made (an own invariant: any other JSON may throw).
// The ranking as CSV: RFC 4180 (CRLF, quotes where needed), UTF-8; excel_bom prepends a BOM so
// Excel opens the Chinese names correctly.
std::string report_csv(const nlohmann::json& report, bool excel_bom = false);
// The page: summary figures, charts, ranking table.
std::string report_html(const nlohmann::json& report);

// Street names from config/qinhuai/divisions.json.
Result<std::map<std::string, std::string>> load_street_names(const std::filesystem::path& divisions_json);

}  // namespace casehub::command
