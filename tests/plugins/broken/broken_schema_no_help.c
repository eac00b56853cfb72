/* broken_schema_no_help: valid JSON, but an option without "help" (the schema is the
 * documentation, so the host refuses undocumented options). */
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
    .config_schema = "[{\"name\": \"url\", \"type\": \"string\", \"required\": true}]", /* the one thing wrong */
    .vtable = &vtable,
};

BROKEN_ENTRY(&descriptor)
