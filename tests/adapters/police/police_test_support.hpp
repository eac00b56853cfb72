// Helpers shared by the police adapter tests: the built plugin loaded in-process, and a ferry
// that writes hand-made batch pairs into an inbox.
#pragma once

#include <casehub/plugin_abi.h>
#include <casehub/sdk/fake_host.hpp>
#include <casehub/sdk/sha256.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <dlfcn.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace police_test {

namespace fs = std::filesystem;
using nlohmann::json;

// The police.so the build produced, as the runner loads it.
inline const casehub_plugin_descriptor* descriptor() {
    static const casehub_plugin_descriptor* d = [] {
        const std::string so = std::string(CASEHUB_PLUGIN_DIR) + "/police.so";
        void* h = ::dlopen(so.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (h == nullptr) FAIL("cannot load " << so << ": " << ::dlerror());
        using Entry = const casehub_plugin_descriptor* (*)(uint32_t, uint32_t);
        auto entry = reinterpret_cast<Entry>(::dlsym(h, "casehub_plugin_entry"));
        REQUIRE(entry != nullptr);
        return entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR);
    }();
    return d;
}

inline std::string categories_file() {
    return std::string(CASEHUB_SOURCE_DIR) + "/config/qinhuai/categories.json";
}

inline json config(const fs::path& exchange, int reject_after_s = 1800) {
    return {{"exchange_dir", exchange.string()}, {"categories_file", categories_file()},
            {"scan_interval_ms", 50}, {"reject_after_s", reject_after_s},
            {"max_pending_batches", 64}, {"sender", "QH-CASEHUB"}};
}

// One §3 record line; `n` makes the call sheet unique, `over` replaces keys.
inline std::string record_line(int n, const json& over = json::object()) {
    char id[32];
    std::snprintf(id, sizeof id, "3201002026030901%04d", n);
    json r = {{"jqh", "32010420260309" + std::to_string(10000 + n)}, {"jjdbh", id}, {"gljjdbh", ""},
              {"xzqh", "320104"}, {"bjsj", 1773014320000LL + n}, {"bjdh", "13600136000"},
              {"bjrxm", "周先生"}, {"afdz", "瑞金新村12幢"},
              {"bjnr", "报警人称楼上住户卫生间漏水至其家中，协商未果，双方发生争执，请求处理。"},
              {"bjlbdm", "50"}, {"bjxldm", "5001"}, {"gxdwdm", "320104540000"}, {"jqjb", 4},
              {"zbx", 118.816333}, {"zby", 32.034698}, {"zbxt", "CGCS2000"}, {"mj", 0},
              {"yjjd", "320104009"}, {"yjsj", 1773014815000LL + n}, {"fllx", 3},
              {"cjqk", "民警到场，双方情绪已平复，无治安问题。"}, {"czlx", 1}, {"bz", ""},
              {"gxsj", 1773014815000LL + n}};
    for (auto& [k, v] : over.items()) r[k] = v;
    return r.dump();
}

inline std::string body_of(const std::vector<std::string>& lines) {
    std::string b;
    for (const auto& l : lines) b += l + "\n";
    return b;
}

inline std::string manifest_for(const std::string& batch, const std::string& body, std::size_t count) {
    return json{{"batch", batch}, {"file", "JQ_" + batch + ".jsonl"},
                {"created", "2026-03-09T08:10:00+08:00"}, {"count", count},
                {"sha256", casehub::sdk::sha256_hex(body)}, {"schema", "FJWJQ/1.2"},
                {"sender", "320104000000"}}
               .dump();
}

inline void write(const fs::path& p, const std::string& data) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << data;
}
inline std::string read(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

// Writes a complete pair as the ferry does (records first, manifest last).
inline void deliver(const fs::path& inbox, const std::string& batch, const std::vector<std::string>& lines) {
    const std::string body = body_of(lines);
    write(inbox / ("JQ_" + batch + ".jsonl"), body);
    write(inbox / ("JQ_" + batch + ".manifest"), manifest_for(batch, body, lines.size()));
}

inline std::set<std::string> names(const fs::path& dir) {
    std::set<std::string> out;
    std::error_code ec;
    for (auto& e : fs::directory_iterator(dir, ec)) out.insert(e.path().filename().string());
    return out;
}

inline std::string all_logs(const casehub::sdk::FakeHost& h) {
    std::string s;
    for (const auto& l : h.logs()) s += l.message + "\n";
    return s;
}

// Raw phone numbers of the callers in batch files (to prove they never reach the hub).
inline std::set<std::string> raw_phones(const std::string& text) {
    std::set<std::string> out;
    // Whole numbers only: not a stretch of an epoch time or a call sheet number.
    static const std::regex mobile("(?:^|[^0-9])(1[3-9][0-9]{9})(?![0-9])"),
        fixed("(?:^|[^0-9])(025-8[0-9]{7})(?![0-9])");
    for (const auto* re : {&mobile, &fixed})
        for (auto it = std::sregex_iterator(text.begin(), text.end(), *re); it != std::sregex_iterator(); ++it)
            out.insert((*it)[1].str());
    return out;
}

}  // namespace police_test
