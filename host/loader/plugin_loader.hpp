// Loading a plugin library and driving one instance of it through the C ABI.
//
// Everything a vendor's library can get wrong comes back as a Result with ONE line naming the
// file and the reason; nothing here throws to the caller and nothing here aborts. (A plugin
// that crashes the process is the runner's problem, by design: each plugin gets its own.)
#pragma once

#include "common/result.hpp"
#include "config/config_schema.hpp"

#include <casehub/plugin_abi.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

namespace casehub::host {

class LoadedPlugin {
public:
    LoadedPlugin(LoadedPlugin&&) noexcept;
    LoadedPlugin& operator=(LoadedPlugin&&) noexcept;
    ~LoadedPlugin();

    const std::filesystem::path& path() const noexcept { return path_; }
    const casehub_plugin_descriptor& descriptor() const noexcept { return *desc_; }
    const ConfigSchema& schema() const noexcept { return schema_; }
    std::string name() const { return desc_->name; }
    std::string version() const { return desc_->version; }
    std::string kind() const;
    // The descriptor as JSON: name, version, description, kind, abi, capabilities, schema, path.
    nlohmann::json describe() const;

private:
    friend Result<LoadedPlugin> load_plugin(const std::filesystem::path&);
    LoadedPlugin() = default;
    struct Library;
    std::unique_ptr<Library> lib_;
    std::filesystem::path path_;
    const casehub_plugin_descriptor* desc_ = nullptr;
    ConfigSchema schema_;
};

// Opens the library, finds casehub_plugin_entry, checks the descriptor (ABI version and size,
// name, version, kind, function table, configuration description).
Result<LoadedPlugin> load_plugin(const std::filesystem::path& path);

// One created instance. Calls are made from one thread (the plugin thread), as the ABI says.
class PluginInstance {
public:
    // `config` must already satisfy the plugin's schema (apply_config_schema).
    static Result<std::unique_ptr<PluginInstance>> create(const LoadedPlugin& plugin,
                                                          const casehub_host_api* api,
                                                          casehub_host* host,
                                                          const nlohmann::json& config);
    ~PluginInstance();  // stop (if started and not stopped) then destroy

    Result<void> start(std::string_view cursor);
    struct PollOutcome {
        casehub_status status = CASEHUB_OK;
        std::string message;  // empty when status is OK
    };
    PollOutcome poll(std::uint32_t timeout_ms);
    void acked(std::uint64_t batch_id);
    // CASEHUB_ERR_UNAVAILABLE: transient, the host retries later; any other error is final.
    PollOutcome write_back(std::string_view action_json);
    Result<void> stop();

private:
    PluginInstance(const LoadedPlugin& p, casehub_instance* i) : plugin_(p), inst_(i) {}
    std::string where(const char* fn) const;
    const LoadedPlugin& plugin_;
    casehub_instance* inst_;
    bool started_ = false;
};

// "CASEHUB_ERR_CONFIG" etc.; "unknown status N" for anything else.
std::string status_name(casehub_status s);
bool is_known_status(casehub_status s);

}  // namespace casehub::host
