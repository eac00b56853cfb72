// Coordinate normalization (host/geo/crs.hpp): fixed reference points for each conversion,
// round trips over the district, §2.5 plausibility, and every sample coordinate of the
// interface documents (spec_samples.hpp).
//
// Reference values and how they were verified:
//   GCJ-02   the test vectors published with googollee/eviltransform (Shanghai, Shenzhen,
//            Beijing; its Go/Python/PHP suites), reproduced to < 1e-9° by an independent Python
//            port with a = 6378245 m (they do NOT match a = 6378137 m: 4–11 cm off).
//   EPSG:4549 PROJ 9.1.1 command line (Debian proj-bin), EPSG axis order (lat/northing first):
//              echo "32.023 118.790" | cs2cs -f %.4f EPSG:4490 EPSG:4549
//                → 3545042.9423 385688.1013     (N, E)
//              echo "118.790 32.023" | proj -f %.4f +proj=tmerc +lat_0=0 +lon_0=120 +k=1
//                  +x_0=500000 +y_0=0 +ellps=GRS80
//                → 385688.1013 3545042.9423     (E, N; same)
//              echo "3544931.09 385771.89" | cs2cs -f %.9f EPSG:4549 EPSG:4490
//                → 32.021999980 118.790899988   (case-model.md §6.3: 118.790900, 32.022000)
//              echo "3543592.71 384854.12" | cs2cs -f %.9f EPSG:4549 EPSG:4490
//                → 32.009839987 118.781347042
//            (The brief's "about E 385660, N 3545054" for 32.023 N 118.790 E is ~30 m off.)
//   BD-09    no independent published vectors were found that agree with the standard
//            formulas (eviltransform's bd2wgs vectors are 10–40 m off them); the BD-09 spec
//            sample is checked against the same formulas run in Python.
#include "geo/crs.hpp"
#include "spec_samples.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <new>

using namespace casehub::host::geo;
using casehub::test::geo::spec_samples;

// ---- allocation counter (C++ operator new only) ---------------------------------------------
namespace {
std::atomic<long> g_allocations{0};
}  // namespace

// GCC 12 flags free() on memory from a replaced operator new as "mismatched" once inlined;
// here both sides are malloc/free by construction.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t n) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

namespace {

constexpr double pi = 3.14159265358979323846;

// Distance in metres between two nearby WGS-84 points (equirectangular; exact enough < 1 km).
double metres(LonLat a, LonLat b) {
    const double lat = (a.lat + b.lat) / 2.0 * pi / 180.0;
    const double dx = (a.lon - b.lon) * pi / 180.0 * 6378137.0 * std::cos(lat);
    const double dy = (a.lat - b.lat) * pi / 180.0 * 6378137.0;
    return std::hypot(dx, dy);
}

const Converter& converter() {
    static const Converter c = [] {
        auto r = Converter::create();
        if (!r) FAIL("Converter::create: " << r.error().message);
        return std::move(r).value();
    }();
    return c;
}

struct Bbox {
    LonLat min, max;
};

// The district feature's bounding box, from the hub's own copy of the grid map.
const Bbox& district_bbox() {
    static const Bbox box = [] {
        std::ifstream in(CASEHUB_SOURCE_DIR "/config/qinhuai/grid-map.geojson");
        REQUIRE(in);
        const auto doc = nlohmann::json::parse(in);
        Bbox b{{1e9, 1e9}, {-1e9, -1e9}};
        bool found = false;
        for (const auto& f : doc.at("features")) {
            if (f.at("properties").value("layer", "") != "district") continue;
            found = true;
            const auto& g = f.at("geometry");
            auto add_ring = [&](const nlohmann::json& ring) {
                for (const auto& pt : ring) {
                    const double lon = pt.at(0).get<double>(), lat = pt.at(1).get<double>();
                    b.min.lon = std::min(b.min.lon, lon);
                    b.min.lat = std::min(b.min.lat, lat);
                    b.max.lon = std::max(b.max.lon, lon);
                    b.max.lat = std::max(b.max.lat, lat);
                }
            };
            if (g.at("type") == "Polygon")
                for (const auto& ring : g.at("coordinates")) add_ring(ring);
            else
                for (const auto& poly : g.at("coordinates"))
                    for (const auto& ring : poly) add_ring(ring);
        }
        REQUIRE(found);
        return b;
    }();
    return box;
}

bool inside(LonLat p, const Bbox& b) {
    return p.lon >= b.min.lon && p.lon <= b.max.lon && p.lat >= b.min.lat && p.lat <= b.max.lat;
}

Plausibility check(double x, double y, Crs crs) {
    const auto& b = district_bbox();
    return check_plausible(x, y, crs, converter(), b.min, b.max);
}

}  // namespace

TEST_CASE("crs names and precision (§2.1, §3.1)", "[unit]") {
    CHECK(parse_crs("WGS84") == Crs::wgs84);
    CHECK(parse_crs("CGCS2000") == Crs::cgcs2000);
    CHECK(parse_crs("GCJ02") == Crs::gcj02);
    CHECK(parse_crs("BD09") == Crs::bd09);
    CHECK(parse_crs("EPSG:4549") == Crs::epsg4549);
    CHECK_FALSE(parse_crs("gcj02"));
    CHECK_FALSE(parse_crs("EPSG:4528"));
    CHECK_FALSE(parse_crs(""));
    for (Crs c : {Crs::wgs84, Crs::cgcs2000, Crs::gcj02, Crs::bd09, Crs::epsg4549})
        CHECK(parse_crs(to_string(c)) == c);
    CHECK(precision_m(Crs::epsg4549) == 5);
    CHECK(precision_m(Crs::wgs84) == 15);
    CHECK(precision_m(Crs::cgcs2000) == 15);
    CHECK(precision_m(Crs::gcj02) == 20);
    CHECK(precision_m(Crs::bd09) == 25);
}

TEST_CASE("the district bounding box comes from grid-map.geojson", "[unit]") {
    const auto& b = district_bbox();
    // Synthetic map: lon 118.761197..118.852404, lat 31.973474..32.048806 when this was written.
    CHECK(b.min.lon > 118.70);
    CHECK(b.max.lon < 118.90);
    CHECK(b.min.lat > 31.95);
    CHECK(b.max.lat < 32.10);
    CHECK(b.min.lon < b.max.lon);
    CHECK(b.min.lat < b.max.lat);
}

TEST_CASE("GCJ-02: published test vectors", "[unit]") {
    struct V {
        const char* where;
        LonLat wgs, gcj;
    };
    // googollee/eviltransform test suite: (wgsLat, wgsLng, gcjLat, gcjLng), here lon first.
    const V vectors[] = {
        {"Shanghai", {121.5272106, 31.1774276}, {121.531541859215, 31.17530398364597}},
        {"Shenzhen", {113.912316, 22.543847}, {113.9171764808363, 22.540796131694766}},
        {"Beijing", {116.377817, 39.911954}, {116.38404722455657, 39.91334545536069}},
    };
    for (const auto& v : vectors) {
        INFO(v.where);
        const LonLat g = wgs84_to_gcj02(v.wgs);
        CHECK(g.lon == Approx(v.gcj.lon).margin(1e-9));
        CHECK(g.lat == Approx(v.gcj.lat).margin(1e-9));
        // The iterated inverse lands on the published WGS-84 point (< 1 cm).
        CHECK(metres(gcj02_to_wgs84(v.gcj), v.wgs) < 0.01);
    }
}

TEST_CASE("GCJ-02 and BD-09: reference points in Qinhuai", "[unit]") {
    // 12345 sample (hotline12345-interface.md §7), verified with an independent Python port.
    const LonLat wgs = gcj02_to_wgs84({118.796290, 32.020041});
    CHECK(wgs.lon == Approx(118.791100466).margin(1e-8));
    CHECK(wgs.lat == Approx(32.022099706).margin(1e-8));
    // The offset here is several hundred metres (issue 4: "several hundred metres here").
    const double offset = metres(wgs, {118.796290, 32.020041});
    CHECK(offset > 400.0);
    CHECK(offset < 700.0);

    // gridapp BD-09 sample: BD-09 → GCJ-02 → WGS-84.
    const LonLat gcj = bd09_to_gcj02({118.844423, 32.036674});
    CHECK(gcj.lon == Approx(118.837893329).margin(1e-7));  // the closed form alone, to ~1 cm
    CHECK(gcj.lat == Approx(32.030820135).margin(1e-7));
    const LonLat w2 = gcj02_to_wgs84(gcj);
    CHECK(w2.lon == Approx(118.832784425).margin(1e-8));
    CHECK(w2.lat == Approx(32.032953429).margin(1e-8));

    // Outside China both offsets are left alone (published behaviour).
    CHECK(wgs84_to_gcj02({2.35, 48.85}).lon == 2.35);
    CHECK(gcj02_to_wgs84({2.35, 48.85}).lat == 48.85);
}

TEST_CASE("EPSG:4549 through PROJ: reference points checked with cs2cs", "[unit]") {
    const auto& c = converter();
    auto en = c.from_wgs84({118.790, 32.023}, Crs::epsg4549);
    REQUIRE(en);
    CHECK(en->first == Approx(385688.1013).margin(0.001));
    CHECK(en->second == Approx(3545042.9423).margin(0.001));

    auto p = c.to_wgs84(385771.89, 3544931.09, Crs::epsg4549);
    REQUIRE(p);
    CHECK(p->lon == Approx(118.790899988).margin(1e-8));
    CHECK(p->lat == Approx(32.021999980).margin(1e-8));
    // case-model.md §6.3 gives this record's wgs84 as 118.790900, 32.022000 (6 decimals).
    CHECK(std::round(p->lon * 1e6) / 1e6 == Approx(118.790900).margin(1e-9));
    CHECK(std::round(p->lat * 1e6) / 1e6 == Approx(32.022000).margin(1e-9));

    auto q = c.to_wgs84(384854.12, 3543592.71, Crs::epsg4549);
    REQUIRE(q);
    CHECK(q->lon == Approx(118.781347042).margin(1e-8));
    CHECK(q->lat == Approx(32.009839987).margin(1e-8));

    // The central meridian maps to the false easting.
    auto cm = c.from_wgs84({120.0, 32.0}, Crs::epsg4549);
    REQUIRE(cm);
    CHECK(cm->first == Approx(500000.0).margin(1e-6));
}

TEST_CASE("WGS84 and CGCS2000 pass through", "[unit]") {
    for (Crs crs : {Crs::wgs84, Crs::cgcs2000}) {
        auto p = converter().to_wgs84(118.816333, 32.034698, crs);
        REQUIRE(p);
        CHECK(p->lon == 118.816333);
        CHECK(p->lat == 32.034698);
    }
}

TEST_CASE("round trips over the district stay below 0.5 m", "[unit]") {
    const auto& c = converter();
    double worst[5] = {0, 0, 0, 0, 0};
    double worst_inverse = 0;  // forward(inverse(p)) against p, GCJ02 and BD09
    int n = 0;
    for (double lon = 118.74; lon <= 118.86 + 1e-9; lon += 0.005) {
        for (double lat = 31.98; lat <= 32.06 + 1e-9; lat += 0.005) {
            ++n;
            const LonLat wgs{lon, lat};
            for (Crs crs : {Crs::wgs84, Crs::cgcs2000, Crs::gcj02, Crs::bd09, Crs::epsg4549}) {
                auto xy = c.from_wgs84(wgs, crs);
                REQUIRE(xy);
                auto back = c.to_wgs84(xy->first, xy->second, crs);
                REQUIRE(back);
                const double d = metres(*back, wgs);
                auto& w = worst[static_cast<int>(crs)];
                w = std::max(w, d);
            }
            // Inverse first: treat (lon, lat) as GCJ-02 / BD-09 input.
            const LonLat g = wgs84_to_gcj02(gcj02_to_wgs84(wgs));
            worst_inverse = std::max(worst_inverse, metres(g, wgs));
            const LonLat b = gcj02_to_bd09(bd09_to_gcj02(wgs));
            worst_inverse = std::max(worst_inverse, metres(b, wgs));
        }
    }
    INFO("points: " << n << "; worst round trip (m) WGS84 " << worst[0] << ", CGCS2000 "
                    << worst[1] << ", GCJ02 " << worst[2] << ", BD09 " << worst[3]
                    << ", EPSG:4549 " << worst[4] << "; inverse agreement " << worst_inverse);
    CHECK(n == 25 * 17);
    for (double w : worst) CHECK(w < 0.5);
    // Issue 4 asks for sub-metre; the iterations reach far better than the 0.01 m asked for.
    CHECK(worst[2] < 0.01);
    CHECK(worst[3] < 0.01);
    CHECK(worst[4] < 0.001);
    CHECK(worst_inverse < 0.01);
}

TEST_CASE("every spec sample converts into the district", "[unit]") {
    const auto& c = converter();
    const auto& box = district_bbox();
    for (const auto& s : spec_samples) {
        INFO(s.document << " " << s.record_id << " (" << s.x << ", " << s.y << " "
                        << to_string(s.crs) << ")");
        auto p = c.to_wgs84(s.x, s.y, s.crs);
        REQUIRE(p);
        CHECK(inside(*p, box));
        CHECK(p->lon == Approx(s.wgs84_lon).margin(1e-8));  // ~1 mm
        CHECK(p->lat == Approx(s.wgs84_lat).margin(1e-8));
        CHECK(s.expected_grid.size() == 14);
        CHECK(s.expected_grid.substr(0, 9) == s.expected_street);

        const Plausibility ok = check(s.x, s.y, s.crs);
        CHECK(ok.verdict == Plausibility::ok);
        CHECK(ok.reason.empty());
        CHECK(metres(ok.wgs84, *p) == 0.0);

        // The same record with its axes swapped by the source (police §8 item 4) is recognised.
        const Plausibility sw = check(s.y, s.x, s.crs);
        CHECK(sw.verdict == Plausibility::swapped);
        CHECK(metres(sw.wgs84, *p) < 1e-6);
        CHECK_THAT(sw.reason, Catch::StartsWith("location_swapped"));
    }
}

TEST_CASE("§2.5 plausibility: 0,0, far outside, margin", "[unit]") {
    SECTION("0,0 and a single zero are dropped in every CRS") {
        for (Crs crs : {Crs::wgs84, Crs::cgcs2000, Crs::gcj02, Crs::bd09, Crs::epsg4549}) {
            const auto p = check(0, 0, crs);
            CHECK(p.verdict == Plausibility::dropped);
            CHECK_THAT(p.reason, Catch::StartsWith("location_dropped: 0,0"));
        }
        CHECK(check(118.8, 0, Crs::wgs84).verdict == Plausibility::dropped);
        CHECK(check(0, 32.02, Crs::gcj02).verdict == Plausibility::dropped);
    }
    SECTION("far outside is dropped, either way round") {
        CHECK(check(121.4737, 31.2304, Crs::wgs84).verdict == Plausibility::dropped);  // Shanghai
        CHECK(check(31.2304, 121.4737, Crs::wgs84).verdict == Plausibility::dropped);
        CHECK(check(118.90, 32.30, Crs::gcj02).verdict == Plausibility::dropped);   // north Nanjing
        CHECK(check(2.35, 48.85, Crs::bd09).verdict == Plausibility::dropped);      // Paris
        CHECK(check(500000, 3000000, Crs::epsg4549).verdict == Plausibility::dropped);
        CHECK(check(40385771.89, 3544931.09, Crs::epsg4549).verdict == Plausibility::dropped);  // EPSG:4528 form
        CHECK(check(-118.79, -32.02, Crs::wgs84).verdict == Plausibility::dropped);
        const auto p = check(121.4737, 31.2304, Crs::wgs84);
        CHECK_THAT(p.reason, Catch::Contains("5 km margin"));
    }
    SECTION("not finite or beyond the globe") {
        const double nan = std::numeric_limits<double>::quiet_NaN();
        const double inf = std::numeric_limits<double>::infinity();
        CHECK(check(nan, 32.02, Crs::wgs84).verdict == Plausibility::dropped);
        CHECK(check(118.8, inf, Crs::epsg4549).verdict == Plausibility::dropped);
        CHECK(check(200.0, 95.0, Crs::wgs84).verdict == Plausibility::dropped);
        CHECK_FALSE(converter().to_wgs84(nan, 32.0, Crs::wgs84));
        CHECK_FALSE(converter().to_wgs84(118.8, 95.0, Crs::gcj02));
        const auto e = converter().to_wgs84(118.8, inf, Crs::epsg4549);
        REQUIRE_FALSE(e);
        CHECK_THAT(e.error().message, Catch::Contains("EPSG:4549"));
        CHECK_FALSE(converter().from_wgs84({118.8, 91.0}, Crs::epsg4549));
    }
    SECTION("the 5 km margin around the district's bounding box") {
        const auto& b = district_bbox();
        const double mid_lat = (b.min.lat + b.max.lat) / 2.0;
        const double deg_lon_m = 111320.0 * std::cos(mid_lat * pi / 180.0);
        const double deg_lat_m = 110900.0;
        // 4.5 km east / south of the box: kept; 5.5 km: dropped.
        CHECK(check(b.max.lon + 4500 / deg_lon_m, mid_lat, Crs::wgs84).verdict == Plausibility::ok);
        CHECK(check(b.max.lon + 5500 / deg_lon_m, mid_lat, Crs::wgs84).verdict ==
              Plausibility::dropped);
        CHECK(check(b.min.lon, b.min.lat - 4500 / deg_lat_m, Crs::cgcs2000).verdict ==
              Plausibility::ok);
        CHECK(check(b.min.lon, b.min.lat - 5500 / deg_lat_m, Crs::cgcs2000).verdict ==
              Plausibility::dropped);
        // A swapped point inside the margin but outside the box itself is still swapped back.
        const double lon = b.min.lon - 3000 / deg_lon_m;
        const auto sw = check(mid_lat, lon, Crs::wgs84);
        CHECK(sw.verdict == Plausibility::swapped);
        CHECK(sw.wgs84.lon == lon);
    }
    SECTION("EPSG:4549 in the surveying order (northing first) is swapped back") {
        const auto p = check(3544931.09, 385771.89, Crs::epsg4549);
        CHECK(p.verdict == Plausibility::swapped);
        CHECK(p.wgs84.lon == Approx(118.790899988).margin(1e-8));
        CHECK(p.wgs84.lat == Approx(32.021999980).margin(1e-8));
    }
}

TEST_CASE("Converter: move, independent instances", "[unit]") {
    auto a = Converter::create();
    REQUIRE(a);
    Converter moved = std::move(a).value();
    auto p = moved.to_wgs84(385771.89, 3544931.09, Crs::epsg4549);
    REQUIRE(p);
    auto b = Converter::create();
    REQUIRE(b);
    moved = std::move(b).value();  // the old context and transform are released
    auto q = moved.to_wgs84(385771.89, 3544931.09, Crs::epsg4549);
    REQUIRE(q);
    CHECK(q->lon == p->lon);
    CHECK(q->lat == p->lat);
}

TEST_CASE("the hot path does not allocate", "[unit]") {
    const auto& c = converter();
    const auto& b = district_bbox();
    double sink = 0;
    // Warm up (first calls may initialise PROJ's lazy state).
    for (const auto& s : spec_samples) sink += c.to_wgs84(s.x, s.y, s.crs)->lon;
    const long before = g_allocations.load();
    for (int i = 0; i < 100; ++i) {
        for (const auto& s : spec_samples) {
            auto p = c.to_wgs84(s.x, s.y, s.crs);
            sink += p->lon;
            const auto v = check_plausible(s.x, s.y, s.crs, c, b.min, b.max);
            sink += v.wgs84.lat;
        }
        auto en = c.from_wgs84({118.79, 32.02}, Crs::epsg4549);
        sink += en->first;
    }
    const long after = g_allocations.load();
    CHECK(after - before == 0);
    CHECK(sink != 0);
    // Positive control: the counter does see allocations (a swapped verdict's reason text).
    const auto sw = check_plausible(32.02, 118.79, Crs::wgs84, c, b.min, b.max);
    CHECK(sw.verdict == Plausibility::swapped);
    CHECK(g_allocations.load() > after);
}
