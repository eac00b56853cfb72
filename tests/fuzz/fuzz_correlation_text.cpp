// Fuzz target: the correlator's text parsers (host/correlate/text.hpp, place.hpp).
//
// Input: arbitrary bytes as a description / an address (any encoding, invalid UTF-8 included).
// Invariants (any violation traps):
//   - never throws;
//   - bigrams() is sorted, unique, at most max_bigrams long; dice() is in [0, 1], symmetric,
//     1 with itself for a non-empty signature; to_bytes/from_bytes round-trip;
//   - a discount by a signature removes exactly its members;
//   - parse_place() round-trips through to_string/from_string; a road has digits-only number.
#include "correlate/place.hpp"
#include "correlate/text.hpp"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"

using namespace casehub::host::correlate;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    casehub::fuzz::never_throws(__FILE__, __LINE__, [&] {
        const std::size_t half = in.size() / 2;
        const Signature a = bigrams(in, nullptr, 64), b = bigrams(in.substr(half));
        if (a.size() > 64) casehub::fuzz::fail(__FILE__, __LINE__, "more bigrams than max_bigrams");
        if (!std::is_sorted(a.begin(), a.end()) || std::adjacent_find(a.begin(), a.end()) != a.end())
            casehub::fuzz::fail(__FILE__, __LINE__, "signature not sorted and unique");
        const double d = dice(a, b);
        if (d < 0 || d > 1 || d != dice(b, a)) casehub::fuzz::fail(__FILE__, __LINE__, "dice out of [0,1] or asymmetric");
        if (!a.empty() && dice(a, a) != 1.0) casehub::fuzz::fail(__FILE__, __LINE__, "dice(a, a) != 1");
        if (from_bytes(to_bytes(a)) != a) casehub::fuzz::fail(__FILE__, __LINE__, "signature bytes do not round-trip");
        const Signature c = bigrams(in, &b);
        for (auto x : c)
            if (std::binary_search(b.begin(), b.end(), x)) casehub::fuzz::fail(__FILE__, __LINE__, "discounted bigram kept");
        (void)strip_phrases(in, {"请尽快处理", std::string(in.substr(0, std::min<std::size_t>(3, in.size())))});
        const Place p = parse_place(in);
        const Place q = Place::from_string(p.to_string());
        if (p.kind != Place::Kind::none && (q.kind != p.kind || q.name != p.name || q.number != p.number))
            casehub::fuzz::fail(__FILE__, __LINE__, "place does not round-trip", in);
        if (p.kind == Place::Kind::road &&
            (p.number.empty() || p.number.find_first_not_of("0123456789") != std::string::npos))
            casehub::fuzz::fail(__FILE__, __LINE__, "road number is not digits", in);
    });
    return 0;
}
