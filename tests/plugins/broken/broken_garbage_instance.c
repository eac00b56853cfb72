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

BROKEN_SOURCE_PLUGIN(create_nothing, broken_poll, "a deliberately broken test plugin")
