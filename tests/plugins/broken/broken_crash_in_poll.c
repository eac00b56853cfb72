/* broken_crash_in_poll: a valid plugin whose first poll dies of SIGSEGV, as vendor code with a
 * wild pointer does. The check (and the runner) must survive and report it. */
#include "broken_common.h"

#include <signal.h>

static casehub_status poll_crashes(casehub_instance *self, uint32_t timeout_ms,
                                   casehub_error *err) {
    (void)self;
    (void)timeout_ms;
    (void)err;
    raise(SIGSEGV); /* the one thing wrong */
    return CASEHUB_OK;
}

BROKEN_SOURCE_PLUGIN(broken_create, poll_crashes, "test plugin: crashes (SIGSEGV) in poll")
