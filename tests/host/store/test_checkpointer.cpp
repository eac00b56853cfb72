// The checkpointer copies the WAL into the database off the writer's thread: the log stays
// bounded although the writer never checkpoints, and what was committed is in the database.
#include "store/checkpointer.hpp"
#include "store/store.hpp"

#include "../../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

using namespace casehub::host;
namespace fs = std::filesystem;
using casehub::test::TempDir;

namespace {

std::uintmax_t size_of(const fs::path& p) {
    std::error_code ec;
    const auto n = fs::file_size(p, ec);
    return ec ? 0 : n;
}
}  // namespace

TEST_CASE("checkpointer: the log stays bounded while the writer never checkpoints, and commits reach the database", "[runtime]") {
    TempDir dir("casehub-ckpt");
    const fs::path db = dir.path / "hub.db";
    auto store = Store::open(db, Store::Sync::full);
    REQUIRE(store);
    REQUIRE((*store)->set_autocheckpoint(0));  // only the checkpointer copies
    auto ck = Checkpointer::start(db, true, std::chrono::milliseconds(20));
    REQUIRE(ck);

    // 200 commits of about 100 KB of dead letters each: 20 MB through the log.
    const std::string blob(100 * 1024, 'x');
    std::uintmax_t wal_max = 0;
    for (int i = 0; i < 200; ++i) {
        REQUIRE((*store)->begin());
        DeadLetterRow d;
        d.adapter = "a";
        d.stage = "validation";
        d.reason = "test";
        d.doc = blob;
        REQUIRE((*store)->add_dead_letter(d));
        REQUIRE((*store)->commit());
        (*ck)->poke();
        if (i % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the log restarts between bursts
        wal_max = std::max(wal_max, size_of(fs::path(db.string() + "-wal")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto stats = (*ck)->stats();
    CHECK(stats.failures == 0);
    CHECK(stats.runs > 0);
    CHECK(stats.frames_copied >= 200 * 25);  // every page of every commit, at least once
    // Without checkpoints the log would hold all 20 MB; SQLite reuses it from the start once
    // everything in it was copied. (The file keeps its largest size, hence a bound, not zero.)
    CHECK(wal_max < 8u * 1024 * 1024);
    // The database file itself holds the rows.
    CHECK(size_of(db) > 15u * 1024 * 1024);
}

TEST_CASE("checkpointer: commits poked a millisecond apart share checkpoints, at most one per min_gap", "[runtime]") {
    TempDir dir("casehub-ckpt");
    const fs::path db = dir.path / "hub.db";
    auto store = Store::open(db, Store::Sync::normal);
    REQUIRE(store);
    REQUIRE((*store)->set_autocheckpoint(0));
    auto ck = Checkpointer::start(db, true, std::chrono::milliseconds(10000), std::chrono::milliseconds(50));
    REQUIRE(ck);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 150; ++i) {
        REQUIRE((*store)->begin());
        REQUIRE((*store)->set_cursor("a", "c" + std::to_string(i)));
        REQUIRE((*store)->commit());
        (*ck)->poke();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(120));  // the last poke's checkpoint
    const auto stats = (*ck)->stats();
    INFO(ms << " ms of commits, " << stats.runs << " checkpoints");
    CHECK(stats.failures == 0);
    CHECK(stats.runs >= 2);
    CHECK(stats.runs <= static_cast<std::uint64_t>(ms / 50 + 3));  // not one per commit (150)
    CHECK(stats.frames_copied > 0);
}
