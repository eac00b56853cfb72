// The hub's clock: what "now" is for whistle steps, actions, the overdue and escalation timers.
//
// Wall by default (the system clock). Simulated (`[command] clock = "simulated"`) it starts at
// `clock_start` (or where a previous run left it: the store keeps it) and moves only when told,
// by the control command `clock_set {"at": RFC 3339}`, forward only: the simulated 2019 drives
// the hub through a year in minutes, and every deadline is computed on that year's calendar.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace casehub::host {

class Clock {
public:
    enum class Mode { wall, simulated };

    static std::int64_t wall_ms() {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }

    Clock() = default;
    static Clock simulated(std::int64_t start_ms) {
        Clock c;
        c.mode_ = Mode::simulated;
        c.sim_ms_ = start_ms;
        return c;
    }

    Mode mode() const { return mode_; }
    bool is_simulated() const { return mode_ == Mode::simulated; }
    const char* mode_name() const { return mode_ == Mode::simulated ? "simulated" : "wall"; }
    std::int64_t now_ms() const { return mode_ == Mode::simulated ? sim_ms_ : wall_ms(); }

    // Moves a simulated clock to `at`; false (nothing changes) on a wall clock or backwards.
    bool set(std::int64_t at_ms, std::string& why) {
        if (mode_ != Mode::simulated) {
            why = "the hub runs on the wall clock ([command] clock = \"wall\"); only a simulated clock is set";
            return false;
        }
        if (at_ms < sim_ms_) {
            why = "the clock only moves forward";
            return false;
        }
        sim_ms_ = at_ms;
        return true;
    }

private:
    Mode mode_ = Mode::wall;
    std::int64_t sim_ms_ = 0;
};

}  // namespace casehub::host
