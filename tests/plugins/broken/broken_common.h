/*
 * Shared pieces of the deliberately broken test plugins: a well-behaved function table and the
 * entry point. Each plugin spells out its own descriptor and gets exactly ONE thing wrong.
 *
 * Plain C99 against plugin_abi.h only (no SDK), so the broken plugins also prove that the ABI
 * header compiles as C. Everything is `static inline` so that a plugin that uses only part of
 * it compiles without unused-function warnings.
 */
#ifndef CASEHUB_TEST_BROKEN_COMMON_H
#define CASEHUB_TEST_BROKEN_COMMON_H

#include <casehub/plugin_abi.h>

#include <stdlib.h>
#include <string.h>

typedef struct broken_instance {
    const casehub_host_api *api;
    casehub_host *host;
    int polls;
} broken_instance;

static inline void broken_write_error(casehub_error *err, const char *msg) {
    size_t n;
    if (err == NULL || err->buf == NULL || err->cap == 0) return;
    n = strlen(msg);
    if (n > err->cap - 1) n = err->cap - 1;
    memcpy(err->buf, msg, n);
    err->buf[n] = '\0';
}

static inline casehub_status broken_create(const casehub_host_api *api, casehub_host *host,
                                           casehub_bytes config_json, casehub_instance **out,
                                           casehub_error *err) {
    broken_instance *self;
    (void)config_json;
    self = (broken_instance *)calloc(1, sizeof *self);
    if (self == NULL) {
        broken_write_error(err, "out of memory");
        return CASEHUB_ERR_INTERNAL;
    }
    self->api = api;
    self->host = host;
    *out = (casehub_instance *)self;
    return CASEHUB_OK;
}

static inline casehub_status broken_start(casehub_instance *self, casehub_bytes cursor,
                                          casehub_error *err) {
    (void)self;
    (void)cursor;
    (void)err;
    return CASEHUB_OK;
}

static inline casehub_status broken_poll(casehub_instance *self, uint32_t timeout_ms,
                                         casehub_error *err) {
    (void)timeout_ms;
    (void)err;
    if (self != NULL) ((broken_instance *)self)->polls++;
    return CASEHUB_OK;
}

static inline casehub_status broken_stop(casehub_instance *self, casehub_error *err) {
    (void)self;
    (void)err;
    return CASEHUB_OK;
}

static inline void broken_destroy(casehub_instance *self) { free(self); }

/* A complete, valid 1.0 function table (a plugin that breaks the table spells its own). */
#define BROKEN_VTABLE_INIT                                                                    \
    {                                                                                         \
        .struct_size = sizeof(casehub_plugin_vtable), .create = broken_create,                \
        .start = broken_start, .poll = broken_poll, .stop = broken_stop,                      \
        .destroy = broken_destroy                                                             \
    }

/* A well-formed source plugin whose create and poll are `create_fn` and `poll_fn`: for the
 * plugins whose one fault is in what a function does, not in the descriptor. */
#define BROKEN_SOURCE_PLUGIN(create_fn, poll_fn, description_text)                             \
    static const casehub_plugin_vtable vtable = {                                             \
        .struct_size = sizeof(casehub_plugin_vtable), .create = create_fn,                    \
        .start = broken_start, .poll = poll_fn, .stop = broken_stop, .destroy = broken_destroy}; \
    static const casehub_plugin_descriptor descriptor = {                                     \
        .struct_size = sizeof(casehub_plugin_descriptor), .abi_major = CASEHUB_ABI_MAJOR,     \
        .abi_minor = CASEHUB_ABI_MINOR, .kind = CASEHUB_KIND_SOURCE,                          \
        .name = "org.casehub.test.broken", .version = "1.0.0",                                \
        .description = description_text, .config_schema = "[]", .vtable = &vtable};          \
    BROKEN_ENTRY(&descriptor)

/* The entry point every broken plugin that has one exports. */
#define BROKEN_ENTRY(descriptor_ptr)                                                          \
    CASEHUB_EXPORT const casehub_plugin_descriptor *casehub_plugin_entry(                     \
        uint32_t host_abi_major, uint32_t host_abi_minor) {                                   \
        (void)host_abi_major;                                                                 \
        (void)host_abi_minor;                                                                 \
        return (descriptor_ptr);                                                              \
    }

#endif /* CASEHUB_TEST_BROKEN_COMMON_H */
