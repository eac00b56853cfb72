// The API's endpoint families. Each registers its routes on the Api; HttpServer::start calls
// them in order. A new family (whistles, reports, ...) is one more function here, in its own
// routes_<family>.cpp, and one line in HttpServer::start.
#pragma once

#include "http/api.hpp"

namespace casehub::host::http {

// GET /api/v1/cases, GET /api/v1/cases/{id}, POST /api/v1/cases/{id}/actions|merge|split
void add_case_routes(Api& api);
// GET /api/v1/events (Server-Sent Events)
void add_event_routes(Api& api);
// GET /healthz, GET /metrics
void add_ops_routes(Api& api);
// POST /api/v1/cases/{id}/whistles, GET /api/v1/whistles[/{id}],
// POST /api/v1/whistles/{id}/sign|contact|report|rate|resolve|rewhistle, GET /api/v1/reports/{period}
void add_whistle_routes(Api& api);

// A case as the API shows it: the case header fields of the feed protocol, the names of its
// street, community and grid, and the casehub.case/1 document under "case".
nlohmann::json case_json(const CaseState& c, const Reference& ref);

}  // namespace casehub::host::http
