/* broken_too_small: claims ABI 1.0 but a descriptor size that ends before the members 1.0
 * requires (as if built against a truncated header). */
#include "broken_common.h"

static const casehub_plugin_vtable vtable = BROKEN_VTABLE_INIT;
static const casehub_plugin_descriptor descriptor = {
    .struct_size = offsetof(casehub_plugin_descriptor, name), /* the one thing wrong: 16 bytes */
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
