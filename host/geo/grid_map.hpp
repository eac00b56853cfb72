// Placement of a WGS-84 point in Qinhuai's grid map (config/qinhuai/grid-map.geojson): street,
// community, comprehensive grid (综合网格) and every specialised grid (专属网格) containing it.
//
// Loaded once; afterwards immutable, cheap to copy (shared state) and safe to query from several
// threads. Coordinates are treated as planar lon/lat (Boost.Geometry cartesian): at district
// scale (< 15 km) the error against geodesic edges is far below the data's 0.1 m precision.
//
// Index: one Boost.Geometry R-tree (R*, packed) over the polygons' bounding boxes per layer;
// candidates are then tested with boost::geometry::covered_by (the border counts as inside).
//
// Border rule (deterministic, independent of the R-tree's traversal order):
//   * Comprehensive grid: among all grids whose polygon covers the point (interior or border),
//     the one with the SMALLEST code (byte-wise string order; codes are fixed-width digits, so
//     this is numeric order) wins. A point on the border between grids A and B therefore always
//     goes to min(A, B); a shared vertex goes to the smallest code of all grids meeting there.
//   * Street and community are DERIVED from the winning grid (grid.parent = community,
//     community.parent = street), so the three levels are always consistent — even on a
//     street border the point's street is that of its grid.
//   * Only when no grid covers the point: a grid whose border lies within 1e-8 degrees (about
//     1 mm; floating-point slivers between neighbours) wins, again the smallest code; then a
//     covering community polygon (smallest code, street derived), then a covering street
//     polygon (smallest code). If none matches, the point is outside the district.
//   * Specialised grids: every covering one is listed, sorted by code (they do not overlap,
//     so only a point on a common border lists two).
#pragma once

#include "common/result.hpp"
#include "geo/lonlat.hpp"

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace casehub::host::geo {

struct Placement {
    std::string street_code, community_code, grid_code;  // empty when outside the district
    std::vector<std::string> special_grids;              // sorted by code
    bool inside_district = false;
};

class GridMap {
public:
    // Reads config/qinhuai/grid-map.geojson. Errors name the file and the offending feature
    // (index and code).
    static Result<GridMap> load(const std::filesystem::path& geojson);

    // Point (WGS-84 degrees) → placement, by the border rule above. Allocation-light: codes fit
    // the small-string buffer; only a non-empty special_grids list allocates.
    Placement place(double lon, double lat) const;
    Placement place(LonLat p) const { return place(p.lon, p.lat); }

    // Is this a comprehensive grid code of the map? (Specialised grid codes are not.)
    bool has_grid(std::string_view grid_code) const;

    // For records that only name a grid code: a point guaranteed inside the comprehensive grid
    // (its area centroid when that lies inside the polygon, else Boost.Geometry's
    // point_on_surface) and the radius in metres, rounded up, of the circle around that point
    // which contains the whole grid. nullopt for an unknown code.
    std::optional<std::pair<LonLat, int>> grid_centroid(std::string_view grid_code) const;

    // South-west and north-east corners of the district polygon's bounding box.
    std::pair<LonLat, LonLat> district_bbox() const;

    // Name of a district, street, community, comprehensive or specialised grid code; an empty
    // string for an unknown code.
    const std::string& name_of(std::string_view code) const;

    // For `casehub geo locate`: one line per candidate polygon (bounding-box hit) of every layer
    // saying whether it covers the point, one line per decision (which won and why), and a final
    // result line.
    std::string explain(double lon, double lat) const;

    // Counts per layer, for diagnostics.
    std::size_t grid_count() const;
    std::size_t special_grid_count() const;

    struct Impl;

private:
    explicit GridMap(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<const Impl> impl_;
};

}  // namespace casehub::host::geo
