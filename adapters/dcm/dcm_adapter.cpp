// cn.gov.qinhuai.dcm: the 数字城管 case interface (dcm-interface.md V2.3) as a casehub source.
//
// Reads GET /dcm/api/v2/cases by updatedSince, in the order (updatetime, taskid), with a cursor
// that tie-breaks on taskid; maps each <case> to casehub.record/1 (dcm_mapping.hpp); writes the
// handling feedback of §7 back for the hub's accept/start/resolve actions. docs/adapters/dcm.md
// explains every decision.
#include "dcm_mapping.hpp"

#include <casehub/sdk/plugin.hpp>
#include <casehub/sdk/record_check.hpp>

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace {

using namespace std::chrono_literals;
using casehub::sdk::Health;
using Clock = std::chrono::steady_clock;
using dcm::json;

constexpr const char* kConfigSchema = R"json([
  {"name": "base_url", "type": "string", "required": true,
   "help": "service address issued at registration, e.g. http://10.32.104.21:8090 (http only; the e-government extranet)"},
  {"name": "app_id", "type": "string", "required": true,
   "help": "application id, sent as X-DCM-AppId"},
  {"name": "token", "type": "string", "default": "", "secret": true,
   "help": "token issued by the centre, sent as X-DCM-Token; ignored when token_file is set"},
  {"name": "token_file", "type": "path", "default": "",
   "help": "file holding the token (first line); re-read when the centre answers 1001, so a renewed token is picked up without a restart"},
  {"name": "categories_file", "type": "path", "default": "qinhuai/categories.json",
   "help": "casehub.categories/1 file with the dcm.event and dcm.component mappings"},
  {"name": "page_size", "type": "integer", "default": 100, "min": 1, "max": 500,
   "help": "pageSize of a query; halved while the centre answers 3001 (query timeout), restored afterwards"},
  {"name": "poll_interval_ms", "type": "integer", "default": 5000, "min": 50, "max": 3600000,
   "help": "pause between queries once caught up"},
  {"name": "max_requests_per_second", "type": "number", "default": 4, "min": 0.1, "max": 5,
   "help": "request pace; the centre allows at most 5 per second per application (code 1003 beyond)"},
  {"name": "request_timeout_ms", "type": "integer", "default": 8000, "min": 100, "max": 60000,
   "help": "HTTP timeout of one request; keep it below the hub's hang_timeout_ms"},
  {"name": "retry_min_ms", "type": "integer", "default": 1000, "min": 10, "max": 600000,
   "help": "first delay after a failed request (502/503/504, 5000, network); doubles up to retry_max_ms"},
  {"name": "retry_max_ms", "type": "integer", "default": 60000, "min": 10, "max": 3600000,
   "help": "longest delay between retries of failed requests"},
  {"name": "auth_retry_ms", "type": "integer", "default": 300000, "min": 10, "max": 86400000,
   "help": "after 1001/1002, how often to try again when the token did not change"},
  {"name": "initial_lookback_hours", "type": "integer", "default": 72, "min": 0, "max": 2159,
   "help": "first run (no cursor): read cases updated this many hours before the centre's servertime"},
  {"name": "start_from", "type": "string", "default": "",
   "help": "first run only: updatedSince to start from (yyyy-MM-dd HH:mm:ss); overrides initial_lookback_hours"}
])json";

std::string trim_copy(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t')) s.pop_back();
    std::size_t b = 0;
    while (b < s.size() && (s[b] == ' ' || s[b] == '\t')) ++b;
    return s.substr(b);
}

std::string url_encode(std::string_view s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':') out += static_cast<char>(c);
        else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string xml_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            default: out += c;
        }
    }
    return out;
}

// The <title> of an HTML page (gateway answers), for the log.
std::string html_title(const std::string& body) {
    auto b = body.find("<title>");
    auto e = body.find("</title>");
    if (b == std::string::npos || e == std::string::npos || e < b) return {};
    return body.substr(b + 7, std::min<std::size_t>(e - b - 7, 120));
}

// One answer of the centre.
struct Answer {
    enum class Kind { ok, app_error, http_error, transport, malformed } kind = Kind::ok;
    int http = 0;
    int code = 0;            // §7.1 code when kind is ok/app_error
    std::string message;     // §7.1 message, HTML title, or transport error
    std::string body;
    pugi::xml_document doc;  // parsed envelope when ok/app_error
};

class DcmSource : public casehub::sdk::Source {
public:
    DcmSource(casehub::sdk::Host& host, const json& cfg) : host_(host) {
        base_url_ = cfg.at("base_url").get<std::string>();
        while (!base_url_.empty() && base_url_.back() == '/') base_url_.pop_back();
        if (base_url_.rfind("http://", 0) != 0)
            throw casehub::sdk::ConfigError("base_url must be an http:// address (got '" + base_url_ + "')");
        app_id_ = cfg.at("app_id").get<std::string>();
        token_ = cfg.value("token", std::string());
        token_file_ = cfg.value("token_file", std::string());
        if (!token_file_.empty()) token_ = read_token_file().value_or(token_);
        if (token_.empty()) throw casehub::sdk::ConfigError("no token: set token or token_file");
        const std::string cats = cfg.value("categories_file", std::string("qinhuai/categories.json"));
        try {
            cats_ = dcm::Categories::load(cats);
        } catch (const std::exception& e) {
            throw casehub::sdk::ConfigError(std::string("categories_file: ") + e.what());
        }
        page_size_cfg_ = page_size_ = cfg.value("page_size", 100);
        poll_interval_ = std::chrono::milliseconds(cfg.value("poll_interval_ms", 5000));
        min_gap_ = std::chrono::milliseconds(static_cast<long>(1000.0 / cfg.value("max_requests_per_second", 4.0)));
        timeout_ms_ = cfg.value("request_timeout_ms", 8000);
        retry_min_ = std::chrono::milliseconds(cfg.value("retry_min_ms", 1000));
        retry_max_ = std::chrono::milliseconds(cfg.value("retry_max_ms", 60000));
        auth_retry_ = std::chrono::milliseconds(cfg.value("auth_retry_ms", 300000));
        lookback_hours_ = cfg.value("initial_lookback_hours", 72);
        start_from_ = cfg.value("start_from", std::string());
        if (!start_from_.empty() && dcm::parse_local(start_from_).kind != dcm::TimeKind::value)
            throw casehub::sdk::ConfigError("start_from must be yyyy-MM-dd HH:mm:ss (got '" + start_from_ + "')");
        for (const auto& c : cats_.known) known_categories_.insert(c);
        check_opts_.known_categories = &known_categories_;
        client_ = std::make_unique<httplib::Client>(base_url_);
        client_->set_connection_timeout(std::chrono::milliseconds(std::min(timeout_ms_, 5000)));
        client_->set_read_timeout(std::chrono::milliseconds(timeout_ms_));
        client_->set_write_timeout(std::chrono::milliseconds(timeout_ms_));
        client_->set_keep_alive(true);
    }

    void start(std::optional<std::string_view> cursor) override {
        if (cursor && !cursor->empty()) {
            auto c = dcm::Cursor::parse(*cursor);
            if (!c) throw casehub::sdk::Error(CASEHUB_ERR_INVALID_ARGUMENT,
                                              "cursor is not a dcm cursor {\"v\":1,\"t\":…,\"k\":…}: " + std::string(*cursor));
            cursor_ = *c;
            have_cursor_ = true;
            host_.info("dcm: resuming after updatetime " + cursor_.t + " taskid '" + cursor_.k + "'");
        } else if (!start_from_.empty()) {
            cursor_ = {start_from_, ""};
            have_cursor_ = true;
            host_.info("dcm: first run, reading cases updated since " + start_from_);
        } else {
            host_.info("dcm: first run, reading cases of the last " + std::to_string(lookback_hours_) +
                       " hours (by the centre's servertime)");
        }
        pos_ = 0;
        host_.set_health(Health::ok);
    }

    void poll(std::chrono::milliseconds timeout) override {
        const auto deadline = Clock::now() + timeout;
        if (auth_failed_ && token_renewed()) next_query_ = Clock::now();
        if (!wait_until(next_query_, deadline)) return;
        // Bounded work: a few pages per poll, as long as there is more to read.
        for (int pages = 0; pages < 8 && !host_.stop_requested(); ++pages) {
            if (!pace(deadline)) return;
            if (!query_once()) return;  // caught up, waiting, or failed: next_query_ is set
            if (Clock::now() >= deadline) return;
        }
    }

    void write_back(const json& action) override;

private:
    // ---- timing ----------------------------------------------------------------------------

    // Sleeps until `t` or `deadline`; true if `t` was reached.
    static bool wait_until(Clock::time_point t, Clock::time_point deadline) {
        auto now = Clock::now();
        if (now >= t) return true;
        std::this_thread::sleep_until(std::min(t, deadline));
        return Clock::now() >= t;
    }
    // Keeps to max_requests_per_second.
    bool pace(Clock::time_point deadline) { return wait_until(last_request_ + min_gap_, deadline); }

    // ---- HTTP ------------------------------------------------------------------------------

    std::optional<std::string> read_token_file() const {
        std::ifstream in(token_file_);
        std::string line;
        if (!in || !std::getline(in, line)) return std::nullopt;
        line = trim_copy(line);
        if (line.empty()) return std::nullopt;
        return line;
    }

    httplib::Headers headers() const {
        return {{"X-DCM-AppId", app_id_}, {"X-DCM-Token", token_}, {"Accept", "text/xml, application/xml"}};
    }

    // Classifies one HTTP result (§7.1, §8.1, §8.2).
    void classify(const httplib::Result& res, Answer& a) const {
        if (!res) {
            a.kind = Answer::Kind::transport;
            a.message = httplib::to_string(res.error());
            return;
        }
        a.http = res->status;
        a.body = res->body;
        if (res->status != 200) {
            a.kind = Answer::Kind::http_error;
            std::string title = html_title(a.body);
            a.message = "HTTP " + std::to_string(res->status) + (title.empty() ? "" : " (" + title + ")");
            return;
        }
        auto pr = a.doc.load_buffer(a.body.data(), a.body.size(), pugi::parse_default, pugi::encoding_utf8);
        pugi::xml_node r = a.doc.child("response");
        if (!pr || !r || !r.child("code")) {
            a.kind = Answer::Kind::malformed;
            std::string title = html_title(a.body);
            a.message = pr ? "answer without <response><code>" : std::string("answer is not XML: ") + pr.description();
            if (!title.empty()) a.message += " (" + title + ")";
            return;
        }
        std::string code = trim_copy(r.child("code").child_value());
        a.message = trim_copy(r.child("message").child_value());
        try {
            a.code = std::stoi(code);
        } catch (const std::exception&) {
            a.kind = Answer::Kind::malformed;
            a.message = "<code> '" + code.substr(0, 16) + "' is not a number";
            return;
        }
        a.kind = a.code == 0 ? Answer::Kind::ok : Answer::Kind::app_error;
    }

    // ---- trouble ---------------------------------------------------------------------------

    void retry_later(const std::string& what, std::chrono::milliseconds delay, Health h) {
        next_query_ = Clock::now() + delay;
        if (what != last_trouble_) {
            host_.warn("dcm: " + what + "; retrying in " + std::to_string(delay.count()) + " ms");
            last_trouble_ = what;
        }
        host_.set_health(h, what);
    }
    void backoff(const std::string& what) {
        backoff_ = backoff_.count() == 0 ? retry_min_ : std::min(retry_max_, backoff_ * 2);
        ++failures_;
        retry_later(what, backoff_, failures_ >= 5 ? Health::down : Health::degraded);
    }
    void recovered() {
        if (!last_trouble_.empty()) host_.info("dcm: the centre answers again (after: " + last_trouble_ + ")");
        last_trouble_.clear();
        backoff_ = {};
        failures_ = 0;
        auth_failed_ = false;
        host_.set_health(Health::ok);
    }

    // 1001 / 1002: do not retry until the token is renewed (§7.1).
    void auth_failure(int code, const std::string& msg) {
        auth_failed_ = true;
        failed_token_ = token_;
        std::string what = code == 1001
                               ? "1001 认证失败: the centre refuses the token (wrong or expired); the token is renewed by "
                                 "written request to 数字城管中心, then put the new token in " +
                                     (token_file_.empty() ? std::string("the token option") : token_file_)
                               : "1002 IP未授权: this host's address is not on the centre's whitelist";
        (void)msg;
        host_.error("dcm: " + what);
        next_query_ = Clock::now() + auth_retry_;
        last_trouble_ = what;
        host_.set_health(Health::down, what);
    }
    // While auth failed: a changed token file means "renewed": try at once.
    bool token_renewed() {
        if (token_file_.empty()) return false;
        auto t = read_token_file();
        if (t && *t != failed_token_) {
            token_ = *t;
            host_.info("dcm: token file changed; trying the renewed token");
            return true;
        }
        return false;
    }

    // ---- the query loop --------------------------------------------------------------------

    // One GET; returns true when the caller should read the next page at once.
    bool query_once() {
        std::string since;
        dcm::PageRequest req{1, page_size_};
        bool probe = !have_cursor_;
        if (probe) {
            // First run without start_from: learn the centre's clock (servertime) first.
            since = dcm::format_local(host_.now_ms() - 3600 * 1000);
            req = {1, 1};
        } else {
            since = cursor_.t;
            req = dcm::page_for(pos_, page_size_);
        }
        std::string path = "/dcm/api/v2/cases?updatedSince=" + url_encode(since) +
                           "&pageNo=" + std::to_string(req.page_no) + "&pageSize=" + std::to_string(req.page_size);
        last_request_ = Clock::now();
        Answer a;
        classify(client_->Get(path, headers()), a);
        if (probe && (a.kind == Answer::Kind::ok || a.kind == Answer::Kind::app_error)) {
            auto st = dcm::parse_local(trim_copy(a.doc.child("response").child("servertime").child_value()));
            if (st.kind == dcm::TimeKind::value) {
                cursor_ = {dcm::format_local(st.epoch_ms - static_cast<std::int64_t>(lookback_hours_) * 3600 * 1000), ""};
                have_cursor_ = true;
                pos_ = 0;
                host_.info("dcm: centre servertime " + dcm::format_local(st.epoch_ms) + "; starting from " + cursor_.t);
                recovered();
                return true;
            }
        }
        if (!handle_trouble(a, req)) return false;
        return process_page(a, req);
    }

    // Handles everything but a good answer; true when `a` is a good answer.
    bool handle_trouble(const Answer& a, const dcm::PageRequest& req) {
        using K = Answer::Kind;
        switch (a.kind) {
            case K::ok: return true;
            case K::transport:
                if (a.message.find("Read") != std::string::npos || a.message.find("Timeout") != std::string::npos) {
                    shrink_page("no answer within " + std::to_string(timeout_ms_) + " ms (" + a.message + ")", req);
                    return false;
                }
                backoff("the centre is unreachable: " + a.message);
                return false;
            case K::http_error:
                if (a.http == 503 && a.message.find("维护") != std::string::npos)
                    backoff("the centre is in maintenance (nightly 01:00-01:30, or an outage): gateway answers " + a.message);
                else if (a.http == 504)
                    shrink_page("gateway timeout " + a.message, req);
                else
                    backoff("gateway answers " + a.message);
                return false;
            case K::malformed: backoff("unusable answer: " + a.message); return false;
            case K::app_error: break;
        }
        const std::string m = std::to_string(a.code) + " " + a.message;
        switch (a.code) {
            case 1001:
            case 1002: auth_failure(a.code, a.message); return false;
            case 1003:  // over 5 requests/s: wait 1 s (§7.1)
                retry_later("1003 请求过于频繁 (rate limit)", 1000ms, Health::ok);
                return false;
            case 2003: {
                // updatedSince older than 90 days: the gap can only be had from the centre's staff.
                auto st = dcm::parse_local(trim_copy(a.doc.child("response").child("servertime").child_value()));
                if (st.kind != dcm::TimeKind::value) {
                    backoff(m);
                    return false;
                }
                std::string from = dcm::format_local(st.epoch_ms - (90LL * 24 - 1) * 3600 * 1000);
                host_.error("dcm: 2003: cases updated between " + cursor_.t + " and " + from +
                            " are older than the 90 days the interface serves; ask 数字城管中心 for them. Continuing from " + from);
                cursor_ = {from, ""};
                pos_ = 0;
                host_.set_health(Health::degraded, "2003: a gap before " + from + " must be requested from the centre");
                return false;
            }
            case 2002:
                page_size_cfg_ = std::min(page_size_cfg_, 500);
                page_size_ = std::min(page_size_, 500);
                backoff(m);
                return false;
            case 3001: shrink_page("3001 查询超时", req); return false;
            case 5000: backoff("5000 系统内部错误"); return false;
            default: backoff("query refused: " + m); return false;
        }
    }

    void shrink_page(const std::string& what, const dcm::PageRequest& req) {
        int smaller = std::max(1, std::min(page_size_, req.page_size) / 2);
        if (smaller < page_size_) {
            host_.warn("dcm: " + what + "; pageSize " + std::to_string(page_size_) + " → " + std::to_string(smaller));
            page_size_ = smaller;
            good_pages_ = 0;
            next_query_ = Clock::now();
        } else {
            backoff(what);
        }
    }

    bool process_page(const Answer& a, const dcm::PageRequest& req) {
        pugi::xml_node r = a.doc.child("response");
        auto server = dcm::parse_local(trim_copy(r.child("servertime").child_value()));
        if (server.kind != dcm::TimeKind::value) {
            backoff("answer without a usable <servertime>");
            return false;
        }
        server_skew_ms_ = server.epoch_ms - host_.now_ms();
        recovered();
        if (page_size_ < page_size_cfg_ && ++good_pages_ >= 20) {  // the 3001 trouble passed
            page_size_ = std::min(page_size_cfg_, page_size_ * 2);
            good_pages_ = 0;
        }
        const std::string server_t = dcm::format_local(server.epoch_ms);
        const std::string received_at = casehub::sdk::format_rfc3339_beijing(host_.now_ms());
        const std::string since = cursor_.t;
        const auto slices = dcm::case_slices(a.body);
        const std::string_view body(a.body);

        std::vector<std::string> batch;
        bool first = true, deferred = false;
        long long pos_in_page = 0;  // index of the last case at or before the cursor
        for (const auto& sl : slices) {
            std::string_view raw = body.substr(sl.begin, sl.end - sl.begin);
            // Order key first (cheap): taskid and updatetime.
            dcm::Mapped mp = dcm::map_case(raw, cats_, received_at);
            const bool keyed = mp.updatetime.kind == dcm::TimeKind::value && !mp.taskid.empty();
            const std::string ut = keyed ? dcm::format_local(mp.updatetime.epoch_ms) : std::string();
            if (first && keyed && req.page_no > 1 && cursor_.after(ut, mp.taskid)) {
                // The page starts after our position: cases before it moved away (§8.4), and the
                // boundary may have skipped some. Step back one page and read again.
                host_.info("dcm: page " + std::to_string(req.page_no) + " starts after the cursor (cases moved while paging); stepping back");
                pos_ = std::max(0LL, pos_ - req.page_size);
                flush(batch);
                return ++step_backs_ < 50;
            }
            first = false;
            if (keyed && !cursor_.after(ut, mp.taskid)) {  // already had it
                ++pos_in_page;
                continue;
            }
            if (keyed && ut >= server_t) {  // this second is still open at the centre: next time
                deferred = true;
                break;
            }
            if (!keyed) {
                // Without a usable (updatetime, taskid) the case cannot be placed in the order;
                // dead-letter it once and keep the cursor where it is.
                flush(batch);
                dead_letter_once(mp, raw);
                continue;
            }
            cursor_ = {ut, mp.taskid};
            ++pos_in_page;
            for (const auto& w : mp.warnings) host_.warn("dcm: case " + mp.taskid + ": " + w);
            if (mp.record) {
                std::string doc = mp.record->dump();
                if (auto f = casehub::sdk::check_record(*mp.record, check_opts_)) {
                    flush(batch);
                    mp.reason = f->reason;
                    mp.detail = "case " + mp.taskid + ": mapped record invalid: " + f->message;
                    dead_letter_once(mp, raw);
                } else {
                    batch.push_back(std::move(doc));
                }
            } else {
                flush(batch);
                dead_letter_once(mp, raw);
            }
        }
        flush(batch);
        step_backs_ = 0;

        // Where the next page starts: the cursor's index in the order from updatedSince = cursor.t.
        const bool full = static_cast<int>(slices.size()) >= req.page_size;
        if (cursor_.t == since) pos_ = static_cast<long long>(req.page_no - 1) * req.page_size + pos_in_page;
        else pos_ = count_at_cursor_second(body, slices);
        if (deferred || !full) {
            next_query_ = Clock::now() + (deferred ? std::min(poll_interval_, std::chrono::milliseconds(1000)) : poll_interval_);
            return false;
        }
        return true;
    }

    // Cases of the page in the cursor's second up to the cursor (the page holds all of them,
    // since it starts before that second): the cursor's index + 1 in the order from cursor.t.
    long long count_at_cursor_second(std::string_view body, const std::vector<dcm::Slice>& slices) const {
        long long n = 0;
        for (const auto& sl : slices) {
            std::string_view raw = body.substr(sl.begin, sl.end - sl.begin);
            auto ut = element_text(raw, "updatetime");
            auto id = element_text(raw, "taskid");
            if (ut == cursor_.t && !cursor_.after(ut, id)) ++n;
        }
        return n;
    }
    static std::string element_text(std::string_view raw, const std::string& name) {
        auto b = raw.find("<" + name + ">");
        if (b == std::string_view::npos) return {};
        b += name.size() + 2;
        auto e = raw.find("</" + name + ">", b);
        if (e == std::string_view::npos) return {};
        return trim_copy(std::string(raw.substr(b, e - b)));
    }

    void flush(std::vector<std::string>& batch) {
        if (batch.empty()) return;
        host_.emit(batch, cursor_.dump());
        batch.clear();
    }

    void dead_letter_once(const dcm::Mapped& mp, std::string_view raw) {
        std::string h = casehub::sdk::sha256_hex(raw);
        if (!dead_lettered_.insert(h).second) return;  // the same bytes again (re-read second)
        if (dead_lettered_.size() > 10000) dead_lettered_.clear();
        host_.warn("dcm: dead letter (" + mp.reason + "): " + mp.detail);
        host_.dead_letter(mp.reason, mp.detail, dcm::mask_native(raw), cursor_.dump());
    }

    casehub::sdk::Host& host_;
    std::string base_url_, app_id_, token_, token_file_, failed_token_, start_from_;
    dcm::Categories cats_;
    std::set<std::string, std::less<>> known_categories_;
    casehub::sdk::RecordCheckOptions check_opts_;
    std::unique_ptr<httplib::Client> client_;
    int page_size_cfg_ = 100, page_size_ = 100, good_pages_ = 0, timeout_ms_ = 8000, lookback_hours_ = 72;
    std::chrono::milliseconds poll_interval_{5000}, min_gap_{250}, retry_min_{1000}, retry_max_{60000},
        auth_retry_{300000}, backoff_{0};
    Clock::time_point next_query_{}, last_request_{};
    dcm::Cursor cursor_;
    bool have_cursor_ = false, auth_failed_ = false;
    std::int64_t server_skew_ms_ = 0;  // centre's clock minus ours, from the last servertime
    long long pos_ = 0;
    int step_backs_ = 0, failures_ = 0;
    std::string last_trouble_;
    std::set<std::string> dead_lettered_;
};

// ---- write-back: §7 handling feedback ----------------------------------------------------------

void DcmSource::write_back(const json& action) {
    using casehub::sdk::Error;
    const std::string key = action.value("key", std::string());
    const std::string act = action.value("action", std::string());
    const std::string status = action.value("status", std::string());
    if (key.empty()) throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "write-back without a key");
    // The feedback of §7 knows 04 签收/开始处置 and 05 处置反馈 only (dcm::feedback_code): any
    // other action is refused as unsupported and nothing is sent.
    const std::string code = dcm::feedback_code(act);
    if (code.empty())
        throw Error(CASEHUB_ERR_UNSUPPORTED, "数字城管 feedback (§7) cannot express action '" + act + "' (status '" + status +
                                                 "'): only 04 签收 (accept, start) and 05 处置反馈 (resolve)");
    const json& rec = action.contains("record") && action["record"].is_object() ? action["record"] : json::object();
    std::string taskid;
    if (rec.contains("source") && rec["source"].is_object()) taskid = rec["source"].value("record_id", std::string());
    if (taskid.empty()) throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "write-back without record.source.record_id (taskid)");
    // deptcode/deptname must equal the case's executedeptcode (§7): the unit the centre dispatched to.
    std::string deptcode, deptname;
    for (const auto& r : rec.value("responsible", json::array()))
        if (r.is_object() && r.value("role", "") == "lead" && r.contains("dept_code") && r["dept_code"].is_string()) {
            deptcode = r["dept_code"].get<std::string>();
            deptname = r.contains("name") && r["name"].is_string() ? r["name"].get<std::string>() : "";
            break;
        }
    if (deptcode.empty())
        throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "case " + taskid + " is not dispatched (no executedeptcode): 数字城管 takes feedback only from the dispatched unit");
    std::string handler = action.contains("handler") && action["handler"].is_string() ? action["handler"].get<std::string>() : "";
    if (handler.empty() && action.contains("unit") && action["unit"].is_object()) handler = action["unit"].value("name", "");
    if (handler.empty()) throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "write-back without handler (处置人 is required)");
    handler = dcm::first_chars(handler, 20);  // ≤ 20 (§7)
    std::string note = action.contains("note") && action["note"].is_string() ? action["note"].get<std::string>() : "";
    if (code == "05" && note.empty()) throw Error(CASEHUB_ERR_INVALID_ARGUMENT, "resolve without a note: 处置结果 is required for 05");
    note = dcm::cut_chars(note, 1000);  // 1–1000 (§7)
    auto at = casehub::sdk::parse_rfc3339_ms(action.value("at", std::string()));
    // §7 time: not in the future by the centre's clock (case-model §5.1: 5 minutes' tolerance),
    // not before dispatchtime.
    const std::int64_t centre_now = host_.now_ms() + server_skew_ms_;
    std::int64_t at_ms = at ? std::min(*at, centre_now) : centre_now;
    if (rec.contains("times") && rec["times"].is_object() && rec["times"].contains("dispatched_at") &&
        rec["times"]["dispatched_at"].is_string())
        if (auto d = casehub::sdk::parse_rfc3339_ms(rec["times"]["dispatched_at"].get<std::string>()))
            at_ms = std::max(at_ms, *d);
    // requestid ≤ 64 (§7): the hub's key is stable across retries.
    std::string requestid = key.size() <= 64 ? key : casehub::sdk::sha256_hex(key);

    std::ostringstream x;
    x << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feedback>"
      << "<requestid>" << xml_escape(requestid) << "</requestid>"
      << "<statuscode>" << code << "</statuscode>"
      << "<deptcode>" << xml_escape(deptcode) << "</deptcode>"
      << "<deptname>" << xml_escape(deptname) << "</deptname>"
      << "<handler>" << xml_escape(handler) << "</handler>"
      << "<result>" << xml_escape(note) << "</result>"
      << "<time>" << dcm::format_local(at_ms) << "</time>"
      << "</feedback>";
    const std::string body = x.str();
    const std::string path = "/dcm/api/v2/cases/" + url_encode(taskid) + "/feedback";

    for (int attempt = 0;; ++attempt) {
        auto gap = last_request_ + min_gap_ - Clock::now();
        if (gap > Clock::duration::zero()) std::this_thread::sleep_for(gap);
        last_request_ = Clock::now();
        Answer a;
        classify(client_->Post(path, headers(), body, "application/xml; charset=UTF-8"), a);
        const std::string what = "feedback " + code + " on case " + taskid + " (requestid " + requestid + ")";
        if (a.kind == Answer::Kind::ok || (a.kind == Answer::Kind::app_error && a.code == 4003)) {
            host_.info("dcm: " + what + (a.code == 4003 ? " was already applied (4003)" : " applied") + ", updatetime " +
                       trim_copy(a.doc.child("response").child("updatetime").child_value()));
            next_query_ = Clock::now();  // the case comes back with the feedback: read it soon
            return;
        }
        if (a.kind != Answer::Kind::app_error) throw casehub::sdk::Unavailable(what + ": " + a.message);
        switch (a.code) {
            case 1003:
                if (attempt < 2) {
                    std::this_thread::sleep_for(1s);
                    continue;
                }
                throw casehub::sdk::Unavailable(what + ": 1003 rate limit");
            case 1001:
            case 1002:
                if (a.code == 1001 && !token_file_.empty() && attempt == 0) {
                    if (auto t = read_token_file(); t && *t != token_) {
                        token_ = *t;
                        continue;
                    }
                }
                throw casehub::sdk::Unavailable(what + ": " + std::to_string(a.code) + " " + a.message +
                                                " (renew the token with the centre)");
            case 5000: throw casehub::sdk::Unavailable(what + ": 5000 " + a.message);
            case 4001: throw Error(CASEHUB_ERR_INVALID_ARGUMENT, what + ": 4001 案卷不存在 (no such case at the centre)");
            case 4002:
                throw Error(CASEHUB_ERR_INVALID_ARGUMENT,
                            what + ": 4002 案卷当前状态不允许该操作 (the case's status at the centre does not allow " + code + ")");
            case 4004:
                throw Error(CASEHUB_ERR_INVALID_ARGUMENT,
                            what + ": 4004 处置部门与派遣部门不一致 (the case was dispatched to another unit than " + deptcode + ")");
            case 4005: throw Error(CASEHUB_ERR_INVALID_ARGUMENT, what + ": 4005 反馈内容校验失败 (" + a.message + ")");
            default:
                throw Error(CASEHUB_ERR_INVALID_ARGUMENT, what + ": refused " + std::to_string(a.code) + " " + a.message);
        }
    }
}

}  // namespace

CASEHUB_PLUGIN(DcmSource,
    .name = "cn.gov.qinhuai.dcm",
    .version = "1.0.0",
    .description = "数字城管 case interface V2.3 (XML over HTTP): cases by updatedSince, handling feedback write-back",
    .config_schema = kConfigSchema,
    .capabilities = CASEHUB_CAP_WRITE_BACK)
