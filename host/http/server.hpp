// casehubd's HTTP/JSON API (docs/api.md), on cpp-httplib's own worker threads.
//
// The hub thread owns the store's write connection and never waits for HTTP: reads are served
// from the HTTP layer's read-only store connections, writes (actions, merge, split) go to the
// hub as control commands over its control socket, and after each publish the hub calls
// notify(), which only wakes the Server-Sent Events streams waiting for new events.
#pragma once

#include "common/result.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace casehub::host::http {

struct ServerConfig {
    std::string host = "127.0.0.1";
    int port = 8640;
    std::size_t max_body_bytes = 1 << 20;
    std::chrono::seconds sse_heartbeat{15};
    int threads = 16;  // workers; each open event stream holds one
    std::chrono::milliseconds control_timeout{10000};
    std::filesystem::path store;          // the hub's SQLite store (opened read-only)
    std::filesystem::path reference_dir;  // the district's reference data
    std::string control_endpoint;         // the hub's control socket
};

class HttpServer {
public:
    // Loads the reference data, binds host:port and starts serving. The error names the address.
    static Result<std::unique_ptr<HttpServer>> start(ServerConfig config);
    ~HttpServer();  // stop()
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    // Events up to `head` are committed and published (the hub thread, after each publish).
    // Never blocks for longer than a mutex hand-over.
    void notify(std::uint64_t head);
    // Ends event streams, stops accepting, joins the workers; idempotent.
    void stop();
    // "127.0.0.1:8640"
    std::string address() const;

    struct Impl;

private:
    HttpServer() = default;
    std::unique_ptr<Impl> impl_;
};

}  // namespace casehub::host::http
