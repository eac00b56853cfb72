#include "pipeline/preparer.hpp"

#include <pthread.h>

#include <cassert>
#include <chrono>
#include <cstdint>

namespace casehub::host {

Preparer::Preparer(const Pipeline& pipeline, bool worker) : pipeline_(pipeline) {
    if (worker)
        thread_ = std::thread([this] {
            pthread_setname_np(pthread_self(), "prepare");  // for top -H and casehub-bench
            run();
        });
}

Preparer::~Preparer() {
    {
        const std::lock_guard hold(lock_);
        stop_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

std::shared_ptr<Preparer::Batch> Preparer::submit(std::vector<std::string_view> records) {
    auto b = std::make_shared<Batch>();
    b->pipeline_ = &pipeline_;
    b->worker_ = thread_.joinable();
    b->in_ = std::move(records);
    b->out_.resize(b->in_.size());
    b->taken_.assign(b->in_.size(), false);
    if (!b->worker_ || b->in_.empty()) return b;
    {
        const std::lock_guard hold(lock_);
        queue_.push_back(b);
    }
    wake_.notify_one();
    return b;
}

void Preparer::recycle(std::vector<Pipeline::Prepared> spent) {
    if (!thread_.joinable() || spent.empty()) return;
    recycled_pending_.fetch_add(spent.size(), std::memory_order_relaxed);
    const std::lock_guard hold(lock_);
    spent_.push_back(std::move(spent));
    spent_waiting_.store(true, std::memory_order_relaxed);
}

void Preparer::Graveyard::take(std::vector<std::vector<Pipeline::Prepared>>& from, std::atomic<bool>& waiting) {
    for (auto& v : from) sets_.push_back(std::move(v));
    from.clear();
    waiting.store(false, std::memory_order_relaxed);
}

std::size_t Preparer::Graveyard::destroy(std::size_t n) {
    std::size_t done = 0;
    while (done < n && !sets_.empty()) {
        auto& front = sets_.front();
        if (next_ == front.size()) {
            sets_.pop_front();
            next_ = 0;
            continue;
        }
        { const Pipeline::Prepared gone = std::move(front[next_++]); }
        ++done;
    }
    return done;
}

void Preparer::run() {
    using namespace std::chrono_literals;
    Graveyard dead;
    auto destroy = [&](std::size_t n) {
        if (const std::size_t k = dead.destroy(n)) recycled_pending_.fetch_sub(k, std::memory_order_relaxed);
    };
    for (;;) {
        std::shared_ptr<Batch> b;
        {
            std::unique_lock hold(lock_);
            // Idle for a moment: destroy everything handed back.
            while (!wake_.wait_for(hold, 100ms, [&] { return stop_ || !queue_.empty(); })) {
                dead.take(spent_, spent_waiting_);
                hold.unlock();
                destroy(SIZE_MAX);
                hold.lock();
            }
            if (queue_.empty()) return;  // stop_, and everything submitted is done
            b = std::move(queue_.front());
            queue_.pop_front();
            dead.take(spent_, spent_waiting_);
        }
        for (std::size_t i = 0; i < b->in_.size(); ++i) {
            if (spent_waiting_.load(std::memory_order_relaxed)) {
                const std::lock_guard hold(lock_);
                dead.take(spent_, spent_waiting_);
            }
            // Two for one: the graveyard shrinks under load too.
            destroy(2);
            b->out_[i] = pipeline_.prepare(b->in_[i]);
            b->ready_.store(static_cast<int>(i + 1), std::memory_order_release);
            b->ready_.notify_one();  // a futex wake only when the applying thread waits
        }
    }
}

Pipeline::Prepared Preparer::Batch::take(std::size_t i) {
    assert(i < in_.size());
    if (!worker_ || taken_[i]) return pipeline_->prepare(in_[i]);
    const int want = static_cast<int>(i);
    for (int r = ready_.load(std::memory_order_acquire); r <= want; r = ready_.load(std::memory_order_acquire))
        ready_.wait(r, std::memory_order_acquire);
    taken_[i] = true;
    return std::move(out_[i]);
}

}  // namespace casehub::host
