// Where a case is: the location enrichment of case-model.md §2.5 and §3.1, for one record.
//
// Coordinates (any CRS of the model) → WGS-84 → plausibility (swapped axes recognised and
// swapped back; 0,0 and points far outside dropped) → grid map (street, community, grid,
// special grids). Without usable coordinates: the gazetteer for the address, then the centroid
// of the grid the source names, then the street an operator filled in. Every decision that
// deserves an explanation is returned as a note for the case's history.
#pragma once

#include "common/result.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>

namespace casehub::host {

class Locator {
public:
    // Loads grid-map.geojson, gazetteer.json and divisions.json from `reference_dir`.
    static Result<std::shared_ptr<const Locator>> load(const std::filesystem::path& reference_dir);
    ~Locator();

    struct Located {
        nlohmann::json location;  // the case's `location` object (§3.1)
        nlohmann::json notes = nlohmann::json::array();  // {code, message} for the history
        bool outside_district = false;
    };
    // `record` is a valid casehub.record/1 document.
    Located locate(const nlohmann::json& record) const;

private:
    Locator();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace casehub::host
