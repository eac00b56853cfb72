// The WalSyncer makes commits durable on a thread of its own: tickets become durable in order,
// the poll descriptor wakes the hub, syncs coalesce under load, and a log it cannot sync is a
// failure that names the file, never a ticket reported durable.
#include "store/store.hpp"
#include "store/wal_syncer.hpp"

#include "../../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <poll.h>

#include <cstdlib>
#include <filesystem>
#include <string>

using namespace casehub::host;
namespace fs = std::filesystem;
using casehub::test::TempDir;

namespace {

bool readable(int fd, int timeout_ms) {
    pollfd p{fd, POLLIN, 0};
    return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}
}  // namespace

TEST_CASE("wal syncer: a commit's ticket becomes durable, the poll descriptor says so, and syncs coalesce", "[runtime]") {
    TempDir dir("casehub-walsync");
    const fs::path db = dir.path / "hub.db";
    auto store = Store::open(db, Store::Sync::normal);  // the hub's connection with a syncer
    REQUIRE(store);
    REQUIRE((*store)->begin());
    REQUIRE((*store)->set_cursor("a", "c1"));
    REQUIRE((*store)->commit());
    REQUIRE(fs::exists(db.string() + "-wal"));

    auto started = WalSyncer::start(db.string() + "-wal");
    REQUIRE(started);
    auto s = std::move(*started);
    CHECK(s->durable() == 0);
    CHECK_FALSE(readable(s->wake_fd(), 0));
    const auto t1 = s->request();
    CHECK(t1 == 1);
    REQUIRE(s->wait(t1));
    CHECK(s->durable() >= 1);
    CHECK(readable(s->wake_fd(), 1000));
    s->drain();
    CHECK_FALSE(readable(s->wake_fd(), 0));

    // 200 commits requested at once: each is durable at the end, with far fewer fdatasyncs.
    std::uint64_t last = 0;
    for (int i = 0; i < 200; ++i) last = s->request();
    CHECK(last == 201);
    REQUIRE(s->wait(last));
    CHECK(s->durable() == 201);
    CHECK(s->syncs() < 200);
    CHECK_FALSE(s->failure());
}

TEST_CASE("wal syncer: a log it cannot open is a failure naming the file, and nothing is reported durable", "[runtime]") {
    TempDir dir("casehub-walsync");
    const fs::path wal = dir.path / "missing" / "hub.db-wal";
    auto started = WalSyncer::start(wal);
    REQUIRE(started);
    auto s = std::move(*started);
    const auto t = s->request();
    CHECK_FALSE(s->wait(t));
    CHECK(s->durable() == 0);
    REQUIRE(s->failure());
    CHECK_THAT(*s->failure(), Catch::Contains(wal.string()));
    CHECK(readable(s->wake_fd(), 1000));  // the hub hears of it
    // Later requests fail too: nothing after a failed sync is known to be on disk.
    CHECK_FALSE(s->wait(s->request()));
}

TEST_CASE("wal syncer: destroyed with commits requested, it syncs them and stops", "[runtime]") {
    TempDir dir("casehub-walsync");
    const fs::path db = dir.path / "hub.db";
    auto store = Store::open(db, Store::Sync::normal);
    REQUIRE(store);
    REQUIRE((*store)->begin());
    REQUIRE((*store)->set_cursor("a", "c1"));
    REQUIRE((*store)->commit());
    auto started = WalSyncer::start(db.string() + "-wal");
    REQUIRE(started);
    auto s = std::move(*started);
    for (int i = 0; i < 10; ++i) s->request();
    s.reset();  // joins; a hang here fails the test by its timeout
    SUCCEED();
}
