#include "store/wal_syncer.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace casehub::host {

Result<std::unique_ptr<WalSyncer>> WalSyncer::start(std::filesystem::path wal) {
    std::unique_ptr<WalSyncer> s(new WalSyncer(std::move(wal)));
    if (s->wake_fd_ < 0) return make_error(std::string("store: cannot create the log syncer's eventfd: ") + std::strerror(errno));
    s->thread_ = std::thread([p = s.get()] {
        pthread_setname_np(pthread_self(), "walsync");  // for top -H and casehub-bench
        p->run();
    });
    return s;
}

WalSyncer::WalSyncer(std::filesystem::path wal)
    : wal_(std::move(wal)), wake_fd_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

WalSyncer::~WalSyncer() {
    {
        const std::lock_guard hold(m_);
        stop_ = true;
    }
    work_.notify_all();
    if (thread_.joinable()) thread_.join();
    if (fd_ >= 0) ::close(fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
}

std::uint64_t WalSyncer::request() {
    std::uint64_t t;
    {
        const std::lock_guard hold(m_);
        t = ++requested_;
    }
    work_.notify_one();
    return t;
}

bool WalSyncer::wait(std::uint64_t ticket) {
    std::unique_lock hold(m_);
    done_.wait(hold, [&] { return durable() >= ticket || failure_; });
    return durable() >= ticket;
}

void WalSyncer::drain() {
    std::uint64_t n = 0;
    while (::read(wake_fd_, &n, sizeof n) == sizeof n) {
    }
}

std::optional<std::string> WalSyncer::failure() const {
    const std::lock_guard hold(m_);
    return failure_;
}

void WalSyncer::run() {
    for (;;) {
        std::uint64_t target;
        {
            std::unique_lock hold(m_);
            work_.wait(hold, [&] { return stop_ || requested_ > durable(); });
            if (requested_ <= durable()) return;  // stop_, and everything requested is synced
            target = requested_;  // this sync covers every commit requested so far
        }
        std::string error;
        if (fd_ < 0) {
            fd_ = ::open(wal_.c_str(), O_RDWR | O_CLOEXEC);
            if (fd_ < 0) {
                error = "cannot open " + wal_.string() + ": " + std::strerror(errno);
            } else {
                // The log's directory entry, once: a new file's data is no use without it.
                const int dir = ::open(wal_.parent_path().empty() ? "." : wal_.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dir < 0 || ::fsync(dir) != 0)
                    error = "fsync of the directory of " + wal_.string() + " failed: " + std::strerror(errno);
                if (dir >= 0) ::close(dir);
            }
        }
        if (error.empty() && ::fdatasync(fd_) != 0)
            error = "fdatasync of " + wal_.string() + " failed: " + std::strerror(errno);
        {
            const std::lock_guard hold(m_);
            if (!error.empty())
                failure_ = error;
            else
                durable_.store(target, std::memory_order_release);
        }
        syncs_.fetch_add(1, std::memory_order_relaxed);
        done_.notify_all();
        const std::uint64_t one = 1;
        [[maybe_unused]] auto w = ::write(wake_fd_, &one, sizeof one);
        if (!error.empty()) return;  // nothing after a failed sync is known to be on disk
    }
}

}  // namespace casehub::host
