// Makes commits durable off the intake thread.
//
// With synchronous = FULL, SQLite fsyncs the write-ahead log inside every commit, and the
// intake thread waits for the disk (tens of ms for a 1,000-record commit here) instead of
// applying the next records. With a WalSyncer the hub's connection runs at synchronous =
// NORMAL (a commit writes the log, no fsync) and this thread fdatasyncs the log after each
// commit. Everything that says "durable" (acks to runners, events on the feed, replies to
// operators) waits for durable() to pass that commit's ticket; the intake does not. One
// fdatasync covers every commit requested before it started, so syncs coalesce under load.
//
// What this keeps: no runner is acked and no consumer sees an event before it is on disk. What
// it changes: between a commit and its sync (a few ms), the store's other readers (HTTP API,
// feed replay) can read rows that a power cut would take back, together with the cursor that
// got them, so the sources resend them after a restart. A process crash loses nothing: the
// log is in the kernel's page cache.
#pragma once

#include "common/result.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace casehub::host {

class WalSyncer {
public:
    // `wal`: the database's "-wal" file, opened on the first sync (SQLite creates it with the
    // first write). Fails only if the poll descriptor cannot be made.
    static Result<std::unique_ptr<WalSyncer>> start(std::filesystem::path wal);
    ~WalSyncer();  // a last sync of what was requested, then the thread stops
    WalSyncer(const WalSyncer&) = delete;
    WalSyncer& operator=(const WalSyncer&) = delete;

    // Call after a commit: that commit's ticket (1, 2, ...).
    std::uint64_t request();
    // Every ticket up to this one is on disk.
    std::uint64_t durable() const { return durable_.load(std::memory_order_acquire); }
    // Blocks until durable() >= ticket, or until a sync failed. False: it failed.
    bool wait(std::uint64_t ticket);
    // Readable (an eventfd) whenever durable() has moved since the last drain(): for poll.
    int wake_fd() const { return wake_fd_; }
    void drain();
    // Set once an fdatasync failed: nothing committed after the last good sync is known to be
    // on disk, and nothing later will be synced. The hub stops.
    std::optional<std::string> failure() const;
    std::uint64_t syncs() const { return syncs_.load(std::memory_order_relaxed); }

private:
    explicit WalSyncer(std::filesystem::path wal);
    void run();

    std::filesystem::path wal_;
    int fd_ = -1;       // the thread's only
    int wake_fd_ = -1;  // eventfd
    mutable std::mutex m_;
    std::condition_variable work_, done_;
    std::uint64_t requested_ = 0;  // guarded by m_
    bool stop_ = false;            // guarded by m_
    std::optional<std::string> failure_;  // guarded by m_
    std::atomic<std::uint64_t> durable_{0}, syncs_{0};
    std::thread thread_;
};

}  // namespace casehub::host
