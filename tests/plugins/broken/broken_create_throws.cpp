// broken_create_throws: C++ written WITHOUT the SDK (so nothing catches at the boundary); its
// create throws std::runtime_error across the C ABI. The host must turn it into a message.
#include "broken_common.h"

#include <stdexcept>

namespace {

casehub_status create_throws(const casehub_host_api*, casehub_host*, casehub_bytes,
                             casehub_instance**, casehub_error*) {
    throw std::runtime_error("cannot reach http://127.0.0.1:9/api (thrown, not returned)");
}

const casehub_plugin_vtable vtable = [] {
    casehub_plugin_vtable v{};
    v.struct_size = sizeof v;
    v.create = create_throws;  // the one thing wrong
    v.start = broken_start;
    v.poll = broken_poll;
    v.stop = broken_stop;
    v.destroy = broken_destroy;
    return v;
}();

const casehub_plugin_descriptor descriptor = {
    sizeof(casehub_plugin_descriptor), CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR, CASEHUB_KIND_SOURCE,
    "org.casehub.test.broken", "1.0.0", "test plugin: create throws", "[]", 0, &vtable};

}  // namespace

extern "C" BROKEN_ENTRY(&descriptor)
