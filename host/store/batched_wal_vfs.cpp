#include "store/batched_wal_vfs.hpp"

#include <sqlite3.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace casehub::host {

namespace {

// The unix VFS writes at most this much per call: its seekAndWrite() keeps 17 bits of the
// length (SQLite itself never writes more than a page), so a longer write would be cut short.
// With 16 KiB pages that is seven frames a system call.
constexpr std::size_t kBufferBytes = 0x1ffff;
constexpr int kFrameHeaderBytes = 24;  // WAL_FRAME_HDRSIZE: page number, database size if a commit, salts, checksums

std::atomic<std::uint64_t> g_writes{0}, g_os_writes{0};
sqlite3_vfs* g_base = nullptr;  // the default VFS, set once before g_vfs is registered
sqlite3_vfs g_vfs;
sqlite3_io_methods g_methods[4];  // indexed by the wrapped file's iVersion

// A log file: this header, then the default VFS's own file object (`real`) in the same block.
struct WalFile {
    sqlite3_file base;  // pMethods = one of g_methods
    sqlite3_file* real;
    char* buf;                 // owned (malloc), kBufferBytes once the first write follows on
    std::size_t len;           // bytes held
    sqlite3_int64 buf_off;     // file offset of buf[0]
    sqlite3_int64 end;         // where the last write ended; -1: not known
    bool commit_page_next;     // the last write was a commit frame's header
};
constexpr std::size_t kRealOffset = (sizeof(WalFile) + 15) & ~std::size_t{15};

WalFile* wal(sqlite3_file* f) { return reinterpret_cast<WalFile*>(f); }
const sqlite3_io_methods& io(const WalFile* w) { return *w->real->pMethods; }

int write_out(WalFile* w) {
    if (w->len == 0) return SQLITE_OK;
    g_os_writes.fetch_add(1, std::memory_order_relaxed);
    const int rc = io(w).xWrite(w->real, w->buf, static_cast<int>(w->len), w->buf_off);
    w->len = 0;
    if (rc != SQLITE_OK) w->end = -1;
    return rc;
}

bool is_commit_header(const void* data, int n) {
    if (n != kFrameHeaderBytes) return false;
    const auto* b = static_cast<const unsigned char*>(data);
    return (b[4] | b[5] | b[6] | b[7]) != 0;
}

int x_close(sqlite3_file* f) {
    WalFile* w = wal(f);
    const int rc = write_out(w);
    const int rc2 = io(w).xClose(w->real);
    std::free(w->buf);
    w->buf = nullptr;
    return rc != SQLITE_OK ? rc : rc2;
}

int x_read(sqlite3_file* f, void* out, int n, sqlite3_int64 off) {
    WalFile* w = wal(f);
    if (const int rc = write_out(w); rc != SQLITE_OK) return rc;
    return io(w).xRead(w->real, out, n, off);
}

int x_write(sqlite3_file* f, const void* data, int n, sqlite3_int64 off) {
    WalFile* w = wal(f);
    g_writes.fetch_add(1, std::memory_order_relaxed);
    const bool page_of_commit = w->commit_page_next;
    w->commit_page_next = is_commit_header(data, n);
    if (off == w->end && static_cast<std::size_t>(n) <= kBufferBytes) {
        if (!w->buf && !(w->buf = static_cast<char*>(std::malloc(kBufferBytes)))) return SQLITE_IOERR_NOMEM;
        if (w->len + static_cast<std::size_t>(n) > kBufferBytes)
            if (const int rc = write_out(w); rc != SQLITE_OK) return rc;
        if (w->len == 0) w->buf_off = off;
        std::memcpy(w->buf + w->len, data, static_cast<std::size_t>(n));
        w->len += static_cast<std::size_t>(n);
        w->end = off + n;
        // The commit is complete: out before SQLite publishes it, and its error is the commit's.
        return page_of_commit ? write_out(w) : SQLITE_OK;
    }
    if (const int rc = write_out(w); rc != SQLITE_OK) return rc;
    g_os_writes.fetch_add(1, std::memory_order_relaxed);
    const int rc = io(w).xWrite(w->real, data, n, off);
    w->end = rc == SQLITE_OK ? off + n : -1;
    return rc;
}

int x_truncate(sqlite3_file* f, sqlite3_int64 size) {
    WalFile* w = wal(f);
    if (const int rc = write_out(w); rc != SQLITE_OK) return rc;
    w->end = -1;
    return io(w).xTruncate(w->real, size);
}

int x_sync(sqlite3_file* f, int flags) {
    WalFile* w = wal(f);
    if (const int rc = write_out(w); rc != SQLITE_OK) return rc;
    return io(w).xSync(w->real, flags);
}

int x_file_size(sqlite3_file* f, sqlite3_int64* size) {
    WalFile* w = wal(f);
    if (const int rc = write_out(w); rc != SQLITE_OK) return rc;
    return io(w).xFileSize(w->real, size);
}

int x_lock(sqlite3_file* f, int level) { return io(wal(f)).xLock(wal(f)->real, level); }
int x_unlock(sqlite3_file* f, int level) { return io(wal(f)).xUnlock(wal(f)->real, level); }
int x_check_reserved(sqlite3_file* f, int* out) { return io(wal(f)).xCheckReservedLock(wal(f)->real, out); }

int x_file_control(sqlite3_file* f, int op, void* arg) {
    WalFile* w = wal(f);
    if (const int rc = write_out(w); rc != SQLITE_OK) return rc;
    return io(w).xFileControl(w->real, op, arg);
}

int x_sector_size(sqlite3_file* f) { return io(wal(f)).xSectorSize(wal(f)->real); }
int x_device_characteristics(sqlite3_file* f) { return io(wal(f)).xDeviceCharacteristics(wal(f)->real); }

int x_shm_map(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
    return io(wal(f)).xShmMap(wal(f)->real, region, size, extend, out);
}
int x_shm_lock(sqlite3_file* f, int offset, int n, int flags) { return io(wal(f)).xShmLock(wal(f)->real, offset, n, flags); }
void x_shm_barrier(sqlite3_file* f) { io(wal(f)).xShmBarrier(wal(f)->real); }
int x_shm_unmap(sqlite3_file* f, int del) { return io(wal(f)).xShmUnmap(wal(f)->real, del); }

int x_fetch(sqlite3_file* f, sqlite3_int64 off, int n, void** out) {
    WalFile* w = wal(f);
    if (const int rc = write_out(w); rc != SQLITE_OK) return rc;
    return io(w).xFetch(w->real, off, n, out);
}
int x_unfetch(sqlite3_file* f, sqlite3_int64 off, void* p) { return io(wal(f)).xUnfetch(wal(f)->real, off, p); }

int x_open(sqlite3_vfs*, sqlite3_filename name, sqlite3_file* f, int flags, int* out_flags) {
    // Not a log: the default VFS's own file object, in the (larger) block SQLite gave us.
    if (!(flags & SQLITE_OPEN_WAL)) return g_base->xOpen(g_base, name, f, flags, out_flags);
    WalFile* w = wal(f);
    std::memset(w, 0, sizeof(WalFile));
    w->end = -1;
    w->real = reinterpret_cast<sqlite3_file*>(reinterpret_cast<char*>(f) + kRealOffset);
    const int rc = g_base->xOpen(g_base, name, w->real, flags, out_flags);
    if (rc != SQLITE_OK) {
        if (w->real->pMethods) w->real->pMethods->xClose(w->real);
        w->base.pMethods = nullptr;
        return rc;
    }
    const int version = w->real->pMethods->iVersion;
    w->base.pMethods = &g_methods[version < 1 ? 1 : version > 3 ? 3 : version];
    return SQLITE_OK;
}

void register_vfs() {
    g_base = sqlite3_vfs_find(nullptr);
    if (!g_base) return;
    // One table per version the wrapped file may have: SQLite calls the version-2 and -3 methods
    // (shared memory, memory maps) only when iVersion says they are there.
    sqlite3_io_methods m{};
    m.xClose = x_close;
    m.xRead = x_read;
    m.xWrite = x_write;
    m.xTruncate = x_truncate;
    m.xSync = x_sync;
    m.xFileSize = x_file_size;
    m.xLock = x_lock;
    m.xUnlock = x_unlock;
    m.xCheckReservedLock = x_check_reserved;
    m.xFileControl = x_file_control;
    m.xSectorSize = x_sector_size;
    m.xDeviceCharacteristics = x_device_characteristics;
    m.xShmMap = x_shm_map;
    m.xShmLock = x_shm_lock;
    m.xShmBarrier = x_shm_barrier;
    m.xShmUnmap = x_shm_unmap;
    m.xFetch = x_fetch;
    m.xUnfetch = x_unfetch;
    for (int v = 1; v <= 3; ++v) {
        g_methods[v] = m;
        g_methods[v].iVersion = v;
    }
    // Everything but opening files is the default VFS's, called with this struct: a copy of
    // its own, so what it reads from it (pAppData, mxPathname) is the same.
    g_vfs = *g_base;
    g_vfs.zName = "casehub-batched-wal";
    g_vfs.pNext = nullptr;
    g_vfs.szOsFile = static_cast<int>(kRealOffset) + g_base->szOsFile;
    g_vfs.xOpen = x_open;
    if (sqlite3_vfs_register(&g_vfs, 0) != SQLITE_OK) g_base = nullptr;
}

}  // namespace

const char* batched_wal_vfs() {
    static std::once_flag once;
    std::call_once(once, register_vfs);
    return g_base ? g_vfs.zName : nullptr;  // nullptr: the default VFS
}

BatchedWalStats batched_wal_stats() {
    return {g_writes.load(std::memory_order_relaxed), g_os_writes.load(std::memory_order_relaxed)};
}

}  // namespace casehub::host
