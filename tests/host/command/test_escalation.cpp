// Case tiers: where a case starts (category default, priority, the difficult tag), when it rises
// (the category's time limit, or the configured one), and the share solved at each tier.
#include "command_fixtures.hpp"

using namespace casehub::command;
using command_test::bj;
using command_test::bj_str;
using command_test::calendar;
using command_test::categories;
using command_test::config;

namespace {

std::string start(const std::string& category, const std::string& priority = "",
                  std::vector<std::string> tags = {}) {
    auto d = starting_tier(config().escalation, categories(), {category, priority, std::move(tags)});
    REQUIRE(d);
    return d->tier;
}

Escalation rise(const std::string& category, const std::string& tier, std::int64_t since) {
    auto e = next_escalation(config().escalation, calendar(), categories(), category, tier, since);
    REQUIRE(e);
    REQUIRE(e.value());
    return *e.value();
}

}  // namespace

TEST_CASE("a case starts at the tier its category, priority and tags give", "[unit]") {
    CHECK(categories().size() == 57);
    CHECK(start("city_appearance.exposed_garbage") == "grid");            // general
    CHECK(start("market_food.food_safety") == "community");               // larger
    CHECK(start("utilities.gas") == "street");                            // major
    CHECK(start("city_appearance.exposed_garbage", "larger") == "community");
    CHECK(start("city_appearance.exposed_garbage", "major") == "street");
    CHECK(start("utilities.gas", "general") == "street");  // a priority never lowers the category's tier
    CHECK(start("city_appearance.exposed_garbage", "", {"repeat", "difficult"}) == "street");
    CHECK(start("no.such_category") == "grid");  // the taxonomy's fallback, other.unclassified

    auto reason = starting_tier(config().escalation, categories(), {"city_appearance.exposed_garbage", "", {"difficult"}});
    REQUIRE(reason);
    CHECK(reason->reason == "tagged difficult");
    auto bad = starting_tier(config().escalation, categories(), {"city_appearance.exposed_garbage", "urgent", {}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == errc::not_found);
    CHECK(bad.error().field == "priority");
}

TEST_CASE("escalation timers: the category's limit at grid and community, the configured one above", "[unit]") {
    // Exposed garbage: 4 work hours. Monday 16:00 → 1.5 h on Monday, 2.5 h on Tuesday morning.
    auto grid = rise("city_appearance.exposed_garbage", "grid", bj("2019-10-14 16:00"));
    CHECK(grid.next_tier == "community");
    CHECK(bj_str(grid.deadline) == "2019-10-15 11:00");
    CHECK(grid.limit.unit == TimeUnit::work_hours);
    CHECK_FALSE(grid.estimated);

    // Gas: 1 wall-clock hour, holidays or not.
    auto gas = rise("utilities.gas", "community", bj("2019-10-01 22:30"));
    CHECK(gas.next_tier == "street");
    CHECK(bj_str(gas.deadline) == "2019-10-01 23:30");

    // Accumulated waste: 1 work day, over the National Day week.
    auto waste = rise("city_appearance.accumulated_waste", "grid", bj("2019-09-30 10:00"));
    CHECK(bj_str(waste.deadline) == "2019-10-08 17:30");

    // The street has 5 work days whatever the category.
    auto street = rise("city_appearance.exposed_garbage", "street", bj("2019-10-14 16:00"));
    CHECK(street.next_tier == "district");
    CHECK(bj_str(street.deadline) == "2019-10-21 17:30");

    // The district is the top: nowhere to rise.
    auto top = next_escalation(config().escalation, calendar(), categories(), "city_appearance.exposed_garbage",
                               "district", bj("2019-10-14 16:00"));
    REQUIRE(top);
    CHECK_FALSE(top.value());

    auto unknown = next_escalation(config().escalation, calendar(), categories(), "city_appearance.exposed_garbage",
                                   "province", bj("2019-10-14 16:00"));
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().field == "tier");
}

TEST_CASE("tier_at follows an unsolved case up the tiers", "[unit]") {
    const auto& esc = config().escalation;
    const auto since = bj("2019-10-14 16:00");
    auto at = [&](const char* now) {
        auto t = tier_at(esc, calendar(), categories(), "city_appearance.exposed_garbage", "grid", since, bj(now));
        REQUIRE(t);
        return t.value();
    };
    CHECK(at("2019-10-15 10:59").tier == "grid");
    CHECK(at("2019-10-15 11:01").tier == "community");
    // Community from Tue 11:00 for 4 work hours (1 before lunch, 3 after) → Tue 16:30;
    // street for 5 work days → Tue 22 Oct 17:30.
    CHECK(at("2019-10-15 16:00").tier == "community");
    CHECK(at("2019-10-15 16:31").tier == "street");
    CHECK(bj_str(at("2019-10-15 16:31").since) == "2019-10-15 16:30");
    CHECK(at("2019-10-22 17:31").tier == "district");
    CHECK(at("2020-06-01 09:00").tier == "district");
}

TEST_CASE("the share of cases solved at each tier", "[unit]") {
    auto shares = tier_shares(config().escalation, {{"grid", 900}, {"community", 60}, {"street", 30}, {"district", 10}});
    REQUIRE(shares.size() == 4);
    CHECK(shares[0].tier == "grid");
    CHECK(shares[0].share == Approx(0.9));
    CHECK(shares[1].cumulative_share == Approx(0.96));
    CHECK(shares[3].cumulative_share == Approx(1.0));
    auto empty = tier_shares(config().escalation, {});
    CHECK(empty[0].share == 0);
}
