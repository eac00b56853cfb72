// GridMap (host/geo/grid_map.hpp) against config/qinhuai/grid-map.geojson. Expected answers are
// computed here from the GeoJSON itself (own parser, own ray casting, own edge geometry), not
// through GridMap's R-tree code.
#include "geo/crs.hpp"
#include "geo/grid_map.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <unistd.h>

using casehub::host::geo::GridMap;
using casehub::host::geo::LonLat;
using casehub::host::geo::Placement;

namespace {

const std::filesystem::path kMap = std::filesystem::path(CASEHUB_SOURCE_DIR) / "config/qinhuai/grid-map.geojson";

const GridMap& grid_map() {
    static const GridMap m = [] {
        auto r = GridMap::load(kMap);
        if (!r) FAIL(r.error().message);
        return std::move(r).value();
    }();
    return m;
}

struct V {
    double lon, lat;
    bool operator<(const V& o) const { return lon < o.lon || (lon == o.lon && lat < o.lat); }
    bool operator==(const V& o) const { return lon == o.lon && lat == o.lat; }
};

struct Feature {
    std::string layer, code, name, parent;
    std::vector<V> ring;  // outer ring, closed (first == last), counter-clockwise
};

// The GeoJSON read independently of GridMap.
struct Reference {
    std::vector<Feature> features;
    std::map<std::string, const Feature*> by_code;
    std::vector<const Feature*> grids, specials;
    const Feature* district = nullptr;

    std::string community_of(const std::string& grid) const { return by_code.at(grid)->parent; }
    std::string street_of(const std::string& grid) const { return by_code.at(community_of(grid))->parent; }
};

const Reference& ref() {
    static const Reference r = [] {
        Reference out;
        std::ifstream in(kMap);
        const auto j = nlohmann::json::parse(in);
        for (const auto& f : j["features"]) {
            Feature feat;
            const auto& p = f["properties"];
            feat.layer = p["layer"];
            feat.code = p["code"];
            feat.name = p["name"];
            feat.parent = p["parent"];
            for (const auto& pos : f["geometry"]["coordinates"][0])
                feat.ring.push_back(V{pos[0].get<double>(), pos[1].get<double>()});
            out.features.push_back(std::move(feat));
        }
        for (const auto& f : out.features) {
            out.by_code[f.code] = &f;
            if (f.layer == "grid") out.grids.push_back(&f);
            if (f.layer == "special_grid") out.specials.push_back(&f);
            if (f.layer == "district") out.district = &f;
        }
        return out;
    }();
    return r;
}

// Even-odd ray casting; strict (a point on the border may go either way; callers avoid it).
bool inside(const std::vector<V>& ring, double lon, double lat) {
    bool in = false;
    for (std::size_t i = 0, j = ring.size() - 1; i < ring.size(); j = i++) {
        const V& a = ring[i];
        const V& b = ring[j];
        if ((a.lat > lat) != (b.lat > lat) && lon < (b.lon - a.lon) * (lat - a.lat) / (b.lat - a.lat) + a.lon)
            in = !in;
    }
    return in;
}

// Local metric frame around the district (equirectangular; ample for 0.5..3 m offsets).
constexpr double kMPerDegLat = 110574.0;
const double kMPerDegLon = 111320.0 * std::cos(32.02 * 3.14159265358979323846 / 180.0);

struct Labelled {
    double lon, lat;
    std::string grid;  // empty = outside the district
};

// Points near grid borders, labelled by the geometry of the edge: for every edge of at least
// `min_len_m` of a grid ring (counter-clockwise, interior on the left), the edge midpoint moved
// 0.5..3 m perpendicular to the left belongs to that grid; moved to the right it belongs to the
// grid owning the reversed edge, or lies outside the district when the edge is on the district
// border.
std::vector<Labelled> border_points(double min_len_m, std::size_t* skipped) {
    const Reference& r = ref();
    std::map<std::pair<V, V>, std::string> edge_owner;
    for (const Feature* g : r.grids)
        for (std::size_t i = 0; i + 1 < g->ring.size(); ++i) edge_owner[{g->ring[i], g->ring[i + 1]}] = g->code;
    std::set<std::pair<V, V>> district_edges;
    for (std::size_t i = 0; i + 1 < r.district->ring.size(); ++i)
        district_edges.insert({r.district->ring[i], r.district->ring[i + 1]});

    std::vector<Labelled> out;
    std::size_t n = 0;
    *skipped = 0;
    for (const auto& [edge, owner] : edge_owner) {
        const auto& [a, b] = edge;
        const double dx = (b.lon - a.lon) * kMPerDegLon, dy = (b.lat - a.lat) * kMPerDegLat;
        const double len = std::hypot(dx, dy);
        if (len < min_len_m) continue;
        std::string right;
        if (auto it = edge_owner.find({b, a}); it != edge_owner.end()) {
            if (it->second < owner) continue;  // each shared edge once
            right = it->second;
        } else if (!district_edges.count(edge)) {
            ++*skipped;  // not shared vertex-for-vertex and not on the district border
            continue;
        }
        const double nx = -dy / len, ny = dx / len;  // left normal, metres
        const double mlon = (a.lon + b.lon) / 2, mlat = (a.lat + b.lat) / 2;
        for (int side = 0; side < 2; ++side) {
            const double d = 0.5 + 2.5 * static_cast<double>((n * 7919) % 1000) / 999.0;  // 0.5..3 m
            ++n;
            const double s = side == 0 ? d : -d;
            out.push_back(Labelled{mlon + s * nx / kMPerDegLon, mlat + s * ny / kMPerDegLat,
                                   side == 0 ? owner : right});
        }
    }
    return out;
}

}  // namespace

TEST_CASE("GridMap loads the Qinhuai grid map", "[unit]") {
    const GridMap& m = grid_map();
    CHECK(m.grid_count() == 1026);
    CHECK(m.special_grid_count() == 308);
    CHECK(m.has_grid("32010400100101"));
    CHECK_FALSE(m.has_grid("320104001001"));   // a community, not a grid
    CHECK_FALSE(m.has_grid("320104-ZS-001"));  // a specialised grid
    CHECK_FALSE(m.has_grid(""));
    CHECK(m.name_of("320104") == "秦淮区");
    CHECK(m.name_of("320104001") == "秦虹街道");
    CHECK(m.name_of("32010400100101") == "中牌楼第01网格");
    CHECK(m.name_of("320104-ZS-001") == "夫子庙景区专属网格");
    CHECK(m.name_of("nope").empty());
    CHECK_FALSE(m.grid_centroid("nope"));

    const auto [sw, ne] = m.district_bbox();
    double min_lon = 1e9, min_lat = 1e9, max_lon = -1e9, max_lat = -1e9;
    for (const V& v : ref().district->ring) {
        min_lon = std::min(min_lon, v.lon), max_lon = std::max(max_lon, v.lon);
        min_lat = std::min(min_lat, v.lat), max_lat = std::max(max_lat, v.lat);
    }
    CHECK(sw.lon == min_lon);
    CHECK(sw.lat == min_lat);
    CHECK(ne.lon == max_lon);
    CHECK(ne.lat == max_lat);
}

TEST_CASE("GridMap::load errors name the file and the feature", "[unit]") {
    const auto missing = GridMap::load("/nonexistent/grid-map.geojson");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("/nonexistent/grid-map.geojson") != std::string::npos);

    const auto dir = std::filesystem::temp_directory_path();
    const auto file = dir / ("casehub-test-grid-map-" + std::to_string(::getpid()) + ".geojson");
    auto write_and_load = [&](const std::string& text) {
        std::ofstream(file) << text;
        auto r = GridMap::load(file);
        std::filesystem::remove(file);
        return r;
    };
    const std::string district =
        R"({"type":"Feature","properties":{"layer":"district","code":"320104","name":"d","parent":"320100"},)"
        R"("geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}})";
    {
        const auto r = write_and_load(
            R"({"type":"FeatureCollection","features":[)" + district +
            R"(,{"type":"Feature","properties":{"layer":"grid","code":"32010400100101","name":"g","parent":"320104001001"},)"
            R"("geometry":{"type":"Point","coordinates":[0.5,0.5]}}]})");
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find(file.string()) != std::string::npos);
        CHECK(r.error().message.find("features[1] (32010400100101)") != std::string::npos);
        CHECK(r.error().message.find("not a Polygon") != std::string::npos);
    }
    {
        const auto r = write_and_load(
            R"({"type":"FeatureCollection","features":[)" + district +
            R"(,{"type":"Feature","properties":{"layer":"grid","code":"32010400100101","name":"g","parent":"320104001001"},)"
            R"("geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,1],[0,0]]]}}]})");
        REQUIRE_FALSE(r);  // its parent community does not exist
        CHECK(r.error().message.find("features[1] (32010400100101)") != std::string::npos);
        CHECK(r.error().message.find("320104001001") != std::string::npos);
    }
    {
        const auto r = write_and_load(R"({"type":"FeatureCollection","features":[)" + district +
                                      R"(,{"type":"Feature","properties":{"layer":"grid","code":"x"},)"
                                      R"("geometry":{"type":"Polygon","coordinates":[[[0,0],[1,1]]]}}]})");
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("features[1] (x)") != std::string::npos);
    }
    CHECK_FALSE(write_and_load("not json"));
}

TEST_CASE("every grid's interior point places into that grid, its community and its street", "[unit]") {
    const GridMap& m = grid_map();
    const Reference& r = ref();
    REQUIRE(r.grids.size() == 1026);
    std::size_t ok = 0;
    for (const Feature* g : r.grids) {
        INFO(g->code);
        const auto c = m.grid_centroid(g->code);
        REQUIRE(c);
        const auto [p, radius] = *c;
        CHECK(inside(g->ring, p.lon, p.lat));  // independent check that it is an interior point
        CHECK(radius > 0);
        CHECK(radius < 3000);
        for (const V& v : g->ring) {  // the circle contains the whole grid
            const double d = std::hypot((v.lon - p.lon) * kMPerDegLon, (v.lat - p.lat) * kMPerDegLat);
            CHECK(d <= radius + 1.0);
        }
        const Placement pl = m.place(p.lon, p.lat);
        CHECK(pl.inside_district);
        CHECK(pl.grid_code == g->code);
        CHECK(pl.community_code == r.community_of(g->code));
        CHECK(pl.street_code == r.street_of(g->code));
        ok += pl.grid_code == g->code && pl.community_code == r.community_of(g->code) &&
              pl.street_code == r.street_of(g->code);
    }
    CHECK(ok == r.grids.size());
}

TEST_CASE("labelled points near grid borders are placed with at least 99.5 % accuracy", "[unit]") {
    const GridMap& m = grid_map();
    const Reference& r = ref();
    std::size_t skipped = 0;
    const auto points = border_points(/*min_len_m=*/10.0, &skipped);
    REQUIRE(points.size() >= 300);

    std::size_t correct = 0, outside_labels = 0;
    std::vector<std::string> wrong;
    for (const auto& lp : points) {
        const Placement pl = m.place(lp.lon, lp.lat);
        bool good;
        if (lp.grid.empty()) {
            ++outside_labels;
            good = !pl.inside_district && pl.grid_code.empty() && pl.community_code.empty() && pl.street_code.empty();
        } else {
            good = pl.inside_district && pl.grid_code == lp.grid && pl.community_code == r.community_of(lp.grid) &&
                   pl.street_code == r.street_of(lp.grid);
        }
        if (good)
            ++correct;
        else if (wrong.size() < 10) {
            char buf[160];
            std::snprintf(buf, sizeof buf, "%.7f,%.7f label %s placed %s", lp.lon, lp.lat,
                          lp.grid.empty() ? "outside" : lp.grid.c_str(),
                          pl.inside_district ? pl.grid_code.c_str() : "outside");
            wrong.emplace_back(buf);
        }
    }
    const double accuracy = static_cast<double>(correct) / static_cast<double>(points.size());
    std::printf("grid-map border points: %zu/%zu placed correctly (%.3f %%), %zu labelled outside the district, "
                "%zu edges skipped (not shared vertex-for-vertex)\n",
                correct, points.size(), 100.0 * accuracy, outside_labels, skipped);
    for (const auto& w : wrong) std::printf("  misplaced: %s\n", w.c_str());
    CHECK(outside_labels > 0);
    CHECK(accuracy >= 0.995);
}

TEST_CASE("points exactly on a shared border get one deterministic answer: the smallest code", "[unit]") {
    const GridMap& m = grid_map();
    const Reference& r = ref();

    // Vertices: every grid holding the vertex covers it; the smallest code wins.
    std::map<V, std::set<std::string>> holders;
    for (const Feature* g : r.grids)
        for (const V& v : g->ring) holders[v].insert(g->code);
    std::size_t shared = 0, agree = 0;
    for (const auto& [v, codes] : holders) {
        if (codes.size() < 2) continue;
        ++shared;
        const Placement first = m.place(v.lon, v.lat);
        const Placement again = m.place(v.lon, v.lat);
        INFO(v.lon << "," << v.lat);
        CHECK(first.grid_code == again.grid_code);
        CHECK(first.grid_code == *codes.begin());
        CHECK(first.community_code == r.community_of(*codes.begin()));
        CHECK(first.street_code == r.street_of(*codes.begin()));
        agree += first.grid_code == *codes.begin();
    }
    REQUIRE(shared > 1000);
    CHECK(agree == shared);

    // Edge midpoints (on the border up to the last bit): one of the two sides, the same every call.
    std::map<std::pair<V, V>, std::string> edge_owner;
    for (const Feature* g : r.grids)
        for (std::size_t i = 0; i + 1 < g->ring.size(); ++i) edge_owner[{g->ring[i], g->ring[i + 1]}] = g->code;
    std::size_t midpoints = 0;
    for (const auto& [edge, owner] : edge_owner) {
        auto other = edge_owner.find({edge.second, edge.first});
        if (other == edge_owner.end() || other->second < owner) continue;
        const double lon = (edge.first.lon + edge.second.lon) / 2, lat = (edge.first.lat + edge.second.lat) / 2;
        const std::string a = m.place(lon, lat).grid_code;
        INFO(lon << "," << lat);
        CHECK((a == owner || a == other->second));
        for (int k = 0; k < 3; ++k) CHECK(m.place(lon, lat).grid_code == a);
        ++midpoints;
    }
    CHECK(midpoints > 1000);

    // A shared vertex explained: both candidates cover it, the border rule is named.
    for (const auto& [v, codes] : holders) {
        if (codes.size() < 3) continue;
        const std::string e = m.explain(v.lon, v.lat);
        INFO(e);
        CHECK(e.find("smallest code among the " + std::to_string(codes.size()) + " covering grids") !=
              std::string::npos);
        CHECK(e.find("grid -> " + *codes.begin()) != std::string::npos);
        CHECK(e.find("on its border") != std::string::npos);
        break;
    }
}

TEST_CASE("points outside the district are marked and carry no codes", "[unit]") {
    const GridMap& m = grid_map();
    const auto [sw, ne] = m.district_bbox();
    const std::vector<std::pair<double, double>> far = {
        {0, 0}, {118.0, 31.0}, {sw.lon - 0.01, sw.lat}, {ne.lon + 1e-6, ne.lat}, {NAN, 32.0}, {118.8, INFINITY}};
    std::vector<std::pair<double, double>> corners = {
        {sw.lon + 1e-6, sw.lat + 1e-6}, {ne.lon - 1e-6, sw.lat + 1e-6},
        {sw.lon + 1e-6, ne.lat - 1e-6}, {ne.lon - 1e-6, ne.lat - 1e-6}};
    std::size_t corners_outside = 0;
    for (const auto& [lon, lat] : corners) {
        if (inside(ref().district->ring, lon, lat)) continue;
        ++corners_outside;
        const Placement pl = m.place(lon, lat);
        CHECK_FALSE(pl.inside_district);
        CHECK(pl.grid_code.empty());
        CHECK(pl.special_grids.empty());
        CHECK(m.explain(lon, lat).find("result: outside the district") != std::string::npos);
    }
    CHECK(corners_outside >= 2);
    for (const auto& [lon, lat] : far) {
        INFO(lon << "," << lat);
        const Placement pl = m.place(lon, lat);
        CHECK_FALSE(pl.inside_district);
        CHECK(pl.street_code.empty());
        CHECK(pl.community_code.empty());
        CHECK(pl.grid_code.empty());
        CHECK(pl.special_grids.empty());
    }
}

TEST_CASE("a point inside a specialised grid lists it", "[unit]") {
    const GridMap& m = grid_map();
    const Reference& r = ref();
    REQUIRE(r.specials.size() == 308);
    std::size_t listed = 0;
    for (const Feature* s : r.specials) {
        // An interior point found independently: scan horizontal lines through the polygon and take
        // the middle of the widest inside stretch.
        double min_lat = 1e9, max_lat = -1e9;
        for (const V& v : s->ring) min_lat = std::min(min_lat, v.lat), max_lat = std::max(max_lat, v.lat);
        double best_w = 0, px = 0, py = 0;
        for (int k = 1; k < 20; ++k) {
            const double lat = min_lat + (max_lat - min_lat) * k / 20.0;
            std::vector<double> xs;
            for (std::size_t i = 0; i + 1 < s->ring.size(); ++i) {
                const V& a = s->ring[i];
                const V& b = s->ring[i + 1];
                if ((a.lat > lat) != (b.lat > lat)) xs.push_back(a.lon + (lat - a.lat) * (b.lon - a.lon) / (b.lat - a.lat));
            }
            std::sort(xs.begin(), xs.end());
            for (std::size_t i = 0; i + 1 < xs.size(); i += 2)
                if (xs[i + 1] - xs[i] > best_w) best_w = xs[i + 1] - xs[i], px = (xs[i] + xs[i + 1]) / 2, py = lat;
        }
        INFO(s->code);
        REQUIRE(best_w > 0);
        REQUIRE(inside(s->ring, px, py));
        const Placement pl = m.place(px, py);
        CHECK(pl.inside_district);
        CHECK(std::find(pl.special_grids.begin(), pl.special_grids.end(), s->code) != pl.special_grids.end());
        CHECK(std::is_sorted(pl.special_grids.begin(), pl.special_grids.end()));
        for (const auto& code : pl.special_grids) CHECK(inside(r.by_code.at(code)->ring, px, py));
        listed += std::find(pl.special_grids.begin(), pl.special_grids.end(), s->code) != pl.special_grids.end();
        // The comprehensive grid is still the one containing the point.
        CHECK(inside(r.by_code.at(pl.grid_code)->ring, px, py));
    }
    CHECK(listed == r.specials.size());
}

TEST_CASE("explain names candidates and the winner, one line each", "[unit]") {
    const GridMap& m = grid_map();
    const auto c = m.grid_centroid("32010400100101");
    REQUIRE(c);
    const std::string e = m.explain(c->first.lon, c->first.lat);
    INFO(e);
    CHECK(e.find("grid 32010400100101 中牌楼第01网格: candidate, covers the point (interior)") != std::string::npos);
    CHECK(e.find("grid -> 32010400100101: the only covering grid") != std::string::npos);
    CHECK(e.find("community -> 320104001001") != std::string::npos);
    CHECK(e.find("street -> 320104001 秦虹街道") != std::string::npos);
    CHECK(e.find("result: street 320104001, community 320104001001, grid 32010400100101") != std::string::npos);
}

#if __has_include("spec_samples.hpp")
#include "spec_samples.hpp"

// The interface documents' sample coordinates, at their independently verified WGS-84 positions
// (spec_samples.hpp; the conversion itself is test_geo_crs's business), land in the grid and
// street the documents name.
TEST_CASE("the interface documents' sample coordinates land in the grid they name", "[unit]") {
    const GridMap& m = grid_map();
    for (const auto& s : casehub::test::geo::spec_samples) {
        INFO(s.document << " " << s.record_id);
        const Placement pl = m.place(s.wgs84_lon, s.wgs84_lat);
        CHECK(pl.inside_district);
        CHECK(pl.grid_code == s.expected_grid);
        CHECK(pl.street_code == s.expected_street);
        CHECK(m.has_grid(s.expected_grid));
    }
}
#endif

// The same border points as each department system would send them: converted from WGS-84
// into its CRS, then through the hub's own path (plausibility check → WGS-84 → placement).
TEST_CASE("labelled border points in every CRS are placed with at least 99.5 % accuracy", "[unit]") {
    using casehub::host::geo::Converter;
    using casehub::host::geo::Crs;
    const GridMap& m = grid_map();
    std::size_t skipped = 0;
    const auto points = border_points(10.0, &skipped);
    auto conv = Converter::create();
    REQUIRE(conv.ok());
    auto [lo, hi] = m.district_bbox();
    for (Crs crs : {Crs::cgcs2000, Crs::gcj02, Crs::bd09, Crs::epsg4549}) {
        std::size_t correct = 0;
        for (const auto& lp : points) {
            auto xy = conv->from_wgs84({lp.lon, lp.lat}, crs);
            REQUIRE(xy.ok());
            auto v = casehub::host::geo::check_plausible(xy->first, xy->second, crs, *conv, lo, hi);
            if (v.verdict == casehub::host::geo::Plausibility::dropped) continue;
            const Placement pl = m.place(v.wgs84.lon, v.wgs84.lat);
            if (lp.grid.empty() ? !pl.inside_district : pl.grid_code == lp.grid) ++correct;
        }
        const double accuracy = static_cast<double>(correct) / static_cast<double>(points.size());
        std::printf("border points via %s: %zu/%zu (%.3f %%)\n", std::string(casehub::host::geo::to_string(crs)).c_str(), correct,
                    points.size(), 100.0 * accuracy);
        CHECK(accuracy >= 0.995);
    }
}
