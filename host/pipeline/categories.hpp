// The common category taxonomy (config/qinhuai/categories.json).
#pragma once

#include "common/result.hpp"

#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace casehub::host {

struct Category {
    std::string code, family, name_zh, default_priority;
};

class Categories {
public:
    static Result<Categories> load(const std::filesystem::path& file);
    const Category* find(std::string_view code) const;
    const std::set<std::string, std::less<>>& codes() const { return codes_; }
    // Pairs of families whose records may report one incident (categories.json).
    const std::vector<std::pair<std::string, std::string>>& compatible_families() const { return compatible_; }

private:
    std::map<std::string, Category, std::less<>> by_code_;
    std::set<std::string, std::less<>> codes_;
    std::vector<std::pair<std::string, std::string>> compatible_;
};

}  // namespace casehub::host
