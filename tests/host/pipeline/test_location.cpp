// Location enrichment on the case (case-model.md §2.5, §3.1), through the pipeline with the
// district's real reference data: every decision is on the case or in its history.
#include "../../support/spec_examples.hpp"
#include "pipeline/locator.hpp"
#include "pipeline/pipeline.hpp"

#include <catch2/catch.hpp>

using nlohmann::json;
using casehub::host::Locator;

namespace {

const Locator& locator() {
    static auto l = Locator::load(CASEHUB_SOURCE_DIR "/config/qinhuai");
    if (!l) FAIL(l.error().message);
    return **l;
}

json with_location(json original, const char* address, const char* grid) {
    json r = json::parse(casehub::test::example_62);
    r["location"] = {{"original", original}, {"address", address ? json(address) : json()},
                     {"grid_code", grid ? json(grid) : json()}};
    return r;
}

}  // namespace

TEST_CASE("location: GCJ-02 coordinates are converted and placed in street, community, grid and special grids", "[unit]") {
    auto r = locator().locate(json::parse(casehub::test::example_62));
    const json& l = r.location;
    CHECK(l["method"] == "coordinates");
    CHECK(l["precision_m"] == 20);
    CHECK(l["wgs84"]["lon"].get<double>() == Approx(118.7911).margin(0.0001));
    CHECK(l["wgs84"]["lat"].get<double>() == Approx(32.0221).margin(0.0001));
    CHECK(l["street_code"] == "320104002");
    CHECK(l["community_code"] == "320104002005");
    CHECK(l["grid_code"] == "32010400200508");
    CHECK(l["special_grids"] == json::array({"320104-ZS-001"}));
    CHECK(l["source"]["system"] == "hotline12345");
    CHECK(r.notes.empty());
}

TEST_CASE("location: EPSG:4549 of the §6.1 record lands in the grid the document names", "[unit]") {
    auto r = locator().locate(json::parse(casehub::test::example_61));
    CHECK(r.location["method"] == "coordinates");
    CHECK(r.location["precision_m"] == 5);
    CHECK(r.location["grid_code"] == "32010400200508");
    CHECK(r.notes.empty());  // the source's grid code agrees with the point
}

TEST_CASE("location: swapped axes are swapped back and noted", "[unit]") {
    auto r = locator().locate(with_location({{"x", 32.020041}, {"y", 118.796290}, {"crs", "GCJ02"}}, nullptr, nullptr));
    CHECK(r.location["grid_code"] == "32010400200508");
    REQUIRE(r.notes.size() == 1);
    CHECK(r.notes[0]["code"] == "location_swapped");
}

TEST_CASE("location: 0,0 is dropped with a note and the record is kept, and the address takes over", "[unit]") {
    auto r = locator().locate(with_location({{"x", 0}, {"y", 0}, {"crs", "WGS84"}}, "秦淮区贡院街江南贡院东侧", nullptr));
    CHECK(r.notes[0]["code"] == "location_dropped");
    CHECK(r.location["method"] == "gazetteer");
    CHECK(r.location["street_code"] == "320104002");
    CHECK(r.location["precision_m"].get<int>() >= 50);
}

TEST_CASE("location: a source grid code that disagrees with the point is noted, and the point wins", "[unit]") {
    auto r = locator().locate(with_location({{"x", 118.796290}, {"y", 32.020041}, {"crs", "GCJ02"}}, nullptr,
                                            "32010400900606"));
    CHECK(r.location["grid_code"] == "32010400200508");
    REQUIRE(r.notes.size() == 1);
    CHECK(r.notes[0]["code"] == "grid_code_disagrees");
}

TEST_CASE("location: without coordinates the gazetteer is preferred over the grid centroid", "[unit]") {
    auto r = locator().locate(with_location(nullptr, "秦淮区瑞金新村8幢", "32010400200508"));
    CHECK(r.location["method"] == "gazetteer");
    CHECK(r.location["street_code"] == "320104009");
}

TEST_CASE("location: a grid code alone gives the grid centroid and its bounding radius", "[unit]") {
    auto r = locator().locate(with_location(nullptr, nullptr, "32010400200508"));
    CHECK(r.location["method"] == "grid_code");
    CHECK(r.location["grid_code"] == "32010400200508");
    CHECK(r.location["precision_m"].get<int>() > 0);
    CHECK(r.location["wgs84"].is_object());
}

TEST_CASE("location: a grid code not on the map is dropped with a note", "[unit]") {
    auto r = locator().locate(with_location(nullptr, nullptr, "32010499999999"));
    CHECK(r.location["method"] == "none");
    CHECK(r.notes[0]["code"] == "location_dropped");
}

TEST_CASE("location: nothing usable → method none, street from the operator-filled street", "[unit]") {
    json rec = with_location(nullptr, "某某地方", nullptr);
    rec["responsible"] = json::array({{{"dept_code", "320104009"}, {"name", "瑞金路街道办事处"}, {"role", "lead"}}});
    auto r = locator().locate(rec);
    CHECK(r.location["method"] == "none");
    CHECK(r.location["wgs84"].is_null());
    CHECK(r.location["street_code"] == "320104009");
    rec["responsible"] = json::array({{{"dept_code", nullptr}, {"name", "光华路街道"}, {"role", "lead"}}});
    CHECK(locator().locate(rec).location["street_code"] == "320104011");
}

TEST_CASE("location: another district's address is never guessed into this one", "[unit]") {
    json rec = with_location(nullptr, "南京市玄武区中山路100号", nullptr);
    rec["responsible"] = json::array();  // no operator-filled street either
    auto r = locator().locate(rec);
    CHECK(r.location["method"] == "none");
    CHECK(r.location["street_code"].is_null());
}
