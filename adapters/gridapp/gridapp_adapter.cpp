// 网格通 (gridapp) source adapter: receives the app back end's webhook pushes
// (gridapp-interface.md §2, §3) and catches up through its pull endpoint (§4).
//
// Threads. The webhook server (cpp-httplib) runs its own threads inside the plugin. A request
// is checked there (signature, then the 300 s replay window) and handed to the plugin thread as a
// Job; the plugin thread normalises it in poll(), emits it (or dead-letters it and emits an empty
// batch, so the dead letter is committed with it), and the request waits until acked() reports
// that batch durable: only then is it answered 2xx (§2.1, issue 5). If the hub does not ack
// within ack_timeout_ms the request is answered 503, and the back end retries (§2 retries).
//
// Cursor (JSON, at most 4 KiB): {"v":1,"w":<ms>,"s":{"<eventId>":<revision>,...}}
//   w  the catch-up watermark: the updatedAt (epoch ms, the app's clock) up to which the last
//      catch-up pages have been read; the next catch-up asks for since = w - overlap (5 min,
//      case-model §5.1). Only catch-up pages advance it: a push says nothing about events that
//      were not pushed (answered 409, or refused for a bad signature).
//   s  the newest revisions already emitted for events updated at or after w - overlap (at most
//      kCursorSeen of them), so the overlap of the first catch-up after a restart does not emit
//      them again. Anything beyond that is absorbed by the hub's version rule (§2.4).
#include "gridapp_mapping.hpp"

#include <casehub/sdk/plugin.hpp>

#include <httplib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace {

using casehub::sdk::Health;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kSchema = R"([
  {"name": "listen_host", "type": "string", "default": "127.0.0.1",
   "help": "Address the webhook server binds to (the subscriber base URL registered with the 网格通 centre points here, usually through the district's reverse proxy)."},
  {"name": "listen_port", "type": "integer", "required": true, "min": 1, "max": 65535,
   "help": "TCP port of the webhook server."},
  {"name": "webhook_path", "type": "string", "default": "/webhook/v1/events",
   "help": "Path the back end POSTs events to (gridapp-interface §2)."},
  {"name": "secret", "type": "string", "required": true, "secret": true,
   "help": "Shared secret issued by the centre: 32 bytes as 64 hex characters. Key of the HMAC-SHA256 webhook and catch-up signatures."},
  {"name": "previous_secret", "type": "string", "default": "", "secret": true,
   "help": "During a secret changeover (§2 secret rotation): the other secret, also accepted on incoming pushes. Empty when there is no changeover."},
  {"name": "app_base_url", "type": "string", "required": true,
   "help": "Base URL of the 网格通 back end for catch-up (§4), e.g. http://10.32.8.15:8080; GET <base>/api/v1/events."},
  {"name": "tls_ca_file", "type": "path", "default": "",
   "help": "For an https:// app_base_url: PEM file of the CA that signed the back end's certificate (the e-government network's own CA). Empty: the system's CA store."},
  {"name": "app_id", "type": "string", "default": "casehub",
   "help": "Subscriber id sent as X-App-Id on catch-up requests."},
  {"name": "catchup_interval_s", "type": "integer", "default": 60, "min": 1, "max": 86400,
   "help": "Seconds between catch-up runs. Events answered 409 or refused are fetched by the next run."},
  {"name": "catchup_page_size", "type": "integer", "default": 200, "min": 1, "max": 500,
   "help": "limit of a catch-up page (§4: 1-500)."},
  {"name": "catchup_overlap_s", "type": "integer", "default": 300, "min": 0, "max": 86400,
   "help": "Catch-up asks for since = the watermark minus this overlap (case-model §5.1: 5 minutes)."},
  {"name": "initial_catchup_hours", "type": "number", "default": 24, "min": 0, "max": 167,
   "help": "On the very first start (no cursor), fetch events updated in the last N hours (§4 allows at most 7 days)."},
  {"name": "max_skew_s", "type": "integer", "default": 300, "min": 1, "max": 3600,
   "help": "Replay window: pushes whose X-Timestamp is further than this from our clock are answered 409 (§2.1)."},
  {"name": "ack_timeout_ms", "type": "integer", "default": 4000, "min": 100, "max": 60000,
   "help": "How long a push waits for the hub to commit its record before it is answered 503 (must stay below the sender's 5 s timeout)."},
  {"name": "http_timeout_ms", "type": "integer", "default": 10000, "min": 100, "max": 120000,
   "help": "Connect and read timeout of catch-up requests."},
  {"name": "server_threads", "type": "integer", "default": 8, "min": 1, "max": 64,
   "help": "Worker threads of the webhook server (the back end pushes in parallel)."},
  {"name": "categories_file", "type": "path", "default": "qinhuai/categories.json",
   "help": "The district's categories.json (mapping gridapp.category); relative to the hub's configuration file."}
])";

constexpr std::size_t kCursorSeen = 150;       // seen entries carried in the cursor
constexpr std::size_t kMaxKnown = 200000;      // in-memory dedup entries before pruning
constexpr std::int64_t kMinRequestGapMs = 550; // §4: at most 2 requests per second
constexpr std::int64_t kSevenDaysMs = 7LL * 86400 * 1000;

std::int64_t mono_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
}

std::optional<std::string> hex_to_bytes(std::string_view hex) {
    if (hex.size() % 2 != 0) return std::nullopt;
    std::string out;
    auto nib = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        int a = nib(hex[i]), b = nib(hex[i + 1]);
        if (a < 0 || b < 0) return std::nullopt;
        out += static_cast<char>(a * 16 + b);
    }
    return out;
}

std::string hmac_sha256_hex(const std::string& key, std::string_view msg) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &len);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

// `sha256=<hex>` or, during a changeover, `sha256=<old>,sha256=<new>` (§2): true if any listed
// signature matches any of our secrets. Compared in constant time.
bool signature_ok(std::string_view header, const std::vector<std::string>& secrets, std::string_view message) {
    std::vector<std::string> expected;
    for (const auto& s : secrets) expected.push_back(hmac_sha256_hex(s, message));
    bool ok = false;
    while (!header.empty()) {
        auto comma = header.find(',');
        std::string_view part = header.substr(0, comma);
        while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
        while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
        if (part.substr(0, 7) == "sha256=" && part.size() == 7 + 64) {
            std::string given(part.substr(7));
            for (auto& c : given) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            for (const auto& e : expected)
                ok |= CRYPTO_memcmp(e.data(), given.data(), 64) == 0;
        }
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return ok;
}

std::string url_encode(std::string_view s) {
    static const char* digits = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') out += static_cast<char>(c);
        else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 15];
        }
    }
    return out;
}

// A push waiting for its answer.
struct Fetched {
    int status = 0;  // 0: no answer (error says why)
    std::string error, body, retry_after;
};

struct Job {
    std::string body;
    std::string push_id;  // X-Event-Id
    std::int64_t received_ms = 0;
    // Set by the plugin thread:
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    int http_status = 0;
    std::string answer;
    std::uint64_t wait_batch = 0;  // answered when this batch is acked
    int pending_status = 0;
    std::string pending_answer;
};

std::string answer_json(int code, std::string_view msg) {
    return json{{"code", code}, {"msg", msg}}.dump();
}

class GridappSource : public casehub::sdk::Source {
public:
    GridappSource(casehub::sdk::Host& host, const json& cfg) : host_(host) {
        listen_host_ = cfg.value("listen_host", "127.0.0.1");
        listen_port_ = cfg.at("listen_port").get<int>();
        webhook_path_ = cfg.value("webhook_path", "/webhook/v1/events");
        app_id_ = cfg.value("app_id", "casehub");
        tls_ca_file_ = cfg.value("tls_ca_file", "");
        catchup_interval_ms_ = cfg.value("catchup_interval_s", 60) * 1000LL;
        page_size_ = cfg.value("catchup_page_size", 200);
        overlap_ms_ = cfg.value("catchup_overlap_s", 300) * 1000LL;
        initial_ms_ = static_cast<std::int64_t>(cfg.value("initial_catchup_hours", 24.0) * 3600.0 * 1000.0);
        max_skew_s_ = cfg.value("max_skew_s", 300);
        ack_timeout_ms_ = cfg.value("ack_timeout_ms", 4000);
        http_timeout_ms_ = cfg.value("http_timeout_ms", 10000);
        server_threads_ = cfg.value("server_threads", 8);

        auto key = hex_to_bytes(cfg.at("secret").get<std::string>());
        if (!key || key->size() != 32)
            throw casehub::sdk::ConfigError("secret must be 64 hex characters (the 32-byte shared secret)");
        secrets_.push_back(*key);
        if (const std::string prev = cfg.value("previous_secret", ""); !prev.empty()) {
            auto k2 = hex_to_bytes(prev);
            if (!k2 || k2->size() != 32)
                throw casehub::sdk::ConfigError("previous_secret must be empty or 64 hex characters");
            secrets_.push_back(*k2);
        }
        if (webhook_path_.empty() || webhook_path_[0] != '/')
            throw casehub::sdk::ConfigError("webhook_path must start with '/'");

        // app_base_url: scheme://host[:port][/prefix]
        const std::string base = cfg.at("app_base_url").get<std::string>();
        auto scheme_end = base.find("://");
        if (scheme_end == std::string::npos || (base.substr(0, scheme_end) != "http" && base.substr(0, scheme_end) != "https"))
            throw casehub::sdk::ConfigError("app_base_url must be an http:// or https:// URL, got '" + base + "'");
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
        if (base.substr(0, scheme_end) == "https")
            throw casehub::sdk::ConfigError("app_base_url: this build has no TLS support; use http://");
#endif
        auto path_start = base.find('/', scheme_end + 3);
        app_origin_ = base.substr(0, path_start);
        app_prefix_ = path_start == std::string::npos ? "" : base.substr(path_start);
        while (!app_prefix_.empty() && app_prefix_.back() == '/') app_prefix_.pop_back();

        const std::string cats = cfg.value("categories_file", "qinhuai/categories.json");
        try {
            categories_ = gridapp::Categories::load(cats);
        } catch (const std::exception& e) {
            throw casehub::sdk::ConfigError(std::string("categories_file: ") + e.what());
        }
    }

    ~GridappSource() override { shutdown(); }

    void start(std::optional<std::string_view> cursor) override {
        const std::int64_t now = host_.now_ms();
        if (cursor && !cursor->empty()) {
            json c = json::parse(*cursor, nullptr, false);
            if (!c.is_object() || c.value("v", 0) != 1 || !c.contains("w") || !c["w"].is_number_integer())
                throw casehub::sdk::ConfigError("cursor is not a gridapp cursor: " + std::string(cursor->substr(0, 80)));
            watermark_ = c["w"].get<std::int64_t>();
            if (auto s = c.find("s"); s != c.end() && s->is_object())
                for (auto& [id, rev] : s->items())
                    if (rev.is_number_unsigned()) remember(id, rev.get<std::uint64_t>(), watermark_, 0);
            host_.info("resuming: catch-up from " + gridapp::rfc3339(watermark_ - overlap_ms_) + ", " +
                       std::to_string(known_.size()) + " recent event revisions known");
        } else {
            watermark_ = now - initial_ms_ + overlap_ms_;
            host_.info("first start: catch-up from " + gridapp::rfc3339(watermark_ - overlap_ms_));
        }
        next_catchup_ms_ = mono_ms();  // a catch-up run right away

        if (!try_listen()) {
            // Usually the previous instance (a runner killed with its hub) still holds the port
            // for a few seconds: keep trying from poll() instead of failing the start.
            host_.set_health(Health::degraded, "webhook port busy");
            host_.warn("cannot bind the webhook server to " + listen_host_ + ":" + std::to_string(listen_port_) +
                       " (port in use?); retrying every second, catch-up runs meanwhile");
            next_bind_ms_ = mono_ms() + 1000;
            return;
        }
        host_.set_health(Health::ok);
    }

    void poll(std::chrono::milliseconds timeout) override {
        const std::int64_t deadline = mono_ms() + timeout.count();
        if (!server_ && !stopping_ && mono_ms() >= next_bind_ms_) {
            if (try_listen()) {
                host_.set_health(Health::ok);
            } else {
                next_bind_ms_ = mono_ms() + 1000;
                if (++bind_failures_ % 30 == 0)
                    host_.warn("webhook port " + std::to_string(listen_port_) + " still busy after " +
                               std::to_string(bind_failures_) + " attempts");
            }
        }
        // Wait for pushes; return early when pushes wait for acks (they arrive between polls).
        std::vector<std::shared_ptr<Job>> jobs;
        const bool fetching = fetch_.valid();
        const bool due = !fetching && catchup_due();
        {
            std::unique_lock lk(mu_);
            const bool waiting = !waiting_.empty();
            auto wait_ms = std::max<std::int64_t>(0, std::min<std::int64_t>(deadline - mono_ms(), waiting ? 20 : timeout.count()));
            if (fetching) wait_ms = std::min<std::int64_t>(wait_ms, 20);
            else if (due) wait_ms = 0;
            cv_.wait_for(lk, std::chrono::milliseconds(wait_ms), [&] { return !queue_.empty() || stopping_; });
            while (!queue_.empty() && jobs.size() < 500) {
                jobs.push_back(std::move(queue_.front()));
                queue_.pop_front();
            }
        }
        if (!jobs.empty()) handle_pushes(jobs);
        if (catchup_due() && mono_ms() < deadline + 50) catchup_step();
    }

    void acked(std::uint64_t batch_id) override {
        acked_upto_ = std::max(acked_upto_, batch_id);
        std::lock_guard lk(mu_);
        for (auto it = waiting_.begin(); it != waiting_.end();) {
            auto& j = *it;
            if (j->wait_batch <= batch_id) {
                finish(*j, j->pending_status, j->pending_answer);
                it = waiting_.erase(it);
            } else {
                ++it;
            }
        }
    }

    void stop() override { shutdown(); }

private:
    // Binds the webhook server and starts its thread; false if the port cannot be bound.
    bool try_listen() {
        auto server = std::make_unique<httplib::Server>();
        const int threads = server_threads_;
        server->new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
        server->set_payload_max_length(1024 * 1024);
        server->set_read_timeout(5, 0);
        server->set_write_timeout(5, 0);
        server->Post(webhook_path_, [this](const httplib::Request& req, httplib::Response& res) { on_push(req, res); });
        if (!server->bind_to_port(listen_host_, listen_port_)) return false;
        server_ = std::move(server);
        server_thread_ = std::thread([this] { server_->listen_after_bind(); });
        host_.info("webhook server listening on http://" + listen_host_ + ":" + std::to_string(listen_port_) +
                   webhook_path_ + "; catch-up from " + app_origin_ + app_prefix_ + "/api/v1/events");
        return true;
    }

    // ---- webhook (server threads) ------------------------------------------------------------------

    void on_push(const httplib::Request& req, httplib::Response& res) {
        const std::string push_id = req.get_header_value("X-Event-Id");
        const std::string ts_text = req.get_header_value("X-Timestamp");
        const std::string sig = req.get_header_value("X-Signature");
        const std::string who = "push " + (push_id.empty() ? std::string("(no X-Event-Id)") : "'" + push_id.substr(0, 64) + "'");
        auto reply = [&](int status, int code, std::string_view msg) {
            res.status = status;
            res.set_content(answer_json(code, msg), "application/json; charset=utf-8");
        };
        // §2.1: 401 when the signature is missing or wrong. Nothing of the body is used or kept.
        if (sig.empty() || ts_text.empty() || !gridapp::all_digits(ts_text) || ts_text.size() > 12 ||
            !signature_ok(sig, secrets_, ts_text + "." + req.body)) {
            // Logged for the first ten, then every hundredth: an impostor must not flood the log.
            const auto n = ++refused_signature_;
            if (n <= 10 || n % 100 == 0)
                host_.warn(who + " from " + req.remote_addr + ": signature missing or wrong, answered 401 (" +
                           std::to_string(n) + " so far); nothing kept");
            return reply(401, 40101, "signature missing or wrong");
        }
        // Replay protection: X-Timestamp more than max_skew_s from our clock → 409, not retried;
        // the event is fetched by the next catch-up.
        const std::int64_t ts = std::stoll(ts_text);
        const std::int64_t now_s = host_.now_ms() / 1000;
        if (std::llabs(now_s - ts) > max_skew_s_) {
            host_.warn(who + ": X-Timestamp " + ts_text + " is " + std::to_string(now_s - ts) +
                       " s from our clock (limit " + std::to_string(max_skew_s_) +
                       " s), answered 409; the next catch-up fetches the event");
            request_catchup_soon();
            return reply(409, 40901, "stale timestamp");
        }
        if (stopping_) return reply(503, 50301, "subscriber stopping, retry later");

        auto job = std::make_shared<Job>();
        job->body = req.body;
        job->push_id = push_id;
        job->received_ms = host_.now_ms();
        {
            std::lock_guard lk(mu_);
            queue_.push_back(job);
        }
        cv_.notify_all();
        std::unique_lock lk(job->mu);
        if (!job->cv.wait_for(lk, std::chrono::milliseconds(ack_timeout_ms_), [&] { return job->done; })) {
            lk.unlock();
            host_.warn(who + ": the hub did not commit the record within " + std::to_string(ack_timeout_ms_) +
                       " ms, answered 503 so the back end retries");
            return reply(503, 50301, "not stored yet, retry later");
        }
        res.status = job->http_status;
        res.set_content(job->answer, "application/json; charset=utf-8");
    }

    static void finish(Job& j, int status, std::string answer) {
        {
            std::lock_guard lk(j.mu);
            if (j.done) return;
            j.done = true;
            j.http_status = status;
            j.answer = std::move(answer);
        }
        j.cv.notify_all();
    }

    void request_catchup_soon() {
        std::lock_guard lk(mu_);
        soon_ = true;
    }

    // ---- the plugin thread ------------------------------------------------------------------------

    struct Known {
        std::uint64_t revision = 0;
        std::int64_t updated_ms = 0;
        std::uint64_t batch = 0;  // batch that carries it (0: committed before this run)
    };

    bool catchup_due() {
        const std::int64_t now = mono_ms();
        {
            std::lock_guard lk(mu_);
            if (soon_ && !scanning_) {
                soon_ = false;
                next_catchup_ms_ = std::min(next_catchup_ms_, now + 1000);
            }
        }
        if (fetch_.valid()) return true;
        return (scanning_ || now >= next_catchup_ms_) && now >= next_request_ms_;
    }

    void assign_batch(std::uint64_t batch) {
        for (const auto& id : unassigned_)
            if (auto it = known_.find(id); it != known_.end() && it->second.batch == UINT64_MAX) it->second.batch = batch;
        unassigned_.clear();
    }

    void remember(const std::string& id, std::uint64_t rev, std::int64_t updated_ms, std::uint64_t batch) {
        if (batch == UINT64_MAX) unassigned_.push_back(id);
        auto& k = known_[id];
        if (k.revision != 0) by_time_.erase({k.updated_ms, id});
        if (rev >= k.revision) {
            k.revision = rev;
            k.updated_ms = std::max(k.updated_ms, updated_ms);
            k.batch = batch;
        }
        by_time_.insert({k.updated_ms, id});
        if (known_.size() > kMaxKnown) {
            // Forget the oldest half; the hub's version rule absorbs any repeat of them.
            std::size_t drop = known_.size() / 2;
            for (auto it = by_time_.begin(); drop > 0 && it != by_time_.end(); --drop) {
                known_.erase(it->second);
                it = by_time_.erase(it);
            }
        }
    }

    std::string cursor() const {
        json s = json::object();
        const std::int64_t from = watermark_ - overlap_ms_;
        std::size_t n = 0;
        for (auto it = by_time_.rbegin(); it != by_time_.rend() && n < kCursorSeen; ++it, ++n) {
            if (it->first < from) break;
            s[it->second] = known_.at(it->second).revision;
        }
        std::string c = json{{"v", 1}, {"w", watermark_}, {"s", s}}.dump();
        while (c.size() > 4000 && !s.empty()) {  // very long native ids: keep the cursor valid
            s.erase(s.begin());
            c = json{{"v", 1}, {"w", watermark_}, {"s", s}}.dump();
        }
        return c;
    }

    // What to do with one normalised outcome. Returns the batch id a waiting push needs, or 0
    // if the push can be answered at once.
    enum class Decision { emit, duplicate_acked, duplicate_pending, dead_letter };

    Decision decide(const gridapp::Outcome& o, std::uint64_t* wait_batch) {
        if (o.kind != gridapp::Outcome::malformed && !o.event_id.empty() && o.revision > 0) {
            if (auto it = known_.find(o.event_id); it != known_.end() && it->second.revision >= o.revision) {
                *wait_batch = it->second.batch;
                return it->second.batch > acked_upto_ ? Decision::duplicate_pending : Decision::duplicate_acked;
            }
        }
        return o.kind == gridapp::Outcome::record ? Decision::emit : Decision::dead_letter;
    }

    void log_warnings(const gridapp::Outcome& o) {
        for (const auto& w : o.warnings) host_.warn(w);
    }

    void handle_pushes(const std::vector<std::shared_ptr<Job>>& jobs) {
        std::vector<std::string> records;
        struct Pending {
            std::shared_ptr<Job> job;
            int status;
            std::string answer;
            bool in_batch;     // answered once the batch emitted below is acked
            std::uint64_t batch;  // else: this earlier batch (0 = at once)
        };
        std::vector<Pending> pending;
        bool letters = false;
        std::unordered_set<std::string> in_this_batch;
        for (const auto& j : jobs) {
            gridapp::Outcome o = gridapp::classify(j->body, categories_, j->received_ms);
            log_warnings(o);
            std::uint64_t wait = 0;
            const std::string key = o.event_id + "#" + std::to_string(o.revision);
            if (!o.event_id.empty() && in_this_batch.count(key)) {
                pending.push_back({j, 200, answer_json(0, "duplicate"), true, 0});
                continue;
            }
            switch (decide(o, &wait)) {
                case Decision::duplicate_acked:
                    ++duplicates_;
                    host_.debug("push '" + j->push_id + "': event " + o.event_id + " revision " +
                                std::to_string(o.revision) + " already stored (duplicate or older revision)");
                    pending.push_back({j, 200, answer_json(0, "duplicate"), false, 0});
                    break;
                case Decision::duplicate_pending:
                    ++duplicates_;
                    // UINT64_MAX: a newer revision is in the batch being built right now.
                    pending.push_back({j, 200, answer_json(0, "duplicate"), wait == UINT64_MAX, wait});
                    break;
                case Decision::emit:
                    records.push_back(o.doc);
                    in_this_batch.insert(key);
                    remember(o.event_id, o.revision, o.updated_ms.value_or(0), UINT64_MAX);
                    pending.push_back({j, 200, answer_json(0, "ok"), true, 0});
                    break;
                case Decision::dead_letter: {
                    const bool malformed = o.kind == gridapp::Outcome::malformed;
                    host_.warn("push '" + j->push_id + "': " + o.detail + " (" + o.reason + "), dead-lettered, answered " +
                               (malformed ? "400" : "202"));
                    host_.dead_letter(o.reason, "webhook push '" + j->push_id + "': " + o.detail, o.native_masked, cursor());
                    letters = true;
                    // An invalid value is that revision's content: remember it, so catch-up does
                    // not dead-letter it again. A malformed body says nothing reliable: not kept.
                    if (!malformed && !o.event_id.empty() && o.revision > 0) {
                        remember(o.event_id, o.revision, o.updated_ms.value_or(0), UINT64_MAX);
                        in_this_batch.insert(key);
                    }
                    pending.push_back({j, malformed ? 400 : 202,
                                       malformed ? answer_json(40001, "malformed body: " + o.reason)
                                                 : answer_json(0, "accepted; dead-lettered: " + o.reason),
                                       true, 0});
                    break;
                }
            }
        }
        std::uint64_t batch = 0;
        if (!records.empty() || letters) {
            // An empty batch after dead letters commits them; its ack means they are durable.
            batch = host_.emit(records, cursor());
            assign_batch(batch);
        }
        std::lock_guard lk(mu_);
        for (auto& p : pending) {
            const std::uint64_t need = p.in_batch ? batch : p.batch;
            if (need == 0 || need <= acked_upto_) {
                finish(*p.job, p.status, p.answer);
            } else {
                p.job->wait_batch = need;
                p.job->pending_status = p.status;
                p.job->pending_answer = p.answer;
                waiting_.push_back(p.job);
            }
        }
    }

    // One catch-up request (§4) per call: bounded work, paced to 2 requests per second.
    void catchup_step() {
        if (!scanning_) {
            scanning_ = true;
            page_token_.clear();
            scan_since_ = watermark_ - overlap_ms_;
        }
        if (!fetch_.valid()) {
            std::string path = app_prefix_ + "/api/v1/events?since=" + url_encode(gridapp::rfc3339(scan_since_)) +
                               "&limit=" + std::to_string(page_size_);
            if (!page_token_.empty()) path += "&pageToken=" + url_encode(page_token_);
            const std::string ts = std::to_string(host_.now_ms() / 1000);
            httplib::Headers headers{{"X-App-Id", app_id_},
                                     {"X-Timestamp", ts},
                                     {"X-Signature", "sha256=" + hmac_sha256_hex(secrets_.front(), ts + "." + path)}};
            next_request_ms_ = mono_ms() + kMinRequestGapMs;
            // The request runs off the plugin thread, so poll() stays bounded and pushes keep
            // being answered while the back end is slow.
            fetch_ = std::async(std::launch::async, [origin = app_origin_, path, headers, t = http_timeout_ms_,
                                                     ca = tls_ca_file_] {
                Fetched f;
                httplib::Client cli(origin);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
                if (!ca.empty()) cli.set_ca_cert_path(ca.c_str());
#else
                (void)ca;
#endif
                // A short connect timeout: an unreachable back end must not hold up stop().
                cli.set_connection_timeout(std::chrono::milliseconds(std::min(t, 3000)));
                cli.set_read_timeout(std::chrono::milliseconds(t));
                cli.set_keep_alive(false);
                auto res = cli.Get(path, headers);
                if (!res) {
                    f.error = httplib::to_string(res.error());
                    return f;
                }
                f.status = res->status;
                f.body = std::move(res->body);
                f.retry_after = res->get_header_value("Retry-After");
                return f;
            });
            return;
        }
        if (fetch_.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) return;
        Fetched fetched = fetch_.get();
        const Fetched* res = &fetched;
        if (res->status == 0) {
            catchup_trouble("catch-up: " + app_origin_ + " unreachable (" + res->error + ")", 0);
            return;
        }
        if (res->status == 429) {
            std::int64_t after = 1;
            if (const auto& ra = res->retry_after; gridapp::all_digits(ra) && ra.size() < 6) after = std::stoll(ra);
            host_.info("catch-up: 429 too many requests, waiting " + std::to_string(after) + " s (Retry-After)");
            next_request_ms_ = mono_ms() + std::max<std::int64_t>(after * 1000, kMinRequestGapMs);
            return;
        }
        json doc = json::parse(res->body, nullptr, false);
        const int code = doc.is_object() && doc.value("code", json()).is_number_integer() ? doc["code"].get<int>() : -1;
        if (res->status == 400 && code == 40002) {
            const std::int64_t oldest = host_.now_ms() - kSevenDaysMs + 30 * 60 * 1000;
            host_.error("catch-up: since " + gridapp::rfc3339(scan_since_) + " refused as out of range (40002); " +
                        "events updated before " + gridapp::rfc3339(oldest) + " and never pushed cannot be fetched");
            watermark_ = std::max(watermark_, oldest + overlap_ms_);
            scanning_ = false;
            next_catchup_ms_ = mono_ms();
            return;
        }
        if (res->status != 200 || code != 0) {
            std::string msg = doc.is_object() ? doc.value("msg", std::string()) : std::string();
            catchup_trouble("catch-up: HTTP " + std::to_string(res->status) + " code " + std::to_string(code) +
                                (msg.empty() ? "" : " (" + gridapp::mask_unparsed(msg, 200) + ")") +
                                (res->status == 401 ? " — check secret and app_id" : ""),
                            res->status);
            return;
        }
        auto spans = gridapp::event_spans(res->body);
        const json& data = doc["data"];
        if (!spans || !data.is_object()) {
            catchup_trouble("catch-up: answer has no data.events array", res->status);
            return;
        }
        process_page(*spans);
        const bool more = data.value("hasMore", false) && data.value("nextPageToken", json()).is_string() &&
                          !data["nextPageToken"].get<std::string>().empty();
        if (catchup_failures_ > 0) host_.info("catch-up: the back end answers again");
        catchup_failures_ = 0;
        host_.set_health(Health::ok);
        if (more) {
            page_token_ = data["nextPageToken"].get<std::string>();
        } else {
            scanning_ = false;
            next_catchup_ms_ = mono_ms() + catchup_interval_ms_;
        }
    }

    void catchup_trouble(const std::string& msg, int status) {
        ++catchup_failures_;
        const std::int64_t backoff = std::min<std::int64_t>(60000, 1000LL << std::min(catchup_failures_, 6));
        next_request_ms_ = mono_ms() + backoff;
        if (status == 400 || status == 401) scanning_ = false, next_catchup_ms_ = mono_ms() + backoff;
        host_.set_health(Health::degraded, msg);
        if (catchup_failures_ == 1 || catchup_failures_ % 10 == 0)
            host_.warn(msg + "; retrying in " + std::to_string(backoff / 1000) + " s (failure " +
                       std::to_string(catchup_failures_) + ")");
    }

    void process_page(const std::vector<std::string_view>& spans) {
        std::vector<std::string> records;
        std::int64_t page_max = watermark_ - overlap_ms_;
        bool letters = false;
        const std::int64_t now = host_.now_ms();
        std::unordered_set<std::string> in_page;
        std::size_t skipped = 0;
        for (auto raw : spans) {
            gridapp::Outcome o = gridapp::classify(raw, categories_, now);
            if (o.updated_ms) page_max = std::max(page_max, *o.updated_ms);
            std::uint64_t wait = 0;
            const std::string key = o.event_id + "#" + std::to_string(o.revision);
            if (!o.event_id.empty() && in_page.count(key)) continue;
            Decision d = decide(o, &wait);
            if (d == Decision::duplicate_acked || d == Decision::duplicate_pending) {
                ++skipped;
                continue;
            }
            if (d == Decision::dead_letter && (o.kind == gridapp::Outcome::malformed || o.event_id.empty())) {
                // No id to remember it by: remember the bytes, so overlapping pages do not repeat it.
                const std::string h = casehub::sdk::sha256_hex(raw);
                if (!lettered_hashes_.insert(h).second) continue;
            }
            log_warnings(o);
            in_page.insert(key);
            if (d == Decision::emit) {
                records.push_back(o.doc);
                remember(o.event_id, o.revision, o.updated_ms.value_or(0), UINT64_MAX);
            } else {
                host_.warn("catch-up: " + o.detail + " (" + o.reason + "), dead-lettered");
                host_.dead_letter(o.reason, "catch-up: " + o.detail, o.native_masked, cursor());
                if (o.kind == gridapp::Outcome::invalid && !o.event_id.empty() && o.revision > 0)
                    remember(o.event_id, o.revision, o.updated_ms.value_or(0), UINT64_MAX);
                letters = true;
            }
        }
        const std::int64_t old_w = watermark_;
        // Pages come in updatedAt order: everything updated before the last one on this page has
        // been read (at some revision), so the watermark may move up to it.
        watermark_ = std::max(watermark_, page_max);
        if (!records.empty() || letters || watermark_ != old_w) {
            std::uint64_t batch = host_.emit(records, cursor());
            assign_batch(batch);
        }
        if (!records.empty())
            host_.info("catch-up: " + std::to_string(records.size()) + " event revision(s) not received by push" +
                       (skipped ? ", " + std::to_string(skipped) + " already stored" : ""));
    }

    void shutdown() {
        {
            std::lock_guard lk(mu_);
            if (stopping_ && !server_) return;
            stopping_ = true;
            for (auto& j : queue_) finish(*j, 503, answer_json(50301, "subscriber stopping, retry later"));
            queue_.clear();
            for (auto& j : waiting_) finish(*j, 503, answer_json(50301, "subscriber stopping, retry later"));
            waiting_.clear();
        }
        cv_.notify_all();
        if (fetch_.valid()) fetch_.wait();
        if (server_) {
            server_->stop();
            if (server_thread_.joinable()) server_thread_.join();
            server_.reset();
        }
    }

    casehub::sdk::Host& host_;
    // Configuration.
    std::string listen_host_, webhook_path_, app_id_, app_origin_, app_prefix_, tls_ca_file_;
    int listen_port_ = 0, page_size_ = 200, max_skew_s_ = 300, ack_timeout_ms_ = 4000, http_timeout_ms_ = 10000,
        server_threads_ = 8;
    std::int64_t catchup_interval_ms_ = 60000, overlap_ms_ = 300000, initial_ms_ = 0;
    std::vector<std::string> secrets_;
    gridapp::Categories categories_;

    // Shared with the server threads (mu_).
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Job>> queue_;
    std::vector<std::shared_ptr<Job>> waiting_;
    bool soon_ = false;
    std::atomic<bool> stopping_{false};
    std::atomic<std::uint64_t> refused_signature_{0};

    // Plugin thread only.
    std::unordered_map<std::string, Known> known_;
    std::set<std::pair<std::int64_t, std::string>> by_time_;
    std::unordered_set<std::string> lettered_hashes_;
    std::vector<std::string> unassigned_;  // remembered for the batch about to be emitted
    std::future<Fetched> fetch_;
    std::uint64_t acked_upto_ = 0, duplicates_ = 0;
    std::int64_t watermark_ = 0, scan_since_ = 0, next_catchup_ms_ = 0, next_request_ms_ = 0;
    bool scanning_ = false;
    std::int64_t next_bind_ms_ = 0;
    int bind_failures_ = 0;
    std::string page_token_;
    int catchup_failures_ = 0;

    std::unique_ptr<httplib::Server> server_;
    std::thread server_thread_;
};

}  // namespace

CASEHUB_PLUGIN(GridappSource, .name = "cn.gov.qinhuai.gridapp", .version = "1.0.0",
               .description = "网格通 grid workers' app: webhook pushes (HMAC-signed, answered after the hub "
                              "commits) and signed catch-up pulls (gridapp-interface.md V2.1)",
               .config_schema = kSchema, .capabilities = CASEHUB_CAP_ACK)
