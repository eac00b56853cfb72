// The case pipeline: validate → version check (§2.4) → locate → correlate (a record the hub has
// not seen joins an open case or opens one) → compose the case from its records (§3.2) → event.
//
// Runs inside the store transaction of a group commit, so records, cases, events, dead letters,
// the correlation index and cursors land together or not at all. A record is correlated once,
// on its first version; later versions update the case it is in. Operators move records between
// cases with merge() and split(); both are audited events, and a split pair is never joined
// again automatically.
#pragma once

#include "common/result.hpp"
#include "correlate/correlator.hpp"
#include "pipeline/compose.hpp"
#include "pipeline/categories.hpp"
#include "pipeline/locator.hpp"
#include "pipeline/status_rules.hpp"
#include "store/store.hpp"

#include <casehub/sdk/record_check.hpp>
#include <nlohmann/json.hpp>

#include <optional>
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
             std::shared_ptr<const Locator> locator = nullptr,
             correlate::Settings correlation = correlate::default_settings());

    // The part of a record's work that needs no store: parse, validate, locate, and the
    // correlation profile. prepare() is const and touches no shared mutable state, so it may
    // run on another thread while apply() runs (the hub's Preparer does).
    struct Prepared {
        nlohmann::json rec;
        std::optional<sdk::RecordFault> fault;  // set: the record is invalid, nothing else is
        const Category* cat = nullptr;
        Locator::Located where;
        correlate::Profile profile;  // used only if the record is new to the hub
        MemberText text;             // its values serialised for compose_case
    };
    Prepared prepare(std::string_view bytes) const;

    // Applies one record emitted by `adapter` (its batch reaching `cursor`). Appends the
    // events it caused to `events`; tallies `counters`. Errors are store failures only: a bad
    // record is an Outcome (dead_lettered), never an error.
    //
    // `fault_out`, when given (a dead-letter replay), receives the reason of a record that is
    // still invalid, and no new dead letter is written for it.
    Result<Outcome> apply(Store& store, std::string_view adapter, std::string_view bytes,
                          std::string_view cursor, std::int64_t now_ms, std::vector<EventRow>& events,
                          Counters& counters, std::string* fault_out = nullptr) {
        return apply(store, adapter, bytes, prepare(bytes), cursor, now_ms, events, counters, fault_out);
    }
    // The same, with `prepared` = prepare(bytes) done beforehand.
    // `spent`, when given, receives what prepare() built for an applied record, to be destroyed
    // by the thread that allocated it (Preparer::recycle).
    Result<Outcome> apply(Store& store, std::string_view adapter, std::string_view bytes, Prepared prepared,
                          std::string_view cursor, std::int64_t now_ms, std::vector<EventRow>& events,
                          Counters& counters, std::string* fault_out = nullptr,
                          std::vector<Prepared>* spent = nullptr);

    // Operator overrides (case-model §3.2, rule 8). `by` and `note` are written on the events.
    // Input errors (unknown case, a record not in the case...) come back as errors whose
    // message names what is wrong; nothing is written then.
    struct OverrideError {
        std::string code, message, field;  // code: not_found | conflict | invalid_argument
    };
    struct Override {
        std::optional<OverrideError> refused;
        std::string case_id;  // merge: the surviving case; split: the new case
    };
    // Moves every record of `absorbed` into `into`; `absorbed` keeps its last state with
    // merged_into set.
    Result<Override> merge(Store& store, std::string_view into, std::string_view absorbed, std::string_view by,
                           std::string_view note, std::int64_t now_ms, std::vector<EventRow>& events);
    // Moves one record out of `case_id` into a new case.
    Result<Override> split(Store& store, std::string_view case_id, std::string_view system,
                           std::string_view record_id, std::string_view by, std::string_view note,
                           std::int64_t now_ms, std::vector<EventRow>& events);

    const correlate::Correlator& correlator() const { return correlator_; }

    struct Loaded;  // a case's records, parsed and located (internal)

private:
    // `skip` ("system:record_id"): a record not to read, the one about to be replaced.
    Result<void> load_members(Store& store, std::string_view case_id, Loaded& out,
                              std::string_view skip = {}) const;
    Result<EventRow> write_case(Store& store, const std::string& case_id, const std::string& created_at,
                                std::int64_t created_ms, const CaseStatus& st, const nlohmann::json& merged_from,
                                const nlohmann::json& previous, const nlohmann::json& extra_links, Loaded& members,
                                std::string type, std::string detail, std::int64_t now_ms);  // detail: JSON text as dump() writes it
    Result<Outcome> dead_letter(Store& store, std::string_view adapter, std::string_view cursor,
                                std::int64_t now_ms, std::string reason, std::string path,
                                std::string detail, std::string doc, Counters& counters,
                                std::string* fault_out);

    Categories categories_;
    std::shared_ptr<const Locator> locator_;
    std::set<std::string, std::less<>> systems_;
    correlate::Correlator correlator_;
};

// Location without the district's geography (see Pipeline's constructor).
Locator::Located simple_location(const nlohmann::json& record);

}  // namespace casehub::host
