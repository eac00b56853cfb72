/* broken_entry_null: the entry point exists but returns NULL (the plugin does not serve this
 * host's ABI). */
#include "broken_common.h"

CASEHUB_EXPORT const casehub_plugin_descriptor *casehub_plugin_entry(uint32_t host_abi_major,
                                                                     uint32_t host_abi_minor) {
    (void)host_abi_major;
    (void)host_abi_minor;
    return NULL; /* the one thing wrong */
}
