// The API's router and what every handler shares.
//
// A route is a method and a path pattern with `{name}` segments ("/api/v1/cases/{id}/actions").
// Dispatch knows every pattern: a path no pattern matches is 404, a path that matches with
// another method is 405 (with Allow). Every error leaves as
//   {"error": {"code": "...", "message": "...", "field": "..." | null}}
// with the status its code implies (docs/api.md). A handler throws ApiError, or writes the
// response itself.
//
// Adding an endpoint family is one function: `void add_xxx_routes(Api&)` (routes.hpp), called
// from HttpServer::start, registering its routes with api.add(...).
#pragma once

#include "http/control_client.hpp"
#include "http/reference.hpp"
#include "http/store_reader.hpp"

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace casehub::host::http {

// An error as the API reports it. `status` follows from `code` (status_of).
struct ApiError {
    std::string code, message;
    std::optional<std::string> field;
    int status = 0;  // 0: status_of(code)
};
// invalid_argument, malformed_json, malformed_request → 400; not_found → 404;
// method_not_allowed → 405; conflict → 409; payload_too_large → 413;
// unsupported_media_type → 415; unavailable → 503; out_of_order, closed → 409;
// rank_too_low → 422; wrong_street, wrong_grid → 403; anything else → 500.
int status_of(const std::string& code);
nlohmann::json error_body(const ApiError& e);
void send_error(httplib::Response& res, const ApiError& e);
void send_json(httplib::Response& res, int status, const nlohmann::json& body);
[[noreturn]] void fail(std::string code, std::string message, std::optional<std::string> field = std::nullopt);

// The hub's answer to a control command, or the ApiError it means: an {"error": "...",
// "code", "field"} reply maps by its code; no answer is `unavailable`.
nlohmann::json hub_reply_or_throw(const std::optional<nlohmann::json>& reply, const ControlClient& control);

// The body of a POST as a JSON object: malformed_json (with where parsing failed),
// unsupported_media_type, or invalid_argument for anything but an object. `allowed`: the keys
// it may have (others are invalid_argument naming the key: a typo must not be ignored).
nlohmann::json json_body(const httplib::Request& req, const std::vector<std::string>& allowed);

// Query parameters: only `allowed` ones (others invalid_argument naming them); each at most once.
void check_params(const httplib::Request& req, const std::vector<std::string>& allowed);
std::optional<std::string> param(const httplib::Request& req, const std::string& name);
// An unsigned integer parameter (or header) value; invalid_argument naming `field`.
std::uint64_t parse_u64(const std::string& v, const std::string& field);
// Unix ms, or an RFC 3339 date-time.
std::int64_t parse_time(const std::string& v, const std::string& field);

// Live-event notification: the hub calls notify(seq) after each publish; SSE streams wait on it.
class Notifier {
public:
    void notify(std::uint64_t head);
    // Waits until head() > seen, stop, or `timeout`; returns head().
    std::uint64_t wait(std::uint64_t seen, std::chrono::milliseconds timeout);
    std::uint64_t head() const { return head_.load(); }
    void stop();
    bool stopping() const { return stopping_.load(); }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::atomic<std::uint64_t> head_{0};
    std::atomic<bool> stopping_{false};
};

struct ApiOptions {
    std::chrono::seconds sse_heartbeat{15};
    int max_sse_streams = 14;
    std::size_t max_body_bytes = 1 << 20;
    std::string listen;  // as configured, for /healthz
};

// Request counts by route, method and status, for /metrics.
class RequestStats {
public:
    void count(const std::string& route, const std::string& method, int status);
    std::map<std::tuple<std::string, std::string, int>, std::uint64_t> snapshot() const;

private:
    mutable std::mutex mu_;
    std::map<std::tuple<std::string, std::string, int>, std::uint64_t> counts_;
};

class Api {
public:
    using PathParams = std::map<std::string, std::string>;
    using Handler = std::function<void(const httplib::Request&, httplib::Response&, const PathParams&)>;

    Api(ApiOptions options, ReaderPool& readers, const Reference& reference, const ControlClient& control,
        Notifier& notifier)
        : options(std::move(options)), readers(readers), reference(reference), control(control), notifier(notifier) {}

    // `pattern`: literal segments and {name} segments, e.g. "/api/v1/cases/{id}".
    void add(const std::string& method, const std::string& pattern, Handler handler);
    // Routes `req` (ApiErrors become error responses); the route's pattern for metrics, or
    // "unmatched".
    void dispatch(const httplib::Request& req, httplib::Response& res) const;
    // The pattern `path` matches (any method), or "unmatched".
    std::string route_of(const std::string& path) const;

    // Shared by the handlers (all thread-safe).
    const ApiOptions options;
    ReaderPool& readers;
    const Reference& reference;
    const ControlClient& control;
    Notifier& notifier;
    RequestStats stats;
    std::atomic<int> sse_streams{0};
    std::atomic<std::uint64_t> sse_events_sent{0};
    // Hub status for /metrics, set by HttpServer (a control request by default).
    std::function<std::optional<nlohmann::json>()> hub_status;

private:
    struct Route {
        std::string method, pattern;
        std::vector<std::string> segments;  // "{name}" for a parameter
        Handler handler;
    };
    static bool match(const Route& r, const std::vector<std::string>& path, PathParams* out);
    std::vector<Route> routes_;
};

// A reader lease, or `unavailable` naming the store.
ReaderPool::Lease lease_or_throw(ReaderPool& pool);

}  // namespace casehub::host::http
