// One request to casehubd's control socket (REQ/REP, JSON both ways).
#pragma once

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace casehub::cli {

// The hub's JSON answer, or nullopt when nothing answered within `timeout`.
inline std::optional<nlohmann::json> control_request(const std::string& endpoint, const nlohmann::json& request,
                                                     std::chrono::milliseconds timeout) {
    zmq::context_t ctx(1);
    zmq::socket_t s(ctx, zmq::socket_type::req);
    s.set(zmq::sockopt::linger, 0);
    s.connect(endpoint);
    s.send(zmq::buffer(request.dump()));
    zmq::pollitem_t it{static_cast<void*>(s), 0, ZMQ_POLLIN, 0};
    zmq::poll(&it, 1, timeout);
    zmq::message_t m;
    if (!(it.revents & ZMQ_POLLIN) || !s.recv(m)) return std::nullopt;
    return nlohmann::json::parse(m.to_string_view(), nullptr, false);
}

}  // namespace casehub::cli
