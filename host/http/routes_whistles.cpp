// Whistles (街道吹哨、部门报到) and the district's reports (docs/api.md, docs/command-center.md).
// Every route is the control command `casehub whistle ...` / `casehub report ...` sends: the hub
// validates, applies and answers; this layer checks the request's shape and maps the answer.
#include "http/routes.hpp"

#include <string>
#include <vector>

namespace casehub::host::http {

using nlohmann::json;

namespace {

// The body fields each step takes (the hub checks their values).
struct Step {
    const char* path;
    const char* cmd;
    std::vector<std::string> fields;
};
const Step kSteps[] = {
    {"sign", "whistle_sign", {"unit", "by"}},
    {"contact", "whistle_contact", {"unit", "note"}},
    {"report", "whistle_report", {"unit", "reporters"}},
    {"rate", "whistle_rate", {"unit", "rating", "by"}},
    {"resolve", "whistle_resolve", {"resolved", "note", "by"}},
    {"rewhistle", "whistle_rewhistle", {"tier", "kind", "units", "note", "by"}},
};

json forward(Api& api, json cmd, const json& body, const std::vector<std::string>& fields) {
    for (const auto& f : fields)
        if (body.contains(f)) cmd[f] = body[f];
    return hub_reply_or_throw(api.control.request(cmd), api.control);
}

// 201 with the new whistle's Location: `whistle_id` of an open, `next_id` of a re-whistle.
void created(httplib::Response& res, const json& reply, const char* id_key) {
    const std::string id = reply.value(id_key, std::string());
    if (!id.empty()) res.set_header("Location", "/api/v1/whistles/" + id);
    send_json(res, 201, reply);
}

}  // namespace

void add_whistle_routes(Api& api) {
    api.add("POST", "/api/v1/cases/{id}/whistles", [&api](const auto& req, auto& res, const auto& p) {
        const std::vector<std::string> fields = {"street_code", "grid_code", "tier", "kind", "units", "note", "by"};
        const json body = json_body(req, fields);
        check_params(req, {});
        created(res, forward(api, {{"cmd", "whistle_open"}, {"case_id", p.at("id")}}, body, fields), "whistle_id");
    });
    api.add("GET", "/api/v1/whistles", [&api](const auto& req, auto& res, const auto&) {
        check_params(req, {"case_id", "street", "month", "limit"});
        json cmd = {{"cmd", "whistles"}};
        for (const char* k : {"case_id", "street", "month"})
            if (req.has_param(k)) cmd[k] = req.get_param_value(k);
        if (req.has_param("limit")) {
            const std::string l = req.get_param_value("limit");
            int n = 0;
            if (l.empty() || l.size() > 6 || l.find_first_not_of("0123456789") != std::string::npos || (n = std::stoi(l)) < 1)
                fail("invalid_argument", "limit must be a whole number from 1, got \"" + l + "\"", "limit");
            cmd["limit"] = n;
        }
        send_json(res, 200, hub_reply_or_throw(api.control.request(cmd), api.control));
    });
    api.add("GET", "/api/v1/whistles/{id}", [&api](const auto& req, auto& res, const auto& p) {
        check_params(req, {});
        json reply = hub_reply_or_throw(api.control.request({{"cmd", "whistles"}, {"whistle_id", p.at("id")}}), api.control);
        const json& list = reply["whistles"];
        if (!list.is_array() || list.empty()) fail("not_found", "no whistle " + p.at("id"), "id");
        send_json(res, 200, list[0]);
    });
    for (const Step& s : kSteps) {
        api.add("POST", std::string("/api/v1/whistles/{id}/") + s.path, [&api, &s](const auto& req, auto& res, const auto& p) {
            const json body = json_body(req, s.fields);
            check_params(req, {});
            json reply = forward(api, {{"cmd", s.cmd}, {"whistle_id", p.at("id")}}, body, s.fields);
            if (std::string(s.path) == "rewhistle") return created(res, reply, "next_id");
            send_json(res, 200, reply);
        });
    }
    // GET /api/v1/reports/2019-03?format=json|csv|html, /api/v1/reports/2019 (annual)
    api.add("GET", "/api/v1/reports/{period}", [&api](const auto& req, auto& res, const auto& p) {
        check_params(req, {"format"});
        const std::string format = req.has_param("format") ? req.get_param_value("format") : "json";
        json reply = hub_reply_or_throw(
            api.control.request({{"cmd", "report"}, {"period", p.at("period")}, {"format", format}}), api.control);
        if (format == "json") return send_json(res, 200, reply.contains("report") ? reply["report"] : reply);
        res.status = 200;
        res.set_content(reply.value("content", std::string()),
                        format == "csv" ? "text/csv; charset=utf-8" : "text/html; charset=utf-8");
    });
}

}  // namespace casehub::host::http
