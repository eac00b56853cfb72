// Operator overrides of correlation: merge two cases, split a record out of a case.
//
// Each is one transaction through the pipeline (which writes the audited events and the
// split pairs the correlator respects afterwards), then published on the feed. Records the
// runners sent before the request are committed first, so the override applies to the cases
// as the operator saw them. The records concerned are then routed as write-back to their
// source systems (queue_writebacks, daemon/writeback.cpp), in the same transaction.
#include "daemon/hub.hpp"

#include <casehub/sdk/rfc3339.hpp>
#include <spdlog/spdlog.h>

#include <chrono>

namespace casehub::host {

nlohmann::json Hub::case_override(const nlohmann::json& req) {
    auto err = [](std::string code, std::string message, std::string field = "") {
        return nlohmann::json{{"error", message}, {"code", code}, {"field", field}};
    };
    const std::string cmd = req.value("cmd", "");
    for (const char* f : {"case_id", "other", "record", "by", "note"})
        if (req.contains(f) && !req[f].is_string()) return err("invalid_argument", std::string(f) + " must be a string", f);
    const std::string case_id = req.value("case_id", ""), by = req.value("by", ""), note = req.value("note", "");
    if (case_id.empty()) return err("invalid_argument", "case_id is required", "case_id");
    if (by.empty()) return err("invalid_argument", "by (who decides) is required: overrides are audited", "by");
    std::string other, system, record_id;
    if (cmd == "case_merge") {
        other = req.value("other", "");
        if (other.empty()) return err("invalid_argument", "other (the case to merge in) is required", "other");
    } else {
        const std::string record = req.value("record", "");
        const auto colon = record.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == record.size())
            return err("invalid_argument", "record must be system:record_id, got \"" + record + "\"", "record");
        system = record.substr(0, colon);
        record_id = record.substr(colon + 1);
    }

    commit_pending();
    const std::int64_t now = clock_.now_ms();  // the hub clock: simulated in a replayed year
    // The records whose systems hear about it, read before the records move: a merge concerns
    // the absorbed case's records (now duplicates of the surviving case), a split the record
    // moved out. The others of the case are named in the action.
    const std::string from = cmd == "case_merge" ? other : case_id;
    auto before = store_->sources_of_case(from);
    if (!before) return err("internal", before.error().message);
    std::vector<CaseSource> told;
    nlohmann::json others = nlohmann::json::array();
    if (cmd == "case_merge") {
        told = *before;
        auto kept = store_->sources_of_case(case_id);
        if (!kept) return err("internal", kept.error().message);
        for (const auto& s : *kept) others.push_back({{"system", s.system}, {"record_id", s.record_id}});
    } else {
        for (const auto& s : *before) {
            if (s.system == system && s.record_id == record_id) told.push_back(s);
            else others.push_back({{"system", s.system}, {"record_id", s.record_id}});
        }
    }

    std::vector<EventRow> events;
    if (auto r = store_->begin(); !r) return err("internal", r.error().message);
    auto out = cmd == "case_merge" ? pipeline_->merge(*store_, case_id, other, by, note, now, events)
                                   : pipeline_->split(*store_, case_id, system, record_id, by, note, now, events);
    if (!out) {
        store_->rollback();
        return err("internal", out.error().message);
    }
    if (out->refused) {
        store_->rollback();
        return err(out->refused->code, out->refused->message, out->refused->field);
    }
    // Routed as write-back (docs/write-back.md), in the same transaction: each adapter says in
    // its system's terms, or refuses as unsupported when its document has no way to say it.
    auto survivor = store_->find_case(out->case_id);
    std::string status = survivor && *survivor ? (*survivor)->status : std::string();
    nlohmann::json action = {{"v", 1},
                             {"case_id", out->case_id},
                             {"action", cmd == "case_merge" ? "merge" : "split"},
                             {"status", status},
                             {"note", note},
                             {"unit", nlohmann::json::object()},
                             {"handler", by},
                             {"at", sdk::format_rfc3339_beijing(now)}};
    if (cmd == "case_merge") {
        action["merged_from"] = other;  // the case the record was in
        action["duplicate_of"] = others;  // the records of the case it now belongs to
    } else {
        action["split_from"] = case_id;
        action["kept_apart_from"] = others;
    }
    nlohmann::json queued = nlohmann::json::array(), not_written_back = nlohmann::json::array();
    if (auto r = queue_writebacks(out->case_id, told, action, queued, not_written_back); !r) {
        store_->rollback();
        return err("internal", r.error().message);
    }
    if (auto r = store_->commit(); !r) return err("internal", r.error().message);
    publish(events);
    nlohmann::json seqs = nlohmann::json::array();
    for (const auto& e : events) seqs.push_back({{"case_id", e.case_id}, {"seq", e.seq}, {"type", e.type}});
    if (cmd == "case_merge")
        spdlog::info("case {} merged into {} by {}, {} write-back(s) queued", other, case_id, by, queued.size());
    else
        spdlog::info("record {}:{} split out of case {} into {} by {}, {} write-back(s) queued", system, record_id,
                     case_id, out->case_id, by, queued.size());
    return {{"case_id", out->case_id}, {"events", seqs}, {"writebacks", queued}, {"not_written_back", not_written_back}};
}

}  // namespace casehub::host
