#include "feed/feed.hpp"

#include "feed/store_read.hpp"
#include "feed/wire.hpp"

#include <spdlog/spdlog.h>
#include <sqlite3.h>
#include <zmq.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <functional>
#include <limits>
#include <unordered_map>
#include <utility>
#include <variant>

namespace casehub::host {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

std::atomic<std::uint64_t> g_unique{0};

std::string unique_inproc(std::string_view what) {
    return "inproc://casehub-" + std::string(what) + "-" + std::to_string(++g_unique);
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

std::string quote(std::string_view s) { return dump(json(std::string(s))); }

std::int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::int64_t clamp_i64(std::uint64_t v) {
    return v > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? std::numeric_limits<std::int64_t>::max()
               : static_cast<std::int64_t>(v);
}

// Reads one whole multipart message without waiting; false when none is there.
bool recv_multipart(zmq::socket_t& s, std::vector<zmq::message_t>& frames) {
    frames.clear();
    zmq::message_t m;
    if (!s.recv(m, zmq::recv_flags::dontwait)) return false;
    frames.push_back(std::move(m));
    while (frames.back().more()) {  // the rest of a multipart message is already there
        zmq::message_t n;
        if (!s.recv(n, zmq::recv_flags::none)) break;
        frames.push_back(std::move(n));
    }
    return true;
}

bool get_u64(const json& h, const char* key, std::uint64_t& out) {
    const auto it = h.find(key);
    if (it == h.end() || !it->is_number_integer()) return false;
    if (!it->is_number_unsigned() && it->get<std::int64_t>() < 0) return false;
    out = it->get<std::uint64_t>();
    return true;
}

bool get_i64(const json& h, const char* key, std::int64_t& out) {
    const auto it = h.find(key);
    if (it == h.end() || !it->is_number_integer()) return false;
    out = it->get<std::int64_t>();
    return true;
}

bool get_str(const json& h, const char* key, std::string& out) {
    const auto it = h.find(key);
    if (it == h.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
}

constexpr const char* kFilterKeys[] = {"street", "community", "grid", "family", "status"};
std::array<const std::optional<std::string>*, 5> filter_fields(const FeedFilter& f) {
    return {&f.street, &f.community, &f.grid, &f.family, &f.status};
}

nlohmann::json case_header(const CaseState& c) {
    return {{"case_id", c.case_id},
            {"seq", c.seq},
            {"status", c.status},
            {"street_code", c.street_code},
            {"community_code", c.community_code},
            {"grid_code", c.grid_code},
            {"category_code", c.category_code},
            {"category_family", c.category_family},
            {"priority", c.priority},
            {"created_at", c.created_at},
            {"updated_at", c.updated_at},
            {"merged_into", c.merged_into ? json(*c.merged_into) : json(nullptr)}};
}

Result<CaseState> parse_case(std::string_view header, std::string doc) {
    const json h = json::parse(header, nullptr, false);
    if (!h.is_object()) return make_error("feed case header: not a JSON object");
    CaseState c;
    const char* missing = nullptr;
    if (!get_str(h, "case_id", c.case_id)) missing = "case_id";
    else if (!get_u64(h, "seq", c.seq)) missing = "seq";
    else if (!get_str(h, "status", c.status)) missing = "status";
    else if (!get_str(h, "street_code", c.street_code)) missing = "street_code";
    else if (!get_str(h, "community_code", c.community_code)) missing = "community_code";
    else if (!get_str(h, "grid_code", c.grid_code)) missing = "grid_code";
    else if (!get_str(h, "category_code", c.category_code)) missing = "category_code";
    else if (!get_str(h, "category_family", c.category_family)) missing = "category_family";
    else if (!get_str(h, "priority", c.priority)) missing = "priority";
    else if (!get_i64(h, "created_at", c.created_at)) missing = "created_at";
    else if (!get_i64(h, "updated_at", c.updated_at)) missing = "updated_at";
    if (missing) return make_error(std::string("feed case header: \"") + missing + "\" missing or of the wrong type");
    if (const auto it = h.find("merged_into"); it != h.end() && it->is_string())
        c.merged_into = it->get<std::string>();
    c.doc = std::move(doc);
    return c;
}

// One reply of the replay endpoint, parsed.
struct Reply {
    enum class Kind { event, events, case_state, end, error, bad } kind = Kind::bad;
    EventRow event;
    std::vector<EventRow> events;  // a pack
    CaseState state;
    json header;          // end / error
    std::string message;  // error / bad
};

Reply parse_reply(std::vector<zmq::message_t>& frames) {
    Reply r;
    std::size_t i = 0;
    if (frames.size() > 1 && frames[0].size() == 0) i = 1;  // an empty delimiter (REQ style)
    const std::size_t n = frames.size() - i;
    if (n < 2) {
        r.message = "replay reply with " + std::to_string(n) + " frame(s); expected 2 or 3";
        return r;
    }
    const std::string_view topic = frames[i].to_string_view();
    const std::string_view header = frames[i + 1].to_string_view();
    if (topic == kEventPackTopic) {
        if (auto p = parse_event_pack(header, r.events); !p) {
            r.message = p.error().message;
            return r;
        }
        r.kind = Reply::Kind::events;
        return r;
    }
    // The document's one copy: from the message into the EventRow's string, moved from there on.
    std::string doc = n >= 3 ? frames[i + 2].to_string() : std::string();
    if (topic.rfind(kEventTopicPrefix, 0) == 0) {
        auto e = parse_event(header, std::move(doc));
        if (!e) {
            r.message = e.error().message;
            return r;
        }
        r.kind = Reply::Kind::event;
        r.event = std::move(*e);
    } else if (topic.rfind(kCaseTopicPrefix, 0) == 0) {
        auto c = parse_case(header, std::move(doc));
        if (!c) {
            r.message = c.error().message;
            return r;
        }
        r.kind = Reply::Kind::case_state;
        r.state = std::move(*c);
    } else if (topic == kEndTopic || topic == kErrorTopic) {
        r.header = json::parse(header, nullptr, false);
        if (!r.header.is_object()) {
            r.message = "replay " + std::string(topic) + " message: not a JSON object";
            return r;
        }
        if (topic == kEndTopic) {
            r.kind = Reply::Kind::end;
        } else {
            r.kind = Reply::Kind::error;
            r.message = r.header.value("error", std::string("(no message)"));
        }
    } else {
        r.message = "replay reply with unknown topic " + quote(topic);
    }
    return r;
}

// The client side of the replay endpoint: one DEALER, one request at a time. reset() reopens
// the socket (Lazy Pirate), so the replies to an abandoned request can never be read.
class Requester {
public:
    Requester(zmq::context_t& ctx, std::string endpoint) : ctx_(ctx), endpoint_(std::move(endpoint)) {}

    // Throws zmq::error_t on a malformed endpoint (only called at start-up and from reset()).
    void open() {
        sock_ = zmq::socket_t(ctx_, zmq::socket_type::dealer);
        sock_.set(zmq::sockopt::linger, 0);
        sock_.set(zmq::sockopt::rcvhwm, 2 * static_cast<int>(kMaxPageLimit) + 16);
        sock_.connect(endpoint_);
    }
    bool reset() {
        try {
            sock_.close();
            open();
            return true;
        } catch (const zmq::error_t&) {
            return false;
        }
    }
    // Adds {"req": n}; false when it could not be queued.
    bool send(json request) {
        request["req"] = ++next_req_;
        current_ = next_req_;
        try {
            return sock_.send(zmq::buffer(dump(request)), zmq::send_flags::dontwait).has_value();
        } catch (const zmq::error_t&) {
            return false;
        }
    }
    // Nothing waiting: nullopt. An end or error of another request is returned as bad.
    std::optional<Reply> recv() {
        try {
            if (!recv_multipart(sock_, frames_)) return std::nullopt;
        } catch (const zmq::error_t& e) {
            Reply r;
            r.message = std::string("replay socket: ") + e.what();
            return r;
        }
        Reply r = parse_reply(frames_);
        if (r.kind == Reply::Kind::end || r.kind == Reply::Kind::error) {
            const auto it = r.header.find("req");
            if (it == r.header.end() || !it->is_number_unsigned() || it->get<std::uint64_t>() != current_) {
                Reply stale;
                stale.message = "stale";
                stale.header = {{"stale", true}};
                return stale;
            }
        }
        return r;
    }
    zmq::socket_t& socket() { return sock_; }
    const std::string& endpoint() const { return endpoint_; }

private:
    zmq::context_t& ctx_;
    std::string endpoint_;
    zmq::socket_t sock_;
    std::uint64_t next_req_ = 0, current_ = 0;
    std::vector<zmq::message_t> frames_;
};

bool is_stale(const Reply& r) { return r.kind == Reply::Kind::bad && r.header.is_object() && r.header.contains("stale"); }

}  // namespace

// ---- wire ---------------------------------------------------------------------------------

std::string event_topic(std::string_view street_code) {
    std::string t(kEventTopicPrefix);
    t += street_code.empty() ? std::string_view("-") : street_code;
    t += '.';
    return t;
}

std::string case_topic(std::string_view street_code) {
    std::string t(kCaseTopicPrefix);
    t += street_code.empty() ? std::string_view("-") : street_code;
    t += '.';
    return t;
}

json event_header(const EventRow& e) {
    json h = {{"seq", e.seq},
              {"type", e.type},
              {"case_id", e.case_id},
              {"street_code", e.street_code},
              {"prev_street_seq", e.prev_street_seq},
              {"community_code", e.community_code},
              {"grid_code", e.grid_code},
              {"category_family", e.category_family},
              {"status", e.status},
              {"at", e.at}};
    if (e.detail.empty()) {
        h["detail"] = json::object();
    } else {
        json d = json::parse(e.detail, nullptr, false);
        h["detail"] = d.is_discarded() ? json(e.detail) : std::move(d);
    }
    return h;
}

std::string event_header_text(const EventRow& e) {
    std::string out;
    out.reserve(256 + e.detail.size());
    if (wire::append_event_header(out, wire::fields_of(e))) return out;
    return dump(event_header(e));
}

namespace {

void put_u32(std::string& out, std::size_t v) {
    const auto n = static_cast<std::uint32_t>(v);
    const char b[4] = {static_cast<char>(n), static_cast<char>(n >> 8), static_cast<char>(n >> 16),
                       static_cast<char>(n >> 24)};
    out.append(b, 4);
}

bool get_u32(std::string_view in, std::size_t& at, std::uint32_t& v) {
    if (in.size() - at < 4) return false;
    const auto* b = reinterpret_cast<const unsigned char*>(in.data() + at);
    v = std::uint32_t{b[0]} | std::uint32_t{b[1]} << 8 | std::uint32_t{b[2]} << 16 | std::uint32_t{b[3]} << 24;
    at += 4;
    return true;
}

}  // namespace

void append_to_pack(std::string& pack, std::string_view header, std::string_view doc) {
    put_u32(pack, header.size());
    pack += header;
    put_u32(pack, doc.size());
    pack += doc;
}

Result<void> parse_event_pack(std::string_view pack, std::vector<EventRow>& out) {
    std::size_t at = 0;
    for (std::size_t k = 0; at < pack.size(); ++k) {
        const std::size_t start = at;
        std::uint32_t hn = 0, dn = 0;
        auto truncated = [&] {
            return make_error("replay events pack of " + std::to_string(pack.size()) + " bytes: event " +
                              std::to_string(k) + " at byte " + std::to_string(start) + " is cut short");
        };
        if (!get_u32(pack, at, hn) || pack.size() - at < hn) return truncated();
        const std::string_view header = pack.substr(at, hn);
        at += hn;
        if (!get_u32(pack, at, dn) || pack.size() - at < dn) return truncated();
        auto e = parse_event(header, std::string(pack.substr(at, dn)));
        at += dn;
        if (!e)
            return make_error("replay events pack: event " + std::to_string(k) + " at byte " + std::to_string(start) +
                              ": " + e.error().message);
        out.push_back(std::move(*e));
    }
    return {};
}

Result<EventRow> parse_event(std::string_view header, std::string doc) {
    EventRow e;
    if (!wire::parse_event_header_fast(header, e)) return parse_event_json(header, std::move(doc));
    e.doc = std::move(doc);
    return e;
}

Result<EventRow> parse_event_json(std::string_view header, std::string doc) {
    const json h = json::parse(header, nullptr, false);
    if (!h.is_object()) return make_error("feed event header: not a JSON object");
    EventRow e;
    const char* missing = nullptr;
    if (!get_u64(h, "seq", e.seq)) missing = "seq";
    else if (!get_str(h, "type", e.type)) missing = "type";
    else if (!get_str(h, "case_id", e.case_id)) missing = "case_id";
    else if (!get_str(h, "street_code", e.street_code)) missing = "street_code";
    else if (!get_u64(h, "prev_street_seq", e.prev_street_seq)) missing = "prev_street_seq";
    else if (!get_str(h, "community_code", e.community_code)) missing = "community_code";
    else if (!get_str(h, "grid_code", e.grid_code)) missing = "grid_code";
    else if (!get_str(h, "category_family", e.category_family)) missing = "category_family";
    else if (!get_str(h, "status", e.status)) missing = "status";
    else if (!get_i64(h, "at", e.at)) missing = "at";
    if (missing)
        return make_error(std::string("feed event header: \"") + missing + "\" missing or of the wrong type");
    if (const auto it = h.find("detail"); it != h.end())
        e.detail = it->is_string() ? it->get<std::string>() : dump(*it);
    else
        e.detail = "{}";
    e.doc = std::move(doc);
    return e;
}

// ---- filters ------------------------------------------------------------------------------

bool FeedFilter::matches(const EventRow& e) const {
    return (!street || *street == e.street_code) && (!community || *community == e.community_code) &&
           (!grid || *grid == e.grid_code) && (!family || *family == e.category_family) &&
           (!status || *status == e.status);
}

json FeedFilter::to_json() const {
    json j = json::object();
    const auto fields = filter_fields(*this);
    for (std::size_t i = 0; i < fields.size(); ++i)
        if (*fields[i]) j[kFilterKeys[i]] = **fields[i];
    return j;
}

Result<FeedFilter> FeedFilter::from_json(const json& request) {
    FeedFilter f;
    if (!request.is_object()) return f;
    std::array<std::optional<std::string>*, 5> fields = {&f.street, &f.community, &f.grid, &f.family, &f.status};
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const auto it = request.find(kFilterKeys[i]);
        if (it == request.end()) continue;
        if (!it->is_string())
            return make_error(std::string("filter \"") + kFilterKeys[i] + "\" must be a string, got " +
                              dump(*it));
        *fields[i] = it->get<std::string>();
    }
    return f;
}

std::string FeedFilter::topic() const { return street ? event_topic(*street) : std::string(kEventTopicPrefix); }

// ---- publisher ----------------------------------------------------------------------------

Result<std::unique_ptr<FeedPublisher>> FeedPublisher::create(zmq::context_t& ctx, const std::string& endpoint,
                                                             PublisherOptions options) {
    std::unique_ptr<FeedPublisher> p(new FeedPublisher());
    try {
        p->pub_ = zmq::socket_t(ctx, zmq::socket_type::pub);
        p->pub_.set(zmq::sockopt::sndhwm, options.sndhwm);
        p->pub_.set(zmq::sockopt::linger, 0);
        p->pub_.bind(endpoint);
        p->endpoint_ = p->pub_.get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
        return make_error("feed: cannot bind the feed endpoint " + endpoint + ": " + e.what());
    }
    // Connection count from the socket monitor (best effort: a failure only loses the count).
    const std::string mon = unique_inproc("feed-monitor");
    if (zmq_socket_monitor(p->pub_.handle(), mon.c_str(), ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) == 0) {
        try {
            p->monitor_ = zmq::socket_t(ctx, zmq::socket_type::pair);
            p->monitor_.set(zmq::sockopt::linger, 0);
            p->monitor_.connect(mon);
        } catch (const zmq::error_t&) {
            p->monitor_ = zmq::socket_t();
        }
    }
    return p;
}

FeedPublisher::~FeedPublisher() {
    if (pub_ && monitor_) zmq_socket_monitor(pub_.handle(), nullptr, 0);
}

void FeedPublisher::publish(const std::vector<EventRow>& events) {
    for (const auto& e : events) {
        try {
            const std::string topic = event_topic(e.street_code);
            const std::string header = event_header_text(e);
            const auto more = zmq::send_flags::sndmore | zmq::send_flags::dontwait;
            if (pub_.send(zmq::buffer(topic), more) && pub_.send(zmq::buffer(header), more) &&
                pub_.send(zmq::buffer(e.doc), zmq::send_flags::dontwait))
                ++events_;
            else
                ++failures_;
        } catch (const zmq::error_t& ex) {
            if (failures_++ == 0) spdlog::warn("feed: cannot publish on {}: {}", endpoint_, ex.what());
        }
        head_ = std::max(head_, e.seq);
        auto& s = streets_[e.street_code];
        s = std::max(s, e.seq);
    }
}

void FeedPublisher::heartbeat(std::uint64_t head_seq, const std::map<std::string, std::uint64_t>& last_seq_per_street) {
    const json h = {{"type", "heartbeat"},
                    {"protocol", kFeedProtocol},
                    {"head", head_seq},
                    {"streets", last_seq_per_street},
                    {"at", now_ms()}};
    try {
        const std::string header = dump(h);
        if (pub_.send(zmq::buffer(kHeartbeatTopic), zmq::send_flags::sndmore | zmq::send_flags::dontwait) &&
            pub_.send(zmq::buffer(header), zmq::send_flags::dontwait))
            ++heartbeats_;
        else
            ++failures_;
    } catch (const zmq::error_t& ex) {
        if (failures_++ == 0) spdlog::warn("feed: cannot send a heartbeat on {}: {}", endpoint_, ex.what());
    }
    drain_monitor();
}

void FeedPublisher::heartbeat() { heartbeat(head_, streets_); }

void FeedPublisher::seed(std::uint64_t head_seq, std::map<std::string, std::uint64_t> last_seq_per_street) {
    head_ = std::max(head_, head_seq);
    for (auto& [street, seq] : last_seq_per_street) {
        auto& s = streets_[street];
        s = std::max(s, seq);
    }
}

void FeedPublisher::drain_monitor() {
    if (!monitor_) return;
    std::vector<zmq::message_t> frames;
    try {
        for (int i = 0; i < 1000 && recv_multipart(monitor_, frames); ++i) {
            if (frames.empty() || frames[0].size() < sizeof(std::uint16_t)) continue;
            std::uint16_t event = 0;
            std::memcpy(&event, frames[0].data(), sizeof event);
            if (event == ZMQ_EVENT_ACCEPTED) ++connections_;
            else if (event == ZMQ_EVENT_DISCONNECTED && connections_ > 0) --connections_;
        }
    } catch (const zmq::error_t&) {
    }
}

Result<FeedHead> read_feed_head(const fs::path& store) {
    auto db = ReadDb::open(store, "feed");
    if (!db) return db.error();
    FeedHead out;
    ReadTxn txn(**db);
    if (auto r = txn.begin(); !r) return r.error();
    auto h = (*db)->head();
    if (!h) return make_error("feed: cannot read the head of " + h.error().message);
    out.head = *h;
    // street_heads since schema 8 (a view since 9); a store no hub of that version opened yet has
    // only events.
    bool has_heads = false;
    auto r = (*db)->query("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name='street_heads'", {},
                          [&](sqlite3_stmt*) {
                              has_heads = true;
                              return false;
                          });
    if (!r) return make_error("feed: cannot read the streets' last events: " + r.error().message);
    r = (*db)->query(has_heads ? "SELECT street_code, seq FROM street_heads"
                               : "SELECT street_code, MAX(seq) FROM events GROUP BY street_code",
                     {}, [&](sqlite3_stmt* s) {
                         out.last_seq_per_street[column_bytes(s, 0)] = static_cast<std::uint64_t>(sqlite3_column_int64(s, 1));
                         return true;
                     });
    if (!r) return make_error("feed: cannot read the streets' last events: " + r.error().message);
    return out;
}

// ---- replay server ------------------------------------------------------------------------

struct ReplayServer::Impl {
    ReplayOptions options;
    std::unique_ptr<ReadDb> db;
    zmq::socket_t router, stop;
    std::string endpoint;
    std::atomic<std::uint64_t> requests{0}, errors{0}, events_sent{0}, cases_sent{0}, aborted{0};
    bool not_found_ = false;  // the failed request named an unknown case

    // The answer being sent: the client's envelope and whether the rest of the answer was
    // dropped (its queue full, or it is gone). Items go out as the statement steps, never built
    // up first, so the client starts on a page while the server still reads it.
    const std::vector<zmq::message_t>* env = nullptr;
    std::size_t env_body = 1;
    bool cut = false;
    bool terminating = false;  // the context is ending (seen inside a query: leave after it)
    std::string topic_buf, header_buf;  // reused per item
    std::unique_ptr<std::string> pack;   // events of a packed answer not sent yet
    std::uint64_t canonical_from = std::numeric_limits<std::uint64_t>::max();  // read per since
    bool has_meta = false;

    struct Request {
        std::string op;
        FeedFilter filter;
        std::uint64_t seq = 0;
        std::uint32_t limit = 0;
        std::string after, case_id;
        bool include_closed = false;
        bool pack = false;  // since: events packed several to a message
        std::optional<std::uint64_t> changed_since;
    };

    void run() {
        zmq::pollitem_t items[] = {{router.handle(), 0, ZMQ_POLLIN, 0}, {stop.handle(), 0, ZMQ_POLLIN, 0}};
        std::vector<zmq::message_t> frames;
        for (;;) {
            try {
                zmq::poll(items, 2, std::chrono::milliseconds(-1));
                if (items[1].revents & ZMQ_POLLIN) break;
                if (!(items[0].revents & ZMQ_POLLIN)) continue;
                for (int i = 0; i < 64 && !terminating && recv_multipart(router, frames); ++i) serve(frames);
                if (terminating) break;
            } catch (const zmq::error_t& e) {
                if (e.num() == EINTR) continue;
                if (e.num() != ETERM) spdlog::error("replay server on {}: {}", endpoint, e.what());
                break;
            }
        }
        router.close();
        stop.close();
    }

    void serve(std::vector<zmq::message_t>& frames) {
        ++requests;
        // [routing id][optional empty delimiter][request]
        std::size_t body = 1;
        if (frames.size() >= 3 && frames[1].size() == 0) body = 2;
        env = &frames;
        env_body = body;
        cut = false;
        pack.reset();
        json req_id;
        if (frames.size() != body + 1) {
            error(req_id, "bad_request",
                  "request must be one frame of JSON, got " + std::to_string(frames.size() > 0 ? frames.size() - 1 : 0) + " frames");
        } else {
            handle(frames[body].to_string_view(), req_id);
        }
        env = nullptr;
    }

    void error(const json& req_id, std::string code, std::string message) {
        json e = {{"error", std::move(message)}, {"code", std::move(code)}};
        if (!req_id.is_null()) e["req"] = req_id;
        emit(kErrorTopic, dump(e));
    }

    // Sends one reply message to the client being answered: its envelope, then what `body`
    // sends. False once the answer is cut off.
    template <class Body>
    bool send_reply(Body&& body) {
        if (cut) return false;
        const auto& frames = *env;
        try {
            // ROUTER_MANDATORY: EAGAIN (nullopt) when this client's queue is full, EHOSTUNREACH
            // (throws) when it is gone. Either way the rest is abandoned; the client times out
            // and asks again.
            if (!router.send(zmq::buffer(frames[0].data(), frames[0].size()),
                             zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
                ++aborted;
                cut = true;
                return false;
            }
            if (env_body == 2) router.send(zmq::message_t(), zmq::send_flags::sndmore);
            body();
        } catch (const zmq::error_t& e) {
            if (e.num() == ETERM) terminating = true;
            else ++aborted;
            cut = true;
            return false;
        }
        return true;
    }

    bool emit(std::string_view topic, std::string_view header, const void* doc = nullptr, std::size_t doc_size = 0,
              bool has_doc = false) {
        return send_reply([&] {
            router.send(zmq::buffer(topic), zmq::send_flags::sndmore);
            router.send(zmq::buffer(header), has_doc ? zmq::send_flags::sndmore : zmq::send_flags::none);
            if (has_doc) router.send(zmq::buffer(doc, doc_size), zmq::send_flags::none);
        });
    }

    // Sends the events packed so far, if any. The pack's buffer is handed to ZeroMQ as it is
    // (no copy); ZeroMQ's I/O thread frees it once sent.
    bool flush_pack() {
        if (!pack || pack->empty()) return !cut;
        std::unique_ptr<std::string> p = std::move(pack);
        return send_reply([&] {
            router.send(zmq::buffer(kEventPackTopic), zmq::send_flags::sndmore);
            std::string* raw = p.get();
            zmq::message_t m(raw->data(), raw->size(), [](void*, void* hint) { delete static_cast<std::string*>(hint); },
                             raw);
            p.release();  // ZeroMQ owns it now
            router.send(std::move(m), zmq::send_flags::none);
        });
    }

    // Reads and checks a request; on failure the error reply has been sent.
    bool parse(std::string_view body, Request& r, json& req_id) {
        if (body.size() > 65536) {
            error(req_id, "bad_request", "request is " + std::to_string(body.size()) + " bytes; at most 65536 are accepted");
            return false;
        }
        const json j = json::parse(body, nullptr, false);
        if (j.is_discarded()) {
            error(req_id, "bad_request", "request is not valid JSON");
            return false;
        }
        if (!j.is_object()) {
            error(req_id, "bad_request", "request must be a JSON object, got " + std::string(j.type_name()));
            return false;
        }
        if (auto it = j.find("req"); it != j.end()) req_id = *it;
        const auto op = j.find("op");
        if (op == j.end() || !op->is_string()) {
            error(req_id, "bad_request", "request has no \"op\" (since, snapshot, case or head)");
            return false;
        }
        r.op = op->get<std::string>();
        std::vector<std::string> allowed = {"op", "req"};
        const bool filters = r.op == "since" || r.op == "snapshot";
        if (r.op == "since") allowed.insert(allowed.end(), {"seq", "limit", "pack"});
        else if (r.op == "snapshot") allowed.insert(allowed.end(), {"after", "limit", "include_closed", "changed_since"});
        else if (r.op == "case") allowed.insert(allowed.end(), {"case_id", "seq", "limit"});
        else if (r.op != "head") {
            error(req_id, "bad_request", "unknown op " + quote(r.op) + " (since, snapshot, case or head)");
            return false;
        }
        if (filters) allowed.insert(allowed.end(), std::begin(kFilterKeys), std::end(kFilterKeys));
        const std::string where = r.op + " request: ";
        for (const auto& [k, v] : j.items()) {
            (void)v;
            if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
                std::string known;
                for (const auto& a : allowed) known += (known.empty() ? "" : ", ") + a;
                error(req_id, "bad_request", where + "unknown key " + quote(k) + " (known: " + known + ")");
                return false;
            }
        }
        auto u64 = [&](const char* key, bool required, std::uint64_t& value) {
            const auto it = j.find(key);
            if (it == j.end()) {
                if (required) error(req_id, "bad_request", where + "\"" + key + "\" is missing");
                return !required;
            }
            if (!it->is_number_unsigned()) {
                error(req_id, "bad_request", where + "\"" + key + "\" must be a non-negative integer, got " + dump(*it));
                return false;
            }
            value = it->get<std::uint64_t>();
            return true;
        };
        std::uint64_t limit = options.default_limit;
        if (!u64("limit", false, limit)) return false;
        if (limit == 0) {
            error(req_id, "bad_request", where + "\"limit\" must be at least 1");
            return false;
        }
        r.limit = static_cast<std::uint32_t>(std::min<std::uint64_t>(limit, options.max_limit));
        if (r.op == "since" && !u64("seq", true, r.seq)) return false;
        if (auto it = j.find("pack"); it != j.end()) {
            if (!it->is_boolean()) {
                error(req_id, "bad_request", where + "\"pack\" must be true or false, got " + dump(*it));
                return false;
            }
            r.pack = it->get<bool>();
        }
        if (r.op == "case") {
            if (!u64("seq", false, r.seq)) return false;
            const auto it = j.find("case_id");
            if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
                error(req_id, "bad_request", where + "\"case_id\" must be a non-empty string");
                return false;
            }
            r.case_id = it->get<std::string>();
        }
        if (r.op == "snapshot") {
            if (auto it = j.find("after"); it != j.end()) {
                if (!it->is_string()) {
                    error(req_id, "bad_request", where + "\"after\" must be a case_id string, got " + dump(*it));
                    return false;
                }
                r.after = it->get<std::string>();
            }
            if (auto it = j.find("include_closed"); it != j.end()) {
                if (!it->is_boolean()) {
                    error(req_id, "bad_request", where + "\"include_closed\" must be true or false, got " + dump(*it));
                    return false;
                }
                r.include_closed = it->get<bool>();
            }
            std::uint64_t since = 0;
            if (j.contains("changed_since")) {
                if (!u64("changed_since", true, since)) return false;
                r.changed_since = since;
            }
        }
        if (filters) {
            auto f = FeedFilter::from_json(j);
            if (!f) {
                error(req_id, "bad_request", where + f.error().message);
                return false;
            }
            r.filter = std::move(*f);
        }
        return true;
    }

    void handle(std::string_view body, json& req_id) {
        Request r;
        if (!parse(body, r, req_id)) {
            ++errors;
            return;
        }
        json end;
        Result<void> done = r.op == "since"      ? since(r, end)
                            : r.op == "snapshot" ? snapshot(r, end)
                            : r.op == "case"     ? one_case(r, end)
                                                 : head(end);
        if (!done) {
            ++errors;
            const bool not_found = not_found_;
            not_found_ = false;
            if (!not_found) spdlog::warn("replay server: {} request failed: {}", r.op, done.error().message);
            // Items may have gone out before a store failure: they are right, the page is
            // cut short by the error (a client asks again from its last event).
            error(req_id, not_found ? "not_found" : "store", done.error().message);
            return;
        }
        if (cut) return;  // the rest of this answer was dropped: no end, the client asks again
        end["end"] = true;
        if (!req_id.is_null()) end["req"] = req_id;
        emit(kEndTopic, dump(end));
    }

    bool emit_event(const EventRow& e) {
        topic_buf = event_topic(e.street_code);
        header_buf = event_header_text(e);
        return emit(topic_buf, header_buf, e.doc.data(), e.doc.size(), true);
    }

    // One event of event_columns() straight from the row, no EventRow: the header written from
    // views of the columns, the document copied once, from SQLite's page into the message.
    // Packed: into the pack, which goes out once it holds options.pack_bytes.
    bool emit_event_row(sqlite3_stmt* s, std::uint64_t& seq, std::size_t& doc_bytes, bool packed) {
        wire::EventFields f = event_fields(s);
        f.detail_canonical = f.seq >= canonical_from;
        const std::string_view doc = column_view(s, 11);
        header_buf.clear();
        if (!wire::append_event_header(header_buf, f)) header_buf = dump(event_header(read_event(s, false)));
        seq = f.seq;
        doc_bytes = doc.size();
        if (packed) {
            if (cut) return false;
            if (!pack) {
                pack = std::make_unique<std::string>();
                pack->reserve(options.pack_bytes + 16384);
            }
            append_to_pack(*pack, header_buf, doc);
            return pack->size() < options.pack_bytes || flush_pack();
        }
        topic_buf.assign(kEventTopicPrefix);
        topic_buf += f.street_code.empty() ? std::string_view("-") : f.street_code;
        topic_buf += '.';
        return emit(topic_buf, header_buf, doc.data(), doc.size(), true);
    }

    bool emit_case(const CaseState& c) {
        topic_buf = case_topic(c.street_code);
        header_buf = dump(case_header(c));
        return emit(topic_buf, header_buf, c.doc.data(), c.doc.size(), true);
    }

    // The store's kDetailCanonicalFrom: details of events from there on go into headers
    // unchecked. Absent (a store no hub of this version opened yet): every detail is checked.
    Result<void> read_canonical_from() {
        canonical_from = std::numeric_limits<std::uint64_t>::max();
        if (!has_meta) {  // a store not written by casehubd (tests' own) may have no meta table
            auto r = db->query("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'", {},
                               [&](sqlite3_stmt*) {
                                   has_meta = true;
                                   return false;
                               });
            if (!r || !has_meta) return r;
        }
        return db->query("SELECT value FROM meta WHERE key=?", {std::string(kDetailCanonicalFrom)},
                         [&](sqlite3_stmt* s) {
                             const std::string_view v = column_view(s, 0);
                             std::uint64_t n = 0;
                             const auto res = std::from_chars(v.data(), v.data() + v.size(), n);
                             if (res.ec == std::errc() && res.ptr == v.data() + v.size()) canonical_from = n;
                             return false;
                         });
    }

    Result<void> head(json& end) {
        ReadTxn txn(*db);
        if (auto t = txn.begin(); !t) return t;
        auto h = db->head();
        if (!h) return h.error();
        end = {{"head", *h}, {"seq", *h}};
        return {};
    }

    Result<void> since(const Request& r, json& end) {
        ReadTxn txn(*db);
        if (auto t = txn.begin(); !t) return t;
        auto h = db->head();
        if (!h) return h.error();
        if (auto c = read_canonical_from(); !c) return c;
        std::uint32_t n = 0;
        std::size_t bytes = 0;
        std::uint64_t last = 0;
        bool more = false;
        auto q = for_each_event(*db, r.seq, *h, r.filter, true, [&](sqlite3_stmt* s) {
            if (n == r.limit || bytes >= options.max_page_bytes) {
                more = true;
                return false;
            }
            std::uint64_t seq = 0;
            std::size_t doc_bytes = 0;
            if (!emit_event_row(s, seq, doc_bytes, r.pack)) return false;
            ++n;
            bytes += doc_bytes;
            last = seq;
            return true;
        });
        // The events read go out before the end, and before an error: they are right.
        flush_pack();
        if (!q) return q;
        events_sent += n;
        end = {{"upto", more ? last : std::max(r.seq, *h)}, {"head", *h}, {"more", more}, {"count", n}};
        return {};
    }

    Result<void> snapshot(const Request& r, json& end) {
        ReadTxn txn(*db);
        if (auto t = txn.begin(); !t) return t;
        auto h = db->head();
        if (!h) return h.error();
        std::vector<Bind> binds = {r.after};
        std::string sql = std::string(kCaseColumns) + " WHERE case_id > ?";
        if (!r.include_closed) sql += " AND casehub_is_open(status)";
        if (r.changed_since) {
            auto clause = changed_since_clause(*db, clamp_i64(*r.changed_since), r.limit);
            if (!clause) return clause.error();
            sql += *clause;
            binds.emplace_back(clamp_i64(*r.changed_since));
        }
        sql += filter_sql(r.filter, binds) + " ORDER BY case_id LIMIT ?";
        binds.emplace_back(static_cast<std::int64_t>(r.limit) + 1);
        std::uint32_t n = 0;
        std::size_t bytes = 0;
        std::string last;
        bool more = false;
        auto q = db->query(sql, binds, [&](sqlite3_stmt* s) {
            if (n == r.limit || bytes >= options.max_page_bytes) {
                more = true;
                return false;
            }
            CaseState c = read_case(s);
            if (!emit_case(c)) return false;
            ++n;
            bytes += c.doc.size();
            last = c.case_id;
            return true;
        });
        if (!q) return q;
        cases_sent += n;
        end = {{"seq", *h}, {"head", *h}, {"more", more}, {"count", n},
               {"last", last.empty() ? json(nullptr) : json(last)}};
        return {};
    }

    Result<void> one_case(const Request& r, json& end) {
        ReadTxn txn(*db);
        if (auto t = txn.begin(); !t) return t;
        auto h = db->head();
        if (!h) return h.error();
        std::optional<CaseState> state;
        auto q = db->query(std::string(kCaseColumns) + " WHERE case_id = ?", {r.case_id}, [&](sqlite3_stmt* s) {
            state = read_case(s);
            return false;
        });
        if (!q) return q;
        if (!state) {
            not_found_ = true;
            return make_error("case " + quote(r.case_id) + " not found");
        }
        if (emit_case(*state)) ++cases_sent;
        std::uint32_t n = 0;
        std::uint64_t last = r.seq;
        bool more = false;
        q = db->query(event_columns() + " WHERE case_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                      {r.case_id, clamp_i64(r.seq), static_cast<std::int64_t>(r.limit) + 1}, [&](sqlite3_stmt* s) {
                          if (n == r.limit) {
                              more = true;
                              return false;
                          }
                          EventRow e = read_event(s);
                          if (!emit_event(e)) return false;
                          ++n;
                          last = e.seq;
                          return true;
                      });
        if (!q) return q;
        events_sent += n;
        end = {{"seq", *h}, {"head", *h}, {"more", more}, {"count", n}, {"upto", last}};
        return {};
    }
};

Result<std::unique_ptr<ReplayServer>> ReplayServer::start(zmq::context_t& ctx, const fs::path& store,
                                                          const std::string& endpoint, ReplayOptions options) {
    auto db = ReadDb::open(store, "feed");
    if (!db) return db.error();
    for (const char* probe : {"SELECT seq, prev_street_seq, doc FROM events LIMIT 0",
                              "SELECT case_id, seq, category_code, merged_into, doc FROM cases LIMIT 0"}) {
        if (auto r = (*db)->query(probe, {}, [](sqlite3_stmt*) { return false; }); !r)
            return make_error("feed: store " + store.string() + " lacks the feed's tables: " + r.error().message);
    }
    std::unique_ptr<ReplayServer> s(new ReplayServer());
    s->impl_ = std::make_unique<Impl>();
    Impl& impl = *s->impl_;
    impl.options = options;
    impl.db = std::move(*db);
    try {
        impl.router = zmq::socket_t(ctx, zmq::socket_type::router);
        impl.router.set(zmq::sockopt::router_mandatory, 1);
        impl.router.set(zmq::sockopt::sndhwm, options.sndhwm);
        impl.router.set(zmq::sockopt::linger, 0);
        impl.router.bind(endpoint);
        impl.endpoint = impl.router.get(zmq::sockopt::last_endpoint);
        const std::string stop_ep = unique_inproc("replay-stop");
        s->stop_ = zmq::socket_t(ctx, zmq::socket_type::pair);
        s->stop_.set(zmq::sockopt::linger, 0);
        s->stop_.bind(stop_ep);
        impl.stop = zmq::socket_t(ctx, zmq::socket_type::pair);
        impl.stop.set(zmq::sockopt::linger, 0);
        impl.stop.connect(stop_ep);
    } catch (const zmq::error_t& e) {
        return make_error("feed: cannot bind the snapshot endpoint " + endpoint + ": " + e.what());
    }
    // The thread takes no process signals (casehubd waits for SIGTERM on a signalfd, which only
    // works while every thread blocks it): it is born with all of them blocked.
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    s->thread_ = std::thread([&impl] {
        pthread_setname_np(pthread_self(), "replay");  // for top -H and casehub-bench
        impl.run();
    });
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return s;
}

ReplayServer::~ReplayServer() { stop(); }

void ReplayServer::stop() {
    if (!thread_.joinable()) return;
    try {
        stop_.send(zmq::str_buffer("stop"), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {  // the context is ending: the thread sees ETERM itself
    }
    thread_.join();
    stop_.close();
}

ReplayServer::Stats ReplayServer::stats() const {
    Stats s;
    if (!impl_) return s;
    s.requests = impl_->requests;
    s.errors = impl_->errors;
    s.events_sent = impl_->events_sent;
    s.cases_sent = impl_->cases_sent;
    s.aborted = impl_->aborted;
    return s;
}

// ---- replay client ------------------------------------------------------------------------

struct ReplayClient::Impl {
    Requester rq;
    bool opened = false;
    Impl(zmq::context_t& ctx, std::string endpoint) : rq(ctx, std::move(endpoint)) {}
};

ReplayClient::ReplayClient(zmq::context_t& ctx, std::string endpoint)
    : impl_(std::make_unique<Impl>(ctx, std::move(endpoint))) {}

ReplayClient::~ReplayClient() = default;

Result<ReplayPage> ReplayClient::request(json request, std::chrono::milliseconds timeout) {
    Requester& rq = impl_->rq;
    if (!impl_->opened) {
        try {
            rq.open();
        } catch (const zmq::error_t& e) {
            return make_error("snapshot endpoint " + rq.endpoint() + ": " + e.what());
        }
        impl_->opened = true;
    }
    const std::string op = request.value("op", std::string("?"));
    if (!rq.send(std::move(request)))
        return make_error("snapshot endpoint " + rq.endpoint() + ": cannot send the " + op + " request");
    ReplayPage page;
    auto deadline = Clock::now() + timeout;
    for (;;) {
        while (auto r = rq.recv()) {
            deadline = Clock::now() + timeout;  // the timeout is for silence, not for the whole page
            switch (r->kind) {
                case Reply::Kind::event: page.events.push_back(std::move(r->event)); break;
                case Reply::Kind::events:
                    for (auto& e : r->events) page.events.push_back(std::move(e));
                    break;
                case Reply::Kind::case_state: page.cases.push_back(std::move(r->state)); break;
                case Reply::Kind::end: page.end = std::move(r->header); return page;
                case Reply::Kind::error:
                    return make_error("snapshot endpoint " + rq.endpoint() + ": " + r->message);
                case Reply::Kind::bad:
                    if (is_stale(*r)) break;
                    rq.reset();
                    return make_error("snapshot endpoint " + rq.endpoint() + ": " + r->message);
            }
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            rq.reset();
            return make_error("snapshot endpoint " + rq.endpoint() + ": no answer to the " + op + " request within " +
                              std::to_string(timeout.count()) + " ms (is casehubd running?)");
        }
        zmq::pollitem_t it{rq.socket().handle(), 0, ZMQ_POLLIN, 0};
        try {
            zmq::poll(&it, 1, left);
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) return make_error("snapshot endpoint " + rq.endpoint() + ": " + e.what());
        }
    }
}

// ---- feed client --------------------------------------------------------------------------

struct FeedClient::Impl {
    static constexpr std::size_t kMaxReady = 1024;  // live events decoded ahead of the application
    static constexpr int kPumpEvery = 64;
    int since_pump = 0;
    zmq::context_t& ctx;
    FeedClientOptions o;
    zmq::socket_t sub;
    Requester rq;

    enum class Phase { idle, head, snapshot, since, live } phase = Phase::idle;
    bool in_flight = false;
    Clock::time_point last_reply{}, retry_at{};
    std::uint64_t last = 0;  // consistent up to

    // snapshot start
    bool snap_first = true;
    std::uint64_t snap_seq = 0;
    std::string snap_after;
    std::vector<CaseState> snap_page;  // delivered only once its end (and seq) arrived
    std::unordered_map<std::string, std::uint64_t> skip;  // case -> seq of the state delivered

    struct Live {
        bool heartbeat = false;
        EventRow ev;
        std::uint64_t head = 0, street_last = 0;
    };
    std::deque<Live> buffer;
    std::deque<FeedEvent> ready;
    std::optional<Clock::time_point> last_heard;
    std::vector<zmq::message_t> frames;
    Counters c;
    std::string last_error;

    Impl(zmq::context_t& context, FeedClientOptions options)
        : ctx(context), o(std::move(options)), rq(context, o.snapshot_endpoint) {}

    void set_subscriptions(const FeedFilter& old_filter, bool had) {
        if (had) {
            sub.set(zmq::sockopt::unsubscribe, old_filter.topic());
            sub.set(zmq::sockopt::unsubscribe, std::string(kHeartbeatTopic));
        }
        // Events first: a heartbeat is then never seen without the events sent before it.
        sub.set(zmq::sockopt::subscribe, o.filter.topic());
        sub.set(zmq::sockopt::subscribe, std::string(kHeartbeatTopic));
    }

    json request_for_phase() const {
        json r = o.filter.to_json();
        switch (phase) {
            case Phase::head: return {{"op", "head"}};
            case Phase::snapshot:
                r["op"] = "snapshot";
                r["limit"] = o.page_limit;
                if (!snap_after.empty()) r["after"] = snap_after;
                return r;
            default:
                r["op"] = "since";
                r["seq"] = last;
                r["limit"] = o.page_limit;
                r["pack"] = true;
                return r;
        }
    }

    void send_request() {
        in_flight = rq.send(request_for_phase());
        last_reply = Clock::now();
        if (!in_flight) retry_at = Clock::now() + std::chrono::milliseconds(200);
    }

    void begin() {
        switch (o.start) {
            case FeedClientOptions::Start::from_seq:
                last = o.from;
                phase = Phase::since;
                break;
            case FeedClientOptions::Start::now: phase = Phase::head; break;
            case FeedClientOptions::Start::snapshot: phase = Phase::snapshot; break;
        }
        send_request();
    }

    void gap() {
        ++c.gaps_detected;
        phase = Phase::since;
        if (in_flight) return;  // cannot happen in live; kept for safety
        send_request();
    }

    void go_live() { phase = Phase::live; }

    // The consumer's view of one event accepted in order: deliver it if it matches.
    void accept(EventRow&& e, FeedEvent::Source src) {
        last = e.seq;
        if (!skip.empty()) {
            if (auto it = skip.find(e.case_id); it != skip.end()) {
                const bool older = e.seq <= it->second;
                if (e.seq >= it->second) skip.erase(it);
                if (older) {
                    ++c.duplicates;
                    return;
                }
            }
        }
        if (!o.filter.matches(e)) return;
        (src == FeedEvent::Source::live ? c.live : c.replayed)++;
        ready.push_back(FeedEvent{std::move(e), src});
    }

    void handle_live(Live&& m) {
        if (m.heartbeat) {
            const std::uint64_t tail = o.filter.street ? m.street_last : m.head;
            if (tail > last) gap();
            return;
        }
        EventRow& e = m.ev;
        if (o.filter.street && e.street_code != *o.filter.street) return;
        if (e.seq <= last) {
            ++c.duplicates;
            return;
        }
        const std::uint64_t prev = o.filter.street ? e.prev_street_seq : e.seq - 1;
        if (prev > last) {
            gap();
            return;
        }
        accept(std::move(e), FeedEvent::Source::live);
    }

    void on_sub_message() {
        last_heard = Clock::now();
        if (frames.size() < 2) return;
        const std::string_view topic = frames[0].to_string_view();
        Live m;
        if (topic == kHeartbeatTopic) {
            const json h = json::parse(frames[1].to_string_view(), nullptr, false);
            if (!h.is_object() || !get_u64(h, "head", m.head)) return;
            m.heartbeat = true;
            if (o.filter.street) {
                const auto s = h.find("streets");
                if (s != h.end() && s->is_object()) (void)get_u64(*s, o.filter.street->c_str(), m.street_last);
            }
        } else if (topic.rfind(kEventTopicPrefix, 0) == 0) {
            auto e = parse_event(frames[1].to_string_view(), frames.size() > 2 ? frames[2].to_string() : std::string());
            if (!e) return;  // unreadable: its seq is missed, the next event shows the gap
            m.ev = std::move(*e);
        } else {
            return;
        }
        if (phase == Phase::live && buffer.empty()) {
            handle_live(std::move(m));
            return;
        }
        if (buffer.size() >= o.max_buffer) {  // the replay is long: fall back on gap detection
            buffer.clear();
            ++c.buffer_overflows;
        }
        buffer.push_back(std::move(m));
    }

    void on_reply(Reply&& r) {
        last_reply = Clock::now();
        switch (r.kind) {
            case Reply::Kind::event:
                if (phase != Phase::since || r.event.seq <= last) return;
                accept(std::move(r.event), FeedEvent::Source::replay);
                return;
            case Reply::Kind::events:
                if (phase != Phase::since) return;
                for (auto& e : r.events)
                    if (e.seq > last) accept(std::move(e), FeedEvent::Source::replay);
                return;
            case Reply::Kind::case_state:
                if (phase == Phase::snapshot) snap_page.push_back(std::move(r.state));
                return;
            case Reply::Kind::end: {
                in_flight = false;
                last_error.clear();
                const json& h = r.header;
                if (phase == Phase::head) {
                    std::uint64_t head = 0;
                    (void)get_u64(h, "head", head);
                    last = std::max(last, head);
                    go_live();
                } else if (phase == Phase::since) {
                    std::uint64_t upto = 0;
                    (void)get_u64(h, "upto", upto);
                    last = std::max(last, upto);
                    // One request ahead: the next page is on its way while this one is handed
                    // out (pump() reads it only once less than a page waits in `ready`).
                    if (!h.value("more", false)) go_live();
                    else send_request();
                } else if (phase == Phase::snapshot) {
                    std::uint64_t seq = 0;
                    (void)get_u64(h, "seq", seq);
                    if (snap_first) {
                        snap_first = false;
                        snap_seq = seq;
                    }
                    for (auto& s : snap_page) {
                        if (s.seq > snap_seq) skip[s.case_id] = s.seq;
                        snap_after = s.case_id;
                        EventRow e;
                        e.seq = s.seq;
                        e.case_id = std::move(s.case_id);
                        e.type = "snapshot";
                        e.street_code = std::move(s.street_code);
                        e.community_code = std::move(s.community_code);
                        e.grid_code = std::move(s.grid_code);
                        e.category_family = std::move(s.category_family);
                        e.status = std::move(s.status);
                        e.at = s.updated_at;
                        e.detail = "{}";
                        e.doc = std::move(s.doc);
                        ++c.snapshot;
                        ready.push_back(FeedEvent{std::move(e), FeedEvent::Source::snapshot});
                    }
                    snap_page.clear();
                    if (!h.value("more", false)) {
                        last = snap_seq;
                        phase = Phase::since;  // then every event after the snapshot's seq
                    }
                    send_request();  // one request ahead, as for since
                }
                return;
            }
            case Reply::Kind::error:
                last_error = r.message;
                fail();
                return;
            case Reply::Kind::bad:
                if (is_stale(r)) return;
                last_error = r.message;
                fail();
                return;
        }
    }

    // A page failed: drop what it half-delivered (snapshot), ask again later on a new socket.
    void fail() {
        in_flight = false;
        snap_page.clear();
        ++c.request_retries;
        rq.reset();
        retry_at = Clock::now() + std::min<std::chrono::milliseconds>(o.request_timeout, std::chrono::milliseconds(1000));
    }

    void pump() {
        try {
            for (int i = 0; i < 1024; ++i) {
                // An application slower than the feed: stop taking messages in, so ZeroMQ's
                // HWM drops them (a gap, replayed later) rather than this process growing.
                if (phase == Phase::live && ready.size() >= kMaxReady) break;
                if (!recv_multipart(sub, frames)) break;
                on_sub_message();
            }
            if (in_flight)
                for (int i = 0; i < 4096 && in_flight; ++i) {
                    // At most a page decoded ahead of the application, the next one left in the
                    // socket (its HWM and the server's hold it): two pages at most. The wait is
                    // ours, not the server's, so it does not count towards the request timeout.
                    if (phase != Phase::live && ready.size() >= o.page_limit) {
                        last_reply = Clock::now();
                        break;
                    }
                    auto r = rq.recv();
                    if (!r) break;
                    on_reply(std::move(*r));
                }
        } catch (const zmq::error_t& e) {
            last_error = std::string("feed socket: ") + e.what();
        }
    }

    bool next(FeedEvent& out, std::chrono::milliseconds timeout) {
        // Decoded events go out without a look at the sockets each time (a non-blocking receive
        // on an empty socket is a system call or two, more than handing out an event costs);
        // the sockets are read every kPumpEvery events, and whenever `ready` runs dry.
        if (!ready.empty() && ++since_pump < kPumpEvery) {
            out = std::move(ready.front());
            ready.pop_front();
            return true;
        }
        since_pump = 0;
        const auto deadline = Clock::now() + timeout;
        if (phase == Phase::idle) begin();
        for (;;) {
            pump();
            // Live: feed the buffered messages through, a bounded number at a time.
            while (phase == Phase::live && !buffer.empty() && ready.size() < kMaxReady) {
                Live m = std::move(buffer.front());
                buffer.pop_front();
                handle_live(std::move(m));
            }
            if (!ready.empty()) {
                out = std::move(ready.front());
                ready.pop_front();
                return true;
            }
            const auto now = Clock::now();
            // The first request, and a retry after a failure (the next page is asked for when
            // the last one's end arrives, see on_reply()).
            if (phase != Phase::live && !in_flight && now >= retry_at) send_request();
            if (in_flight && now - last_reply > o.request_timeout) {
                last_error = "no answer from " + o.snapshot_endpoint + " within " +
                             std::to_string(o.request_timeout.count()) + " ms";
                fail();
            }
            if (phase == Phase::live && !buffer.empty()) continue;
            auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
            if (wait.count() <= 0) return false;
            if (in_flight)
                wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                          last_reply + o.request_timeout - now) +
                                          std::chrono::milliseconds(1));
            else if (phase != Phase::live)
                wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(retry_at - now) +
                                          std::chrono::milliseconds(1));
            wait = std::max(wait, std::chrono::milliseconds(0));
            zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0}, {rq.socket().handle(), 0, ZMQ_POLLIN, 0}};
            try {
                zmq::poll(items, in_flight ? 2 : 1, wait);
            } catch (const zmq::error_t& e) {
                if (e.num() != EINTR) {
                    last_error = std::string("feed poll: ") + e.what();
                    return false;
                }
            }
        }
    }
};

Result<std::unique_ptr<FeedClient>> FeedClient::connect(zmq::context_t& ctx, FeedClientOptions options) {
    if (options.feed_endpoint.empty() || options.snapshot_endpoint.empty())
        return make_error("feed client: the feed and snapshot endpoints must both be given");
    if (options.page_limit == 0) options.page_limit = 1;
    std::unique_ptr<FeedClient> c(new FeedClient());
    c->impl_ = std::make_unique<Impl>(ctx, std::move(options));
    Impl& i = *c->impl_;
    try {
        i.sub = zmq::socket_t(ctx, zmq::socket_type::sub);
        i.sub.set(zmq::sockopt::linger, 0);
        i.sub.set(zmq::sockopt::rcvhwm, i.o.rcvhwm);
        i.set_subscriptions(i.o.filter, false);
        i.sub.connect(i.o.feed_endpoint);
    } catch (const zmq::error_t& e) {
        return make_error("feed client: cannot connect to the feed endpoint " + i.o.feed_endpoint + ": " + e.what());
    }
    try {
        i.rq.open();
    } catch (const zmq::error_t& e) {
        return make_error("feed client: cannot connect to the snapshot endpoint " + i.o.snapshot_endpoint + ": " +
                          e.what());
    }
    return c;
}

FeedClient::~FeedClient() = default;

Result<void> FeedClient::subscribe(FeedFilter filter) {
    if (impl_->phase != Impl::Phase::idle)
        return make_error("feed client: subscribe() after next() (the filter is fixed once events flowed)");
    const FeedFilter old = impl_->o.filter;
    impl_->o.filter = std::move(filter);
    try {
        impl_->set_subscriptions(old, true);
    } catch (const zmq::error_t& e) {
        return make_error(std::string("feed client: cannot subscribe: ") + e.what());
    }
    return {};
}

bool FeedClient::next(FeedEvent& out, std::chrono::milliseconds timeout) { return impl_->next(out, timeout); }

bool FeedClient::hub_alive() const {
    return impl_->last_heard && Clock::now() - *impl_->last_heard < impl_->o.dead_after;
}

std::uint64_t FeedClient::last_seq() const { return impl_->last; }
bool FeedClient::live() const { return impl_->phase == Impl::Phase::live; }
const std::string& FeedClient::last_error() const { return impl_->last_error; }
const FeedClient::Counters& FeedClient::counters() const { return impl_->c; }

}  // namespace casehub::host
