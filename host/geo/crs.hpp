// Coordinate normalization to WGS-84 for every `crs` of the case model (case-model.md §2.1
// `location.original`, §2.5 plausibility, §3.1 `precision_m`).
//
//   WGS84, CGCS2000  degrees, lon/lat; CGCS2000 is taken as WGS-84 (they differ by a few cm).
//   GCJ02            degrees; the public GCJ-02 ("Mars") obfuscation of Chinese web maps, several
//                    hundred metres in Nanjing. Forward is closed-form; the inverse is iterated
//                    until the forward image of the result agrees with the input to < 1e-9°
//                    (about 0.1 mm), i.e. far below the 0.01 m the hub asks for.
//   BD09             degrees; Baidu's extra rotation/offset on top of GCJ-02. The inverse is the
//                    usual closed form refined by the same fixed-point iteration (the closed form
//                    alone is off by a few cm).
//   EPSG:4549        metres, x = easting, y = northing (GIS order, no zone prefix): CGCS2000 /
//                    3-degree Gauss-Krüger CM 120E, through PROJ (EPSG:4490 ↔ EPSG:4549,
//                    normalized to lon/lat, easting/northing order).
//
// Allocation: the hot path (successful conversions, plausibility verdict `ok`) does not touch
// the heap. Only errors, and the reason text of a `swapped` or `dropped` verdict, allocate.
#pragma once

#include "common/result.hpp"
#include "geo/lonlat.hpp"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

// PROJ's opaque handles (proj.h), so that users of this header need not include PROJ.
struct pj_ctx;
struct PJconsts;

namespace casehub::host::geo {

enum class Crs { wgs84, cgcs2000, gcj02, bd09, epsg4549 };

// "WGS84", "CGCS2000", "GCJ02", "BD09", "EPSG:4549" (exactly as in the case model); anything
// else → nullopt (the record's `crs` is then `bad_enum`, §2.5).
std::optional<Crs> parse_crs(std::string_view name);
// The case model's spelling of `crs`.
std::string_view to_string(Crs crs);

// Pure math, no PROJ. Points outside China's rough bounding box (lon 72.004–137.8347,
// lat 0.8293–55.8271) are left unchanged, as in the published algorithm.
LonLat wgs84_to_gcj02(LonLat wgs);
LonLat gcj02_to_wgs84(LonLat gcj);  // iterated inverse
LonLat gcj02_to_bd09(LonLat gcj);
LonLat bd09_to_gcj02(LonLat bd);    // closed form + iteration

// §3.1 `location.precision_m` for coordinates: survey (EPSG:4549) 5; GNSS WGS84/CGCS2000 15;
// GCJ02 20; BD09 25.
int precision_m(Crs crs);

// §2.5 plausibility against the district's bounding box, widened by a 5 km margin.
//   ok       (x, y) converts to a point inside the widened box; `wgs84` is that point.
//   swapped  not as given, but (y, x) does (latitude given as x, or northing as x for
//            EPSG:4549): `wgs84` is the swapped-back point (case-model `location_swapped`).
//   dropped  0 in either coordinate, non-finite, or outside both ways (`location_dropped`);
//            `wgs84` is {0, 0} and meaningless.
// `reason` is empty for ok, one line otherwise (for the case's history).
struct Plausibility {
    enum Verdict { ok, swapped, dropped } verdict = dropped;
    LonLat wgs84{};
    std::string reason;
};

// Thread-safe: PROJ transforms keep per-call state, so the EPSG:4549 calls (the only ones that
// reach PROJ) take a lock; the other CRSs are pure math. Move-only; owns a PROJ context and
// the EPSG:4549 transform, both created once in create().
class Converter {
public:
    // Needs PROJ's database (package proj-data). The error names PROJ's message.
    static Result<Converter> create();

    Converter(Converter&& other) noexcept;
    Converter& operator=(Converter&& other) noexcept;
    Converter(const Converter&) = delete;
    Converter& operator=(const Converter&) = delete;
    ~Converter();

    // Source coordinates (x, y as in `location.original`) → WGS-84 degrees. Degrees CRSs:
    // x = longitude, y = latitude; EPSG:4549: x = easting, y = northing (metres). Errors for
    // non-finite input, latitudes beyond ±90° and points PROJ cannot project back.
    Result<LonLat> to_wgs84(double x, double y, Crs crs) const;
    // The inverse, for tests and `casehub geo`: WGS-84 → (x, y) in `crs`.
    Result<std::pair<double, double>> from_wgs84(LonLat wgs, Crs crs) const;

private:
    friend Plausibility check_plausible(double, double, Crs, const Converter&, LonLat, LonLat);
    Converter(pj_ctx* ctx, PJconsts* to_4549) : ctx_(ctx), to_4549_(to_4549), proj_lock_(std::make_unique<std::mutex>()) {}
    void reset() noexcept;

    pj_ctx* ctx_ = nullptr;
    PJconsts* to_4549_ = nullptr;  // lon/lat (EPSG:4490, normalized) → easting/northing
    std::unique_ptr<std::mutex> proj_lock_;  // guards ctx_ and to_4549_ (a pointer: movable)
};

inline constexpr double plausibility_margin_m = 5000.0;

// bbox_min/bbox_max: south-west and north-east corners of the district polygon's bounding box
// (e.g. GridMap::district_bbox()), WGS-84 degrees.
Plausibility check_plausible(double x, double y, Crs crs, const Converter& converter,
                             LonLat bbox_min, LonLat bbox_max);

}  // namespace casehub::host::geo
