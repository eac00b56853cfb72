// Cases: query, one case with its sources, history and write-backs, and the operator's actions
// (docs/api.md). Reads use the HTTP layer's read-only store connections; actions go to the hub
// as control commands, exactly as `casehub cases action|merge|split` sends them.
#include "http/routes.hpp"

namespace casehub::host::http {

using nlohmann::json;

namespace {

constexpr int kDefaultLimit = 50, kMaxLimit = 500;
constexpr std::size_t kMaxHistory = 10000;

json parse_doc(const std::string& doc) {
    json j = json::parse(doc, nullptr, false);
    return j.is_discarded() ? json(doc) : j;
}

// A code filter: "-" selects "no known value" (the empty code).
std::optional<std::string> code_param(const httplib::Request& req, const std::string& name,
                                      const std::function<void(const std::string&)>& validate) {
    auto v = param(req, name);
    if (!v) return v;
    if (*v == "-") return std::string();
    if (v->empty()) fail("invalid_argument", name + " is empty (use - for cases without a " + name + ")", name);
    validate(*v);
    return v;
}

std::string encode_cursor(const CaseState& c) { return std::to_string(c.updated_at) + "_" + c.case_id; }

std::pair<std::int64_t, std::string> decode_cursor(const std::string& v) {
    const auto us = v.find('_');
    if (us == std::string::npos || us == 0 || us + 1 == v.size())
        fail("invalid_argument", "cursor \"" + v + "\" is not a cursor this API returned", "cursor");
    const std::string ms = v.substr(0, us);
    if (!std::all_of(ms.begin(), ms.end(), [](char c) { return c >= '0' && c <= '9'; }) || ms.size() > 18)
        fail("invalid_argument", "cursor \"" + v + "\" is not a cursor this API returned", "cursor");
    return {std::stoll(ms), v.substr(us + 1)};
}

void list_cases(Api& api, const httplib::Request& req, httplib::Response& res) {
    check_params(req, {"street", "community", "grid", "status", "category", "family", "from", "to", "time",
                       "include_merged", "limit", "cursor"});
    const Reference& ref = api.reference;
    CaseQuery q;
    q.street = code_param(req, "street", [&](const std::string& v) {
        if (!ref.street(v))
            fail("invalid_argument", "unknown street code \"" + v + "\": not one of the district's " +
                                         std::to_string(ref.street_count()) + " streets (divisions.json)", "street");
    });
    q.community = code_param(req, "community", [&](const std::string& v) {
        if (!ref.community(v))
            fail("invalid_argument", "unknown community code \"" + v + "\" (divisions.json)", "community");
    });
    q.grid = code_param(req, "grid", [&](const std::string& v) {
        if (ref.special_grid(v))
            fail("invalid_argument", "\"" + v + "\" is a specialised grid; cases are filed under their comprehensive grid (14 digits)", "grid");
        if (!ref.grid(v))
            fail("invalid_argument", "unknown grid code \"" + v + "\": not one of the district's " +
                                         std::to_string(ref.grid_count()) + " comprehensive grids (grid-map.geojson)", "grid");
    });
    if (auto v = param(req, "status")) {
        if (!Reference::status(*v))
            fail("invalid_argument", "unknown status \"" + *v + "\" (new, registered, dispatched, accepted, in_progress, "
                                     "resolved, verified, closed, rejected, cancelled)", "status");
        q.status = *v;
    }
    if (auto v = param(req, "category")) {
        if (!ref.category(*v)) fail("invalid_argument", "unknown category code \"" + *v + "\" (categories.json)", "category");
        q.category = *v;
    }
    if (auto v = param(req, "family")) {
        if (!ref.family(*v)) fail("invalid_argument", "unknown category family \"" + *v + "\" (categories.json)", "family");
        q.family = *v;
    }
    if (auto v = param(req, "time")) {
        if (*v != "updated" && *v != "created")
            fail("invalid_argument", "time must be updated or created, got \"" + *v + "\"", "time");
        q.by_created = *v == "created";
    }
    if (auto v = param(req, "from")) q.from = parse_time(*v, "from");
    if (auto v = param(req, "to")) q.to = parse_time(*v, "to");
    if (q.from && q.to && *q.from >= *q.to) fail("invalid_argument", "from must be before to", "from");
    if (auto v = param(req, "include_merged")) {
        if (*v != "true" && *v != "false")
            fail("invalid_argument", "include_merged must be true or false, got \"" + *v + "\"", "include_merged");
        q.include_merged = *v == "true";
    }
    q.limit = kDefaultLimit;
    if (auto v = param(req, "limit")) {
        const auto n = parse_u64(*v, "limit");
        if (n < 1 || n > static_cast<std::uint64_t>(kMaxLimit))
            fail("invalid_argument", "limit must be 1 to " + std::to_string(kMaxLimit) + ", got " + *v, "limit");
        q.limit = static_cast<int>(n);
    }
    if (auto v = param(req, "cursor")) q.after = decode_cursor(*v);

    auto reader = lease_or_throw(api.readers);
    auto rows = reader->cases(q);
    if (!rows) {
        reader.discard();
        fail("unavailable", "the store cannot be read: " + rows.error().message);
    }
    const bool more = rows->size() > static_cast<std::size_t>(q.limit);
    if (more) rows->pop_back();
    json list = json::array();
    for (const auto& c : *rows) list.push_back(case_json(c, ref));
    send_json(res, 200, {{"cases", std::move(list)},
                         {"count", rows->size()},
                         {"next_cursor", more ? json(encode_cursor(rows->back())) : json(nullptr)}});
}

void get_case(Api& api, const std::string& id, httplib::Response& res) {
    auto reader = lease_or_throw(api.readers);
    auto d = reader->case_detail(id, kMaxHistory);
    if (!d) {
        reader.discard();
        fail("unavailable", "the store cannot be read: " + d.error().message);
    }
    if (!*d) fail("not_found", "no case " + id, "id");
    const CaseDetail& c = **d;
    json out = case_json(c.state, api.reference);
    json sources = json::array();
    for (const auto& s : c.sources)
        sources.push_back({{"system", s.system}, {"record_id", s.record_id}, {"adapter", s.adapter},
                           {"version", s.version}, {"status", s.status}, {"status_native", s.status_native},
                           {"received_at", s.received_at}, {"record", parse_doc(s.doc)}});
    json history = json::array();
    for (const auto& e : c.history) history.push_back(event_header(e));
    json writebacks = json::array();
    for (const auto& w : c.writebacks)
        writebacks.push_back({{"id", w.id}, {"adapter", w.adapter}, {"system", w.system}, {"record_id", w.record_id},
                              {"state", w.state}, {"attempts", w.attempts}, {"last_error", w.last_error},
                              {"next_at", w.next_at}, {"created_at", w.created_at}, {"updated_at", w.updated_at},
                              {"action", parse_doc(w.action)}});
    out["sources"] = std::move(sources);
    out["history"] = std::move(history);
    out["history_truncated"] = c.history.size() >= kMaxHistory;
    out["writebacks"] = std::move(writebacks);
    send_json(res, 200, out);
}

void optional_string(const json& body, const char* key) {
    if (body.contains(key) && !body[key].is_string())
        fail("invalid_argument", std::string(key) + " must be a string", key);
}

void post_action(Api& api, const std::string& id, const httplib::Request& req, httplib::Response& res) {
    const json body = json_body(req, {"action", "note", "unit", "handler"});
    check_params(req, {});
    if (!body.contains("action")) fail("invalid_argument", "action is required (accept, dispatch, start, resolve, verify, close, reopen or return)", "action");
    for (const char* k : {"action", "note", "handler"}) optional_string(body, k);
    json cmd = {{"cmd", "case_action"}, {"case_id", id}, {"action", body["action"]}};
    for (const char* k : {"note", "handler"})
        if (body.contains(k)) cmd[k] = body[k];
    if (body.contains("unit")) {
        const json& u = body["unit"];
        if (!u.is_object()) fail("invalid_argument", "unit must be an object {code, name}", "unit");
        for (const auto& [k, v] : u.items()) {
            if (k != "code" && k != "name") fail("invalid_argument", "unknown field \"" + k + "\" in unit (code, name)", "unit." + k);
            if (!v.is_string()) fail("invalid_argument", "unit." + k + " must be a string", "unit." + k);
        }
        cmd["unit"] = u;
    }
    send_json(res, 200, hub_reply_or_throw(api.control.request(cmd), api.control));
}

void post_override(Api& api, const std::string& id, const std::string& cmd_name, const httplib::Request& req,
                   httplib::Response& res) {
    const bool merge = cmd_name == "case_merge";
    const char* what = merge ? "other" : "record";
    const json body = json_body(req, {what, "by", "note"});  // first: a form body's fields land in params
    check_params(req, {});
    for (const char* k : {what, "by", "note"}) optional_string(body, k);
    json cmd = {{"cmd", cmd_name}, {"case_id", id}};
    for (const char* k : {what, "by", "note"})
        if (body.contains(k)) cmd[k] = body[k];
    json reply = hub_reply_or_throw(api.control.request(cmd), api.control);
    if (merge) return send_json(res, 200, reply);
    // A split opens a new case: 201, Location names it.
    res.set_header("Location", "/api/v1/cases/" + reply.value("case_id", std::string()));
    send_json(res, 201, reply);
}

}  // namespace

json case_json(const CaseState& c, const Reference& ref) {
    return {{"case_id", c.case_id},
            {"seq", c.seq},
            {"status", c.status},
            {"street_code", c.street_code},
            {"street_name", ref.name_of(c.street_code)},
            {"community_code", c.community_code},
            {"community_name", ref.name_of(c.community_code)},
            {"grid_code", c.grid_code},
            {"grid_name", ref.name_of(c.grid_code)},
            {"category_code", c.category_code},
            {"category_family", c.category_family},
            {"priority", c.priority},
            {"created_at", c.created_at},
            {"updated_at", c.updated_at},
            {"merged_into", c.merged_into ? json(*c.merged_into) : json(nullptr)},
            {"case", parse_doc(c.doc)}};
}

void add_case_routes(Api& api) {
    api.add("GET", "/api/v1/cases", [&api](const auto& req, auto& res, const auto&) { list_cases(api, req, res); });
    api.add("GET", "/api/v1/cases/{id}", [&api](const auto& req, auto& res, const auto& p) {
        check_params(req, {});
        get_case(api, p.at("id"), res);
    });
    api.add("POST", "/api/v1/cases/{id}/actions",
            [&api](const auto& req, auto& res, const auto& p) { post_action(api, p.at("id"), req, res); });
    api.add("POST", "/api/v1/cases/{id}/merge",
            [&api](const auto& req, auto& res, const auto& p) { post_override(api, p.at("id"), "case_merge", req, res); });
    api.add("POST", "/api/v1/cases/{id}/split",
            [&api](const auto& req, auto& res, const auto& p) { post_override(api, p.at("id"), "case_split", req, res); });
}

}  // namespace casehub::host::http
