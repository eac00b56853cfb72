// Write-back: command-centre actions routed to the source systems that own a case's records.
//
// An action on a case is, in ONE transaction: the case's new status (case model §4.2 rule 7),
// an `action` event on the case (so the feed shows it), and one `writebacks` row per source
// record whose adapter can write back. Rows are then delivered to the adapters' runners one at a
// time per adapter, in id order (an accept must reach a system before the resolve that follows
// it), each with an idempotency key that stays the same across retries. Transient failures
// (CASEHUB_ERR_UNAVAILABLE, a runner that dies or does not answer) are retried with exponential
// backoff; anything else is final and shown on the case (`casehub cases show`).
#include "daemon/hub.hpp"

#include "pipeline/status_rules.hpp"

#include <casehub/plugin_abi.h>
#include <casehub/sdk/rfc3339.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>

namespace casehub::host {

namespace {

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

constexpr int kMaxAttempts = 20;
constexpr std::int64_t kAnswerTimeoutMs = 60'000;

std::int64_t retry_delay_ms(int attempts) {
    return std::min<std::int64_t>(300'000, 1000LL << std::min(attempts - 1, 9));
}

// The actions a command centre can take that a source system may need to hear about, and the
// case-model status each one means.
struct ActionKind {
    const char* name;
    const char* status;
};
constexpr ActionKind kActions[] = {{"accept", "accepted"},
                                   {"start", "in_progress"},
                                   {"resolve", "resolved"},
                                   {"return", "rejected"}};

bool writes_back(const Adapter& a) {
    if (!a.plugin.contains("capabilities")) return true;  // not reported yet: let the plugin say
    for (const auto& c : a.plugin["capabilities"])
        if (c == "write_back") return true;
    return false;
}

nlohmann::json row_json(const WritebackRow& w) {
    return {{"id", w.id},          {"adapter", w.adapter},   {"system", w.system},
            {"record_id", w.record_id}, {"state", w.state}, {"attempts", w.attempts},
            {"last_error", w.last_error}, {"created_at", w.created_at}, {"updated_at", w.updated_at},
            {"action", nlohmann::json::parse(w.action, nullptr, false)}};
}

}  // namespace

nlohmann::json Hub::case_action(const nlohmann::json& req) {
    auto err = [](std::string code, std::string message, std::string field = "") {
        return nlohmann::json{{"error", message}, {"code", code}, {"field", field}};
    };
    const std::string case_id = req.value("case_id", "");
    const std::string action = req.value("action", "");
    const ActionKind* kind = nullptr;
    for (const auto& k : kActions)
        if (action == k.name) kind = &k;
    if (case_id.empty()) return err("invalid_argument", "case_id is required", "case_id");
    if (kind == nullptr)
        return err("invalid_argument", "unknown action \"" + action + "\" (accept, start, resolve or return)", "action");
    for (const char* f : {"note", "handler"})
        if (req.contains(f) && !req[f].is_string()) return err("invalid_argument", std::string(f) + " must be a string", f);
    if (req.contains("unit") && !req["unit"].is_object()) return err("invalid_argument", "unit must be an object {code, name}", "unit");

    commit_pending();  // the action applies to the case as the records so far made it
    auto found = store_->find_case(case_id);
    if (!found) return err("internal", found.error().message);
    if (!*found) return err("not_found", "no case " + case_id, "case_id");
    CaseRow row = std::move(**found);
    if (row.merged_into) return err("conflict", "case " + case_id + " was merged into " + *row.merged_into, "case_id");
    auto sources = store_->sources_of_case(case_id);
    if (!sources) return err("internal", sources.error().message);

    const std::int64_t now = wall_ms();
    const std::string at = sdk::format_rfc3339_beijing(now);
    nlohmann::json doc = nlohmann::json::parse(row.doc, nullptr, false);
    if (!doc.is_object()) return err("internal", "case " + case_id + " has an unreadable document");

    // Rule 7: accept/start/resolve move the case forward as rule 1; a return only tells the
    // source (its own next record decides what happens to the case).
    const std::string before = row.status;
    if (action != "return") {
        auto cur = parse_status(row.status), x = parse_status(kind->status);
        if (cur && x && is_active(*cur) && *cur != Status::closed && rank(*x) > rank(*cur)) row.status = kind->status;
    }
    row.updated_at = now;
    doc["status"] = row.status;
    doc["updated_at"] = at;

    nlohmann::json base = {{"v", 1},
                           {"case_id", case_id},
                           {"action", action},
                           {"status", kind->status},
                           {"note", req.value("note", "")},
                           {"unit", req.value("unit", nlohmann::json::object())},
                           {"handler", req.value("handler", "")},
                           {"at", at}};
    nlohmann::json queued = nlohmann::json::array(), skipped = nlohmann::json::array();
    if (auto r = store_->begin(); !r) return err("internal", r.error().message);
    auto fail = [&](const std::string& m) {
        store_->rollback();
        return err("internal", m);
    };
    for (const auto& src : *sources) {
        Adapter* owner = nullptr;
        for (const auto& ap : adapters_)
            if (ap->cfg.id == src.adapter) owner = ap.get();
        if (owner == nullptr || !writes_back(*owner)) {
            skipped.push_back({{"system", src.system}, {"record_id", src.record_id},
                               {"reason", owner ? "adapter " + src.adapter + " has no write-back"
                                                : "adapter " + src.adapter + " is not configured"}});
            continue;
        }
        WritebackRow w;
        w.case_id = case_id;
        w.adapter = src.adapter;
        w.system = src.system;
        w.record_id = src.record_id;
        w.next_at = now;
        w.created_at = w.updated_at = now;
        w.action = "{}";  // the id is part of the action: filled in once the row has one
        auto id = store_->add_writeback(w);
        if (!id) return fail(id.error().message);
        w.id = *id;
        nlohmann::json a = base;
        a["writeback_id"] = w.id;
        a["key"] = case_id + ":" + std::to_string(w.id);
        a["record"] = nlohmann::json::parse(src.doc, nullptr, false);
        w.action = a.dump();
        if (auto r = store_->update_writeback(w); !r) return fail(r.error().message);
        queued.push_back({{"id", w.id}, {"adapter", w.adapter}, {"system", w.system}, {"record_id", w.record_id}});
        owner->wb_check_at = 0;
    }
    nlohmann::json detail = {{"action", action}, {"note", req.value("note", "")},
                             {"unit", req.value("unit", nlohmann::json::object())},
                             {"handler", req.value("handler", "")}, {"writebacks", queued}};
    if (before != row.status) detail["status"] = {{"from", before}, {"to", row.status}};
    if (!skipped.empty()) detail["not_written_back"] = skipped;
    row.doc = doc.dump();
    EventRow ev = event_of(row, "action", now, detail.dump());
    if (auto r = store_->append_event(ev); !r) return fail(r.error().message);
    if (auto r = store_->put_case(row, ev.seq); !r) return fail(r.error().message);
    if (auto r = store_->commit(); !r) return err("internal", r.error().message);
    publish({ev});
    spdlog::info("case {}: {} ({} -> {}), {} write-back(s) queued", case_id, action, before, row.status, queued.size());
    return {{"case_id", case_id}, {"status", row.status}, {"seq", ev.seq}, {"writebacks", queued},
            {"not_written_back", skipped}};
}

nlohmann::json Hub::writebacks_json(const nlohmann::json& req) {
    auto rows = store_->writebacks_of_case(req.value("case_id", ""));
    if (!rows) return {{"error", rows.error().message}};
    nlohmann::json list = nlohmann::json::array();
    for (const auto& w : *rows) list.push_back(row_json(w));
    return {{"case_id", req.value("case_id", "")}, {"writebacks", list}};
}

void Hub::dispatch_writebacks(std::int64_t now_mono) {
    const std::int64_t now = wall_ms();
    for (auto& ap : adapters_) {
        Adapter& a = *ap;
        if (a.wb_id != 0) {
            if (a.wb_session != a.session) retry_writeback(a, "the runner ended before it answered");
            else if (now_mono - a.wb_sent_at > kAnswerTimeoutMs) retry_writeback(a, "no answer within 60 s");
            continue;
        }
        if (a.pid <= 0 || !a.welcomed || a.state != AdapterState::running || now < a.wb_check_at) continue;
        auto next = store_->next_writeback(a.cfg.id);
        if (!next) {
            spdlog::error("write-back queue of {}: {}", a.cfg.id, next.error().message);
            a.wb_check_at = now + 1000;
            continue;
        }
        if (!*next) {
            a.wb_check_at = std::numeric_limits<std::int64_t>::max();  // until something is queued
            continue;
        }
        if ((*next)->next_at > now) {
            a.wb_check_at = (*next)->next_at;
            continue;
        }
        a.wb_id = (*next)->id;
        a.wb_sent_at = now_mono;
        a.wb_session = a.session;
        std::string rid = a.cfg.id + "/" + a.session;
        wire::send(intake_, &rid, wire::WRITEBACK, {{"id", a.wb_id}, {"action", (*next)->action}});
    }
}

void Hub::retry_writeback(Adapter& a, const std::string& why) {
    auto w = store_->writeback(a.wb_id);
    a.wb_id = 0;
    if (!w || !*w) return;
    WritebackRow row = **w;
    a.wb_check_at = 0;
    row.attempts += 1;
    row.last_error = why;
    row.updated_at = wall_ms();
    if (row.attempts >= kMaxAttempts) {
        row.state = "failed";
        row.last_error = "gave up after " + std::to_string(row.attempts) + " attempts; last: " + why;
        ++a.writebacks_failed;
        spdlog::error("write-back {} of case {} to {}: {}", row.id, row.case_id, a.cfg.id, row.last_error);
    } else {
        row.next_at = row.updated_at + retry_delay_ms(row.attempts);
        ++a.writebacks_retried;
        spdlog::warn("write-back {} of case {} to {}: {}; retry {} in {} ms", row.id, row.case_id, a.cfg.id, why,
                     row.attempts, row.next_at - row.updated_at);
    }
    if (auto r = store_->update_writeback(row); !r) spdlog::error("write-back {}: {}", row.id, r.error().message);
}

void Hub::on_writeback_done(Adapter& a, const nlohmann::json& h) {
    const auto id = h.value("id", std::int64_t{0});
    if (id == 0 || id != a.wb_id) return;  // an answer to something no longer in flight
    const int status = h.value("status", static_cast<int>(CASEHUB_ERR_INTERNAL));
    const std::string message = h.value("message", "");
    if (status == CASEHUB_ERR_UNAVAILABLE) return retry_writeback(a, message);
    auto w = store_->writeback(id);
    a.wb_id = 0;
    a.wb_check_at = 0;  // the next one may be due at once
    if (!w || !*w) return;
    WritebackRow row = **w;
    row.attempts += 1;
    row.updated_at = wall_ms();
    if (status == CASEHUB_OK) {
        row.state = "done";
        row.last_error.clear();
        ++a.writebacks_done;
        spdlog::info("write-back {} of case {} applied by {}", row.id, row.case_id, a.cfg.id);
    } else {
        row.state = "failed";
        row.last_error = message.empty() ? h.value("status_name", std::string("error")) : message;
        ++a.writebacks_failed;
        spdlog::error("write-back {} of case {} refused by {}: {}", row.id, row.case_id, a.cfg.id, row.last_error);
    }
    if (auto r = store_->update_writeback(row); !r) spdlog::error("write-back {}: {}", row.id, r.error().message);
}

}  // namespace casehub::host
