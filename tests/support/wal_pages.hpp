// Which pages a store's commit wrote, read from its write-ahead log, and which B-tree each page
// belongs to (SQLite's dbstat): what a test of "a commit writes few pages of X" measures.
// Catch2 assertions, so for test bodies only.
#pragma once

#include <catch2/catch.hpp>
#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>

namespace casehub::test {

// The page numbers of the log's first commit (the log restarts after a complete checkpoint).
inline std::set<std::uint32_t> pages_of_first_commit(const std::filesystem::path& wal) {
    std::ifstream in(wal, std::ios::binary);
    const std::string b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto be32 = [&](std::size_t at) {
        return std::uint32_t(std::uint8_t(b[at])) << 24 | std::uint32_t(std::uint8_t(b[at + 1])) << 16 |
               std::uint32_t(std::uint8_t(b[at + 2])) << 8 | std::uint32_t(std::uint8_t(b[at + 3]));
    };
    std::set<std::uint32_t> pages;
    REQUIRE(b.size() >= 32);
    const std::size_t frame = 24 + be32(8);
    for (std::size_t at = 32; at + frame <= b.size(); at += frame) {
        REQUIRE((be32(at + 8) == be32(16) && be32(at + 12) == be32(20)));  // this log's salts
        pages.insert(be32(at));
        if (be32(at + 4) != 0) return pages;  // the commit frame
    }
    FAIL("no commit frame in " << wal);
    return pages;
}

// How many of `pages` belong to the B-tree `btree` (a table's or an index's name) of `db`.
inline int pages_in_btree(const std::filesystem::path& db, const std::set<std::uint32_t>& pages,
                          const std::string& btree) {
    sqlite3* c = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(c, "SELECT pageno FROM dbstat WHERE name=?", -1, &q, nullptr) == SQLITE_OK);
    sqlite3_bind_text(q, 1, btree.c_str(), -1, SQLITE_TRANSIENT);
    int count = 0;
    while (sqlite3_step(q) == SQLITE_ROW) count += pages.count(static_cast<std::uint32_t>(sqlite3_column_int(q, 0)));
    sqlite3_finalize(q);
    sqlite3_close(c);
    return count;
}

}  // namespace casehub::test
