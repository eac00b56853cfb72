/* broken_garbage_struct: a descriptor whose struct_size is garbage (0xFFFFFFFF). */
#include "broken_common.h"

static const casehub_plugin_vtable vtable = BROKEN_VTABLE_INIT;
static const casehub_plugin_descriptor descriptor = {
    .struct_size = 0xFFFFFFFFu, /* the one thing wrong */
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
