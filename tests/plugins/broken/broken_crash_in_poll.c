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

static const casehub_plugin_vtable vtable = {
    .struct_size = sizeof(casehub_plugin_vtable),
    .create = broken_create,
    .start = broken_start,
    .poll = poll_crashes,
    .stop = broken_stop,
    .destroy = broken_destroy,
};
static const casehub_plugin_descriptor descriptor = {
    .struct_size = sizeof(casehub_plugin_descriptor),
    .abi_major = CASEHUB_ABI_MAJOR,
    .abi_minor = CASEHUB_ABI_MINOR,
    .kind = CASEHUB_KIND_SOURCE,
    .name = "org.casehub.test.broken",
    .version = "1.0.0",
    .description = "test plugin: crashes (SIGSEGV) in poll",
    .config_schema = "[]",
    .vtable = &vtable,
};

BROKEN_ENTRY(&descriptor)
