#include "loader/plugin_loader.hpp"

#ifndef BOOST_DLL_USE_STD_FS
#define BOOST_DLL_USE_STD_FS
#endif
#include <boost/dll/shared_library.hpp>

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <system_error>

namespace casehub::host {

struct LoadedPlugin::Library {
    boost::dll::shared_library lib;
};

LoadedPlugin::LoadedPlugin(LoadedPlugin&&) noexcept = default;
LoadedPlugin& LoadedPlugin::operator=(LoadedPlugin&&) noexcept = default;
LoadedPlugin::~LoadedPlugin() = default;

namespace {

constexpr std::size_t kMaxString = 4096;
constexpr std::uint32_t kMaxDescriptorSize = 64 * 1024;  // larger is garbage, not a future minor

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

// Reads a NUL-terminated string from plugin memory, refusing what is absent, unterminated
// within kMaxString, or not UTF-8.
Result<std::string_view> plugin_string(const char* p, const char* member, bool allow_null,
                                       std::size_t max = kMaxString) {
    if (p == nullptr) {
        if (allow_null) return std::string_view();
        return make_error(std::string("descriptor.") + member + " is NULL");
    }
    std::size_t n = strnlen(p, max + 1);
    if (n > max)
        return make_error(std::string("descriptor.") + member + " is longer than " +
                          std::to_string(max) + " bytes or not NUL-terminated");
    std::string_view s(p, n);
    if (!valid_utf8(s)) return make_error(std::string("descriptor.") + member + " is not UTF-8");
    return s;
}

bool valid_reverse_dns(std::string_view s) {
    // At least two dot-separated labels of [a-z0-9][a-z0-9_-]*.
    int labels = 0;
    std::size_t start = 0;
    while (true) {
        std::size_t dot = s.find('.', start);
        std::string_view label = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
        if (label.empty() || label.size() > 63) return false;
        if (!((label[0] >= 'a' && label[0] <= 'z') || (label[0] >= '0' && label[0] <= '9')))
            return false;
        for (char c : label)
            if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
                return false;
        ++labels;
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    return labels >= 2;
}

bool valid_semver(std::string_view s) {
    // MAJOR.MINOR.PATCH with an optional -prerelease / +build suffix.
    int parts = 0;
    std::size_t i = 0;
    while (parts < 3) {
        std::size_t digits = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++digits;
        if (digits == 0) return false;
        ++parts;
        if (parts < 3) {
            if (i >= s.size() || s[i] != '.') return false;
            ++i;
        }
    }
    if (i == s.size()) return true;
    if (s[i] != '-' && s[i] != '+') return false;
    for (++i; i < s.size(); ++i) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == '+'))
            return false;
    }
    return true;
}

// The message a plugin left in our buffer, made safe to print on one line.
std::string take_message(char* buf, std::size_t cap) {
    buf[cap - 1] = '\0';
    std::string s(buf, strnlen(buf, cap));
    for (char& c : s)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    if (!valid_utf8(s)) return "(message is not UTF-8)";
    if (s.empty()) return "(no message)";
    return s;
}

}  // namespace

std::string status_name(casehub_status s) {
    switch (s) {
        case CASEHUB_OK: return "CASEHUB_OK";
        case CASEHUB_ERR_INVALID_ARGUMENT: return "CASEHUB_ERR_INVALID_ARGUMENT";
        case CASEHUB_ERR_CONFIG: return "CASEHUB_ERR_CONFIG";
        case CASEHUB_ERR_UNAVAILABLE: return "CASEHUB_ERR_UNAVAILABLE";
        case CASEHUB_ERR_IO: return "CASEHUB_ERR_IO";
        case CASEHUB_ERR_STOPPING: return "CASEHUB_ERR_STOPPING";
        case CASEHUB_ERR_UNSUPPORTED: return "CASEHUB_ERR_UNSUPPORTED";
        case CASEHUB_ERR_LIMIT: return "CASEHUB_ERR_LIMIT";
        case CASEHUB_ERR_INTERNAL: return "CASEHUB_ERR_INTERNAL";
        default: return "unknown status " + std::to_string(s);
    }
}

bool is_known_status(casehub_status s) { return s >= CASEHUB_OK && s <= CASEHUB_ERR_INTERNAL; }

std::string LoadedPlugin::kind() const {
    return desc_->kind == CASEHUB_KIND_SOURCE ? "source" : "sink";
}

nlohmann::json LoadedPlugin::describe() const {
    nlohmann::json caps = nlohmann::json::array();
    if (desc_->capabilities & CASEHUB_CAP_WRITE_BACK) caps.push_back("write_back");
    if (desc_->capabilities & CASEHUB_CAP_ACK) caps.push_back("ack");
    return {
        {"path", path_.string()},
        {"name", desc_->name},
        {"version", desc_->version},
        {"description", desc_->description ? desc_->description : ""},
        {"kind", kind()},
        {"abi", std::to_string(desc_->abi_major) + "." + std::to_string(desc_->abi_minor)},
        {"capabilities", caps},
        {"config_schema", schema_to_json(schema_)},
    };
}

Result<LoadedPlugin> load_plugin(const std::filesystem::path& path) {
    const std::string file = path.string();
    auto fail = [&](const std::string& why) { return make_error(file + ": " + why); };

    std::error_code fec;
    auto st = std::filesystem::status(path, fec);
    if (fec || !std::filesystem::exists(st)) return fail("no such file");
    if (!std::filesystem::is_regular_file(st)) return fail("not a regular file");

    LoadedPlugin out;
    out.path_ = path;
    out.lib_ = std::make_unique<LoadedPlugin::Library>();
    boost::dll::fs::error_code ec;
    // RTLD_LOCAL: a plugin's symbols never resolve another plugin's. RTLD_NOW: an unresolved
    // symbol fails here, with dlerror's text, not later in the middle of a poll.
    out.lib_->lib.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local,
                       ec);
    if (ec || !out.lib_->lib.is_loaded()) {
        // Boost keeps only a generic code and clears dlerror(); ask dlopen again for the detail.
        std::string detail = ec.message();
        if (void* h = ::dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL)) {
            ::dlclose(h);
        } else if (const char* dl = ::dlerror()) {
            detail = dl;
        }
        return fail("not a loadable shared library (" + detail + ")");
    }
    if (!out.lib_->lib.has(CASEHUB_ENTRY_SYMBOL))
        return fail("no entry symbol " CASEHUB_ENTRY_SYMBOL
                    " (export it with CASEHUB_PLUGIN or CASEHUB_EXPORT)");
    auto entry = out.lib_->lib.get<std::remove_pointer_t<casehub_plugin_entry_fn>>(CASEHUB_ENTRY_SYMBOL);

    const casehub_plugin_descriptor* d = nullptr;
    try {
        d = entry(CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR);
    } catch (...) {
        return fail(CASEHUB_ENTRY_SYMBOL " threw an exception (exceptions must not cross the ABI)");
    }
    if (d == nullptr)
        return fail(CASEHUB_ENTRY_SYMBOL " returned NULL: the plugin does not serve ABI " +
                    std::to_string(CASEHUB_ABI_MAJOR) + "." + std::to_string(CASEHUB_ABI_MINOR));

    // The first three members are the only ones valid to read before the size is known.
    if (d->struct_size < 3 * sizeof(uint32_t))
        return fail("descriptor is " + std::to_string(d->struct_size) +
                    " bytes, too small to hold its own version");
    if (d->struct_size > kMaxDescriptorSize)
        return fail("descriptor claims " + std::to_string(d->struct_size) +
                    " bytes: garbage, not a descriptor");
    if (d->abi_major != CASEHUB_ABI_MAJOR)
        return fail("built for plugin ABI major " + std::to_string(d->abi_major) +
                    ", this host speaks major " + std::to_string(CASEHUB_ABI_MAJOR) +
                    " (rebuild the plugin against a matching casehub SDK)");
    if (d->abi_minor > CASEHUB_ABI_MINOR)
        return fail("built for plugin ABI " + std::to_string(d->abi_major) + "." +
                    std::to_string(d->abi_minor) + ", newer than this host's " +
                    std::to_string(CASEHUB_ABI_MAJOR) + "." + std::to_string(CASEHUB_ABI_MINOR) +
                    " (upgrade casehub or build against an older SDK)");
    // Every minor of major 1 so far requires the 1.0 layout; later minors add rows here.
    const std::size_t need = CASEHUB_DESCRIPTOR_SIZE_1_0;
    if (d->struct_size < need)
        return fail("descriptor is " + std::to_string(d->struct_size) + " bytes, ABI " +
                    std::to_string(d->abi_major) + "." + std::to_string(d->abi_minor) +
                    " requires at least " + std::to_string(need));

    if (d->kind != CASEHUB_KIND_SOURCE && d->kind != CASEHUB_KIND_SINK)
        return fail("descriptor.kind is " + std::to_string(d->kind) +
                    ", expected 1 (source) or 2 (sink)");
    auto name = plugin_string(d->name, "name", false, 255);
    if (!name) return fail(name.error().message);
    if (!valid_reverse_dns(*name))
        return fail("descriptor.name '" + std::string(*name) +
                    "' is not a reverse-DNS name like cn.gov.qinhuai.dcm");
    auto version = plugin_string(d->version, "version", false, 64);
    if (!version) return fail(version.error().message);
    if (!valid_semver(*version))
        return fail("descriptor.version '" + std::string(*version) + "' is not MAJOR.MINOR.PATCH");
    auto description = plugin_string(d->description, "description", true);
    if (!description) return fail(description.error().message);
    const std::uint64_t known_caps = CASEHUB_CAP_WRITE_BACK | CASEHUB_CAP_ACK;
    if (d->capabilities & ~known_caps)
        return fail("descriptor.capabilities has unknown bits 0x" + [&] {
            char b[32];
            std::snprintf(b, sizeof b, "%llx",
                          static_cast<unsigned long long>(d->capabilities & ~known_caps));
            return std::string(b);
        }());

    const casehub_plugin_vtable* v = d->vtable;
    if (v == nullptr) return fail("descriptor.vtable is NULL");
    if (v->struct_size < CASEHUB_VTABLE_SIZE_1_0 || v->struct_size > kMaxDescriptorSize)
        return fail("function table is " + std::to_string(v->struct_size) +
                    " bytes, ABI 1.0 requires at least " + std::to_string(CASEHUB_VTABLE_SIZE_1_0));
    struct Fn {
        const char* name;
        bool present;
    };
    const bool sink = d->kind == CASEHUB_KIND_SINK;
    for (Fn f : {Fn{"create", v->create != nullptr}, Fn{"start", v->start != nullptr},
                 Fn{"stop", v->stop != nullptr}, Fn{"destroy", v->destroy != nullptr},
                 Fn{sink ? "consume" : "poll", sink ? v->consume != nullptr : v->poll != nullptr}})
        if (!f.present) return fail(std::string("function table: ") + f.name + " is NULL");
    const bool wb = (d->capabilities & CASEHUB_CAP_WRITE_BACK) != 0;
    if (wb && v->write_back == nullptr)
        return fail("declares CASEHUB_CAP_WRITE_BACK but function table: write_back is NULL");

    auto schema_text = plugin_string(d->config_schema, "config_schema", false, 1024 * 1024);
    if (!schema_text) return fail(schema_text.error().message);
    auto schema = parse_config_schema(*schema_text);
    if (!schema) return fail("invalid configuration description: " + schema.error().message);

    out.desc_ = d;
    out.schema_ = std::move(*schema);
    return out;
}

// ---- PluginInstance ------------------------------------------------------------------------

std::string PluginInstance::where(const char* fn) const {
    return plugin_.path().string() + ": " + fn;
}

Result<std::unique_ptr<PluginInstance>> PluginInstance::create(const LoadedPlugin& plugin,
                                                               const casehub_host_api* api,
                                                               casehub_host* host,
                                                               const nlohmann::json& config) {
    const std::string text = config.dump();
    char buf[1024] = {0};
    casehub_error err{buf, sizeof buf};
    casehub_instance* inst = nullptr;
    casehub_status st;
    const std::string where = plugin.path().string() + ": create";
    try {
        st = plugin.descriptor().vtable->create(api, host, {text.data(), text.size()}, &inst, &err);
    } catch (...) {
        return make_error(where + " threw an exception (exceptions must not cross the ABI)");
    }
    if (!is_known_status(st))
        return make_error(where + " returned " + status_name(st) + " (garbage)");
    if (st != CASEHUB_OK)
        return make_error(where + " failed (" + status_name(st) + "): " + take_message(buf, sizeof buf));
    if (inst == nullptr) return make_error(where + " returned CASEHUB_OK but no instance");
    return std::unique_ptr<PluginInstance>(new PluginInstance(plugin, inst));
}

PluginInstance::~PluginInstance() {
    if (started_) (void)stop();
    try {
        plugin_.descriptor().vtable->destroy(inst_);
    } catch (...) {
    }
}

Result<void> PluginInstance::start(std::string_view cursor) {
    char buf[1024] = {0};
    casehub_error err{buf, sizeof buf};
    casehub_status st;
    try {
        st = plugin_.descriptor().vtable->start(inst_, {cursor.data(), cursor.size()}, &err);
    } catch (...) {
        return make_error(where("start") + " threw an exception (exceptions must not cross the ABI)");
    }
    if (!is_known_status(st)) return make_error(where("start") + " returned " + status_name(st) + " (garbage)");
    if (st != CASEHUB_OK)
        return make_error(where("start") + " failed (" + status_name(st) + "): " + take_message(buf, sizeof buf));
    started_ = true;
    return {};
}

PluginInstance::PollOutcome PluginInstance::poll(std::uint32_t timeout_ms) {
    char buf[1024] = {0};
    casehub_error err{buf, sizeof buf};
    casehub_status st;
    try {
        st = plugin_.descriptor().vtable->poll(inst_, timeout_ms, &err);
    } catch (...) {
        return {CASEHUB_ERR_INTERNAL, where("poll") + " threw an exception (exceptions must not cross the ABI)"};
    }
    if (st == CASEHUB_OK) return {};
    if (!is_known_status(st)) return {CASEHUB_ERR_INTERNAL, where("poll") + " returned " + status_name(st) + " (garbage)"};
    return {st, where("poll") + " failed (" + status_name(st) + "): " + take_message(buf, sizeof buf)};
}

void PluginInstance::acked(std::uint64_t batch_id) {
    if (plugin_.descriptor().vtable->acked == nullptr) return;
    try {
        plugin_.descriptor().vtable->acked(inst_, batch_id);
    } catch (...) {
    }
}

PluginInstance::PollOutcome PluginInstance::write_back(std::string_view action) {
    auto fn = plugin_.descriptor().vtable->write_back;
    if (fn == nullptr) return {CASEHUB_ERR_UNSUPPORTED, where("write_back") + ": the plugin does not support write-back"};
    char buf[1024] = {0};
    casehub_error err{buf, sizeof buf};
    casehub_status st;
    try {
        st = fn(inst_, {action.data(), action.size()}, &err);
    } catch (...) {
        return {CASEHUB_ERR_INTERNAL, where("write_back") + " threw an exception (exceptions must not cross the ABI)"};
    }
    if (st == CASEHUB_OK) return {};
    if (!is_known_status(st)) return {CASEHUB_ERR_INTERNAL, where("write_back") + " returned " + status_name(st) + " (garbage)"};
    return {st, where("write_back") + " failed (" + status_name(st) + "): " + take_message(buf, sizeof buf)};
}

Result<void> PluginInstance::stop() {
    started_ = false;
    char buf[1024] = {0};
    casehub_error err{buf, sizeof buf};
    casehub_status st;
    try {
        st = plugin_.descriptor().vtable->stop(inst_, &err);
    } catch (...) {
        return make_error(where("stop") + " threw an exception (exceptions must not cross the ABI)");
    }
    if (st == CASEHUB_OK) return {};
    return make_error(where("stop") + " failed (" + status_name(st) + "): " + take_message(buf, sizeof buf));
}

}  // namespace casehub::host
