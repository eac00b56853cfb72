// Read-only access to the hub's store for the HTTP API.
//
// The hub thread owns the store's only write connection; HTTP handlers never touch it. They read
// through their own read-only SQLite connections (WAL lets readers run beside the writer),
// taken from a small pool: a handler leases one for the duration of one read and gives it back,
// so a connection is used by one thread at a time and a slow browser holds none while it waits.
// Each multi-statement read (one case with its sources, history and write-backs) is one read
// transaction, never held across requests.
#pragma once

#include "common/result.hpp"
#include "feed/feed.hpp"
#include "store/events.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace casehub::host::http {

// GET /cases: exact-match filters on the cases table, a time window, keyset pagination.
struct CaseQuery {
    std::optional<std::string> street, community, grid, status, category, family;
    std::optional<std::int64_t> from, to;  // unix ms: from <= t < to
    bool by_created = false;               // the window applies to created_at (else updated_at)
    bool include_merged = false;           // cases merged into another are left out by default
    // Keyset: continue after this (updated_at, case_id), in the order updated_at DESC, case_id DESC.
    std::optional<std::pair<std::int64_t, std::string>> after;
    int limit = 50;
};

struct SourceInfo {
    std::string system, record_id, adapter, version, status, status_native;
    std::int64_t received_at = 0;
    std::string doc;  // casehub.record/1
};

struct WritebackInfo {
    std::int64_t id = 0;
    std::string adapter, system, record_id, state, last_error, action;  // action: JSON text
    int attempts = 0;
    std::int64_t next_at = 0, created_at = 0, updated_at = 0;
};

struct CaseDetail {
    CaseState state;
    std::vector<SourceInfo> sources;
    std::vector<EventRow> history;  // every event of the case, in seq order (doc left empty)
    std::vector<WritebackInfo> writebacks;
};

class Reader {
public:
    static Result<std::unique_ptr<Reader>> open(const std::filesystem::path& store);
    ~Reader();
    Reader(const Reader&) = delete;
    Reader& operator=(const Reader&) = delete;

    // The seq of the last committed event (0 for an empty log).
    Result<std::uint64_t> head();
    // At most `limit + 1` cases (the extra one says there is a next page).
    Result<std::vector<CaseState>> cases(const CaseQuery& q);
    Result<std::optional<CaseDetail>> case_detail(const std::string& case_id, std::size_t max_history);
    // Events with after < seq <= upto matching `filter`, in seq order, at most `limit`.
    Result<std::vector<EventRow>> events(std::uint64_t after, std::uint64_t upto, const FeedFilter& filter,
                                         int limit);

    struct Impl;

private:
    Reader() = default;
    std::unique_ptr<Impl> impl_;
};

class ReaderPool {
public:
    // Connections are opened on demand; at most `keep` idle ones are kept.
    ReaderPool(std::filesystem::path store, std::size_t keep);
    ~ReaderPool();

    class Lease {
    public:
        Lease(ReaderPool* pool, std::unique_ptr<Reader> r) : pool_(pool), r_(std::move(r)) {}
        Lease(Lease&&) = default;
        ~Lease();
        Reader* operator->() { return r_.get(); }
        Reader& operator*() { return *r_; }
        // A connection that failed is not given back (the next lease opens a fresh one).
        void discard() { r_.reset(); }

    private:
        ReaderPool* pool_;
        std::unique_ptr<Reader> r_;
    };
    Result<Lease> lease();
    const std::filesystem::path& store() const { return store_; }

private:
    void give_back(std::unique_ptr<Reader> r);
    std::filesystem::path store_;
    std::size_t keep_;
    std::mutex mu_;
    std::vector<std::unique_ptr<Reader>> idle_;
};

}  // namespace casehub::host::http
