// Text evidence for correlation: Chinese descriptions and addresses as sets of hashed
// character bigrams, compared with the Dice coefficient.
//
// Chinese has no word breaks, so overlapping character pairs are the usual cheap unit: two
// reports of the same overflowing drain share 污水/水外/外溢 whatever words surround them. A run
// of digits or Latin letters counts as one character (门牌 "123号" is 123+号, not 12/23/3号), so
// house number 123 and 128 share nothing. Punctuation and spaces break the chain.
//
// Signatures are sorted, unique 16-bit hashes: about 2 bytes per bigram, compared by a merge.
// A chance collision between two short texts (a few dozen bigrams each) is rare enough not to
// move a score.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace casehub::host::correlate {

using Signature = std::vector<std::uint16_t>;

// Removes every occurrence of each phrase (set phrases such as 请尽快处理 that say nothing
// about the incident) from `text`.
std::string strip_phrases(std::string_view text, const std::vector<std::string>& phrases);

// Bigrams of `text`, without those in `discount` (e.g. the address's, so that two complaints
// about different problems at one address do not look alike). At most `max_bigrams` kept.
Signature bigrams(std::string_view text, const Signature* discount = nullptr,
                  std::size_t max_bigrams = 128);

// 2|A∩B| / (|A|+|B|); 0 when either is empty.
double dice(const Signature& a, const Signature& b);

// Byte form for the store (little-endian uint16s) and back.
std::string to_bytes(const Signature& s);
Signature from_bytes(std::string_view b);
void from_bytes(std::string_view b, Signature& out);  // reuses out's storage

}  // namespace casehub::host::correlate
