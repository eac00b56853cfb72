#include "correlate/place.hpp"

#include <algorithm>
#include <array>

namespace casehub::host::correlate {

namespace {

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) { return s.size() >= p.size() && s.substr(s.size() - p.size()) == p; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// Relative words after a landmark, longest first where one ends another.
constexpr std::array<std::string_view, 16> kRelative = {"附近", "门口", "东侧", "西侧", "南侧", "北侧", "北门", "南门",
                                                       "东门", "西门", "对面", "旁边", "东北角", "西北角", "路口", "旁"};

}  // namespace

std::string Place::to_string() const {
    switch (kind) {
        case Kind::road: return "r\t" + name + "\t" + number;
        case Kind::landmark: return "l\t" + name;
        case Kind::none: break;
    }
    return {};
}

Place Place::from_string(std::string_view s) {
    Place p;
    if (s.size() < 3 || s[1] != '\t') return p;
    const std::string_view rest = s.substr(2);
    if (s[0] == 'r') {
        const auto tab = rest.find('\t');
        if (tab == std::string_view::npos) return p;
        p.kind = Kind::road;
        p.name = rest.substr(0, tab);
        p.number = rest.substr(tab + 1);
    } else if (s[0] == 'l') {
        p.kind = Kind::landmark;
        p.name = rest;
    }
    return p;
}

Place parse_place(std::string_view address) {
    // Tabs separate the stored form's fields: none may survive inside a name.
    std::string text(address);
    std::replace(text.begin(), text.end(), '\t', ' ');
    std::string_view a = text;
    // Cut remarks: ASCII , ; ( and line breaks, and their full-width forms.
    for (std::string_view cut : {",", ";", "(", "\n", "\r", "，", "；", "（", "、"})
        if (auto at = a.find(cut); at != std::string_view::npos) a = a.substr(0, at);
    // Trim ASCII and ideographic spaces.
    auto trim = [](std::string_view& s) {
        for (bool changed = true; changed;) {
            changed = false;
            while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1), changed = true;
            while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1), changed = true;
            if (starts_with(s, "\u3000")) s.remove_prefix(3), changed = true;
            if (ends_with(s, "\u3000")) s.remove_suffix(3), changed = true;
        }
    };
    trim(a);
    for (std::string_view prefix : {"江苏省", "南京市", "秦淮区"})
        if (starts_with(a, prefix)) a.remove_prefix(prefix.size());
    // "<name>街道" within the first few characters is the street office's name.
    if (auto at = a.find("街道"); at != std::string_view::npos && at <= 8 * 3) a.remove_prefix(at + 6);
    trim(a);
    Place p;
    if (a.empty()) return p;
    // Road + number: the first digit run followed by 号, with something before it.
    for (std::size_t i = 0; i < a.size(); ++i) {
        if (!is_digit(a[i])) continue;
        std::size_t j = i;
        while (j < a.size() && is_digit(a[j])) ++j;
        if (i > 0 && starts_with(a.substr(j), "号")) {
            p.kind = Place::Kind::road;
            p.name = a.substr(0, i);
            p.number = a.substr(i, j - i);
            return p;
        }
        i = j;
    }
    // Landmark: drop "往南50米" style directions, then one relative word.
    for (std::string_view dir : {"往东", "往南", "往西", "往北", "向东", "向南", "向西", "向北"})
        if (auto at = a.find(dir); at != std::string_view::npos && at > 0 && ends_with(a, "米")) {
            a = a.substr(0, at);
            break;
        }
    for (std::string_view rel : kRelative)
        if (ends_with(a, rel) && a.size() > rel.size()) {
            a.remove_suffix(rel.size());
            break;
        }
    trim(a);
    if (a.empty()) return p;
    p.kind = Place::Kind::landmark;
    p.name = a;
    return p;
}

}  // namespace casehub::host::correlate
