// The unified feed: ZeroMQ "Clone" pattern (snapshot + numbered updates), documented for
// clients in docs/feed-protocol.md.
//
//   FeedPublisher  PUB, owned by casehubd's main thread. publish() right after each commit,
//                  heartbeat() about every second. Never blocks: a subscriber that falls more
//                  than the high-water mark behind loses messages, sees the gap and replays.
//   ReplayServer   ROUTER on its own thread with its own read-only SQLite connection: "events
//                  since N" (paged), "snapshot of current cases", "one case and its history".
//                  One short read transaction per request, never one held across requests.
//   FeedClient     SUB + DEALER: delivers events strictly in order, no gap, no duplicate,
//                  across replay -> live, after drops at the HWM and across hub restarts.
//   ReplayClient   DEALER: one request, all its replies (the CLI's export and cases show).
//
// Errors: Result<T>; nothing here throws after start-up (create / start / connect).
#pragma once

#include "common/result.hpp"
#include "store/events.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace casehub::host {

// ---- wire ---------------------------------------------------------------------------------

inline constexpr std::string_view kFeedProtocol = "casehub.feed/1";
inline constexpr std::string_view kHeartbeatTopic = "hb.";
inline constexpr std::string_view kEventTopicPrefix = "ev.";
inline constexpr std::string_view kCaseTopicPrefix = "case.";
inline constexpr std::string_view kEndTopic = "end";
inline constexpr std::string_view kErrorTopic = "error";
// A replay reply holding several events in one frame, for a `since` request with "pack": true
// (docs/feed-protocol.md). Not an "ev." topic: a SUB never sees it.
inline constexpr std::string_view kEventPackTopic = "evs";
// By default a pack is sent once it holds this many bytes (and at the end of the page). Each
// pack costs a wake-up of both sides' ZeroMQ I/O threads, dear on this VM: 1 MiB took the I/O
// threads' CPU in a replay from about 40 to 30 % of a core each, against 128 KiB.
inline constexpr std::size_t kEventPackBytes = 1u << 20;
inline constexpr std::uint32_t kDefaultPageLimit = 10000;
inline constexpr std::uint32_t kMaxPageLimit = 50000;

// "ev.<street_code>." ("ev.-." when the street is unknown): the prefix a street subscribes to.
std::string event_topic(std::string_view street_code);
// "case.<street_code>." for a case state in a snapshot or a `case` answer.
std::string case_topic(std::string_view street_code);

// The header frame of an event: every EventRow field but `doc` (the next frame); `detail` as
// a JSON object (a string when it is not valid JSON).
nlohmann::json event_header(const EventRow& e);
// An events pack (the second frame of a kEventPackTopic reply): per event, the header's length
// (4 bytes, little-endian), the header frame's bytes, the document's length, the document.
void append_to_pack(std::string& pack, std::string_view header, std::string_view doc);
// Appends the pack's events to `out`; an error names the event and byte that is cut short or
// unreadable (the events before it are appended).
Result<void> parse_event_pack(std::string_view pack, std::vector<EventRow>& out);
// The header frame as sent: the text of event_header(), written without a DOM when it can be
// (host/feed/wire.hpp), byte for byte the same.
std::string event_header_text(const EventRow& e);
// The reverse; fails with a one-line message naming the missing or mistyped field. Reads the
// layout event_header_text() writes without a DOM, anything else with parse_event_json(); the
// result is the same either way.
Result<EventRow> parse_event(std::string_view header, std::string doc);
Result<EventRow> parse_event_json(std::string_view header, std::string doc);

// ---- filters ------------------------------------------------------------------------------

// Exact-match filter on an event's (or a case's) values after the change. An unset field
// matches anything; street "" matches events with no known street. `family` is the category
// family. On the wire: the keys street, community, grid, family, status of a request.
struct FeedFilter {
    std::optional<std::string> street, community, grid, family, status;

    bool empty() const { return !street && !community && !grid && !family && !status; }
    bool matches(const EventRow& e) const;
    // The keys that are set, e.g. {"street":"320104002"}.
    nlohmann::json to_json() const;
    // Reads the filter keys of a request; a key that is present must be a string.
    static Result<FeedFilter> from_json(const nlohmann::json& request);
    // The SUB prefix: "ev." for every street, "ev.<street>." for one.
    std::string topic() const;
};

// ---- the publisher (casehubd's main thread) -------------------------------------------------

struct PublisherOptions {
    int sndhwm = 100000;  // messages queued per subscriber before PUB drops for that subscriber
};

class FeedPublisher {
public:
    // Binds a PUB socket on `endpoint` (ipc:// or tcp://). The error names the endpoint.
    static Result<std::unique_ptr<FeedPublisher>> create(zmq::context_t& ctx,
                                                         const std::string& endpoint,
                                                         PublisherOptions options = {});
    ~FeedPublisher();
    FeedPublisher(const FeedPublisher&) = delete;
    FeedPublisher& operator=(const FeedPublisher&) = delete;

    // Call right after the transaction holding `events` committed, in seq order. Never blocks
    // and never throws: a subscriber at its HWM misses these messages and detects the gap.
    void publish(const std::vector<EventRow>& events);
    // About every second. `last_seq_per_street`: the seq of each street's last event ("" for
    // no street), so a one-street consumer can notice a lost tail.
    void heartbeat(std::uint64_t head_seq,
                   const std::map<std::string, std::uint64_t>& last_seq_per_street);
    // The same from what publish() has seen, on top of seed() (call seed() at start-up with
    // read_feed_head() of the store, so the first heartbeat is right after a restart).
    void heartbeat();
    void seed(std::uint64_t head_seq, std::map<std::string, std::uint64_t> last_seq_per_street);

    std::uint64_t head() const { return head_; }
    std::uint64_t events_published() const { return events_; }
    std::uint64_t heartbeats_sent() const { return heartbeats_; }
    std::uint64_t send_failures() const { return failures_; }  // errors, not HWM drops (unseen)
    // Connected consumers (ipc/tcp connections accepted minus closed), updated on heartbeat().
    std::int64_t connections() const { return connections_; }
    const std::string& endpoint() const { return endpoint_; }

private:
    FeedPublisher() = default;
    void drain_monitor();
    zmq::socket_t pub_, monitor_;
    std::string endpoint_;
    std::uint64_t head_ = 0, events_ = 0, heartbeats_ = 0, failures_ = 0;
    std::int64_t connections_ = 0;
    std::map<std::string, std::uint64_t> streets_;
};

// What a heartbeat says, read from the store (e.g. to seed() the publisher at start-up).
struct FeedHead {
    std::uint64_t head = 0;
    std::map<std::string, std::uint64_t> last_seq_per_street;
};
Result<FeedHead> read_feed_head(const std::filesystem::path& store);

// ---- the replay / snapshot server (its own thread) ------------------------------------------

struct ReplayOptions {
    std::uint32_t default_limit = kDefaultPageLimit;
    std::uint32_t max_limit = kMaxPageLimit;
    std::size_t max_page_bytes = 32u << 20;  // a page stops early (more=true) past this many
                                             //   document bytes
    int sndhwm = 2 * static_cast<int>(kMaxPageLimit) + 16;  // per client: two full pages
    std::size_t pack_bytes = kEventPackBytes;  // a pack goes out once it holds this many bytes
};

class ReplayServer {
public:
    // Opens `store` read-only (it must exist and hold the events and cases tables), binds a
    // ROUTER on `endpoint` and starts the thread. Stop it before `ctx` is closed.
    static Result<std::unique_ptr<ReplayServer>> start(zmq::context_t& ctx,
                                                       const std::filesystem::path& store,
                                                       const std::string& endpoint,
                                                       ReplayOptions options = {});
    ~ReplayServer();  // stop()
    ReplayServer(const ReplayServer&) = delete;
    ReplayServer& operator=(const ReplayServer&) = delete;

    // Ends the thread (from any other thread); idempotent.
    void stop();

    struct Stats {
        std::uint64_t requests = 0, errors = 0, events_sent = 0, cases_sent = 0, aborted = 0;
    };
    Stats stats() const;

private:
    struct Impl;
    ReplayServer() = default;
    std::unique_ptr<Impl> impl_;
    std::thread thread_;
    zmq::socket_t stop_;
};

// ---- clients -----------------------------------------------------------------------------

// A case's current state as a snapshot or a `case` answer carries it.
struct CaseState {
    std::string case_id;
    std::uint64_t seq = 0;  // its last event
    std::string status, street_code, community_code, grid_code, category_code, category_family,
        priority;
    std::int64_t created_at = 0, updated_at = 0;
    std::optional<std::string> merged_into;
    std::string doc;  // casehub.case/1
};

// All the replies to one request: events (since, case), case states (snapshot, case), and the
// end message's JSON.
struct ReplayPage {
    std::vector<EventRow> events;
    std::vector<CaseState> cases;
    nlohmann::json end;
};

class ReplayClient {
public:
    ReplayClient(zmq::context_t& ctx, std::string endpoint);
    ~ReplayClient();
    ReplayClient(const ReplayClient&) = delete;
    ReplayClient& operator=(const ReplayClient&) = delete;
    // Sends `request` and gathers its replies until the end message. Fails on an {"error"}
    // reply, a malformed reply, or when nothing arrives for `timeout` (then the socket is
    // reopened, so a late answer cannot be taken for the next request's).
    Result<ReplayPage> request(nlohmann::json request, std::chrono::milliseconds timeout);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

struct FeedClientOptions {
    std::string feed_endpoint, snapshot_endpoint;
    FeedFilter filter;
    enum class Start {
        from_seq,  // replay every event after `from`, then live
        now,       // live from the store's head
        snapshot,  // the current state of the open cases matching the filter, then live
    } start = Start::now;
    std::uint64_t from = 0;
    int rcvhwm = 10000;                              // SUB
    std::uint32_t page_limit = kDefaultPageLimit;    // events per replay page
    std::size_t max_buffer = 20000;                  // live messages kept during a replay
    std::chrono::milliseconds dead_after{3000};      // hub_alive() false after this silence
    std::chrono::milliseconds request_timeout{5000}; // a replay page that takes longer is retried
};

// One delivered item. For Source::snapshot, `row` holds a case state: type "snapshot", seq
// the case's last event, prev_street_seq 0, at its updated_at, detail "{}".
struct FeedEvent {
    enum class Source { replay, live, snapshot };
    EventRow row;
    Source source = Source::live;
};

class FeedClient {
public:
    // Connects SUB and DEALER (connects never fail for an absent server; ZeroMQ retries).
    // Fails on a malformed endpoint.
    static Result<std::unique_ptr<FeedClient>> connect(zmq::context_t& ctx,
                                                       FeedClientOptions options);
    ~FeedClient();
    FeedClient(const FeedClient&) = delete;
    FeedClient& operator=(const FeedClient&) = delete;

    // Replaces the filter; only before the first next().
    Result<void> subscribe(FeedFilter filter);

    // The next event matching the filter, in seq order, never one twice, none missing
    // (gaps are re-synced by replay from last_seq()). False when none came within `timeout`.
    bool next(FeedEvent& out, std::chrono::milliseconds timeout);

    // A heartbeat or an event arrived within dead_after.
    bool hub_alive() const;
    // Every matching event up to this seq has been delivered (or queued for delivery).
    std::uint64_t last_seq() const;
    bool live() const;  // the replay is done; events come from the feed
    // The last error reply or failure of the replay endpoint ("" when none since the last page).
    const std::string& last_error() const;

    struct Counters {
        std::uint64_t gaps_detected = 0;  // a seq jump, prev_street_seq mismatch or heartbeat
        std::uint64_t replayed = 0;       // events delivered from the replay endpoint
        std::uint64_t live = 0;           // events delivered from the live feed
        std::uint64_t snapshot = 0;       // case states delivered from a snapshot
        std::uint64_t duplicates = 0;     // live events dropped as already delivered
        std::uint64_t buffer_overflows = 0;  // live buffer dropped during a long replay
        std::uint64_t request_retries = 0;   // replay requests re-sent after a timeout/error
    };
    const Counters& counters() const;

private:
    struct Impl;
    FeedClient() = default;
    std::unique_ptr<Impl> impl_;
};

}  // namespace casehub::host
