#include "daemon/backoff.hpp"

#include <catch2/catch.hpp>

using casehub::host::RestartPolicy;

TEST_CASE("restart delay doubles from the initial value up to the cap", "[unit]") {
    RestartPolicy p({100, 800, 60000, 0});
    std::vector<std::int64_t> d;
    for (int i = 0; i < 6; ++i) d.push_back(p.on_crash(10).delay_ms);
    CHECK(d == std::vector<std::int64_t>{100, 200, 400, 800, 800, 800});
}

TEST_CASE("a healthy run resets the backoff and the fast-crash count", "[unit]") {
    RestartPolicy p({100, 800, 5000, 3});
    CHECK(p.on_crash(10).delay_ms == 100);
    CHECK(p.on_crash(10).delay_ms == 200);
    CHECK(p.fast_crashes() == 2);
    auto d = p.on_crash(6000);  // it had been up longer than healthy_after
    CHECK_FALSE(d.give_up);
    CHECK(d.delay_ms == 100);
    CHECK(p.fast_crashes() == 1);
}

TEST_CASE("too many fast crashes in a row give up, and 0 never does", "[unit]") {
    RestartPolicy p({100, 800, 5000, 3});
    CHECK_FALSE(p.on_crash(1).give_up);
    CHECK_FALSE(p.on_crash(1).give_up);
    CHECK(p.on_crash(1).give_up);
    RestartPolicy never({100, 800, 5000, 0});
    for (int i = 0; i < 100; ++i) REQUIRE_FALSE(never.on_crash(1).give_up);
}
