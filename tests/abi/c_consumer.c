/* Compiled as strict C99 by the [abi] tests: the ABI header must stay pure C. This is also what
 * a plugin in C looks like at its smallest. */
#include <casehub/plugin_abi.h>

static casehub_status create(const casehub_host_api *api, casehub_host *host, casehub_bytes config,
                             casehub_instance **out, casehub_error *err) {
    (void)api; (void)host; (void)config; (void)out; (void)err;
    return CASEHUB_ERR_UNSUPPORTED;
}

static const casehub_plugin_vtable vtable = {sizeof(casehub_plugin_vtable), 0, create, 0, 0, 0, 0, 0, 0, 0};

static const casehub_plugin_descriptor descriptor = {
    sizeof(casehub_plugin_descriptor), CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR, CASEHUB_KIND_SOURCE,
    "org.casehub.test.c99", "1.0.0", "C99 consumer of the ABI header", "[]", 0, &vtable};

CASEHUB_EXTERN_C CASEHUB_EXPORT const casehub_plugin_descriptor *casehub_plugin_entry(uint32_t major, uint32_t minor) {
    (void)minor;
    return major == CASEHUB_ABI_MAJOR ? &descriptor : 0;
}
