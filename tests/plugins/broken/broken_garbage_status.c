/* broken_garbage_status: create returns a status that is no casehub_status (12345). */
#include "broken_common.h"

static casehub_status create_garbage(const casehub_host_api *api, casehub_host *host,
                                     casehub_bytes config_json, casehub_instance **out,
                                     casehub_error *err) {
    (void)api;
    (void)host;
    (void)config_json;
    (void)out;
    (void)err;
    return 12345; /* the one thing wrong */
}

BROKEN_SOURCE_PLUGIN(create_garbage, broken_poll, "a deliberately broken test plugin")
