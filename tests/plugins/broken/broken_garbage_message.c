/* broken_garbage_message: create fails and fills the WHOLE error buffer with several lines,
 * carriage returns and tabs, without a terminating NUL. The host must still print one line. */
#include "broken_common.h"

static casehub_status create_scribbles(const casehub_host_api *api, casehub_host *host,
                                       casehub_bytes config_json, casehub_instance **out,
                                       casehub_error *err) {
    static const char junk[] = "line one\nline two\r\n\tindented ";
    size_t i;
    (void)api;
    (void)host;
    (void)config_json;
    (void)out;
    if (err == NULL || err->buf == NULL) return CASEHUB_ERR_IO;
    for (i = 0; i < err->cap; ++i) err->buf[i] = junk[i % (sizeof junk - 1)]; /* no NUL */
    return CASEHUB_ERR_IO;
}

BROKEN_SOURCE_PLUGIN(create_scribbles, broken_poll, "a deliberately broken test plugin")
