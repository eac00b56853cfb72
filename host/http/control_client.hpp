// Writes go to the hub: the HTTP layer sends the same JSON control commands the casehub tool
// sends (case_action, case_merge, case_split, status; host/cli/control.hpp) over the hub's
// control socket (REQ/REP). The hub thread, the store's only writer, does the work.
//
// One REQ socket per request, on the handler's thread (ZeroMQ sockets are not thread-safe; the
// context is). No answer within the timeout: nullopt (the API says 503). The command may still
// be applied by the hub afterwards; the client finds out by reading the case.
#pragma once

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

namespace casehub::host::http {

class ControlClient {
public:
    ControlClient(std::string endpoint, std::chrono::milliseconds timeout);
    ~ControlClient();
    std::optional<nlohmann::json> request(const nlohmann::json& command) const { return request(command, timeout_); }
    std::optional<nlohmann::json> request(const nlohmann::json& command, std::chrono::milliseconds timeout) const;
    std::chrono::milliseconds timeout() const { return timeout_; }
    // From now on requests give up at once (the server is stopping).
    void stop() { stopping_ = true; }
    const std::string& endpoint() const { return endpoint_; }

private:
    std::string endpoint_;
    std::chrono::milliseconds timeout_;
    std::atomic<bool> stopping_{false};
    mutable zmq::context_t ctx_{1};
};

}  // namespace casehub::host::http
