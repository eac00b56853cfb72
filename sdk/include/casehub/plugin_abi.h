/*
 * casehub plugin ABI — the binary contract between the casehub host (casehub-runner,
 * casehubd, casehub plugin check) and an adapter plugin.
 *
 * Pure C (C99 and later, C++20 and later). Vendors compile against this header with their own
 * compiler; the host loads the resulting shared library and looks up ONE symbol:
 *
 *     const casehub_plugin_descriptor *casehub_plugin_entry(uint32_t host_abi_major,
 *                                                           uint32_t host_abi_minor);
 *
 * THE RULES (read these before changing anything below)
 *  1. Versioning. CASEHUB_ABI_MAJOR changes only when an existing member changes meaning, type
 *     or position; a host refuses a plugin of another major. CASEHUB_ABI_MINOR grows when
 *     members are APPENDED to a struct; a host refuses a plugin built for a newer minor than its
 *     own (the plugin may rely on host functions the host lacks) and accepts older minors.
 *  2. Every struct that crosses the boundary starts with `uint32_t struct_size` (its sizeof as
 *     the writer compiled it). A reader never touches a member that lies beyond struct_size;
 *     a function pointer inside struct_size may still be NULL where documented as optional.
 *  3. Structs are append-only. Nothing is removed, reordered or retyped within a major.
 *  4. Only C types cross: fixed-width integers, pointers, plain structs. No C++ types, no
 *     exceptions (a plugin that lets one escape is broken; the SDK catches them all), no
 *     setjmp/longjmp across the boundary, no allocator mixing (whoever allocates, frees).
 *  5. Text is UTF-8. JSON is UTF-8 bytes with an explicit length (never assumed NUL-terminated)
 *     unless the member is a `const char *` documented as NUL-terminated.
 *  6. Every function returns a casehub_status and, on failure, writes one line into the
 *     caller's casehub_error buffer that names what failed and where.
 *  7. Ownership is written on every pointer: BORROWED (valid only for the duration of the call,
 *     copy what you keep), STATIC (valid as long as the library is loaded), OWNED BY X (X frees).
 *
 * The C++ SDK (casehub/sdk/plugin.hpp) implements all of this for an ordinary C++ class; read
 * this header when writing a plugin in another language or when changing the host.
 *
 * A change to this file must bump CASEHUB_ABI_MINOR (append) or CASEHUB_ABI_MAJOR (break) and
 * record the new hash in sdk/abi/plugin_abi.lock; the [abi] tests fail otherwise.
 */
#ifndef CASEHUB_PLUGIN_ABI_H
#define CASEHUB_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#define CASEHUB_ABI_MAJOR 1
#define CASEHUB_ABI_MINOR 0

#define CASEHUB_ENTRY_SYMBOL "casehub_plugin_entry"

#if defined(_WIN32)
#define CASEHUB_EXPORT __declspec(dllexport)
#else
#define CASEHUB_EXPORT __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
#define CASEHUB_EXTERN_C extern "C"
#define CASEHUB_NOEXCEPT noexcept
#else
#define CASEHUB_EXTERN_C
#define CASEHUB_NOEXCEPT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Status codes ------------------------------------------------------------------------ */

typedef int32_t casehub_status;
#define CASEHUB_OK 0
#define CASEHUB_ERR_INVALID_ARGUMENT 1 /* the caller passed something malformed */
#define CASEHUB_ERR_CONFIG 2           /* the configuration cannot be used */
#define CASEHUB_ERR_UNAVAILABLE 3      /* transient: the source is down or busy, retry later */
#define CASEHUB_ERR_IO 4               /* I/O failed (file, socket, protocol) */
#define CASEHUB_ERR_STOPPING 5         /* the host is shutting down; return promptly */
#define CASEHUB_ERR_UNSUPPORTED 6      /* the operation is not offered by this side */
#define CASEHUB_ERR_LIMIT 7            /* a size or count limit was exceeded */
#define CASEHUB_ERR_INTERNAL 8         /* a bug or an escaped exception; the message says more */

/* ---- Plain value types --------------------------------------------------------------------- */

/* A byte range. Ownership is stated where the type is used (usually BORROWED). */
typedef struct casehub_bytes {
    const char *data; /* may be NULL when len is 0 */
    size_t len;
} casehub_bytes;

/* An error message buffer. OWNED BY THE CALLER; the callee writes at most cap-1 bytes of one
 * UTF-8 line plus a NUL. buf may be NULL (cap 0) when the caller does not want a message. */
typedef struct casehub_error {
    char *buf;
    size_t cap;
} casehub_error;

/* Opaque handles. casehub_host: OWNED BY THE HOST, valid from create until destroy returns.
 * casehub_instance: OWNED BY THE PLUGIN, created by create, freed by destroy. */
typedef struct casehub_host casehub_host;
typedef struct casehub_instance casehub_instance;

#define CASEHUB_KIND_SOURCE 1u /* reads a department system, emits casehub.record/1 documents */
#define CASEHUB_KIND_SINK 2u   /* receives casehub.case/1 documents from the feed */

#define CASEHUB_CAP_WRITE_BACK (1ull << 0) /* implements write_back (actions to the source) */
#define CASEHUB_CAP_ACK (1ull << 1)        /* needs acked() before answering its source */

#define CASEHUB_LOG_DEBUG 0
#define CASEHUB_LOG_INFO 1
#define CASEHUB_LOG_WARN 2
#define CASEHUB_LOG_ERROR 3

#define CASEHUB_HEALTH_OK 0       /* connected, working */
#define CASEHUB_HEALTH_DEGRADED 1 /* working with trouble (retries, partial data) */
#define CASEHUB_HEALTH_DOWN 2     /* cannot reach its source; still running and retrying */

/* Hard limits the host enforces (a plugin exceeding them gets CASEHUB_ERR_LIMIT). */
#define CASEHUB_MAX_RECORD_BYTES (1024u * 1024u) /* casehub.record/1: one document <= 1 MiB */
#define CASEHUB_MAX_CURSOR_BYTES 4096u
#define CASEHUB_MAX_BATCH_RECORDS 10000u

/* One batch of records and the source position they reach. Everything BORROWED for the call. */
typedef struct casehub_batch {
    uint32_t struct_size;
    uint32_t reserved0;
    const casehub_bytes *records; /* record_count casehub.record/1 JSON documents */
    size_t record_count;          /* 0 is allowed: it only advances the cursor */
    casehub_bytes cursor;         /* opaque to the host; given back to start() after restarts */
} casehub_batch;

/* A native record the plugin could not turn into a valid casehub.record/1. BORROWED. */
typedef struct casehub_dead_letter {
    uint32_t struct_size;
    uint32_t reserved0;
    const char *reason;    /* NUL-terminated short code, e.g. "bad_xml", "bad_encoding" */
    const char *detail;    /* NUL-terminated one line naming what and where; may be NULL */
    casehub_bytes native;  /* the native bytes, personal data ALREADY MASKED */
    casehub_bytes cursor;  /* where in the source it was found; may be empty */
} casehub_dead_letter;

/* ---- What the host offers the plugin (passed to create) ------------------------------------ */

/* STATIC for the plugin's purposes: valid from create until destroy returns. Functions may be
 * called from any plugin thread between create and destroy unless stated otherwise. Before
 * calling a member appended in a later minor, check struct_size (CASEHUB_HAS_MEMBER). */
typedef struct casehub_host_api {
    uint32_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t reserved0;

    /* Hand a batch to the host. Blocks while the host has granted no credit for it (that is
     * the flow control: a slow host slows the plugin). On CASEHUB_OK, *batch_id (may be NULL)
     * receives an id that acked() reports once the batch is durably committed. Returns
     * CASEHUB_ERR_STOPPING when the host is shutting down (the batch was not taken),
     * CASEHUB_ERR_LIMIT for an oversize record or batch (nothing taken; dead-letter it). */
    casehub_status (*emit)(casehub_host *host, const casehub_batch *batch, uint64_t *batch_id,
                           casehub_error *err);

    /* Keep a native record that cannot be normalised. It is stored with the next committed
     * batch; it never blocks on credit. */
    casehub_status (*dead_letter)(casehub_host *host, const casehub_dead_letter *letter,
                                  casehub_error *err);

    /* Log one line (no trailing newline needed). msg BORROWED. Never log unmasked data. */
    void (*log)(casehub_host *host, int32_t level, const char *msg, size_t len);

    /* Report the plugin's own view of its health; msg NUL-terminated, BORROWED, may be NULL. */
    void (*set_health)(casehub_host *host, int32_t health, const char *msg);

    /* Wall clock, milliseconds since the Unix epoch (a test host may control it). */
    int64_t (*now_ms)(casehub_host *host);

    /* Non-zero once the host wants the plugin to stop: long waits should return. */
    int32_t (*stop_requested)(casehub_host *host);
} casehub_host_api;

/* ---- What the plugin offers the host --------------------------------------------------------- */

/* STATIC. The host calls create first, then start once, then poll repeatedly from ONE thread
 * (the plugin thread), acked/write_back on that same thread between polls, then stop, then
 * destroy. A plugin may start threads of its own and call host functions from them. */
typedef struct casehub_plugin_vtable {
    uint32_t struct_size;
    uint32_t reserved0;

    /* config_json: BORROWED, a JSON object already validated against config_schema with
     * defaults applied. On success *out is OWNED BY THE PLUGIN until destroy. */
    casehub_status (*create)(const casehub_host_api *api, casehub_host *host,
                             casehub_bytes config_json, casehub_instance **out,
                             casehub_error *err);

    /* cursor: BORROWED, the last cursor the host committed for this adapter, or empty
     * (len 0) when the adapter has never committed one. */
    casehub_status (*start)(casehub_instance *self, casehub_bytes cursor, casehub_error *err);

    /* Do a bounded amount of work (read, emit), returning within about timeout_ms.
     * CASEHUB_ERR_UNAVAILABLE: transient trouble, the host calls poll again later.
     * Any other error: fatal, the runner exits and the supervisor restarts it. */
    casehub_status (*poll)(casehub_instance *self, uint32_t timeout_ms, casehub_error *err);

    /* Optional (NULL): the batch `batch_id` (and every earlier one) is durably committed. */
    void (*acked)(casehub_instance *self, uint64_t batch_id);

    /* Optional (NULL unless CASEHUB_CAP_WRITE_BACK): apply a command-centre action to the
     * source system. action_json BORROWED. */
    casehub_status (*write_back)(casehub_instance *self, casehub_bytes action_json,
                                 casehub_error *err);

    /* Sinks only (NULL for sources): consume casehub.case/1 documents; batch BORROWED. */
    casehub_status (*consume)(casehub_instance *self, const casehub_batch *cases,
                              casehub_error *err);

    /* Stop reading; flush; threads joined. The host may still deliver acked() after it. */
    casehub_status (*stop)(casehub_instance *self, casehub_error *err);

    /* Free everything; self is invalid afterwards. Never fails. */
    void (*destroy)(casehub_instance *self);
} casehub_plugin_vtable;

/* STATIC: the descriptor and every string and table it points to live as long as the library
 * stays loaded. */
typedef struct casehub_plugin_descriptor {
    uint32_t struct_size;
    uint32_t abi_major; /* CASEHUB_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor; /* CASEHUB_ABI_MINOR the plugin was built with */
    uint32_t kind;      /* CASEHUB_KIND_* */
    const char *name;   /* reverse-DNS, e.g. "cn.gov.qinhuai.dcm"; NUL-terminated */
    const char *version;       /* the plugin's own version, semver "1.2.3" */
    const char *description;   /* one line for `casehub plugins`; may be NULL */
    const char *config_schema; /* JSON array of options, see docs/plugin-abi.md; NUL-terminated */
    uint64_t capabilities;     /* CASEHUB_CAP_* */
    const casehub_plugin_vtable *vtable;
} casehub_plugin_descriptor;

/* The single exported symbol. Returns STATIC data, or NULL when the plugin cannot serve a host
 * of that ABI. Must not block, allocate per call, or throw. */
typedef const casehub_plugin_descriptor *(*casehub_plugin_entry_fn)(uint32_t host_abi_major,
                                                                    uint32_t host_abi_minor);

/* Sizes of each struct as version 1.0 defined it; a reader accepts struct_size >= these. */
#define CASEHUB_DESCRIPTOR_SIZE_1_0 (offsetof(casehub_plugin_descriptor, vtable) + sizeof(void *))
#define CASEHUB_VTABLE_SIZE_1_0 (offsetof(casehub_plugin_vtable, destroy) + sizeof(void *))
#define CASEHUB_HOST_API_SIZE_1_0 (offsetof(casehub_host_api, stop_requested) + sizeof(void *))
#define CASEHUB_BATCH_SIZE_1_0 (offsetof(casehub_batch, cursor) + sizeof(casehub_bytes))
#define CASEHUB_DEAD_LETTER_SIZE_1_0 (offsetof(casehub_dead_letter, cursor) + sizeof(casehub_bytes))

/* True when a struct written by the other side carries `member` (rule 2). */
#define CASEHUB_HAS_MEMBER(ptr, type, member) \
    ((ptr)->struct_size >= offsetof(type, member) + sizeof(((type *)0)->member))

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CASEHUB_PLUGIN_ABI_H */
