// The runner <-> host protocol on the intake socket (documented in docs/runner-protocol.md).
//
// Transport: the runner's DEALER connects to the host's ROUTER (ipc:// or tcp://). Every
// message is multipart: [command][header JSON][payload frames...]; the ROUTER side sees the
// runner's routing id in front. Commands are short ASCII words so a capture reads well.
#pragma once

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace casehub::wire {

inline constexpr int kVersion = 1;

// runner -> host
inline constexpr std::string_view HELLO = "HELLO";  // {v, adapter, session, pid, plugin{describe}}
inline constexpr std::string_view BATCH = "BATCH";  // {session, batch, cursor, records, dead_letters}
                                                    //  + records frames, then 2 frames per letter
inline constexpr std::string_view BEAT = "BEAT";    // {session, health, health_message, busy_ms, stats}
inline constexpr std::string_view FATAL = "FATAL";  // {session, stage, permanent, message}
inline constexpr std::string_view GONE = "GONE";    // {session}: stopped cleanly, exiting
inline constexpr std::string_view WBDONE = "WBDONE";  // {id, status, message}: write-back outcome
// host -> runner
inline constexpr std::string_view WELCOME = "WELCOME";  // {config, cursor|null, credit, heartbeat_ms, host_timeout_ms}
inline constexpr std::string_view REFUSE = "REFUSE";    // {message}: permanent, do not retry
inline constexpr std::string_view ACK = "ACK";          // {batch, credit}: batches <= batch committed
inline constexpr std::string_view PULSE = "PULSE";      // {}: the host is alive
inline constexpr std::string_view STOP = "STOP";        // {}: stop cleanly
inline constexpr std::string_view BYE = "BYE";          // {reason}: unknown session, exit now
inline constexpr std::string_view WRITEBACK = "WRITEBACK";  // {id, action}: call write_back(action)

// Runner exit codes, read by the supervisor.
inline constexpr int kExitClean = 0;
inline constexpr int kExitLoadFailed = 2;      // permanent: the plugin cannot be loaded
inline constexpr int kExitRefused = 3;         // permanent: config / create / start refused
inline constexpr int kExitHostGone = 4;        // the host went away
inline constexpr int kExitPluginFailed = 5;    // poll failed: restart with backoff
inline constexpr int kExitUsage = 64;

struct Message {
    std::string command;
    nlohmann::json header;
    std::vector<zmq::message_t> payload;
};

// Sends [prefix...][command][header][payload...]. The prefix is the routing id on a ROUTER.
inline bool send(zmq::socket_t& s, const std::string* routing_id, std::string_view command,
                 const nlohmann::json& header, std::vector<zmq::message_t>* payload = nullptr,
                 zmq::send_flags extra = zmq::send_flags::none) {
    if (routing_id) {
        if (!s.send(zmq::buffer(*routing_id), zmq::send_flags::sndmore | extra)) return false;
    }
    const bool more = payload && !payload->empty();
    if (!s.send(zmq::buffer(command), zmq::send_flags::sndmore | extra)) return false;
    std::string h = header.dump();
    if (!s.send(zmq::buffer(h), (more ? zmq::send_flags::sndmore : zmq::send_flags::none) | extra))
        return false;
    if (more) {
        for (std::size_t i = 0; i < payload->size(); ++i) {
            auto f = i + 1 < payload->size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
            if (!s.send((*payload)[i], f | extra)) return false;
        }
    }
    return true;
}

// Receives one whole message (non-blocking when `dontwait`). With `routed`, the first frame
// is taken as the routing id. Returns nullopt when nothing is there; a malformed message comes
// back with command "" and header {"error": ...}.
inline std::optional<Message> recv(zmq::socket_t& s, std::string* routing_id, bool dontwait) {
    std::vector<zmq::message_t> frames;
    zmq::message_t f;
    auto flags = dontwait ? zmq::recv_flags::dontwait : zmq::recv_flags::none;
    if (!s.recv(f, flags)) return std::nullopt;
    frames.push_back(std::move(f));
    while (frames.back().more()) {
        zmq::message_t g;
        (void)s.recv(g);
        frames.push_back(std::move(g));
    }
    std::size_t i = 0;
    if (routing_id) {
        *routing_id = frames[0].to_string();
        i = 1;
    }
    Message m;
    if (frames.size() < i + 2) {
        m.header = {{"error", "message has fewer than 2 frames"}};
        return m;
    }
    m.command = frames[i].to_string();
    m.header = nlohmann::json::parse(frames[i + 1].data<char>(),
                                     frames[i + 1].data<char>() + frames[i + 1].size(), nullptr,
                                     false);
    if (m.header.is_discarded() || !m.header.is_object()) {
        m.command.clear();
        m.header = {{"error", "header frame is not a JSON object"}};
        return m;
    }
    for (std::size_t k = i + 2; k < frames.size(); ++k) m.payload.push_back(std::move(frames[k]));
    return m;
}

}  // namespace casehub::wire
