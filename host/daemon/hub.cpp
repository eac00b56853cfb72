#include "daemon/hub.hpp"

#include "config/config_schema.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <csignal>
#include <cstring>
#include <random>

namespace casehub::host {

namespace {

std::int64_t mono_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string new_session() {
    static std::mt19937_64 rng{std::random_device{}()};
    char b[17];
    std::snprintf(b, sizeof b, "%016llx", static_cast<unsigned long long>(rng()));
    return b;
}

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const char* n = sigabbrev_np(WTERMSIG(status));
        return std::string("killed by signal ") + (n ? std::string("SIG") + n : std::to_string(WTERMSIG(status)));
    }
    return "ended with status " + std::to_string(status);
}

}  // namespace

const char* to_string(AdapterState s) {
    switch (s) {
        case AdapterState::starting: return "starting";
        case AdapterState::running: return "running";
        case AdapterState::backoff: return "backoff";
        case AdapterState::failed: return "failed";
        case AdapterState::stopping: return "stopping";
        case AdapterState::stopped: return "stopped";
        case AdapterState::disabled: return "disabled";
    }
    return "?";
}

Hub::Hub(HubConfig cfg, std::filesystem::path runner)
    : cfg_(std::move(cfg)), runner_(std::move(runner)),
      intake_(ctx_, zmq::socket_type::router), control_(ctx_, zmq::socket_type::rep) {}

Hub::~Hub() {
    if (http_) http_->stop();  // its handlers may be waiting on the control socket: first
    if (replay_) replay_->stop();
    if (signal_fd_ >= 0) ::close(signal_fd_);
    preparer_.reset();  // its worker may still read the bytes pending_ owns: stop it first
}

Result<std::unique_ptr<Hub>> Hub::create(HubConfig cfg, std::filesystem::path runner) {
    std::unique_ptr<Hub> h(new Hub(std::move(cfg), std::move(runner)));
    // synchronous = full: every commit is fsynced before anything says it is durable; by the
    // WalSyncer's thread (flow.sync_worker) or inside the commit by SQLite.
    const bool full_sync = h->cfg_.hub.synchronous != Synchronous::normal;
    const bool sync_worker = full_sync && h->cfg_.flow.sync_worker;
    auto store = Store::open(h->cfg_.hub.store, full_sync && !sync_worker ? Store::Sync::full : Store::Sync::normal);
    if (!store) return store.error();
    h->store_ = std::move(*store);
    if (sync_worker) {
        auto syncer = WalSyncer::start(h->cfg_.hub.store.string() + "-wal");
        if (!syncer) return syncer.error();
        h->syncer_ = std::move(*syncer);
    }
    {
        auto ck = Checkpointer::start(h->cfg_.hub.store, full_sync, std::chrono::milliseconds(250), std::chrono::milliseconds(50));
        if (!ck) return ck.error();
        h->checkpointer_ = std::move(*ck);
        // Only if the checkpointer falls far behind (a reader holding old pages) does a commit
        // checkpoint by itself: about 80 MB of log.
        if (auto r = h->store_->set_autocheckpoint_bytes(80 << 20); !r) return r.error();
    }
    auto categories = Categories::load(h->cfg_.hub.reference_dir / "categories.json");
    if (!categories) return categories.error();
    auto locator = Locator::load(h->cfg_.hub.reference_dir);
    if (!locator) return locator.error();
    correlate::Settings corr = h->cfg_.correlation;
    corr.compatible_families = categories->compatible_families();
    if (corr.enabled) {
        // Live records search the last max_gap_hours; a week more keeps records that arrive
        // days late (a department catching up) in memory too. Older ones search the store.
        const auto keep = static_cast<std::int32_t>((corr.max_gap_hours + 7 * 24) * 60);
        if (auto r = h->store_->enable_corr_cache(keep); !r) return r.error();
        const auto [profiles, cases] = h->store_->corr_cache_size();
        spdlog::info("correlation: {} recent profile(s) of {} case(s) in memory", profiles, cases);
    }
    h->pipeline_ = std::make_unique<Pipeline>(std::move(*categories), h->cfg_.hub.systems, std::move(*locator),
                                              std::move(corr));
    h->preparer_ = std::make_unique<Preparer>(*h->pipeline_, h->cfg_.flow.prepare_worker);
    if (auto r = h->start_command(); !r) return r.error();  // [command]: clock, rules (daemon/whistles.cpp)
    auto counters = h->store_->counters();
    if (!counters) return counters.error();

    try {
        // A runner's records are bounded by the ABI; anything bigger is not from our runner.
        h->intake_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(64) * 1024 * 1024);
        h->intake_.set(zmq::sockopt::router_mandatory, 0);
        h->intake_.set(zmq::sockopt::linger, 1000);
        h->intake_.bind(h->cfg_.hub.intake_endpoint);
        h->control_.set(zmq::sockopt::linger, 0);
        h->control_.bind(h->cfg_.hub.control_endpoint);
    } catch (const zmq::error_t& e) {
        return make_error(std::string("cannot bind ") + e.what() + " (intake " +
                          h->cfg_.hub.intake_endpoint + ", control " + h->cfg_.hub.control_endpoint +
                          "); is another casehubd running on this data_dir?");
    }

    // The feed: live updates on PUB, snapshot and replay from the store on its own thread.
    PublisherOptions popts;
    popts.sndhwm = h->cfg_.hub.feed_hwm;
    auto pub = FeedPublisher::create(h->ctx_, h->cfg_.hub.feed_endpoint, popts);
    if (!pub) return pub.error();
    h->publisher_ = std::move(*pub);
    h->publisher_->seed(h->store_->head_seq(), h->store_->street_heads());
    auto replay = ReplayServer::start(h->ctx_, h->cfg_.hub.store, h->cfg_.hub.snapshot_endpoint);
    if (!replay) return replay.error();
    h->replay_ = std::move(*replay);

    // The HTTP API. Like an adapter, it fails on its own: a port taken by someone else is logged
    // and shown by `casehub status`; the hub, its feed and the control socket run on.
    if (h->cfg_.http.enabled) {
        http::ServerConfig hc;
        hc.host = h->cfg_.http.host;
        hc.port = h->cfg_.http.port;
        hc.max_body_bytes = static_cast<std::size_t>(h->cfg_.http.max_body_bytes);
        hc.sse_heartbeat = h->cfg_.http.sse_heartbeat;
        hc.threads = h->cfg_.http.threads;
        hc.control_timeout = h->cfg_.http.control_timeout;
        hc.store = h->cfg_.hub.store;
        hc.reference_dir = h->cfg_.hub.reference_dir;
        hc.control_endpoint = h->cfg_.hub.control_endpoint;
        auto server = http::HttpServer::start(std::move(hc));
        if (server) {
            h->http_ = std::move(*server);
        } else {
            h->http_error_ = server.error().message;
            spdlog::error("{}; the HTTP API is off", h->http_error_);
        }
    }

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // main() blocked them already, before any thread
    h->signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (h->signal_fd_ < 0) return make_error("signalfd failed");

    RestartPolicy::Params p{h->cfg_.supervisor.backoff_initial.count(), h->cfg_.supervisor.backoff_max.count(),
                            h->cfg_.supervisor.healthy_after.count(), h->cfg_.supervisor.max_fast_crashes};
    for (const auto& ac : h->cfg_.adapters) {
        auto a = std::make_unique<Adapter>(Adapter{ac, {}, AdapterState::stopped, RestartPolicy(p)});
        if (!ac.enabled) {
            a->state = AdapterState::disabled;
        } else if (auto path = resolve_plugin(h->cfg_, ac.plugin); !path) {
            // One bad adapter never stops the hub or touches the others.
            a->state = AdapterState::failed;
            a->last_error = h->cfg_.file.string() + ":" + std::to_string(ac.line) + ": adapter " +
                            ac.id + ": " + path.error().message;
            spdlog::error("{}", a->last_error);
        } else {
            a->plugin_path = *path;
            auto cur = h->store_->cursor(ac.id);
            if (cur && *cur) a->last_cursor = **cur;
            if (auto it = counters->find(ac.id); it != counters->end()) a->counters = it->second;
        }
        h->adapters_.push_back(std::move(a));
    }
    return h;
}

void Hub::spawn(Adapter& a) {
    a.session = new_session();
    a.welcomed = false;
    a.next_batch = 1;
    a.fatal_message.reset();
    a.fatal_permanent = false;
    a.kill_sent_at = 0;
    a.kill_reason.clear();
    a.in_flight = 0;
    a.busy_ms = 0;
    const std::string host_timeout = std::to_string(cfg_.flow.runner_host_timeout.count());
    const std::string stop_timeout = std::to_string(cfg_.supervisor.stop_timeout.count());
    std::vector<std::string> args = {runner_.string(), "--plugin", a.plugin_path.string(),
                                     "--connect", cfg_.hub.intake_endpoint, "--adapter", a.cfg.id,
                                     "--session", a.session, "--host-timeout-ms", host_timeout,
                                     "--stop-timeout-ms", stop_timeout};
    std::vector<char*> argv;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const int runner_nice = intake_nice_ != own_nice_ ? own_nice_ : INT_MIN;  // forked from the intake thread
    pid_t pid = ::fork();
    if (pid == 0) {
        // Child: die with the hub (a kill -9 of casehubd must not leave orphans feeding
        // nobody), restore the signal mask, drop every inherited descriptor, exec.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        // Own process group: a Ctrl-C at the terminal or a group kill aimed at casehubd must
        // reach the runners as the hub's STOP, after their batches are committed, not as a signal.
        ::setpgid(0, 0);
        if (::getppid() != parent) ::_exit(wire::kExitHostGone);
        if (runner_nice != INT_MIN) ::setpriority(PRIO_PROCESS, 0, runner_nice);  // a higher nice: always allowed
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, nullptr);
        ::close_range(3, ~0U, 0);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    const std::int64_t now = mono_ms();
    if (pid < 0) {
        a.last_error = "fork failed";
        a.state = AdapterState::backoff;
        a.restart_at = now + 1000;
        return;
    }
    a.pid = pid;
    a.state = AdapterState::starting;
    a.started_at = a.last_heard = now;
    by_pid_[pid] = &a;
    spdlog::info("adapter {}: runner pid {} started ({})", a.cfg.id, pid, a.plugin_path.string());
}

void Hub::kill_runner(Adapter& a, const std::string& why) {
    if (a.pid <= 0 || a.kill_sent_at != 0) return;
    spdlog::warn("adapter {}: killing runner pid {}: {}", a.cfg.id, a.pid, why);
    a.kill_reason = why;
    a.kill_sent_at = mono_ms();
    ::kill(a.pid, SIGKILL);
}

void Hub::reap() {
    int status = 0;
    pid_t pid;
    while ((pid = ::waitpid(-1, &status, WNOHANG)) > 0) {
        auto it = by_pid_.find(pid);
        if (it == by_pid_.end()) continue;
        Adapter& a = *it->second;
        by_pid_.erase(it);
        std::string how = describe_exit(status);
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        // A runner that cannot load or is refused says why (FATAL) just before it exits, and its
        // exit can be seen first: read what it sent, briefly, before its session is closed, or
        // the reason would be lost to "exited with code N".
        if ((code == wire::kExitLoadFailed || code == wire::kExitRefused) && !a.fatal_message) {
            const std::int64_t until = mono_ms() + 250;
            while (!a.fatal_message && mono_ms() < until) {
                zmq::pollitem_t item{static_cast<void*>(intake_), 0, ZMQ_POLLIN, 0};
                try {
                    if (zmq::poll(&item, 1, std::chrono::milliseconds(25)) > 0) on_intake();
                } catch (const zmq::error_t&) {
                    break;  // EINTR: judge the exit as it is
                }
            }
        }
        const std::int64_t now = mono_ms();
        const std::int64_t uptime = now - a.started_at;
        a.pid = 0;
        a.session.clear();  // late messages of this runner are refused from now on
        a.welcomed = false;

        if (a.state == AdapterState::stopping || stopping_) {
            a.state = AdapterState::stopped;
            spdlog::info("adapter {}: runner {}", a.cfg.id, how);
            continue;
        }
        if (code == wire::kExitLoadFailed || code == wire::kExitRefused ||
            (a.fatal_message && a.fatal_permanent)) {
            // Permanent: restarting cannot help until the file or the config changes.
            a.state = AdapterState::failed;
            a.last_error = a.fatal_message ? *a.fatal_message : "runner " + how;
            spdlog::error("adapter {}: failed: {}", a.cfg.id, a.last_error);
            continue;
        }
        std::string why = !a.kill_reason.empty() ? a.kill_reason
                          : a.fatal_message      ? *a.fatal_message
                                                 : "runner " + how;
        a.last_error = why;
        ++a.restarts;
        auto d = a.policy.on_crash(uptime);
        if (d.give_up) {
            a.state = AdapterState::failed;
            a.last_error = "crashed " + std::to_string(a.policy.fast_crashes()) +
                           " times in a row, each within " +
                           std::to_string(cfg_.supervisor.healthy_after.count()) +
                           " ms of starting; last: " + why;
            spdlog::error("adapter {}: failed: {}", a.cfg.id, a.last_error);
            continue;
        }
        a.state = AdapterState::backoff;
        a.last_backoff_ms = d.delay_ms;
        a.restart_at = now + d.delay_ms;
        spdlog::warn("adapter {}: {} after {} ms; restart {} in {} ms", a.cfg.id, why, uptime,
                     a.restarts, d.delay_ms);
    }
}

void Hub::supervise(std::int64_t now) {
    for (auto& ap : adapters_) {
        Adapter& a = *ap;
        if (stopping_) continue;
        if ((a.state == AdapterState::stopped && !a.plugin_path.empty()) ||
            (a.state == AdapterState::backoff && now >= a.restart_at)) {
            spawn(a);
            continue;
        }
        if (a.pid > 0 && a.kill_sent_at == 0) {
            const std::int64_t silent = now - a.last_heard;
            if (silent > cfg_.supervisor.hang_timeout.count())
                kill_runner(a, "hung: no word from the runner for " + std::to_string(silent) + " ms");
            else if (a.busy_ms > cfg_.supervisor.hang_timeout.count())
                kill_runner(a, "hung: the plugin has been inside poll for " + std::to_string(a.busy_ms) + " ms");
        }
    }
}

Adapter* Hub::by_routing_id(const std::string& rid) {
    auto slash = rid.find('/');
    if (slash == std::string::npos) return nullptr;
    std::string_view id(rid.data(), slash), session(rid.data() + slash + 1, rid.size() - slash - 1);
    for (auto& a : adapters_)
        if (a->cfg.id == id && !a->session.empty() && a->session == session) return a.get();
    return nullptr;
}

void Hub::on_intake() {
    std::string rid;
    // Bounded per wake-up so commits and heartbeats keep their pace under a flood.
    for (int i = 0; i < 1000; ++i) {
        std::optional<wire::Message> m;
        try {
            m = wire::recv(intake_, &rid, true);
        } catch (const zmq::error_t& e) {
            spdlog::error("intake: {}", e.what());
            return;
        }
        if (!m) {
            intake_drained_ = true;
            return;
        }
        on_message(rid, *m);
    }
    intake_drained_ = false;  // more may be waiting: gather it before committing
}

void Hub::on_message(const std::string& rid, wire::Message& m) {
    Adapter* a = by_routing_id(rid);
    if (a == nullptr) {
        // A runner of an earlier session (or an earlier hub): it must not feed this one.
        if (m.command != wire::GONE && m.command != wire::FATAL)
            wire::send(intake_, &rid, wire::BYE, {{"reason", "unknown session " + rid}});
        return;
    }
    const std::int64_t now = mono_ms();
    a->last_heard = now;
    if (m.command.empty()) {
        kill_runner(*a, "protocol error: " + m.header.value("error", std::string("malformed message")));
        return;
    }
    if (m.command == wire::HELLO) {
        if (a->welcomed) return;  // a repeated hello; the welcome is on its way
        a->plugin = m.header.value("plugin", nlohmann::json::object());
        std::string where = cfg_.file.string() + ":" + std::to_string(a->cfg.line) + ": adapters." + a->cfg.id + ".config";
        auto schema = parse_config_schema(m.header.value("config_schema_text", std::string("[]")));
        Result<nlohmann::json> config = schema ? apply_config_schema(*schema, a->cfg.config, where, cfg_.config_dir)
                                               : Result<nlohmann::json>(schema.error());
        if (!config) {
            a->fatal_message = config.error().message;
            a->fatal_permanent = true;
            wire::send(intake_, &rid, wire::REFUSE, {{"message", config.error().message}});
            return;
        }
        // Batches of the previous runner still waiting must be durable before the new one
        // is told where to resume, or it would emit them again.
        commit_pending();
        auto cur = store_->cursor(a->cfg.id);
        if (!cur) {
            kill_runner(*a, cur.error().message);
            return;
        }
        a->last_cursor = *cur;
        a->welcomed = true;
        a->state = AdapterState::running;
        wire::send(intake_, &rid, wire::WELCOME,
                   {{"config", *config},
                    {"cursor", *cur ? nlohmann::json(**cur) : nlohmann::json()},
                    {"credit", cfg_.flow.credit_records},
                    {"heartbeat_ms", cfg_.supervisor.heartbeat.count()},
                    {"host_timeout_ms", cfg_.flow.runner_host_timeout.count()}});
        return;
    }
    if (m.command == wire::BATCH) {
        if (!a->welcomed) return kill_runner(*a, "protocol error: batch before welcome");
        const auto no = m.header.value("batch", std::uint64_t{0});
        const auto nrec = m.header.value("records", std::size_t{0});
        const auto nlet = m.header.value("dead_letters", std::size_t{0});
        if (no != a->next_batch)
            return kill_runner(*a, "protocol error: batch " + std::to_string(no) + " arrived, expected " + std::to_string(a->next_batch));
        if (m.payload.size() != nrec + 2 * nlet)
            return kill_runner(*a, "protocol error: batch " + std::to_string(no) + " has " + std::to_string(m.payload.size()) + " frames, header says " + std::to_string(nrec) + " records and " + std::to_string(nlet) + " dead letters");
        ++a->next_batch;
        Pending p{a, a->session, {}, std::move(m.payload), nrec};
        p.batch.adapter = a->cfg.id;
        p.batch.batch = no;
        if (m.header.contains("cursor") && m.header["cursor"].is_string())
            p.batch.cursor = m.header["cursor"].get<std::string>();
        p.batch.records.reserve(nrec);
        for (std::size_t i = 0; i < nrec; ++i)
            p.batch.records.emplace_back(p.frames[i].data<char>(), p.frames[i].size());
        for (std::size_t i = 0; i < nlet; ++i) {
            auto& meta = p.frames[nrec + 2 * i];
            auto& native = p.frames[nrec + 2 * i + 1];
            auto j = nlohmann::json::parse(meta.data<char>(), meta.data<char>() + meta.size(), nullptr, false);
            if (!j.is_object()) return kill_runner(*a, "protocol error: dead letter meta is not JSON");
            p.batch.letters.push_back({j.value("reason", ""), j.value("detail", ""), j.value("cursor", ""),
                                       std::string_view(native.data<char>(), native.size())});
        }
        p.prepared = preparer_->submit(p.batch.records);
        a->in_flight += static_cast<std::int64_t>(nrec);
        if (pending_.empty()) oldest_pending_ = now;
        pending_records_ += nrec;
        pending_.push_back(std::move(p));
        return;
    }
    if (m.command == wire::BEAT) {
        a->health = m.header.value("health", 0);
        a->health_message = m.header.value("health_message", "");
        a->busy_ms = m.header.value("busy_ms", std::int64_t{0});
        return;
    }
    if (m.command == wire::FATAL) {
        a->fatal_message = m.header.value("message", std::string("fatal error"));
        a->fatal_permanent = m.header.value("permanent", false);
        return;
    }
    if (m.command == wire::WBDONE) return on_writeback_done(*a, m.header);
    // GONE: the exit follows and reap() handles it.
}

// Group commit. Under load the intake is never drained, and batches gather until the oldest
// waited commit_max_delay_ms or max_batch_records are in; below it a commit starts as soon as
// nothing more is waiting (after commit_min_delay_ms), so a record's latency is its own commit,
// not a fixed wait. After a failed commit oldest_pending_ lies ahead: the retry waits.
bool Hub::commit_due(std::int64_t now) const {
    if (pending_.empty()) return false;
    const std::int64_t age = now - oldest_pending_;
    return age >= cfg_.flow.commit_max_delay.count() ||
           pending_records_ >= static_cast<std::size_t>(cfg_.flow.max_batch_records) ||
           (intake_drained_ && age >= cfg_.flow.commit_min_delay.count());
}

void Hub::commit_pending() {
    if (pending_.empty()) return;
    const auto t0 = std::chrono::steady_clock::now();
    const std::int64_t now = clock_.now_ms();  // the hub's clock (simulated in a simulated year)
    std::vector<EventRow> events;
    std::map<Adapter*, Counters> counts;
    std::map<Adapter*, const std::string*> cursors;
    auto fail = [&](const std::string& why) {
        // Nothing acked, nothing dropped: the batches stay pending and are retried shortly;
        // the runners stall on credit meanwhile.
        store_->rollback();
        spdlog::error("store: {}", why);
        oldest_pending_ = mono_ms() + 500;
    };
    if (auto r = store_->begin(); !r) return fail(r.error().message);
    // Back to the prepare worker a few at a time: no more than a few dozen trees wait to be
    // destroyed, where a commit holds up to max_batch_records.
    constexpr std::size_t kRecycleRecords = 32;
    std::vector<Pipeline::Prepared> spent;
    for (auto& p : pending_) {
        Counters& c = counts[p.adapter];
        for (std::size_t i = 0; i < p.batch.records.size(); ++i) {
            // The previous commit's sync may be done: publish and ack it now, not after this
            // commit, so its events do not wait for a whole commit (under load a commit holds
            // tens of records and takes as many milliseconds) and its runner sends more
            // meanwhile. The check is an atomic load while nothing is done.
            finish_durable();
            auto r = pipeline_->apply(*store_, p.batch.adapter, p.batch.records[i], p.prepared->take(i),
                                      p.batch.cursor.value_or(""), now, events, c, nullptr, &spent);
            if (!r) return fail(r.error().message);
            if (spent.size() >= kRecycleRecords) {
                preparer_->recycle(std::move(spent));
                spent.clear();
            }
        }
        for (const auto& l : p.batch.letters) {
            DeadLetterRow d;
            d.adapter = p.batch.adapter;
            d.received_at = now;
            d.stage = "adapter";
            d.reason = l.reason;
            d.detail = l.detail;
            d.cursor = l.cursor;
            d.doc = std::string(l.native);
            if (auto r = store_->add_dead_letter(d); !r) return fail(r.error().message);
        }
        if (p.batch.cursor) cursors[p.adapter] = &*p.batch.cursor;
    }
    // One cursor write per adapter per commit, its last batch's (only that one survives the
    // transaction): below capacity a batch is often a single record.
    for (auto& [a, cursor] : cursors)
        if (auto r = store_->set_cursor(a->cfg.id, *cursor); !r) return fail(r.error().message);
    for (auto& [a, c] : counts)
        if (auto r = store_->add_counters(a->cfg.id, c); !r) return fail(r.error().message);
    if (auto r = store_->commit(); !r) return fail(r.error().message);

    checkpointer_->poke();
    preparer_->recycle(std::move(spent));
    commit_us_total_ += std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0).count();
    ++commit_count_;
    Committed done;
    done.events = std::move(events);
    done.counts = std::move(counts);
    for (auto& p : pending_)
        done.batches.push_back({p.adapter, p.session, p.batch.batch, p.records, p.batch.letters.size(), std::move(p.batch.cursor)});
    pending_.clear();
    pending_records_ = 0;
    if (!syncer_) return finish(done);
    done.ticket = syncer_->request();
    unsynced_.push_back(std::move(done));
}

void Hub::finish(Committed& c) {
    send_to_feed(c.events);
    for (auto& [a, n] : c.counts) a->counters += n;
    // Ack the last committed batch of each live session (acks are cumulative).
    std::map<Adapter*, std::uint64_t> ack;
    for (auto& b : c.batches) {
        Adapter& a = *b.adapter;
        a.records_received += b.records;
        a.dead_letters += b.letters;
        ++a.batches_committed;
        if (b.cursor) a.last_cursor = std::move(b.cursor);
        if (a.session == b.session) {
            a.in_flight -= static_cast<std::int64_t>(b.records);
            ack[&a] = b.batch;
        }
    }
    for (auto& [a, upto] : ack) {
        std::string rid = a->cfg.id + "/" + a->session;
        wire::send(intake_, &rid, wire::ACK, {{"batch", upto}});
    }
}

void Hub::finish_durable() {
    if (!syncer_) return;
    const std::uint64_t durable = syncer_->durable();
    while (!unsynced_.empty() && unsynced_.front().ticket <= durable) {
        finish(unsynced_.front());
        unsynced_.pop_front();
    }
}

bool Hub::flush_durable() {
    if (!syncer_) return true;
    const bool ok = syncer_->wait(syncer_->request());
    finish_durable();
    return ok;
}

// Re-submits dead letters of the validation stage to the pipeline, after a fix to the
// configuration or the taxonomy. One transaction; each letter is marked with its outcome.
nlohmann::json Hub::replay_dead_letters(const nlohmann::json& req) {
    commit_pending();  // keep the order: what arrived before is applied first
    std::vector<DeadLetterRow> letters;
    if (req.contains("ids") && req["ids"].is_array()) {
        for (const auto& id : req["ids"]) {
            if (!id.is_number_integer()) return {{"error", "ids must be integers"}};
            auto d = store_->dead_letter(id.get<std::int64_t>());
            if (!d) return {{"error", d.error().message}};
            if (!*d) return {{"error", "no dead letter " + id.dump()}};
            letters.push_back(std::move(**d));
        }
    } else {
        auto all = store_->dead_letters(req.value("adapter", ""), 0, 100000, false);
        if (!all) return {{"error", all.error().message}};
        letters = std::move(*all);
    }
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
    std::vector<EventRow> events;
    nlohmann::json results = nlohmann::json::array();
    if (auto r = store_->begin(); !r) return {{"error", r.error().message}};
    for (const auto& d : letters) {
        if (d.stage != "validation") {
            results.push_back({{"id", d.id}, {"outcome", "skipped"},
                               {"reason", "an adapter-stage dead letter holds native bytes; only its adapter can re-read it"}});
            continue;
        }
        Counters ignored;  // a replay is not a new emission: adapter counters stay as they were
        std::string fault;
        auto out = pipeline_->apply(*store_, d.adapter, d.doc, d.cursor, now, events, ignored, &fault);
        if (!out) {
            store_->rollback();
            return {{"error", out.error().message}};
        }
        std::string outcome = *out == Outcome::dead_lettered          ? "still invalid: " + fault
                              : *out == Outcome::same_version_changed ? "applied"
                                                                      : to_string(*out);
        if (auto r = store_->mark_replayed(d.id, now, outcome); !r) {
            store_->rollback();
            return {{"error", r.error().message}};
        }
        results.push_back({{"id", d.id}, {"outcome", outcome}});
    }
    if (auto r = store_->commit(); !r) return {{"error", r.error().message}};
    publish(events);
    return {{"replayed", results}};
}

void Hub::publish(const std::vector<EventRow>& events) {
    // A failed sync: not on disk, so not published; the main loop stops the hub.
    if (!flush_durable()) return;
    send_to_feed(events);
}

void Hub::send_to_feed(const std::vector<EventRow>& events) {
    if (events.empty()) return;
    publisher_->publish(events);
    events_published_ += events.size();
    if (http_) http_->notify(events.back().seq);  // wakes the HTTP event streams
}

nlohmann::json Hub::status_json() const {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& ap : adapters_) {
        const Adapter& a = *ap;
        list.push_back({{"id", a.cfg.id},
                        {"plugin", a.cfg.plugin},
                        {"plugin_path", a.plugin_path.string()},
                        {"plugin_name", a.plugin.value("name", "")},
                        {"plugin_version", a.plugin.value("version", "")},
                        {"state", to_string(a.state)},
                        {"pid", a.pid},
                        {"restarts", a.restarts},
                        {"last_error", a.last_error},
                        {"records_received", a.records_received},
                        {"batches_committed", a.batches_committed},
                        {"dead_letters", a.dead_letters},
                        {"records_in", a.counters.records_in},
                        {"applied", a.counters.applied},
                        {"duplicates", a.counters.duplicates},
                        {"same_version_changed", a.counters.same_version_changed},
                        {"stale", a.counters.stale},
                        {"invalid", a.counters.dead_lettered},
                        {"last_cursor", a.last_cursor ? nlohmann::json(*a.last_cursor) : nlohmann::json()},
                        {"credit", cfg_.flow.credit_records - a.in_flight},
                        {"in_flight", a.in_flight},
                        {"health", a.health == 0 ? "ok" : a.health == 1 ? "degraded" : "down"},
                        {"health_message", a.health_message},
                        {"backoff_ms", a.last_backoff_ms},
                        {"writebacks_done", a.writebacks_done},
                        {"writebacks_failed", a.writebacks_failed},
                        {"writebacks_retried", a.writebacks_retried}});
    }
    return {{"hub",
             {{"pid", ::getpid()},
              {"uptime_ms", mono_ms() - started_ms_},
              {"store", cfg_.hub.store.string()},
              {"intake", cfg_.hub.intake_endpoint},
              {"commits", commit_count_},
              {"commit_avg_us", commit_count_ ? commit_us_total_ / commit_count_ : 0},
              {"commit_us_total", commit_us_total_},
              {"intake_nice", [&] {
                   nlohmann::json n{{"wanted", cfg_.flow.intake_nice}, {"actual", intake_nice_}, {"others", own_nice_}};
                   if (!intake_nice_error_.empty()) n["error"] = intake_nice_error_;
                   return n;
               }()},
              {"head_seq", store_->head_seq()},
              {"syncs", syncer_ ? nlohmann::json{{"by", "worker"}, {"runs", syncer_->syncs()}, {"waiting_commits", unsynced_.size()}}
                        : nlohmann::json{{"by", cfg_.hub.synchronous == Synchronous::normal ? "none" : "commit"}}},
              {"checkpoints", [&] {
                   const auto c = checkpointer_->stats();
                   return nlohmann::json{{"runs", c.runs}, {"frames_copied", c.frames_copied},
                                         {"failures", c.failures}, {"last_error", c.last_error}};
               }()},
              {"correlation_cache", {{"profiles", store_->corr_cache_size().first},
                                     {"cases", store_->corr_cache_size().second}}},
              {"events_published", events_published_},
              {"feed", cfg_.hub.feed_endpoint},
              {"feed_consumers", publisher_->connections()},
              {"replay_requests", replay_->stats().requests},
              {"http", http_ ? nlohmann::json{{"state", "running"}, {"listen", http_->address()}}
                       : cfg_.http.enabled ? nlohmann::json{{"state", "failed"}, {"listen", cfg_.http.listen()}, {"error", http_error_}}
                                           : nlohmann::json{{"state", "disabled"}}},
              {"stopping", stopping_}}},
            {"adapters", list}};
}

void Hub::on_control() {
    zmq::message_t req;
    if (!control_.recv(req, zmq::recv_flags::dontwait)) return;
    auto j = nlohmann::json::parse(req.to_string_view(), nullptr, false);
    nlohmann::json reply;
    if (!j.is_object() || !j.contains("cmd")) reply = {{"error", "request must be a JSON object with \"cmd\""}};
    else if (j["cmd"] == "replay_deadletters") reply = replay_dead_letters(j);
    else if (j["cmd"] == "case_action") reply = case_action(j);
    else if (j["cmd"] == "writebacks") reply = writebacks_json(j);
    else if (j["cmd"] == "case_merge" || j["cmd"] == "case_split") reply = case_override(j);
    else if (j["cmd"].is_string() && is_command_request(j["cmd"].get<std::string>())) reply = command_request(j);
    else if (j["cmd"] == "status") {
        try {
            reply = status_json();
        } catch (const std::exception& e) {  // a bug here must not take the hub down
            reply = {{"error", std::string("status failed: ") + e.what()}};
        }
    }
    else reply = {{"error", "unknown command " + j["cmd"].dump()}};
    std::string s = reply.dump();
    control_.send(zmq::buffer(s), zmq::send_flags::dontwait);
}

// The intake thread applies every record; the prepare worker, the runners and the feed's
// consumers each have time to spare. When both cores are busy it should go first: at nice -10
// it waited 9 µs per record for a core where it waited 13 (docs/performance.md, fifteenth round).
// Set here, once every thread of create() is running, because a thread or process takes the
// nice of the thread that starts it: the runners go back up to the hub's own (spawn()), which
// needs no privilege, hence only values below it.
void Hub::set_intake_nice() {
    const auto self = static_cast<id_t>(::gettid());  // Linux: a thread's own nice, not the process's
    errno = 0;
    const int own = ::getpriority(PRIO_PROCESS, self);
    own_nice_ = intake_nice_ = errno == 0 ? own : 0;
    const int want = cfg_.flow.intake_nice;
    if (want >= own_nice_) return;  // started at that priority or above it already
    if (::setpriority(PRIO_PROCESS, self, want) != 0) {
        intake_nice_error_ = std::strerror(errno);
        spdlog::warn("flow.intake_nice = {}: the intake thread stays at nice {} ({}); below the hub's own nice it "
                     "needs CAP_SYS_NICE (root, or under systemd AmbientCapabilities=CAP_SYS_NICE or LimitNICE={})",
                     want, own_nice_, intake_nice_error_, want);
        return;
    }
    intake_nice_ = want;
    spdlog::info("casehubd: intake thread at nice {} (flow.intake_nice; the other threads and the runners at {})", want,
                 own_nice_);
}

int Hub::run() {
    started_ms_ = mono_ms();
    set_intake_nice();
    spdlog::info("casehubd: store {}, intake {}, control {}, {} adapter(s)", cfg_.hub.store.string(),
                 cfg_.hub.intake_endpoint, cfg_.hub.control_endpoint, adapters_.size());
    std::int64_t last_pulse = 0, last_checkpoint = mono_ms(), last_dispatch = 0;
    while (true) {
        const std::int64_t now = mono_ms();
        if (!stopping_) supervise(now);
        if (now - last_pulse >= cfg_.supervisor.heartbeat.count()) {
            last_pulse = now;
            publisher_->heartbeat();
            for (auto& a : adapters_)
                if (a->pid > 0 && a->welcomed) {
                    std::string rid = a->cfg.id + "/" + a->session;
                    wire::send(intake_, &rid, wire::PULSE, nlohmann::json::object());
                }
        }
        command_tick(now);  // overdue alerts, escalation (daemon/whistles.cpp)
        if (!stopping_ && now - last_dispatch >= 50) {
            last_dispatch = now;
            dispatch_writebacks(now);
        }
        if (commit_due(now)) commit_pending();
        if (syncer_) {
            if (auto f = syncer_->failure()) {
                // The disk refused the log: what was committed since the last good sync may not
                // be there. Nothing of it was acked or published; the runners resend it to the
                // next hub from the store's cursors.
                spdlog::critical("store: {}; stopping (the next start recovers from the store)", *f);
                for (auto& a : adapters_)
                    if (a->pid > 0) kill_runner(*a, "the hub's store cannot sync");
                return 1;
            }
        }
        if (now - last_checkpoint > 10000) {
            last_checkpoint = now;
            // A line of progress for whoever watches the log.
            for (auto& a : adapters_)
                if (a->state == AdapterState::running)
                    spdlog::info("adapter {}: {} records committed, {} dead letters, cursor {}", a->cfg.id,
                                 a->records_received, a->dead_letters, a->last_cursor.value_or("-"));
        }
        if (stopping_) {
            bool alive = false;
            for (auto& a : adapters_) alive |= a->pid > 0;
            if (!alive || now > stop_deadline_) {
                for (auto& a : adapters_)
                    if (a->pid > 0) kill_runner(*a, "did not stop in time");
                commit_pending();
                if (!flush_durable()) continue;  // the failure above stops the hub
                spdlog::info("casehubd: stopped");
                return 0;
            }
        }

        std::int64_t timeout = std::min<std::int64_t>(100, cfg_.supervisor.heartbeat.count());
        if (!pending_.empty()) {  // until commit_due() would say yes, unless something arrives
            const auto wait = intake_drained_ ? cfg_.flow.commit_min_delay : cfg_.flow.commit_max_delay;
            timeout = std::max<std::int64_t>(0, wait.count() - (now - oldest_pending_));
        }
        zmq::pollitem_t items[] = {{static_cast<void*>(intake_), 0, ZMQ_POLLIN, 0},
                                   {static_cast<void*>(control_), 0, ZMQ_POLLIN, 0},
                                   {nullptr, signal_fd_, ZMQ_POLLIN, 0},
                                   {nullptr, syncer_ ? syncer_->wake_fd() : -1, ZMQ_POLLIN, 0}};
        try {
            zmq::poll(items, syncer_ ? 4 : 3, std::chrono::milliseconds(timeout));
        } catch (const zmq::error_t& e) {
            if (e.num() != EINTR) throw;
        }
        if (items[2].revents & ZMQ_POLLIN) {
            signalfd_siginfo si;
            while (::read(signal_fd_, &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGCHLD) {
                    reap();
                } else if (!stopping_) {
                    spdlog::info("casehubd: {} received; stopping intake", strsignal(static_cast<int>(si.ssi_signo)));
                    stopping_ = true;
                    stop_deadline_ = mono_ms() + cfg_.supervisor.stop_timeout.count() + 1000;
                    for (auto& a : adapters_) {
                        if (a->pid > 0) {
                            a->state = AdapterState::stopping;
                            std::string rid = a->cfg.id + "/" + a->session;
                            wire::send(intake_, &rid, wire::STOP, nlohmann::json::object());
                        }
                    }
                }
            }
            reap();  // SIGCHLDs coalesce; reap whatever is there
        }
        if (syncer_ && (items[3].revents & ZMQ_POLLIN)) {
            syncer_->drain();
            finish_durable();
        }
        if (items[0].revents & ZMQ_POLLIN) on_intake();
        if (items[1].revents & ZMQ_POLLIN) on_control();
    }
}

}  // namespace casehub::host
