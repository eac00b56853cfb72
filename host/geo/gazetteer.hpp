// Address geocoding with the district gazetteer (config/qinhuai/gazetteer.json): text-only
// addresses of 12345 work orders (citizens' free text) and enforcement cases (违法地点) to a
// point, a street and a community, with the precision of case-model.md §3.1 and an explanation
// of every decision (for `casehub geo geocode` and the case history).
//
// Rules, in order:
//  1. Normalise: full-width ASCII to ASCII, whitespace dropped; split into segments at , ; 。 and
//     line breaks. The first segment holding an anchor decides; later ones are context.
//  2. An address naming another district or city (玄武区, 建邺区, 鼓楼区 ..., 苏州市 ...) is
//     never matched: no guessing across the district boundary.
//  3. Scan left to right for the longest known surface at each position: entry names and
//     aliases (names beginning with 秦淮区/南京市 also without that prefix), the 12 street names
//     (夫子庙街道, 夫子庙街道办 ...: they are stripped and remembered as a hint, so that
//     "光华路街道" is not read as the road 光华路), and the prefixes 江苏省, 南京市, 秦淮区 and
//     their short forms (stripped).
//  4. Anchors and their precision: landmark, compound, school, hospital, market, park 50; road
//     with a house number (12号, 100-2号, 一百二十八号) inside a stretch's house_numbers range
//     100; two roads joined by a connector (与, 和, 、 ...) or followed by a crossing word
//     (交叉口, 路口, 交界 ...) 150, at the midpoint of the closest pair of their stretches; a road
//     with no usable number (none, or outside every range) 300, on the stretch whose range is
//     nearest the number, else the stretch in the street named in the text, else the stretch
//     nearest another anchor of the address, else the longest stretch. The smallest precision
//     wins; ties go to the longer surface, then to the earlier one.
//  5. A relative phrase in the anchor's segment (附近, 对面, 旁边, 东侧, 门口, 往东50米 ...)
//     keeps the anchor's point and adds 50.
#pragma once

#include "common/result.hpp"
#include "geo/lonlat.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace casehub::host::geo {

struct GeocodeResult {
    bool matched = false;
    LonLat point{};  // the anchor's point (relative phrases keep the anchor)
    std::string street_code, community_code;  // from the matched entry
    int precision_m = 0;                       // case-model.md §3.1
    std::string matched_name, matched_type, rule;  // which entry and which rule decided
    std::string explanation;  // one or more lines: what was stripped, candidates, why this one
};

class Gazetteer {
public:
    // Errors name the file and the entry. The files are read at every load: the gazetteer is
    // extended by editing config/, without a rebuild.
    static Result<Gazetteer> load(const std::filesystem::path& gazetteer_json,
                                  const std::filesystem::path& divisions_json);

    GeocodeResult geocode(std::string_view address) const;

    // The street named by an operator-filled street name (12345 jdmc, enforcement 承办街道):
    // "夫子庙街道", "夫子庙街道办事处", "秦淮区夫子庙街道", the short "夫子庙", "光华路", or the
    // pinyin name_en; nullopt when it names none of the 12 streets (区局直属, empty, another
    // district).
    std::optional<std::string> street_by_name(std::string_view name) const;

    std::size_t entry_count() const { return entries_.size(); }

    // One gazetteer entry as loaded (a road has one entry per street it crosses).
    struct Entry {
        std::string name;
        std::vector<std::string> aliases;
        std::string type;  // landmark compound school hospital market park road
        LonLat point{};
        std::string street_code, community_code;
        bool has_range = false;
        int from = 0, to = 0;  // house_numbers of a road stretch
    };
    const std::vector<Entry>& entries() const { return entries_; }

private:
    enum class Kind : std::uint8_t { place, road, street, prefix };
    struct Surface {
        std::string text;
        Kind kind;
        int target;  // place: entry index; road: road index; street: street index; prefix: -1
        bool alias;  // not the entry's own name
    };
    struct Road {
        std::string name;
        std::vector<int> stretches;  // entry indices
    };
    struct Street {
        std::string code, name, short_name, name_en;
    };

    std::vector<Entry> entries_;
    std::vector<Road> roads_;
    std::vector<Street> streets_;
    std::vector<Surface> surfaces_;
    // First code point of a surface -> surfaces starting with it, longest first.
    std::unordered_map<std::uint32_t, std::vector<int>> by_first_;
};

}  // namespace casehub::host::geo
