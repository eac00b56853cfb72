// The batched log VFS (store/batched_wal_vfs.hpp) through SQLite's public API: what another
// connection reads after each commit, what a killed process leaves, and a write that fails.
#include "store/batched_wal_vfs.hpp"

#include "../../support/sql_text.hpp"
#include "../../support/temp_dir.hpp"

#include <catch2/catch.hpp>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>

using casehub::host::batched_wal_stats;
using casehub::host::batched_wal_vfs;
using casehub::test::sql_text;
using casehub::test::TempDir;

namespace {

// For the children below as well as the test body: no Catch2 macros.
sqlite3* open_writer(const std::filesystem::path& db, const char* vfs) {
    sqlite3* c = nullptr;
    if (sqlite3_open_v2(db.c_str(), &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) != SQLITE_OK) return nullptr;
    sqlite3_busy_timeout(c, 5000);
    if (sqlite3_exec(c,
                     "PRAGMA page_size=16384; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                     " PRAGMA wal_autocheckpoint=0;"
                     " CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, v BLOB NOT NULL);",
                     nullptr, nullptr, nullptr) != SQLITE_OK) {
        sqlite3_close(c);
        return nullptr;
    }
    return c;
}

// Transaction `i`: `rows` new rows of 3,000 bytes each, their n = i.
int insert_batch(sqlite3* c, int i, int rows) {
    const std::string sql = "BEGIN; WITH RECURSIVE s(value) AS (SELECT 0 UNION ALL SELECT value + 1 FROM s WHERE value < " +
                            std::to_string(rows - 1) + ") INSERT INTO t(n, v) SELECT " + std::to_string(i) + ", randomblob(3000) FROM s; COMMIT;";
    const int rc = sqlite3_exec(c, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) sqlite3_exec(c, "ROLLBACK", nullptr, nullptr, nullptr);
    return rc;
}

// Runs `body` in a forked child, which writes its report to the descriptor it is given and
// ends itself (_exit or a signal); returns what it wrote and how it ended.
struct ChildRun {
    std::string report;
    int status = 0;
};
ChildRun run_child(const std::function<void(int report_fd)>& body) {
    ChildRun out;
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        ::close(fds[0]);
        body(fds[1]);
        ::_exit(7);
    }
    ::close(fds[1]);
    char buf[64];
    for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) out.report.append(buf, static_cast<std::size_t>(n));
    ::close(fds[0]);
    REQUIRE(::waitpid(pid, &out.status, 0) == pid);
    return out;
}

}  // namespace

TEST_CASE("batched wal vfs: every commit is whole in the file for another connection, in far fewer writes", "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "t.db";
    const char* vfs = batched_wal_vfs();
    REQUIRE(vfs != nullptr);
    sqlite3* w = open_writer(db, vfs);
    REQUIRE(w != nullptr);
    sqlite3* r = nullptr;
    REQUIRE(sqlite3_open_v2(db.c_str(), &r, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);  // the default VFS
    sqlite3_stmt* count = nullptr;
    REQUIRE(sqlite3_prepare_v2(r, "SELECT count(*), count(DISTINCT n), sum(length(v)) FROM t", -1, &count, nullptr) ==
            SQLITE_OK);

    const auto before = batched_wal_stats();
    for (int i = 0; i < 60; ++i) {
        REQUIRE(insert_batch(w, i, 1 + i % 25) == SQLITE_OK);
        REQUIRE(sqlite3_step(count) == SQLITE_ROW);
        const int rows = sqlite3_column_int(count, 0);
        int expected = 0;
        for (int j = 0; j <= i; ++j) expected += 1 + j % 25;
        CHECK(rows == expected);
        CHECK(sqlite3_column_int(count, 1) == i + 1);
        CHECK(sqlite3_column_int64(count, 2) == 3000LL * expected);
        sqlite3_reset(count);
    }
    const auto after = batched_wal_stats();
    const auto writes = after.writes - before.writes, os_writes = after.os_writes - before.os_writes;
    INFO("log writes by SQLite " << writes << ", written by the default VFS " << os_writes);
    CHECK(writes > 500);
    CHECK(os_writes * 5 < writes);
    sqlite3_finalize(count);
    CHECK(sql_text(db, "PRAGMA integrity_check") == "ok");
    sqlite3_close(r);
    sqlite3_close(w);
}

TEST_CASE("batched wal vfs: a process killed right after its commits leaves them all, spilled pages included",
          "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "t.db";
    const ChildRun child = run_child([&](int report_fd) {
        sqlite3* w = open_writer(db, batched_wal_vfs());
        if (!w) ::_exit(2);
        for (int i = 0; i < 40; ++i)
            if (insert_batch(w, i, 10) != SQLITE_OK) ::_exit(3);
        // A transaction larger than a 10-page cache: SQLite spills pages to the log before the
        // commit, writes some of them again in place and rewrites the frames' checksums.
        if (sqlite3_exec(w,
                         "PRAGMA cache_size=10; BEGIN; UPDATE t SET n = n + 1000, v = randomblob(3100);"
                         " WITH RECURSIVE s(value) AS (SELECT 0 UNION ALL SELECT value + 1 FROM s WHERE value < 99)"
                         " INSERT INTO t(id, n, v) SELECT 100000 + value, -1, randomblob(3000) FROM s;"
                         " UPDATE t SET v = randomblob(2900) WHERE n = -1; COMMIT;",
                         nullptr, nullptr, nullptr) != SQLITE_OK)
            ::_exit(4);
        if (::write(report_fd, "y", 1) != 1) ::_exit(5);
        ::raise(SIGKILL);  // no close, no checkpoint: only what the commits left in the log
    });
    INFO("child status " << child.status);
    REQUIRE(child.report == "y");
    REQUIRE(WIFSIGNALED(child.status));
    REQUIRE(std::filesystem::file_size(dir.path / "t.db-wal") > 0);

    // The first connection since the kill rebuilds the wal-index from the log, checking every
    // frame's checksum: a frame missing or stale would end the log before the commit.
    CHECK(sql_text(db, "SELECT count(*) FROM t") == "500");
    CHECK(sql_text(db, "SELECT count(*) FROM t WHERE n >= 1000") == "400");
    CHECK(sql_text(db, "SELECT sum(length(v)) FROM t") == std::to_string(400 * 3100 + 100 * 2900));
    CHECK(sql_text(db, "PRAGMA integrity_check") == "ok");
}

TEST_CASE("batched wal vfs: a log write that fails fails its commit, and every earlier commit stays", "[runtime]") {
    TempDir dir;
    const auto db = dir.path / "t.db";
    {
        sqlite3* w = open_writer(db, batched_wal_vfs());  // created without the limit below
        REQUIRE(w != nullptr);
        sqlite3_close(w);
    }
    const ChildRun child = run_child([&](int report_fd) {
        ::signal(SIGXFSZ, SIG_IGN);  // a write past the limit fails with EFBIG instead
        const rlimit lim{3 << 20, 3 << 20};
        if (::setrlimit(RLIMIT_FSIZE, &lim) != 0) ::_exit(2);
        sqlite3* w = open_writer(db, batched_wal_vfs());
        if (!w) ::_exit(3);
        int committed = 0, rc = SQLITE_OK;
        while (committed < 1000 && (rc = insert_batch(w, committed, 20)) == SQLITE_OK) ++committed;
        const int report[2] = {committed, rc};
        if (::write(report_fd, report, sizeof report) != static_cast<ssize_t>(sizeof report)) ::_exit(4);
        ::_exit(0);  // no close: the log as the failed commit left it
    });
    REQUIRE(WIFEXITED(child.status));
    REQUIRE(WEXITSTATUS(child.status) == 0);
    int report[2] = {0, 0};
    REQUIRE(child.report.size() == sizeof report);
    std::memcpy(report, child.report.data(), sizeof report);
    INFO("commits before the failure " << report[0] << ", its code " << report[1]);
    CHECK(report[0] > 5);
    CHECK(report[0] < 1000);
    CHECK(((report[1] & 0xff) == SQLITE_IOERR || report[1] == SQLITE_FULL));
    CHECK(sql_text(db, "SELECT count(*) FROM t") == std::to_string(report[0] * 20));
    CHECK(sql_text(db, "SELECT count(DISTINCT n) FROM t") == std::to_string(report[0]));
    CHECK(sql_text(db, "PRAGMA integrity_check") == "ok");
}
