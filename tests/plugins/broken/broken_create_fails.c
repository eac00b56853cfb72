/* broken_create_fails: create refuses its configuration with CASEHUB_ERR_CONFIG and a message,
 * as an adapter does when it cannot reach its source. */
#include "broken_common.h"

static casehub_status create_fails(const casehub_host_api *api, casehub_host *host,
                                   casehub_bytes config_json, casehub_instance **out,
                                   casehub_error *err) {
    (void)api;
    (void)host;
    (void)config_json;
    (void)out;
    broken_write_error(err, "cannot reach http://127.0.0.1:9/api/v1/cases (connection refused)");
    return CASEHUB_ERR_CONFIG;
}

BROKEN_SOURCE_PLUGIN(create_fails, broken_poll, "a deliberately broken test plugin")
