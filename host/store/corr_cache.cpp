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
    it->second.family = family_id(r);
    tree_.insert(Value(box_of(r.box), id, &it->second, it->second.family));
    expiry_.emplace(r.box.t1, id);
    latest_ = std::max(latest_, r.box.t1);
}

void CorrCache::forget(std::int64_t id) {
    auto it = by_id_.find(id);
    if (it == by_id_.end()) return;
    tree_.remove(Value(box_of(it->second.row.box), id, &it->second, it->second.family));
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

CorrCache::FamilyId CorrCache::family_id(const CorrRecordRow& r) {
    if (r.category == "other.unclassified") return kAnyFamily;
    auto it = families_.find(std::string_view(r.family));
    if (it == families_.end()) it = families_.emplace(r.family, static_cast<FamilyId>(families_.size() + 1)).first;
    return it->second;
}

bool CorrCache::wanted_families(std::string_view families, std::vector<FamilyId>& out) const {
    out.clear();
    if (families.empty()) return false;
    // ",a,b,": the names between commas.
    for (std::size_t at = 0; at < families.size();) {
        const std::size_t end = std::min(families.find(',', at), families.size());
        if (end > at || (at > 0 && end < families.size())) {
            // A name, or the empty name between two commas (",,"), as a substring search would find it.
            auto it = families_.find(families.substr(at, end - at));
            if (it != families_.end()) out.push_back(it->second);
        }
        at = end + 1;
    }
    return true;
}

}  // namespace casehub::host
