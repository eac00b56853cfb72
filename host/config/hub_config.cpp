#include "config/hub_config.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

#include <toml++/toml.h>

namespace casehub::host {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::uintmax_t kMaxConfigBytes = 16u * 1024 * 1024;
constexpr std::size_t kMaxIpcPath = 107;  // sizeof(sockaddr_un::sun_path) - 1 on Linux

constexpr std::string_view kRootKeys[] = {"hub", "supervisor", "flow", "correlation", "http", "command", "adapters"};
constexpr std::string_view kCommandKeys[] = {"enabled", "rules", "calendar", "alert_check_seconds", "clock",
                                             "clock_start", "grid_whistles"};
constexpr std::string_view kHttpKeys[] = {"enabled", "listen", "max_body_bytes", "sse_heartbeat_s", "threads",
                                          "control_timeout_ms"};
constexpr std::string_view kCorrelationKeys[] = {
    "enabled", "threshold", "max_distance_m", "min_radius_m", "max_gap_hours", "closed_grace_hours",
    "max_candidates", "max_case_records", "prior", "distance_near", "distance_slope", "distance_far",
    "full_time_minutes", "time_near", "time_at_3h", "time_at_24h", "time_far", "time_same_day",
    "same_category", "same_family", "compatible_family", "unknown_category", "same_system", "text_high",
    "place_same_number", "place_other_number", "place_other_road", "place_same_landmark",
    "place_other_landmark", "place_mixed", "address_none", "address_full", "stop_phrases", "report_offset_m"};
constexpr std::string_view kHubKeys[] = {"data_dir",         "store",       "synchronous",
                                         "intake_endpoint",  "control_endpoint",
                                         "feed_endpoint",    "snapshot_endpoint",
                                         "plugin_path",      "runner",      "log_level",
                                         "reference_dir",    "systems",     "feed_hwm"};
constexpr std::string_view kSupervisorKeys[] = {
    "backoff_initial_ms", "backoff_max_ms", "healthy_after_ms", "max_fast_crashes",
    "heartbeat_ms",       "hang_timeout_ms", "stop_timeout_ms"};
constexpr std::string_view kFlowKeys[] = {"credit_records", "max_batch_records",
                                          "commit_min_delay_ms", "commit_max_delay_ms",
                                          "runner_host_timeout_ms", "prepare_worker",
                                          "sync_worker",    "intake_nice"};
constexpr std::string_view kAdapterKeys[] = {"id", "plugin", "enabled", "config"};
constexpr std::string_view kLogLevels[] = {"trace", "debug", "info", "warn",
                                           "error", "critical", "off"};

// ---- helpers ------------------------------------------------------------------------------

std::string quote(std::string_view s) {
    return json(std::string(s)).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diag = up;
        }
    }
    return row[b.size()];
}

template <std::size_t N>
std::string suggestion(std::string_view key, const std::string_view (&names)[N]) {
    std::string_view best;
    std::size_t best_d = 3;  // at most 2 edits
    std::string all;
    for (auto name : names) {
        if (!all.empty()) all += ", ";
        all += name;
        if (key.size() > 64) continue;
        std::size_t d = edit_distance(key, name);
        if (key.size() >= 4 && name.size() > key.size() && name.substr(0, key.size()) == key)
            d = std::min<std::size_t>(d, 2);  // a prefix: "backoff_initial" for "backoff_initial_ms"
        if (d < best_d) {
            best_d = d;
            best = name;
        }
    }
    if (!best.empty()) return " (did you mean " + quote(best) + "?)";
    return " (known keys: " + all + ")";
}

template <std::size_t N>
bool one_of(std::string_view s, const std::string_view (&names)[N]) {
    return std::find(std::begin(names), std::end(names), s) != std::end(names);
}

template <std::size_t N>
std::string list(const std::string_view (&names)[N]) {
    std::string all;
    for (auto name : names) {
        if (!all.empty()) all += ", ";
        all += name;
    }
    return all;
}

// A key as a path segment: bare when it is a bare TOML key, quoted otherwise.
std::string key_segment(std::string_view key) {
    const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
    });
    return bare ? std::string(key) : quote(key);
}

std::string join(std::string_view path, std::string_view key) {
    if (path.empty()) return key_segment(key);
    return std::string(path) + "." + key_segment(key);
}

const char* toml_kind(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        default: return "nothing";
    }
}

fs::path normal(fs::path p) {
    p = p.lexically_normal();
    if (!p.has_filename() && p.has_relative_path()) p = p.parent_path();  // "a/b/" -> "a/b"
    return p;
}

fs::path resolve_against(const fs::path& base, const fs::path& p) {
    return normal(p.is_absolute() ? p : base / p);
}

std::string two(unsigned v) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02u", v % 100u);
    return buf;
}

std::string format_date(const toml::date& d) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04u-%02u-%02u", static_cast<unsigned>(d.year),
                  static_cast<unsigned>(d.month), static_cast<unsigned>(d.day));
    return buf;
}

std::string format_time(const toml::time& t) {
    std::string s = two(t.hour) + ":" + two(t.minute) + ":" + two(t.second);
    if (t.nanosecond != 0) {
        char buf[16];
        std::snprintf(buf, sizeof buf, "%09u", static_cast<unsigned>(t.nanosecond));
        std::string frac = buf;
        while (!frac.empty() && frac.back() == '0') frac.pop_back();
        s += "." + frac;
    }
    return s;
}

std::string format_date_time(const toml::date_time& dt) {
    std::string s = format_date(dt.date) + "T" + format_time(dt.time);
    if (dt.offset) {
        const int minutes = dt.offset->minutes;
        if (minutes == 0) {
            s += "Z";
        } else {
            const int a = std::abs(minutes);
            s += (minutes < 0 ? "-" : "+") + two(static_cast<unsigned>(a / 60)) + ":" +
                 two(static_cast<unsigned>(a % 60));
        }
    }
    return s;
}

// ---- error context ------------------------------------------------------------------------

struct Ctx {
    std::string file;

    Error at(const toml::source_region& where, std::string_view path, std::string_view msg) const {
        std::string s = file;
        if (where.begin.line > 0) {
            s += ":" + std::to_string(where.begin.line);
            if (where.begin.column > 0) s += ":" + std::to_string(where.begin.column);
        }
        s += ": ";
        if (!path.empty()) {
            s += path;
            s += ": ";
        }
        s += msg;
        std::replace_if(s.begin(), s.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
        return make_error(std::move(s));
    }
};

using MaybeError = std::optional<Error>;

// A TOML table being read: knows its key path and reports errors at its keys' positions.
class Section {
public:
    Section(const Ctx& ctx, const toml::table* table, std::string path)
        : ctx_(ctx), table_(table), path_(std::move(path)) {}

    const std::string& path() const { return path_; }
    std::string path_of(std::string_view key) const { return join(path_, key); }

    bool has(std::string_view key) const { return table_ && table_->contains(key); }

    const toml::node* node(std::string_view key) const {
        return table_ ? table_->get(key) : nullptr;
    }

    // Error at the key (or, when absent, at the table), named by the key's path.
    Error error(std::string_view key, std::string_view msg) const {
        if (table_) {
            if (const auto it = table_->find(key); it != table_->end())
                return ctx_.at(it->first.source(), path_of(key), msg);
            return ctx_.at(table_->source(), path_of(key), msg);
        }
        return ctx_.at({}, path_of(key), msg);
    }

    // Error about the table itself.
    Error error_here(std::string_view msg) const {
        return ctx_.at(table_ ? table_->source() : toml::source_region{}, path_, msg);
    }

    template <std::size_t N>
    MaybeError only(const std::string_view (&allowed)[N]) const {
        if (!table_) return std::nullopt;
        for (auto&& [k, v] : *table_) {
            (void)v;
            if (!one_of(k.str(), allowed))
                return ctx_.at(k.source(), path_of(k.str()),
                               "unknown key" + suggestion(k.str(), allowed));
        }
        return std::nullopt;
    }

    MaybeError get_string(std::string_view key, std::string& out, bool allow_empty) const {
        const toml::node* n = node(key);
        if (!n) return std::nullopt;
        if (!n->is_string()) return error(key, std::string("expected a string, got ") + toml_kind(*n));
        const std::string& s = n->as_string()->get();
        if (!allow_empty && s.empty()) return error(key, "must not be empty");
        if (s.find('\0') != std::string::npos) return error(key, "contains a NUL character");
        out = s;
        return std::nullopt;
    }

    MaybeError get_bool(std::string_view key, bool& out) const {
        const toml::node* n = node(key);
        if (!n) return std::nullopt;
        if (!n->is_boolean())
            return error(key, std::string("expected true or false, got ") + toml_kind(*n));
        out = n->as_boolean()->get();
        return std::nullopt;
    }

    MaybeError get_int(std::string_view key, std::int64_t& out, std::int64_t lo,
                       std::int64_t hi) const {
        const toml::node* n = node(key);
        if (!n) return std::nullopt;
        if (!n->is_integer())
            return error(key, std::string("expected an integer, got ") + toml_kind(*n));
        const std::int64_t v = n->as_integer()->get();
        if (v < lo || v > hi)
            return error(key, std::to_string(v) + " is out of range (" + std::to_string(lo) +
                                  " to " + std::to_string(hi) + ")");
        out = v;
        return std::nullopt;
    }

    // A number (integer or float) within [lo, hi].
    MaybeError get_double(std::string_view key, double& out, double lo, double hi) const {
        const toml::node* n = node(key);
        if (!n) return std::nullopt;
        double v = 0;
        if (n->is_integer()) v = static_cast<double>(n->as_integer()->get());
        else if (n->is_floating_point()) v = n->as_floating_point()->get();
        else return error(key, std::string("expected a number, got ") + toml_kind(*n));
        if (!(v >= lo && v <= hi)) {
            auto g = [](double x) {
                char b[32];
                std::snprintf(b, sizeof b, "%g", x);
                return std::string(b);
            };
            return error(key, g(v) + " is out of range (" + g(lo) + " to " + g(hi) + ")");
        }
        out = v;
        return std::nullopt;
    }

    MaybeError get_ms(std::string_view key, std::chrono::milliseconds& out, std::int64_t lo,
                      std::int64_t hi) const {
        std::int64_t v = out.count();
        if (auto e = get_int(key, v, lo, hi)) return e;
        out = std::chrono::milliseconds(v);
        return std::nullopt;
    }

    MaybeError get_string_list(std::string_view key, std::vector<std::string>& out) const {
        const toml::node* n = node(key);
        if (!n) return std::nullopt;
        const toml::array* arr = n->as_array();
        if (!arr)
            return error(key, std::string("expected an array of strings, got ") + toml_kind(*n));
        std::vector<std::string> items;
        for (std::size_t i = 0; i < arr->size(); ++i) {
            const toml::node& e = *arr->get(i);
            const std::string p = path_of(key) + "[" + std::to_string(i) + "]";
            if (!e.is_string())
                return ctx_.at(e.source(), p, std::string("expected a string, got ") + toml_kind(e));
            const std::string& s = e.as_string()->get();
            if (s.empty()) return ctx_.at(e.source(), p, "must not be empty");
            if (s.find('\0') != std::string::npos)
                return ctx_.at(e.source(), p, "contains a NUL character");
            items.push_back(s);
        }
        out = std::move(items);
        return std::nullopt;
    }

    // The section of a sub-table got with get_table (errors named by its path).
    Section sub(std::string_view key, const toml::table* t) const { return Section(ctx_, t, path_of(key)); }

    // A sub-table; absent is fine (null table), anything else than a table is an error.
    MaybeError get_table(std::string_view key, const toml::table*& out) const {
        out = nullptr;
        const toml::node* n = node(key);
        if (!n) return std::nullopt;
        if (!n->is_table()) return error(key, std::string("expected a table, got ") + toml_kind(*n));
        out = n->as_table();
        return std::nullopt;
    }

private:
    const Ctx& ctx_;
    const toml::table* table_;
    std::string path_;
};

// "a (x) must be at least b (y)" style checks between two keys: reported at `key` when it
// is written, else at `other_key` (the one the user wrote; defaults never conflict).
Error relation_error(const Section& s, std::string_view key, const Section& other_s,
                     std::string_view other_key, std::string_view msg) {
    if (s.has(key) || !other_s.has(other_key)) return s.error(key, msg);
    return other_s.error(other_key, msg);
}

// ---- TOML -> JSON -------------------------------------------------------------------------

MaybeError to_json(const Ctx& ctx, const toml::node& n, const std::string& path, json& out) {
    switch (n.type()) {
        case toml::node_type::table: {
            out = json::object();
            for (auto&& [k, v] : *n.as_table()) {
                json child;
                if (auto e = to_json(ctx, v, join(path, k.str()), child)) return e;
                out[std::string(k.str())] = std::move(child);
            }
            return std::nullopt;
        }
        case toml::node_type::array: {
            out = json::array();
            const toml::array& arr = *n.as_array();
            for (std::size_t i = 0; i < arr.size(); ++i) {
                json child;
                if (auto e = to_json(ctx, *arr.get(i), path + "[" + std::to_string(i) + "]", child))
                    return e;
                out.push_back(std::move(child));
            }
            return std::nullopt;
        }
        case toml::node_type::string: out = n.as_string()->get(); return std::nullopt;
        case toml::node_type::integer: out = n.as_integer()->get(); return std::nullopt;
        case toml::node_type::floating_point: {
            const double d = n.as_floating_point()->get();
            if (!std::isfinite(d))
                return ctx.at(n.source(), path, "inf and nan cannot be passed to a plugin (JSON has no such numbers)");
            out = d;
            return std::nullopt;
        }
        case toml::node_type::boolean: out = n.as_boolean()->get(); return std::nullopt;
        case toml::node_type::date: out = format_date(n.as_date()->get()); return std::nullopt;
        case toml::node_type::time: out = format_time(n.as_time()->get()); return std::nullopt;
        case toml::node_type::date_time:
            out = format_date_time(n.as_date_time()->get());
            return std::nullopt;
        default: return ctx.at(n.source(), path, "unsupported TOML value");
    }
}

// ---- endpoints ----------------------------------------------------------------------------

MaybeError parse_endpoint(const Section& s, std::string_view key, const std::string& written,
                          const HubConfig& cfg, std::string& out) {
    // Expand placeholders.
    std::string e;
    for (std::size_t i = 0; i < written.size();) {
        if (written[i] == '{') {
            const std::size_t close = written.find('}', i);
            const std::string name =
                written.substr(i, close == std::string::npos ? std::string::npos : close - i + 1);
            if (name != "{data_dir}")
                return s.error(key, "unknown placeholder " + quote(name) +
                                        " (only {data_dir} is known)");
            e += cfg.hub.data_dir.string();
            i = close + 1;
        } else {
            e += written[i++];
        }
    }
    if (e.rfind("ipc://", 0) == 0) {
        const std::string p = e.substr(6);
        if (p.empty()) return s.error(key, quote(written) + " has no path after ipc://");
        if (p[0] == '@') {  // Linux abstract socket
            out = e;
        } else {
            out = "ipc://" + resolve_against(cfg.config_dir, p).string();
        }
        if (out.size() - 6 > kMaxIpcPath)
            return s.error(key, "ipc path " + quote(out.substr(6)) + " is " +
                                    std::to_string(out.size() - 6) +
                                    " bytes; a Unix socket path allows at most " +
                                    std::to_string(kMaxIpcPath) +
                                    " (use a shorter data_dir, e.g. via CASEHUB_DATA_DIR)");
        return std::nullopt;
    }
    if (e.rfind("tcp://", 0) == 0) {
        const std::string a = e.substr(6);
        const std::size_t colon = a.rfind(':');
        bool ok = colon != std::string::npos && colon > 0;
        if (ok) {
            const std::string port = a.substr(colon + 1);
            if (port != "*") {
                ok = !port.empty() && port.size() <= 5 &&
                     std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
                if (ok) {
                    const long v = std::strtol(port.c_str(), nullptr, 10);
                    ok = v >= 1 && v <= 65535;
                }
            }
        }
        if (!ok) return s.error(key, quote(written) + " must be tcp://HOST:PORT (port 1 to 65535 or *)");
        out = e;
        return std::nullopt;
    }
    return s.error(key, quote(written) + " must start with ipc:// or tcp://");
}

// ---- sections -----------------------------------------------------------------------------

MaybeError read_hub(const Section& s, HubConfig& cfg) {
    if (auto e = s.only(kHubKeys)) return e;
    std::string data_dir = "var", store = "casehub.db", synchronous = "full";
    std::string intake = "ipc://{data_dir}/intake.sock", control = "ipc://{data_dir}/control.sock";
    std::vector<std::string> plugin_path = {"../build/plugins", "/usr/local/lib/casehub/plugins"};
    std::string feed = "ipc://{data_dir}/feed.sock", snapshot = "ipc://{data_dir}/snapshot.sock";
    std::string reference_dir = "qinhuai";
    std::vector<std::string> systems;
    std::string runner, log_level = "info";
    if (auto e = s.get_string("feed_endpoint", feed, false)) return e;
    if (auto e = s.get_string("snapshot_endpoint", snapshot, false)) return e;
    if (auto e = s.get_string("reference_dir", reference_dir, false)) return e;
    std::int64_t feed_hwm = cfg.hub.feed_hwm;
    if (auto e = s.get_int("feed_hwm", feed_hwm, 10, 10'000'000)) return e;
    cfg.hub.feed_hwm = static_cast<int>(feed_hwm);
    if (auto e = s.get_string_list("systems", systems)) return e;
    for (const auto& id : systems) {
        bool ok = id.size() >= 2 && id.size() <= 32 && id[0] >= 'a' && id[0] <= 'z' &&
                  std::all_of(id.begin(), id.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                  });
        if (!ok) return s.error("systems", quote(id) + " is not a system id [a-z][a-z0-9_]{1,31}");
    }
    cfg.hub.systems = systems;
    if (auto e = s.get_string("data_dir", data_dir, false)) return e;
    if (auto e = s.get_string("store", store, false)) return e;
    if (auto e = s.get_string("synchronous", synchronous, false)) return e;
    if (auto e = s.get_string("intake_endpoint", intake, false)) return e;
    if (auto e = s.get_string("control_endpoint", control, false)) return e;
    if (auto e = s.get_string_list("plugin_path", plugin_path)) return e;
    if (auto e = s.get_string("runner", runner, true)) return e;
    if (auto e = s.get_string("log_level", log_level, false)) return e;

    if (synchronous == "full") cfg.hub.synchronous = Synchronous::full;
    else if (synchronous == "normal") cfg.hub.synchronous = Synchronous::normal;
    else return s.error("synchronous", quote(synchronous) + " is not one of full, normal");

    if (!one_of(log_level, kLogLevels))
        return s.error("log_level", quote(log_level) + " is not one of " + list(kLogLevels));
    cfg.hub.log_level = log_level;

    const char* env = std::getenv("CASEHUB_DATA_DIR");
    if (env && *env) {
        std::error_code ec;
        fs::path p = fs::absolute(fs::path(env), ec);
        if (ec)
            return s.error("data_dir", "CASEHUB_DATA_DIR " + quote(env) +
                                           " cannot be made absolute: " + ec.message());
        cfg.hub.data_dir = normal(p);
        cfg.hub.data_dir_from_env = true;
    } else {
        cfg.hub.data_dir = resolve_against(cfg.config_dir, data_dir);
    }
    cfg.hub.store = resolve_against(cfg.hub.data_dir, store);
    cfg.hub.plugin_path.clear();
    for (const auto& p : plugin_path) cfg.hub.plugin_path.push_back(resolve_against(cfg.config_dir, p));
    cfg.hub.runner = runner.empty() ? fs::path() : resolve_against(cfg.config_dir, runner);
    cfg.hub.reference_dir = resolve_against(cfg.config_dir, reference_dir);

    if (auto e = parse_endpoint(s, "intake_endpoint", intake, cfg, cfg.hub.intake_endpoint)) return e;
    if (auto e = parse_endpoint(s, "control_endpoint", control, cfg, cfg.hub.control_endpoint))
        return e;
    if (cfg.hub.intake_endpoint == cfg.hub.control_endpoint)
        return relation_error(s, "control_endpoint", s, "intake_endpoint",
                              "control_endpoint and intake_endpoint are both " +
                                  quote(cfg.hub.intake_endpoint));
    if (auto e = parse_endpoint(s, "feed_endpoint", feed, cfg, cfg.hub.feed_endpoint)) return e;
    if (auto e = parse_endpoint(s, "snapshot_endpoint", snapshot, cfg, cfg.hub.snapshot_endpoint))
        return e;
    {
        const std::pair<const char*, const std::string*> eps[] = {
            {"intake_endpoint", &cfg.hub.intake_endpoint}, {"control_endpoint", &cfg.hub.control_endpoint},
            {"feed_endpoint", &cfg.hub.feed_endpoint}, {"snapshot_endpoint", &cfg.hub.snapshot_endpoint}};
        for (std::size_t i = 0; i < 4; ++i)
            for (std::size_t j = i + 1; j < 4; ++j)
                if (*eps[i].second == *eps[j].second)
                    return relation_error(s, eps[j].first, s, eps[i].first,
                                          std::string(eps[j].first) + " and " + eps[i].first +
                                              " are both " + quote(*eps[i].second));
    }
    return std::nullopt;
}

MaybeError read_supervisor(const Section& s, HubConfig& cfg) {
    if (auto e = s.only(kSupervisorKeys)) return e;
    auto& sv = cfg.supervisor;
    constexpr std::int64_t hour = 3'600'000, day = 86'400'000;
    if (auto e = s.get_ms("backoff_initial_ms", sv.backoff_initial, 1, hour)) return e;
    if (auto e = s.get_ms("backoff_max_ms", sv.backoff_max, 1, day)) return e;
    if (auto e = s.get_ms("healthy_after_ms", sv.healthy_after, 1, day)) return e;
    std::int64_t crashes = sv.max_fast_crashes;
    if (auto e = s.get_int("max_fast_crashes", crashes, 0, 1'000'000)) return e;
    sv.max_fast_crashes = static_cast<int>(crashes);
    if (auto e = s.get_ms("heartbeat_ms", sv.heartbeat, 10, 60'000)) return e;
    if (auto e = s.get_ms("hang_timeout_ms", sv.hang_timeout, 1, hour)) return e;
    if (auto e = s.get_ms("stop_timeout_ms", sv.stop_timeout, 1, hour)) return e;

    if (sv.backoff_max < sv.backoff_initial)
        return relation_error(s, "backoff_max_ms", s, "backoff_initial_ms",
                              "backoff_max_ms (" + std::to_string(sv.backoff_max.count()) +
                                  ") must be at least backoff_initial_ms (" +
                                  std::to_string(sv.backoff_initial.count()) + ")");
    if (sv.hang_timeout < 2 * sv.heartbeat)
        return relation_error(s, "hang_timeout_ms", s, "heartbeat_ms",
                              "hang_timeout_ms (" + std::to_string(sv.hang_timeout.count()) +
                                  ") must be at least twice heartbeat_ms (" +
                                  std::to_string(sv.heartbeat.count()) + ")");
    return std::nullopt;
}

MaybeError read_flow(const Section& s, const Section& supervisor, HubConfig& cfg) {
    if (auto e = s.only(kFlowKeys)) return e;
    auto& f = cfg.flow;
    if (auto e = s.get_int("credit_records", f.credit_records, 1, 10'000'000)) return e;
    if (auto e = s.get_int("max_batch_records", f.max_batch_records, 1, 1'000'000)) return e;
    if (auto e = s.get_ms("commit_min_delay_ms", f.commit_min_delay, 0, 10'000)) return e;
    if (auto e = s.get_ms("commit_max_delay_ms", f.commit_max_delay, 0, 10'000)) return e;
    if (auto e = s.get_ms("runner_host_timeout_ms", f.runner_host_timeout, 100, 3'600'000))
        return e;
    if (auto e = s.get_bool("prepare_worker", f.prepare_worker)) return e;
    if (auto e = s.get_bool("sync_worker", f.sync_worker)) return e;
    std::int64_t nice = f.intake_nice;
    if (auto e = s.get_int("intake_nice", nice, -20, 0)) return e;
    f.intake_nice = static_cast<int>(nice);
    if (f.max_batch_records > f.credit_records)
        return relation_error(s, "max_batch_records", s, "credit_records",
                              "max_batch_records (" + std::to_string(f.max_batch_records) +
                                  ") must not exceed credit_records (" +
                                  std::to_string(f.credit_records) + ")");
    if (f.commit_min_delay > f.commit_max_delay)
        return relation_error(s, "commit_min_delay_ms", s, "commit_max_delay_ms",
                              "commit_min_delay_ms (" + std::to_string(f.commit_min_delay.count()) +
                                  ") must not exceed commit_max_delay_ms (" +
                                  std::to_string(f.commit_max_delay.count()) + ")");
    if (f.runner_host_timeout < 2 * cfg.supervisor.heartbeat)
        return relation_error(s, "runner_host_timeout_ms", supervisor, "heartbeat_ms",
                              "flow.runner_host_timeout_ms (" +
                                  std::to_string(f.runner_host_timeout.count()) +
                                  ") must be at least twice supervisor.heartbeat_ms (" +
                                  std::to_string(cfg.supervisor.heartbeat.count()) + ")");
    return std::nullopt;
}

MaybeError read_correlation(const Section& s, HubConfig& cfg) {
    if (auto e = s.only(kCorrelationKeys)) return e;
    auto& c = cfg.correlation;
    if (auto e = s.get_bool("enabled", c.enabled)) return e;
    std::int64_t max_candidates = c.max_candidates, max_case_records = c.max_case_records;
    if (auto e = s.get_int("max_candidates", max_candidates, 1, 100000)) return e;
    if (auto e = s.get_int("max_case_records", max_case_records, 1, 100000)) return e;
    c.max_candidates = static_cast<int>(max_candidates);
    c.max_case_records = static_cast<int>(max_case_records);
    const struct {
        const char* key;
        double* v;
        double lo, hi;
    } numbers[] = {
        {"threshold", &c.threshold, -50, 50}, {"max_distance_m", &c.max_distance_m, 1, 100000},
        {"min_radius_m", &c.min_radius_m, 0, 100000}, {"max_gap_hours", &c.max_gap_hours, 0.1, 24.0 * 365},
        {"closed_grace_hours", &c.closed_grace_hours, 0, 24.0 * 365}, {"prior", &c.prior, -50, 50},
        {"distance_near", &c.distance_near, -50, 50}, {"distance_slope", &c.distance_slope, 0, 50},
        {"distance_far", &c.distance_far, -50, 50}, {"full_time_minutes", &c.full_time_minutes, 0, 179},
        {"time_near", &c.time_near, -50, 50}, {"time_at_3h", &c.time_at_3h, -50, 50},
        {"time_at_24h", &c.time_at_24h, -50, 50}, {"time_far", &c.time_far, -50, 50},
        {"same_category", &c.same_category, -50, 50}, {"same_family", &c.same_family, -50, 50},
        {"compatible_family", &c.compatible_family, -50, 50}, {"text_high", &c.text_high, -50, 50},
        {"address_none", &c.address_none, -50, 50}, {"address_full", &c.address_full, -50, 50},
        {"time_same_day", &c.time_same_day, -50, 50}, {"unknown_category", &c.unknown_category, -50, 50}, {"same_system", &c.same_system, -50, 50},
        {"place_same_number", &c.place_same_number, -50, 50}, {"place_other_number", &c.place_other_number, -50, 50},
        {"place_other_road", &c.place_other_road, -50, 50}, {"place_same_landmark", &c.place_same_landmark, -50, 50},
        {"place_other_landmark", &c.place_other_landmark, -50, 50}, {"place_mixed", &c.place_mixed, -50, 50},
    };
    for (const auto& n : numbers)
        if (auto e = s.get_double(n.key, *n.v, n.lo, n.hi)) return e;
    if (auto e = s.get_string_list("stop_phrases", c.stop_phrases)) return e;
    // report_offset_m = { hotline12345 = 80, ... }: metres per source system.
    const toml::table* offsets = nullptr;
    if (auto e = s.get_table("report_offset_m", offsets)) return e;
    if (offsets) {
        const Section o = s.sub("report_offset_m", offsets);
        std::vector<std::pair<std::string, double>> out;
        for (auto&& [k, v] : *offsets) {
            (void)v;
            double m = 0;
            if (auto e = o.get_double(k.str(), m, 0, 10000)) return e;
            out.emplace_back(std::string(k.str()), m);
        }
        c.report_offset_m = std::move(out);
    }
    return std::nullopt;
}

MaybeError read_http(const Section& s, HubConfig& cfg) {
    if (auto e = s.only(kHttpKeys)) return e;
    auto& h = cfg.http;
    if (auto e = s.get_bool("enabled", h.enabled)) return e;
    std::string listen = h.listen();
    if (auto e = s.get_string("listen", listen, false)) return e;
    // HOST:PORT, or [IPV6]:PORT.
    const std::size_t colon = listen.rfind(':');
    std::string host = colon == std::string::npos ? std::string() : listen.substr(0, colon);
    const std::string port = colon == std::string::npos ? std::string() : listen.substr(colon + 1);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const bool port_ok = !port.empty() && port.size() <= 5 &&
                         std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
                         std::stol(port) >= 1 && std::stol(port) <= 65535;
    const bool host_ok = !host.empty() && std::none_of(host.begin(), host.end(), [](char c) {
        return c == ' ' || c == '\t' || c == '/' || c == '[' || c == ']';
    });
    if (!port_ok || !host_ok)
        return s.error("listen", quote(listen) + " must be HOST:PORT (e.g. \"127.0.0.1:8640\", \"[::1]:8640\"; port 1 to 65535)");
    h.host = host;
    h.port = static_cast<int>(std::stol(port));
    if (auto e = s.get_int("max_body_bytes", h.max_body_bytes, 1024, 64LL * 1024 * 1024)) return e;
    std::int64_t heartbeat = h.sse_heartbeat.count(), threads = h.threads;
    if (auto e = s.get_int("sse_heartbeat_s", heartbeat, 1, 300)) return e;
    h.sse_heartbeat = std::chrono::seconds(heartbeat);
    if (auto e = s.get_int("threads", threads, 4, 1024)) return e;
    h.threads = static_cast<int>(threads);
    if (auto e = s.get_ms("control_timeout_ms", h.control_timeout, 100, 600'000)) return e;
    return std::nullopt;
}

// [command]: the command centre (whistles, escalation, reports; docs/command-center.md). Present
// means enabled unless it says otherwise; the rule files are read (and checked) by casehubd.
MaybeError read_command(const Section& s, bool present, HubConfig& cfg) {
    if (auto e = s.only(kCommandKeys)) return e;
    auto& c = cfg.command;
    c.enabled = present;
    if (auto e = s.get_bool("enabled", c.enabled)) return e;
    if (auto e = s.get_bool("grid_whistles", c.grid_whistles)) return e;
    std::string rules = "command.toml", calendar = "calendar.toml";
    if (auto e = s.get_string("rules", rules, false)) return e;
    if (auto e = s.get_string("calendar", calendar, false)) return e;
    c.rules = resolve_against(cfg.config_dir, fs::path(rules));
    c.calendar = resolve_against(cfg.config_dir, fs::path(calendar));
    std::int64_t check = c.alert_check.count();
    if (auto e = s.get_int("alert_check_seconds", check, 1, 86400)) return e;
    c.alert_check = std::chrono::seconds(check);
    std::string clock = "wall";
    if (auto e = s.get_string("clock", clock, false)) return e;
    if (clock != "wall" && clock != "simulated")
        return s.error("clock", quote(clock) + " must be \"wall\" or \"simulated\"");
    c.simulated_clock = clock == "simulated";
    // clock_start: a TOML offset date-time, or the same as an RFC 3339 string.
    const toml::node* n = s.node("clock_start");
    if (n) {
        std::optional<toml::date_time> dt;
        if (n->is_date_time()) dt = n->as_date_time()->get();
        else if (n->is_string()) {
            try {
                auto t = toml::parse("v = " + n->as_string()->get());
                if (auto* v = t.get("v"); v && v->is_date_time()) dt = v->as_date_time()->get();
            } catch (const std::exception&) {
            }
        }
        if (!dt || !dt->offset)
            return s.error("clock_start", "must be a date and time with its offset, e.g. 2019-01-01T08:00:00+08:00");
        // days from civil (proleptic Gregorian), then the offset.
        const std::int64_t y = dt->date.year - (dt->date.month <= 2 ? 1 : 0);
        const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
        const std::int64_t yoe = y - era * 400;
        const unsigned m = dt->date.month, d = dt->date.day;
        const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        const std::int64_t days = era * 146097 + doe - 719468;
        const std::int64_t secs = days * 86400 + dt->time.hour * 3600 + dt->time.minute * 60 + dt->time.second -
                                  static_cast<std::int64_t>(dt->offset->minutes) * 60;
        c.clock_start_ms = secs * 1000 + dt->time.nanosecond / 1'000'000;
    } else if (c.simulated_clock && c.enabled) {
        return s.error("clock_start", "a simulated clock needs its start, e.g. clock_start = 2019-01-01T08:00:00+08:00");
    }
    return std::nullopt;
}

bool valid_adapter_id(std::string_view s) {
    if (s.size() < 2 || s.size() > 32) return false;
    if (s[0] < 'a' || s[0] > 'z') return false;
    return std::all_of(s.begin() + 1, s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

MaybeError read_adapters(const Ctx& ctx, const Section& root, HubConfig& cfg) {
    const toml::node* n = root.node("adapters");
    if (!n) return std::nullopt;
    const toml::array* arr = n->as_array();
    if (!arr)
        return root.error("adapters", std::string("expected an array of tables ([[adapters]]), got ") +
                                          toml_kind(*n));
    for (std::size_t i = 0; i < arr->size(); ++i) {
        const toml::node& item = *arr->get(i);
        const std::string path = "adapters[" + std::to_string(i) + "]";
        if (!item.is_table())
            return ctx.at(item.source(), path, std::string("expected a table, got ") + toml_kind(item));
        const Section s(ctx, item.as_table(), path);
        if (auto e = s.only(kAdapterKeys)) return e;

        AdapterConfig a;
        a.line = static_cast<int>(item.source().begin.line);
        if (!s.has("id")) return s.error_here("missing required key \"id\"");
        if (auto e = s.get_string("id", a.id, false)) return e;
        if (!valid_adapter_id(a.id))
            return s.error("id", quote(a.id) + " must match [a-z][a-z0-9_]{1,31}");
        for (const auto& other : cfg.adapters)
            if (other.id == a.id)
                return s.error("id", "duplicate adapter id " + quote(a.id) + " (also on line " +
                                         std::to_string(other.line) + ")");
        if (!s.has("plugin")) return s.error_here("missing required key \"plugin\"");
        if (auto e = s.get_string("plugin", a.plugin, false)) return e;
        if (auto e = s.get_bool("enabled", a.enabled)) return e;
        const toml::table* config = nullptr;
        if (auto e = s.get_table("config", config)) return e;
        if (config) {
            if (auto e = to_json(ctx, *config, s.path_of("config"), a.config)) return e;
        }
        cfg.adapters.push_back(std::move(a));
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(Synchronous s) {
    return s == Synchronous::full ? "full" : "normal";
}

std::string HttpSection::listen() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

const AdapterConfig* HubConfig::find_adapter(std::string_view id) const {
    for (const auto& a : adapters)
        if (a.id == id) return &a;
    return nullptr;
}

Result<HubConfig> parse_hub_config(std::string_view text, const fs::path& file) {
    const Ctx ctx{file.string()};
    HubConfig cfg;
    cfg.file = file;
    {
        std::error_code ec;
        const fs::path abs = fs::absolute(file.empty() ? fs::path("casehub.toml") : file, ec);
        if (ec) return ctx.at({}, "", "cannot make the path absolute: " + ec.message());
        cfg.config_dir = normal(abs).parent_path();
    }

    toml::table root_table;
    try {
        root_table = toml::parse(text, std::string_view(ctx.file));
    } catch (const toml::parse_error& e) {
        return ctx.at(e.source(), "", e.description());
    } catch (const std::exception& e) {
        return ctx.at({}, "", std::string("cannot parse: ") + e.what());
    }

    const Section root(ctx, &root_table, "");
    if (auto e = root.only(kRootKeys)) return *e;

    const toml::table* hub = nullptr;
    const toml::table* supervisor = nullptr;
    const toml::table* flow = nullptr;
    const toml::table* correlation = nullptr;
    const toml::table* http = nullptr;
    if (auto e = root.get_table("correlation", correlation)) return *e;
    if (auto e = root.get_table("http", http)) return *e;
    if (auto e = root.get_table("hub", hub)) return *e;
    if (auto e = root.get_table("supervisor", supervisor)) return *e;
    if (auto e = root.get_table("flow", flow)) return *e;

    const Section hub_s(ctx, hub, "hub");
    const Section sup_s(ctx, supervisor, "supervisor");
    const Section flow_s(ctx, flow, "flow");
    if (auto e = read_hub(hub_s, cfg)) return *e;
    if (auto e = read_supervisor(sup_s, cfg)) return *e;
    if (auto e = read_flow(flow_s, sup_s, cfg)) return *e;
    if (auto e = read_correlation(Section(ctx, correlation, "correlation"), cfg)) return *e;
    if (auto e = read_http(Section(ctx, http, "http"), cfg)) return *e;
    {
        const toml::table* command = nullptr;
        if (auto e = root.get_table("command", command)) return *e;
        if (auto e = read_command(Section(ctx, command, "command"), command != nullptr, cfg)) return *e;
    }
    if (auto e = read_adapters(ctx, root, cfg)) return *e;
    return cfg;
}

Result<HubConfig> load_hub_config(const fs::path& file) {
    const std::string name = file.string();
    std::error_code ec;
    const auto st = fs::status(file, ec);
    if (ec) return make_error(name + ": cannot read: " + ec.message());
    if (fs::is_directory(st)) return make_error(name + ": cannot read: is a directory");
    if (fs::is_regular_file(st)) {
        const auto size = fs::file_size(file, ec);
        if (!ec && size > kMaxConfigBytes)
            return make_error(name + ": " + std::to_string(size) +
                              " bytes, larger than the 16 MiB allowed");
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) return make_error(name + ": cannot open for reading");
    std::string text;
    try {
        std::ostringstream ss;
        ss << in.rdbuf();
        text = std::move(ss).str();
    } catch (const std::exception& e) {
        return make_error(name + ": cannot read: " + e.what());
    }
    if (in.bad()) return make_error(name + ": read error");
    if (text.size() > kMaxConfigBytes)
        return make_error(name + ": larger than the 16 MiB allowed");
    return parse_hub_config(text, file);
}

Result<fs::path> resolve_plugin(const HubConfig& cfg, std::string_view plugin) {
    if (plugin.empty()) return make_error("plugin: the name is empty");
    if (plugin.find('\0') != std::string_view::npos)
        return make_error("plugin " + quote(plugin) + ": contains a NUL character");
    std::error_code ec;
    if (plugin.find('/') != std::string_view::npos) {
        const fs::path p = resolve_against(cfg.config_dir, fs::path(std::string(plugin)));
        const auto st = fs::status(p, ec);
        if (!fs::exists(st))
            return make_error("plugin " + quote(plugin) + ": " + p.string() + " does not exist");
        if (!fs::is_regular_file(st))
            return make_error("plugin " + quote(plugin) + ": " + p.string() +
                              " is not a regular file");
        return p;
    }
    const std::string name(plugin);
    std::string searched;
    for (const auto& dir : cfg.hub.plugin_path) {
        for (const std::string& candidate : {name + ".so", name}) {
            const fs::path p = dir / candidate;
            if (fs::is_regular_file(p, ec)) return p;
        }
        if (!searched.empty()) searched += ", ";
        searched += dir.string();
    }
    if (searched.empty())
        return make_error("plugin " + quote(plugin) + " not found: hub.plugin_path is empty");
    return make_error("plugin " + quote(plugin) + " not found: tried " + name + ".so and " + name +
                      " in " + searched);
}

}  // namespace casehub::host

namespace casehub::host {
void add_installed_plugin_dir(HubConfig& config, const std::filesystem::path& exe) {
    if (exe.empty()) return;
    auto dir = (exe.parent_path() / ".." / "lib" / "casehub" / "plugins").lexically_normal();
    for (const auto& p : config.hub.plugin_path)
        if (p == dir) return;
    config.hub.plugin_path.push_back(dir);
}
}  // namespace casehub::host
