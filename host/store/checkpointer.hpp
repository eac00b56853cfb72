// Copies the write-ahead log into the database on a thread and connection of its own.
//
// SQLite's automatic checkpoint runs inside the commit that crosses its threshold (1,000 pages,
// a few hundred records here): page copies and, with synchronous = FULL, an fsync of the
// database file, on the hub's only intake thread. Here a PASSIVE checkpoint runs after each
// commit (poke, at most one per `min_gap`) and every `period` on the other core instead; it never blocks the writer, and
// once it has copied everything the next write transaction starts the log over. The main
// connection keeps a high autocheckpoint as a safety valve in case this thread falls behind.
#pragma once

#include "common/result.hpp"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace casehub::host {

class Checkpointer {
public:
    struct Stats {
        std::uint64_t runs = 0, frames_copied = 0, failures = 0;
        std::string last_error;  // of the last failed run; "" when none failed
    };

    // `full_sync`: the database is fsynced after each copy (the hub's synchronous = full).
    // `min_gap`: pokes closer together than this wait, so that commits of a few records each
    // (below capacity, one every millisecond or so) do not each cost a checkpoint and an fsync.
    static Result<std::unique_ptr<Checkpointer>> start(const std::filesystem::path& db, bool full_sync,
                                                       std::chrono::milliseconds period,
                                                       std::chrono::milliseconds min_gap = std::chrono::milliseconds(0));
    ~Checkpointer();  // a last checkpoint, then the thread stops
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;

    // A commit happened: checkpoint soon, without waiting for the period.
    void poke();
    Stats stats() const;

private:
    Checkpointer() = default;
    void run();
    void checkpoint_once();

    sqlite3* db_ = nullptr;  // used by the thread only, after start()
    std::chrono::milliseconds period_{}, min_gap_{};
    mutable std::mutex m_;
    std::condition_variable cv_;
    bool poked_ = false, stop_ = false;
    int backfilled_ = 0, log_frames_ = 0;  // the last run's figures (frames copied, frames in the log); the thread's only
    Stats stats_;
    std::thread thread_;
};

}  // namespace casehub::host
