// Runs Pipeline::prepare (parse, validate, locate, correlation profile: everything a record
// needs that is not in the store) on a worker thread, so that the intake thread only applies.
//
// Batches are prepared in the order they are submitted. The intake thread takes each record as
// soon as it is ready, not the whole batch, so under load the two threads overlap record by
// record: while one record is applied, the next ones are being parsed.
//
// What the worker built (each record's JSON tree, about a hundred allocations) comes back to it
// once applied (recycle), and the worker destroys it, two for each record it prepares, or all
// when it is idle. Destroyed on the applying thread, the trees cost that thread, the hub's bound,
// 8 % of its time, and each block went back to the worker's heap as a cross-thread free, which
// mimalloc collects by walking a list through memory the other core wrote last: a quarter of the
// worker's time. Destroying them here costs the worker about what that walk did
// (docs/performance.md, twelfth round).
#pragma once

#include "pipeline/pipeline.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace casehub::host {

class Preparer {
public:
    // worker false: no thread; take() prepares on the caller's thread (the single-core layout,
    // and the A/B baseline). `pipeline` must outlive the Preparer.
    Preparer(const Pipeline& pipeline, bool worker);
    // Finishes the batches already submitted, then joins the worker.
    ~Preparer();
    Preparer(const Preparer&) = delete;
    Preparer& operator=(const Preparer&) = delete;

    // One batch's records. Shared by the worker and the thread that applies them.
    class Batch {
    public:
        std::size_t size() const { return in_.size(); }
        // The i-th record prepared, waiting for the worker if it has not got there yet. The
        // result is moved out; a second take of the same record (a commit retried after a
        // store error) prepares it again on the caller's thread.
        Pipeline::Prepared take(std::size_t i);

    private:
        friend class Preparer;
        const Pipeline* pipeline_ = nullptr;
        bool worker_ = false;
        std::vector<std::string_view> in_;  // the caller keeps the bytes alive until taken
        std::vector<Pipeline::Prepared> out_;
        std::vector<bool> taken_;    // the applying thread's only
        std::atomic<int> ready_{0};  // out_[0, ready_) are written; the worker's release
    };

    // `records` must stay valid until every one is taken (or the Preparer is destroyed).
    std::shared_ptr<Batch> submit(std::vector<std::string_view> records);

    // Hands back what the worker prepared, once applied, for the worker to destroy. Without a
    // worker it is destroyed here.
    void recycle(std::vector<Pipeline::Prepared> spent);
    // How many recycled records the worker has not destroyed yet.
    std::size_t recycled_pending() const { return recycled_pending_.load(std::memory_order_relaxed); }

private:
    void run();
    // The worker's own: what it took from spent_ and has not destroyed yet.
    class Graveyard {
    public:
        void take(std::vector<std::vector<Pipeline::Prepared>>& from, std::atomic<bool>& waiting);
        std::size_t destroy(std::size_t n);  // the number destroyed
    private:
        std::deque<std::vector<Pipeline::Prepared>> sets_;
        std::size_t next_ = 0;  // in sets_.front()
    };

    const Pipeline& pipeline_;
    std::mutex lock_;
    std::condition_variable wake_;
    std::deque<std::shared_ptr<Batch>> queue_;  // guarded by lock_
    std::vector<std::vector<Pipeline::Prepared>> spent_;  // guarded by lock_
    std::atomic<std::size_t> recycled_pending_{0};
    std::atomic<bool> spent_waiting_{false};  // spent_ is not empty (a hint, read without lock_)
    bool stop_ = false;                         // guarded by lock_
    std::thread thread_;  // last: started once everything above exists
};

}  // namespace casehub::host
