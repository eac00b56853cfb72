/* broken_required_config: a VALID plugin whose schema has a required option `url`; started
 * without it, the configuration does not satisfy the description and the host refuses it. */
#include "broken_common.h"

static const casehub_plugin_vtable vtable = BROKEN_VTABLE_INIT;
static const casehub_plugin_descriptor descriptor = {
    .struct_size = sizeof(casehub_plugin_descriptor),
    .abi_major = CASEHUB_ABI_MAJOR,
    .abi_minor = CASEHUB_ABI_MINOR,
    .kind = CASEHUB_KIND_SOURCE,
    .name = "org.casehub.test.broken",
    .version = "1.0.0",
    .description = "test plugin with one required option, url",
    .config_schema = "[{\"name\": \"url\", \"type\": \"string\", \"required\": true, "
                     "\"help\": \"base URL of the source system\"}]",
    .vtable = &vtable,
};

BROKEN_ENTRY(&descriptor)
