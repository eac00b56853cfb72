// The recent part of the correlation index, in memory.
//
// Every new record asks the index for the profiles near it in space and within max_gap_hours in
// time. Through SQLite that is an R*Tree walk plus a join to corr_records and cases per hit: a
// tenth of the hub's instructions and most of its cache misses on a large store. Live records
// only ever ask about the last days, so the profiles of those days are kept here as well, in a
// Boost.Geometry R-tree, with the state of their cases (ended_at, merged) that the search needs.
//
// The store stays the durable copy and the authority: the cache is written through by the same
// Store calls that write the tables, rebuilt from them at start-up and after a rollback that
// touched it, and a query reaching below the cache's floor (an old record arriving late) goes to
// SQLite. Owned by Store; single-threaded like it.
#pragma once

#include "store/store.hpp"

#include <boost/geometry.hpp>
#include <boost/geometry/index/rtree.hpp>
#include <boost/iterator/function_output_iterator.hpp>

#include <algorithm>
#include <climits>

#include <cstdint>
#include <queue>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

namespace casehub::host {

class CorrCache {
public:
    // Keeps the profiles whose time box ends at most `keep_minutes` before the latest one seen.
    explicit CorrCache(std::int32_t keep_minutes) : keep_(keep_minutes) {}

    // Empties the cache; the floor is set by the first insert (everything before it is the store's).
    void clear();
    // Where the cache starts: it holds every indexed profile whose t1 >= floor().
    std::int32_t floor() const { return floor_; }
    // Can a query with this box be answered from memory alone?
    bool covers(const CorrBox& q) const { return loaded_ && q.t0 >= floor_; }
    bool loaded() const { return loaded_; }
    // Called once the store's recent profiles were inserted: from now on queries may use it.
    void set_loaded(std::int32_t floor) {
        loaded_ = true;
        floor_ = floor;
    }

    std::int32_t keep_minutes() const { return keep_; }
    // Drops the profile `id` if cached.
    void forget(std::int64_t id);
    // A profile and its row id, with its case's state as far as the store knows it. A profile
    // older than the floor is not kept (the store has it).
    void insert(std::int64_t id, const CorrRecordRow& r, std::int64_t case_ended_at, bool case_merged);
    // A case was written: keep its state if a cached profile refers to it.
    void case_written(std::string_view case_id, std::int64_t ended_at, bool merged);
    bool tracks_case(std::string_view case_id) const { return cases_.find(case_id) != cases_.end(); }
    // Drops the profiles that fell below the floor. Call between transactions.
    void evict();

    // The cached profiles meeting `q`, of unmerged cases, of the given families (as
    // Store::corr_candidates), in row id order; at most `limit`. `visit` returns false to stop.
    template <class Visit>
    int search(const CorrBox& q, std::string_view families, int limit, Visit&& visit) const;

    std::size_t size() const { return by_id_.size(); }
    std::size_t cases() const { return cases_.size(); }

private:
    using Point = boost::geometry::model::point<std::int32_t, 3, boost::geometry::cs::cartesian>;
    using Box = boost::geometry::model::box<Point>;
    struct Entry;
    // The family's number (family_id), kAnyFamily for an unclassified record: any family may
    // join it.
    using FamilyId = std::uint32_t;
    static constexpr FamilyId kAnyFamily = 0;
    // The profile's box, its row id, its entry (stable: unordered_map nodes do not move) and its
    // family, so a search filters and orders its hits without touching them (a box holds about
    // five times as many profiles of other families as of those that may join: each was a cache
    // miss or two) and reads them without a hash look-up.
    using Value = std::tuple<Box, std::int64_t, const Entry*, FamilyId>;
    struct CaseState {
        std::int64_t ended_at = 0;
        bool merged = false;
        int profiles = 0;  // cached profiles referring to it; dropped at 0
    };
    struct Entry {
        CorrRecordRow row;
        CaseState* state = nullptr;  // stable: unordered_map nodes do not move
        FamilyId family = kAnyFamily;
    };
    // Case ids looked up by string_view without building a string.
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    static Box box_of(const CorrBox& b) { return Box(Point(b.x0, b.y0, b.t0), Point(b.x1, b.y1, b.t1)); }
    CaseState& attach(const std::string& case_id, std::int64_t ended_at, bool merged);
    void detach(const std::string& case_id);
    // The record's family as a number (new families get the next one), kAnyFamily when its
    // category is other.unclassified.
    FamilyId family_id(const CorrRecordRow& r);
    // The numbers of the families in `families` (",a,b,"), as Store::corr_candidates filters:
    // false when it is empty (no filter). Families never indexed have no number: no profile of
    // theirs can be here.
    bool wanted_families(std::string_view families, std::vector<FamilyId>& out) const;

    std::int32_t keep_;
    std::int32_t floor_ = INT32_MIN, latest_ = INT32_MIN;
    bool loaded_ = false;
    boost::geometry::index::rtree<Value, boost::geometry::index::quadratic<16>> tree_;
    std::unordered_map<std::int64_t, Entry> by_id_;
    std::unordered_map<std::string, CaseState, Hash, std::equal_to<>> cases_;
    std::unordered_map<std::string, FamilyId, Hash, std::equal_to<>> families_;
    // (t1, id), soonest out first: what evict() drops.
    std::priority_queue<std::pair<std::int32_t, std::int64_t>, std::vector<std::pair<std::int32_t, std::int64_t>>,
                        std::greater<>>
        expiry_;
    mutable std::vector<std::pair<std::int64_t, const Entry*>> hits_;
    mutable std::vector<FamilyId> wanted_;
};

template <class Visit>
int CorrCache::search(const CorrBox& q, std::string_view families, int limit, Visit&& visit) const {
    hits_.clear();
    const bool filter = wanted_families(families, wanted_);
    tree_.query(boost::geometry::index::intersects(box_of(q)), boost::make_function_output_iterator([&](const Value& v) {
                    const FamilyId f = std::get<3>(v);
                    if (filter && f != kAnyFamily && std::find(wanted_.begin(), wanted_.end(), f) == wanted_.end()) return;
                    hits_.emplace_back(std::get<1>(v), std::get<2>(v));
                }));
    std::sort(hits_.begin(), hits_.end());
    int n = 0;
    for (const auto& [id, entry] : hits_) {
        if (n >= limit) break;
        const Entry& e = *entry;
        if (e.state->merged) continue;
        ++n;
        if (!visit(e.row, e.state->ended_at)) break;
    }
    return n;
}

}  // namespace casehub::host
