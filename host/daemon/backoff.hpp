// Restart policy for one adapter's runner: exponential backoff with a cap, reset after a
// healthy run, and "failed" after too many fast crashes in a row.
#pragma once

#include <algorithm>
#include <cstdint>

namespace casehub::host {

class RestartPolicy {
public:
    struct Params {
        std::int64_t initial_ms = 1000, max_ms = 30000, healthy_after_ms = 60000;
        int max_fast_crashes = 5;  // 0: never give up
    };
    explicit RestartPolicy(Params p) : p_(p), next_delay_ms_(p.initial_ms) {}

    struct Decision {
        bool give_up = false;
        std::int64_t delay_ms = 0;
    };
    // The runner died after running `uptime_ms`.
    Decision on_crash(std::int64_t uptime_ms) {
        if (uptime_ms >= p_.healthy_after_ms) {  // it had been healthy: start over
            fast_crashes_ = 0;
            next_delay_ms_ = p_.initial_ms;
        }
        ++fast_crashes_;
        if (p_.max_fast_crashes > 0 && fast_crashes_ >= p_.max_fast_crashes) return {true, 0};
        Decision d{false, next_delay_ms_};
        next_delay_ms_ = std::min(p_.max_ms, next_delay_ms_ * 2);
        return d;
    }
    int fast_crashes() const { return fast_crashes_; }
    std::int64_t next_delay_ms() const { return next_delay_ms_; }

private:
    Params p_;
    std::int64_t next_delay_ms_;
    int fast_crashes_ = 0;
};

}  // namespace casehub::host
