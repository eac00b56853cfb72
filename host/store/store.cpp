#include "store/store.hpp"

#include "store/batched_wal_vfs.hpp"
#include "store/corr_cache.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace casehub::host {

namespace {

constexpr int kSchemaVersion = 9;  // 3: correlation (ended_at, corr_*, record_links, split_pairs); 4: whistles, case_tiers;
                                   // 5: source_records is a rowid table; 6: case documents stored once (case_rows);
                                   // 7: correlation boxes in corr_records, indexed by time (no R*Tree);
                                   // 8: no index led by the street (events_street_block, street_heads, case_rows_updated);
                                   // 9: corr_records keyed by the source record's row id (no index on system, record_id),
                                   //    case_rows WITHOUT ROWID (no case_rows_corr), hub_state for the four
                                   //    tables written at every commit (views by their old names)

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- What nearly every commit writes besides its records, in one small table, so on one page of
-- the log (schema 9; four tables, four pages of every commit, up to schema 8): by key,
--   'adapter:<name>'  its cursor (NULL until set), when set, and its counters (NULL until added);
--   'street:<code>'   n: the seq of the street's last event (prev_street_seq of its next one);
--   'serial:<day>'    n: the last serial of the day's case ids (YYYYMMDD, +08:00).
-- Read through the views of the same names as the tables were (below).
CREATE TABLE IF NOT EXISTS hub_state (
    key TEXT PRIMARY KEY, n INTEGER, cursor TEXT, updated_at INTEGER,
    records_in INTEGER, applied INTEGER, duplicates INTEGER, same_version_changed INTEGER,
    stale INTEGER, dead_lettered INTEGER) WITHOUT ROWID;
CREATE VIEW IF NOT EXISTS adapter_cursors AS
    SELECT substr(key, 9) AS adapter, cursor, updated_at FROM hub_state
    WHERE key >= 'adapter:' AND key < 'adapter;' AND cursor IS NOT NULL;
CREATE VIEW IF NOT EXISTS adapter_counters AS
    SELECT substr(key, 9) AS adapter, records_in, applied, duplicates, same_version_changed, stale, dead_lettered
    FROM hub_state WHERE key >= 'adapter:' AND key < 'adapter;' AND records_in IS NOT NULL;
CREATE VIEW IF NOT EXISTS street_heads AS
    SELECT substr(key, 8) AS street_code, n AS seq FROM hub_state WHERE key >= 'street:' AND key < 'street;';
CREATE VIEW IF NOT EXISTS case_serials AS
    SELECT substr(key, 8) AS day, n FROM hub_state WHERE key >= 'serial:' AND key < 'serial;';
-- The latest accepted version of every source record, and the case it belongs to. A rowid
-- table (not WITHOUT ROWID): a WITHOUT ROWID cell keeps about 1 KB in the B-tree and puts the
-- rest of a 1.4 KB document on an overflow page of its own, 4.5 KB per record in all.
CREATE TABLE IF NOT EXISTS source_records (
    system TEXT NOT NULL, record_id TEXT NOT NULL,
    case_id TEXT NOT NULL,
    version TEXT NOT NULL, version_form TEXT NOT NULL, raw_sha256 TEXT NOT NULL,
    status TEXT NOT NULL, status_native TEXT NOT NULL,
    adapter TEXT NOT NULL, received_at INTEGER NOT NULL,
    doc BLOB NOT NULL,                       -- the casehub.record/1 document
    UNIQUE (system, record_id));
CREATE INDEX IF NOT EXISTS source_records_case ON source_records(case_id);
-- Every case's current state but its document: that is the document of its last event (seq),
-- stored once, in events (schema 6; it used to be stored again here, a third of the store).
-- WITHOUT ROWID (schema 9): the table is its own index by case_id, where a rowid table had two
-- more B-trees to write, its primary key's and case_rows_corr, the candidate search's covering one.
CREATE TABLE IF NOT EXISTS case_rows (
    case_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, status TEXT NOT NULL,
    street_code TEXT NOT NULL, community_code TEXT NOT NULL, grid_code TEXT NOT NULL,
    category_code TEXT NOT NULL, category_family TEXT NOT NULL, priority TEXT NOT NULL,
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, merged_into TEXT,
    ended_at INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
-- Lists newest first (the HTTP API's cases), whatever the filter. Not an index led by the street:
-- one of those has an append point per street, so a commit of ten records wrote up to ten of
-- its pages (schema 8 dropped case_rows_street_status for this; docs/performance.md).
CREATE INDEX IF NOT EXISTS case_rows_updated ON case_rows(updated_at, case_id);
CREATE INDEX IF NOT EXISTS case_rows_status ON case_rows(status);
CREATE INDEX IF NOT EXISTS case_rows_seq ON case_rows(seq);
-- Append-only: every change of a case is one event; seq is the feed offset.
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, case_id TEXT NOT NULL, type TEXT NOT NULL,
    street_code TEXT NOT NULL, prev_street_seq INTEGER NOT NULL,
    community_code TEXT NOT NULL, grid_code TEXT NOT NULL, category_family TEXT NOT NULL,
    status TEXT NOT NULL, at INTEGER NOT NULL, detail TEXT NOT NULL, doc BLOB NOT NULL);
-- The cases as readers know them (the columns of the table `cases` was up to schema 5). A query
-- that reads no `doc` does not touch events (SQLite drops the unused LEFT JOIN).
CREATE VIEW IF NOT EXISTS cases AS
    SELECT r.case_id, r.seq, r.status, r.street_code, r.community_code, r.grid_code, r.category_code,
           r.category_family, r.priority, r.created_at, r.updated_at, r.merged_into, e.doc AS doc, r.ended_at
    FROM case_rows r LEFT JOIN events e ON e.seq = r.seq;
CREATE INDEX IF NOT EXISTS events_case ON events(case_id, seq);
-- One street's events, read block by block (feed/store_read.hpp, for_each_event): within a block
-- of 256 seqs the entries are by street, then seq. A commit's events all fall into one or two
-- blocks, so one or two pages of this index, where events_street(street_code, seq), up to
-- schema 7, had an append point per street.
CREATE INDEX IF NOT EXISTS events_street_block ON events(seq >> 8, street_code);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    adapter TEXT NOT NULL, received_at INTEGER NOT NULL,
    stage TEXT NOT NULL,                     -- 'adapter' (native bytes) | 'validation' (a record)
    reason TEXT NOT NULL, path TEXT NOT NULL, detail TEXT NOT NULL, cursor TEXT NOT NULL,
    doc BLOB NOT NULL,
    replayed_at INTEGER, replay_outcome TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS dead_letters_adapter ON dead_letters(adapter, id);
-- Command-centre actions owed to source systems, delivered through their adapters in id order.
CREATE TABLE IF NOT EXISTS writebacks (
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL, adapter TEXT NOT NULL, system TEXT NOT NULL, record_id TEXT NOT NULL,
    action TEXT NOT NULL,                    -- the JSON handed to the plugin's write_back
    state TEXT NOT NULL,                     -- 'pending' | 'done' | 'failed'
    attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, last_error TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS writebacks_queue ON writebacks(adapter, state, id);
CREATE INDEX IF NOT EXISTS writebacks_case ON writebacks(case_id, id);
-- Correlation: each correlated record's profile and its box (x, y metres on the district's
-- plane, widened by the record's precision; t minutes since 2000; NULL for an unlocated record,
-- which is never a candidate). Recent boxes are searched in memory (store/corr_cache.hpp); the
-- store's own search scans the time index and filters by position. id is the record's rowid in
-- source_records, whose unique index finds it by (system, record_id): an index of its own on
-- those, up to schema 8, had an append point per source system and was an eighth of the pages
-- a small commit wrote (docs/performance.md, fourteenth round).
CREATE TABLE IF NOT EXISTS corr_records (
    id INTEGER PRIMARY KEY, system TEXT NOT NULL, record_id TEXT NOT NULL, case_id TEXT NOT NULL,
    located INTEGER NOT NULL, lon REAL NOT NULL, lat REAL NOT NULL, precision_m INTEGER NOT NULL,
    reported_at INTEGER NOT NULL, category TEXT NOT NULL, family TEXT NOT NULL,
    text BLOB NOT NULL, address BLOB NOT NULL, place TEXT NOT NULL DEFAULT '',
    x0 INTEGER, x1 INTEGER, y0 INTEGER, y1 INTEGER, t0 INTEGER, t1 INTEGER);
CREATE INDEX IF NOT EXISTS corr_records_time ON corr_records(t0) WHERE t0 IS NOT NULL;
-- Covers corr_members (asked for every candidate case of every new record) in rowid order,
-- without reading the profile's row (its text and address blobs); and every other look-up by
-- case_id (an index on case_id alone, corr_records_case up to schema 7, was one more B-tree
-- written per record for nothing).
CREATE INDEX IF NOT EXISTS corr_records_case_members ON corr_records(case_id, id, system, place);
-- links[] of records (duplicate_of, transferred_from) by the record they name, so that a record
-- arriving after one that names it finds it.
CREATE TABLE IF NOT EXISTS record_links (
    target TEXT NOT NULL, source TEXT NOT NULL, relation TEXT NOT NULL, PRIMARY KEY (target, source)) WITHOUT ROWID;
-- Pairs of records an operator split apart: never joined again automatically.
CREATE TABLE IF NOT EXISTS split_pairs (a TEXT NOT NULL, b TEXT NOT NULL, PRIMARY KEY (a, b)) WITHOUT ROWID;
-- The command centre (docs/command-center.md): whistles with their state as JSON
-- (casehub.whistle/1); next_due_at is the earliest step deadline of an open whistle not yet
-- alerted (NULL when none is left), alerted the "unit:step" alerts already raised.
CREATE TABLE IF NOT EXISTS whistles (
    whistle_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, street_code TEXT NOT NULL,
    tier TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
    opened_at INTEGER NOT NULL, closed_at INTEGER, outcome TEXT NOT NULL,
    next_due_at INTEGER, alerted TEXT NOT NULL DEFAULT '[]');
CREATE INDEX IF NOT EXISTS whistles_case ON whistles(case_id, opened_at);
CREATE INDEX IF NOT EXISTS whistles_opened ON whistles(opened_at);
CREATE INDEX IF NOT EXISTS whistles_due ON whistles(next_due_at) WHERE next_due_at IS NOT NULL;
-- Each case's tier (grid, community, street, district) and when it rises if not solved.
CREATE TABLE IF NOT EXISTS case_tiers (
    case_id TEXT PRIMARY KEY, tier TEXT NOT NULL, since INTEGER NOT NULL, due_at INTEGER,
    reason TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS case_tiers_due ON case_tiers(due_at) WHERE due_at IS NOT NULL;
)sql";

static_assert(kEventBlockShift == 8, "kSchema spells the shift out in events_street_block");

// Not "bind": std::bind, found by ADL for std::string arguments, would win and bind nothing.
void bind_text(sqlite3_stmt* st, int i, std::string_view v) {
    sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void bind_blob(sqlite3_stmt* st, int i, std::string_view v) {
    sqlite3_bind_blob(st, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
// Without a copy: only for values that outlive the statement's step (the hot-path writes below,
// whose arguments are the caller's; stmt() clears the bindings before the next use).
void bind_text_nocopy(sqlite3_stmt* st, int i, std::string_view v) {
    sqlite3_bind_text(st, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
void bind_blob_nocopy(sqlite3_stmt* st, int i, std::string_view v) {
    sqlite3_bind_blob(st, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
}
std::string col(sqlite3_stmt* st, int i) {
    auto* t = static_cast<const char*>(sqlite3_column_blob(st, i));
    return std::string(t ? t : "", static_cast<std::size_t>(sqlite3_column_bytes(st, i)));
}

}  // namespace

std::string Store::last_error() const {
    return path_.string() + ": " + (db_ ? sqlite3_errmsg(db_) : "not open");
}

sqlite3_stmt* Store::stmt(const char* sql) {
    if (auto p = stmts_by_ptr_.find(sql); p != stmts_by_ptr_.end() && std::strcmp(sqlite3_sql(p->second), sql) == 0) {
        sqlite3_reset(p->second);
        sqlite3_clear_bindings(p->second);
        return p->second;
    }
    sqlite3_stmt* found = lookup_stmt(sql);
    if (found) stmts_by_ptr_[sql] = found;
    return found;
}

sqlite3_stmt* Store::lookup_stmt(const char* sql) {
    auto it = stmts_.find(sql);
    if (it != stmts_.end()) {
        sqlite3_reset(it->second);
        sqlite3_clear_bindings(it->second);
        return it->second;
    }
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, nullptr) != SQLITE_OK) return nullptr;
    stmts_.emplace(sql, st);
    return st;
}

Result<void> Store::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = path_.string() + ": " + (err ? err : "unknown error");
        sqlite3_free(err);
        return make_error(m);
    }
    return {};
}

void configure_sqlite_for_this_process() { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& path, Sync sync) {
    std::unique_ptr<Store> s(new Store());
    s->path_ = path;
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    // The log written in large pieces, not two system calls per page (store/batched_wal_vfs.hpp).
    if (sqlite3_open_v2(path.c_str(), &s->db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        batched_wal_vfs()) != SQLITE_OK)
        return make_error("cannot open store " + s->last_error());
    sqlite3_busy_timeout(s->db_, 5000);
    // FULL: the WAL is synced at every commit, so an ack that leaves the hub survives power
    // loss. NORMAL survives a crash of casehubd but may lose the last commits on power loss.
    // 16 KiB pages for a new store (an existing one keeps its size; docs/pipeline.md says how to
    // convert it): an event row (a ~2 KB case document and its detail) fits on a page instead
    // of spilling onto an overflow page read by a system call of its own, which made a feed
    // replay 2× slower, a store 24 % larger and the intake thread ~10 % dearer per record.
    // Must come before journal_mode=WAL, which fixes the size of a new file.
    if (auto r = s->exec("PRAGMA page_size=16384;"); !r) return r.error();
    const char* pragmas = sync == Sync::full ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                             : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
    if (auto r = s->exec(pragmas); !r) return r.error();
    if (auto r = s->set_autocheckpoint_bytes(4 << 20); !r) return r.error();  // SQLite's default at 4 KiB pages
    // 64 MiB of page cache (SQLite's default is 2 MiB): the correlation index and the cases it
    // joins are read at random on every record, and a miss is a system call.
    if (auto r = s->exec("PRAGMA cache_size=-65536;"); !r) return r.error();
    if (auto r = s->migrate(); !r) return make_error("cannot migrate the store: " + r.error().message);
    if (auto r = s->exec(kSchema); !r) return make_error("cannot create schema: " + r.error().message);
    if (auto r = s->finish_source_records(); !r) return make_error("cannot migrate the store: " + r.error().message);
    if (auto r = s->finish_cases(); !r) return make_error("cannot migrate the store: " + r.error().message);
    if (auto r = s->finish_corr_records(); !r) return make_error("cannot migrate the store: " + r.error().message);
    if (auto r = s->finish_case_rows(); !r) return make_error("cannot migrate the store: " + r.error().message);
    if (auto r = s->finish_hub_state(); !r) return make_error("cannot migrate the store: " + r.error().message);
    if (auto r = s->finish_street_heads(); !r) return make_error("cannot migrate the store: " + r.error().message);
    std::string v = "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '" +
                    std::to_string(kSchemaVersion) + "')";
    if (auto r = s->exec(v.c_str()); !r) return r.error();
    // Schema 3 → 4: whistles and case_tiers are new tables (created above); nothing to convert.
    v = "UPDATE meta SET value='" + std::to_string(kSchemaVersion) +
        "' WHERE key='schema_version' AND CAST(value AS INTEGER) < " + std::to_string(kSchemaVersion);
    if (auto r = s->exec(v.c_str()); !r) return r.error();
    // From this seq on every event's detail is nlohmann's dump() of an object (append_event()
    // sees to it), so the feed may copy it into a header unchecked. A new store: from 1. An
    // older one: from its next event (its own were written the same way, but not checked).
    v = "INSERT OR IGNORE INTO meta(key, value) VALUES('" + std::string(kDetailCanonicalFrom) +
        "', (SELECT coalesce(max(seq), 0) + 1 FROM events))";
    if (auto r = s->exec(v.c_str()); !r)
        return r.error();
    if (auto r = s->load_heads(); !r) return r.error();
    return s;
}

// Schema 2 → 3: cases gained ended_at (the rest is new tables, created by kSchema).
Result<void> Store::migrate() {
    // Schema 7 → 8 builds its two indexes in kSchema, right after this: said first, since on a
    // large store that takes a while (finish_street_heads() does the rest).
    sqlite3_stmt* ix = stmt("SELECT count(*) FROM sqlite_master WHERE type='index' AND name='events_street'");
    if (!ix || sqlite3_step(ix) != SQLITE_ROW) return make_error(last_error());
    const bool street_led = sqlite3_column_int(ix, 0) > 0;
    sqlite3_reset(ix);
    if (street_led)
        std::fprintf(stderr, "casehub store: indexing events by block and cases by update time, not by street "
                             "(schema 8), once\n");
    // corr_records from before `place` (the first correlation build).
    sqlite3_stmt* st = stmt("SELECT count(*) FROM pragma_table_info('corr_records') WHERE name='place'");
    if (!st || sqlite3_step(st) != SQLITE_ROW) return make_error(last_error());
    const bool corr_without_place = sqlite3_column_int(st, 0) == 0;
    sqlite3_reset(st);
    auto has_corr = has_table("corr_records");
    if (!has_corr) return has_corr.error();
    if (*has_corr && corr_without_place)
        if (auto r = exec("ALTER TABLE corr_records ADD COLUMN place TEXT NOT NULL DEFAULT '';"); !r) return r;
    if (auto r = migrate_corr_boxes(); !r) return r;
    if (auto r = exec("DROP INDEX IF EXISTS corr_records_case;"); !r) return r;
    if (auto r = migrate_corr_ids(); !r) return r;
    if (auto r = migrate_case_rows(); !r) return r;
    if (auto r = migrate_hub_state(); !r) return r;
    if (auto r = migrate_source_records(); !r) return r;
    auto has_cases = has_table("cases");  // a table up to schema 5, a view since
    if (!has_cases) return has_cases.error();
    if (!*has_cases) return {};
    st = stmt("SELECT count(*) FROM pragma_table_info('cases') WHERE name='ended_at'");
    if (!st || sqlite3_step(st) != SQLITE_ROW) return make_error(last_error());
    const bool has_ended = sqlite3_column_int(st, 0) > 0;
    sqlite3_reset(st);
    if (!has_ended)
        if (auto r = exec("ALTER TABLE cases ADD COLUMN ended_at INTEGER NOT NULL DEFAULT 0;"
                          "UPDATE meta SET value='3' WHERE key='schema_version';");
            !r)
            return r;
    // Schema 5 → 6, first half: the table `cases` is renamed away (kSchema then creates
    // case_rows and the view `cases`) and finish_cases() copies its rows, as for source_records.
    return exec("BEGIN IMMEDIATE; ALTER TABLE cases RENAME TO cases_v5; DROP INDEX IF EXISTS cases_street_status;"
                " DROP INDEX IF EXISTS cases_status; DROP INDEX IF EXISTS cases_seq; DROP INDEX IF EXISTS cases_corr;"
                " COMMIT;");
}

// Schema 6 → 7: the boxes move from the R*Tree corr_rtree into corr_records' own columns (an
// R*Tree insert was a tenth of the intake thread's time per record), in one transaction.
Result<void> Store::migrate_corr_boxes() {
    auto has_rtree = has_table("corr_rtree");
    if (!has_rtree) return has_rtree.error();
    if (!*has_rtree) return {};
    std::fprintf(stderr, "casehub store: moving the correlation boxes out of the R*Tree (schema 7), once\n");
    sqlite3_stmt* st = stmt("SELECT count(*) FROM pragma_table_info('corr_records') WHERE name='t0'");
    if (!st || sqlite3_step(st) != SQLITE_ROW) return make_error(last_error());
    const bool has_columns = sqlite3_column_int(st, 0) > 0;
    sqlite3_reset(st);
    std::string script = "BEGIN IMMEDIATE;";
    if (!has_columns)
        for (const char* c : {"x0", "x1", "y0", "y1", "t0", "t1"}) script += std::string(" ALTER TABLE corr_records ADD COLUMN ") + c + " INTEGER;";
    script +=
        " UPDATE corr_records SET (x0, x1, y0, y1, t0, t1) ="
        " (SELECT r.x0, r.x1, r.y0, r.y1, r.t0, r.t1 FROM corr_rtree r WHERE r.id = corr_records.id)"
        " WHERE id IN (SELECT id FROM corr_rtree);"
        " DROP TABLE corr_rtree; COMMIT;";
    return exec_or_rollback(script);
}

// Schema 4 → 5, first half: a WITHOUT ROWID source_records is renamed away (kSchema then creates
// the rowid table) and its rows are copied by finish_source_records. Each step is atomic, and a
// restart after a crash in between finishes the copy.
Result<void> Store::migrate_source_records() {
    auto sql = table_sql("source_records");
    if (!sql) return sql.error();
    if (!*sql || (*sql)->find("WITHOUT ROWID") == std::string::npos) return {};
    return exec("BEGIN IMMEDIATE; ALTER TABLE source_records RENAME TO source_records_v4;"
                " DROP INDEX IF EXISTS source_records_case; COMMIT;");
}

Result<std::optional<std::string>> Store::table_sql(const char* name) {
    sqlite3_stmt* st = stmt("SELECT sql FROM sqlite_master WHERE type='table' AND name=?");
    if (!st) return make_error(last_error());
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    const int rc = sqlite3_step(st);
    std::optional<std::string> out;
    if (rc == SQLITE_ROW) out = col(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<bool> Store::has_table(const char* name) {
    sqlite3_stmt* st = stmt("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?");
    if (!st) return make_error(last_error());
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) return make_error(last_error());
    const bool found = sqlite3_column_int(st, 0) > 0;
    sqlite3_reset(st);
    return found;
}

Result<void> Store::exec_or_rollback(const std::string& script) {
    auto r = exec(script.c_str());
    if (!r) (void)exec("ROLLBACK;");
    return r;
}

Result<void> Store::finish_source_records() {
    auto pending = has_table("source_records_v4");
    if (!pending) return pending.error();
    if (!*pending) return {};
    std::fprintf(stderr, "casehub store: copying source_records into a rowid table (schema 5), once\n");
    const char* cols = "system, record_id, case_id, version, version_form, raw_sha256, status, status_native,"
                       " adapter, received_at, doc";
    return exec_or_rollback(std::string("BEGIN IMMEDIATE; INSERT OR IGNORE INTO source_records(") + cols +
                            ") SELECT " + cols + " FROM source_records_v4; DROP TABLE source_records_v4; COMMIT;");
}

// Schema 8 → 9, first half: corr_records with its own unique index on (system, record_id) is
// renamed away, with its indexes (their names are kSchema's), and finish_corr_records() copies
// its rows under their records' row ids, as for source_records. A record's profile and its row
// were always written together (pipeline.cpp), so the ids keep their order, but in a store whose
// source_records were copied by schema 5, in (system, record_id) order: there the correlator's
// tie between equal candidates may fall the other way.
Result<void> Store::migrate_corr_ids() {
    sqlite3_stmt* st = stmt("SELECT count(*) FROM sqlite_master WHERE type='index' AND tbl_name='corr_records'"
                            " AND name LIKE 'sqlite_autoindex_corr_records%'");
    if (!st || sqlite3_step(st) != SQLITE_ROW) return make_error(last_error());
    const bool own_index = sqlite3_column_int(st, 0) > 0;
    sqlite3_reset(st);
    if (!own_index) return {};
    std::fprintf(stderr, "casehub store: keying correlation profiles by their records' row ids (schema 9), once\n");
    return exec_or_rollback("BEGIN IMMEDIATE; ALTER TABLE corr_records RENAME TO corr_records_v8;"
                            " DROP INDEX IF EXISTS corr_records_time; DROP INDEX IF EXISTS corr_records_case_members;"
                            " COMMIT;");
}

// Schema 8 → 9 for case_rows, first half: a rowid table is renamed away with its indexes and
// the view `cases` over it (kSchema creates them again, over the new table), and
// finish_case_rows() copies its rows.
Result<void> Store::migrate_case_rows() {
    auto sql = table_sql("case_rows");
    if (!sql) return sql.error();
    if (!*sql || (*sql)->find("WITHOUT ROWID") != std::string::npos) return {};
    std::fprintf(stderr, "casehub store: cases' rows into a table keyed by case id (schema 9), once\n");
    return exec_or_rollback("BEGIN IMMEDIATE; DROP VIEW IF EXISTS cases; ALTER TABLE case_rows RENAME TO case_rows_v8;"
                            " DROP INDEX IF EXISTS case_rows_updated; DROP INDEX IF EXISTS case_rows_status;"
                            " DROP INDEX IF EXISTS case_rows_seq; DROP INDEX IF EXISTS case_rows_corr;"
                            " DROP INDEX IF EXISTS case_rows_street_status; COMMIT;");
}

Result<void> Store::finish_case_rows() {
    auto pending = has_table("case_rows_v8");
    if (!pending) return pending.error();
    if (!*pending) return {};
    const char* cols = "case_id, seq, status, street_code, community_code, grid_code, category_code, category_family,"
                       " priority, created_at, updated_at, merged_into, ended_at";
    return exec_or_rollback(std::string("BEGIN IMMEDIATE; INSERT INTO case_rows(") + cols + ") SELECT " + cols +
                            " FROM case_rows_v8 ORDER BY case_id; DROP TABLE case_rows_v8; COMMIT;");
}

// Schema 8 → 9 for the tables every commit writes, first half: each is renamed away (kSchema
// creates hub_state and a view by its name) and finish_hub_state() copies its rows.
namespace {
constexpr const char* kStateTables[] = {"adapter_cursors", "adapter_counters", "street_heads", "case_serials"};
}

Result<void> Store::migrate_hub_state() {
    std::string script;
    for (const char* t : kStateTables) {
        auto is_table = has_table(t);
        if (!is_table) return is_table.error();
        if (*is_table) script += std::string(" ALTER TABLE ") + t + " RENAME TO " + t + "_v8;";
    }
    if (script.empty()) return {};
    std::fprintf(stderr, "casehub store: cursors, counters, street heads and case serials into one table (schema 9), once\n");
    return exec_or_rollback("BEGIN IMMEDIATE;" + script + " COMMIT;");
}

Result<void> Store::finish_hub_state() {
    static const std::map<std::string, std::string> kCopy = {
        {"adapter_cursors", "INSERT INTO hub_state(key, cursor, updated_at)"
                            " SELECT 'adapter:' || adapter, cursor, updated_at FROM adapter_cursors_v8;"},
        {"adapter_counters", "INSERT INTO hub_state(key, records_in, applied, duplicates, same_version_changed, stale,"
                             " dead_lettered) SELECT 'adapter:' || adapter, records_in, applied, duplicates,"
                             " same_version_changed, stale, dead_lettered FROM adapter_counters_v8 WHERE true"
                             " ON CONFLICT(key) DO UPDATE SET records_in=excluded.records_in, applied=excluded.applied,"
                             " duplicates=excluded.duplicates, same_version_changed=excluded.same_version_changed,"
                             " stale=excluded.stale, dead_lettered=excluded.dead_lettered;"},
        {"street_heads", "INSERT INTO hub_state(key, n) SELECT 'street:' || street_code, seq FROM street_heads_v8;"},
        {"case_serials", "INSERT INTO hub_state(key, n) SELECT 'serial:' || day, n FROM case_serials_v8;"}};
    std::string script;
    for (const char* t : kStateTables) {  // cursors before counters: the counters join the cursor's row
        auto pending = has_table((std::string(t) + "_v8").c_str());
        if (!pending) return pending.error();
        if (*pending) script += " " + kCopy.at(t) + " DROP TABLE " + t + "_v8;";
    }
    if (script.empty()) return {};
    return exec_or_rollback("BEGIN IMMEDIATE;" + script + " COMMIT;");
}

// Schema 8 → 9, second half (after finish_source_records: source_records is a rowid table). A
// profile whose record is gone (none such is written) has no id left and is dropped, said so.
Result<void> Store::finish_corr_records() {
    auto pending = has_table("corr_records_v8");
    if (!pending) return pending.error();
    if (!*pending) return {};
    const char* cols = "system, record_id, case_id, located, lon, lat, precision_m, reported_at, category, family,"
                       " text, address, place, x0, x1, y0, y1, t0, t1";
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
    if (auto r = exec((std::string("INSERT INTO corr_records(id, ") + cols + ") SELECT sid, " + cols +
                       " FROM (SELECT (SELECT s.rowid FROM source_records s WHERE s.system = c.system AND"
                       " s.record_id = c.record_id) AS sid, c.* FROM corr_records_v8 c) WHERE sid IS NOT NULL ORDER BY sid")
                          .c_str());
        !r) {
        (void)exec("ROLLBACK");
        return r;
    }
    const auto copied = sqlite3_changes64(db_);
    sqlite3_stmt* st = stmt("SELECT count(*) FROM corr_records_v8");
    const std::int64_t had = st && sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    if (st) sqlite3_reset(st);
    if (had < 0) {
        (void)exec("ROLLBACK");
        return make_error(last_error());
    }
    if (had > copied)
        std::fprintf(stderr, "casehub store: %lld correlation profiles had no source record and were dropped\n",
                     static_cast<long long>(had - copied));
    return exec_or_rollback("DROP TABLE corr_records_v8; COMMIT;");
}

// Schema 5 → 6, second half. A case's document was always written with the event at its seq,
// so dropping it loses nothing; should one differ all the same (an edit by hand), the case's is
// the current state and replaces that event's.
Result<void> Store::finish_cases() {
    auto pending = has_table("cases_v5");
    if (!pending) return pending.error();
    if (!*pending) return {};
    std::fprintf(stderr, "casehub store: case documents are now stored once, in events (schema 6); converting, once\n");
    const char* cols = "case_id, seq, status, street_code, community_code, grid_code, category_code, category_family,"
                       " priority, created_at, updated_at, merged_into, ended_at";
    return exec_or_rollback(
        std::string("BEGIN IMMEDIATE;"
                    " UPDATE events SET doc = (SELECT c.doc FROM cases_v5 c WHERE c.seq = events.seq)"
                    " WHERE seq IN (SELECT c.seq FROM cases_v5 c JOIN events e ON e.seq = c.seq WHERE e.doc IS NOT c.doc);"
                    " INSERT OR IGNORE INTO case_rows(") + cols + ") SELECT " + cols + " FROM cases_v5;"
                    " DROP TABLE cases_v5; COMMIT;");
}

// Schema 7 → 8, second half: each street's last seq, read once from events (along
// events_street, the index this drops), then the two indexes led by the street go. Also what a
// store whose street_heads were lost would need: events but no heads.
Result<void> Store::finish_street_heads() {
    sqlite3_stmt* st = stmt("SELECT EXISTS (SELECT 1 FROM events) AND NOT EXISTS (SELECT 1 FROM street_heads)");
    if (!st || sqlite3_step(st) != SQLITE_ROW) return make_error(last_error());
    const bool fill = sqlite3_column_int(st, 0) != 0;
    sqlite3_reset(st);
    std::string script = "BEGIN IMMEDIATE;";
    if (fill)
        script += " INSERT INTO hub_state(key, n) SELECT 'street:' || street_code, max(seq) FROM events GROUP BY street_code;";
    script += " DROP INDEX IF EXISTS events_street; DROP INDEX IF EXISTS case_rows_street_status; COMMIT;";
    return exec_or_rollback(script);
}

Result<void> Store::load_heads() {
    sqlite3_stmt* st = stmt("SELECT coalesce(max(seq), 0) FROM events");
    if (!st || sqlite3_step(st) != SQLITE_ROW) return make_error(last_error());
    last_seq_ = static_cast<std::uint64_t>(sqlite3_column_int64(st, 0));
    sqlite3_reset(st);
    street_last_.clear();
    st = stmt("SELECT street_code, seq FROM street_heads");
    if (!st) return make_error(last_error());
    while (sqlite3_step(st) == SQLITE_ROW)
        street_last_[col(st, 0)] = static_cast<std::uint64_t>(sqlite3_column_int64(st, 1));
    sqlite3_reset(st);
    return {};
}

Store::~Store() {
    for (auto& [_, st] : stmts_) sqlite3_finalize(st);
    if (db_) sqlite3_close(db_);
}

Result<void> Store::begin() {
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
    in_tx_ = true;
    tx_start_seq_ = last_seq_;
    tx_start_street_last_ = street_last_;
    return {};
}

Result<void> Store::commit() {
    // The streets' heads and the day's serial once per commit, not per event or case.
    for (const auto& [street, seq] : street_last_)
        if (auto it = tx_start_street_last_.find(street); it == tx_start_street_last_.end() || it->second != seq)
            if (auto r = write_street_head(street, seq); !r) {
                rollback();
                return r;
            }
    if (auto r = write_serial(); !r) {
        rollback();
        return r;
    }
    if (auto r = exec("COMMIT"); !r) {
        rollback();
        return r;
    }
    in_tx_ = false;
    last_issued_case_.clear();
    issued_case_state_.reset();
    corr_cache_dirty_ = false;
    if (corr_cache_) corr_cache_->evict();
    return {};
}

void Store::rollback() {
    (void)exec("ROLLBACK");
    in_tx_ = false;
    last_seq_ = tx_start_seq_;  // the seqs handed out in the transaction were never written
    street_last_ = tx_start_street_last_;
    serial_day_.clear();
    serial_dirty_ = false;
    last_issued_case_.clear();
    issued_case_state_.reset();
    if (corr_cache_dirty_) {
        // Rare (a store error): rebuilding from the tables is simpler than an undo log. If even
        // that fails, the cache stays empty and unloaded, and every search goes to SQLite.
        corr_cache_dirty_ = false;
        (void)load_corr_cache();
    }
}

Result<std::optional<std::string>> Store::cursor(std::string_view adapter) {
    sqlite3_stmt* st = stmt("SELECT cursor FROM hub_state WHERE key = 'adapter:' || ?");
    bind_text(st, 1, adapter);
    int rc = sqlite3_step(st);
    std::optional<std::string> out;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) out = col(st, 0);  // NULL: counters, no cursor yet
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return make_error("reading cursor of " + std::string(adapter) + ": " + last_error());
    return out;
}

Result<std::optional<SourceRow>> Store::find_source(std::string_view system, std::string_view record_id) {
    sqlite3_stmt* st = stmt(
        "SELECT case_id, version, version_form, raw_sha256, status, status_native FROM source_records"
        " WHERE system=? AND record_id=?");
    bind_text_nocopy(st, 1, system);
    bind_text_nocopy(st, 2, record_id);
    int rc = sqlite3_step(st);
    std::optional<SourceRow> out;
    if (rc == SQLITE_ROW) out = SourceRow{col(st, 0), col(st, 1), col(st, 2), col(st, 3), col(st, 4), col(st, 5)};
    else if (rc != SQLITE_DONE) return make_error(last_error());
    sqlite3_reset(st);
    return out;
}

Result<std::optional<std::string>> Store::case_doc(std::string_view case_id) {
    sqlite3_stmt* st = stmt("SELECT doc FROM cases WHERE case_id=?");
    bind_text(st, 1, case_id);
    int rc = sqlite3_step(st);
    std::optional<std::string> out;
    if (rc == SQLITE_ROW) out = col(st, 0);
    else if (rc != SQLITE_DONE) return make_error(last_error());
    sqlite3_reset(st);
    return out;
}

Result<std::map<std::string, Counters>> Store::counters() {
    sqlite3_stmt* st = stmt("SELECT adapter, records_in, applied, duplicates, same_version_changed, stale,"
                            " dead_lettered FROM adapter_counters");
    std::map<std::string, Counters> out;
    while (sqlite3_step(st) == SQLITE_ROW) {
        Counters c{sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                   sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5), sqlite3_column_int64(st, 6)};
        out[col(st, 0)] = c;
    }
    sqlite3_reset(st);
    return out;
}

namespace {
DeadLetterRow read_letter(sqlite3_stmt* st) {
    DeadLetterRow d;
    d.id = sqlite3_column_int64(st, 0);
    d.adapter = col(st, 1);
    d.stage = col(st, 2);
    d.reason = col(st, 3);
    d.path = col(st, 4);
    d.detail = col(st, 5);
    d.cursor = col(st, 6);
    d.doc = col(st, 7);
    d.received_at = sqlite3_column_int64(st, 8);
    if (sqlite3_column_type(st, 9) != SQLITE_NULL) d.replayed_at = sqlite3_column_int64(st, 9);
    d.replay_outcome = col(st, 10);
    return d;
}
constexpr const char* kLetterCols =
    "id, adapter, stage, reason, path, detail, cursor, doc, received_at, replayed_at, replay_outcome";
}  // namespace

Result<std::vector<DeadLetterRow>> Store::dead_letters(std::string_view adapter, std::int64_t after_id,
                                                       int limit, bool include_replayed) {
    static const std::string sql = std::string("SELECT ") + kLetterCols +
                                   " FROM dead_letters WHERE id > ? AND (?='' OR adapter=?)"
                                   " AND (? OR replayed_at IS NULL OR replay_outcome != 'applied') ORDER BY id LIMIT ?";
    sqlite3_stmt* st = stmt(sql.c_str());
    sqlite3_bind_int64(st, 1, after_id);
    bind_text(st, 2, adapter);
    bind_text(st, 3, adapter);
    sqlite3_bind_int(st, 4, include_replayed ? 1 : 0);
    sqlite3_bind_int(st, 5, limit);
    std::vector<DeadLetterRow> out;
    while (sqlite3_step(st) == SQLITE_ROW) out.push_back(read_letter(st));
    sqlite3_reset(st);
    return out;
}

Result<std::optional<DeadLetterRow>> Store::dead_letter(std::int64_t id) {
    static const std::string sql = std::string("SELECT ") + kLetterCols + " FROM dead_letters WHERE id=?";
    sqlite3_stmt* st = stmt(sql.c_str());
    sqlite3_bind_int64(st, 1, id);
    std::optional<DeadLetterRow> out;
    if (sqlite3_step(st) == SQLITE_ROW) out = read_letter(st);
    sqlite3_reset(st);
    return out;
}

#define CASEHUB_STEP(st, what)                                                   \
    do {                                                                         \
        if (!(st)) return make_error(std::string(what) + ": " + last_error());   \
        int rc_ = sqlite3_step(st);                                              \
        sqlite3_reset(st);                                                       \
        if (rc_ != SQLITE_DONE) return make_error(std::string(what) + ": " + last_error()); \
    } while (0)

Result<void> Store::set_cursor(std::string_view adapter, std::string_view cursor) {
    sqlite3_stmt* st = stmt(
        "INSERT INTO hub_state(key, cursor, updated_at) VALUES('adapter:' || ?, ?, strftime('%s','now')*1000)"
        " ON CONFLICT(key) DO UPDATE SET cursor=excluded.cursor, updated_at=excluded.updated_at");
    bind_text(st, 1, adapter);
    bind_text(st, 2, cursor);
    CASEHUB_STEP(st, "writing cursor");
    return {};
}

Result<std::int64_t> Store::put_source(std::string_view system, std::string_view record_id, const SourceRow& r,
                                       std::string_view adapter, std::string_view doc, std::int64_t received_at) {
    sqlite3_stmt* st = stmt(
        "INSERT INTO source_records(system, record_id, case_id, version, version_form, raw_sha256,"
        " status, status_native, adapter, received_at, doc) VALUES(?,?,?,?,?,?,?,?,?,?,?)"
        // An update in place, not OR REPLACE: that deletes the row and inserts it again with a
        // new rowid, which rewrites every index entry of the row, changed or not.
        " ON CONFLICT(system, record_id) DO UPDATE SET case_id=excluded.case_id, version=excluded.version,"
        " version_form=excluded.version_form, raw_sha256=excluded.raw_sha256, status=excluded.status,"
        " status_native=excluded.status_native, adapter=excluded.adapter, received_at=excluded.received_at,"
        " doc=excluded.doc");
    bind_text_nocopy(st, 1, system);
    bind_text_nocopy(st, 2, record_id);
    bind_text_nocopy(st, 3, r.case_id);
    bind_text_nocopy(st, 4, r.version);
    bind_text_nocopy(st, 5, r.version_form);
    bind_text_nocopy(st, 6, r.raw_sha256);
    bind_text_nocopy(st, 7, r.status);
    bind_text_nocopy(st, 8, r.status_native);
    bind_text_nocopy(st, 9, adapter);
    sqlite3_bind_int64(st, 10, received_at);
    bind_blob_nocopy(st, 11, doc);
    // The upsert's update leaves last_insert_rowid alone: 0 from here says "updated in place".
    sqlite3_set_last_insert_rowid(db_, 0);
    CASEHUB_STEP(st, "writing source record");
    return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<void> Store::put_case(const CaseRow& c, std::uint64_t seq) {
    sqlite3_stmt* st = stmt(
        "INSERT INTO case_rows(case_id, seq, status, street_code, community_code, grid_code,"
        " category_code, category_family, priority, created_at, updated_at, merged_into, ended_at)"
        " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)"
        // In place (see put_source): of the five indexes only those whose columns changed are
        // written; seq always changes, the status and street seldom.
        " ON CONFLICT(case_id) DO UPDATE SET seq=excluded.seq, status=excluded.status,"
        " street_code=excluded.street_code, community_code=excluded.community_code,"
        " grid_code=excluded.grid_code, category_code=excluded.category_code,"
        " category_family=excluded.category_family, priority=excluded.priority,"
        " created_at=excluded.created_at, updated_at=excluded.updated_at,"
        " merged_into=excluded.merged_into, ended_at=excluded.ended_at");
    bind_text_nocopy(st, 1, c.case_id);
    sqlite3_bind_int64(st, 2, static_cast<std::int64_t>(seq));
    bind_text_nocopy(st, 3, c.status);
    bind_text_nocopy(st, 4, c.street_code);
    bind_text_nocopy(st, 5, c.community_code);
    bind_text_nocopy(st, 6, c.grid_code);
    bind_text_nocopy(st, 7, c.category_code);
    bind_text_nocopy(st, 8, c.category_family);
    bind_text_nocopy(st, 9, c.priority);
    sqlite3_bind_int64(st, 10, c.created_at);
    sqlite3_bind_int64(st, 11, c.updated_at);
    if (c.merged_into) bind_text_nocopy(st, 12, *c.merged_into);
    sqlite3_bind_int64(st, 13, c.ended_at);
    CASEHUB_STEP(st, "writing case");
    if (!cache_on()) return {};
    if (corr_cache_->tracks_case(c.case_id)) {
        corr_cache_->case_written(c.case_id, c.ended_at, c.merged_into.has_value());
        corr_cache_dirty_ = true;
    } else if (c.case_id == last_issued_case_) {
        issued_case_state_.emplace(c.ended_at, c.merged_into.has_value());  // for its first profile (put_corr_record)
    }
    return {};
}

Result<void> Store::write_street_head(std::string_view street, std::uint64_t seq) {
    sqlite3_stmt* st = stmt("INSERT INTO hub_state(key, n) VALUES('street:' || ?, ?) ON CONFLICT(key) DO UPDATE SET n = excluded.n");
    bind_text_nocopy(st, 1, street);
    sqlite3_bind_int64(st, 2, static_cast<std::int64_t>(seq));
    CASEHUB_STEP(st, "writing the head of street " + std::string(street));
    return {};
}

Result<void> Store::write_serial() {
    if (!serial_dirty_) return {};
    sqlite3_stmt* st = stmt("INSERT INTO hub_state(key, n) VALUES('serial:' || ?, ?) ON CONFLICT(key) DO UPDATE SET n = excluded.n");
    bind_text_nocopy(st, 1, serial_day_);
    sqlite3_bind_int64(st, 2, serial_n_);
    CASEHUB_STEP(st, "writing the serial of " + serial_day_);
    serial_dirty_ = false;
    return {};
}

Result<void> Store::append_event(EventRow& e) {
    if (!e.detail_canonical && !e.detail.empty()) {
        // Written by nlohmann's dump() too, but not said so: made sure of (kDetailCanonicalFrom).
        const auto d = nlohmann::json::parse(e.detail, nullptr, false);
        if (!d.is_object())
            return make_error(path_.string() + ": appending a " + e.type + " event of case " + e.case_id +
                              ": its detail is not a JSON object");
        e.detail = d.dump();
        e.detail_canonical = true;
    }
    e.seq = last_seq_ + 1;
    auto it = street_last_.find(e.street_code);
    e.prev_street_seq = it == street_last_.end() ? 0 : it->second;
    sqlite3_stmt* st = stmt(
        "INSERT INTO events(seq, case_id, type, street_code, prev_street_seq, community_code, grid_code,"
        " category_family, status, at, detail, doc) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)");
    sqlite3_bind_int64(st, 1, static_cast<std::int64_t>(e.seq));
    bind_text_nocopy(st, 2, e.case_id);
    bind_text_nocopy(st, 3, e.type);
    bind_text_nocopy(st, 4, e.street_code);
    sqlite3_bind_int64(st, 5, static_cast<std::int64_t>(e.prev_street_seq));
    bind_text_nocopy(st, 6, e.community_code);
    bind_text_nocopy(st, 7, e.grid_code);
    bind_text_nocopy(st, 8, e.category_family);
    bind_text_nocopy(st, 9, e.status);
    sqlite3_bind_int64(st, 10, e.at);
    bind_text_nocopy(st, 11, e.detail);
    bind_blob_nocopy(st, 12, e.doc);
    CASEHUB_STEP(st, "appending event");
    last_seq_ = e.seq;
    street_last_[e.street_code] = e.seq;
    if (!in_tx_) return write_street_head(e.street_code, e.seq);  // commit() writes them otherwise
    return {};
}

Result<std::string> Store::next_case_id(std::string_view day) {
    // The day's serial is read once, counted here and written at commit (write_serial), not
    // upserted per case: that statement was 2 % of the intake thread. A rollback forgets the
    // count, so the serials it handed out are handed out again.
    if (serial_day_ != day) {
        if (auto w = write_serial(); !w) return w.error();  // the day counted before, if any
        sqlite3_stmt* st = stmt("SELECT n FROM hub_state WHERE key = 'serial:' || ?");
        bind_text(st, 1, day);
        const int rc = sqlite3_step(st);
        const std::int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) return make_error("issuing a case id: " + last_error());
        serial_day_ = day;
        serial_n_ = n;
    }
    const std::int64_t n = ++serial_n_;
    serial_dirty_ = true;
    if (!in_tx_)
        if (auto w = write_serial(); !w) return w.error();
    char buf[32];
    std::snprintf(buf, sizeof buf, "-%06lld", static_cast<long long>(n));
    last_issued_case_ = "C" + std::string(day) + buf;
    issued_case_state_.reset();
    return last_issued_case_;
}

Result<std::int64_t> Store::add_dead_letter(const DeadLetterRow& d) {
    sqlite3_stmt* st = stmt("INSERT INTO dead_letters(adapter, received_at, stage, reason, path, detail, cursor, doc)"
                            " VALUES(?,?,?,?,?,?,?,?)");
    bind_text(st, 1, d.adapter);
    sqlite3_bind_int64(st, 2, d.received_at);
    bind_text(st, 3, d.stage);
    bind_text(st, 4, d.reason);
    bind_text(st, 5, d.path);
    bind_text(st, 6, d.detail);
    bind_text(st, 7, d.cursor);
    bind_blob(st, 8, d.doc);
    CASEHUB_STEP(st, "writing dead letter");
    return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_));
}

// ---- cases and write-backs ----------------------------------------------------------------

Result<std::optional<CaseRow>> Store::find_case(std::string_view case_id) {
    sqlite3_stmt* st = stmt("SELECT case_id, status, street_code, community_code, grid_code, category_code,"
                            " category_family, priority, created_at, updated_at, merged_into, doc, ended_at"
                            " FROM cases WHERE case_id=?");
    bind_text_nocopy(st, 1, case_id);
    std::optional<CaseRow> out;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        CaseRow c{col(st, 0), col(st, 1), col(st, 2), col(st, 3), col(st, 4), col(st, 5), col(st, 6),
                  col(st, 7), sqlite3_column_int64(st, 8), sqlite3_column_int64(st, 9), std::nullopt, col(st, 11)};
        if (sqlite3_column_type(st, 10) != SQLITE_NULL) c.merged_into = col(st, 10);
        c.ended_at = sqlite3_column_int64(st, 12);
        out = std::move(c);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<std::vector<CaseSource>> Store::sources_of_case(std::string_view case_id) {
    sqlite3_stmt* st = stmt("SELECT system, record_id, adapter, doc FROM source_records WHERE case_id=?"
                            " ORDER BY system, record_id");
    bind_text_nocopy(st, 1, case_id);
    std::vector<CaseSource> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back({col(st, 0), col(st, 1), col(st, 2), col(st, 3)});
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<void> Store::put_corr_record(std::int64_t id, const CorrRecordRow& r) {
    // A new profile (always, from the pipeline: its record's row is new). Should the row id have
    // a profile already, the new one replaces it in place.
    sqlite3_stmt* st = stmt(
        "INSERT INTO corr_records(id, system, record_id, case_id, located, lon, lat, precision_m, reported_at,"
        " category, family, text, address, place, x0, x1, y0, y1, t0, t1) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT(id) DO UPDATE SET system=excluded.system, record_id=excluded.record_id, case_id=excluded.case_id,"
        " located=excluded.located, lon=excluded.lon, lat=excluded.lat, precision_m=excluded.precision_m,"
        " reported_at=excluded.reported_at, category=excluded.category, family=excluded.family, text=excluded.text,"
        " address=excluded.address, place=excluded.place, x0=excluded.x0, x1=excluded.x1, y0=excluded.y0,"
        " y1=excluded.y1, t0=excluded.t0, t1=excluded.t1");
    if (!st) return make_error("writing correlation profile: " + last_error());
    sqlite3_bind_int64(st, 1, id);
    bind_text_nocopy(st, 2, r.system);
    bind_text_nocopy(st, 3, r.record_id);
    bind_text_nocopy(st, 4, r.case_id);
    sqlite3_bind_int(st, 5, r.located ? 1 : 0);
    sqlite3_bind_double(st, 6, r.lon);
    sqlite3_bind_double(st, 7, r.lat);
    sqlite3_bind_int(st, 8, r.precision_m);
    sqlite3_bind_int64(st, 9, r.reported_ms);
    bind_text_nocopy(st, 10, r.category);
    bind_text_nocopy(st, 11, r.family);
    bind_blob_nocopy(st, 12, r.text);
    bind_blob_nocopy(st, 13, r.address);
    bind_text_nocopy(st, 14, r.place);
    const std::int32_t box[6] = {r.box.x0, r.box.x1, r.box.y0, r.box.y1, r.box.t0, r.box.t1};
    assert(!r.located || r.box.t1 - r.box.t0 <= kCorrMaxBoxMinutes);
    for (int k = 0; k < 6; ++k) {
        if (r.located)
            sqlite3_bind_int(st, 15 + k, box[k]);
        else
            sqlite3_bind_null(st, 15 + k);
    }
    CASEHUB_STEP(st, "writing correlation profile");
    if (!cache_on()) return {};
    corr_cache_dirty_ = true;
    // A join: the cache knows the case. A case just opened: put_case wrote it first and said how
    // it stands (issued_case_state_), as case_state() would read it back.
    if (corr_cache_->tracks_case(r.case_id)) {
        corr_cache_->insert(id, r, 0, false);  // (the state passed counts only for a case it does not know)
        return {};
    }
    if (issued_case_state_ && r.case_id == last_issued_case_) {
        corr_cache_->insert(id, r, issued_case_state_->first, issued_case_state_->second);
        return {};
    }
    auto state = case_state(r.case_id);
    if (!state) return state.error();
    corr_cache_->insert(id, r, state->first, state->second);
    return {};
}

Result<std::pair<std::int64_t, bool>> Store::case_state(std::string_view case_id) {
    sqlite3_stmt* st = stmt("SELECT ended_at, merged_into IS NOT NULL FROM case_rows WHERE case_id=?");
    bind_text_nocopy(st, 1, case_id);
    const int rc = sqlite3_step(st);
    std::pair<std::int64_t, bool> out{0, false};
    if (rc == SQLITE_ROW) out = {sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1) != 0};
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return make_error("reading a case's state: " + last_error());
    return out;
}

// ---- the correlation cache (store/corr_cache.hpp) ------------------------------------------

namespace {
// A profile as the cache takes it, with its case's state (a profile whose case is not written
// yet counts as active and unmerged, as put_corr_record does).
constexpr const char* kCorrRowSelect =
    "SELECT p.id, p.x0, p.x1, p.y0, p.y1, p.t0, p.t1, p.system, p.record_id, p.case_id, p.located, p.lon, p.lat,"
    " p.precision_m, p.reported_at, p.category, p.family, p.text, p.address, p.place,"
    " coalesce(c.ended_at, 0), c.merged_into IS NOT NULL"
    " FROM corr_records p LEFT JOIN case_rows c ON c.case_id = p.case_id";
}  // namespace

Result<void> Store::cache_corr_rows(sqlite3_stmt* st) {
    int rc;
    CorrRecordRow r;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const std::int64_t id = sqlite3_column_int64(st, 0);
        r.box = {sqlite3_column_int(st, 1), sqlite3_column_int(st, 2), sqlite3_column_int(st, 3),
                 sqlite3_column_int(st, 4), sqlite3_column_int(st, 5), sqlite3_column_int(st, 6)};
        r.system = col(st, 7);
        r.record_id = col(st, 8);
        r.case_id = col(st, 9);
        r.located = sqlite3_column_int(st, 10) != 0;
        r.lon = sqlite3_column_double(st, 11);
        r.lat = sqlite3_column_double(st, 12);
        r.precision_m = sqlite3_column_int(st, 13);
        r.reported_ms = sqlite3_column_int64(st, 14);
        r.category = col(st, 15);
        r.family = col(st, 16);
        r.text = col(st, 17);
        r.address = col(st, 18);
        r.place = col(st, 19);
        r.date_only = r.box.t1 > r.box.t0;
        corr_cache_->insert(id, r, sqlite3_column_int64(st, 20), sqlite3_column_int(st, 21) != 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return make_error("loading the correlation cache: " + last_error());
    return {};
}

Result<void> Store::cache_corr_row(std::int64_t id) {
    static const std::string sql = std::string(kCorrRowSelect) + " WHERE p.id = ? AND p.t0 IS NOT NULL";
    sqlite3_stmt* st = stmt(sql.c_str());
    if (!st) return make_error("loading the correlation cache: " + last_error());
    sqlite3_bind_int64(st, 1, id);
    corr_cache_->forget(id);
    return cache_corr_rows(st);
}

Result<void> Store::load_corr_cache() {
    corr_cache_->clear();
    // The latest box start (t1 is at most a day later): what the memory window is counted from.
    sqlite3_stmt* st = stmt("SELECT max(t0) FROM corr_records WHERE t0 IS NOT NULL");
    if (!st || sqlite3_step(st) != SQLITE_ROW) return make_error("loading the correlation cache: " + last_error());
    const bool empty = sqlite3_column_type(st, 0) == SQLITE_NULL;
    const std::int64_t latest = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    const std::int32_t floor = empty ? INT32_MIN : static_cast<std::int32_t>(latest - corr_cache_->keep_minutes());
    static const std::string sql = std::string(kCorrRowSelect) + " WHERE p.t0 >= ?1 - " +
                                   std::to_string(kCorrMaxBoxMinutes) + " AND p.t1 >= ?1";
    st = stmt(sql.c_str());
    if (!st) return make_error("loading the correlation cache: " + last_error());
    sqlite3_bind_int(st, 1, floor);
    if (auto r = cache_corr_rows(st); !r) {
        corr_cache_->clear();
        return r;
    }
    corr_cache_->set_loaded(floor);
    return {};
}

bool Store::cache_on() const { return corr_cache_ && corr_cache_->loaded(); }

Result<void> Store::enable_corr_cache(std::int32_t keep_minutes) {
    corr_cache_ = std::make_unique<CorrCache>(keep_minutes);
    return load_corr_cache();
}

std::pair<std::size_t, std::size_t> Store::corr_cache_size() const {
    return corr_cache_ ? std::make_pair(corr_cache_->size(), corr_cache_->cases()) : std::make_pair(std::size_t{0}, std::size_t{0});
}

Result<int> Store::corr_candidates(const CorrBox& q, std::string_view families, int limit,
                                   const std::function<Result<void>(const CorrHit&)>& visit) {
    if (corr_cache_ && corr_cache_->covers(q)) {
        std::optional<Error> failed;
        CorrHit h;
        const int n = corr_cache_->search(q, families, limit, [&](const CorrRecordRow& r, std::int64_t ended_at) {
            h.system = r.system;
            h.record_id = r.record_id;
            h.case_id = r.case_id;
            h.located = r.located;
            h.lon = r.lon;
            h.lat = r.lat;
            h.precision_m = r.precision_m;
            h.reported_ms = r.reported_ms;
            h.category = r.category;
            h.family = r.family;
            h.text = r.text;
            h.address = r.address;
            h.case_ended_ms = ended_at;
            h.date_only = r.box.t1 > r.box.t0;
            h.place = r.place;
            if (auto v = visit(h); !v) {
                failed = v.error();
                return false;
            }
            return true;
        });
        if (failed) return *failed;
        return n;
    }
    sqlite3_stmt* st = stmt(
        "SELECT p.system, p.record_id, p.case_id, p.located, p.lon, p.lat, p.precision_m, p.reported_at,"
        " p.category, p.family, p.text, p.address, c.ended_at, p.t0, p.t1, p.place"
        " FROM corr_records p JOIN case_rows c ON c.case_id = p.case_id"
        // The time index bounds the scan: a box starts at most kCorrMaxBoxMinutes (1440) before it ends.
        " WHERE p.t0 BETWEEN ?5 - 1440 AND ?6 AND p.t1 >= ?5 AND p.x0 <= ?2 AND p.x1 >= ?1 AND p.y0 <= ?4 AND p.y1 >= ?3"
        " AND (?8 = '' OR p.category = 'other.unclassified' OR instr(?8, ',' || p.family || ',') > 0)"
        " AND c.merged_into IS NULL LIMIT ?7");
    static_assert(kCorrMaxBoxMinutes == 1440, "the query above spells it out");
    const std::int32_t b[6] = {q.x0, q.x1, q.y0, q.y1, q.t0, q.t1};
    for (int k = 0; k < 6; ++k) sqlite3_bind_int(st, 1 + k, b[k]);
    sqlite3_bind_int(st, 7, limit);
    bind_text(st, 8, families);
    auto view = [st](int i) {
        const void* p = sqlite3_column_blob(st, i);
        return p ? std::string_view(static_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(st, i)))
                 : std::string_view();
    };
    int n = 0, rc;
    CorrHit h;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        h.system = view(0);
        h.record_id = view(1);
        h.case_id = view(2);
        h.located = sqlite3_column_int(st, 3) != 0;
        h.lon = sqlite3_column_double(st, 4);
        h.lat = sqlite3_column_double(st, 5);
        h.precision_m = sqlite3_column_int(st, 6);
        h.reported_ms = sqlite3_column_int64(st, 7);
        h.category = view(8);
        h.family = view(9);
        h.text = view(10);
        h.address = view(11);
        h.case_ended_ms = sqlite3_column_int64(st, 12);
        h.date_only = sqlite3_column_int(st, 14) > sqlite3_column_int(st, 13);
        h.place = view(15);
        ++n;
        if (auto r = visit(h); !r) {
            sqlite3_reset(st);
            return r.error();
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return make_error("searching the correlation index: " + last_error());
    return n;
}

// Steps a bound query whose rows are two text columns.
Result<std::vector<std::pair<std::string, std::string>>> Store::text_pairs(sqlite3_stmt* st) {
    std::vector<std::pair<std::string, std::string>> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.emplace_back(col(st, 0), col(st, 1));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

// Steps a bound query: does it return a row?
Result<bool> Store::any_row(sqlite3_stmt* st) {
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return make_error(last_error());
    return rc == SQLITE_ROW;
}

Result<void> Store::add_record_link(std::string_view target, std::string_view source, std::string_view relation) {
    sqlite3_stmt* st = stmt("INSERT OR IGNORE INTO record_links(target, source, relation) VALUES(?,?,?)");
    bind_text(st, 1, target);
    bind_text(st, 2, source);
    bind_text(st, 3, relation);
    CASEHUB_STEP(st, "writing record link");
    return {};
}

Result<std::vector<std::pair<std::string, std::string>>> Store::records_linking_to(std::string_view target) {
    sqlite3_stmt* st = stmt("SELECT source, relation FROM record_links WHERE target=?");
    bind_text(st, 1, target);
    return text_pairs(st);
}

Result<void> Store::add_split_pair(std::string_view a, std::string_view b) {
    split_pairs_maybe_ = true;
    for (int k = 0; k < 2; ++k) {
        sqlite3_stmt* st = stmt("INSERT OR IGNORE INTO split_pairs(a, b) VALUES(?,?)");
        bind_text(st, 1, k ? b : a);
        bind_text(st, 2, k ? a : b);
        CASEHUB_STEP(st, "writing split pair");
    }
    return {};
}

Result<bool> Store::has_split_pairs(std::string_view a) {
    // Asked for every new record, and the table is empty in most stores: ask it once.
    if (!split_pairs_maybe_) {
        sqlite3_stmt* any = stmt("SELECT 1 FROM split_pairs LIMIT 1");
        auto found = any_row(any);
        if (!found) return found.error();
        if (!*found) return false;
        split_pairs_maybe_ = true;  // only add_split_pair adds rows; once true, it stays true
    }
    sqlite3_stmt* st = stmt("SELECT 1 FROM split_pairs WHERE a=? LIMIT 1");
    bind_text(st, 1, a);
    return any_row(st);
}

Result<bool> Store::split_pair(std::string_view a, std::string_view b) {
    sqlite3_stmt* st = stmt("SELECT 1 FROM split_pairs WHERE a=? AND b=?");
    bind_text(st, 1, a);
    bind_text(st, 2, b);
    return any_row(st);
}

Result<std::vector<std::pair<std::string, std::string>>> Store::corr_members(std::string_view case_id) {
    // In rowid order (the correlator keeps the first of equal penalties), which the covering
    // index corr_records_case_members gives without a sort.
    sqlite3_stmt* st = stmt("SELECT system, place FROM corr_records WHERE case_id=? ORDER BY id");
    bind_text(st, 1, case_id);
    return text_pairs(st);
}

Result<void> Store::move_record(std::string_view system, std::string_view record_id, std::string_view case_id) {
    // The record's row id is its profile's id (schema 9).
    sqlite3_stmt* st = stmt("UPDATE source_records SET case_id=?3 WHERE system=?1 AND record_id=?2 RETURNING rowid");
    bind_text(st, 1, system);
    bind_text(st, 2, record_id);
    bind_text(st, 3, case_id);
    int rc = sqlite3_step(st);
    const std::int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc == SQLITE_ROW) rc = sqlite3_step(st);  // (runs the statement to its end)
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return make_error("moving a record to another case: " + last_error());
    if (id == 0) return {};
    st = stmt("UPDATE corr_records SET case_id=?2 WHERE id=?1");
    sqlite3_bind_int64(st, 1, id);
    bind_text(st, 2, case_id);
    CASEHUB_STEP(st, "moving a record to another case");
    if (!cache_on() || sqlite3_changes(db_) == 0) return {};
    corr_cache_dirty_ = true;
    return cache_corr_row(id);
}

namespace {
constexpr const char* kWritebackCols =
    "id, case_id, adapter, system, record_id, action, state, attempts, next_at, last_error, created_at, updated_at";
WritebackRow read_writeback(sqlite3_stmt* st) {
    WritebackRow w;
    w.id = sqlite3_column_int64(st, 0);
    w.case_id = col(st, 1);
    w.adapter = col(st, 2);
    w.system = col(st, 3);
    w.record_id = col(st, 4);
    w.action = col(st, 5);
    w.state = col(st, 6);
    w.attempts = sqlite3_column_int(st, 7);
    w.next_at = sqlite3_column_int64(st, 8);
    w.last_error = col(st, 9);
    w.created_at = sqlite3_column_int64(st, 10);
    w.updated_at = sqlite3_column_int64(st, 11);
    return w;
}
}  // namespace

Result<std::int64_t> Store::add_writeback(const WritebackRow& w) {
    sqlite3_stmt* st = stmt("INSERT INTO writebacks(case_id, adapter, system, record_id, action, state, attempts,"
                            " next_at, last_error, created_at, updated_at) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    bind_text(st, 1, w.case_id);
    bind_text(st, 2, w.adapter);
    bind_text(st, 3, w.system);
    bind_text(st, 4, w.record_id);
    bind_text(st, 5, w.action);
    bind_text(st, 6, w.state);
    sqlite3_bind_int(st, 7, w.attempts);
    sqlite3_bind_int64(st, 8, w.next_at);
    bind_text(st, 9, w.last_error);
    sqlite3_bind_int64(st, 10, w.created_at);
    sqlite3_bind_int64(st, 11, w.updated_at);
    CASEHUB_STEP(st, "writing write-back");
    return static_cast<std::int64_t>(sqlite3_last_insert_rowid(db_));
}

Result<void> Store::update_writeback(const WritebackRow& w) {
    sqlite3_stmt* st = stmt("UPDATE writebacks SET state=?, attempts=?, next_at=?, last_error=?, updated_at=?,"
                            " action=? WHERE id=?");
    bind_text(st, 1, w.state);
    sqlite3_bind_int(st, 2, w.attempts);
    sqlite3_bind_int64(st, 3, w.next_at);
    bind_text(st, 4, w.last_error);
    sqlite3_bind_int64(st, 5, w.updated_at);
    bind_text(st, 6, w.action);
    sqlite3_bind_int64(st, 7, w.id);
    CASEHUB_STEP(st, "updating write-back");
    return {};
}

Result<std::optional<WritebackRow>> Store::one_writeback(sqlite3_stmt* st) {
    std::optional<WritebackRow> out;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) out = read_writeback(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<std::optional<WritebackRow>> Store::next_writeback(std::string_view adapter) {
    static const std::string sql = std::string("SELECT ") + kWritebackCols +
                                   " FROM writebacks WHERE adapter=? AND state='pending' ORDER BY id LIMIT 1";
    sqlite3_stmt* st = stmt(sql.c_str());
    bind_text(st, 1, adapter);
    return one_writeback(st);
}

Result<std::optional<WritebackRow>> Store::writeback(std::int64_t id) {
    static const std::string sql = std::string("SELECT ") + kWritebackCols + " FROM writebacks WHERE id=?";
    sqlite3_stmt* st = stmt(sql.c_str());
    sqlite3_bind_int64(st, 1, id);
    return one_writeback(st);
}

Result<std::vector<WritebackRow>> Store::writebacks_of_case(std::string_view case_id) {
    static const std::string sql = std::string("SELECT ") + kWritebackCols +
                                   " FROM writebacks WHERE case_id=? ORDER BY id";
    sqlite3_stmt* st = stmt(sql.c_str());
    bind_text(st, 1, case_id);
    std::vector<WritebackRow> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(read_writeback(st));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<void> Store::mark_replayed(std::int64_t id, std::int64_t at, std::string_view outcome) {
    sqlite3_stmt* st = stmt("UPDATE dead_letters SET replayed_at=?, replay_outcome=? WHERE id=?");
    sqlite3_bind_int64(st, 1, at);
    bind_text(st, 2, outcome);
    sqlite3_bind_int64(st, 3, id);
    CASEHUB_STEP(st, "marking dead letter replayed");
    return {};
}

Result<int> Store::purge_dead_letters(std::string_view adapter, bool only_replayed) {
    sqlite3_stmt* st = stmt("DELETE FROM dead_letters WHERE (?='' OR adapter=?) AND (NOT ? OR replay_outcome='applied')");
    bind_text(st, 1, adapter);
    bind_text(st, 2, adapter);
    sqlite3_bind_int(st, 3, only_replayed ? 1 : 0);
    CASEHUB_STEP(st, "purging dead letters");
    return sqlite3_changes(db_);
}

Result<void> Store::add_counters(std::string_view adapter, const Counters& c) {
    sqlite3_stmt* st = stmt(
        "INSERT INTO hub_state(key, records_in, applied, duplicates, same_version_changed, stale,"
        " dead_lettered) VALUES('adapter:' || ?,?,?,?,?,?,?) ON CONFLICT(key) DO UPDATE SET"
        " records_in=coalesce(records_in, 0)+excluded.records_in, applied=coalesce(applied, 0)+excluded.applied,"
        " duplicates=coalesce(duplicates, 0)+excluded.duplicates,"
        " same_version_changed=coalesce(same_version_changed, 0)+excluded.same_version_changed,"
        " stale=coalesce(stale, 0)+excluded.stale, dead_lettered=coalesce(dead_lettered, 0)+excluded.dead_lettered");
    bind_text(st, 1, adapter);
    sqlite3_bind_int64(st, 2, c.records_in);
    sqlite3_bind_int64(st, 3, c.applied);
    sqlite3_bind_int64(st, 4, c.duplicates);
    sqlite3_bind_int64(st, 5, c.same_version_changed);
    sqlite3_bind_int64(st, 6, c.stale);
    sqlite3_bind_int64(st, 7, c.dead_lettered);
    CASEHUB_STEP(st, "writing counters");
    return {};
}

// ---- command centre -----------------------------------------------------------------------

Result<std::optional<std::string>> Store::meta(std::string_view key) {
    sqlite3_stmt* st = stmt("SELECT value FROM meta WHERE key=?");
    bind_text(st, 1, key);
    std::optional<std::string> out;
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) out = col(st, 0);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<void> Store::set_meta(std::string_view key, std::string_view value) {
    sqlite3_stmt* st = stmt("INSERT INTO meta(key, value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value");
    bind_text(st, 1, key);
    bind_text(st, 2, value);
    CASEHUB_STEP(st, "writing meta");
    return {};
}

Result<std::string> Store::next_whistle_id(std::string_view day) {
    std::string prefix = "W";
    prefix += day;
    prefix += '-';
    sqlite3_stmt* st = stmt("SELECT max(whistle_id) FROM whistles WHERE whistle_id >= ?1 AND whistle_id < ?1 || '~'");
    bind_text(st, 1, prefix);
    const int rc = sqlite3_step(st);
    std::string last = rc == SQLITE_ROW ? col(st, 0) : std::string();
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return make_error("issuing a whistle id: " + last_error());
    long long n = 0;
    if (last.size() > prefix.size()) n = std::atoll(last.c_str() + prefix.size());
    std::string serial = std::to_string(n + 1);
    if (serial.size() < 4) serial.insert(0, 4 - serial.size(), '0');
    std::string id = prefix;
    id += serial;
    return id;
}

namespace {
constexpr const char* kWhistleCols =
    "whistle_id, case_id, street_code, tier, kind, state, opened_at, closed_at, outcome, next_due_at, alerted";
WhistleRow read_whistle(sqlite3_stmt* st) {
    WhistleRow w;
    w.whistle_id = col(st, 0);
    w.case_id = col(st, 1);
    w.street_code = col(st, 2);
    w.tier = col(st, 3);
    w.kind = col(st, 4);
    w.state = col(st, 5);
    w.opened_at = sqlite3_column_int64(st, 6);
    if (sqlite3_column_type(st, 7) != SQLITE_NULL) w.closed_at = sqlite3_column_int64(st, 7);
    w.outcome = col(st, 8);
    if (sqlite3_column_type(st, 9) != SQLITE_NULL) w.next_due_at = sqlite3_column_int64(st, 9);
    w.alerted = col(st, 10);
    return w;
}
CaseTierRow read_tier(sqlite3_stmt* st) {
    CaseTierRow t;
    t.case_id = col(st, 0);
    t.tier = col(st, 1);
    t.since = sqlite3_column_int64(st, 2);
    if (sqlite3_column_type(st, 3) != SQLITE_NULL) t.due_at = sqlite3_column_int64(st, 3);
    t.reason = col(st, 4);
    return t;
}
}  // namespace

Result<void> Store::put_whistle(const WhistleRow& w) {
    sqlite3_stmt* st = stmt("INSERT OR REPLACE INTO whistles(whistle_id, case_id, street_code, tier, kind, state,"
                            " opened_at, closed_at, outcome, next_due_at, alerted) VALUES(?,?,?,?,?,?,?,?,?,?,?)");
    bind_text(st, 1, w.whistle_id);
    bind_text(st, 2, w.case_id);
    bind_text(st, 3, w.street_code);
    bind_text(st, 4, w.tier);
    bind_text(st, 5, w.kind);
    bind_text(st, 6, w.state);
    sqlite3_bind_int64(st, 7, w.opened_at);
    if (w.closed_at) sqlite3_bind_int64(st, 8, *w.closed_at);
    bind_text(st, 9, w.outcome);
    if (w.next_due_at) sqlite3_bind_int64(st, 10, *w.next_due_at);
    bind_text(st, 11, w.alerted);
    CASEHUB_STEP(st, "writing whistle");
    return {};
}

Result<std::optional<WhistleRow>> Store::find_whistle(std::string_view id) {
    static const std::string sql = std::string("SELECT ") + kWhistleCols + " FROM whistles WHERE whistle_id=?";
    sqlite3_stmt* st = stmt(sql.c_str());
    bind_text(st, 1, id);
    std::optional<WhistleRow> out;
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) out = read_whistle(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<std::vector<WhistleRow>> Store::whistles(std::string_view case_id, std::string_view street_code,
                                                std::int64_t from_ms, std::int64_t to_ms, int limit) {
    static const std::string sql = std::string("SELECT ") + kWhistleCols +
                                   " FROM whistles WHERE (?1='' OR case_id=?1) AND (?2='' OR street_code=?2)"
                                   " AND (?3=0 OR opened_at>=?3) AND (?4=0 OR opened_at<?4)"
                                   " ORDER BY opened_at, whistle_id LIMIT ?5";
    sqlite3_stmt* st = stmt(sql.c_str());
    bind_text(st, 1, case_id);
    bind_text(st, 2, street_code);
    sqlite3_bind_int64(st, 3, from_ms);
    sqlite3_bind_int64(st, 4, to_ms);
    sqlite3_bind_int(st, 5, limit);
    std::vector<WhistleRow> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(read_whistle(st));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<std::vector<WhistleRow>> Store::due_whistles(std::int64_t now, int limit) {
    static const std::string sql = std::string("SELECT ") + kWhistleCols +
                                   " FROM whistles WHERE next_due_at IS NOT NULL AND next_due_at < ?"
                                   " ORDER BY next_due_at LIMIT ?";
    sqlite3_stmt* st = stmt(sql.c_str());
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    std::vector<WhistleRow> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(read_whistle(st));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<void> Store::put_case_tier(const CaseTierRow& t) {
    sqlite3_stmt* st = stmt("INSERT OR REPLACE INTO case_tiers(case_id, tier, since, due_at, reason) VALUES(?,?,?,?,?)");
    bind_text(st, 1, t.case_id);
    bind_text(st, 2, t.tier);
    sqlite3_bind_int64(st, 3, t.since);
    if (t.due_at) sqlite3_bind_int64(st, 4, *t.due_at);
    bind_text(st, 5, t.reason);
    CASEHUB_STEP(st, "writing case tier");
    return {};
}

Result<std::optional<CaseTierRow>> Store::case_tier(std::string_view case_id) {
    sqlite3_stmt* st = stmt("SELECT case_id, tier, since, due_at, reason FROM case_tiers WHERE case_id=?");
    bind_text(st, 1, case_id);
    std::optional<CaseTierRow> out;
    const int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) out = read_tier(st);
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<std::vector<CaseTierRow>> Store::due_case_tiers(std::int64_t now, int limit) {
    sqlite3_stmt* st = stmt("SELECT case_id, tier, since, due_at, reason FROM case_tiers"
                            " WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int(st, 2, limit);
    std::vector<CaseTierRow> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) out.push_back(read_tier(st));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<std::vector<std::pair<std::uint64_t, std::string>>> Store::created_cases(std::uint64_t after, std::uint64_t upto) {
    sqlite3_stmt* st = stmt("SELECT seq, case_id FROM events WHERE seq > ? AND seq <= ? AND type='created' ORDER BY seq");
    sqlite3_bind_int64(st, 1, static_cast<std::int64_t>(after));
    sqlite3_bind_int64(st, 2, static_cast<std::int64_t>(upto));
    std::vector<std::pair<std::uint64_t, std::string>> out;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        out.emplace_back(static_cast<std::uint64_t>(sqlite3_column_int64(st, 0)), col(st, 1));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) return make_error(last_error());
    return out;
}

Result<std::vector<std::pair<std::string, std::string>>> Store::solved_case_tiers() {
    sqlite3_stmt* st = stmt("SELECT t.tier, coalesce(json_extract(CAST(c.doc AS TEXT), '$.times.resolved_at'), '')"
                            " FROM case_tiers t JOIN cases c ON c.case_id = t.case_id"
                            " WHERE c.merged_into IS NULL AND c.status IN ('resolved', 'verified', 'closed')");
    return text_pairs(st);
}

Result<std::vector<std::pair<std::string, std::string>>> Store::satisfactions(std::string_view system) {
    sqlite3_stmt* st = stmt("SELECT json_extract(d, '$.satisfaction'), coalesce(json_extract(d, '$.times.updated_at'), '')"
                            " FROM (SELECT CAST(doc AS TEXT) AS d FROM source_records WHERE system=?)"
                            " WHERE json_extract(d, '$.satisfaction') IS NOT NULL");
    bind_text(st, 1, system);
    return text_pairs(st);
}

Result<void> Store::set_autocheckpoint_bytes(std::int64_t bytes) {
    int page = 4096;
    if (sqlite3_stmt* st = stmt("PRAGMA page_size"); st && sqlite3_step(st) == SQLITE_ROW) {
        page = std::max(512, sqlite3_column_int(st, 0));
        sqlite3_reset(st);
    }
    const auto pages = static_cast<int>(std::min<std::int64_t>(bytes / page, std::numeric_limits<int>::max()));
    if (sqlite3_wal_autocheckpoint(db_, pages) != SQLITE_OK) return make_error(last_error());
    return {};
}

void Store::checkpoint() { sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr); }

}  // namespace casehub::host
