/* broken_bad_record: a valid plugin whose first poll emits one record that is not a valid
 * casehub.record/1 (only its "schema" member), with cursor "1". */
#include "broken_common.h"

static casehub_status poll_bad_record(casehub_instance *self, uint32_t timeout_ms,
                                      casehub_error *err) {
    static const char record[] = "{\"schema\":\"casehub.record/1\"}";
    static const char cursor[] = "1";
    broken_instance *me = (broken_instance *)self;
    casehub_bytes rec;
    casehub_batch batch;
    uint64_t id = 0;
    (void)timeout_ms;
    if (me->polls++ > 0) return CASEHUB_OK; /* one record, then nothing */
    rec.data = record;
    rec.len = sizeof record - 1;
    memset(&batch, 0, sizeof batch);
    batch.struct_size = sizeof batch;
    batch.records = &rec;
    batch.record_count = 1;
    batch.cursor.data = cursor;
    batch.cursor.len = sizeof cursor - 1;
    return me->api->emit(me->host, &batch, &id, err);
}

BROKEN_SOURCE_PLUGIN(broken_create, poll_bad_record, "test plugin: emits one invalid record")
