// Operator overrides of correlation: merge two cases, split a record out of a case.
//
// Each is one transaction through the pipeline (which writes the audited events and the
// split pairs the correlator respects afterwards), then published on the feed. Records the
// runners sent before the request are committed first, so the override applies to the cases
// as the operator saw them.
#include "daemon/hub.hpp"

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
    const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch()).count();
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
    if (auto r = store_->commit(); !r) return err("internal", r.error().message);
    publish(events);
    nlohmann::json seqs = nlohmann::json::array();
    for (const auto& e : events) seqs.push_back({{"case_id", e.case_id}, {"seq", e.seq}, {"type", e.type}});
    if (cmd == "case_merge")
        spdlog::info("case {} merged into {} by {}", other, case_id, by);
    else
        spdlog::info("record {}:{} split out of case {} into {} by {}", system, record_id, case_id, out->case_id, by);
    return {{"case_id", out->case_id}, {"events", seqs}};
}

}  // namespace casehub::host
