// cn.gov.qinhuai.hotline12345: the 12345 hotline work-order interface (hotline12345-interface.md
// V1.4) as a casehub source, with handling feedback as write-back.
//
// Reading (§3): GET /api/v1/workorders with `updated_after` once, then `cursor` forever. Items
// are ordered by (gxsj, gdbh); the adapter keeps that pair of the last item it handed over and
// drops every item at or before it, which absorbs the duplicates of §3.1 (page borders, cursor
// restarts) and the re-read millisecond after a 40003 restart (§3.2).
//
// The hub cursor is JSON: {"v":1,"c":"<native cursor that returns the next items>","g":"<gxsj
// of the last item handed over>","b":"<its gdbh>"}. Within a page a batch is cut before every
// dead letter, so the committed cursor always names exactly the items that were handed over: the
// native cursor of the page (`c`) plus the last item (`g`,`b`) read from it. A restart fetches
// that page again and skips what is at or before (g, b).
//
// Write-back (§4): POST /api/v1/workorders/{gdbh}/feedback with Idempotency-Key = action key.
#include "mapping.hpp"

#include <casehub/sdk/plugin.hpp>
#include <casehub/sdk/rfc3339.hpp>
#include <casehub/sdk/sha256.hpp>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using casehub::sdk::ConfigError;
using casehub::sdk::Error;
using casehub::sdk::Health;
using casehub::sdk::Unavailable;
using nlohmann::json;
namespace h12 = casehub::hotline12345;

constexpr const char* kSchema = R"([
  {"name": "base_url", "type": "string", "required": true,
   "help": "Base address issued at registration, e.g. https://10.32.1.45:8443 (http:// for a test system). No trailing path."},
  {"name": "app_key", "type": "string", "required": true,
   "help": "appKey issued to the district (sent as X-Api-Key and to /api/v1/auth/token)."},
  {"name": "app_secret", "type": "string", "required": true, "secret": true,
   "help": "appSecret issued with the appKey."},
  {"name": "ca_file", "type": "path", "default": "",
   "help": "PEM file of the municipal e-government CA that issued the server certificate (https only; empty: the system store)."},
  {"name": "categories_file", "type": "path", "default": "qinhuai/categories.json",
   "help": "categories.json with the hotline12345.wtfl mapping (relative to the hub config file's directory)."},
  {"name": "initial_updated_after", "type": "string", "default": "",
   "help": "First run only (no committed cursor): read orders changed at or after this RFC 3339 instant with offset. Empty: initial_lookback_hours before now."},
  {"name": "initial_lookback_hours", "type": "integer", "default": 24, "min": 0, "max": 4320,
   "help": "First run only, when initial_updated_after is empty: how far back to start (the interface allows at most 180 days)."},
  {"name": "page_limit", "type": "integer", "default": 200, "min": 1, "max": 200,
   "help": "Items per page (limit, 1-200)."},
  {"name": "poll_interval_ms", "type": "integer", "default": 30000, "min": 50, "max": 3600000,
   "help": "Pause after a page with has_more=false before asking again (the document suggests 30-60 s)."},
  {"name": "max_requests_per_second", "type": "number", "default": 5, "min": 0.1, "max": 10,
   "help": "Client-side request rate cap (the centre allows 10 per second per appKey)."},
  {"name": "request_timeout_ms", "type": "integer", "default": 10000, "min": 100, "max": 120000,
   "help": "Connect and read timeout of one HTTP request."},
  {"name": "backoff_initial_ms", "type": "integer", "default": 1000, "min": 10, "max": 600000,
   "help": "First pause after a failed request (503, 50001, network); doubles per failure."},
  {"name": "backoff_max_ms", "type": "integer", "default": 60000, "min": 10, "max": 3600000,
   "help": "Longest pause between retries of failed requests."},
  {"name": "default_officer", "type": "string", "default": "值班员",
   "help": "cbr (承办人) sent in feedback when the hub's action names no handler."}
])";

std::int64_t steady_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

std::string url_encode(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

// One answer of the centre, classified.
struct Answer {
    int http = 0;        // 0: no answer (network)
    int code = -1;       // envelope code; -1 when the body is not the envelope
    std::string msg;     // envelope msg or a short reason
    json data;           // envelope data
    std::string body;    // raw body
    int retry_after_s = 0;
    bool replayed = false;
};

class Hotline12345 : public casehub::sdk::Source {
public:
    Hotline12345(casehub::sdk::Host& host, const json& cfg) : host_(host) {
        base_url_ = cfg.at("base_url").get<std::string>();
        while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
        if (base_url_.rfind("http://", 0) != 0 && base_url_.rfind("https://", 0) != 0)
            throw ConfigError("base_url must start with http:// or https://: " + base_url_);
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
        if (base_url_.rfind("https://", 0) == 0)
            throw ConfigError("base_url is https:// but this build has no TLS support");
#endif
        app_key_ = cfg.at("app_key").get<std::string>();
        app_secret_ = cfg.at("app_secret").get<std::string>();
        if (app_key_.empty() || app_secret_.empty()) throw ConfigError("app_key and app_secret must not be empty");
        ca_file_ = cfg.value("ca_file", std::string());
        cats_ = h12::Categories::load(cfg.at("categories_file").get<std::string>());
        initial_after_ = cfg.value("initial_updated_after", std::string());
        if (!initial_after_.empty() && !casehub::sdk::is_rfc3339(initial_after_))
            throw ConfigError("initial_updated_after is not RFC 3339 with offset: " + initial_after_);
        lookback_h_ = cfg.value("initial_lookback_hours", 24);
        page_limit_ = cfg.value("page_limit", 200);
        poll_interval_ms_ = cfg.value("poll_interval_ms", 30000);
        min_gap_ms_ = static_cast<std::int64_t>(1000.0 / cfg.value("max_requests_per_second", 5.0));
        timeout_ms_ = cfg.value("request_timeout_ms", 10000);
        backoff_initial_ms_ = cfg.value("backoff_initial_ms", 1000);
        backoff_max_ms_ = std::max<std::int64_t>(cfg.value("backoff_max_ms", 60000), backoff_initial_ms_);
        default_officer_ = cfg.value("default_officer", std::string("值班员"));
    }

    void start(std::optional<std::string_view> cursor) override {
        pos_ = {};
        if (cursor && !cursor->empty()) {
            json c = json::parse(*cursor, nullptr, false);
            if (!c.is_object() || c.value("v", 0) != 1)
                throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "committed cursor is not a hotline12345 cursor");
            pos_.c = c.value("c", std::string());
            pos_.g = c.value("g", std::string());
            pos_.b = c.value("b", std::string());
            pos_.after = c.value("a", std::string());
            if (!pos_.g.empty()) {
                auto ms = h12::parse_local(pos_.g, true);
                if (!ms) throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "committed cursor has a bad gxsj");
                pos_.g_ms = *ms;
            }
            host_.info("resuming " + describe(pos_));
        } else {
            pos_.after = initial_after_.empty()
                             ? casehub::sdk::format_rfc3339_beijing(host_.now_ms() - lookback_h_ * 3600000LL)
                             : initial_after_;
            host_.info("first run: reading work orders changed at or after " + pos_.after);
        }
        host_.set_health(Health::ok);
    }

    void poll(std::chrono::milliseconds timeout) override {
        const std::int64_t now = steady_ms();
        if (now < not_before_) {
            std::this_thread::sleep_for(std::chrono::milliseconds(
                std::min<std::int64_t>(not_before_ - now, std::max<std::int64_t>(timeout.count(), 1))));
            if (steady_ms() < not_before_) return;
        }
        read_page();
    }

    void write_back(const json& action) override { feedback(action); }

    void stop() override {
        host_.info("stopping: " + std::to_string(token_renewals_) + " token renewals, " + std::to_string(throttled_) +
                   " throttled reads, " + std::to_string(cursor_restarts_) + " cursor restarts, " +
                   std::to_string(duplicates_) + " duplicate versions skipped in this session");
        client_.reset();
    }

private:
    struct Position {
        std::string c;       // native cursor ("" when not yet issued)
        std::string after;   // updated_after to use when c is empty (RFC 3339)
        std::string g, b;    // last item handed over: gxsj text and gdbh
        std::int64_t g_ms = -1;
    };

    static std::string describe(const Position& p) {
        std::string s = p.c.empty() ? "from updated_after=" + p.after : "from the native cursor";
        if (!p.g.empty()) s += ", after item " + p.b + " gxsj " + p.g;
        return s;
    }
    static std::string cursor_text(const Position& p) {
        // `a`: where reading started; the restart point of a 40003 before any item was read.
        return json{{"v", 1}, {"c", p.c}, {"g", p.g}, {"b", p.b}, {"a", p.after}}.dump();
    }

    // ---- HTTP ------------------------------------------------------------------------------

    httplib::Client& client() {
        if (!client_) {
            client_ = std::make_unique<httplib::Client>(base_url_);
            const auto sec = timeout_ms_ / 1000, usec = (timeout_ms_ % 1000) * 1000;
            client_->set_connection_timeout(sec, usec);
            client_->set_read_timeout(sec, usec);
            client_->set_write_timeout(sec, usec);
            client_->set_keep_alive(true);
#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
            if (!ca_file_.empty()) client_->set_ca_cert_path(ca_file_);
            client_->enable_server_certificate_verification(true);
#endif
        }
        return *client_;
    }

    void pace() {
        const std::int64_t wait = last_request_ms_ + min_gap_ms_ - steady_ms();
        if (wait > 0) std::this_thread::sleep_for(std::chrono::milliseconds(wait));
        last_request_ms_ = steady_ms();
    }

    static Answer classify(const httplib::Result& r) {
        Answer a;
        if (!r) {
            a.msg = "no answer (" + httplib::to_string(r.error()) + ")";
            return a;
        }
        a.http = r->status;
        a.body = r->body;
        if (r->has_header("Retry-After")) {
            try {
                a.retry_after_s = std::stoi(r->get_header_value("Retry-After"));
            } catch (...) {
                a.retry_after_s = 0;
            }
        }
        a.replayed = r->get_header_value("Idempotent-Replayed") == "true";
        json j = json::parse(r->body, nullptr, false);
        if (j.is_object() && j.contains("code") && j["code"].is_number_integer()) {
            a.code = j["code"].get<int>();
            a.msg = j.value("msg", std::string());
            a.data = j.contains("data") ? j["data"] : json();
        } else {
            a.msg = "HTTP " + std::to_string(r->status) + " without the JSON envelope";
        }
        return a;
    }

    // Gets a token (§2). Throws Unavailable on any failure (the caller backs off).
    void authenticate() {
        pace();
        json body = {{"appKey", app_key_}, {"appSecret", app_secret_}};
        Answer a = classify(client().Post("/api/v1/auth/token", body.dump(), "application/json; charset=utf-8"));
        if (a.code == 0 && a.data.is_object() && a.data.contains("accessToken") && a.data["accessToken"].is_string()) {
            token_ = a.data["accessToken"].get<std::string>();
            const int expires = a.data.value("expiresIn", 7200);
            // Renew a minute early (or at half life for very short tokens).
            token_until_ = steady_ms() + std::max<std::int64_t>(expires * 1000LL - 60000, expires * 500LL);
            host_.debug("new access token, valid " + std::to_string(expires) + " s");
            return;
        }
        token_.clear();
        if (a.http == 429) throw_throttled(a, "token request");
        if (a.code == 40103) {
            host_.set_health(Health::down, "appKey not authorised or disabled (40103)");
            throw Unavailable("token request refused: 40103 appKey未授权或已停用; contact the 12345 centre");
        }
        throw Unavailable("token request failed: " + summary(a));
    }

    [[noreturn]] void throw_throttled(const Answer& a, const std::string& what) {
        const int s = std::max(1, a.retry_after_s);
        not_before_ = std::max<std::int64_t>(not_before_, steady_ms() + s * 1000LL);
        throttled_until_ = steady_ms() + s * 1000LL;
        throw Unavailable(what + ": throttled (429 " + std::to_string(a.code) + "), retrying after " +
                          std::to_string(s) + " s");
    }

    static std::string summary(const Answer& a) {
        if (a.http == 0) return a.msg;
        std::string s = "HTTP " + std::to_string(a.http);
        if (a.code >= 0) s += " code " + std::to_string(a.code) + " " + a.msg;
        else s += " (" + a.msg + ")";
        return s;
    }

    // Sends one authenticated request; on 40101/40102 gets a new token and repeats it once
    // (§6 item 1: the cursor stays valid).
    template <class Send>
    Answer call(Send&& send) {
        for (int attempt = 0;; ++attempt) {
            if (token_.empty() || steady_ms() >= token_until_) authenticate();
            pace();
            httplib::Headers h{{"X-Api-Key", app_key_}, {"X-Access-Token", token_}};
            Answer a = classify(send(h));
            if ((a.code == 40101 || a.code == 40102) && attempt == 0) {
                host_.info(std::string("access token ") + (a.code == 40101 ? "expired" : "rejected") +
                           " (" + std::to_string(a.code) + "): getting a new one and repeating the request");
                token_.clear();
                ++token_renewals_;
                continue;
            }
            if (a.http == 0) client_.reset();  // a broken connection: start afresh
            return a;
        }
    }

    void backoff(const std::string& why) {
        ++failures_;
        const std::int64_t d = std::min<std::int64_t>(backoff_max_ms_, backoff_initial_ms_ << std::min(failures_ - 1, 16));
        not_before_ = steady_ms() + d;
        const bool first = failures_ == 1;
        if (first || failures_ % 10 == 0)
            host_.warn(why + "; retrying in " + std::to_string(d) + " ms (failure " + std::to_string(failures_) + ")");
        host_.set_health(failures_ >= 5 ? Health::down : Health::degraded, why);
    }
    void healthy() {
        if (failures_ > 0) host_.info("12345 interface answering again after " + std::to_string(failures_) + " failed requests");
        failures_ = 0;
        host_.set_health(Health::ok);
    }

    // ---- reading ---------------------------------------------------------------------------

    void read_page() {
        std::string path = "/api/v1/workorders?limit=" + std::to_string(page_limit_);
        const bool by_cursor = !pos_.c.empty();
        path += by_cursor ? "&cursor=" + url_encode(pos_.c) : "&updated_after=" + url_encode(pos_.after);
        Answer a;
        try {
            a = call([&](const httplib::Headers& h) { return client().Get(path.c_str(), h); });
        } catch (const Unavailable& e) {
            if (not_before_ <= steady_ms()) backoff(e.what());
            else host_.warn(e.what());
            return;
        }
        if (a.http == 429 || a.code == 42901) {
            const int s = std::max(1, a.retry_after_s);
            not_before_ = throttled_until_ = steady_ms() + s * 1000LL;
            ++throttled_;
            host_.warn("work order read throttled (429), waiting Retry-After " + std::to_string(s) + " s");
            host_.set_health(Health::degraded, "throttled by the 12345 centre (429)");
            return;
        }
        if (a.code == 40003) {
            // §3.2: restart with updated_after = gxsj of the last item processed.
            std::string from = !pos_.g.empty() ? casehub::sdk::format_rfc3339_beijing(pos_.g_ms, true)
                               : !pos_.after.empty() ? pos_.after
                                                     : casehub::sdk::format_rfc3339_beijing(host_.now_ms() - lookback_h_ * 3600000LL);
            host_.warn("native cursor no longer valid (40003 cursor已失效): restarting with updated_after=" + from);
            pos_.c.clear();
            pos_.after = from;
            ++cursor_restarts_;
            return;  // the next poll reads from there; nothing to commit yet
        }
        if (a.code == 40103) {
            host_.error("appKey not authorised or disabled (40103): contact the 12345 centre");
            backoff("appKey not authorised (40103)");
            host_.set_health(Health::down, "appKey not authorised or disabled (40103)");
            return;
        }
        if (a.code == 40001 || a.code == 40002) {
            host_.error("the centre refused the read request (" + summary(a) + ") for " + describe(pos_));
            backoff("read request refused: " + summary(a));
            host_.set_health(Health::down, "read request refused: " + summary(a));
            return;
        }
        if (a.code != 0 || a.http != 200) {
            backoff("work order read failed: " + summary(a));
            return;
        }
        std::vector<std::string_view> items;
        std::string next;
        bool has_more = false;
        try {
            if (!a.data.is_object() || !a.data.contains("next_cursor") || !a.data["next_cursor"].is_string())
                throw h12::scan::Error("data.next_cursor missing");
            next = a.data["next_cursor"].get<std::string>();
            has_more = a.data.value("has_more", false);
            items = h12::item_spans(a.body);
        } catch (const std::exception& e) {
            backoff(std::string("malformed work order page: ") + e.what());
            return;
        }
        healthy();
        handle_items(items, next);
        if (!has_more) not_before_ = steady_ms() + poll_interval_ms_;
    }

    bool at_or_before_mark(std::int64_t g_ms, const std::string& gdbh) const {
        if (pos_.g_ms < 0 || g_ms < 0) return false;
        return g_ms < pos_.g_ms || (g_ms == pos_.g_ms && gdbh <= pos_.b);
    }

    void handle_items(const std::vector<std::string_view>& items, const std::string& next) {
        std::vector<std::string> batch;
        std::size_t dups = 0;
        pos_before_ = pos_;
        const std::int64_t now = host_.now_ms();
        for (std::string_view raw : items) {
            h12::Mapped m = h12::map_item(raw, cats_, now);
            if (m.gxsj_ms >= 0 && !m.gdbh.empty() && at_or_before_mark(m.gxsj_ms, m.gdbh)) {
                ++dups;  // §3.1 at-least-once: already handed over
                continue;
            }
            for (const auto& w : m.warnings) host_.warn(w);
            if (m.gxsj_ms >= 0 && !m.gdbh.empty()) {
                pos_.g = m.gxsj;
                pos_.g_ms = m.gxsj_ms;
                pos_.b = m.gdbh;
            }
            if (m.fault) {
                // Hand over what precedes the bad item, then the dead letter with the
                // position after it: the committed cursor never skips a good record.
                if (!batch.empty()) {
                    host_.emit(batch, cursor_text(pos_before_));
                    batch.clear();
                }
                host_.warn("dead-lettering a work order: " + m.fault->reason + ": " + m.fault->detail);
                host_.dead_letter(m.fault->reason, m.fault->detail, h12::mask_native(raw), cursor_text(pos_));
            } else {
                batch.push_back(std::move(m.record));
            }
            pos_before_ = pos_;
        }
        duplicates_ += dups;
        if (dups > 0) host_.info("skipped " + std::to_string(dups) + " work order version(s) already handed over (at-least-once delivery)");
        const bool moved = pos_.c != next;
        pos_.c = next;
        pos_before_ = pos_;
        if (!batch.empty() || moved) host_.emit(batch, cursor_text(pos_));
    }

    // ---- write-back ------------------------------------------------------------------------

    void feedback(const json& action) {
        const std::string key = action.value("key", std::string());
        if (key.empty()) throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "write-back action has no key");
        const json rec = action.contains("record") && action["record"].is_object() ? action["record"] : json::object();
        std::string gdbh;
        if (rec.contains("source") && rec["source"].is_object()) gdbh = rec["source"].value("record_id", std::string());
        if (!h12::detail::is_gdbh(gdbh))
            throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "write-back " + key + ": the record has no 12345 gdbh");

        const std::string act = action.value("action", std::string());
        const std::string status = action.value("status", std::string());
        const std::string clzt = h12::feedback_clzt(act);
        if (clzt.empty())
            throw Error(CASEHUB_ERR_UNSUPPORTED, "write-back " + key + ": 12345 feedback (§4) cannot express action '" + act +
                                                     "' (status '" + status +
                                                     "'): only 办理中 (accept, start), 已办结 (resolve), 退单 (return)");

        std::string dfnr = h12::detail::normalise_text(action.value("note", std::string()));
        if (clzt == "办理中" && dfnr.empty()) dfnr = "已签收，正在办理。";
        if (clzt == "已办结" && utf8_chars(dfnr) < 15)
            throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "write-back " + key + ": 已办结 needs a reply (note) of at least 15 characters stating what was done (§4)");
        if (clzt == "退单" && dfnr.empty())
            throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "write-back " + key + ": 退单 needs the reason in the note (§4)");

        const std::string cbdw = handling_unit(action, rec);
        if (cbdw.empty())
            throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "write-back " + key + ": no handling unit (the order names no lead or assisting unit)");
        std::string cbr = h12::detail::trim(action.value("handler", std::string()));
        if (cbr.empty()) cbr = default_officer_;
        std::string at = action.value("at", std::string());
        auto at_ms = casehub::sdk::parse_rfc3339_ms(at);
        if (!at_ms) throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "write-back " + key + ": 'at' is not RFC 3339");

        json body = {{"clzt", clzt}, {"dfnr", dfnr}, {"cbdw", cbdw}, {"cbr", cbr}, {"clsj", h12::format_local(*at_ms)}};
        // §4: a key of at most 64 characters; longer hub keys are hashed (stable across retries).
        const std::string idem = key.size() <= 64 ? key : casehub::sdk::sha256_hex(key);
        const std::string path = "/api/v1/workorders/" + gdbh + "/feedback";
        const std::string text = body.dump();

        if (steady_ms() < throttled_until_)  // §6 item 2: the whole key is throttled
            throw Unavailable("write-back " + key + ": the 12345 centre throttles this appKey; retrying later");
        Answer a = call([&](httplib::Headers h) {
            h.emplace("Idempotency-Key", idem);
            return client().Post(path.c_str(), h, text, "application/json; charset=utf-8");
        });
        const std::string what = "feedback " + clzt + " for " + gdbh + " (key " + key + ")";
        if (a.code == 0) {
            host_.info(what + (a.replayed ? ": already applied (Idempotent-Replayed)" : ": applied"));
            return;
        }
        if (a.http == 429 || a.code == 42901) throw_throttled(a, what);
        switch (a.code) {
            case 40901: {
                // Already in the requested state (applied earlier under another key): done.
                const std::string now_native = rec.value("status_native", std::string());
                if (now_native == clzt) {
                    host_.info(what + ": the order is already " + clzt + " (40901), nothing to do");
                    return;
                }
                throw Error(CASEHUB_ERR_INVALID_ARGUMENT, what + ": refused, 40901 工单状态不允许该操作 (order is " +
                                                              (now_native.empty() ? "in another state" : now_native) + ")");
            }
            case 40902:
                throw Error(CASEHUB_ERR_INVALID_ARGUMENT, what + ": refused, 40902 the idempotency key was used with a different body");
            case 42201:
                throw Error(CASEHUB_ERR_INVALID_ARGUMENT, what + ": refused, 42201 答复内容不符合要求: " + a.msg);
            case 40301:
                throw Error(CASEHUB_ERR_INVALID_ARGUMENT, what + ": refused, 40301 the order is no longer dispatched to the district");
            case 40401:
                throw Error(CASEHUB_ERR_INVALID_ARGUMENT, what + ": refused, 40401 no such order");
            case 40001:
                throw Error(CASEHUB_ERR_INVALID_ARGUMENT, what + ": refused, 40001 参数错误: " + a.msg);
            case 40103:
                host_.set_health(Health::down, "appKey not authorised or disabled (40103)");
                throw Unavailable(what + ": 40103 appKey未授权或已停用");
            default:
                throw Unavailable(what + ": " + summary(a));
        }
    }

    static std::size_t utf8_chars(const std::string& s) {
        std::size_t n = 0;
        for (unsigned char c : s) n += (c & 0xC0) != 0x80;
        return n;
    }

    // cbdw must be the lead or an assisting unit of the order (§4): the order's own spelling of
    // the unit the hub names, else the order's lead unit.
    static std::string handling_unit(const json& action, const json& rec) {
        std::string uname, ucode;
        if (action.contains("unit") && action["unit"].is_object()) {
            uname = action["unit"].value("name", std::string());
            ucode = action["unit"].value("code", std::string());
        }
        std::string lead;
        if (rec.contains("responsible") && rec["responsible"].is_array()) {
            for (const auto& r : rec["responsible"]) {
                if (!r.is_object()) continue;
                const std::string name = r.contains("name") && r["name"].is_string() ? r["name"].get<std::string>() : "";
                const std::string code = r.contains("dept_code") && r["dept_code"].is_string() ? r["dept_code"].get<std::string>() : "";
                if (name.empty()) continue;
                if (!uname.empty() && (name == uname || name.find(uname) != std::string::npos || uname.find(name) != std::string::npos))
                    return name;
                // 9-digit street code 320104002 ↔ 12345 unit code 320104JD002
                if (!ucode.empty() && !code.empty() &&
                    (code == ucode || (ucode.size() == 9 && code == ucode.substr(0, 6) + "JD" + ucode.substr(6))))
                    return name;
                if (lead.empty() && r.value("role", std::string()) == "lead") lead = name;
            }
        }
        return lead.empty() ? uname : lead;
    }

    casehub::sdk::Host& host_;
    std::string base_url_, app_key_, app_secret_, ca_file_, initial_after_, default_officer_;
    h12::Categories cats_;
    std::int64_t lookback_h_ = 24;
    int page_limit_ = 200;
    std::int64_t poll_interval_ms_ = 30000, min_gap_ms_ = 200, timeout_ms_ = 10000;
    std::int64_t backoff_initial_ms_ = 1000, backoff_max_ms_ = 60000;

    std::unique_ptr<httplib::Client> client_;
    std::string token_;
    std::int64_t token_until_ = 0;
    std::int64_t last_request_ms_ = 0;
    std::int64_t not_before_ = 0, throttled_until_ = 0;
    int failures_ = 0;
    std::uint64_t token_renewals_ = 0, throttled_ = 0, cursor_restarts_ = 0, duplicates_ = 0;
    Position pos_, pos_before_;
};

}  // namespace

CASEHUB_PLUGIN(Hotline12345, .name = "cn.gov.qinhuai.hotline12345", .version = "1.0.0",
               .description = "南京12345政务服务便民热线 work orders (interface V1.4): cursor-paged JSON REST "
                              "reading with token auth, and handling feedback (办理中/已办结/退单) as write-back",
               .config_schema = kSchema, .capabilities = CASEHUB_CAP_WRITE_BACK)
