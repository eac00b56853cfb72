// broken_entry_throws: C++ written WITHOUT the SDK; its entry point lets an exception escape
// into the host, which rule 4 of plugin_abi.h forbids. The host must catch it and refuse the
// plugin with a message, not terminate.
#include <casehub/plugin_abi.h>

#include <stdexcept>

// Deliberately not noexcept (CASEHUB_NOEXCEPT would turn the throw into std::terminate).
extern "C" CASEHUB_EXPORT const casehub_plugin_descriptor* casehub_plugin_entry(uint32_t host_abi_major,
                                                                               uint32_t /*minor*/) {
    if (host_abi_major != 0) throw std::runtime_error("broken_entry_throws: thrown from the entry point");
    return nullptr;
}
