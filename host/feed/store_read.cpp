#include "feed/store_read.hpp"

#include "pipeline/status_rules.hpp"

#include <algorithm>

namespace casehub::host {

namespace fs = std::filesystem;

namespace {

// casehub_is_open(status) in SQL: the pipeline's own rule, not a copy of it.
void sql_is_open(sqlite3_context* c, int, sqlite3_value** v) {
    const unsigned char* t = sqlite3_value_text(v[0]);
    const std::string s = t ? reinterpret_cast<const char*>(t) : "";
    sqlite3_result_int(c, is_open_status(s) ? 1 : 0);
}

}  // namespace

Result<std::unique_ptr<ReadDb>> ReadDb::open(const fs::path& path, const std::string& who) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return make_error(who + ": store " + path.string() + " does not exist or is not a file");
    std::unique_ptr<ReadDb> d(new ReadDb());
    d->path_ = path;
    if (sqlite3_open_v2(path.c_str(), &d->db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK)
        return make_error(who + ": cannot open store " + d->error());
    sqlite3_busy_timeout(d->db_, 5000);
    sqlite3_create_function(d->db_, "casehub_is_open", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, nullptr, sql_is_open,
                            nullptr, nullptr);
    return d;
}

ReadDb::~ReadDb() {
    for (auto& [sql, s] : stmts_) sqlite3_finalize(s);
    if (db_) sqlite3_close_v2(db_);
}

std::string ReadDb::error() const { return path_.string() + ": " + (db_ ? sqlite3_errmsg(db_) : "not open"); }

Result<void> ReadDb::exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
        std::string m = path_.string() + ": " + sql + ": " + (err ? err : "unknown error");
        sqlite3_free(err);
        return make_error(m);
    }
    return {};
}

Result<void> ReadDb::query(const std::string& sql, const std::vector<Bind>& binds,
                           const std::function<bool(sqlite3_stmt*)>& row) {
    sqlite3_stmt* s = nullptr;
    if (auto it = stmts_.find(sql); it != stmts_.end()) {
        s = it->second;
    } else {
        if (sqlite3_prepare_v3(db_, sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK)
            return make_error(error());
        stmts_.emplace(sql, s);
    }
    struct Reset {
        sqlite3_stmt* s;
        ~Reset() {
            sqlite3_reset(s);
            sqlite3_clear_bindings(s);
        }
    } reset{s};
    int i = 1;
    for (const auto& b : binds) {
        if (const auto* v = std::get_if<std::int64_t>(&b)) sqlite3_bind_int64(s, i++, *v);
        else {
            const auto& str = std::get<std::string>(b);
            sqlite3_bind_text(s, i++, str.data(), static_cast<int>(str.size()), SQLITE_TRANSIENT);
        }
    }
    for (;;) {
        const int rc = sqlite3_step(s);
        if (rc == SQLITE_DONE) return {};
        if (rc != SQLITE_ROW) return make_error(error());
        if (!row(s)) return {};
    }
}

Result<std::uint64_t> ReadDb::head() {
    std::uint64_t h = 0;
    auto r = query("SELECT COALESCE(MAX(seq), 0) FROM events", {}, [&](sqlite3_stmt* s) {
        h = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
        return false;
    });
    if (!r) return r.error();
    return h;
}

Result<void> ReadTxn::begin() {
    auto r = db_.exec("BEGIN");
    open_ = r.ok();
    return r;
}

ReadTxn::~ReadTxn() {
    if (open_) (void)db_.exec("COMMIT");
}

std::string column_bytes(sqlite3_stmt* s, int col) { return std::string(column_view(s, col)); }

std::string event_columns(bool with_doc) {
    return std::string("SELECT seq, case_id, type, street_code, prev_street_seq, community_code, grid_code, "
                       "category_family, status, at, detail") +
           (with_doc ? ", doc" : "") + " FROM events";
}

std::string_view column_view(sqlite3_stmt* s, int col) {
    const void* b = sqlite3_column_blob(s, col);
    return b ? std::string_view(static_cast<const char*>(b), static_cast<std::size_t>(sqlite3_column_bytes(s, col)))
             : std::string_view();
}

wire::EventFields event_fields(sqlite3_stmt* s) {
    wire::EventFields f;
    f.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 0));
    f.case_id = column_view(s, 1);
    f.type = column_view(s, 2);
    f.street_code = column_view(s, 3);
    f.prev_street_seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 4));
    f.community_code = column_view(s, 5);
    f.grid_code = column_view(s, 6);
    f.category_family = column_view(s, 7);
    f.status = column_view(s, 8);
    f.at = sqlite3_column_int64(s, 9);
    f.detail = column_view(s, 10);
    return f;
}

EventRow read_event(sqlite3_stmt* s, bool with_doc) {
    const wire::EventFields f = event_fields(s);
    EventRow e;
    e.seq = f.seq;
    e.case_id = f.case_id;
    e.type = f.type;
    e.street_code = f.street_code;
    e.prev_street_seq = f.prev_street_seq;
    e.community_code = f.community_code;
    e.grid_code = f.grid_code;
    e.category_family = f.category_family;
    e.status = f.status;
    e.at = f.at;
    e.detail = f.detail;
    if (with_doc) e.doc = column_bytes(s, 11);
    return e;
}

std::string filter_sql(const FeedFilter& f, std::vector<Bind>& binds) {
    const std::pair<const std::optional<std::string>*, const char*> columns[] = {
        {&f.street, "street_code"}, {&f.community, "community_code"}, {&f.grid, "grid_code"},
        {&f.family, "category_family"}, {&f.status, "status"}};
    std::string sql;
    for (const auto& [v, column] : columns)
        if (*v) {
            sql += " AND ";
            sql += column;
            sql += " = ?";
            binds.emplace_back(**v);
        }
    return sql;
}

Result<void> for_each_event(ReadDb& db, std::uint64_t after, std::uint64_t upto, const FeedFilter& f, bool with_doc,
                            const std::function<bool(sqlite3_stmt*)>& row) {
    if (upto <= after) return {};
    auto head = db.head();  // the blocks past it hold nothing
    if (!head) return head.error();
    upto = std::min(upto, *head);
    if (upto <= after) return {};
    const auto i64 = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
    if (!f.street) {
        std::vector<Bind> binds = {i64(after), i64(upto)};
        const std::string sql = event_columns(with_doc) + " WHERE seq > ? AND seq <= ?" + filter_sql(f, binds) + " ORDER BY seq";
        return db.query(sql, binds, row);
    }
    // The block and the street are the index's key; the other filters test its rows.
    FeedFilter rest = f;
    rest.street.reset();
    std::vector<Bind> binds = {std::int64_t{0}, *f.street, i64(after), i64(upto)};
    const std::string sql = event_columns(with_doc) + " WHERE (seq >> " + std::to_string(kEventBlockShift) +
                            ") = ? AND street_code = ? AND seq > ? AND seq <= ?" + filter_sql(rest, binds) + " ORDER BY seq";
    bool stopped = false;
    const std::function<bool(sqlite3_stmt*)> on_row = [&](sqlite3_stmt* s) {
        if (row(s)) return true;
        stopped = true;
        return false;
    };
    for (std::uint64_t b = (after + 1) >> kEventBlockShift, last = upto >> kEventBlockShift; b <= last && !stopped; ++b) {
        binds[0] = i64(b);
        if (auto r = db.query(sql, binds, on_row); !r) return r;
    }
    return {};
}

const char* const kCaseColumns =
    "SELECT case_id, seq, status, street_code, community_code, grid_code, category_code, "
    "category_family, priority, created_at, updated_at, merged_into, doc FROM cases";

CaseState read_case(sqlite3_stmt* s) {
    CaseState c;
    c.case_id = column_bytes(s, 0);
    c.seq = static_cast<std::uint64_t>(sqlite3_column_int64(s, 1));
    c.status = column_bytes(s, 2);
    c.street_code = column_bytes(s, 3);
    c.community_code = column_bytes(s, 4);
    c.grid_code = column_bytes(s, 5);
    c.category_code = column_bytes(s, 6);
    c.category_family = column_bytes(s, 7);
    c.priority = column_bytes(s, 8);
    c.created_at = sqlite3_column_int64(s, 9);
    c.updated_at = sqlite3_column_int64(s, 10);
    if (sqlite3_column_type(s, 11) != SQLITE_NULL) c.merged_into = column_bytes(s, 11);
    c.doc = column_bytes(s, 12);
    return c;
}

Result<std::string_view> changed_since_clause(ReadDb& db, std::int64_t since, std::uint32_t limit) {
    const std::int64_t bound = kChangedFewPages * (static_cast<std::int64_t>(limit) + 1);
    std::int64_t n = 0;
    auto q = db.query("SELECT count(*) FROM (SELECT 1 FROM cases WHERE seq > ? LIMIT ?)", {since, bound},
                      [&](sqlite3_stmt* s) {
                          n = sqlite3_column_int64(s, 0);
                          return false;
                      });
    if (!q) return q.error();
    if (n < bound) return std::string_view(" AND case_id IN (SELECT case_id FROM cases WHERE seq > ?)");
    return std::string_view(" AND seq > ?");
}

}  // namespace casehub::host
