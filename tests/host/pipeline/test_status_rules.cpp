// case-model.md §4: classification of one source's status change (§4.1) and the case status that
// follows from several sources (§4.2 rules 1–6 and 8). Rule 7 (street actions) is not in
// status_rules; a case "closed by the street" is built here as {closed, closed_by = street}.
#include "pipeline/status_rules.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using casehub::host::CaseStatus;
using casehub::host::Move;
using casehub::host::Status;
using casehub::host::apply_source_change;
using casehub::host::classify;
using casehub::host::parse_status;
using casehub::host::rank;
using casehub::host::recompute;
using casehub::host::to_string;

namespace {

const std::vector<Status> kActive = {Status::new_,        Status::registered, Status::dispatched,
                                     Status::accepted,    Status::in_progress, Status::resolved,
                                     Status::verified,    Status::closed};
const std::vector<Status> kInactive = {Status::rejected, Status::cancelled};
const std::vector<Status> kAll = {Status::new_,     Status::registered, Status::dispatched,
                                  Status::accepted, Status::in_progress, Status::resolved,
                                  Status::verified, Status::closed,      Status::rejected,
                                  Status::cancelled};

bool done(Status s) { return s == Status::resolved || s == Status::verified || s == Status::closed; }

CaseStatus make(Status s, const char* closed_by = nullptr, int reopen_count = 0) {
    CaseStatus c;
    c.status = s;
    if (closed_by) c.closed_by = closed_by;
    c.reopen_count = reopen_count;
    return c;
}

std::string show(const CaseStatus& c) {
    return std::string(to_string(c.status)) + " closed_by=" + (c.closed_by ? *c.closed_by : "null") +
           " reopen_count=" + std::to_string(c.reopen_count);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// §4.1 States

TEST_CASE("§4.1 status names parse and print as the closed lower-case list", "[unit]") {
    const std::vector<std::string> names = {"new",         "registered", "dispatched", "accepted",
                                            "in_progress", "resolved",   "verified",   "closed",
                                            "rejected",    "cancelled"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        INFO(names[i]);
        REQUIRE(parse_status(names[i]) == kAll[i]);
        CHECK(to_string(kAll[i]) == names[i]);
    }
    CHECK_FALSE(parse_status("Closed"));
    CHECK_FALSE(parse_status("done"));
    CHECK_FALSE(parse_status(""));
    CHECK_FALSE(parse_status("new "));
}

TEST_CASE("§4.1 rank: 0 new .. 7 closed — rejected and cancelled have no rank", "[unit]") {
    for (std::size_t i = 0; i < kActive.size(); ++i) CHECK(rank(kActive[i]) == static_cast<int>(i));
    CHECK(rank(Status::rejected) == -1);
    CHECK(rank(Status::cancelled) == -1);
    CHECK(casehub::host::is_active(Status::closed));
    CHECK_FALSE(casehub::host::is_active(Status::rejected));
    CHECK_FALSE(casehub::host::is_active(Status::cancelled));
}

// ---------------------------------------------------------------------------------------------
// §4.1 classification of a change of one source's status from p to x

TEST_CASE("§4.1 forward: rank up (any status may skip forward)", "[unit]") {
    CHECK(classify(Status::new_, Status::registered) == Move::forward);
    CHECK(classify(Status::new_, Status::closed) == Move::forward);           // skips every step
    CHECK(classify(Status::dispatched, Status::resolved) == Move::forward);   // skips accepted, in_progress
    CHECK(classify(Status::verified, Status::closed) == Move::forward);
    for (std::size_t i = 0; i < kActive.size(); ++i)
        for (std::size_t j = i + 1; j < kActive.size(); ++j) {
            INFO(to_string(kActive[i]) << " -> " << to_string(kActive[j]));
            CHECK(classify(kActive[i], kActive[j]) == Move::forward);
        }
}

TEST_CASE("§4.1 forward: x = p", "[unit]") {
    for (Status s : kActive) {
        INFO(to_string(s));
        CHECK(classify(s, s) == Move::forward);
    }
}

TEST_CASE("§4.1 reopen: p in {resolved, verified, closed} and rank of x lower", "[unit]") {
    // The graph's own reopen edges (核查不通过, 重办) ...
    for (Status p : {Status::resolved, Status::verified, Status::closed})
        for (Status x : {Status::dispatched, Status::in_progress}) {
            INFO(to_string(p) << " -> " << to_string(x));
            CHECK(classify(p, x) == Move::reopen);
        }
    // ... and every other lower rank, by the classification's wording.
    CHECK(classify(Status::verified, Status::resolved) == Move::reopen);
    CHECK(classify(Status::closed, Status::verified) == Move::reopen);
    CHECK(classify(Status::closed, Status::new_) == Move::reopen);
    CHECK(classify(Status::resolved, Status::accepted) == Move::reopen);
    for (Status p : kActive)
        for (Status x : kActive)
            if (done(p) && rank(x) < rank(p)) {
                INFO(to_string(p) << " -> " << to_string(x));
                CHECK(classify(p, x) == Move::reopen);
            }
}

TEST_CASE("§4.1 withdraw: x in {rejected, cancelled}", "[unit]") {
    // any of rank 0–6 → rejected | cancelled
    for (Status p : kActive)
        for (Status x : kInactive) {
            INFO(to_string(p) << " -> " << to_string(x));
            CHECK(classify(p, x) == Move::withdraw);
        }
    // Assumption (the spec lists forward as "x = p" and reactivate as "x active"): a source that
    // is already rejected or cancelled and reports rejected or cancelled again withdraws again.
    for (Status p : kInactive)
        for (Status x : kInactive) {
            INFO(to_string(p) << " -> " << to_string(x));
            CHECK(classify(p, x) == Move::withdraw);
        }
}

TEST_CASE("§4.1 reactivate: p in {rejected, cancelled}, x active (重新派单)", "[unit]") {
    CHECK(classify(Status::rejected, Status::registered) == Move::reactivate);
    CHECK(classify(Status::cancelled, Status::dispatched) == Move::reactivate);
    for (Status p : kInactive)
        for (Status x : kActive) {
            INFO(to_string(p) << " -> " << to_string(x));
            CHECK(classify(p, x) == Move::reactivate);
        }
}

TEST_CASE("§4.1 regress: any other move back, e.g. 派遣 → 立案 when a unit returns a case", "[unit]") {
    CHECK(classify(Status::dispatched, Status::registered) == Move::regress);
    CHECK(classify(Status::in_progress, Status::dispatched) == Move::regress);
    CHECK(classify(Status::accepted, Status::new_) == Move::regress);
    for (Status p : kActive)
        for (Status x : kActive)
            if (!done(p) && rank(x) < rank(p)) {
                INFO(to_string(p) << " -> " << to_string(x));
                CHECK(classify(p, x) == Move::regress);
            }
}

TEST_CASE("§4.1 every change is exactly one of the five classes", "[unit]") {
    int n[5] = {0, 0, 0, 0, 0};
    for (Status p : kAll)
        for (Status x : kAll) ++n[static_cast<int>(classify(p, x))];
    // 8 active statuses: 28 moves up + 8 with x = p = 36 forward; reopen from resolved, verified,
    // closed to a lower rank: 5 + 6 + 7 = 18; 10 × 2 = 20 withdraw; 2 × 8 = 16 reactivate; the
    // rest, from ranks 1–4 to a lower rank: 1 + 2 + 3 + 4 = 10 regress. 100 in all.
    CHECK(n[static_cast<int>(Move::forward)] == 36);
    CHECK(n[static_cast<int>(Move::reopen)] == 18);
    CHECK(n[static_cast<int>(Move::withdraw)] == 20);
    CHECK(n[static_cast<int>(Move::reactivate)] == 16);
    CHECK(n[static_cast<int>(Move::regress)] == 10);
    CHECK(std::string(to_string(Move::forward)) == "forward");
    CHECK(std::string(to_string(Move::reopen)) == "reopen");
    CHECK(std::string(to_string(Move::withdraw)) == "withdraw");
    CHECK(std::string(to_string(Move::reactivate)) == "reactivate");
    CHECK(std::string(to_string(Move::regress)) == "regress");
}

// ---------------------------------------------------------------------------------------------
// §4.2 rule 1 — forward to x ≠ closed

TEST_CASE("rule 1: forward to x ≠ closed: case status = the more advanced of the current case status and x",
          "[unit]") {
    // Sources A (dispatched) and B; B moves registered → in_progress.
    auto c = apply_source_change(make(Status::dispatched), Status::registered, Status::in_progress,
                                 {Status::dispatched, Status::in_progress});
    CHECK(c.status == Status::in_progress);
    CHECK_FALSE(c.closed_by);
    CHECK(c.reopen_count == 0);
}

TEST_CASE("rule 1: the most advanced wins: a source behind the case does not pull it back", "[unit]") {
    // A is resolved (case resolved); B moves new → accepted.
    auto c = apply_source_change(make(Status::resolved), Status::new_, Status::accepted,
                                 {Status::resolved, Status::accepted});
    CHECK(c.status == Status::resolved);
    // x = p is forward too and changes nothing.
    c = apply_source_change(make(Status::in_progress), Status::dispatched, Status::dispatched,
                            {Status::in_progress, Status::dispatched});
    CHECK(c.status == Status::in_progress);
}

TEST_CASE("rule 1: a record the case has not seen is a forward move", "[unit]") {
    auto c = apply_source_change(make(Status::registered), std::nullopt, Status::dispatched,
                                 {Status::registered, Status::dispatched});
    CHECK(c.status == Status::dispatched);
    c = apply_source_change(make(Status::in_progress), std::nullopt, Status::new_,
                            {Status::in_progress, Status::new_});
    CHECK(c.status == Status::in_progress);
}

TEST_CASE("rule 1: a case closed by the street stays closed on a forward", "[unit]") {
    for (Status x : {Status::new_, Status::dispatched, Status::in_progress, Status::resolved, Status::verified}) {
        INFO(to_string(x));
        auto c = apply_source_change(make(Status::closed, "street", 2), Status::new_, x, {x, Status::dispatched});
        CHECK(c.status == Status::closed);
        REQUIRE(c.closed_by);
        CHECK(*c.closed_by == "street");
        CHECK(c.reopen_count == 2);
    }
}

// ---------------------------------------------------------------------------------------------
// §4.2 rule 2 — forward to closed

TEST_CASE("rule 2: forward to closed: the case closes (closed_by = sources) only when every active source is closed",
          "[unit]") {
    // A already closed, B verified → closed: every source closed.
    auto c = apply_source_change(make(Status::verified), Status::verified, Status::closed,
                                 {Status::closed, Status::closed});
    CHECK(c.status == Status::closed);
    REQUIRE(c.closed_by);
    CHECK(*c.closed_by == "sources");
}

TEST_CASE("rule 2: otherwise the case status is unchanged", "[unit]") {
    // A resolved → closed while B is still in_progress.
    auto c = apply_source_change(make(Status::resolved), Status::resolved, Status::closed,
                                 {Status::closed, Status::in_progress});
    CHECK(c.status == Status::resolved);
    CHECK_FALSE(c.closed_by);
    // Three sources, two closed, one verified.
    c = apply_source_change(make(Status::verified), Status::verified, Status::closed,
                            {Status::closed, Status::closed, Status::verified});
    CHECK(c.status == Status::verified);
    CHECK_FALSE(c.closed_by);
}

TEST_CASE("rule 2: sources that are not active do not hold the close back", "[unit]") {
    auto c = apply_source_change(make(Status::resolved), Status::resolved, Status::closed,
                                 {Status::closed, Status::cancelled, Status::rejected});
    CHECK(c.status == Status::closed);
    REQUIRE(c.closed_by);
    CHECK(*c.closed_by == "sources");
}

// ---------------------------------------------------------------------------------------------
// §4.2 rule 3 — reopen

TEST_CASE("rule 3: reopen by any source: case status = x, reopen_count + 1", "[unit]") {
    auto c = apply_source_change(make(Status::closed, "sources", 0), Status::closed, Status::in_progress,
                                 {Status::in_progress, Status::closed});
    CHECK(c.status == Status::in_progress);
    CHECK(c.reopen_count == 1);
    CHECK_FALSE(c.closed_by);
    // A second reopen counts again (核查不通过 twice).
    c = apply_source_change(make(Status::verified, nullptr, 1), Status::resolved, Status::dispatched,
                            {Status::dispatched, Status::verified});
    CHECK(c.status == Status::dispatched);  // x, even below the other source
    CHECK(c.reopen_count == 2);
}

TEST_CASE("rule 3: reopen increments reopen_count also when the case was closed by the street", "[unit]") {
    auto c = apply_source_change(make(Status::closed, "street", 0), Status::resolved, Status::dispatched,
                                 {Status::dispatched, Status::new_});
    CHECK(c.status == Status::dispatched);
    CHECK(c.reopen_count == 1);
    CHECK_FALSE(c.closed_by);
}

TEST_CASE("rule 3: other sources' later forward moves apply by rule 1 again", "[unit]") {
    // A and B both resolved; A reopens to dispatched, then B goes resolved → verified.
    auto c = apply_source_change(make(Status::resolved), Status::resolved, Status::dispatched,
                                 {Status::dispatched, Status::resolved});
    REQUIRE(c.status == Status::dispatched);
    REQUIRE(c.reopen_count == 1);
    c = apply_source_change(c, Status::resolved, Status::verified, {Status::dispatched, Status::verified});
    CHECK(c.status == Status::verified);
    CHECK(c.reopen_count == 1);
    // And a later close of B alone does not close the case (rule 2).
    c = apply_source_change(c, Status::verified, Status::closed, {Status::dispatched, Status::closed});
    CHECK(c.status == Status::verified);
    CHECK_FALSE(c.closed_by);
}

// ---------------------------------------------------------------------------------------------
// §4.2 rule 4 — withdraw

TEST_CASE("rule 4: withdraw: if no active source remains, the case becomes rejected when every source is rejected",
          "[unit]") {
    auto c = apply_source_change(make(Status::dispatched), Status::dispatched, Status::rejected,
                                 {Status::rejected, Status::rejected});
    CHECK(c.status == Status::rejected);
    CHECK_FALSE(c.closed_by);
    c = apply_source_change(make(Status::new_), Status::new_, Status::rejected, {Status::rejected});
    CHECK(c.status == Status::rejected);
}

TEST_CASE("rule 4: withdraw: if no active source remains and not every source is rejected, the case is cancelled",
          "[unit]") {
    auto c = apply_source_change(make(Status::in_progress), Status::in_progress, Status::rejected,
                                 {Status::rejected, Status::cancelled});
    CHECK(c.status == Status::cancelled);
    c = apply_source_change(make(Status::in_progress), Status::in_progress, Status::cancelled,
                            {Status::cancelled, Status::rejected});
    CHECK(c.status == Status::cancelled);
    c = apply_source_change(make(Status::registered), Status::registered, Status::cancelled, {Status::cancelled});
    CHECK(c.status == Status::cancelled);
}

TEST_CASE("rule 4: withdraw: if the remaining active sources are all closed, the case closes", "[unit]") {
    auto c = apply_source_change(make(Status::in_progress), Status::in_progress, Status::cancelled,
                                 {Status::cancelled, Status::closed, Status::closed});
    CHECK(c.status == Status::closed);
    REQUIRE(c.closed_by);
    CHECK(*c.closed_by == "sources");
}

TEST_CASE("rule 4: withdraw: otherwise the case status is unchanged", "[unit]") {
    auto c = apply_source_change(make(Status::in_progress, nullptr, 1), Status::in_progress, Status::cancelled,
                                 {Status::cancelled, Status::dispatched});
    CHECK(c.status == Status::in_progress);
    CHECK(c.reopen_count == 1);
    c = apply_source_change(make(Status::resolved), Status::resolved, Status::rejected,
                            {Status::rejected, Status::closed, Status::registered});
    CHECK(c.status == Status::resolved);
    CHECK_FALSE(c.closed_by);
}

// ---------------------------------------------------------------------------------------------
// §4.2 rule 5 — reactivate

TEST_CASE("rule 5: reactivate: a cancelled case takes x", "[unit]") {
    auto c = apply_source_change(make(Status::cancelled, nullptr, 1), Status::cancelled, Status::registered,
                                 {Status::registered, Status::cancelled});
    CHECK(c.status == Status::registered);
    CHECK(c.reopen_count == 1);  // a reactivation is not a reopening
    c = apply_source_change(make(Status::cancelled), Status::rejected, Status::dispatched,
                            {Status::dispatched, Status::rejected});
    CHECK(c.status == Status::dispatched);
}

TEST_CASE("rule 5: reactivate: a rejected case takes x", "[unit]") {
    auto c = apply_source_change(make(Status::rejected), Status::rejected, Status::dispatched,
                                 {Status::dispatched, Status::rejected});
    CHECK(c.status == Status::dispatched);
    CHECK_FALSE(c.closed_by);
}

TEST_CASE("rule 5: reactivate: a rejected or cancelled case that takes closed is closed by its sources", "[unit]") {
    // gridapp: 已关闭 误报作废 (cancelled), then 已关闭 办结归档 (closed). §3.1: closed_by is
    // `sources` when all active sources are closed, null only while open.
    auto c = apply_source_change(make(Status::cancelled), Status::cancelled, Status::closed, {Status::closed});
    CHECK(c.status == Status::closed);
    REQUIRE(c.closed_by);
    CHECK(*c.closed_by == "sources");
}

TEST_CASE("rule 5: reactivate: otherwise rule 1", "[unit]") {
    // The case is in_progress by B; A comes back from rejected at dispatched: the most advanced wins.
    auto c = apply_source_change(make(Status::in_progress), Status::rejected, Status::dispatched,
                                 {Status::dispatched, Status::in_progress});
    CHECK(c.status == Status::in_progress);
    c = apply_source_change(make(Status::in_progress), Status::cancelled, Status::verified,
                            {Status::verified, Status::in_progress});
    CHECK(c.status == Status::verified);
    // A case closed by the street stays closed.
    c = apply_source_change(make(Status::closed, "street"), Status::cancelled, Status::dispatched,
                            {Status::dispatched, Status::closed});
    CHECK(c.status == Status::closed);
    REQUIRE(c.closed_by);
    CHECK(*c.closed_by == "street");
}

TEST_CASE("rule 5: reactivate to closed on an open case closes it only when every active source is closed (rule 2)",
          "[unit]") {
    // Assumption: "otherwise rule 1" covers x = closed through rule 2, its counterpart for closed.
    auto c = apply_source_change(make(Status::dispatched), Status::rejected, Status::closed,
                                 {Status::closed, Status::dispatched});
    INFO(show(c));
    CHECK(c.status == Status::dispatched);
    CHECK_FALSE(c.closed_by);
    c = apply_source_change(make(Status::resolved), Status::rejected, Status::closed,
                            {Status::closed, Status::closed});
    INFO(show(c));
    CHECK(c.status == Status::closed);
    REQUIRE(c.closed_by);
    CHECK(*c.closed_by == "sources");
}

// ---------------------------------------------------------------------------------------------
// §4.2 rule 6 — regress

TEST_CASE("rule 6: regress: the source's status is recorded — the case status is unchanged", "[unit]") {
    // 派遣 → 立案 when a unit returns a case, as the only source ...
    auto c = apply_source_change(make(Status::dispatched), Status::dispatched, Status::registered,
                                 {Status::registered});
    CHECK(c.status == Status::dispatched);
    CHECK(c.reopen_count == 0);
    // ... and next to another source.
    c = apply_source_change(make(Status::in_progress, nullptr, 2), Status::in_progress, Status::new_,
                            {Status::new_, Status::accepted});
    CHECK(c.status == Status::in_progress);
    CHECK(c.reopen_count == 2);
    CHECK_FALSE(c.closed_by);
}

// ---------------------------------------------------------------------------------------------
// §4.2 rule 8 — merge and split recompute from scratch

TEST_CASE("rule 8: recompute: no active source → rejected when every source is rejected, else cancelled", "[unit]") {
    auto c = recompute({Status::rejected, Status::rejected}, 0);
    CHECK(c.status == Status::rejected);
    CHECK_FALSE(c.closed_by);
    c = recompute({Status::rejected, Status::cancelled}, 0);
    CHECK(c.status == Status::cancelled);
    c = recompute({Status::cancelled}, 0);
    CHECK(c.status == Status::cancelled);
}

TEST_CASE("rule 8: recompute: all active sources closed → closed", "[unit]") {
    auto c = recompute({Status::closed, Status::cancelled, Status::closed}, 1);
    CHECK(c.status == Status::closed);
    REQUIRE(c.closed_by);
    CHECK(*c.closed_by == "sources");
    CHECK(c.reopen_count == 1);
}

TEST_CASE("rule 8: recompute: otherwise the most advanced status among active sources that are not closed",
          "[unit]") {
    auto c = recompute({Status::closed, Status::dispatched, Status::in_progress, Status::cancelled}, 0);
    CHECK(c.status == Status::in_progress);  // not closed: closed sources are left out
    CHECK_FALSE(c.closed_by);
    c = recompute({Status::new_, Status::rejected}, 0);
    CHECK(c.status == Status::new_);
    c = recompute({Status::verified, Status::registered}, 0);
    CHECK(c.status == Status::verified);
}

TEST_CASE("rule 8: recompute keeps reopen_count and starts from scratch (a street close is not kept)", "[unit]") {
    auto c = recompute({Status::dispatched, Status::resolved}, 3);
    CHECK(c.status == Status::resolved);
    CHECK(c.reopen_count == 3);
    CHECK_FALSE(c.closed_by);
}

TEST_CASE("rule 8: recompute of a case's first record gives that record's status", "[unit]") {
    for (Status s : kAll) {
        INFO(to_string(s));
        auto c = recompute({s}, 0);
        CHECK(c.status == s);
        CHECK(c.closed_by.has_value() == (s == Status::closed));
    }
}
