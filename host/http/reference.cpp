#include "http/reference.hpp"

#include "pipeline/status_rules.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace casehub::host::http {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Result<json> read_json(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return make_error(file.string() + ": cannot open for reading");
    std::ostringstream ss;
    ss << in.rdbuf();
    json j = json::parse(ss.str(), nullptr, false);
    if (!j.is_object()) return make_error(file.string() + ": not a JSON object");
    return j;
}

std::string str(const json& o, const char* key) {
    const auto it = o.find(key);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

bool Reference::status(std::string_view s) { return parse_status(s).has_value(); }

const std::string& Reference::name_of(std::string_view code) const {
    static const std::string none;
    const auto it = names_.find(code);
    return it == names_.end() ? none : it->second;
}

Result<Reference> Reference::load(const fs::path& dir) {
    Reference r;
    auto divisions = read_json(dir / "divisions.json");
    if (!divisions) return divisions.error();
    for (const char* layer : {"streets", "communities"}) {
        const auto it = divisions->find(layer);
        if (it == divisions->end() || !it->is_array())
            return make_error((dir / "divisions.json").string() + ": \"" + layer + "\" is not an array");
        for (const auto& d : *it) {
            const std::string code = str(d, "code");
            if (code.empty()) continue;
            (std::string_view(layer) == "streets" ? r.streets_ : r.communities_).insert(code);
            r.names_[code] = str(d, "name");
        }
    }
    auto map = read_json(dir / "grid-map.geojson");
    if (!map) return map.error();
    if (const auto it = map->find("features"); it != map->end() && it->is_array()) {
        for (const auto& f : *it) {
            const auto p = f.find("properties");
            if (p == f.end() || !p->is_object()) continue;
            const std::string layer = str(*p, "layer"), code = str(*p, "code");
            if (code.empty()) continue;
            if (layer == "grid") r.grids_.insert(code);
            else if (layer == "special_grid") r.special_grids_.insert(code);
            else if (layer == "street") r.streets_.insert(code);
            else if (layer == "community") r.communities_.insert(code);
            else continue;
            if (!r.names_.count(code)) r.names_[code] = str(*p, "name");
        }
    }
    if (r.grids_.empty()) return make_error((dir / "grid-map.geojson").string() + ": no grid features");
    auto cats = read_json(dir / "categories.json");
    if (!cats) return cats.error();
    for (const char* key : {"families", "categories"}) {
        const auto it = cats->find(key);
        if (it == cats->end() || !it->is_array())
            return make_error((dir / "categories.json").string() + ": \"" + key + "\" is not an array");
        for (const auto& c : *it) {
            const std::string code = str(c, "code");
            if (code.empty()) continue;
            (std::string_view(key) == "families" ? r.families_ : r.categories_).insert(code);
        }
    }
    if (auto fb = str(*cats, "fallback"); !fb.empty()) r.categories_.insert(fb);
    return r;
}

}  // namespace casehub::host::http
