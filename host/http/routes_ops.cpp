// GET /healthz and GET /metrics (Prometheus text exposition format 0.0.4).
#include "http/routes.hpp"

#include <charconv>
#include <sstream>

namespace casehub::host::http {

using nlohmann::json;

namespace {

void healthz(Api& api, httplib::Response& res) {
    auto lease = api.readers.lease();
    std::string why;
    std::uint64_t head = 0;
    if (!lease) {
        why = lease.error().message;
    } else if (auto h = (*lease)->head(); !h) {
        why = h.error().message;
        lease->discard();
    } else {
        head = *h;
    }
    if (!why.empty()) {
        json body = error_body({"unavailable", "the store cannot be read: " + why, std::nullopt, 503});
        body["status"] = "unavailable";
        return send_json(res, 503, body);
    }
    send_json(res, 200, {{"status", "ok"},
                         {"store", "readable"},
                         {"head_seq", head},
                         {"listen", api.options.listen},
                         {"event_streams", api.sse_streams.load()}});
}

// Label values: backslash, double quote and line feed escaped.
std::string label(const std::string& v) {
    std::string out;
    for (char c : v) {
        if (c == '\\') out += "\\\\";
        else if (c == '"') out += "\\\"";
        else if (c == '\n') out += "\\n";
        else out += c;
    }
    return out;
}

std::string number(const json& v) {
    if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
    if (v.is_number_float()) {
        char b[64];
        const auto r = std::to_chars(b, b + sizeof b, v.get<double>());  // shortest exact form
        return std::string(b, r.ptr);
    }
    if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
    return "0";
}

class Exposition {
public:
    void family(const std::string& name, const char* type, const std::string& help) {
        out_ << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    }
    void sample(const std::string& name, const std::vector<std::pair<std::string, std::string>>& labels,
                const std::string& value) {
        out_ << name;
        if (!labels.empty()) {
            out_ << "{";
            bool first = true;
            for (const auto& [k, v] : labels) {
                out_ << (first ? "" : ",") << k << "=\"" << label(v) << "\"";
                first = false;
            }
            out_ << "}";
        }
        out_ << " " << value << "\n";
    }
    std::string str() const { return out_.str(); }

private:
    std::ostringstream out_;
};

void metrics(Api& api, httplib::Response& res) {
    Exposition m;
    const std::optional<json> status = api.hub_status ? api.hub_status() : std::nullopt;
    const bool up = status && status->is_object() && status->contains("hub") && (*status)["hub"].is_object();
    m.family("casehub_hub_up", "gauge", "1 when casehubd answered the status request of this scrape");
    m.sample("casehub_hub_up", {}, up ? "1" : "0");
    if (up) {
        const json& h = (*status)["hub"];
        auto g = [&](const char* name, const char* type, const char* help, const json& v) {
            m.family(name, type, help);
            m.sample(name, {}, number(v));
        };
        g("casehub_uptime_seconds", "gauge", "seconds since casehubd started",
          json(h.value("uptime_ms", 0.0) / 1000.0));
        g("casehub_events_published_total", "counter", "events published on the feed since start",
          h.value("events_published", json(0)));
        g("casehub_event_log_last_seq", "gauge", "seq of the last committed event", h.value("head_seq", json(0)));
        g("casehub_feed_consumers", "gauge", "connected ZeroMQ feed consumers", h.value("feed_consumers", json(0)));
        g("casehub_replay_requests_total", "counter", "replay/snapshot requests served",
          h.value("replay_requests", json(0)));
        m.family("casehub_commit_duration_seconds", "summary", "group commits of the store and their duration");
        const double sum_us = h.contains("commit_us_total")
                                  ? h.value("commit_us_total", 0.0)
                                  : h.value("commit_avg_us", 0.0) * h.value("commits", 0.0);
        m.sample("casehub_commit_duration_seconds_sum", {}, number(json(sum_us / 1e6)));
        m.sample("casehub_commit_duration_seconds_count", {}, number(h.value("commits", json(0))));

        const json adapters = status->value("adapters", json::array());
        static const char* const kStates[] = {"starting", "running", "backoff", "failed", "stopping", "stopped", "disabled"};
        m.family("casehub_adapter_state", "gauge", "1 for the adapter's current state");
        for (const auto& a : adapters)
            for (const char* s : kStates)
                m.sample("casehub_adapter_state", {{"adapter", a.value("id", "")}, {"state", s}},
                         a.value("state", "") == s ? "1" : "0");
        auto per_adapter = [&](const char* name, const char* type, const char* help, const char* key) {
            m.family(name, type, help);
            for (const auto& a : adapters) m.sample(name, {{"adapter", a.value("id", "")}}, number(a.value(key, json(0))));
        };
        per_adapter("casehub_adapter_restarts_total", "counter", "runner restarts", "restarts");
        per_adapter("casehub_adapter_records_received_total", "counter", "records committed from the adapter since start",
                    "records_received");
        per_adapter("casehub_adapter_dead_letters_total", "counter", "native records the adapter dead-lettered since start",
                    "dead_letters");
        per_adapter("casehub_adapter_in_flight_records", "gauge", "records sent and not yet acknowledged", "in_flight");
        m.family("casehub_adapter_records_total", "counter", "records by pipeline outcome (persisted across restarts)");
        for (const auto& a : adapters)
            for (const auto& [outcome, key] : std::vector<std::pair<std::string, std::string>>{
                     {"applied", "applied"}, {"duplicate", "duplicates"}, {"same_version_changed", "same_version_changed"},
                     {"stale", "stale"}, {"invalid", "invalid"}})
                m.sample("casehub_adapter_records_total", {{"adapter", a.value("id", "")}, {"outcome", outcome}},
                         number(a.value(key, json(0))));
        m.family("casehub_adapter_writebacks_total", "counter", "write-backs by outcome since start (retried: attempts retried)");
        for (const auto& a : adapters)
            for (const char* outcome : {"done", "failed", "retried"})
                m.sample("casehub_adapter_writebacks_total", {{"adapter", a.value("id", "")}, {"outcome", outcome}},
                         number(a.value(std::string("writebacks_") + outcome, json(0))));
    }
    m.family("casehub_http_requests_total", "counter", "HTTP requests by route, method and status");
    for (const auto& [k, n] : api.stats.snapshot())
        m.sample("casehub_http_requests_total",
                 {{"route", std::get<0>(k)}, {"method", std::get<1>(k)}, {"status", std::to_string(std::get<2>(k))}},
                 std::to_string(n));
    m.family("casehub_http_event_streams", "gauge", "open Server-Sent Events streams");
    m.sample("casehub_http_event_streams", {}, std::to_string(api.sse_streams.load()));
    m.family("casehub_http_events_sent_total", "counter", "events written to Server-Sent Events streams");
    m.sample("casehub_http_events_sent_total", {}, std::to_string(api.sse_events_sent.load()));
    res.status = 200;
    res.set_content(m.str(), "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace

void add_ops_routes(Api& api) {
    api.add("GET", "/healthz", [&api](const auto& req, auto& res, const auto&) {
        check_params(req, {});
        healthz(api, res);
    });
    api.add("GET", "/metrics", [&api](const auto& req, auto& res, const auto&) {
        check_params(req, {});
        metrics(api, res);
    });
}

}  // namespace casehub::host::http
