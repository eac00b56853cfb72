// casehub-runner: loads ONE plugin and connects it to casehubd over ZeroMQ.
//
// Two threads. The I/O thread owns the DEALER socket: hello/welcome, batches out, acks and
// pulses in, heartbeats, and the host-gone timer. The plugin thread calls the plugin (create,
// start, poll..., acked, stop, destroy); the plugin's calls to emit() hand batches to the I/O
// thread and block while the host has granted no credit. A plugin stuck in its own code shows
// up as a growing busy_ms in the heartbeats, which the supervisor reads as a hang.
#include "loader/plugin_loader.hpp"
#include "protocol/wire.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace {

using namespace casehub;
using Clock = std::chrono::steady_clock;

std::int64_t mono_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
        .count();
}

struct OutBatch {
    std::uint64_t id = 0;
    std::optional<std::string> cursor;  // nullopt: dead letters only, cursor unchanged
    std::vector<zmq::message_t> records;
    std::vector<std::pair<nlohmann::json, zmq::message_t>> letters;
};

struct Fatal {
    std::string stage, message;
    bool permanent = false;
    int exit_code = wire::kExitPluginFailed;
};

// State shared by the plugin thread(s) and the I/O thread.
struct Runner {
    std::string adapter, session;
    int wake_fd = -1;  // eventfd: the I/O thread polls it next to the socket

    std::mutex mu;
    std::condition_variable cv;
    bool welcomed = false;
    nlohmann::json welcome;
    std::int64_t credit = 0;     // records the host lets us have in flight
    std::int64_t in_flight = 0;  // records sent, not yet acked
    std::uint64_t next_batch = 1;
    std::map<std::uint64_t, std::int64_t> unacked;  // batch id -> records
    std::deque<OutBatch> out;
    std::uint64_t acked_upto = 0, delivered_upto = 0;
    std::optional<Fatal> fatal;
    bool plugin_done = false;
    std::deque<std::pair<std::int64_t, std::string>> writebacks;  // id, action JSON, to apply
    std::deque<nlohmann::json> writeback_results;                 // WBDONE headers to send

    std::atomic<bool> stopping{false};
    std::atomic<std::int64_t> busy_since{0};  // mono ms the plugin entered its own code, 0 idle
    std::atomic<int> health{CASEHUB_HEALTH_OK};
    std::string health_message;  // under mu
    std::atomic<std::uint64_t> records_emitted{0}, letters{0};

    void wake() {
        std::uint64_t one = 1;
        (void)!::write(wake_fd, &one, sizeof one);
    }
};

Runner* self(casehub_host* h) { return reinterpret_cast<Runner*>(h); }

void put_error(casehub_error* e, const std::string& m) {
    if (e == nullptr || e->buf == nullptr || e->cap == 0) return;
    std::size_t n = std::min(m.size(), e->cap - 1);
    std::memcpy(e->buf, m.data(), n);
    e->buf[n] = '\0';
}

// ---- the host API the plugin sees -------------------------------------------------------------

casehub_status api_emit(casehub_host* h, const casehub_batch* b, uint64_t* id,
                        casehub_error* e) noexcept {
    Runner* r = self(h);
    if (b == nullptr || b->struct_size < CASEHUB_BATCH_SIZE_1_0 ||
        (b->record_count > 0 && b->records == nullptr)) {
        put_error(e, "emit: batch is NULL, smaller than casehub_batch 1.0, or has NULL records");
        return CASEHUB_ERR_INVALID_ARGUMENT;
    }
    if (b->record_count > CASEHUB_MAX_BATCH_RECORDS) {
        put_error(e, "emit: " + std::to_string(b->record_count) + " records in one batch, limit " +
                         std::to_string(CASEHUB_MAX_BATCH_RECORDS));
        return CASEHUB_ERR_LIMIT;
    }
    if (b->cursor.len > CASEHUB_MAX_CURSOR_BYTES || (b->cursor.len > 0 && b->cursor.data == nullptr)) {
        put_error(e, "emit: cursor is over 4096 bytes or NULL");
        return CASEHUB_ERR_LIMIT;
    }
    OutBatch ob;
    ob.cursor = std::string(b->cursor.data ? b->cursor.data : "", b->cursor.len);
    ob.records.reserve(b->record_count);
    for (std::size_t i = 0; i < b->record_count; ++i) {
        const casehub_bytes& rec = b->records[i];
        if (rec.len > CASEHUB_MAX_RECORD_BYTES || (rec.len > 0 && rec.data == nullptr)) {
            put_error(e, "emit: record " + std::to_string(i) + " is " + std::to_string(rec.len) +
                             " bytes, over the 1 MiB limit of casehub.record/1 (dead-letter it)");
            return CASEHUB_ERR_LIMIT;
        }
        ob.records.emplace_back(rec.data, rec.len);
    }
    const auto n = static_cast<std::int64_t>(b->record_count);
    // Waiting for credit is the host's time, not the plugin's: it must not look like a hang.
    const std::int64_t busy = r->busy_since.exchange(0);
    std::unique_lock lk(r->mu);
    r->cv.wait(lk, [&] {
        return r->stopping.load() || r->in_flight == 0 || r->in_flight + n <= r->credit;
    });
    r->busy_since = busy ? mono_ms() : 0;
    if (r->stopping) {
        put_error(e, "emit: the host is stopping");
        return CASEHUB_ERR_STOPPING;
    }
    ob.id = r->next_batch++;
    r->in_flight += n;
    r->unacked[ob.id] = n;
    if (id) *id = ob.id;
    r->out.push_back(std::move(ob));
    r->records_emitted += static_cast<std::uint64_t>(n);
    lk.unlock();
    r->wake();
    return CASEHUB_OK;
}

casehub_status api_dead_letter(casehub_host* h, const casehub_dead_letter* l,
                               casehub_error* e) noexcept {
    Runner* r = self(h);
    if (l == nullptr || l->struct_size < CASEHUB_DEAD_LETTER_SIZE_1_0 || l->reason == nullptr ||
        (l->native.len > 0 && l->native.data == nullptr)) {
        put_error(e, "dead_letter: letter is NULL, too small, or has no reason");
        return CASEHUB_ERR_INVALID_ARGUMENT;
    }
    if (l->native.len > 16u * 1024u * 1024u) {
        put_error(e, "dead_letter: native bytes over 16 MiB");
        return CASEHUB_ERR_LIMIT;
    }
    nlohmann::json meta = {
        {"reason", std::string(l->reason, strnlen(l->reason, 128))},
        {"detail", l->detail ? std::string(l->detail, strnlen(l->detail, 4096)) : ""},
        {"cursor", std::string(l->cursor.data ? l->cursor.data : "",
                               std::min<std::size_t>(l->cursor.len, CASEHUB_MAX_CURSOR_BYTES))},
    };
    OutBatch ob;
    ob.letters.emplace_back(std::move(meta), zmq::message_t(l->native.data, l->native.len));
    {
        std::lock_guard lk(r->mu);
        if (r->stopping) {
            put_error(e, "dead_letter: the host is stopping");
            return CASEHUB_ERR_STOPPING;
        }
        ob.id = r->next_batch++;
        r->unacked[ob.id] = 0;
        r->out.push_back(std::move(ob));
    }
    r->letters++;
    r->wake();
    return CASEHUB_OK;
}

void api_log(casehub_host* h, int32_t level, const char* msg, size_t len) noexcept {
    std::string_view m(msg ? msg : "", msg ? std::min<std::size_t>(len, 8192) : 0);
    auto lvl = level <= CASEHUB_LOG_DEBUG  ? spdlog::level::debug
               : level == CASEHUB_LOG_INFO ? spdlog::level::info
               : level == CASEHUB_LOG_WARN ? spdlog::level::warn
                                           : spdlog::level::err;
    spdlog::log(lvl, "[{}] {}", self(h)->adapter, m);
}

void api_set_health(casehub_host* h, int32_t health, const char* msg) noexcept {
    Runner* r = self(h);
    r->health = health;
    std::lock_guard lk(r->mu);
    r->health_message = msg ? std::string(msg, strnlen(msg, 512)) : "";
}

int64_t api_now_ms(casehub_host*) noexcept {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

int32_t api_stop_requested(casehub_host* h) noexcept { return self(h)->stopping ? 1 : 0; }

const casehub_host_api kApi = {
    sizeof(casehub_host_api), CASEHUB_ABI_MAJOR, CASEHUB_ABI_MINOR, 0, &api_emit,
    &api_dead_letter,         &api_log,          &api_set_health,   &api_now_ms, &api_stop_requested,
};

// ---- plugin thread -----------------------------------------------------------------------------

void fail(Runner& r, std::string stage, std::string message, bool permanent, int code) {
    spdlog::error("[{}] {}", r.adapter, message);
    std::lock_guard lk(r.mu);
    r.fatal = Fatal{std::move(stage), std::move(message), permanent, code};
    r.plugin_done = true;
    r.cv.notify_all();
    r.wake();
}

void deliver_acks(Runner& r, host::PluginInstance& inst) {
    std::uint64_t upto;
    {
        std::lock_guard lk(r.mu);
        upto = r.acked_upto;
    }
    if (upto > r.delivered_upto) {
        r.delivered_upto = upto;
        inst.acked(upto);
    }
}

// Write-backs run on the plugin thread between polls (rule of plugin_abi.h), one at a time.
void apply_writebacks(Runner& r, host::PluginInstance& inst) {
    for (;;) {
        std::pair<std::int64_t, std::string> wb;
        {
            std::lock_guard lk(r.mu);
            if (r.writebacks.empty()) return;
            wb = std::move(r.writebacks.front());
            r.writebacks.pop_front();
        }
        r.busy_since = mono_ms();
        auto outcome = inst.write_back(wb.second);
        r.busy_since = 0;
        if (outcome.status != CASEHUB_OK)
            spdlog::warn("[{}] write-back {}: {}", r.adapter, wb.first, outcome.message);
        std::lock_guard lk(r.mu);
        r.writeback_results.push_back({{"id", wb.first},
                                       {"status", static_cast<int>(outcome.status)},
                                       {"status_name", host::status_name(outcome.status)},
                                       {"message", outcome.message}});
        r.wake();
    }
}

void plugin_thread(Runner& r, const host::LoadedPlugin& plugin, int stop_timeout_ms) {
    nlohmann::json welcome;
    {
        std::unique_lock lk(r.mu);
        r.cv.wait(lk, [&] { return r.welcomed || r.stopping; });
        if (!r.welcomed) {
            r.plugin_done = true;
            r.wake();
            return;
        }
        welcome = r.welcome;
    }
    auto created = host::PluginInstance::create(plugin, &kApi, reinterpret_cast<casehub_host*>(&r),
                                                welcome.value("config", nlohmann::json::object()));
    if (!created) {
        // UNAVAILABLE at create is transient (a source not reachable yet): restart later.
        bool transient = created.error().message.find("CASEHUB_ERR_UNAVAILABLE") != std::string::npos;
        return fail(r, "create", created.error().message, !transient,
                    transient ? wire::kExitPluginFailed : wire::kExitRefused);
    }
    auto& inst = **created;
    std::string cursor = welcome["cursor"].is_string() ? welcome["cursor"].get<std::string>() : "";
    r.busy_since = mono_ms();
    auto started = inst.start(cursor);
    r.busy_since = 0;
    if (!started) {
        bool transient = started.error().message.find("CASEHUB_ERR_UNAVAILABLE") != std::string::npos;
        return fail(r, "start", started.error().message, !transient,
                    transient ? wire::kExitPluginFailed : wire::kExitRefused);
    }
    spdlog::info("[{}] started {} {} from cursor '{}'", r.adapter, plugin.name(), plugin.version(), cursor);

    int unavailable_streak = 0;
    while (!r.stopping) {
        deliver_acks(r, inst);
        apply_writebacks(r, inst);
        r.busy_since = mono_ms();
        auto outcome = inst.poll(200);
        r.busy_since = 0;
        if (outcome.status == CASEHUB_OK) {
            unavailable_streak = 0;
            continue;
        }
        if (outcome.status == CASEHUB_ERR_STOPPING) break;
        if (outcome.status == CASEHUB_ERR_UNAVAILABLE) {
            // Transient: back off inside the runner, up to 5 s, and keep heartbeating.
            r.health = CASEHUB_HEALTH_DEGRADED;
            spdlog::warn("[{}] {}", r.adapter, outcome.message);
            int wait_ms = std::min(5000, 100 << std::min(unavailable_streak++, 6));
            std::unique_lock lk(r.mu);
            r.cv.wait_for(lk, std::chrono::milliseconds(wait_ms), [&] { return r.stopping.load() || !r.writebacks.empty(); });
            continue;
        }
        return fail(r, "poll", outcome.message, false, wire::kExitPluginFailed);
    }
    if (auto s = inst.stop(); !s) spdlog::warn("[{}] {}", r.adapter, s.error().message);
    // Give the host a moment to commit what is in flight, so the plugin hears its acks.
    {
        std::unique_lock lk(r.mu);
        r.cv.wait_for(lk, std::chrono::milliseconds(stop_timeout_ms), [&] { return r.in_flight == 0 && r.out.empty(); });
    }
    deliver_acks(r, inst);
    created->reset();
    std::lock_guard lk(r.mu);
    r.plugin_done = true;
    r.wake();
}

// ---- I/O thread (main) -------------------------------------------------------------------------

int io_loop(Runner& r, zmq::socket_t& sock, const host::LoadedPlugin& plugin, int host_timeout_ms) {
    nlohmann::json hello = {{"v", wire::kVersion},
                            {"adapter", r.adapter},
                            {"session", r.session},
                            {"pid", static_cast<long>(::getpid())},
                            {"plugin", plugin.describe()},
                            {"config_schema_text", plugin.descriptor().config_schema}};
    std::int64_t last_hello = mono_ms(), last_heard = mono_ms(), last_beat = 0;
    int heartbeat_ms = 1000;
    wire::send(sock, nullptr, wire::HELLO, hello);
    bool welcomed = false;

    while (true) {
        zmq::pollitem_t items[] = {{static_cast<void*>(sock), 0, ZMQ_POLLIN, 0},
                                   {nullptr, r.wake_fd, ZMQ_POLLIN, 0}};
        zmq::poll(items, 2, std::chrono::milliseconds(std::max(10, heartbeat_ms / 4)));
        const std::int64_t now = mono_ms();
        if (items[1].revents & ZMQ_POLLIN) {
            std::uint64_t v;
            (void)!::read(r.wake_fd, &v, sizeof v);
        }
        while (auto m = wire::recv(sock, nullptr, true)) {
            last_heard = now;
            if (m->command == wire::WELCOME) {
                if (welcomed) continue;
                welcomed = true;
                heartbeat_ms = m->header.value("heartbeat_ms", 1000);
                host_timeout_ms = m->header.value("host_timeout_ms", host_timeout_ms);
                std::lock_guard lk(r.mu);
                r.welcome = m->header;
                r.credit = m->header.value("credit", 1000);
                r.welcomed = true;
                r.cv.notify_all();
            } else if (m->command == wire::ACK) {
                std::lock_guard lk(r.mu);
                auto upto = m->header.value("batch", std::uint64_t{0});
                if (m->header.contains("credit")) r.credit = m->header["credit"].get<std::int64_t>();
                for (auto it = r.unacked.begin(); it != r.unacked.end() && it->first <= upto;) {
                    r.in_flight -= it->second;
                    it = r.unacked.erase(it);
                }
                r.acked_upto = std::max(r.acked_upto, upto);
                r.cv.notify_all();
            } else if (m->command == wire::WRITEBACK) {
                std::lock_guard lk(r.mu);
                r.writebacks.emplace_back(m->header.value("id", std::int64_t{0}),
                                          m->header.value("action", std::string("{}")));
                r.cv.notify_all();
            } else if (m->command == wire::STOP) {
                spdlog::info("[{}] stop requested by the host", r.adapter);
                r.stopping = true;
                r.cv.notify_all();
            } else if (m->command == wire::REFUSE) {
                spdlog::error("[{}] refused by the host: {}", r.adapter, m->header.value("message", ""));
                return wire::kExitRefused;
            } else if (m->command == wire::BYE) {
                spdlog::warn("[{}] host says bye: {}", r.adapter, m->header.value("reason", ""));
                return wire::kExitHostGone;
            }
            // PULSE needs nothing beyond last_heard.
        }
        // Outgoing batches, then a fatal report if the plugin thread died.
        std::deque<OutBatch> out;
        std::deque<nlohmann::json> wb_done;
        std::optional<Fatal> fatal;
        bool done;
        {
            std::lock_guard lk(r.mu);
            out.swap(r.out);
            wb_done.swap(r.writeback_results);
            fatal = r.fatal;
            done = r.plugin_done;
        }
        for (auto& b : out) {
            nlohmann::json h = {{"session", r.session},
                                {"batch", b.id},
                                {"cursor", b.cursor ? nlohmann::json(*b.cursor) : nlohmann::json()},
                                {"records", b.records.size()},
                                {"dead_letters", b.letters.size()}};
            std::vector<zmq::message_t> payload = std::move(b.records);
            for (auto& [meta, native] : b.letters) {
                std::string m = meta.dump();
                payload.emplace_back(m.data(), m.size());
                payload.push_back(std::move(native));
            }
            wire::send(sock, nullptr, wire::BATCH, h, &payload);
        }
        for (auto& h : wb_done) wire::send(sock, nullptr, wire::WBDONE, h);
        if (fatal) {
            wire::send(sock, nullptr, wire::FATAL,
                       {{"session", r.session}, {"stage", fatal->stage},
                        {"permanent", fatal->permanent}, {"message", fatal->message}});
            return fatal->exit_code;
        }
        if (done) {
            wire::send(sock, nullptr, wire::GONE, {{"session", r.session}});
            return wire::kExitClean;
        }
        if (!welcomed && now - last_hello >= 1000) {  // the host may not be up yet: ask again
            wire::send(sock, nullptr, wire::HELLO, hello);
            last_hello = now;
        }
        if (now - last_beat >= heartbeat_ms) {
            last_beat = now;
            const std::int64_t since = r.busy_since.load();
            std::string hm;
            {
                std::lock_guard lk(r.mu);
                hm = r.health_message;
            }
            wire::send(sock, nullptr, wire::BEAT,
                       {{"session", r.session},
                        {"health", r.health.load()},
                        {"health_message", hm},
                        {"busy_ms", since ? now - since : 0},
                        {"emitted", r.records_emitted.load()},
                        {"dead_letters", r.letters.load()}});
        }
        if (now - last_heard > host_timeout_ms) {
            spdlog::error("[{}] no word from the host for {} ms; exiting", r.adapter, now - last_heard);
            return wire::kExitHostGone;
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"casehub-runner: runs one casehub plugin for casehubd"};
    std::string plugin_path, endpoint, adapter, session;
    int host_timeout_ms = 10000, stop_timeout_ms = 5000;
    app.add_option("--plugin", plugin_path, "plugin shared library")->required();
    app.add_option("--connect", endpoint, "casehubd intake endpoint (ipc:// or tcp://)")->required();
    app.add_option("--adapter", adapter, "adapter id from the hub configuration")->required();
    app.add_option("--session", session, "session token issued by casehubd")->required();
    app.add_option("--host-timeout-ms", host_timeout_ms, "exit after this long without the host");
    app.add_option("--stop-timeout-ms", stop_timeout_ms, "on stop, wait this long for acks");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : wire::kExitUsage;
    }
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z runner %l %v");

    zmq::context_t ctx(1);
    zmq::socket_t sock(ctx, zmq::socket_type::dealer);
    sock.set(zmq::sockopt::routing_id, adapter + "/" + session);
    sock.set(zmq::sockopt::linger, 2000);  // a FATAL or the last batch still reaches the host
    sock.connect(endpoint);

    auto plugin = host::load_plugin(plugin_path);
    if (!plugin) {
        spdlog::error("[{}] {}", adapter, plugin.error().message);
        wire::send(sock, nullptr, wire::FATAL,
                   {{"session", session}, {"stage", "load"}, {"permanent", true},
                    {"message", plugin.error().message}});
        return wire::kExitLoadFailed;
    }

    if (plugin->descriptor().kind != CASEHUB_KIND_SOURCE) {
        // Sinks are loaded and described, but nothing feeds them cases yet.
        std::string m = plugin_path + ": is a sink plugin; this casehub runs source plugins only";
        spdlog::error("[{}] {}", adapter, m);
        wire::send(sock, nullptr, wire::FATAL,
                   {{"session", session}, {"stage", "load"}, {"permanent", true}, {"message", m}});
        return wire::kExitLoadFailed;
    }

    Runner r;
    r.adapter = adapter;
    r.session = session;
    r.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    std::thread pt(plugin_thread, std::ref(r), std::cref(*plugin), stop_timeout_ms);
    int code = io_loop(r, sock, *plugin, host_timeout_ms);
    {
        std::lock_guard lk(r.mu);
        r.stopping = true;
        r.cv.notify_all();
    }
    if (code == wire::kExitClean || code == wire::kExitPluginFailed || code == wire::kExitRefused) {
        pt.join();
    } else {
        // The host is gone: give the plugin a moment to wind down, but do not wait on vendor code.
        auto deadline = Clock::now() + std::chrono::milliseconds(1000);
        while (Clock::now() < deadline) {
            {
                std::lock_guard lk(r.mu);
                if (r.plugin_done) break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        bool done;
        {
            std::lock_guard lk(r.mu);
            done = r.plugin_done;
        }
        if (done) {
            pt.join();
        } else {
            sock.close();
            std::_Exit(code);
        }
    }
    return code;
}
