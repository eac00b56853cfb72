/* broken_garbage_instance: create says CASEHUB_OK but hands back no instance. */
#include "broken_common.h"

static casehub_status create_nothing(const casehub_host_api *api, casehub_host *host,
                                     casehub_bytes config_json, casehub_instance **out,
                                     casehub_error *err) {
    (void)api;
    (void)host;
    (void)config_json;
    (void)err;
    *out = NULL; /* the one thing wrong */
    return CASEHUB_OK;
}

static const casehub_plugin_vtable vtable = {
    .struct_size = sizeof(casehub_plugin_vtable),
    .create = create_nothing,
    .start = broken_start,
    .poll = broken_poll,
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
