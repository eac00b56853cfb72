// casehub-geo-bench: point placements per second on one core (GridMap::place, host/geo/grid_map.hpp).
//
//   casehub-geo-bench [grid-map.geojson] [--points N] [--runs R]
//
// Places N (default 1,000,000) uniformly random points of the district's bounding box (fixed
// seed; about 30 % fall outside the district polygon, which is part of the workload: records
// do carry such points) R times (default 3) on the calling thread and prints every run and the
// median. Prints the figure; the target (>= 500k/s) is not asserted here.
#include "geo/gazetteer.hpp"
#include "geo/grid_map.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#ifndef CASEHUB_SOURCE_DIR
#define CASEHUB_SOURCE_DIR "."
#endif

int main(int argc, char** argv) {
    std::string file = CASEHUB_SOURCE_DIR "/config/qinhuai/grid-map.geojson";
    std::size_t n = 1'000'000;
    int runs = 3;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--points" && i + 1 < argc)
            n = std::strtoull(argv[++i], nullptr, 10);
        else if (a == "--runs" && i + 1 < argc)
            runs = std::max(1, std::atoi(argv[++i]));
        else if (a == "-h" || a == "--help") {
            std::printf("usage: casehub-geo-bench [grid-map.geojson] [--points N] [--runs R]\n");
            return 0;
        } else
            file = a;
    }

    const auto t_load = std::chrono::steady_clock::now();
    auto loaded = casehub::host::geo::GridMap::load(file);
    if (!loaded) {
        std::fprintf(stderr, "casehub-geo-bench: %s\n", loaded.error().message.c_str());
        return 1;
    }
    const auto& map = loaded.value();
    const double load_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();

    const auto [sw, ne] = map.district_bbox();
    std::mt19937_64 rng(20240401);
    std::uniform_real_distribution<double> lon(sw.lon, ne.lon), lat(sw.lat, ne.lat);
    std::vector<casehub::host::geo::LonLat> pts(n);
    for (auto& p : pts) p = {lon(rng), lat(rng)};

    std::size_t inside = 0, with_special = 0;
    for (const auto& p : pts) {  // warm-up and statistics
        const auto pl = map.place(p);
        inside += pl.inside_district;
        with_special += !pl.special_grids.empty();
    }

    std::vector<double> rates;
    for (int r = 0; r < runs; ++r) {
        std::size_t checksum = 0;
        const auto t0 = std::chrono::steady_clock::now();
        for (const auto& p : pts) {
            const auto pl = map.place(p);
            checksum += pl.grid_code.size() + pl.special_grids.size();
        }
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        rates.push_back(static_cast<double>(n) / s);
        std::printf("run %d: %zu placements in %.3f s = %.0f placements/s (checksum %zu)\n", r + 1, n, s,
                    rates.back(), checksum);
    }
    std::sort(rates.begin(), rates.end());
    std::printf("grid map: %s loaded in %.0f ms (%zu grids, %zu special grids)\n", file.c_str(), load_ms,
                map.grid_count(), map.special_grid_count());
    std::printf("points: %zu random in bbox %.6f,%.6f .. %.6f,%.6f; %.1f %% inside the district, %.1f %% in a "
                "special grid\n",
                n, sw.lon, sw.lat, ne.lon, ne.lat, 100.0 * static_cast<double>(inside) / static_cast<double>(n),
                100.0 * static_cast<double>(with_special) / static_cast<double>(n));
    std::printf("placements per second (1 thread, median of %d runs): %.0f\n", runs, rates[rates.size() / 2]);

    // Geocoding: every gazetteer entry's name in a few address styles, over and over.
    const std::filesystem::path ref = std::filesystem::path(file).parent_path();
    auto gaz = casehub::host::geo::Gazetteer::load(ref / "gazetteer.json", ref / "divisions.json");
    if (!gaz) {
        std::fprintf(stderr, "casehub-geo-bench: %s\n", gaz.error().message.c_str());
        return 1;
    }
    std::vector<std::string> addresses;
    for (const auto& e : gaz->entries()) {
        addresses.push_back("南京市秦淮区" + e.name);
        addresses.push_back(e.name + "附近");
        addresses.push_back("秦淮区" + e.name + "12号楼下");
    }
    std::size_t matched = 0, total = 0;
    const auto g0 = std::chrono::steady_clock::now();
    for (int rep = 0; rep < 50; ++rep)
        for (const auto& a : addresses) {
            matched += gaz->geocode(a).matched;
            ++total;
        }
    const double gs = std::chrono::duration<double>(std::chrono::steady_clock::now() - g0).count();
    std::printf("geocodes per second (1 thread): %.0f (%zu addresses, %.1f %% matched)\n",
                static_cast<double>(total) / gs, total, 100.0 * static_cast<double>(matched) / static_cast<double>(total));
    return 0;
}