#include "http/server.hpp"

#include "http/api.hpp"
#include "http/routes.hpp"

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <thread>

namespace casehub::host::http {

struct HttpServer::Impl {
    ServerConfig cfg;
    std::unique_ptr<Reference> reference;
    std::unique_ptr<ReaderPool> readers;
    std::unique_ptr<ControlClient> control;
    Notifier notifier;
    std::unique_ptr<Api> api;
    httplib::Server server;
    std::thread thread;
    bool stopped = false;
};

namespace {

// The response httplib made on its own (no handler ran, or none wrote a body) as an API error.
ApiError library_error(const HttpServer::Impl& impl, int status) {
    switch (status) {
        case 413:
            return {"payload_too_large", "the request body is larger than " + std::to_string(impl.cfg.max_body_bytes) +
                                             " bytes (http.max_body_bytes)", std::nullopt, 413};
        case 414: return {"malformed_request", "the request URI is too long", std::nullopt, 414};
        case 400: return {"malformed_request", "malformed HTTP request (request line, header or method)", std::nullopt, 400};
        case 404: return {"not_found", "no such endpoint", std::nullopt, 404};
        case 416: return {"invalid_argument", "range not satisfiable", "Range", 416};
        default: return {"internal", "HTTP error " + std::to_string(status), std::nullopt, status};
    }
}

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::start(ServerConfig cfg) {
    std::unique_ptr<HttpServer> s(new HttpServer());
    s->impl_ = std::make_unique<Impl>();
    Impl& i = *s->impl_;
    i.cfg = std::move(cfg);
    auto ref = Reference::load(i.cfg.reference_dir);
    if (!ref) return make_error("http: " + ref.error().message);
    i.reference = std::make_unique<Reference>(std::move(*ref));
    i.readers = std::make_unique<ReaderPool>(i.cfg.store, static_cast<std::size_t>(i.cfg.threads));
    i.control = std::make_unique<ControlClient>(i.cfg.control_endpoint, i.cfg.control_timeout);
    ApiOptions opts;
    opts.sse_heartbeat = i.cfg.sse_heartbeat;
    // Keep two workers for everything else, however many browsers stream events.
    opts.max_sse_streams = std::max(1, i.cfg.threads - 2);
    opts.max_body_bytes = i.cfg.max_body_bytes;
    opts.listen = i.cfg.host + ":" + std::to_string(i.cfg.port);
    i.api = std::make_unique<Api>(opts, *i.readers, *i.reference, *i.control, i.notifier);
    Api& api = *i.api;
    const ControlClient& control = *i.control;
    api.hub_status = [&control] {
        return control.request({{"cmd", "status"}}, std::min(control.timeout(), std::chrono::milliseconds(2000)));
    };

    add_case_routes(api);
    add_event_routes(api);
    add_ops_routes(api);
    add_whistle_routes(api);

    httplib::Server& svr = i.server;
    const int threads = i.cfg.threads;
    svr.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<std::size_t>(threads)); };
    svr.set_payload_max_length(i.cfg.max_body_bytes);
    // httplib's default also sets SO_REUSEPORT, which lets a second casehubd bind the same port
    // and share its connections: only SO_REUSEADDR (a restart may rebind at once).
    svr.set_socket_options([](socket_t sock) {
        int yes = 1;
        ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    svr.set_keep_alive_timeout(2);  // also bounds how long stop() waits for idle connections
    auto handler = [&api](const httplib::Request& req, httplib::Response& res) { api.dispatch(req, res); };
    svr.Get(".*", handler);
    svr.Post(".*", handler);
    svr.Put(".*", handler);
    svr.Patch(".*", handler);
    svr.Delete(".*", handler);
    svr.Options(".*", handler);
    Impl* ip = &i;
    svr.set_error_handler([ip](const httplib::Request&, httplib::Response& res) {
        if (res.body.empty()) send_error(res, library_error(*ip, res.status));
    });
    svr.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
            if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        spdlog::error("http: {} {}: {}", req.method, req.path, what);
        send_error(res, {"internal", "internal error: " + what, std::nullopt, 500});
    });
    svr.set_logger([&api](const httplib::Request& req, const httplib::Response& res) {
        api.stats.count(req.method.empty() ? "unmatched" : api.route_of(req.path),
                        req.method.empty() ? "?" : req.method, res.status);
    });
    errno = 0;
    if (!svr.bind_to_port(i.cfg.host, i.cfg.port)) {
        const int e = errno;
        return make_error("http: cannot listen on " + opts.listen + (e ? std::string(": ") + std::strerror(e) : "") +
                          " (http.listen)");
    }
    i.thread = std::thread([ip] { ip->server.listen_after_bind(); });
    // stop() is a no-op for a server not yet running: be sure it is before anyone can call it.
    for (int k = 0; k < 1000 && !svr.is_running(); ++k) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    spdlog::info("http: API on http://{}/api/v1 ({} workers)", opts.listen, threads);
    return s;
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::notify(std::uint64_t head) { impl_->notifier.notify(head); }

void HttpServer::stop() {
    if (!impl_ || impl_->stopped) return;
    impl_->stopped = true;
    impl_->notifier.stop();
    impl_->control->stop();
    impl_->server.stop();
    if (impl_->thread.joinable()) impl_->thread.join();
}

std::string HttpServer::address() const { return impl_->api->options.listen; }

}  // namespace casehub::host::http
