#include "cli/geo_commands.hpp"

#include "config/hub_config.hpp"
#include "geo/crs.hpp"
#include "geo/gazetteer.hpp"
#include "geo/grid_map.hpp"

#include <iostream>
#include <memory>

namespace casehub::cli {

namespace {

struct Options {
    double x = 0, y = 0;
    std::string crs = "WGS84", address;
    bool json = false;
};

struct Geo {
    host::geo::GridMap grid;
    host::geo::Gazetteer gazetteer;
    host::geo::Converter converter;
};

Result<std::unique_ptr<Geo>> load(const std::string& config_path) {
    auto cfg = host::load_hub_config(config_path);
    if (!cfg) return cfg.error();
    const auto& dir = cfg->hub.reference_dir;
    auto grid = host::geo::GridMap::load(dir / "grid-map.geojson");
    if (!grid) return grid.error();
    auto gaz = host::geo::Gazetteer::load(dir / "gazetteer.json", dir / "divisions.json");
    if (!gaz) return gaz.error();
    auto conv = host::geo::Converter::create();
    if (!conv) return conv.error();
    return std::make_unique<Geo>(Geo{std::move(*grid), std::move(*gaz), std::move(*conv)});
}

void print_place(const Geo& g, host::geo::LonLat p) {
    auto pl = g.grid.place(p.lon, p.lat);
    if (!pl.inside_district) {
        std::cout << "outside the district: the case would be kept, marked, and routed to the district level\n";
        return;
    }
    std::cout << "street     " << pl.street_code << " " << g.grid.name_of(pl.street_code) << "\n"
              << "community  " << pl.community_code << " " << g.grid.name_of(pl.community_code) << "\n"
              << "grid       " << pl.grid_code << " " << g.grid.name_of(pl.grid_code) << "\n"
              << "special    ";
    for (const auto& s : pl.special_grids) std::cout << s << " " << g.grid.name_of(s) << "  ";
    std::cout << (pl.special_grids.empty() ? "-\n" : "\n");
    std::cout << "\nwhy:\n" << g.grid.explain(p.lon, p.lat) << "\n";
}

int locate(const std::string& config, const Options& o) {
    auto g = load(config);
    if (!g) return std::cerr << g.error().message << "\n", 2;
    auto crs = host::geo::parse_crs(o.crs);
    if (!crs) return std::cerr << "unknown CRS " << o.crs << " (WGS84, CGCS2000, GCJ02, BD09, EPSG:4549)\n", 64;
    auto [lo, hi] = (*g)->grid.district_bbox();
    auto v = host::geo::check_plausible(o.x, o.y, *crs, (*g)->converter, lo, hi);
    std::printf("input      %.6f, %.6f (%s)\n", o.x, o.y, o.crs.c_str());
    if (v.verdict == host::geo::Plausibility::dropped) {
        std::cout << "dropped    " << v.reason << " (location_dropped: the record is kept without a location)\n";
        return 1;
    }
    if (v.verdict == host::geo::Plausibility::swapped) std::cout << "swapped    " << v.reason << "\n";
    std::printf("wgs84      %.6f, %.6f   precision %d m\n", v.wgs84.lon, v.wgs84.lat, host::geo::precision_m(*crs));
    print_place(**g, v.wgs84);
    return 0;
}

int geocode(const std::string& config, const Options& o) {
    auto g = load(config);
    if (!g) return std::cerr << g.error().message << "\n", 2;
    auto r = (*g)->gazetteer.geocode(o.address);
    std::cout << "address    " << o.address << "\n";
    if (!r.matched) {
        std::cout << "no match (method none)\n" << r.explanation << "\n";
        if (auto s = (*g)->gazetteer.street_by_name(o.address)) std::cout << "street named in it: " << *s << "\n";
        return 1;
    }
    std::cout << "matched    " << r.matched_name << " (" << r.matched_type << ") by rule " << r.rule << "\n";
    std::printf("wgs84      %.6f, %.6f   precision %d m\n", r.point.lon, r.point.lat, r.precision_m);
    std::cout << "entry      street " << r.street_code << ", community " << r.community_code << "\n";
    std::cout << "\nwhy:\n" << r.explanation << "\n\n";
    print_place(**g, r.point);
    return 0;
}

}  // namespace

void add_geo_commands(CLI::App& app, const std::string& config_path, std::function<int()>& run) {
    auto o = std::make_shared<Options>();
    auto* geo = app.add_subcommand("geo", "what the hub decides for a location, and why");
    geo->require_subcommand(1);
    auto* l = geo->add_subcommand("locate", "place a coordinate: street, community, grid, special grids");
    l->add_option("x", o->x, "longitude (or easting for EPSG:4549)")->required();
    l->add_option("y", o->y, "latitude (or northing for EPSG:4549)")->required();
    l->add_option("--crs", o->crs, "WGS84, CGCS2000, GCJ02, BD09 or EPSG:4549")->capture_default_str();
    l->callback([&run, &config_path, o] { run = [&config_path, o] { return locate(config_path, *o); }; });
    auto* g = geo->add_subcommand("geocode", "find a text address in the gazetteer");
    g->add_option("address", o->address, "the address as a source gives it")->required();
    g->callback([&run, &config_path, o] { run = [&config_path, o] { return geocode(config_path, *o); }; });
}

}  // namespace casehub::cli
