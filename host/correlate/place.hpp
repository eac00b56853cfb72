// Where a report says it is, as words: "<road><number>号" or "<place>[附近|门口|东侧…]".
//
// Addresses in the department systems come in two forms: a road and house number (长白街112号)
// or a landmark with a relative word (三条巷幼儿园北门, 王府园附近). Comparing the parsed parts says
// more than comparing characters: the same road with another number is next door, not the same
// incident; the same landmark is likely the same place; a road against a landmark says nothing.
// The district / street prefix (南京市秦淮区夫子庙街道) and anything after a comma, line break or
// bracket (hand-typed remarks in enforcement exports) are dropped.
#pragma once

#include <string>
#include <string_view>

namespace casehub::host::correlate {

struct Place {
    enum class Kind { none, road, landmark };
    Kind kind = Kind::none;
    std::string name;    // the road, or the landmark
    std::string number;  // house number (road only)

    std::string to_string() const;              // "r\t<road>\t<n>", "l\t<landmark>", "" (store form)
    static Place from_string(std::string_view s);
};

Place parse_place(std::string_view address);

}  // namespace casehub::host::correlate
