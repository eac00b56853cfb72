// How the records of one case combine into its casehub.case/1 document (case-model §3.2).
// Pure: no store, no clock. The pipeline calls it after every change to a case's records.
#pragma once

#include "pipeline/categories.hpp"
#include "pipeline/locator.hpp"
#include "pipeline/status_rules.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace casehub::host {

// A record's values as compose_case writes them into a case document, serialised ahead (by
// the prepare worker, so that the intake thread, the hub's bound, only copies them). Not ready:
// compose_case serialises the values itself.
struct MemberText {
    enum Part { category, description, reporter, parties, location, source, kParts };
    std::string text;                 // the parts, one after the other (parties "" unless an array)
    std::uint32_t end[kParts] = {};   // where each part ends in text
    bool ready = false;
    std::string_view part(Part p) const {
        const std::uint32_t begin = p == 0 ? 0 : end[p - 1];
        return std::string_view(text).substr(begin, end[p] - begin);
    }
};
MemberText member_text(const nlohmann::json& record, const Locator::Located& where);

struct CaseMember {
    const nlohmann::json* record;      // a valid casehub.record/1 (its latest version)
    const Locator::Located* where;     // that record located
    const Category* category;
    const MemberText* text = nullptr;  // member_text(*record, *where), when at hand
};

struct ComposeInput {
    std::string case_id, created_at, updated_at;  // hub times, RFC 3339
    std::uint64_t seq = 0;
    CaseStatus status;
    // Borrowed for the call, not copied (a previous document is a tree of a hundred nodes);
    // null pointers mean an empty array, no document, no links.
    const nlohmann::json* merged_from = nullptr;  // array of case ids
    // The case's previous document (null for a new case): what the hub itself added — units
    // dispatched by the command centre, `related` links, the moments it stamped — is kept.
    const nlohmann::json* previous = nullptr;
    const nlohmann::json* extra_links = nullptr;  // hub-added links (e.g. `related`)
};

// The primary record (§3.2: system precedence, skipping other.unclassified, then the earliest
// report, then the smaller record id). `members` is not empty.
std::size_t primary_member(const std::vector<CaseMember>& members);

// The case's document and what its row needs from it.
struct ComposedCase {
    std::string doc;  // casehub.case/1, exactly as nlohmann's dump() writes it (keys sorted)
    std::string street_code, community_code, grid_code;  // its location's ("" when null)
    std::string priority;
    // When the case ended (unix ms, source time), 0 while active: closed → times.closed_at;
    // rejected / cancelled → the latest source update (the change that withdrew the last source).
    std::int64_t ended_at = 0;
};

ComposedCase compose_case(const std::vector<CaseMember>& members, const ComposeInput& st);

}  // namespace casehub::host
