#include "geo/grid_map.hpp"

#include <boost/geometry.hpp>
#include <boost/geometry/algorithms/point_on_surface.hpp>
#include <boost/geometry/geometries/box.hpp>
#include <boost/geometry/geometries/point_xy.hpp>
#include <boost/geometry/geometries/polygon.hpp>
#include <boost/geometry/index/rtree.hpp>
#include <boost/iterator/function_output_iterator.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <map>
#include <numeric>

namespace casehub::host::geo {

namespace bg = boost::geometry;
namespace bgi = boost::geometry::index;

namespace {

using Point = bg::model::d2::point_xy<double>;
using Box = bg::model::box<Point>;
using Polygon = bg::model::polygon<Point, /*ClockWise=*/false, /*Closed=*/true>;  // RFC 7946: outer CCW
using Entry = std::pair<Box, std::uint32_t>;
using Tree = bgi::rtree<Entry, bgi::rstar<16>>;

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();
constexpr double kNearDeg = 1e-8;  // ~1 mm: tolerance for floating-point slivers between grids

// One layer of polygons, sorted by code: a smaller index is a smaller code, which is what the
// border rule compares.
struct Layer {
    std::vector<std::string> codes;
    std::vector<std::string> names;
    std::vector<std::string> parent_codes;
    std::vector<std::size_t> feature_index;  // position in the file's "features", for errors
    std::vector<std::uint32_t> parents;  // index into the parent layer (grid → community → street)
    std::vector<Polygon> polys;
    std::vector<Box> boxes;
    Tree tree;

    std::uint32_t find(std::string_view code) const {
        auto it = std::lower_bound(codes.begin(), codes.end(), code,
                                   [](const std::string& a, std::string_view b) { return a < b; });
        return it != codes.end() && *it == code ? static_cast<std::uint32_t>(it - codes.begin()) : kNone;
    }

    // Smallest index whose polygon covers p (border included), or kNone.
    std::uint32_t best_covering(const Point& p) const {
        std::uint32_t best = kNone;
        tree.query(bgi::intersects(p), boost::make_function_output_iterator([&](const Entry& e) {
                       if (e.second < best && bg::covered_by(p, polys[e.second])) best = e.second;
                   }));
        return best;
    }

    // Smallest index whose polygon lies within `eps` degrees of p, or kNone.
    std::uint32_t best_near(const Point& p, double eps) const {
        Box around(Point(p.x() - eps, p.y() - eps), Point(p.x() + eps, p.y() + eps));
        std::uint32_t best = kNone;
        tree.query(bgi::intersects(around), boost::make_function_output_iterator([&](const Entry& e) {
                       if (e.second < best && bg::distance(p, polys[e.second]) <= eps) best = e.second;
                   }));
        return best;
    }

    // Every bounding-box candidate, sorted by index.
    std::vector<std::uint32_t> candidates(const Point& p) const {
        std::vector<std::uint32_t> out;
        tree.query(bgi::intersects(p),
                   boost::make_function_output_iterator([&](const Entry& e) { out.push_back(e.second); }));
        std::sort(out.begin(), out.end());
        return out;
    }
};

struct RawFeature {
    std::size_t index = 0;  // position in "features", for error messages
    std::string code, name, parent;
    Polygon poly;
};

double haversine_m(double lon1, double lat1, double lon2, double lat2) {
    constexpr double kR = 6371008.8;  // mean Earth radius
    constexpr double kRad = 3.14159265358979323846 / 180.0;
    const double dlat = (lat2 - lat1) * kRad, dlon = (lon2 - lon1) * kRad;
    const double a = std::sin(dlat / 2) * std::sin(dlat / 2) +
                     std::cos(lat1 * kRad) * std::cos(lat2 * kRad) * std::sin(dlon / 2) * std::sin(dlon / 2);
    return 2 * kR * std::asin(std::min(1.0, std::sqrt(a)));
}

std::string fmt_point(double lon, double lat) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6f,%.6f", lon, lat);
    return buf;
}

}  // namespace

struct GridMap::Impl {
    Layer streets, communities, grids, specials;
    std::string district_code, district_name;
    Polygon district;
    Box district_box;
    std::vector<LonLat> grid_anchor;  // interior point per grid
    std::vector<int> grid_radius_m;
    std::map<std::string, std::string, std::less<>> names;
};

namespace {

// Parses one GeoJSON ring; false and `why` on error.
bool parse_ring(const nlohmann::json& ring, bg::model::ring<Point, false, true>& out, std::string& why) {
    if (!ring.is_array() || ring.size() < 4) {
        why = "a ring has fewer than 4 positions";
        return false;
    }
    out.clear();
    out.reserve(ring.size());
    for (const auto& pos : ring) {
        if (!pos.is_array() || pos.size() < 2 || !pos[0].is_number() || !pos[1].is_number()) {
            why = "a position is not [lon, lat]";
            return false;
        }
        const double lon = pos[0].get<double>(), lat = pos[1].get<double>();
        if (!std::isfinite(lon) || !std::isfinite(lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90) {
            why = "a position is out of range";
            return false;
        }
        out.emplace_back(lon, lat);
    }
    return true;
}

Result<void> build_layer(Layer& layer, std::vector<RawFeature> raw, const std::string& file, const char* what) {
    std::sort(raw.begin(), raw.end(), [](const RawFeature& a, const RawFeature& b) { return a.code < b.code; });
    for (std::size_t i = 1; i < raw.size(); ++i)
        if (raw[i].code == raw[i - 1].code)
            return make_error(file + ": features[" + std::to_string(raw[i].index) + "] (" + raw[i].code +
                              "): duplicate " + what + " code (also features[" +
                              std::to_string(raw[i - 1].index) + "])");
    std::vector<Entry> entries;
    entries.reserve(raw.size());
    for (auto& f : raw) {
        const auto idx = static_cast<std::uint32_t>(layer.codes.size());
        Box box = bg::return_envelope<Box>(f.poly.outer());  // holes lie inside the outer ring
        entries.emplace_back(box, idx);
        layer.boxes.push_back(box);
        layer.codes.push_back(std::move(f.code));
        layer.names.push_back(std::move(f.name));
        layer.parent_codes.push_back(std::move(f.parent));
        layer.feature_index.push_back(f.index);
        layer.polys.push_back(std::move(f.poly));
    }
    layer.parents.assign(layer.codes.size(), kNone);
    layer.tree = Tree(entries.begin(), entries.end());  // packing (bulk-loading) constructor
    return {};
}

Result<void> link_parents(Layer& child, const Layer& parent, const std::string& file, const char* child_what,
                          const char* parent_what) {
    for (std::size_t i = 0; i < child.codes.size(); ++i) {
        const auto p = parent.find(child.parent_codes[i]);
        const std::string where =
            file + ": features[" + std::to_string(child.feature_index[i]) + "] (" + child.codes[i] + "): ";
        if (p == kNone)
            return make_error(where + child_what + " names parent " + child.parent_codes[i] + ", which is no " +
                              parent_what);
        if (child.codes[i].compare(0, parent.codes[p].size(), parent.codes[p]) != 0)
            return make_error(where + child_what + " code does not start with its parent's code " +
                              parent.codes[p]);
        child.parents[i] = p;
    }
    return {};
}

}  // namespace

Result<GridMap> GridMap::load(const std::filesystem::path& geojson) {
    const std::string file = geojson.string();
    std::ifstream in(geojson, std::ios::binary);
    if (!in) return make_error(file + ": cannot open the grid map");
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded()) return make_error(file + ": not valid JSON");
    if (!j.is_object() || !j.contains("features") || !j["features"].is_array())
        return make_error(file + ": not a GeoJSON FeatureCollection (no \"features\" array)");

    auto impl = std::make_shared<Impl>();
    std::vector<RawFeature> streets, communities, grids, specials;
    std::size_t districts = 0;

    const auto& features = j["features"];
    for (std::size_t i = 0; i < features.size(); ++i) {
        const auto& f = features[i];
        std::string where = file + ": features[" + std::to_string(i) + "]";
        if (!f.is_object() || !f.contains("properties") || !f["properties"].is_object())
            return make_error(where + ": not a Feature with properties");
        const auto& props = f["properties"];
        auto str = [&](const char* key) -> std::string {
            auto it = props.find(key);
            return it != props.end() && it->is_string() ? it->get<std::string>() : std::string();
        };
        RawFeature raw;
        raw.index = i;
        raw.code = str("code");
        raw.name = str("name");
        raw.parent = str("parent");
        const std::string layer = str("layer");
        if (raw.code.empty()) return make_error(where + ": no \"code\" property");
        where += " (" + raw.code + ")";
        if (layer.empty()) return make_error(where + ": no \"layer\" property");

        if (!f.contains("geometry") || !f["geometry"].is_object())
            return make_error(where + ": no geometry");
        const auto& geom = f["geometry"];
        if (geom.value("type", "") != "Polygon" || !geom.contains("coordinates") || !geom["coordinates"].is_array() ||
            geom["coordinates"].empty())
            return make_error(where + ": geometry is not a Polygon");
        std::string why;
        const auto& rings = geom["coordinates"];
        if (!parse_ring(rings[0], raw.poly.outer(), why)) return make_error(where + ": " + why);
        for (std::size_t r = 1; r < rings.size(); ++r) {
            raw.poly.inners().emplace_back();
            if (!parse_ring(rings[r], raw.poly.inners().back(), why)) return make_error(where + ": " + why);
        }
        bg::correct(raw.poly);  // closes rings and fixes orientation if a writer got it wrong
        bg::validity_failure_type failure{};
        if (!bg::is_valid(raw.poly, failure))
            return make_error(where + ": invalid polygon (Boost.Geometry validity failure " +
                              std::to_string(static_cast<int>(failure)) + ")");

        if (layer == "district") {
            if (++districts > 1) return make_error(where + ": a second district feature");
            impl->district_code = raw.code;
            impl->district_name = raw.name;
            impl->district = std::move(raw.poly);
        } else if (layer == "street") {
            streets.push_back(std::move(raw));
        } else if (layer == "community") {
            communities.push_back(std::move(raw));
        } else if (layer == "grid") {
            grids.push_back(std::move(raw));
        } else if (layer == "special_grid") {
            specials.push_back(std::move(raw));
        } else {
            return make_error(where + ": unknown layer \"" + layer + "\"");
        }
    }
    if (districts == 0) return make_error(file + ": no feature of layer \"district\"");
    if (grids.empty()) return make_error(file + ": no feature of layer \"grid\"");

    if (auto r = build_layer(impl->streets, std::move(streets), file, "street"); !r) return r.error();
    if (auto r = build_layer(impl->communities, std::move(communities), file, "community"); !r) return r.error();
    if (auto r = build_layer(impl->grids, std::move(grids), file, "grid"); !r) return r.error();
    if (auto r = build_layer(impl->specials, std::move(specials), file, "special grid"); !r) return r.error();
    if (auto r = link_parents(impl->communities, impl->streets, file, "community", "street");
        !r)
        return r.error();
    if (auto r = link_parents(impl->grids, impl->communities, file, "grid", "community"); !r)
        return r.error();

    impl->district_box = bg::return_envelope<Box>(impl->district.outer());

    // Interior point and covering radius per grid.
    const Layer& g = impl->grids;
    for (std::size_t i = 0; i < g.codes.size(); ++i) {
        Point c;
        bg::centroid(g.polys[i], c);
        if (!bg::within(c, g.polys[i])) bg::point_on_surface(g.polys[i], c);
        double r = 0;
        for (const auto& v : g.polys[i].outer()) r = std::max(r, haversine_m(c.x(), c.y(), v.x(), v.y()));
        impl->grid_anchor.push_back(LonLat{c.x(), c.y()});
        impl->grid_radius_m.push_back(static_cast<int>(std::ceil(r)));
    }

    impl->names.emplace(impl->district_code, impl->district_name);
    for (const Layer* l : {&impl->streets, &impl->communities, &impl->grids, &impl->specials})
        for (std::size_t i = 0; i < l->codes.size(); ++i) impl->names.emplace(l->codes[i], l->names[i]);

    return GridMap(std::move(impl));
}

Placement GridMap::place(double lon, double lat) const {
    Placement out;
    const Impl& m = *impl_;
    if (!std::isfinite(lon) || !std::isfinite(lat)) return out;
    const Point p(lon, lat);
    if (!bg::covered_by(p, m.district_box)) return out;

    std::uint32_t g = m.grids.best_covering(p);
    if (g == kNone) g = m.grids.best_near(p, kNearDeg);
    if (g != kNone) {
        const std::uint32_t c = m.grids.parents[g];
        out.grid_code = m.grids.codes[g];
        out.community_code = m.communities.codes[c];
        out.street_code = m.streets.codes[m.communities.parents[c]];
    } else if (const std::uint32_t c = m.communities.best_covering(p); c != kNone) {
        out.community_code = m.communities.codes[c];
        out.street_code = m.streets.codes[m.communities.parents[c]];
    } else if (const std::uint32_t s = m.streets.best_covering(p); s != kNone) {
        out.street_code = m.streets.codes[s];
    } else {
        return out;
    }
    out.inside_district = true;

    std::array<std::uint32_t, 8> found{};
    std::size_t n = 0;
    m.specials.tree.query(bgi::intersects(p), boost::make_function_output_iterator([&](const Entry& e) {
                              if (bg::covered_by(p, m.specials.polys[e.second])) {
                                  if (n < found.size())
                                      found[n++] = e.second;
                                  else
                                      out.special_grids.push_back(m.specials.codes[e.second]);  // never in practice
                              }
                          }));
    if (n > 0) {
        out.special_grids.reserve(out.special_grids.size() + n);
        for (std::size_t i = 0; i < n; ++i) out.special_grids.push_back(m.specials.codes[found[i]]);
        std::sort(out.special_grids.begin(), out.special_grids.end());  // index order = code order
    }
    return out;
}

bool GridMap::has_grid(std::string_view grid_code) const { return impl_->grids.find(grid_code) != kNone; }

std::optional<std::pair<LonLat, int>> GridMap::grid_centroid(std::string_view grid_code) const {
    const auto i = impl_->grids.find(grid_code);
    if (i == kNone) return std::nullopt;
    return std::make_pair(impl_->grid_anchor[i], impl_->grid_radius_m[i]);
}

std::pair<LonLat, LonLat> GridMap::district_bbox() const {
    const Box& b = impl_->district_box;
    return {LonLat{b.min_corner().x(), b.min_corner().y()}, LonLat{b.max_corner().x(), b.max_corner().y()}};
}

const std::string& GridMap::name_of(std::string_view code) const {
    static const std::string kEmpty;
    auto it = impl_->names.find(code);
    return it == impl_->names.end() ? kEmpty : it->second;
}

std::size_t GridMap::grid_count() const { return impl_->grids.codes.size(); }
std::size_t GridMap::special_grid_count() const { return impl_->specials.codes.size(); }

std::string GridMap::explain(double lon, double lat) const {
    const Impl& m = *impl_;
    std::string s;
    auto line = [&](const std::string& l) {
        s += l;
        s += '\n';
    };
    line("point " + fmt_point(lon, lat) + " (WGS-84 lon,lat)");
    if (!std::isfinite(lon) || !std::isfinite(lat)) {
        line("result: not a finite coordinate -> outside the district");
        return s;
    }
    const Point p(lon, lat);
    const auto [sw, ne] = district_bbox();
    if (!bg::covered_by(p, m.district_box)) {
        line("district " + m.district_code + " " + m.district_name + ": outside its bounding box " +
             fmt_point(sw.lon, sw.lat) + " .. " + fmt_point(ne.lon, ne.lat));
        line("result: outside the district");
        return s;
    }

    auto list = [&](const Layer& l, const char* what) {
        std::size_t covering = 0;
        for (auto i : l.candidates(p)) {
            const bool cov = bg::covered_by(p, l.polys[i]);
            covering += cov;
            std::string note = cov ? (bg::within(p, l.polys[i]) ? "covers the point (interior)"
                                                                 : "covers the point (on its border)")
                                   : "bounding box only, polygon does not cover the point";
            line(std::string(what) + " " + l.codes[i] + " " + l.names[i] + ": candidate, " + note);
        }
        return covering;
    };

    const Placement pl = place(lon, lat);
    const std::size_t covering_grids = list(m.grids, "grid");
    if (!pl.grid_code.empty()) {
        if (covering_grids > 1)
            line("grid -> " + pl.grid_code + ": smallest code among the " + std::to_string(covering_grids) +
                 " covering grids (border rule)");
        else if (covering_grids == 1)
            line("grid -> " + pl.grid_code + ": the only covering grid");
        else
            line("grid -> " + pl.grid_code + ": no grid covers the point; smallest code within 1e-8 deg");
        line("community -> " + pl.community_code + " " + name_of(pl.community_code) + ": parent of grid " +
             pl.grid_code);
        line("street -> " + pl.street_code + " " + name_of(pl.street_code) + ": parent of community " +
             pl.community_code);
    } else {
        line("grid -> none covers the point");
        const std::size_t covering_communities = list(m.communities, "community");
        if (!pl.community_code.empty()) {
            line("community -> " + pl.community_code + ": smallest code among the " +
                 std::to_string(covering_communities) + " covering communities (no grid matched)");
            line("street -> " + pl.street_code + " " + name_of(pl.street_code) + ": parent of community " +
                 pl.community_code);
        } else {
            line("community -> none covers the point");
            const std::size_t covering_streets = list(m.streets, "street");
            if (!pl.street_code.empty())
                line("street -> " + pl.street_code + ": smallest code among the " + std::to_string(covering_streets) +
                     " covering streets (no grid or community matched)");
            else
                line("street -> none covers the point");
        }
    }
    if (pl.inside_district) {
        list(m.specials, "special_grid");
        std::string sp;
        for (const auto& c : pl.special_grids) sp += (sp.empty() ? "" : ",") + c;
        line("result: street " + pl.street_code + ", community " +
             (pl.community_code.empty() ? "-" : pl.community_code) + ", grid " +
             (pl.grid_code.empty() ? "-" : pl.grid_code) + ", special grids [" + sp + "]");
    } else {
        line("result: outside the district (inside its bounding box, no grid, community or street covers it)");
    }
    return s;
}

}  // namespace casehub::host::geo
