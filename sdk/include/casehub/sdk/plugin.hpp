// casehub C++ SDK: write an adapter as an ordinary class, export it with one macro.
//
//   class MyAdapter : public casehub::sdk::Source {
//    public:
//     MyAdapter(casehub::sdk::Host& host, const nlohmann::json& config);
//     void start(std::optional<std::string_view> cursor) override;
//     void poll(std::chrono::milliseconds timeout) override;   // read, then host().emit(...)
//   };
//   CASEHUB_PLUGIN(MyAdapter, .name = "cn.gov.qinhuai.my", .version = "1.0.0",
//                  .description = "...", .config_schema = R"([...])");
//
// Header-only; depends on the C ABI header and nlohmann/json only. Every exception thrown by the
// class is caught at the boundary and becomes a status plus message (rule 4 of plugin_abi.h).
#pragma once

#include <casehub/plugin_abi.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace casehub::sdk {

// An error with the status it becomes at the boundary.
class Error : public std::runtime_error {
public:
    Error(casehub_status status, const std::string& message)
        : std::runtime_error(message), status_(status) {}
    casehub_status status() const noexcept { return status_; }

private:
    casehub_status status_;
};

// Transient trouble with the source (down, 503, timeout): the host polls again later.
struct Unavailable : Error {
    explicit Unavailable(const std::string& m) : Error(CASEHUB_ERR_UNAVAILABLE, m) {}
};
// The configuration cannot be used (thrown from the constructor or start).
struct ConfigError : Error {
    explicit ConfigError(const std::string& m) : Error(CASEHUB_ERR_CONFIG, m) {}
};
// The host is shutting down; let it propagate out of poll().
struct Stopping : Error {
    Stopping() : Error(CASEHUB_ERR_STOPPING, "host is stopping") {}
};

enum class Level : int32_t {
    debug = CASEHUB_LOG_DEBUG,
    info = CASEHUB_LOG_INFO,
    warn = CASEHUB_LOG_WARN,
    error = CASEHUB_LOG_ERROR
};
enum class Health : int32_t {
    ok = CASEHUB_HEALTH_OK,
    degraded = CASEHUB_HEALTH_DEGRADED,
    down = CASEHUB_HEALTH_DOWN
};

inline void write_error(casehub_error* err, std::string_view msg) noexcept {
    if (err == nullptr || err->buf == nullptr || err->cap == 0) return;
    std::size_t n = msg.size() < err->cap - 1 ? msg.size() : err->cap - 1;
    // Never cut a UTF-8 sequence in half.
    while (n > 0 && n < msg.size() && (static_cast<unsigned char>(msg[n]) & 0xC0) == 0x80) --n;
    std::memcpy(err->buf, msg.data(), n);
    err->buf[n] = '\0';
}

// The host as a plugin sees it. Thread-safe wherever the C API is (see plugin_abi.h).
class Host {
public:
    Host(const casehub_host_api* api, casehub_host* host) : api_(api), host_(host) {}

    // Hands records (casehub.record/1 JSON) and the cursor they reach to the host; blocks on
    // credit. Returns the batch id later passed to Source::acked. Throws Stopping / Error.
    std::uint64_t emit(const std::vector<std::string>& records, std::string_view cursor) {
        std::vector<casehub_bytes> views;
        views.reserve(records.size());
        for (const auto& r : records) views.push_back({r.data(), r.size()});
        return emit_views(views.data(), views.size(), cursor);
    }
    std::uint64_t emit_views(const casehub_bytes* records, std::size_t n, std::string_view cursor) {
        casehub_batch b{};
        b.struct_size = sizeof(b);
        b.records = records;
        b.record_count = n;
        b.cursor = {cursor.data(), cursor.size()};
        std::uint64_t id = 0;
        char buf[512] = {0};
        casehub_error err{buf, sizeof buf};
        casehub_status st = api_->emit(host_, &b, &id, &err);
        if (st == CASEHUB_ERR_STOPPING) throw Stopping();
        if (st != CASEHUB_OK) throw Error(st, std::string("emit: ") + buf);
        return id;
    }

    // Keeps a native record that cannot be normalised. `native_masked` must already be masked.
    void dead_letter(std::string_view reason, std::string_view detail,
                     std::string_view native_masked, std::string_view cursor = {}) {
        std::string r(reason), d(detail);
        casehub_dead_letter l{};
        l.struct_size = sizeof(l);
        l.reason = r.c_str();
        l.detail = d.c_str();
        l.native = {native_masked.data(), native_masked.size()};
        l.cursor = {cursor.data(), cursor.size()};
        char buf[512] = {0};
        casehub_error err{buf, sizeof buf};
        casehub_status st = api_->dead_letter(host_, &l, &err);
        if (st == CASEHUB_ERR_STOPPING) throw Stopping();
        if (st != CASEHUB_OK) throw Error(st, std::string("dead_letter: ") + buf);
    }

    void log(Level level, std::string_view msg) const noexcept {
        api_->log(host_, static_cast<int32_t>(level), msg.data(), msg.size());
    }
    void debug(std::string_view m) const noexcept { log(Level::debug, m); }
    void info(std::string_view m) const noexcept { log(Level::info, m); }
    void warn(std::string_view m) const noexcept { log(Level::warn, m); }
    void error(std::string_view m) const noexcept { log(Level::error, m); }

    void set_health(Health h, const std::string& msg = {}) const noexcept {
        api_->set_health(host_, static_cast<int32_t>(h), msg.empty() ? nullptr : msg.c_str());
    }
    std::int64_t now_ms() const noexcept { return api_->now_ms(host_); }
    std::chrono::system_clock::time_point now() const noexcept {
        return std::chrono::system_clock::time_point(std::chrono::milliseconds(now_ms()));
    }
    bool stop_requested() const noexcept { return api_->stop_requested(host_) != 0; }

    const casehub_host_api* api() const noexcept { return api_; }

private:
    const casehub_host_api* api_;
    casehub_host* host_;
};

// Base class of a source adapter. Construct with (Host&, const nlohmann::json& config): the
// config is already validated against the plugin's schema, defaults filled in.
class Source {
public:
    virtual ~Source() = default;
    // cursor: the last committed cursor, or nullopt on first run.
    virtual void start(std::optional<std::string_view> cursor) = 0;
    // Bounded work: read what is there, emit it, return within about `timeout`.
    virtual void poll(std::chrono::milliseconds timeout) = 0;
    // Batch `batch_id` and all before it are durable in the hub.
    virtual void acked(std::uint64_t /*batch_id*/) {}
    // A command-centre action to apply at the source (needs CASEHUB_CAP_WRITE_BACK).
    virtual void write_back(const nlohmann::json& /*action*/) {
        throw Error(CASEHUB_ERR_UNSUPPORTED, "this plugin does not support write-back");
    }
    virtual void stop() {}
};

struct PluginInfo {
    const char* name = nullptr;
    const char* version = nullptr;
    const char* description = nullptr;
    const char* config_schema = "[]";
    std::uint64_t capabilities = 0;
    std::uint32_t kind = CASEHUB_KIND_SOURCE;
};

namespace detail {

template <class F>
casehub_status guard(casehub_error* err, F&& f) noexcept {
    try {
        f();
        return CASEHUB_OK;
    } catch (const Error& e) {
        write_error(err, e.what());
        return e.status();
    } catch (const nlohmann::json::exception& e) {
        write_error(err, std::string("JSON error: ") + e.what());
        return CASEHUB_ERR_INVALID_ARGUMENT;
    } catch (const std::bad_alloc&) {
        write_error(err, "out of memory");
        return CASEHUB_ERR_INTERNAL;
    } catch (const std::exception& e) {
        write_error(err, std::string("unhandled exception: ") + e.what());
        return CASEHUB_ERR_INTERNAL;
    } catch (...) {
        write_error(err, "unhandled exception of unknown type");
        return CASEHUB_ERR_INTERNAL;
    }
}

template <class T>
struct Boxed {
    Host host;
    std::unique_ptr<T> plugin;
};

template <class T>
struct Trampolines {
    static Boxed<T>* box(casehub_instance* self) { return reinterpret_cast<Boxed<T>*>(self); }

    static casehub_status create(const casehub_host_api* api, casehub_host* host,
                                 casehub_bytes config, casehub_instance** out,
                                 casehub_error* err) noexcept {
        return guard(err, [&] {
            if (api == nullptr || out == nullptr)
                throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "create: null host api or out pointer");
            if (api->abi_major != CASEHUB_ABI_MAJOR || api->struct_size < CASEHUB_HOST_API_SIZE_1_0)
                throw Error(CASEHUB_ERR_UNSUPPORTED, "create: host ABI is incompatible");
            nlohmann::json cfg = config.len == 0
                                     ? nlohmann::json::object()
                                     : nlohmann::json::parse(config.data, config.data + config.len);
            auto b = std::make_unique<Boxed<T>>(Boxed<T>{Host(api, host), nullptr});
            b->plugin = std::make_unique<T>(b->host, cfg);
            *out = reinterpret_cast<casehub_instance*>(b.release());
        });
    }
    static casehub_status start(casehub_instance* self, casehub_bytes cursor,
                                casehub_error* err) noexcept {
        return guard(err, [&] {
            std::optional<std::string_view> c;
            if (cursor.len > 0) c = std::string_view(cursor.data, cursor.len);
            box(self)->plugin->start(c);
        });
    }
    static casehub_status poll(casehub_instance* self, uint32_t timeout_ms,
                               casehub_error* err) noexcept {
        return guard(err, [&] { box(self)->plugin->poll(std::chrono::milliseconds(timeout_ms)); });
    }
    static void acked(casehub_instance* self, uint64_t id) noexcept {
        char buf[256];
        casehub_error err{buf, sizeof buf};
        if (guard(&err, [&] { box(self)->plugin->acked(id); }) != CASEHUB_OK)
            box(self)->host.error(std::string("acked() failed: ") + buf);
    }
    static casehub_status write_back(casehub_instance* self, casehub_bytes action,
                                     casehub_error* err) noexcept {
        return guard(err, [&] {
            box(self)->plugin->write_back(
                nlohmann::json::parse(action.data, action.data + action.len));
        });
    }
    static casehub_status stop(casehub_instance* self, casehub_error* err) noexcept {
        return guard(err, [&] { box(self)->plugin->stop(); });
    }
    static void destroy(casehub_instance* self) noexcept {
        // A destructor that throws is already std::terminate; nothing to catch here.
        delete box(self);
    }
};

template <class T>
constexpr casehub_plugin_vtable make_vtable(bool write_back) {
    casehub_plugin_vtable v{};
    v.struct_size = sizeof(casehub_plugin_vtable);
    v.create = &Trampolines<T>::create;
    v.start = &Trampolines<T>::start;
    v.poll = &Trampolines<T>::poll;
    v.acked = &Trampolines<T>::acked;
    v.write_back = write_back ? &Trampolines<T>::write_back : nullptr;
    v.consume = nullptr;
    v.stop = &Trampolines<T>::stop;
    v.destroy = &Trampolines<T>::destroy;
    return v;
}

inline casehub_plugin_descriptor make_descriptor(const PluginInfo& info,
                                                 const casehub_plugin_vtable* vt) {
    casehub_plugin_descriptor d{};
    d.struct_size = sizeof(casehub_plugin_descriptor);
    d.abi_major = CASEHUB_ABI_MAJOR;
    d.abi_minor = CASEHUB_ABI_MINOR;
    d.kind = info.kind;
    d.name = info.name;
    d.version = info.version;
    d.description = info.description;
    d.config_schema = info.config_schema;
    d.capabilities = info.capabilities;
    d.vtable = vt;
    return d;
}

}  // namespace detail
}  // namespace casehub::sdk

// Exports CLASS (a casehub::sdk::Source) as this library's plugin. The arguments are the
// designated initialisers of casehub::sdk::PluginInfo. Use once per shared library.
#define CASEHUB_PLUGIN(CLASS, ...)                                                            \
    CASEHUB_EXTERN_C CASEHUB_EXPORT const casehub_plugin_descriptor* casehub_plugin_entry(     \
        uint32_t host_abi_major, uint32_t /*host_abi_minor*/) CASEHUB_NOEXCEPT {              \
        static const ::casehub::sdk::PluginInfo info{__VA_ARGS__};                             \
        static const casehub_plugin_vtable vtable = ::casehub::sdk::detail::make_vtable<CLASS>( \
            (info.capabilities & CASEHUB_CAP_WRITE_BACK) != 0);                                \
        static const casehub_plugin_descriptor descriptor =                                    \
            ::casehub::sdk::detail::make_descriptor(info, &vtable);                            \
        return host_abi_major == CASEHUB_ABI_MAJOR ? &descriptor : nullptr;                    \
    }
