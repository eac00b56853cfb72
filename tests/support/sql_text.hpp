// One text value read (or a statement run) by a SQLite connection of its own, not through
// Store: what another reader of the file sees. Catch2 assertions, so for test bodies only.
#pragma once

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <filesystem>
#include <string>

namespace casehub::test {

inline std::string sql_text(const std::filesystem::path& db, const std::string& sql) {
    sqlite3* c = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &c) == SQLITE_OK);
    sqlite3_busy_timeout(c, 5000);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(c, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    const int rc = sqlite3_step(st);
    REQUIRE((rc == SQLITE_ROW || rc == SQLITE_DONE));
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(c);
    return out;
}

// The names of `table`'s indexes (SQLite's automatic ones included), sorted, space-separated.
inline std::string index_names(const std::filesystem::path& db, const std::string& table) {
    return sql_text(db, "SELECT group_concat(name, ' ') FROM (SELECT name FROM sqlite_master"
                        " WHERE type='index' AND tbl_name='" + table + "' ORDER BY name)");
}

}  // namespace casehub::test
