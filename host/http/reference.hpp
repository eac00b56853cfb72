// The district's codes the API validates query parameters against, read once from the reference
// data the hub loaded (hub.reference_dir): streets and communities (divisions.json), comprehensive
// and specialised grids (grid-map.geojson), categories and their families (categories.json), and
// the case-model statuses. Immutable after load: shared by every handler thread.
#pragma once

#include "common/result.hpp"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>

namespace casehub::host::http {

class Reference {
public:
    static Result<Reference> load(const std::filesystem::path& reference_dir);

    bool street(std::string_view code) const { return streets_.count(code) > 0; }
    bool community(std::string_view code) const { return communities_.count(code) > 0; }
    bool grid(std::string_view code) const { return grids_.count(code) > 0; }
    bool special_grid(std::string_view code) const { return special_grids_.count(code) > 0; }
    bool category(std::string_view code) const { return categories_.count(code) > 0; }
    bool family(std::string_view code) const { return families_.count(code) > 0; }
    static bool status(std::string_view s);
    // Official name of a street, community or grid code ("" when unknown).
    const std::string& name_of(std::string_view code) const;

    std::size_t street_count() const { return streets_.size(); }
    std::size_t grid_count() const { return grids_.size(); }

private:
    std::set<std::string, std::less<>> streets_, communities_, grids_, special_grids_, categories_, families_;
    std::map<std::string, std::string, std::less<>> names_;
};

}  // namespace casehub::host::http
