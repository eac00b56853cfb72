// broken_poll_throws: C++ written WITHOUT the SDK; create and start work, then poll throws
// std::runtime_error across the C ABI. The host must turn it into a message.
#include "broken_common.h"

#include <stdexcept>

namespace {

casehub_status poll_throws(casehub_instance*, uint32_t, casehub_error*) {
    throw std::runtime_error("broken_poll_throws: thrown from poll");
}

const casehub_plugin_vtable vtable = [] {
    casehub_plugin_vtable v{};
    v.struct_size = sizeof v;
    v.create = broken_create;
    v.start = broken_start;
    v.poll = poll_throws;  // the one thing wrong
    v.stop = broken_stop;
    v.destroy = broken_destroy;
    return v;
}();

const casehub_plugin_descriptor descriptor = {
    sizeof(casehub_plugin_descriptor), CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR, CASEHUB_KIND_SOURCE,
    "org.casehub.test.broken", "1.0.0", "test plugin: poll throws", "[]", 0, &vtable};

}  // namespace

extern "C" BROKEN_ENTRY(&descriptor)
