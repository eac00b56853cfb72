// A SQLite VFS that writes a connection's write-ahead log in large pieces.
//
// SQLite writes each log frame with two pwrite calls, a 24-byte header and the page, so a commit
// of N pages is 2N system calls, and a system call costs 4-8 µs on this VM: at 5k records/s a
// commit of ~11 records wrote ~54 pages, and those writes were about a fifth of the intake
// thread. This VFS wraps the default one and, for log files only, collects writes that follow
// on from the previous one in a buffer (128 KiB, the most the default VFS writes in one call:
// seven 16 KiB frames) and writes it with one call.
//
// Why it is safe. The buffer is written out
// - right after the page of a commit frame (a frame whose header carries a database size), so
//   by the time SQLite publishes the commit in the shared wal-index, and by the time
//   sqlite3_step() returns, every frame of it is in the file (the page cache): other
//   connections, the checkpointer and the WalSyncer's fdatasync see what they would without it,
//   and a failed write fails the commit;
// - before anything else touches the file: a read, sync, truncate, size, file control, close;
// - when the next write does not follow on (SQLite rewriting a frame of the open transaction
//   in place, or checksums, or the log restarting at its start): those are written directly.
// A crash loses only what was never committed. Database and other files are opened by the
// default VFS unchanged (not even wrapped).
#pragma once

#include <cstdint>

namespace casehub::host {

// The VFS's name for sqlite3_open_v2(); registered (not as the default) on the first call.
const char* batched_wal_vfs();

// Process-wide counts, for tests and benchmarks.
struct BatchedWalStats {
    std::uint64_t writes = 0;      // xWrite calls on log files
    std::uint64_t os_writes = 0;   // writes handed to the default VFS (buffers written out + direct writes)
};
BatchedWalStats batched_wal_stats();

}  // namespace casehub::host
