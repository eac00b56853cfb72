#include "http/control_client.hpp"

#include <algorithm>

namespace casehub::host::http {

ControlClient::ControlClient(std::string endpoint, std::chrono::milliseconds timeout)
    : endpoint_(std::move(endpoint)), timeout_(timeout) {}

ControlClient::~ControlClient() = default;

std::optional<nlohmann::json> ControlClient::request(const nlohmann::json& command,
                                                     std::chrono::milliseconds timeout) const {
    try {
        zmq::socket_t s(ctx_, zmq::socket_type::req);
        s.set(zmq::sockopt::linger, 0);
        s.connect(endpoint_);
        const std::string body = command.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        if (!s.send(zmq::buffer(body), zmq::send_flags::dontwait)) return std::nullopt;
        zmq::pollitem_t it{static_cast<void*>(s), 0, ZMQ_POLLIN, 0};
        // In slices, so that stop() ends a wait at once.
        const auto end = std::chrono::steady_clock::now() + timeout;
        while (!stopping_) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0) break;
            zmq::poll(&it, 1, std::min(left, std::chrono::milliseconds(100)));
            if (it.revents & ZMQ_POLLIN) break;
        }
        zmq::message_t m;
        if (!(it.revents & ZMQ_POLLIN) || !s.recv(m, zmq::recv_flags::dontwait)) return std::nullopt;
        auto j = nlohmann::json::parse(m.to_string_view(), nullptr, false);
        if (j.is_discarded()) return nlohmann::json{{"error", "the hub answered something that is not JSON"}};
        return j;
    } catch (const zmq::error_t&) {
        return std::nullopt;
    }
}

}  // namespace casehub::host::http
