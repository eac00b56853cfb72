/* broken_missing_poll: a source whose function table has no poll. */
#include "broken_common.h"

static const casehub_plugin_vtable vtable = {
    .struct_size = sizeof(casehub_plugin_vtable),
    .create = broken_create,
    .start = broken_start,
    .poll = NULL, /* the one thing wrong: poll is required of a source */
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
    .description = "a deliberately broken test plugin",
    .config_schema = "[]",
    .vtable = &vtable,
};

BROKEN_ENTRY(&descriptor)
