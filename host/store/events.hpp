// The event log as the feed sees it: one row of the `events` table.
//
// Every change to a case is one event with a global, strictly increasing sequence number
// (`seq`, SQLite's INTEGER PRIMARY KEY, never reused). The feed publishes events only after the
// transaction that wrote them committed, in seq order. `prev_street_seq` chains the events of
// one street, so a consumer that subscribes to one street can still see a gap.
//
//   CREATE TABLE events (
//     seq INTEGER PRIMARY KEY,          -- feed offset
//     case_id TEXT NOT NULL,
//     type TEXT NOT NULL,               -- created | updated | status_changed | merged | ...
//     street_code TEXT NOT NULL,        -- the case's street after the event; '' when unknown
//     prev_street_seq INTEGER NOT NULL, -- previous event of the same street_code; 0 for none
//     community_code TEXT NOT NULL,     -- '' when unknown
//     grid_code TEXT NOT NULL,          -- '' when unknown
//     category_family TEXT NOT NULL,    -- e.g. city_appearance
//     status TEXT NOT NULL,             -- case status after the event
//     at INTEGER NOT NULL,              -- unix ms, hub clock, when committed
//     detail TEXT NOT NULL,             -- JSON object: what changed and why
//     doc BLOB NOT NULL                 -- the casehub.case/1 document after the event
//   );
//   cases: a view (schema 6) with these columns, read by the feed and the API:
//     case_id, seq, status, street_code, community_code, grid_code, category_code,
//     category_family, priority, created_at, updated_at, merged_into,
//     doc                              -- current state: the doc of the event at `seq`
//   over the table case_rows (the same columns but doc), joined to events by seq.
//   events_street_block (schema 8): an index on (seq >> kEventBlockShift, street_code), by which
//   one street's events are read block by block; street_heads: each street's last seq.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace casehub::host {

// Events of one block share a key prefix of events_street_block (host/store/store.cpp spells
// the shift out in its schema). 256 seqs: a block's index entries fit in a page.
inline constexpr int kEventBlockShift = 8;

struct EventRow {
    std::uint64_t seq = 0;
    std::string case_id, type, street_code;
    std::uint64_t prev_street_seq = 0;
    std::string community_code, grid_code, category_family, status;
    std::int64_t at = 0;
    std::string detail;  // JSON object
    std::string doc;     // casehub.case/1
    // Not stored: `detail` is dump_json() of an object (nlohmann's canonical text), so the feed
    // may write it into a header without checking it.
    bool detail_canonical = false;
};

// The meta key holding the first seq from which every stored detail is canonical (the store
// makes sure of it on append), so the replay server copies those unchecked; older rows it checks.
inline constexpr std::string_view kDetailCanonicalFrom = "detail_canonical_from";

// Statuses counted as open for "current state of all open cases".
inline bool is_open_status(const std::string& s) {
    return s != "closed" && s != "rejected" && s != "cancelled";
}

}  // namespace casehub::host
