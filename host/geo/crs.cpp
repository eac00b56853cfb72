#include "geo/crs.hpp"

#include <proj.h>

#include <cmath>
#include <cstdio>
#include <numbers>

namespace casehub::host::geo {

namespace {

constexpr double pi = std::numbers::pi;

// ---- GCJ-02 -------------------------------------------------------------------------------
// The published algorithm: Krasovsky 1940 semi-major axis and the WGS-84 first eccentricity
// squared, polynomial + sine offsets around (105 E, 35 N).
constexpr double gcj_a = 6378245.0;
constexpr double gcj_ee = 0.00669342162296594323;

bool outside_china(double lon, double lat) noexcept {
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
}

// Offset in degrees to add to a WGS-84 point to get its GCJ-02 position.
LonLat gcj_delta(double lon, double lat) noexcept {
    const double x = lon - 105.0;
    const double y = lat - 35.0;
    const double common =
        (20.0 * std::sin(6.0 * x * pi) + 20.0 * std::sin(2.0 * x * pi)) * 2.0 / 3.0;
    double dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y +
                  0.2 * std::sqrt(std::fabs(x)) + common +
                  (20.0 * std::sin(y * pi) + 40.0 * std::sin(y / 3.0 * pi)) * 2.0 / 3.0 +
                  (160.0 * std::sin(y / 12.0 * pi) + 320.0 * std::sin(y * pi / 30.0)) * 2.0 / 3.0;
    double dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y +
                  0.1 * std::sqrt(std::fabs(x)) + common +
                  (20.0 * std::sin(x * pi) + 40.0 * std::sin(x / 3.0 * pi)) * 2.0 / 3.0 +
                  (150.0 * std::sin(x / 12.0 * pi) + 300.0 * std::sin(x / 30.0 * pi)) * 2.0 / 3.0;
    const double rad_lat = lat / 180.0 * pi;
    double magic = std::sin(rad_lat);
    magic = 1.0 - gcj_ee * magic * magic;
    const double sqrt_magic = std::sqrt(magic);
    dlat = (dlat * 180.0) / ((gcj_a * (1.0 - gcj_ee)) / (magic * sqrt_magic) * pi);
    dlon = (dlon * 180.0) / (gcj_a / sqrt_magic * std::cos(rad_lat) * pi);
    return {dlon, dlat};
}

// ---- BD-09 --------------------------------------------------------------------------------
constexpr double bd_x_pi = pi * 3000.0 / 180.0;

// Fixed-point iterations: the offsets vary by ~1e-3 of a degree per degree, so each step gains
// about three decimal places; 1e-11° (about 1 µm) is reached in four or five steps.
constexpr double iteration_tolerance_deg = 1e-11;
constexpr int max_iterations = 30;

// ---- plausibility -------------------------------------------------------------------------
// Metres per degree on the WGS-84 ellipsoid at latitude `lat` (standard series).
double metres_per_deg_lat(double lat_deg) noexcept {
    const double p = lat_deg / 180.0 * pi;
    return 111132.92 - 559.82 * std::cos(2 * p) + 1.175 * std::cos(4 * p) - 0.0023 * std::cos(6 * p);
}
double metres_per_deg_lon(double lat_deg) noexcept {
    const double p = lat_deg / 180.0 * pi;
    return 111412.84 * std::cos(p) - 93.5 * std::cos(3 * p) + 0.118 * std::cos(5 * p);
}

bool is_degrees(Crs crs) noexcept { return crs != Crs::epsg4549; }

}  // namespace

// ---- names and precision ------------------------------------------------------------------

std::optional<Crs> parse_crs(std::string_view name) {
    if (name == "WGS84") return Crs::wgs84;
    if (name == "CGCS2000") return Crs::cgcs2000;
    if (name == "GCJ02") return Crs::gcj02;
    if (name == "BD09") return Crs::bd09;
    if (name == "EPSG:4549") return Crs::epsg4549;
    return std::nullopt;
}

std::string_view to_string(Crs crs) {
    switch (crs) {
        case Crs::wgs84: return "WGS84";
        case Crs::cgcs2000: return "CGCS2000";
        case Crs::gcj02: return "GCJ02";
        case Crs::bd09: return "BD09";
        case Crs::epsg4549: return "EPSG:4549";
    }
    return "?";
}

int precision_m(Crs crs) {
    switch (crs) {
        case Crs::epsg4549: return 5;
        case Crs::wgs84:
        case Crs::cgcs2000: return 15;
        case Crs::gcj02: return 20;
        case Crs::bd09: return 25;
    }
    return 25;
}

// ---- GCJ-02 / BD-09 -----------------------------------------------------------------------

LonLat wgs84_to_gcj02(LonLat wgs) {
    if (outside_china(wgs.lon, wgs.lat)) return wgs;
    const LonLat d = gcj_delta(wgs.lon, wgs.lat);
    return {wgs.lon + d.lon, wgs.lat + d.lat};
}

LonLat gcj02_to_wgs84(LonLat gcj) {
    if (outside_china(gcj.lon, gcj.lat)) return gcj;
    // Solve wgs + delta(wgs) = gcj by fixed-point iteration from wgs = gcj - delta(gcj).
    LonLat wgs = gcj;
    for (int i = 0; i < max_iterations; ++i) {
        const LonLat d = gcj_delta(wgs.lon, wgs.lat);
        const LonLat next{gcj.lon - d.lon, gcj.lat - d.lat};
        const bool done = std::fabs(next.lon - wgs.lon) < iteration_tolerance_deg &&
                          std::fabs(next.lat - wgs.lat) < iteration_tolerance_deg;
        wgs = next;
        if (done) break;
    }
    return wgs;
}

LonLat gcj02_to_bd09(LonLat gcj) {
    const double x = gcj.lon, y = gcj.lat;
    const double z = std::sqrt(x * x + y * y) + 0.00002 * std::sin(y * bd_x_pi);
    const double theta = std::atan2(y, x) + 0.000003 * std::cos(x * bd_x_pi);
    return {z * std::cos(theta) + 0.0065, z * std::sin(theta) + 0.006};
}

LonLat bd09_to_gcj02(LonLat bd) {
    // The usual closed form (exact only up to a few cm) ...
    const double x = bd.lon - 0.0065, y = bd.lat - 0.006;
    const double z = std::sqrt(x * x + y * y) - 0.00002 * std::sin(y * bd_x_pi);
    const double theta = std::atan2(y, x) - 0.000003 * std::cos(x * bd_x_pi);
    LonLat gcj{z * std::cos(theta), z * std::sin(theta)};
    // ... refined until gcj02_to_bd09(gcj) reproduces the input.
    for (int i = 0; i < max_iterations; ++i) {
        const LonLat back = gcj02_to_bd09(gcj);
        const double dlon = back.lon - bd.lon, dlat = back.lat - bd.lat;
        gcj.lon -= dlon;
        gcj.lat -= dlat;
        if (std::fabs(dlon) < iteration_tolerance_deg && std::fabs(dlat) < iteration_tolerance_deg)
            break;
    }
    return gcj;
}

// ---- Converter ----------------------------------------------------------------------------

namespace {

// Collects PROJ's log lines while the transform is being built, so that create() can name
// PROJ's own message (e.g. a missing proj.db) instead of a bare error number.
void collect_log(void* app_data, int level, const char* message) {
    if (level > PJ_LOG_ERROR || message == nullptr) return;
    auto* out = static_cast<std::string*>(app_data);
    if (!out->empty()) out->append("; ");
    out->append(message);
}

void silent_log(void*, int, const char*) {}

}  // namespace

Result<Converter> Converter::create() {
    PJ_CONTEXT* ctx = proj_context_create();
    if (ctx == nullptr) return make_error("geo: PROJ: cannot create a PROJ context");
    std::string log;
    proj_log_func(ctx, &log, collect_log);
    proj_log_level(ctx, PJ_LOG_ERROR);

    auto fail = [&](const char* what) {
        std::string msg = std::string("geo: PROJ: ") + what + ": ";
        const int err = proj_context_errno(ctx);
        if (!log.empty())
            msg += log;
        else if (err != 0)
            msg += proj_context_errno_string(ctx, err);
        else
            msg += "unknown error";
        msg += " (PROJ ";
        msg += proj_info().version;
        msg += "; is its database, Debian package proj-data, installed?)";
        proj_context_destroy(ctx);
        return make_error(std::move(msg));
    };

    // CGCS2000 geographic → CGCS2000 / 3-degree Gauss-Kruger CM 120E: a pure projection, no
    // datum shift. Both CRSs are latitude-first (and 4549 northing-first) in EPSG; normalize to
    // lon/lat and easting/northing.
    PJ* raw = proj_create_crs_to_crs(ctx, "EPSG:4490", "EPSG:4549", nullptr);
    if (raw == nullptr) return fail("cannot create the EPSG:4490 -> EPSG:4549 transform");
    PJ* norm = proj_normalize_for_visualization(ctx, raw);
    proj_destroy(raw);
    if (norm == nullptr) return fail("cannot normalize the EPSG:4490 -> EPSG:4549 axis order");

    // From here on errors are reported through return values; PROJ stays silent.
    proj_log_func(ctx, nullptr, silent_log);
    proj_log_level(ctx, PJ_LOG_NONE);
    return Converter(ctx, norm);
}

Converter::Converter(Converter&& other) noexcept
    : ctx_(other.ctx_), to_4549_(other.to_4549_), proj_lock_(std::move(other.proj_lock_)) {
    other.ctx_ = nullptr;
    other.to_4549_ = nullptr;
}

Converter& Converter::operator=(Converter&& other) noexcept {
    if (this != &other) {
        reset();
        ctx_ = other.ctx_;
        to_4549_ = other.to_4549_;
        proj_lock_ = std::move(other.proj_lock_);
        other.ctx_ = nullptr;
        other.to_4549_ = nullptr;
    }
    return *this;
}

Converter::~Converter() { reset(); }

void Converter::reset() noexcept {
    if (to_4549_ != nullptr) proj_destroy(to_4549_);
    if (ctx_ != nullptr) proj_context_destroy(ctx_);
    to_4549_ = nullptr;
    ctx_ = nullptr;
}

namespace {

enum class Failure { none, not_finite, out_of_range, proj };

// The allocation-free core of to_wgs84: `out` is set when Failure::none is returned; `proj_err`
// receives PROJ's error number on Failure::proj.
Failure convert_to_wgs84(PJ* to_4549, std::mutex& proj_lock, double x, double y, Crs crs, LonLat& out,
                         int& proj_err) noexcept {
    if (!std::isfinite(x) || !std::isfinite(y)) return Failure::not_finite;
    if (is_degrees(crs) && (std::fabs(x) > 180.0 || std::fabs(y) > 90.0))
        return Failure::out_of_range;
    switch (crs) {
        case Crs::wgs84:
        case Crs::cgcs2000:
            out = {x, y};
            return Failure::none;
        case Crs::gcj02:
            out = gcj02_to_wgs84({x, y});
            return Failure::none;
        case Crs::bd09:
            out = gcj02_to_wgs84(bd09_to_gcj02({x, y}));
            return Failure::none;
        case Crs::epsg4549: {
            const std::lock_guard hold(proj_lock);
            proj_errno_reset(to_4549);
            const PJ_COORD r = proj_trans(to_4549, PJ_INV, proj_coord(x, y, 0, 0));
            proj_err = proj_errno(to_4549);
            if (proj_err != 0 || !std::isfinite(r.lp.lam) || !std::isfinite(r.lp.phi) ||
                r.lp.lam == HUGE_VAL)
                return Failure::proj;
            out = {r.lp.lam, r.lp.phi};  // normalized: degrees, lon first
            return Failure::none;
        }
    }
    return Failure::out_of_range;
}

std::string format_failure(Failure f, PJ_CONTEXT* ctx, int proj_err, double x, double y, Crs crs) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "geo: cannot convert (%.9g, %.9g) from %.*s: ", x, y,
                  static_cast<int>(to_string(crs).size()), to_string(crs).data());
    std::string msg = buf;
    switch (f) {
        case Failure::not_finite: msg += "not a finite number"; break;
        case Failure::out_of_range: msg += "longitude beyond +-180 or latitude beyond +-90 degrees"; break;
        case Failure::proj:
            msg += "PROJ: ";
            msg += proj_err != 0 ? proj_context_errno_string(ctx, proj_err) : "no finite result";
            break;
        case Failure::none: break;
    }
    return msg;
}

}  // namespace

Result<LonLat> Converter::to_wgs84(double x, double y, Crs crs) const {
    LonLat out{};
    int proj_err = 0;
    const Failure f = convert_to_wgs84(to_4549_, *proj_lock_, x, y, crs, out, proj_err);
    if (f != Failure::none) {
        const std::lock_guard hold(*proj_lock_);  // PROJ's message lives in its context
        return make_error(format_failure(f, ctx_, proj_err, x, y, crs));
    }
    return out;
}

Result<std::pair<double, double>> Converter::from_wgs84(LonLat wgs, Crs crs) const {
    if (!std::isfinite(wgs.lon) || !std::isfinite(wgs.lat) || std::fabs(wgs.lon) > 180.0 ||
        std::fabs(wgs.lat) > 90.0) {
        char buf[128];
        std::snprintf(buf, sizeof buf, "geo: (%.9g, %.9g) is not a WGS-84 longitude/latitude",
                      wgs.lon, wgs.lat);
        return make_error(buf);
    }
    switch (crs) {
        case Crs::wgs84:
        case Crs::cgcs2000: return std::pair{wgs.lon, wgs.lat};
        case Crs::gcj02: {
            const LonLat g = wgs84_to_gcj02(wgs);
            return std::pair{g.lon, g.lat};
        }
        case Crs::bd09: {
            const LonLat b = gcj02_to_bd09(wgs84_to_gcj02(wgs));
            return std::pair{b.lon, b.lat};
        }
        case Crs::epsg4549: {
            const std::lock_guard hold(*proj_lock_);
            proj_errno_reset(to_4549_);
            const PJ_COORD r = proj_trans(to_4549_, PJ_FWD, proj_coord(wgs.lon, wgs.lat, 0, 0));
            const int err = proj_errno(to_4549_);
            if (err != 0 || !std::isfinite(r.xy.x) || !std::isfinite(r.xy.y) || r.xy.x == HUGE_VAL)
                return make_error(format_failure(Failure::proj, ctx_, err, wgs.lon, wgs.lat,
                                                 Crs::wgs84));
            return std::pair{r.xy.x, r.xy.y};
        }
    }
    return make_error("geo: unknown CRS");
}

// ---- §2.5 plausibility --------------------------------------------------------------------

Plausibility check_plausible(double x, double y, Crs crs, const Converter& converter,
                             LonLat bbox_min, LonLat bbox_max) {
    Plausibility p;
    const auto crs_name = to_string(crs);
    const int crs_len = static_cast<int>(crs_name.size());
    char buf[200];

    if (!std::isfinite(x) || !std::isfinite(y)) {
        p.reason = "location_dropped: coordinates are not finite numbers";
        return p;
    }
    if (x == 0.0 || y == 0.0) {
        std::snprintf(buf, sizeof buf, "location_dropped: %s (%.9g, %.9g %.*s), no position",
                      x == 0.0 && y == 0.0 ? "0,0" : "a zero coordinate", x, y, crs_len,
                      crs_name.data());
        p.reason = buf;
        return p;
    }

    const double mid_lat = (bbox_min.lat + bbox_max.lat) / 2.0;
    const double margin_lat = plausibility_margin_m / metres_per_deg_lat(mid_lat);
    const double margin_lon = plausibility_margin_m / metres_per_deg_lon(mid_lat);
    auto inside = [&](LonLat q) {
        return q.lon >= bbox_min.lon - margin_lon && q.lon <= bbox_max.lon + margin_lon &&
               q.lat >= bbox_min.lat - margin_lat && q.lat <= bbox_max.lat + margin_lat;
    };

    LonLat as_given{};
    int proj_err = 0;
    const bool given_ok =
        convert_to_wgs84(converter.to_4549_, *converter.proj_lock_, x, y, crs, as_given, proj_err) == Failure::none;
    if (given_ok && inside(as_given)) {
        p.verdict = Plausibility::ok;
        p.wgs84 = as_given;
        return p;
    }

    LonLat swapped{};
    if (convert_to_wgs84(converter.to_4549_, *converter.proj_lock_, y, x, crs, swapped, proj_err) == Failure::none &&
        inside(swapped)) {
        p.verdict = Plausibility::swapped;
        p.wgs84 = swapped;
        std::snprintf(buf, sizeof buf,
                      "location_swapped: (%.9g, %.9g %.*s) is outside the district; read as "
                      "(%.9g, %.9g) it is inside",
                      x, y, crs_len, crs_name.data(), y, x);
        p.reason = buf;
        return p;
    }

    if (given_ok)
        std::snprintf(buf, sizeof buf,
                      "location_dropped: (%.9g, %.9g %.*s) = WGS-84 (%.6f, %.6f) is outside the "
                      "district's bounding box with a 5 km margin, either way round",
                      x, y, crs_len, crs_name.data(), as_given.lon, as_given.lat);
    else
        std::snprintf(buf, sizeof buf,
                      "location_dropped: (%.9g, %.9g %.*s) cannot be converted to WGS-84 inside "
                      "the district's bounding box with a 5 km margin, either way round",
                      x, y, crs_len, crs_name.data());
    p.reason = buf;
    return p;
}

}  // namespace casehub::host::geo
