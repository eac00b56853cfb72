// Fuzz target: what a feed client parses from the hub (host/feed/feed.hpp, wire.hpp): an event
// header frame and a replay's events pack.
//
// Input: arbitrary bytes, read both as one header frame and as one pack.
// Invariants (any violation traps):
//   - neither parse throws;
//   - parse_event() (the DOM-free reader, else nlohmann) gives what parse_event_json()
//     (nlohmann alone) gives: the same verdict and, when taken, the same fields; the detail the
//     same JSON value, and the same text whenever the detail sent is in nlohmann's canonical
//     form (the DOM-free reader keeps the text as sent);
//   - a header taken is written back by event_header_text() and read again as the same event;
//   - a pack is taken only whole: on success every byte belongs to an event (8 bytes of lengths
//     at least each), on failure the message says where, on one line; the events before the
//     failure are appended either way, each what parse_event() makes of its header.
#include "feed/feed.hpp"
#include "feed/wire.hpp"

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.hpp"

using namespace casehub::host;

namespace {

bool same_but_detail(const EventRow& a, const EventRow& b) {
    return a.seq == b.seq && a.case_id == b.case_id && a.type == b.type && a.street_code == b.street_code &&
           a.prev_street_seq == b.prev_street_seq && a.community_code == b.community_code &&
           a.grid_code == b.grid_code && a.category_family == b.category_family && a.status == b.status &&
           a.at == b.at && a.doc == b.doc;
}

// The same fields, and details that are the same text or the same JSON object.
bool same_value(const EventRow& a, const EventRow& b) {
    if (!same_but_detail(a, b)) return false;
    if (a.detail == b.detail) return true;
    const auto x = nlohmann::json::parse(a.detail, nullptr, false);
    return x.is_object() && x == nlohmann::json::parse(b.detail, nullptr, false);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    using casehub::fuzz::fail;
    casehub::fuzz::never_throws(__FILE__, __LINE__, [&] {
        const auto fast = parse_event(in, "d");
        const auto dom = parse_event_json(in, "d");
        if (fast.ok() != dom.ok()) fail(__FILE__, __LINE__, "parse_event and parse_event_json disagree on taking a header");
        if (fast.ok()) {
            if (!same_value(*fast, *dom)) fail(__FILE__, __LINE__, "parse_event read a header otherwise than nlohmann");
            // A detail sent in nlohmann's own form is its dump() already: the same bytes.
            if (casehub::host::wire::is_canonical_json(fast->detail) && fast->detail != dom->detail)
                fail(__FILE__, __LINE__, "parse_event changed a canonical detail's text", fast->detail);
            const std::string again = event_header_text(*fast);
            const auto back = parse_event(again, "d");
            if (!back.ok()) fail(__FILE__, __LINE__, "a header written by event_header_text is not read back", again);
            if (!same_value(*back, *fast)) fail(__FILE__, __LINE__, "a header written and read again changed", again);
        }

        std::vector<EventRow> events;
        const auto pack = parse_event_pack(in, events);
        if (events.size() * 8 > in.size()) fail(__FILE__, __LINE__, "more events than the pack has room for");
        if (!pack.ok()) {
            const std::string& m = pack.error().message;
            if (m.rfind("replay events pack", 0) != 0) fail(__FILE__, __LINE__, "a pack error that does not say what failed", m);
            if (!casehub::fuzz::one_line(m)) fail(__FILE__, __LINE__, "a pack error of more than one line", m);
        }
    });
    return 0;
}
