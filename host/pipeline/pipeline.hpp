// The case pipeline: validate → version check (§2.4) → build or update the case → event.
//
// Runs inside the store transaction of a group commit, so records, cases, events, dead letters
// and cursors land together or not at all. Until correlation lands, each source record is its
// own case; the case keeps sources[] / merged_from / merged_into so several records per case
// need no migration.
#pragma once

#include "common/result.hpp"
#include "pipeline/categories.hpp"
#include "pipeline/locator.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace casehub::host {

enum class Outcome { applied, same_version_changed, duplicate, stale, dead_lettered };
const char* to_string(Outcome o);

class Pipeline {
public:
    // `systems`: configured source systems beyond the six built-in ones.
    // `locator` may be null: then only WGS-84/CGCS2000 coordinates and a source grid code's
    // prefix locate a case (tests that do not need the district's geography).
    Pipeline(Categories categories, const std::vector<std::string>& systems,
             std::shared_ptr<const Locator> locator = nullptr);

    // Applies one record emitted by `adapter` (its batch reaching `cursor`). Appends the
    // events it caused to `events`; tallies `counters`. Errors are store failures only: a bad
    // record is an Outcome (dead_lettered), never an error.
    //
    // `fault_out`, when given (a dead-letter replay), receives the reason of a record that is
    // still invalid, and no new dead letter is written for it.
    Result<Outcome> apply(Store& store, std::string_view adapter, std::string_view bytes,
                          std::string_view cursor, std::int64_t now_ms, std::vector<EventRow>& events,
                          Counters& counters, std::string* fault_out = nullptr);

private:
    Result<Outcome> dead_letter(Store& store, std::string_view adapter, std::string_view cursor,
                                std::int64_t now_ms, std::string reason, std::string path,
                                std::string detail, std::string doc, Counters& counters,
                                std::string* fault_out);

    Categories categories_;
    std::shared_ptr<const Locator> locator_;
    std::set<std::string, std::less<>> systems_;
};

// Location without the district's geography (see Pipeline's constructor).
Locator::Located simple_location(const nlohmann::json& record);

// The casehub.case/1 document of a case made of one record (§3.1, §3.2), located at `where`.
nlohmann::json case_from_record(const nlohmann::json& record, const Locator::Located& where,
                                const Category& category,
                                std::string_view case_id, std::string_view created_at,
                                std::string_view updated_at, std::uint64_t seq,
                                const struct CaseStatus& status);

}  // namespace casehub::host
