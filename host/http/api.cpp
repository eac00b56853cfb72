#include "http/api.hpp"

#include <casehub/sdk/rfc3339.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

namespace casehub::host::http {

using nlohmann::json;

int status_of(const std::string& code) {
    static const std::map<std::string, int, std::less<>> statuses = {
        {"invalid_argument", 400},   {"malformed_json", 400},         {"malformed_request", 400},
        {"not_found", 404},          {"method_not_allowed", 405},     {"conflict", 409},
        {"payload_too_large", 413},  {"unsupported_media_type", 415}, {"unavailable", 503},
        // The command centre's refusals (docs/command-center.md): the request is well formed
        // but the whistle's state or the rules do not allow it.
        {"out_of_order", 409},       {"closed", 409},                 {"rank_too_low", 422},
        {"wrong_street", 403},       {"wrong_grid", 403}};
    const auto it = statuses.find(code);
    return it == statuses.end() ? 500 : it->second;
}

json error_body(const ApiError& e) {
    return {{"error", {{"code", e.code}, {"message", e.message}, {"field", e.field ? json(*e.field) : json(nullptr)}}}};
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(-1, ' ', false, json::error_handler_t::replace), "application/json; charset=utf-8");
}

void send_error(httplib::Response& res, const ApiError& e) {
    send_json(res, e.status ? e.status : status_of(e.code), error_body(e));
}

void fail(std::string code, std::string message, std::optional<std::string> field) {
    throw ApiError{std::move(code), std::move(message), std::move(field), 0};
}

json hub_reply_or_throw(const std::optional<json>& reply, const ControlClient& control) {
    if (!reply)
        fail("unavailable", "casehubd did not answer on its control socket within " +
                                std::to_string(control.timeout().count()) +
                                " ms; the command may still be applied: read the case to find out");
    if (!reply->is_object()) fail("internal", "the hub's answer is not a JSON object");
    if (!reply->contains("error")) return *reply;
    const json& e = (*reply)["error"];
    std::string message = e.is_string() ? e.get<std::string>() : e.dump();
    std::string code = reply->value("code", std::string("internal"));
    std::optional<std::string> field;
    if (const auto f = reply->find("field"); f != reply->end() && f->is_string() && !f->get<std::string>().empty())
        field = f->get<std::string>();
    // The hub's own codes are the API's (invalid_argument, not_found, conflict, internal).
    throw ApiError{code, message, field, 0};
}

json json_body(const httplib::Request& req, const std::vector<std::string>& allowed) {
    if (req.has_header("Content-Type")) {
        const std::string ct = req.get_header_value("Content-Type");
        const std::string base = ct.substr(0, ct.find(';'));
        if (base != "application/json" && base.find("+json") == std::string::npos)
            fail("unsupported_media_type", "Content-Type " + ct + " is not application/json", "Content-Type");
    }
    if (req.body.empty()) fail("malformed_json", "the body is empty; expected a JSON object");
    json j;
    try {
        j = json::parse(req.body);
    } catch (const json::parse_error& e) {
        // "[json.exception.parse_error.101] parse error at line 1, column 9: syntax error ..."
        std::string what = e.what();
        if (const auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
        fail("malformed_json", "malformed JSON body (byte " + std::to_string(e.byte) + "): " + what);
    }
    if (!j.is_object()) fail("invalid_argument", std::string("the body must be a JSON object, got ") + j.type_name());
    for (const auto& [k, v] : j.items()) {
        (void)v;
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
            std::string known;
            for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
            fail("invalid_argument", "unknown field \"" + k + "\" (known: " + known + ")", k);
        }
    }
    return j;
}

void check_params(const httplib::Request& req, const std::vector<std::string>& allowed) {
    for (auto it = req.params.begin(); it != req.params.end(); ++it) {
        const std::string& k = it->first;
        if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
            std::string known;
            for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
            fail("invalid_argument", "unknown query parameter \"" + k + "\" (known: " + known + ")", k);
        }
        if (req.params.count(k) > 1) fail("invalid_argument", "query parameter \"" + k + "\" given more than once", k);
    }
}

std::optional<std::string> param(const httplib::Request& req, const std::string& name) {
    if (!req.has_param(name)) return std::nullopt;
    return req.get_param_value(name);
}

std::uint64_t parse_u64(const std::string& v, const std::string& field) {
    std::uint64_t out = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (v.empty() || ec != std::errc() || p != v.data() + v.size())
        fail("invalid_argument", field + " must be an unsigned integer, got \"" + v + "\"", field);
    return out;
}

std::int64_t parse_time(const std::string& v, const std::string& field) {
    std::int64_t ms = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
    if (!v.empty() && ec == std::errc() && p == v.data() + v.size()) return ms;
    if (auto t = sdk::parse_rfc3339_ms(v)) return *t;
    fail("invalid_argument",
         field + " must be Unix milliseconds or an RFC 3339 date-time (2026-11-28T08:00:00+08:00), got \"" + v + "\"",
         field);
}

// ---- notifier -----------------------------------------------------------------------------

void Notifier::notify(std::uint64_t head) {
    {
        std::lock_guard lock(mu_);
        if (head > head_.load()) head_.store(head);
    }
    cv_.notify_all();
}

std::uint64_t Notifier::wait(std::uint64_t seen, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return head_.load() > seen || stopping_.load(); });
    return head_.load();
}

void Notifier::stop() {
    {
        std::lock_guard lock(mu_);
        stopping_.store(true);
    }
    cv_.notify_all();
}

// ---- stats --------------------------------------------------------------------------------

void RequestStats::count(const std::string& route, const std::string& method, int status) {
    std::lock_guard lock(mu_);
    ++counts_[{route, method, status}];
}

std::map<std::tuple<std::string, std::string, int>, std::uint64_t> RequestStats::snapshot() const {
    std::lock_guard lock(mu_);
    return counts_;
}

// ---- router -------------------------------------------------------------------------------

namespace {

std::vector<std::string> split_path(const std::string& path) {
    std::vector<std::string> out;
    std::size_t i = 0;
    if (!path.empty() && path[0] == '/') i = 1;
    while (true) {
        const std::size_t j = path.find('/', i);
        out.push_back(path.substr(i, j == std::string::npos ? std::string::npos : j - i));
        if (j == std::string::npos) break;
        i = j + 1;
    }
    return out;
}

}  // namespace

void Api::add(const std::string& method, const std::string& pattern, Handler handler) {
    routes_.push_back({method, pattern, split_path(pattern), std::move(handler)});
}

bool Api::match(const Route& r, const std::vector<std::string>& path, PathParams* out) {
    if (r.segments.size() != path.size()) return false;
    PathParams params;
    for (std::size_t i = 0; i < path.size(); ++i) {
        const std::string& s = r.segments[i];
        if (s.size() > 2 && s.front() == '{' && s.back() == '}') {
            if (path[i].empty()) return false;
            params[s.substr(1, s.size() - 2)] = path[i];
        } else if (s != path[i]) {
            return false;
        }
    }
    if (out) *out = std::move(params);
    return true;
}

std::string Api::route_of(const std::string& path) const {
    const auto segs = split_path(path);
    for (const auto& r : routes_)
        if (match(r, segs, nullptr)) return r.pattern;
    return "unmatched";
}

void Api::dispatch(const httplib::Request& req, httplib::Response& res) const {
    const auto segs = split_path(req.path);
    std::vector<std::string> allow;
    const std::string method = req.method == "HEAD" ? "GET" : req.method;
    try {
        for (const auto& r : routes_) {
            PathParams params;
            if (!match(r, segs, &params)) continue;
            if (r.method != method) {
                if (std::find(allow.begin(), allow.end(), r.method) == allow.end()) allow.push_back(r.method);
                continue;
            }
            r.handler(req, res, params);
            return;
        }
        if (!allow.empty()) {
            std::string a;
            for (const auto& m : allow) a += (a.empty() ? "" : ", ") + m;
            res.set_header("Allow", a);
            fail("method_not_allowed", req.method + " is not allowed on " + req.path + " (allowed: " + a + ")");
        }
        fail("not_found", "no such endpoint: " + req.path + " (the API is under /api/v1; see docs/api.md)");
    } catch (const ApiError& e) {
        send_error(res, e);
    } catch (const std::exception& e) {  // a bug in a handler must not take a worker down
        spdlog::error("http: {} {}: {}", req.method, req.path, e.what());
        send_error(res, {"internal", std::string("internal error: ") + e.what(), std::nullopt, 0});
    }
}

ReaderPool::Lease lease_or_throw(ReaderPool& pool) {
    auto l = pool.lease();
    if (!l) fail("unavailable", "the store cannot be read: " + l.error().message);
    return std::move(*l);
}

}  // namespace casehub::host::http
