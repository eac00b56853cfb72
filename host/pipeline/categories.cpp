#include "pipeline/categories.hpp"

#include <nlohmann/json.hpp>

#include <fstream>

namespace casehub::host {

Result<Categories> Categories::load(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return make_error(file.string() + ": cannot open the category taxonomy");
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("categories") || !j["categories"].is_array())
        return make_error(file.string() + ": not a category taxonomy (no \"categories\" array)");
    Categories c;
    std::size_t i = 0;
    for (const auto& e : j["categories"]) {
        if (!e.is_object() || !e.contains("code") || !e["code"].is_string() || !e.contains("family"))
            return make_error(file.string() + ": categories[" + std::to_string(i) + "] has no code or family");
        Category cat{e["code"].get<std::string>(), e.value("family", ""), e.value("name_zh", ""),
                     e.value("default_priority", "general")};
        c.codes_.insert(cat.code);
        c.by_code_.emplace(cat.code, std::move(cat));
        ++i;
    }
    if (c.by_code_.empty()) return make_error(file.string() + ": no categories");
    if (j.contains("compatible_families") && j["compatible_families"].is_array())
        for (const auto& pair : j["compatible_families"])
            if (pair.is_array() && pair.size() == 2 && pair[0].is_string() && pair[1].is_string())
                c.compatible_.emplace_back(pair[0].get<std::string>(), pair[1].get<std::string>());
    return c;
}

const Category* Categories::find(std::string_view code) const {
    auto it = by_code_.find(code);
    return it == by_code_.end() ? nullptr : &it->second;
}

}  // namespace casehub::host
