#include "store/store.hpp"

#include <chrono>

namespace casehub::host {

namespace {

constexpr int kSchemaVersion = 1;

// Until the case pipeline lands, records are kept as received; `received_records` is the
// intake journal the pipeline will read, so it keeps the adapter's batch and order.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS received_records (
    id INTEGER PRIMARY KEY,
    adapter TEXT NOT NULL,
    batch INTEGER NOT NULL,
    received_at INTEGER NOT NULL,          -- unix ms, hub clock
    doc BLOB NOT NULL                      -- the casehub.record/1 bytes as the adapter sent them
);
CREATE INDEX IF NOT EXISTS received_records_adapter ON received_records(adapter, id);
CREATE TABLE IF NOT EXISTS adapter_cursors (
    adapter TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY,
    adapter TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    stage TEXT NOT NULL,                   -- 'adapter': the plugin could not normalise it
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    cursor TEXT NOT NULL,
    native BLOB NOT NULL                   -- masked by the adapter
);
CREATE INDEX IF NOT EXISTS dead_letters_adapter ON dead_letters(adapter, id);
)sql";

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace

std::string Store::last_error() const {
    return path_.string() + ": " + (db_ ? sqlite3_errmsg(db_) : "not open");
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

Result<std::unique_ptr<Store>> Store::open(const std::filesystem::path& path, Sync sync) {
    std::unique_ptr<Store> s(new Store());
    s->path_ = path;
    std::error_code ec;
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
    if (sqlite3_open_v2(path.c_str(), &s->db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK)
        return make_error("cannot open store " + s->last_error());
    sqlite3_busy_timeout(s->db_, 5000);
    // FULL: the WAL is synced at every commit, so an ack that leaves the hub survives power
    // loss. NORMAL survives a process crash but may lose the last commits on power loss.
    const char* pragmas = sync == Sync::full
                              ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                              : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;";
    if (auto r = s->exec(pragmas); !r) return r.error();
    if (auto r = s->exec("PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=1000;"); !r) return r.error();
    if (auto r = s->exec(kSchema); !r) return make_error("cannot create schema: " + r.error().message);
    {
        std::string v = "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '" +
                        std::to_string(kSchemaVersion) + "')";
        if (auto r = s->exec(v.c_str()); !r) return r.error();
    }
    auto prep = [&](const char* sql, sqlite3_stmt** st) -> bool {
        return sqlite3_prepare_v3(s->db_, sql, -1, SQLITE_PREPARE_PERSISTENT, st, nullptr) == SQLITE_OK;
    };
    if (!prep("INSERT INTO received_records(adapter, batch, received_at, doc) VALUES(?,?,?,?)",
              &s->insert_record_) ||
        !prep("INSERT INTO dead_letters(adapter, received_at, stage, reason, detail, cursor, native)"
              " VALUES(?,?,'adapter',?,?,?,?)",
              &s->insert_letter_) ||
        !prep("INSERT INTO adapter_cursors(adapter, cursor, updated_at) VALUES(?,?,?)"
              " ON CONFLICT(adapter) DO UPDATE SET cursor=excluded.cursor, updated_at=excluded.updated_at",
              &s->upsert_cursor_) ||
        !prep("SELECT cursor FROM adapter_cursors WHERE adapter=?", &s->select_cursor_))
        return make_error("cannot prepare statements: " + s->last_error());
    return s;
}

Store::~Store() {
    for (auto* st : {insert_record_, insert_letter_, upsert_cursor_, select_cursor_})
        sqlite3_finalize(st);
    if (db_) sqlite3_close(db_);
}

Result<std::optional<std::string>> Store::cursor(std::string_view adapter) {
    sqlite3_reset(select_cursor_);
    sqlite3_bind_text(select_cursor_, 1, adapter.data(), static_cast<int>(adapter.size()), SQLITE_STATIC);
    int rc = sqlite3_step(select_cursor_);
    std::optional<std::string> out;
    if (rc == SQLITE_ROW) {
        auto* t = reinterpret_cast<const char*>(sqlite3_column_text(select_cursor_, 0));
        out = std::string(t ? t : "", static_cast<std::size_t>(sqlite3_column_bytes(select_cursor_, 0)));
    } else if (rc != SQLITE_DONE) {
        auto e = last_error();
        sqlite3_reset(select_cursor_);
        return make_error("reading cursor of " + std::string(adapter) + ": " + e);
    }
    sqlite3_reset(select_cursor_);
    return out;
}

Result<void> Store::commit(const std::vector<BatchIn>& batches) {
    if (auto r = exec("BEGIN IMMEDIATE"); !r) return r;
    const std::int64_t t = now_ms();
    auto step = [&](sqlite3_stmt* st) {
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        return rc == SQLITE_DONE;
    };
    for (const auto& b : batches) {
        const int alen = static_cast<int>(b.adapter.size());
        for (auto rec : b.records) {
            sqlite3_bind_text(insert_record_, 1, b.adapter.data(), alen, SQLITE_STATIC);
            sqlite3_bind_int64(insert_record_, 2, static_cast<std::int64_t>(b.batch));
            sqlite3_bind_int64(insert_record_, 3, t);
            sqlite3_bind_blob(insert_record_, 4, rec.data(), static_cast<int>(rec.size()), SQLITE_STATIC);
            if (!step(insert_record_)) goto fail;
        }
        for (const auto& l : b.letters) {
            sqlite3_bind_text(insert_letter_, 1, b.adapter.data(), alen, SQLITE_STATIC);
            sqlite3_bind_int64(insert_letter_, 2, t);
            sqlite3_bind_text(insert_letter_, 3, l.reason.data(), static_cast<int>(l.reason.size()), SQLITE_STATIC);
            sqlite3_bind_text(insert_letter_, 4, l.detail.data(), static_cast<int>(l.detail.size()), SQLITE_STATIC);
            sqlite3_bind_text(insert_letter_, 5, l.cursor.data(), static_cast<int>(l.cursor.size()), SQLITE_STATIC);
            sqlite3_bind_blob(insert_letter_, 6, l.native.data(), static_cast<int>(l.native.size()), SQLITE_STATIC);
            if (!step(insert_letter_)) goto fail;
        }
        if (b.cursor) {
            sqlite3_bind_text(upsert_cursor_, 1, b.adapter.data(), alen, SQLITE_STATIC);
            sqlite3_bind_text(upsert_cursor_, 2, b.cursor->data(), static_cast<int>(b.cursor->size()), SQLITE_STATIC);
            sqlite3_bind_int64(upsert_cursor_, 3, t);
            if (!step(upsert_cursor_)) goto fail;
        }
    }
    if (auto r = exec("COMMIT"); !r) {
        (void)exec("ROLLBACK");
        return r;
    }
    return {};
fail:
    auto e = last_error();
    (void)exec("ROLLBACK");
    return make_error("commit failed: " + e);
}

void Store::checkpoint() { sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr); }

Result<Store::Counts> Store::counts(std::string_view adapter) {
    Counts c;
    for (auto [sql, out] : {std::pair{"SELECT count(*) FROM received_records WHERE adapter=?", &c.records},
                            std::pair{"SELECT count(*) FROM dead_letters WHERE adapter=?", &c.dead_letters}}) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(db_, sql, -1, &st, nullptr) != SQLITE_OK) return make_error(last_error());
        sqlite3_bind_text(st, 1, adapter.data(), static_cast<int>(adapter.size()), SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return c;
}

}  // namespace casehub::host
