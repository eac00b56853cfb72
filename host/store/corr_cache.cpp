#include "store/corr_cache.hpp"

namespace casehub::host {

void CorrCache::clear() {
    tree_.clear();
    by_id_.clear();
    cases_.clear();
    expiry_ = {};
    floor_ = latest_ = INT32_MIN;
    loaded_ = false;
}

CorrCache::CaseState& CorrCache::attach(const std::string& case_id, std::int64_t ended_at, bool merged) {
    auto [it, fresh] = cases_.try_emplace(case_id);
    if (fresh) it->second.ended_at = ended_at, it->second.merged = merged;
    ++it->second.profiles;
    return it->second;
}

void CorrCache::detach(const std::string& case_id) {
    auto it = cases_.find(case_id);
    if (it != cases_.end() && --it->second.profiles <= 0) cases_.erase(it);
}

void CorrCache::insert(std::int64_t id, const CorrRecordRow& r, std::int64_t case_ended_at, bool case_merged) {
    forget(id);  // re-indexed: the new box wins, or none
    if (!r.located) return;  // not in the index at all
    if (loaded_ && r.box.t1 < floor_) return;  // below the floor: only the store has it
    auto it = by_id_.try_emplace(id).first;
    it->second.row = r;
    it->second.state = &attach(r.case_id, case_ended_at, case_merged);
    tree_.insert(Value(box_of(r.box), id, &it->second));
    expiry_.emplace(r.box.t1, id);
    latest_ = std::max(latest_, r.box.t1);
}

void CorrCache::forget(std::int64_t id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    tree_.remove(Value(box_of(it->second.row.box), id, &it->second));
    detach(it->second.row.case_id);
    by_id_.erase(it);  // its expiry entry goes stale; evict() skips it
}

void CorrCache::case_written(std::string_view case_id, std::int64_t ended_at, bool merged) {
    auto it = cases_.find(case_id);
    if (it == cases_.end()) return;
    it->second.ended_at = ended_at;
    it->second.merged = merged;
}

void CorrCache::evict() {
    if (!loaded_ || latest_ == INT32_MIN) return;
    // The floor only rises, and only as far as keeps every profile a query from the latest
    // record's time can reach.
    const std::int32_t target = latest_ - keep_;
    if (target <= floor_) return;
    floor_ = target;
    while (!expiry_.empty() && expiry_.top().first < floor_) {
        const auto [t1, id] = expiry_.top();
        expiry_.pop();
        auto it = by_id_.find(id);
        if (it == by_id_.end() || it->second.row.box.t1 != t1) continue;  // a stale entry of a re-indexed profile
        forget(id);
    }
}

bool CorrCache::family_ok(const CorrRecordRow& r, std::string_view families) {
    if (families.empty() || r.category == "other.unclassified") return true;
    // families is ",a,b,": look for ",family,".
    for (std::size_t at = families.find(r.family); at != std::string_view::npos; at = families.find(r.family, at + 1))
        if (at > 0 && families[at - 1] == ',' && at + r.family.size() < families.size() &&
            families[at + r.family.size()] == ',')
            return true;
    return false;
}

}  // namespace casehub::host
