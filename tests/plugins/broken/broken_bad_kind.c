/* broken_bad_kind: a plugin kind that is neither source nor sink (garbage). */
#include "broken_common.h"

static const casehub_plugin_vtable vtable = BROKEN_VTABLE_INIT;
static const casehub_plugin_descriptor descriptor = {
    .struct_size = sizeof(casehub_plugin_descriptor),
    .abi_major = CASEHUB_ABI_MAJOR,
    .abi_minor = CASEHUB_ABI_MINOR,
    .kind = 7u, /* the one thing wrong */
    .name = "org.casehub.test.broken",
    .version = "1.0.0",
    .description = "a deliberately broken test plugin",
    .config_schema = "[]",
    .vtable = &vtable,
};

BROKEN_ENTRY(&descriptor)
