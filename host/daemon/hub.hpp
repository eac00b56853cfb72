// casehubd's core: the intake ROUTER, the runner supervisor, group commit, the control socket.
//
// One thread, one poll loop (and a worker that parses and locates received records ahead of
// it: pipeline/preparer.hpp). Received batches are committed together once the intake is
// drained (or after commit_max_delay_ms under load); only then are they acked, so a runner
// never hears "durable" for a batch that is not. Every adapter is isolated: its runner is a
// child process, its failures change only its own state.
#pragma once

#include "common/result.hpp"
#include "config/hub_config.hpp"
#include "daemon/backoff.hpp"
#include "daemon/clock.hpp"
#include "feed/feed.hpp"
#include "http/server.hpp"
#include "pipeline/pipeline.hpp"
#include "pipeline/preparer.hpp"
#include "protocol/wire.hpp"
#include "store/checkpointer.hpp"
#include "store/store.hpp"
#include "store/wal_syncer.hpp"

#include <nlohmann/json.hpp>
#include <zmq.hpp>

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace casehub::host {

// A batch as received from a runner, waiting for the next group commit. The views point into
// the ZeroMQ frames its Pending entry owns.
struct DeadLetterIn {
    std::string reason, detail, cursor;
    std::string_view native;  // masked native bytes
};
struct BatchIn {
    std::string adapter;
    std::uint64_t batch = 0;
    std::optional<std::string> cursor;  // nullopt: the cursor does not move
    std::vector<std::string_view> records;
    std::vector<DeadLetterIn> letters;
};

enum class AdapterState { starting, running, backoff, failed, stopping, stopped, disabled };
const char* to_string(AdapterState s);

struct Adapter {
    AdapterConfig cfg;
    std::filesystem::path plugin_path;
    AdapterState state = AdapterState::stopped;
    RestartPolicy policy;

    pid_t pid = 0;
    std::string session;  // of the runner now alive; "" when none
    bool welcomed = false;
    std::uint64_t next_batch = 1;
    std::int64_t started_at = 0, last_heard = 0, restart_at = 0, kill_sent_at = 0;
    std::string kill_reason;
    std::optional<std::string> fatal_message;
    bool fatal_permanent = false;

    int restarts = 0;
    std::string last_error;
    std::uint64_t records_received = 0, batches_committed = 0, dead_letters = 0;
    Counters counters;  // pipeline outcomes, persisted in adapter_counters
    std::optional<std::string> last_cursor;
    std::int64_t in_flight = 0;
    int health = 0;
    std::string health_message;
    std::int64_t busy_ms = 0;
    std::int64_t last_backoff_ms = 0;
    nlohmann::json plugin = nlohmann::json::object();  // descriptor as the runner reported it
    // The write-back being applied by this runner (one at a time, in id order); 0 when none.
    std::int64_t wb_id = 0, wb_sent_at = 0;
    // Wall ms before which the store holds nothing due for this adapter (0: look now), so the
    // dispatcher does not query an idle queue on every turn of the loop.
    std::int64_t wb_check_at = 0;
    std::string wb_session;
    std::uint64_t writebacks_done = 0, writebacks_failed = 0, writebacks_retried = 0;
};

class Hub {
public:
    static Result<std::unique_ptr<Hub>> create(HubConfig cfg, std::filesystem::path runner);
    ~Hub();
    // Runs until SIGTERM/SIGINT; returns the process exit code.
    int run();

private:
    Hub(HubConfig cfg, std::filesystem::path runner);
    void spawn(Adapter& a);
    void set_intake_nice();
    void reap();
    void supervise(std::int64_t now);
    void on_intake();
    void on_message(const std::string& rid, wire::Message& m);
    void on_control();
    bool commit_due(std::int64_t now) const;
    void commit_pending();
    struct Committed;
    // After a group commit is on disk: its events to the feed, its acks to the runners.
    void finish(Committed& c);
    // finish() every group commit the syncer has made durable, in commit order.
    void finish_durable();
    // Waits until everything committed so far is on disk, and finishes it. False: a sync failed.
    bool flush_durable();
    // After a commit outside the group commit (operators, timers): waits until it is on disk,
    // after the group commits before it, then the events go to the feed (in seq order).
    void publish(const std::vector<EventRow>& events);
    void send_to_feed(const std::vector<EventRow>& events);
    nlohmann::json replay_dead_letters(const nlohmann::json& request);
    // Write-back (daemon/writeback.cpp): a command-centre action on a case becomes an event and
    // one queued write-back per source record whose adapter can apply it.
    nlohmann::json case_action(const nlohmann::json& request);
    nlohmann::json writebacks_json(const nlohmann::json& request);
    nlohmann::json case_override(const nlohmann::json& request);  // case_merge | case_split
    Result<void> queue_writebacks(const std::string& case_id, const std::vector<CaseSource>& sources, const nlohmann::json& action, nlohmann::json& queued, nlohmann::json& not_written_back);
    void dispatch_writebacks(std::int64_t now);
    void on_writeback_done(Adapter& a, const nlohmann::json& header);
    void retry_writeback(Adapter& a, const std::string& why);
    void kill_runner(Adapter& a, const std::string& why);
    nlohmann::json status_json() const;
    // The command centre (daemon/whistles.cpp): whistles, overdue alerts, escalation, reports.
    Result<void> start_command();
    static bool is_command_request(const std::string& cmd);
    nlohmann::json command_request(const nlohmann::json& request);
    nlohmann::json clock_set(const nlohmann::json& request);
    nlohmann::json whistle_step(const nlohmann::json& request);
    nlohmann::json whistles_json(const nlohmann::json& request);
    nlohmann::json command_report(const nlohmann::json& request);
    Result<EventRow> case_event(const std::string& case_id, const std::string& type, std::int64_t at,
                                const nlohmann::json& detail);
    void command_tick(std::int64_t now_mono);
    void assign_tiers();
    void command_timers(bool all);
    Adapter* by_routing_id(const std::string& rid);

    HubConfig cfg_;
    std::filesystem::path runner_;
    std::unique_ptr<Store> store_;
    std::unique_ptr<Checkpointer> checkpointer_;  // copies the WAL into the database off this thread
    std::unique_ptr<WalSyncer> syncer_;  // fsyncs the WAL off this thread; null: SQLite does (or no fsync)
    std::unique_ptr<Pipeline> pipeline_;
    std::unique_ptr<Preparer> preparer_;  // after pipeline_: its worker uses it
    std::uint64_t events_published_ = 0;
    zmq::context_t ctx_{1};
    zmq::socket_t intake_, control_;
    std::unique_ptr<FeedPublisher> publisher_;
    std::unique_ptr<ReplayServer> replay_;  // stopped in ~Hub, before ctx_ goes
    std::unique_ptr<http::HttpServer> http_;  // the HTTP API; null when disabled or it cannot listen
    std::string http_error_;                  // why it is not serving, for status
    int signal_fd_ = -1;
    std::vector<std::unique_ptr<Adapter>> adapters_;
    std::map<pid_t, Adapter*> by_pid_;

    struct Pending {
        Adapter* adapter;
        std::string session;
        BatchIn batch;
        std::vector<zmq::message_t> frames;  // owns the bytes batch.records points into
        std::size_t records = 0;
        std::shared_ptr<Preparer::Batch> prepared;  // batch.records, parsed and located
    };
    std::deque<Pending> pending_;
    // A group commit done in SQLite, waiting for its sync: nothing says "durable" before that.
    struct Committed {
        std::uint64_t ticket = 0;  // WalSyncer's
        std::vector<EventRow> events;
        std::map<Adapter*, Counters> counts;
        struct Batch {
            Adapter* adapter;
            std::string session;
            std::uint64_t batch;
            std::size_t records, letters;
            std::optional<std::string> cursor;
        };
        std::vector<Batch> batches;
    };
    std::deque<Committed> unsynced_;
    std::size_t pending_records_ = 0;
    std::int64_t oldest_pending_ = 0;
    bool intake_drained_ = false;  // the last on_intake() read everything that was waiting
    bool stopping_ = false;
    std::int64_t stop_deadline_ = 0;
    std::int64_t started_ms_ = 0;
    std::int64_t commit_count_ = 0, commit_us_total_ = 0;
    // flow.intake_nice: the nice casehubd was started with (its runners get it back), the intake
    // thread's once set, and why it could not be set, for status.
    int own_nice_ = 0, intake_nice_ = 0;
    std::string intake_nice_error_;
    Clock clock_;                             // the hub's "now": wall, or simulated ([command] clock)
    std::shared_ptr<struct CommandCenter> command_;  // null when [command] is off
};

}  // namespace casehub::host
