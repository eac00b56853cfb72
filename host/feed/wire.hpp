// The event header frame without a JSON DOM: the replay server and the publisher write it per
// event, FeedClient reads it per event, and nlohmann's DOM cost a quarter of either side's CPU.
//
// Both directions stand in for the DOM code in feed.cpp (event_header() dumped by nlohmann,
// parse_event()'s general parser). The text written is byte for byte what nlohmann writes (keys
// in its sorted order). A header read gives the same EventRow, but for the detail: that is the
// server's text as sent, once known to be an object nlohmann reads as it reads its own dump()
// of it; from casehubd, which sends that dump, the same bytes. Whatever they are not sure of
// (a detail not in the form wanted, invalid UTF-8, a number or a key order they do not expect)
// they decline, and the caller takes the DOM path.
#pragma once

#include "store/events.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace casehub::host::wire {

// An event's header fields as views: into an EventRow or straight into a SQLite row.
struct EventFields {
    std::uint64_t seq = 0;
    std::string_view case_id, type, street_code;
    std::uint64_t prev_street_seq = 0;
    std::string_view community_code, grid_code, category_family, status;
    std::int64_t at = 0;
    std::string_view detail;  // stored JSON text; "" is {}
    bool detail_canonical = false;  // known to be nlohmann's dump() of an object: not checked again
};

EventFields fields_of(const EventRow& e);

// Appends the header; false when it declines (then `out` is unspecified): a field that is not
// valid UTF-8, or a detail that is not a JSON object in nlohmann's canonical form.
bool append_event_header(std::string& out, const EventFields& e);

// If the JSON value starting at text[pos] is exactly what nlohmann would dump after parsing it
// (no whitespace, object keys in strictly increasing byte order, minimal escapes, integers
// without "-0", floats in nlohmann's shortest form, valid UTF-8), where it ends; otherwise
// std::string_view::npos. Conservative: a key holding an escape counts as not canonical.
std::size_t canonical_json_end(std::string_view text, std::size_t pos = 0);
inline bool is_canonical_json(std::string_view text) { return canonical_json_end(text) == text.size(); }

// The same walk without the canonical form: where the JSON value at text[pos] ends if nlohmann
// reads it, and reads the same value again from its own dump() of it (no key twice: object keys
// strictly increasing, as nlohmann writes them). Conservative as above, and it also declines a
// float beyond double's range. Cheaper: a number's text is not converted. npos otherwise.
std::size_t json_value_end(std::string_view text, std::size_t pos = 0);

// Reads a header in the layout append_event_header() writes into `out` (all but doc); false
// when the header is laid out in any other way, or anything in it is unexpected (then `out` is
// unspecified and the caller parses it with nlohmann).
bool parse_event_header_fast(std::string_view header, EventRow& out);

}  // namespace casehub::host::wire
