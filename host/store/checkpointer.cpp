#include "store/checkpointer.hpp"

#include <pthread.h>

namespace casehub::host {

Result<std::unique_ptr<Checkpointer>> Checkpointer::start(const std::filesystem::path& db, bool full_sync,
                                                          std::chrono::milliseconds period,
                                                          std::chrono::milliseconds min_gap) {
    std::unique_ptr<Checkpointer> c(new Checkpointer());
    c->period_ = period;
    c->min_gap_ = min_gap;
    if (sqlite3_open_v2(db.c_str(), &c->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
        std::string m = db.string() + ": cannot open for checkpoints: " + (c->db_ ? sqlite3_errmsg(c->db_) : "out of memory");
        sqlite3_close(c->db_);
        c->db_ = nullptr;
        return make_error(m);
    }
    sqlite3_busy_timeout(c->db_, 100);
    // The checkpoint's fsyncs follow this connection's setting; it writes nothing else.
    const char* sync = full_sync ? "PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=0;"
                                 : "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;";
    if (sqlite3_exec(c->db_, sync, nullptr, nullptr, nullptr) != SQLITE_OK) {
        std::string m = db.string() + ": " + sqlite3_errmsg(c->db_);
        sqlite3_close(c->db_);
        c->db_ = nullptr;
        return make_error(m);
    }
    c->thread_ = std::thread([p = c.get()] {
        pthread_setname_np(pthread_self(), "checkpoint");  // for top -H and casehub-bench
        p->run();
    });
    return c;
}

Checkpointer::~Checkpointer() {
    {
        std::lock_guard<std::mutex> lk(m_);
        stop_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
    if (db_) sqlite3_close(db_);
}

void Checkpointer::poke() {
    {
        std::lock_guard<std::mutex> lk(m_);
        poked_ = true;
    }
    cv_.notify_one();
}

Checkpointer::Stats Checkpointer::stats() const {
    std::lock_guard<std::mutex> lk(m_);
    return stats_;
}

void Checkpointer::checkpoint_once() {
    int log = 0, copied = 0;
    const int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    // `copied` counts from the log's last start, not this run's copies. A log shorter than at the
    // last run, or less copied, started over since; one that started over and outgrew it between
    // two runs is not seen, and its frames before the last run's count are missed (a status
    // figure, not a check).
    const bool restarted = log < log_frames_ || copied < backfilled_;
    const int copied_now = restarted ? copied : copied - backfilled_;
    if (rc == SQLITE_OK) {
        backfilled_ = copied;
        log_frames_ = log;
    }
    std::lock_guard<std::mutex> lk(m_);
    ++stats_.runs;
    // BUSY: another connection is checkpointing (the safety valve); not a failure.
    if (rc == SQLITE_OK || rc == SQLITE_BUSY) {
        if (rc == SQLITE_OK && copied_now > 0) stats_.frames_copied += static_cast<std::uint64_t>(copied_now);
        return;
    }
    ++stats_.failures;
    stats_.last_error = sqlite3_errmsg(db_);
}

void Checkpointer::run() {
    std::unique_lock<std::mutex> lk(m_);
    auto last = std::chrono::steady_clock::now() - min_gap_;
    while (!stop_) {
        cv_.wait_for(lk, period_, [this] { return stop_ || poked_; });
        if (poked_) cv_.wait_until(lk, last + min_gap_, [this] { return stop_; });
        if (stop_) break;
        poked_ = false;
        lk.unlock();
        checkpoint_once();
        last = std::chrono::steady_clock::now();
        lk.lock();
    }
    lk.unlock();
    checkpoint_once();  // what the last commits left
}

}  // namespace casehub::host
