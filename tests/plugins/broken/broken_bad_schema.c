/* broken_bad_schema: a configuration description that is not valid JSON. */
#include "broken_common.h"

static const casehub_plugin_vtable vtable = BROKEN_VTABLE_INIT;
static const casehub_plugin_descriptor descriptor = {
    .struct_size = sizeof(casehub_plugin_descriptor),
    .abi_major = CASEHUB_ABI_MAJOR,
    .abi_minor = CASEHUB_ABI_MINOR,
    .kind = CASEHUB_KIND_SOURCE,
    .name = "org.casehub.test.broken",
    .version = "1.0.0",
    .description = "a deliberately broken test plugin",
    .config_schema = "[{\"name\": \"url\", \"type\": \"string\", ", /* the one thing wrong: truncated JSON */
    .vtable = &vtable,
};

BROKEN_ENTRY(&descriptor)
