// The checkpointer copies the WAL into the database off the writer's thread: the log stays
// bounded although the writer never checkpoints, and what was committed is in the database.
// Also the store's page size and its own checkpoint threshold, which bound the same log.
#include "store/checkpointer.hpp"
#include "store/store.hpp"

#include "../../support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
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

// Read from the file by a connection of its own, not through Store.
std::uint64_t page_size_of(const fs::path& db) {
    sqlite3* c = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(c, "PRAGMA page_size", -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const auto n = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(c);
    return n;
}

DeadLetterRow dead_letter(const std::string& doc) {
    DeadLetterRow d;
    // Assigned as std::strings: g++ 12 warns falsely (-Wrestrict) on `d.adapter = "a"` here.
    d.adapter = std::string("a");
    d.stage = std::string("validation");
    d.reason = std::string("test");
    d.doc = doc;
    return d;
}

// A store whose own connection never checkpoints, and a checkpointer on it: only the
// checkpointer copies the log.
struct Checkpointed {
    TempDir dir{"casehub-ckpt"};
    fs::path db = dir.path / "hub.db";
    std::unique_ptr<Store> store;
    std::unique_ptr<Checkpointer> ck;

    Checkpointed(Store::Sync sync, std::chrono::milliseconds period,
                 std::chrono::milliseconds min_gap = std::chrono::milliseconds(0)) {
        auto s = Store::open(db, sync);
        REQUIRE(s);
        store = std::move(*s);
        REQUIRE(store->set_autocheckpoint_bytes(0));
        auto c = Checkpointer::start(db, true, period, min_gap);
        REQUIRE(c);
        ck = std::move(*c);
    }
};
}  // namespace

TEST_CASE("store: a new store has 16 KiB pages, an old one keeps its own, and the autocheckpoint counts bytes", "[runtime]") {
    TempDir dir("casehub-pages");
    const fs::path fresh = dir.path / "new.db", old = dir.path / "old.db";
    {  // a store made with SQLite's default page size, as casehub made them before
        sqlite3* c = nullptr;
        REQUIRE(sqlite3_open(old.c_str(), &c) == SQLITE_OK);
        REQUIRE(sqlite3_exec(c, "PRAGMA page_size=4096; PRAGMA journal_mode=WAL; CREATE TABLE t(x);", nullptr, nullptr,
                             nullptr) == SQLITE_OK);
        sqlite3_close(c);
    }
    const std::string blob(100 * 1024, 'x');
    for (const auto& [db, page] : {std::pair{fresh, 16384u}, std::pair{old, 4096u}}) {
        INFO(db.filename());
        // Made (or converted), closed, opened again: the log starts empty, without the pages
        // that creating the schema wrote (a 16 KiB page for each of its tables and indexes).
        REQUIRE(Store::open(db, Store::Sync::normal));
        auto store = Store::open(db, Store::Sync::normal);
        REQUIRE(store);
        REQUIRE(size_of(fs::path(db.string() + "-wal")) == 0);
        CHECK(page_size_of(db) == page);
        // 256 KiB of log, whatever the page size: the log restarts after every few 100 KB commits.
        REQUIRE((*store)->set_autocheckpoint_bytes(256 << 10));
        std::uintmax_t wal_max = 0;
        for (int i = 0; i < 20; ++i) {
            REQUIRE((*store)->begin());
            REQUIRE((*store)->add_dead_letter(dead_letter(blob)));
            REQUIRE((*store)->commit());
            wal_max = std::max(wal_max, size_of(fs::path(db.string() + "-wal")));
        }
        CHECK(wal_max < 640u * 1024);
        // Off: the log holds every commit.
        REQUIRE((*store)->set_autocheckpoint_bytes(0));
        for (int i = 0; i < 20; ++i) {
            REQUIRE((*store)->begin());
            REQUIRE((*store)->add_dead_letter(dead_letter(blob)));
            REQUIRE((*store)->commit());
        }
        CHECK(size_of(fs::path(db.string() + "-wal")) > 2000u * 1024);
    }
}

TEST_CASE("checkpointer: the log stays bounded while the writer never checkpoints, and commits reach the database", "[runtime]") {
    Checkpointed c(Store::Sync::full, std::chrono::milliseconds(20));
    auto& store = c.store;
    auto& ck = c.ck;
    const fs::path& db = c.db;

    // 200 commits of about 100 KB of dead letters each: 20 MB through the log.
    const std::string blob(100 * 1024, 'x');
    std::uintmax_t wal_max = 0;
    for (int i = 0; i < 200; ++i) {
        REQUIRE(store->begin());
        REQUIRE(store->add_dead_letter(dead_letter(blob)));
        REQUIRE(store->commit());
        ck->poke();
        if (i % 10 == 9) std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the log restarts between bursts
        wal_max = std::max(wal_max, size_of(fs::path(db.string() + "-wal")));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const auto stats = ck->stats();
    CHECK(stats.failures == 0);
    CHECK(stats.runs > 0);
    CHECK(stats.frames_copied * page_size_of(db) >= 200u * blob.size());  // every page of every commit, at least once
    // Without checkpoints the log would hold all 20 MB; SQLite reuses it from the start once
    // everything in it was copied. (The file keeps its largest size, hence a bound, not zero.)
    CHECK(wal_max < 8u * 1024 * 1024);
    // The database file itself holds the rows.
    CHECK(size_of(db) > 15u * 1024 * 1024);
}

TEST_CASE("checkpointer: commits poked a millisecond apart share checkpoints, at most one per min_gap", "[runtime]") {
    Checkpointed c(Store::Sync::normal, std::chrono::milliseconds(10000), std::chrono::milliseconds(50));
    auto& store = c.store;
    auto& ck = c.ck;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 150; ++i) {
        REQUIRE(store->begin());
        std::string cursor = "c";
        cursor += std::to_string(i);
        REQUIRE(store->set_cursor("a", cursor));
        REQUIRE(store->commit());
        ck->poke();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(120));  // the last poke's checkpoint
    const auto stats = ck->stats();
    INFO(ms << " ms of commits, " << stats.runs << " checkpoints");
    CHECK(stats.failures == 0);
    CHECK(stats.runs >= 2);
    CHECK(stats.runs <= static_cast<std::uint64_t>(ms / 50 + 3));  // not one per commit (150)
    CHECK(stats.frames_copied > 0);
}

TEST_CASE("checkpointer: frames_copied counts each frame once, across runs on one log", "[runtime]") {
    Checkpointed c(Store::Sync::normal, std::chrono::milliseconds(10000));
    auto& store = c.store;
    auto& ck = c.ck;
    const fs::path& db = c.db;
    auto runs_reach = [&](std::uint64_t n) {
        for (int i = 0; i < 200 && ck->stats().runs < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        return ck->stats().runs >= n;
    };
    auto commit_blob = [&] {
        REQUIRE(store->begin());
        REQUIRE(store->add_dead_letter(dead_letter(std::string(100 * 1024, 'x'))));
        REQUIRE(store->commit());
    };
    commit_blob();
    // A reader whose snapshot holds that commit's frames in the log: the log cannot start over
    // while it reads, so the next commit goes on after them, and is not copied while it reads.
    sqlite3* r = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &r, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_exec(r, "BEGIN; SELECT count(*) FROM dead_letters;", nullptr, nullptr, nullptr) == SQLITE_OK);
    ck->poke();
    REQUIRE(runs_reach(1));
    const auto first = ck->stats().frames_copied;
    CHECK(first * page_size_of(db) >= 100u * 1024);

    commit_blob();
    ck->poke();
    REQUIRE(runs_reach(2));
    CHECK(ck->stats().frames_copied == first);  // nothing new: SQLite still reports the first run's frames

    sqlite3_exec(r, "COMMIT", nullptr, nullptr, nullptr);
    sqlite3_close(r);
    ck->poke();
    REQUIRE(runs_reach(3));
    const auto third = ck->stats().frames_copied;
    CHECK(third > first);
    CHECK(third < 2 * first);  // the second commit's few frames, not the log's whole count again
    CHECK(ck->stats().failures == 0);
}
