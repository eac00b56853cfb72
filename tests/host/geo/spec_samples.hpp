// Every sample coordinate of the five ../shared/specs/*-interface.md documents, with the CRS the
// document gives it and the grid the documents name for it. Shared by the geo tests: the CRS
// test converts each one; the grid-map test places each one and expects `expected_grid`.
//
// Where the expectation comes from (`grid_named_by`):
//   dcm-interface.md §9        <bgid>, the 数字城管 grid of the case (authoritative).
//   gridapp-interface.md §7    "gridCode": the WORKER's own grid, "not necessarily the grid
//                              where the event is" (gridapp §6 item 4); for these three
//                              samples it is also the grid containing the point.
//   hotline12345 §7            names no grid (only 街道 `jdmc` 夫子庙街道 = 320104002). The
//                              case model (§6.2/6.3) merges it with the dcm sample, "about 20 m
//                              apart", whose grid is 32010400200508; the point is in that grid.
//   police §9, first line      names no grid (`yjjd` 320104009); case-model.md §6.4 gives the
//                              case's grid 32010400900606.
//   police §9, third line      names no grid anywhere (`yjjd` 320104002); the expectation is
//                              the grid-map.geojson polygon containing the point.
// enforcement-interface.md has no coordinates (text addresses only).
//
// `wgs84_lon`/`wgs84_lat`: the expected WGS-84 point, verified independently of the C++ code:
// EPSG:4549 with PROJ 9.1.1's `cs2cs EPSG:4549 EPSG:4490` (input northing first: EPSG axis
// order), e.g. `echo "3544931.09 385771.89" | cs2cs -f %.9f EPSG:4549 EPSG:4490` →
// 32.021999980 118.790899988 (case-model.md §6.3 states 118.790900, 32.022000); GCJ02/BD09 with
// a separate Python implementation of the published algorithm. Each point, placed in
// config/qinhuai/grid-map.geojson with an independent ray-casting point-in-polygon, lies in
// `expected_grid` and `expected_street`.
#pragma once

#include "geo/crs.hpp"

#include <array>
#include <string_view>

namespace casehub::test::geo {

struct SpecSample {
    std::string_view document;       // interface document and section
    std::string_view record_id;      // the record's id in that document
    double x, y;                     // as the document gives them (x = lon or easting)
    host::geo::Crs crs;              // as the document gives it
    std::string_view expected_grid;  // 14-digit comprehensive grid code
    std::string_view expected_street;
    std::string_view grid_named_by;  // where expected_grid comes from (see above)
    double wgs84_lon, wgs84_lat;     // verified WGS-84 position (see above)
};

using host::geo::Crs;

inline constexpr std::array<SpecSample, 8> spec_samples{{
    // x, y, crs, expected_grid
    {"dcm-interface.md §9", "260309000412", 385771.89, 3544931.09, Crs::epsg4549,
     "32010400200508", "320104002", "dcm <bgid>", 118.790899988, 32.021999980},
    {"dcm-interface.md §9", "260308000377", 384854.12, 3543592.71, Crs::epsg4549,
     "32010400500910", "320104005", "dcm <bgid>", 118.781347042, 32.009839987},
    {"gridapp-interface.md §7", "WG20260309000871", 118.809888, 32.024991, Crs::gcj02,
     "32010400800310", "320104008", "gridapp gridCode (worker's grid)", 118.804721663, 32.027071754},
    {"gridapp-interface.md §7", "WG20260309000655", 118.831860, 32.029605, Crs::gcj02,
     "32010401000306", "320104010", "gridapp gridCode (worker's grid)", 118.826738343, 32.031726639},
    {"gridapp-interface.md §7", "WG20260309000902", 118.844423, 32.036674, Crs::bd09,
     "32010401000208", "320104010", "gridapp gridCode (worker's grid)", 118.832784425, 32.032953429},
    {"hotline12345-interface.md §7", "NJ20260309004512", 118.796290, 32.020041, Crs::gcj02,
     "32010400200508", "320104002", "case-model.md §6.3 (merged with dcm 260309000412)",
     118.791100466, 32.022099706},
    {"police-interface.md §9", "32010020260308011952", 118.816333, 32.034698, Crs::cgcs2000,
     "32010400900606", "320104009", "case-model.md §6.4", 118.816333, 32.034698},
    {"police-interface.md §9", "32010020260309002861", 118.785561, 32.015146, Crs::wgs84,
     "32010400201603", "320104002", "grid-map.geojson only (yjjd 320104002)", 118.785561,
     32.015146},
}};

}  // namespace casehub::test::geo
