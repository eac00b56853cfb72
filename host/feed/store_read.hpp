// Read-only access to the store for the processes and threads that only read it: the feed's
// replay server and the HTTP API. Each holds its own connections (WAL lets them read beside the
// hub's writer), prepared statements cached per connection, and reads events and cases the
// same way.
#pragma once

#include "common/result.hpp"
#include "feed/feed.hpp"
#include "feed/wire.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace casehub::host {

using Bind = std::variant<std::int64_t, std::string>;

class ReadDb {
public:
    // `who` prefixes the errors ("feed", "http").
    static Result<std::unique_ptr<ReadDb>> open(const std::filesystem::path& path, const std::string& who);
    ~ReadDb();
    ReadDb(const ReadDb&) = delete;
    ReadDb& operator=(const ReadDb&) = delete;

    std::string error() const;
    Result<void> exec(const char* sql);
    // Runs `sql` (prepared once, cached) with `binds`; `row` is called per row until it
    // returns false. The statement is reset afterwards, so it holds no read lock.
    Result<void> query(const std::string& sql, const std::vector<Bind>& binds,
                       const std::function<bool(sqlite3_stmt*)>& row);
    Result<std::uint64_t> head();  // the last event's seq, 0 when none

private:
    ReadDb() = default;
    sqlite3* db_ = nullptr;
    std::filesystem::path path_;
    std::map<std::string, sqlite3_stmt*> stmts_;
};

// One read transaction: BEGIN now, COMMIT (end the snapshot) when it goes out of scope.
class ReadTxn {
public:
    explicit ReadTxn(ReadDb& db) : db_(db) {}
    Result<void> begin();
    ~ReadTxn();

private:
    ReadDb& db_;
    bool open_ = false;
};

// A column's bytes (text or blob) as a string; "" for NULL.
std::string column_bytes(sqlite3_stmt* s, int col);
// The same as a view into SQLite's row: valid until the statement steps or resets.
std::string_view column_view(sqlite3_stmt* s, int col);

// "SELECT <the event columns> FROM events": with or without each event's case document (a
// case's history needs none).
std::string event_columns(bool with_doc = true);
EventRow read_event(sqlite3_stmt* s, bool with_doc = true);
// The header fields of a row of event_columns(), as views into the row (no copy); its document
// is column 11.
wire::EventFields event_fields(sqlite3_stmt* s);

// " AND street_code = ? ..." for the filter's set keys (columns of both events and cases); their
// binds appended to `binds`.
std::string filter_sql(const FeedFilter& f, std::vector<Bind>& binds);

// Calls `row` for each row of event_columns(with_doc) with after < seq <= upto that `f` lets
// through, in seq order, until it returns false. With a street, one query per block of
// 2^kEventBlockShift seqs along events_street_block (store/events.hpp), so that the other
// streets' rows are not read and no index has an append point per street.
Result<void> for_each_event(ReadDb& db, std::uint64_t after, std::uint64_t upto, const FeedFilter& f, bool with_doc,
                            const std::function<bool(sqlite3_stmt*)>& row);

extern const char* const kCaseColumns;  // "SELECT <the case columns> FROM cases"
CaseState read_case(sqlite3_stmt* s);

// The condition, on `cases`, for "changed after seq `since`" in a snapshot page of `limit`
// cases; it takes one bind, `since`. When at most a few pages' worth of cases changed (counted
// along case_rows_seq, at most that many) it looks them up by id, so an incremental export of a
// big store does not read every case in id order to find them; otherwise it tests each case
// read. Both return the same rows.
inline constexpr std::int64_t kChangedFewPages = 4;
Result<std::string_view> changed_since_clause(ReadDb& db, std::int64_t since, std::uint32_t limit);

}  // namespace casehub::host
