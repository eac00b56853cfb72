// Shared set-up of the command-centre tests: the shipped rules, units, calendar and categories
// (loaded once), and Beijing-time helpers so expectations read like the rules they test.
#pragma once

#include "command/calendar.hpp"
#include "command/command_config.hpp"
#include "command/escalation.hpp"
#include "command/whistle.hpp"

#include <casehub/sdk/rfc3339.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace command_test {

inline std::string source_path(const std::string& rel) { return std::string(CASEHUB_SOURCE_DIR) + "/" + rel; }

// "2019-09-27 10:00" (Beijing) → epoch ms.
inline std::int64_t bj(const std::string& local) {
    auto ms = casehub::sdk::parse_rfc3339_ms(local.substr(0, 10) + "T" + local.substr(11) + ":00+08:00");
    if (!ms) throw std::invalid_argument("bad test time " + local);
    return *ms;
}

// epoch ms → "2019-09-27 10:00" (Beijing).
inline std::string bj_str(std::int64_t ms) {
    const auto s = casehub::sdk::format_rfc3339_beijing(ms);
    return s.substr(0, 10) + " " + s.substr(11, 5);
}

inline const casehub::command::WorkCalendar& calendar() {
    static const auto cal = [] {
        auto c = casehub::command::WorkCalendar::load(source_path("config/calendar.toml"));
        if (!c) throw std::runtime_error(c.error().message);
        return std::move(c).value();
    }();
    return cal;
}

inline const casehub::command::CommandConfig& config() {
    static const auto cfg = [] {
        auto c = casehub::command::load_command_config(source_path("config/command.toml"),
                                                       source_path("config/qinhuai/departments.json"));
        if (!c) throw std::runtime_error(c.error().message);
        return std::move(c).value();
    }();
    return cfg;
}

inline const casehub::command::CategoryLimits& categories() {
    static const auto cats = [] {
        auto c = casehub::command::CategoryLimits::load(source_path("config/qinhuai/categories.json"));
        if (!c) throw std::runtime_error(c.error().message);
        return std::move(c).value();
    }();
    return cats;
}

inline casehub::command::OpenWhistle open_request(std::string id, std::string tier, std::string kind,
                                                  std::vector<std::string> units, std::int64_t at) {
    casehub::command::OpenWhistle r;
    r.id = std::move(id);
    r.case_id = "C20191014-000001";
    r.street_code = "320104002";
    r.tier = std::move(tier);
    r.kind = std::move(kind);
    r.note = "夫子庙景区周边占道经营反复";
    r.units = std::move(units);
    r.at = at;
    r.by = "夫子庙街道指挥中心 周建国";
    return r;
}

// Opens a whistle that must open.
inline casehub::command::Whistle must_open(const casehub::command::OpenWhistle& r) {
    auto w = casehub::command::open_whistle(config(), calendar(), r);
    if (!w) throw std::runtime_error(w.error().code + ": " + w.error().message);
    return std::move(w).value();
}

// Unwraps a step that must succeed.
template <class T>
T must(casehub::command::CommandResult<T> r) {
    if (!r) throw std::runtime_error(r.error().code + " (" + r.error().field + "): " + r.error().message);
    return std::move(r).value();
}

}  // namespace command_test
