// How the programs linked with mimalloc (casehubd, casehub-bench, casehub-bench-apply) set it up.
// Header-only: CASEHUB_WITH_MIMALLOC is defined per target by casehub_use_mimalloc() in CMake.
//
// On this kind of VM a page fault costs 13-15 µs (docs/performance.md, eighth round), and with
// mimalloc's defaults casehubd took about 0.8 of them per record: freed pages were handed back
// to the kernel 25 ms later and faulted in again by the next commit, and the heap grew 4 KiB at a
// time. So: 2 MiB pages where the kernel gives them (transparent huge pages on madvise), and
// memory kept for a second after it was freed. An environment variable a user set for either
// option (MIMALLOC_LARGE_OS_PAGES, MIMALLOC_DECOMMIT_DELAY) wins.
#pragma once

#include <cstdlib>
#include <string>

#ifdef CASEHUB_WITH_MIMALLOC
#include <mimalloc.h>
#endif

namespace casehub::host {

// Call first thing in main, before threads. Returns the allocator, for the start-up log.
inline std::string tune_allocator() {
#ifdef CASEHUB_WITH_MIMALLOC
    if (!std::getenv("MIMALLOC_LARGE_OS_PAGES")) mi_option_enable(mi_option_large_os_pages);
    if (!std::getenv("MIMALLOC_DECOMMIT_DELAY")) mi_option_set(mi_option_decommit_delay, 1000);
    const int v = mi_version();  // e.g. 209 for 2.0.9
    return "mimalloc " + std::to_string(v / 100) + "." + std::to_string(v / 10 % 10) + "." + std::to_string(v % 10) +
           " (large OS pages " + (mi_option_is_enabled(mi_option_large_os_pages) ? "on" : "off") + ", decommit delay " +
           std::to_string(mi_option_get(mi_option_decommit_delay)) + " ms)";
#else
    return "glibc malloc (built without libmimalloc-dev: slower, see docs/performance.md)";
#endif
}

}  // namespace casehub::host
