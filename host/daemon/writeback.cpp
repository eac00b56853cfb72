// Write-back: command-centre actions routed to the source systems that own a case's records.
//
// An action on a case is, in ONE transaction: the case's new status (case model §4.2 rule 7),
// an `action` event on the case (so the feed shows it), and one `writebacks` row per source
// record whose adapter can write back. Rows are then delivered to the adapters' runners one at a
// time per adapter, in id order (an accept must reach a system before the resolve that follows
// it), each with an idempotency key that stays the same across retries. Transient failures
// (CASEHUB_ERR_UNAVAILABLE, a runner that dies or does not answer) are retried with exponential
// backoff; CASEHUB_ERR_UNSUPPORTED (the source's document cannot express the action) ends the row
// as `unsupported`; anything else is final as `failed`; all shown on the case (`casehub cases show`).
#include "daemon/hub.hpp"

#include "pipeline/status_rules.hpp"

#include <casehub/plugin_abi.h>
#include <casehub/sdk/rfc3339.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

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
// case-model status each one means (§4.2 rule 7). `merge` and `split` are routed the same way by
// case_override (daemon/overrides.cpp), which queues through queue_writebacks below.
struct ActionKind {
    const char* name;
    const char* status;
};
constexpr ActionKind kActions[] = {{"accept", "accepted"},    {"dispatch", "dispatched"}, {"start", "in_progress"},
                                   {"resolve", "resolved"},   {"verify", "verified"},     {"close", "closed"},
                                   {"reopen", "in_progress"}, {"return", "rejected"}};
constexpr const char* kActionNames = "accept, dispatch, start, resolve, verify, close, reopen or return";

// The units an action may name (case model §3.1, responsible[].dept_code): the 54 units of
// departments.json (D01–D54), the street offices (9-digit street code) and the communities
// (12-digit code) of divisions.json. Read once per reference folder.
struct Units {
    std::map<std::string, std::string, std::less<>> name_of;  // code -> name as a unit
    std::string error;                                        // why the reference is unusable
};

const Units& units_in(const std::filesystem::path& dir) {
    static std::map<std::string, Units> cache;
    if (auto it = cache.find(dir.string()); it != cache.end()) return it->second;
    Units u;
    auto read = [&](const char* file, const char* array) -> nlohmann::json {
        std::ifstream in(dir / file);
        nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
        if (j.is_object() && j.contains(array) && j[array].is_array()) return j[array];
        if (u.error.empty()) u.error = (dir / file).string() + ": no \"" + array + "\" array";
        return nlohmann::json::array();
    };
    auto add = [&](const nlohmann::json& list, const char* suffix) {
        for (const auto& x : list)
            if (x.is_object() && x.contains("code") && x["code"].is_string() && x.contains("name") && x["name"].is_string())
                u.name_of[x["code"].get<std::string>()] = x["name"].get<std::string>() + suffix;
    };
    add(read("departments.json", "departments"), "");
    add(read("divisions.json", "streets"), "办事处");  // 夫子庙街道 → 夫子庙街道办事处
    add(read("divisions.json", "communities"), "");   // 中牌楼社区居委会
    return cache.emplace(dir.string(), std::move(u)).first->second;
}

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

std::string str_of(const nlohmann::json& j, const char* k) {
    return j.is_object() && j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
}

}  // namespace

// One write-back row per source record, addressed to the adapter that emitted it, each with its
// own key; records whose adapter cannot write back are listed in `not_written_back` with the
// reason. Runs inside the caller's store transaction (the rows commit with the action's event).
// Delivery runs on the wall clock (retries, timeouts), whatever the hub's clock says: the
// action's own time is in `base`.
Result<void> Hub::queue_writebacks(const std::string& case_id, const std::vector<CaseSource>& sources,
                                   const nlohmann::json& base, nlohmann::json& queued, nlohmann::json& not_written_back) {
    const std::int64_t now = wall_ms();
    for (const auto& src : sources) {
        Adapter* owner = nullptr;
        for (const auto& ap : adapters_)
            if (ap->cfg.id == src.adapter) owner = ap.get();
        if (owner == nullptr || !writes_back(*owner)) {
            not_written_back.push_back(
                {{"system", src.system}, {"record_id", src.record_id}, {"adapter", src.adapter},
                 {"reason", owner ? "adapter " + src.adapter + " has no write-back (its system's document offers none)"
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
        if (!id) return id.error();
        w.id = *id;
        nlohmann::json a = base;
        a["writeback_id"] = w.id;
        a["key"] = case_id + ":" + std::to_string(w.id);
        a["record"] = nlohmann::json::parse(src.doc, nullptr, false);
        w.action = a.dump();
        if (auto r = store_->update_writeback(w); !r) return r.error();
        queued.push_back({{"id", w.id}, {"adapter", w.adapter}, {"system", w.system}, {"record_id", w.record_id}});
        owner->wb_check_at = 0;
    }
    return {};
}

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
        return err("invalid_argument", "unknown action \"" + action + "\" (" + kActionNames + ")", "action");
    for (const char* f : {"note", "handler"})
        if (req.contains(f) && !req[f].is_string()) return err("invalid_argument", std::string(f) + " must be a string", f);
    if (req.contains("unit") && !req["unit"].is_object()) return err("invalid_argument", "unit must be an object {code, name}", "unit");
    nlohmann::json unit = nlohmann::json::object();
    if (req.contains("unit")) {
        for (const auto& [k, v] : req["unit"].items()) {
            if (k != "code" && k != "name") return err("invalid_argument", "unknown field \"" + k + "\" in unit (code, name)", "unit");
            if (!v.is_string()) return err("invalid_argument", "unit." + k + " must be a string", "unit");
        }
        unit = req["unit"];
    }
    const std::string note = req.value("note", ""), handler = req.value("handler", "");
    // The unit: dispatch needs one; any unit named must be one the case model knows.
    const std::string unit_code = str_of(unit, "code");
    if (action == "dispatch" && unit_code.empty())
        return err("invalid_argument",
                   "dispatch needs the unit dispatched to: unit.code, one of D01–D54 (departments.json), a street "
                   "office (9-digit street code) or a community (12-digit code)",
                   "unit");
    if (!unit_code.empty()) {
        const Units& units = units_in(cfg_.hub.reference_dir);
        if (!units.error.empty() && units.name_of.empty()) return err("internal", "unit directory: " + units.error);
        auto it = units.name_of.find(unit_code);
        if (it == units.name_of.end())
            return err("invalid_argument",
                       "unknown unit \"" + unit_code +
                           "\": not one of the 54 units of departments.json (D01–D54), a street office (320104001–"
                           "320104012) or a community of divisions.json",
                       "unit");
        if (str_of(unit, "name").empty()) unit["name"] = it->second;
    } else if (unit.contains("code")) {
        unit.erase("code");
    }
    if (unit.contains("name") && str_of(unit, "name").empty()) unit.erase("name");
    if (action == "reopen" && note.find_first_not_of(" \t\r\n") == std::string::npos)
        return err("invalid_argument", "reopen needs a note: why the case is handled again (it reaches the sources)", "note");

    commit_pending();  // the action applies to the case as the records so far made it
    auto found = store_->find_case(case_id);
    if (!found) return err("internal", found.error().message);
    if (!*found) return err("not_found", "no case " + case_id, "case_id");
    CaseRow row = std::move(**found);
    if (row.merged_into) return err("conflict", "case " + case_id + " was merged into " + *row.merged_into, "case_id");
    auto sources = store_->sources_of_case(case_id);
    if (!sources) return err("internal", sources.error().message);

    const std::int64_t now = clock_.now_ms();  // the hub clock: simulated in a replayed year
    const std::string at = sdk::format_rfc3339_beijing(now);
    nlohmann::json doc = nlohmann::json::parse(row.doc, nullptr, false);
    if (!doc.is_object()) return err("internal", "case " + case_id + " has an unreadable document");

    // Rule 7. A case withdrawn by its sources (rejected, cancelled) and a closed case take no
    // step forward; close, reopen and verify have their own preconditions. `return` only tells
    // the sources (their own next record decides what happens to the case).
    const std::string before = row.status;
    const Status cur = parse_status(row.status).value_or(Status::new_);
    const std::string is = "case " + case_id + " is " + row.status;
    const bool resolved_or_later = cur == Status::resolved || cur == Status::verified || cur == Status::closed;
    if (action == "reopen") {
        if (!resolved_or_later)
            return err("conflict", is + ": only a resolved, verified or closed case can be reopened", "action");
    } else if (action != "return") {
        if (!is_active(cur))
            return err("conflict", is + " (withdrawn by its sources): nothing to " + action, "action");
        if (cur == Status::closed)
            return err("conflict", is + (action == "close" ? " already" : ": reopen it first"), "action");
        if (action == "verify" && rank(cur) < rank(Status::resolved))
            return err("conflict", is + ": only a resolved case can be verified (resolve it first)", "action");
    }
    int reopen_count = doc.value("reopen_count", 0);
    if (!doc.contains("times") || !doc["times"].is_object()) doc["times"] = nlohmann::json::object();
    nlohmann::json& times = doc["times"];
    if (action == "close") {
        row.status = "closed";
        doc["closed_by"] = "street";
        times["closed_at"] = at;
        if (!times.contains("resolved_at") || !times["resolved_at"].is_string()) times["resolved_at"] = at;
    } else if (action == "reopen") {
        row.status = "in_progress";
        doc["closed_by"] = nullptr;
        doc["reopen_count"] = ++reopen_count;
        times["resolved_at"] = nullptr;
        times["closed_at"] = nullptr;
    } else if (action != "return") {
        const Status x = *parse_status(kind->status);
        if (rank(x) > rank(cur)) row.status = kind->status;
        if (x == Status::resolved && !times.value("resolved_at", nlohmann::json()).is_string()) times["resolved_at"] = at;
        if (x == Status::verified && !times.value("resolved_at", nlohmann::json()).is_string()) times["resolved_at"] = at;
    }
    if (action == "dispatch") {
        // The unit joins the case's responsible units (system `hub`); the pipeline keeps hub
        // entries when records change the case.
        if (!doc.contains("responsible") || !doc["responsible"].is_array()) doc["responsible"] = nlohmann::json::array();
        bool known = false, has_lead = false;
        for (auto& u : doc["responsible"]) {
            if (str_of(u, "role") == "lead") has_lead = true;
            if (str_of(u, "dept_code") == unit_code) known = true;
        }
        if (!known)
            doc["responsible"].push_back({{"dept_code", unit_code}, {"name", unit["name"]},
                                          {"role", has_lead ? "assist" : "lead"}, {"system", "hub"}});
        if (!times.contains("dispatched_at") || !times["dispatched_at"].is_string()) times["dispatched_at"] = at;
    }
    if (action == "close") row.ended_at = now;  // the 72-hour rule (§3.2) counts from here
    if (action == "reopen") row.ended_at = 0;
    row.updated_at = now;
    doc["status"] = row.status;
    doc["updated_at"] = at;
    times["updated_at"] = at;

    nlohmann::json base = {{"v", 1},       {"case_id", case_id}, {"action", action},   {"status", kind->status},
                           {"note", note}, {"unit", unit},       {"handler", handler}, {"at", at}};
    if (action == "reopen") base["reopen_count"] = reopen_count;
    nlohmann::json queued = nlohmann::json::array(), skipped = nlohmann::json::array();
    if (auto r = store_->begin(); !r) return err("internal", r.error().message);
    auto fail = [&](const std::string& m) {
        store_->rollback();
        return err("internal", m);
    };
    if (auto r = queue_writebacks(case_id, *sources, base, queued, skipped); !r) return fail(r.error().message);
    nlohmann::json detail = {{"action", action}, {"note", note}, {"unit", unit}, {"handler", handler}, {"writebacks", queued}};
    if (before != row.status) detail["status"] = {{"from", before}, {"to", row.status}};
    if (action == "close") detail["closed_by"] = "street";
    if (action == "reopen") detail["reopen_count"] = reopen_count;
    if (!skipped.empty()) detail["not_written_back"] = skipped;
    doc["seq"] = store_->head_seq() + 1;  // the event below
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
    } else if (status == CASEHUB_ERR_UNSUPPORTED) {
        // The source's document has no way to say this action: nothing was sent, nothing is
        // wrong. Final, shown on the case with the adapter's reason; not counted as a failure.
        row.state = "unsupported";
        row.last_error = message.empty() ? "the source system's document cannot express this action" : message;
        spdlog::info("write-back {} of case {} not written back by {}: {}", row.id, row.case_id, a.cfg.id, row.last_error);
    } else {
        row.state = "failed";
        row.last_error = message.empty() ? h.value("status_name", std::string("error")) : message;
        ++a.writebacks_failed;
        spdlog::error("write-back {} of case {} refused by {}: {}", row.id, row.case_id, a.cfg.id, row.last_error);
    }
    if (auto r = store_->update_writeback(row); !r) spdlog::error("write-back {}: {}", row.id, r.error().message);
}

}  // namespace casehub::host
