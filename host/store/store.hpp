// The hub's durable store (SQLite, WAL).
//
// One commit = one transaction holding the records of many batches (group commit), the cases
// and events they produce, the dead letters, the adapters' counters and cursors. A restart of
// anything resumes from the last commit: nothing lost, nothing applied twice. Callers ack only
// after commit() returns, and publish the events only then.
//
// Usage: begin(); ...find_/put_/append_ calls...; commit() (or rollback()).
#pragma once

#include "common/result.hpp"
#include "store/events.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <filesystem>
#include <map>
#include <memory>
#include <unordered_map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace casehub::host {

// Process-wide SQLite settings for a process that writes a store: call once at start-up,
// before any other thread exists and before any other SQLite call (sqlite3_config's rule; a
// later call changes nothing). Turns off SQLite's memory statistics, which took a global mutex
// on every allocation: about 150 lock/unlock pairs per record applied. Nothing here reads them.
void configure_sqlite_for_this_process();

class CorrCache;

struct SourceRow {
    std::string case_id, version, version_form, raw_sha256, status, status_native;
};

struct CaseRow {
    std::string case_id, status, street_code, community_code, grid_code, category_code,
        category_family, priority;
    std::int64_t created_at = 0, updated_at = 0;
    std::optional<std::string> merged_into;
    std::string doc;
    std::int64_t ended_at = 0;  // unix ms the case became closed/rejected/cancelled (source time); 0 while active
};

struct DeadLetterRow {
    std::int64_t id = 0;
    std::string adapter, stage, reason, path, detail, cursor;
    std::string doc;  // withheld where the spec says; masked native bytes for stage 'adapter'
    std::int64_t received_at = 0;
    std::optional<std::int64_t> replayed_at;
    std::string replay_outcome;
};

// The event that records `c` as it now is (its document, status and places), of `type`.
inline EventRow event_of(const CaseRow& c, std::string type, std::int64_t at, std::string detail) {
    EventRow e;
    e.case_id = c.case_id;
    e.type = std::move(type);
    e.street_code = c.street_code;
    e.community_code = c.community_code;
    e.grid_code = c.grid_code;
    e.category_family = c.category_family;
    e.status = c.status;
    e.at = at;
    e.detail = std::move(detail);
    e.doc = c.doc;
    return e;
}

// A command-centre action owed to one source system (the write_back action JSON), and where
// its delivery stands.
struct WritebackRow {
    std::int64_t id = 0;
    std::string case_id, adapter, system, record_id;
    std::string action;           // JSON handed to the plugin's write_back
    std::string state = "pending";  // pending | done | failed
    int attempts = 0;
    std::int64_t next_at = 0;     // unix ms: not before
    std::string last_error;
    std::int64_t created_at = 0, updated_at = 0;
};

// One source record of a case, with the adapter that emitted it.
struct CaseSource {
    std::string system, record_id, adapter, doc;
};

// The correlation index: one row per correlated record (its first version), with its box. Box:
// x/y in metres on the district's local plane, t in minutes since 2000; a record's box spans
// at most kCorrMaxBoxMinutes (a date-only report: its day), which bounds the store's time scan.
inline constexpr std::int32_t kCorrMaxBoxMinutes = 1440;
struct CorrBox {
    std::int32_t x0 = 0, x1 = 0, y0 = 0, y1 = 0, t0 = 0, t1 = 0;
};
struct CorrRecordRow {
    std::string system, record_id, case_id;
    bool located = false;
    double lon = 0, lat = 0;
    int precision_m = 0;
    std::int64_t reported_ms = 0;
    bool date_only = false;     // the box spans the day (t1 = t0 + 1440)
    std::string category, family;
    std::string text, address;  // correlate::Signature bytes
    std::string place;          // correlate::Place::to_string()
    CorrBox box;                // ignored when !located (no box: never a candidate)
};
// One hit of the candidate search, as views into SQLite's row: valid during the callback only,
// so the search materialises nothing it does not keep.
struct CorrHit {
    std::string_view system, record_id, case_id, category, family;
    std::string_view text, address, place;  // as in CorrRecordRow
    bool located = false, date_only = false;
    double lon = 0, lat = 0;
    int precision_m = 0;
    std::int64_t reported_ms = 0;
    std::int64_t case_ended_ms = 0;  // 0: the case is active
};

// One whistle (街道吹哨) as stored: the host/command state as JSON plus what the queries and the
// overdue timer need as columns. next_due_at: the earliest step deadline not yet alerted on an
// open whistle (NULL when nothing is left to alert); alerted: JSON array of "unit:step" raised.
struct WhistleRow {
    std::string whistle_id, case_id, street_code, tier, kind;
    std::string state;  // casehub.whistle/1 JSON (command::to_json)
    std::int64_t opened_at = 0;
    std::optional<std::int64_t> closed_at;
    std::string outcome = "open";
    std::optional<std::int64_t> next_due_at;
    std::string alerted = "[]";
};

// A case's tier (grid / community / street / district) and when it rises if not solved.
struct CaseTierRow {
    std::string case_id, tier;
    std::int64_t since = 0;
    std::optional<std::int64_t> due_at;  // NULL: at the top, solved, or ended
    std::string reason;
};

struct Counters {
    std::int64_t records_in = 0, applied = 0, duplicates = 0, same_version_changed = 0, stale = 0,
                 dead_lettered = 0;
    Counters& operator+=(const Counters& o) {
        records_in += o.records_in, applied += o.applied, duplicates += o.duplicates;
        same_version_changed += o.same_version_changed, stale += o.stale, dead_lettered += o.dead_lettered;
        return *this;
    }
};

class Store {
public:
    enum class Sync { full, normal };
    static Result<std::unique_ptr<Store>> open(const std::filesystem::path& path, Sync sync);
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    Result<void> begin();
    Result<void> commit();
    void rollback();

    // -- reads (inside or outside a transaction)
    Result<std::optional<std::string>> cursor(std::string_view adapter);
    Result<std::optional<SourceRow>> find_source(std::string_view system, std::string_view record_id);
    Result<std::optional<std::string>> case_doc(std::string_view case_id);
    Result<std::map<std::string, Counters>> counters();
    Result<std::vector<DeadLetterRow>> dead_letters(std::string_view adapter, std::int64_t after_id,
                                                    int limit, bool include_replayed);
    Result<std::optional<DeadLetterRow>> dead_letter(std::int64_t id);
    Result<std::optional<CaseRow>> find_case(std::string_view case_id);
    Result<std::vector<CaseSource>> sources_of_case(std::string_view case_id);
    // The oldest pending write-back of `adapter` (delivery is in id order per adapter).
    Result<std::optional<WritebackRow>> next_writeback(std::string_view adapter);
    Result<std::optional<WritebackRow>> writeback(std::int64_t id);
    Result<std::vector<WritebackRow>> writebacks_of_case(std::string_view case_id);
    // -- correlation (see correlate/correlator.hpp)
    // Calls `visit` for each indexed record of an unmerged case whose box meets `q`, at most
    // `limit`, and returns how many. `families` (",a,b,") keeps only records of those families,
    // plus unclassified ones; "" keeps all. Filtering here spares the case lookup of the rest.
    Result<int> corr_candidates(const CorrBox& q, std::string_view families, int limit,
                                const std::function<Result<void>(const CorrHit&)>& visit);
    // "system:record_id" of the records whose links[] name `target` ("system:record_id"), and
    // the relation.
    Result<std::vector<std::pair<std::string, std::string>>> records_linking_to(std::string_view target);
    Result<bool> split_pair(std::string_view a, std::string_view b);
    Result<bool> has_split_pairs(std::string_view a);
    // {system, place} of every correlated record of a case.
    Result<std::vector<std::pair<std::string, std::string>>> corr_members(std::string_view case_id);
    // -- command centre (daemon/whistles.cpp)
    Result<std::optional<std::string>> meta(std::string_view key);
    Result<std::optional<WhistleRow>> find_whistle(std::string_view whistle_id);
    // Whistles by case, street, opening time [from_ms, to_ms) ("" / 0 = any), oldest first.
    Result<std::vector<WhistleRow>> whistles(std::string_view case_id, std::string_view street_code,
                                             std::int64_t from_ms, std::int64_t to_ms, int limit);
    // Open whistles with a step deadline not yet alerted at or before `now`, soonest first.
    Result<std::vector<WhistleRow>> due_whistles(std::int64_t now, int limit);
    Result<std::optional<CaseTierRow>> case_tier(std::string_view case_id);
    Result<std::vector<CaseTierRow>> due_case_tiers(std::int64_t now, int limit);
    // {seq, case_id} of `created` events with after < seq <= upto.
    Result<std::vector<std::pair<std::uint64_t, std::string>>> created_cases(std::uint64_t after, std::uint64_t upto);
    // {tier, the case's times.resolved_at} of every solved (resolved, verified, closed) case with a tier.
    Result<std::vector<std::pair<std::string, std::string>>> solved_case_tiers();
    // {satisfaction, times.updated_at} of the records of `system` that carry a satisfaction.
    Result<std::vector<std::pair<std::string, std::string>>> satisfactions(std::string_view system);
    std::uint64_t head_seq() const { return last_seq_; }
    const std::map<std::string, std::uint64_t>& street_heads() const { return street_last_; }

    // -- writes (inside a transaction)
    Result<void> set_cursor(std::string_view adapter, std::string_view cursor);
    // The record's row id when it is new (its correlation profile's id: put_corr_record), 0 when
    // an existing record was updated in place.
    Result<std::int64_t> put_source(std::string_view system, std::string_view record_id, const SourceRow& row,
                                    std::string_view adapter, std::string_view doc, std::int64_t received_at);
    // The case's row; its document is the one of the event at `seq`, which the caller appended
    // (c.doc is not stored again: the view `cases` reads it from events).
    Result<void> put_case(const CaseRow& c, std::uint64_t seq);
    // Assigns seq (dense: head + 1) and prev_street_seq, and writes the event.
    Result<void> append_event(EventRow& e);
    // "C" + day + "-" + 6-digit daily serial; day is YYYYMMDD in +08:00.
    Result<std::string> next_case_id(std::string_view day);
    // A new record's correlation profile; id is its row in source_records (put_source), through
    // which the profile is found by (system, record_id). Written after the record's case.
    Result<void> put_corr_record(std::int64_t id, const CorrRecordRow& r);
    Result<void> add_record_link(std::string_view target, std::string_view source, std::string_view relation);
    Result<void> add_split_pair(std::string_view a, std::string_view b);  // both orders
    // Moves one record (source_records and the correlation index) to another case.
    Result<void> move_record(std::string_view system, std::string_view record_id, std::string_view case_id);
    Result<std::int64_t> add_dead_letter(const DeadLetterRow& d);
    Result<std::int64_t> add_writeback(const WritebackRow& w);
    // Outside a transaction too: each delivery outcome is its own small commit.
    Result<void> update_writeback(const WritebackRow& w);
    Result<void> mark_replayed(std::int64_t id, std::int64_t at, std::string_view outcome);
    Result<int> purge_dead_letters(std::string_view adapter, bool only_replayed);
    Result<void> add_counters(std::string_view adapter, const Counters& c);
    Result<void> set_meta(std::string_view key, std::string_view value);  // outside a transaction too
    // "W" + day + "-" + 4-digit daily serial; day is YYYYMMDD in +08:00.
    Result<std::string> next_whistle_id(std::string_view day);
    Result<void> put_whistle(const WhistleRow& w);
    Result<void> put_case_tier(const CaseTierRow& t);

    // Keeps the correlation profiles of the last `keep_minutes` (by report time, behind the
    // latest) in memory as well, so that corr_candidates answers live records without SQLite
    // (store/corr_cache.hpp). Loads them now; outside a transaction.
    Result<void> enable_corr_cache(std::int32_t keep_minutes);
    // {profiles, cases} held by that cache; {0, 0} without it.
    std::pair<std::size_t, std::size_t> corr_cache_size() const;

    // The WAL size at which a commit checkpoints by itself (rounded down to whole pages; 0: never;
    // 4 MiB after open()), set high when a Checkpointer (store/checkpointer.hpp) does it on
    // another thread.
    Result<void> set_autocheckpoint_bytes(std::int64_t bytes);

    // Lets the WAL shrink while readers come and go; cheap when there is nothing to do.
    void checkpoint();
    const std::filesystem::path& path() const { return path_; }

private:
    Store() = default;
    Result<void> exec(const char* sql);
    Result<void> load_heads();
    Result<void> migrate();
    Result<void> migrate_source_records();  // schema 4 → 5 (store.cpp)
    Result<void> migrate_corr_boxes();      // schema 6 → 7
    Result<void> finish_source_records();
    Result<void> finish_cases();
    Result<void> finish_street_heads();  // schema 7 → 8
    Result<void> migrate_corr_ids();     // schema 8 → 9
    Result<void> finish_corr_records();
    Result<void> migrate_case_rows();    // schema 8 → 9
    Result<void> finish_case_rows();
    Result<void> migrate_hub_state();    // schema 8 → 9
    Result<void> finish_hub_state();
    Result<void> write_street_head(std::string_view street, std::uint64_t seq);
    Result<void> write_serial();
    Result<bool> has_table(const char* name);
    Result<std::optional<std::string>> table_sql(const char* name);  // its CREATE statement; nullopt: no such table
    Result<void> exec_or_rollback(const std::string& script);  // ROLLBACK when it fails
    Result<std::vector<std::pair<std::string, std::string>>> text_pairs(sqlite3_stmt* st);
    Result<bool> any_row(sqlite3_stmt* st);
    std::string last_error() const;
    Result<std::optional<WritebackRow>> one_writeback(sqlite3_stmt* st);  // steps a prepared query
    Result<void> load_corr_cache();
    bool cache_on() const;  // enabled and loaded
    Result<void> cache_corr_row(std::int64_t id);  // (re)reads one profile into the cache
    Result<void> cache_corr_rows(sqlite3_stmt* st);
    Result<std::pair<std::int64_t, bool>> case_state(std::string_view case_id);  // {ended_at, merged}
    sqlite3_stmt* stmt(const char* sql);
    sqlite3_stmt* lookup_stmt(const char* sql);
    sqlite3* db_ = nullptr;
    std::map<std::string, sqlite3_stmt*> stmts_;
    // The same statements by the address of their SQL text (a literal, or a static string), so
    // that the hot path finds them without building a std::string; checked against the text.
    std::unordered_map<const char*, sqlite3_stmt*> stmts_by_ptr_;
    std::filesystem::path path_;
    bool in_tx_ = false;
    std::uint64_t last_seq_ = 0, tx_start_seq_ = 0;
    std::map<std::string, std::uint64_t> street_last_, tx_start_street_last_;
    std::string serial_day_;          // next_case_id's day and its last serial, once read
    std::int64_t serial_n_ = 0;
    bool serial_dirty_ = false;       // serial_n_ not written to case_serials yet (commit() does)
    std::string last_issued_case_;    // the last id next_case_id gave in this transaction
    std::optional<std::pair<std::int64_t, bool>> issued_case_state_;  // its {ended_at, merged} once put_case wrote it
    bool split_pairs_maybe_ = false;  // split_pairs may have rows (false: it had none when last asked)
    std::unique_ptr<CorrCache> corr_cache_;  // null unless enabled
    bool corr_cache_dirty_ = false;          // the open transaction changed it: a rollback reloads it
};

}  // namespace casehub::host
