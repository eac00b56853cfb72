// GET /api/v1/events: the feed as Server-Sent Events, with the ZeroMQ feed's resume-by-sequence
// semantics (docs/feed-protocol.md, docs/api.md).
//
// Each stream runs on its own httplib worker thread and reads the store's event log at its own
// pace, a page at a time through a leased read-only connection (none held while it waits). When
// it has caught up it waits on the Notifier, which the hub signals after each publish; it wakes
// for new events or, after sse_heartbeat_s of silence, to send a comment line. A slow browser
// fills its own socket and nothing else: the hub never waits for it.
#include "http/routes.hpp"

#include <spdlog/spdlog.h>

namespace casehub::host::http {

using nlohmann::json;

namespace {

constexpr int kPageEvents = 200;           // events per store read
constexpr std::uint64_t kWindow = 20000;   // seqs scanned per read when a filter skips most

struct Stream {
    FeedFilter filter;
    std::uint64_t scanned = 0;  // every matching event with seq <= scanned has been written
    bool started = false;
    std::chrono::steady_clock::time_point last_write;
};

std::string frame(const EventRow& e) {
    json data = event_header(e);
    json doc = json::parse(e.doc, nullptr, false);
    data["case"] = doc.is_discarded() ? json(e.doc) : std::move(doc);
    // A compact dump never holds a raw line break, so the data is one `data:` line.
    return "id: " + std::to_string(e.seq) + "\nevent: " + e.type + "\ndata: " +
           data.dump(-1, ' ', false, json::error_handler_t::replace) + "\n\n";
}

bool write(httplib::DataSink& sink, const std::string& s) { return sink.write(s.data(), s.size()); }

// One step of a stream: send what the store holds after `scanned`, or wait for more. Returns
// false to drop the connection (the client is gone or the store cannot be read).
bool step(Api& api, Stream& st, httplib::DataSink& sink) {
    using namespace std::chrono;
    if (!st.started) {
        st.started = true;
        st.last_write = steady_clock::now();
        // retry: how long a browser's EventSource waits before it reconnects (with Last-Event-ID).
        return write(sink, "retry: 2000\n: casehub events after seq " + std::to_string(st.scanned) + "\n\n");
    }
    if (api.notifier.stopping()) {
        sink.done();
        return true;
    }
    std::vector<EventRow> rows;
    std::uint64_t head = 0;
    {
        auto lease = api.readers.lease();
        if (!lease) {
            spdlog::warn("http: event stream: {}", lease.error().message);
            return false;
        }
        auto h = (*lease)->head();
        if (!h) {
            lease->discard();
            spdlog::warn("http: event stream: {}", h.error().message);
            return false;
        }
        head = *h;
        if (head > st.scanned) {
            const std::uint64_t upto = std::min(head, st.scanned + kWindow);
            auto r = (*lease)->events(st.scanned, upto, st.filter, kPageEvents);
            if (!r) {
                lease->discard();
                spdlog::warn("http: event stream: {}", r.error().message);
                return false;
            }
            rows = std::move(*r);
            st.scanned = rows.size() == static_cast<std::size_t>(kPageEvents) ? rows.back().seq : upto;
        }
    }
    if (!rows.empty()) {
        std::string out;
        for (const auto& e : rows) out += frame(e);
        if (!write(sink, out)) return false;
        api.sse_events_sent += rows.size();
        st.last_write = steady_clock::now();
        return true;
    }
    if (st.scanned < head) return true;  // a window without matches: scan on
    // Caught up: wait for the hub's next publish, or send a heartbeat when it is due.
    const auto due = st.last_write + api.options.sse_heartbeat;
    const auto left = duration_cast<milliseconds>(due - steady_clock::now());
    if (left.count() > 0) {
        api.notifier.wait(st.scanned, left);
        if (api.notifier.stopping()) {
            sink.done();
            return true;
        }
        if (api.notifier.head() > st.scanned) return true;
        if (steady_clock::now() < due) return true;
    }
    st.last_write = steady_clock::now();
    return write(sink, ": heartbeat head=" + std::to_string(head) + "\n\n") && sink.is_writable();
}

std::optional<std::string> filter_code(const httplib::Request& req, const std::string& name,
                                       const std::function<bool(const std::string&)>& known, const std::string& what) {
    auto v = param(req, name);
    if (!v) return v;
    if (*v == "-") return std::string();
    if (!known(*v)) fail("invalid_argument", "unknown " + what + " \"" + *v + "\"", name);
    return v;
}

void events(Api& api, const httplib::Request& req, httplib::Response& res) {
    check_params(req, {"since", "street", "community", "grid", "family", "status"});
    const Reference& ref = api.reference;
    Stream st;
    st.filter.street = filter_code(req, "street", [&](const auto& v) { return ref.street(v); }, "street code");
    st.filter.community = filter_code(req, "community", [&](const auto& v) { return ref.community(v); }, "community code");
    st.filter.grid = filter_code(req, "grid", [&](const auto& v) { return ref.grid(v); }, "grid code");
    if (auto v = param(req, "family")) {
        if (!ref.family(*v)) fail("invalid_argument", "unknown category family \"" + *v + "\"", "family");
        st.filter.family = *v;
    }
    if (auto v = param(req, "status")) {
        if (!Reference::status(*v)) fail("invalid_argument", "unknown status \"" + *v + "\"", "status");
        st.filter.status = *v;
    }
    // Where to start: Last-Event-ID (a browser reconnecting) wins over since (the URL it first
    // opened keeps its since); neither: live from the store's head.
    const std::string last_id = req.get_header_value("Last-Event-ID");
    if (!last_id.empty()) {
        st.scanned = parse_u64(last_id, "Last-Event-ID");
    } else if (auto v = param(req, "since")) {
        st.scanned = parse_u64(*v, "since");
    } else {
        auto lease = lease_or_throw(api.readers);
        auto h = lease->head();
        if (!h) {
            lease.discard();
            fail("unavailable", "the store cannot be read: " + h.error().message);
        }
        st.scanned = *h;
    }
    if (api.sse_streams.fetch_add(1) >= api.options.max_sse_streams) {
        --api.sse_streams;
        res.set_header("Retry-After", "5");
        fail("unavailable", "too many event streams open (" + std::to_string(api.options.max_sse_streams) +
                                "); retry later, or use the ZeroMQ feed");
    }
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    auto state = std::make_shared<Stream>(std::move(st));
    res.set_chunked_content_provider(
        "text/event-stream",
        [&api, state](std::size_t, httplib::DataSink& sink) {
            try {  // the provider runs outside httplib's exception handler: nothing may escape
                return step(api, *state, sink);
            } catch (const std::exception& e) {
                spdlog::error("http: event stream: {}", e.what());
                return false;
            }
        },
        [&api](bool) { --api.sse_streams; });
}

}  // namespace

void add_event_routes(Api& api) {
    api.add("GET", "/api/v1/events", [&api](const auto& req, auto& res, const auto&) { events(api, req, res); });
}

}  // namespace casehub::host::http
