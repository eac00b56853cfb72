#include "pipeline/locator.hpp"

#include "geo/crs.hpp"
#include "geo/gazetteer.hpp"
#include "geo/grid_map.hpp"

#include <cmath>

namespace casehub::host {

using nlohmann::json;

namespace {

std::string str(const json& obj, const char* key) {
    if (!obj.is_object()) return {};
    auto it = obj.find(key);
    return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}
double round6(double v) { return std::round(v * 1e6) / 1e6; }
json or_null(const std::string& s) { return s.empty() ? json() : json(s); }

// Objects are built member by member: an initializer list makes a two-element array of each
// member first (about two fifths of locate()'s instructions went to them).
json lon_lat(double lon, double lat) {
    json::object_t o;
    o.emplace("lat", round6(lat));
    o.emplace("lon", round6(lon));
    return json(std::move(o));
}

}  // namespace

struct Locator::Impl {
    geo::GridMap grid;
    geo::Gazetteer gazetteer;
    geo::Converter converter;
    geo::LonLat bbox_min{}, bbox_max{};
};

Locator::Locator() = default;
Locator::~Locator() = default;

Result<std::shared_ptr<const Locator>> Locator::load(const std::filesystem::path& dir) {
    auto grid = geo::GridMap::load(dir / "grid-map.geojson");
    if (!grid) return grid.error();
    auto gaz = geo::Gazetteer::load(dir / "gazetteer.json", dir / "divisions.json");
    if (!gaz) return gaz.error();
    auto conv = geo::Converter::create();
    if (!conv) return conv.error();
    std::shared_ptr<Locator> l(new Locator());
    auto [lo, hi] = grid->district_bbox();
    l->impl_ = std::unique_ptr<Impl>(new Impl{std::move(*grid), std::move(*gaz), std::move(*conv), lo, hi});
    return std::shared_ptr<const Locator>(std::move(l));
}

Locator::Located Locator::locate(const json& rec) const {
    Located out;
    const json null;
    const json& in = rec.contains("location") ? rec["location"] : null;
    const json& src = rec["source"];
    const std::string address = str(in, "address");
    json& loc = out.location;
    {
        json::object_t o;
        o.emplace("original", in.is_object() && in.contains("original") ? in["original"] : json());
        o.emplace("address", or_null(address));
        for (const char* k : {"wgs84", "precision_m", "source", "street_code", "community_code", "grid_code"})
            o.emplace(k, nullptr);
        o.emplace("method", "none");
        o.emplace("special_grids", json::array());
        loc = json(std::move(o));
    }
    auto note = [&](const char* code, std::string message) {
        out.notes.push_back({{"code", code}, {"message", std::move(message)}});
    };
    auto put_point = [&](geo::LonLat p) {
        loc["wgs84"] = lon_lat(p.lon, p.lat);
        auto pl = impl_->grid.place(p.lon, p.lat);
        if (!pl.inside_district) return false;
        loc["street_code"] = pl.street_code;
        loc["community_code"] = pl.community_code;
        loc["grid_code"] = pl.grid_code;
        loc["special_grids"] = pl.special_grids;
        return true;
    };

    // The grid code a source names: 14 digits and on the map, else dropped with a warning.
    std::string source_grid = str(in, "grid_code");
    if (!source_grid.empty() && !impl_->grid.has_grid(source_grid)) {
        note("location_dropped", "grid code " + source_grid + " is not a comprehensive grid of the map");
        source_grid.clear();
    }

    // 1. Coordinates.
    const json& orig = loc["original"];
    if (orig.is_object() && orig["x"].is_number() && orig["y"].is_number()) {
        const std::string crs_name = str(orig, "crs");
        auto crs = geo::parse_crs(crs_name);
        const double x = orig["x"].get<double>(), y = orig["y"].get<double>();
        if (!crs) {
            note("location_dropped", "unknown crs " + crs_name);
        } else {
            auto v = geo::check_plausible(x, y, *crs, impl_->converter, impl_->bbox_min, impl_->bbox_max);
            if (v.verdict == geo::Plausibility::dropped) {
                note("location_dropped", v.reason);
            } else {
                if (v.verdict == geo::Plausibility::swapped) note("location_swapped", v.reason);
                loc["method"] = "coordinates";
                loc["precision_m"] = geo::precision_m(*crs);
                if (!put_point(v.wgs84)) {
                    // Inside the margin but outside every street: kept, marked, routed to the district.
                    out.outside_district = true;
                    note("outside_district", "the point lies outside the district's streets");
                } else if (!source_grid.empty() && source_grid != loc["grid_code"].get<std::string>()) {
                    note("grid_code_disagrees", "the source names grid " + source_grid + ", the point lies in " +
                                                    loc["grid_code"].get<std::string>() + "; the point wins");
                }
            }
        }
    }
    // 2. The address, through the gazetteer (preferred over a grid centroid, §5.1).
    if (loc["method"] == "none" && !address.empty()) {
        auto g = impl_->gazetteer.geocode(address);
        if (g.matched) {
            loc["method"] = "gazetteer";
            loc["precision_m"] = g.precision_m;
            put_point(g.point);
            // The entry's own street and community are authoritative for a named place.
            if (!g.street_code.empty()) loc["street_code"] = g.street_code;
            if (!g.community_code.empty()) loc["community_code"] = g.community_code;
            note("geocoded", g.rule + ": " + g.matched_name + " (" + g.matched_type + ")");
        }
    }
    // 3. The centroid of the grid the source names.
    if (loc["method"] == "none" && !source_grid.empty()) {
        if (auto c = impl_->grid.grid_centroid(source_grid)) {
            loc["method"] = "grid_code";
            loc["precision_m"] = c->second;
            loc["wgs84"] = lon_lat(c->first.lon, c->first.lat);
            loc["grid_code"] = source_grid;
            loc["community_code"] = source_grid.substr(0, 12);
            loc["street_code"] = source_grid.substr(0, 9);
        }
    }
    if (loc["method"] != "none") {
        json::object_t o;
        o.emplace("record_id", src["record_id"]);
        o.emplace("system", src["system"]);
        loc["source"] = json(std::move(o));
        return out;
    }
    // 4. No location: the street an operator filled in, if it names one of the 12 streets.
    loc["wgs84"] = nullptr;
    if (rec.contains("responsible") && rec["responsible"].is_array()) {
        for (const auto& r : rec["responsible"]) {
            std::string code = str(r, "dept_code"), name = str(r, "name");
            std::optional<std::string> street;
            if (code.size() == 9 && code.rfind("320104", 0) == 0 && code >= "320104001" && code <= "320104012")
                street = code;
            if (!street && !name.empty()) street = impl_->gazetteer.street_by_name(name);
            if (street) {
                loc["street_code"] = *street;
                note("street_from_operator", "no location; the source names the street " + *street);
                break;
            }
        }
    }
    return out;
}

}  // namespace casehub::host
