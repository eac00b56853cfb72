// Rows as the pipeline would hand them to Store, for store tests that write the store directly:
// a case row and a created event, with plausible codes for the street given.
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <string>

namespace casehub::test {

// Case `case_id` in `street`, created and updated at 2026-03-09 08:43:20 +08:00.
inline host::CaseRow case_row(std::string case_id, std::string status, std::string street = "320104002") {
    host::CaseRow c;
    c.case_id = std::move(case_id);
    c.status = std::move(status);
    c.street_code = std::move(street);
    c.community_code = c.street_code + "001";
    c.grid_code = c.community_code + "01";
    c.category_code = "municipal.manhole";
    c.category_family = "municipal";
    c.priority = "normal";
    c.created_at = 1773017000000;
    c.updated_at = 1773017000000;
    return c;
}

// The created event of case C20260309-<100000 + n> in `street`, at n ms past that time.
inline host::EventRow event_in(const std::string& street, int n) {
    host::EventRow e;
    e.case_id = "C20260309-" + std::to_string(100000 + n);
    e.type = "created";
    e.street_code = street;
    e.status = "new";
    e.at = 1773017000000 + n;
    e.detail = "{}";
    e.detail_canonical = true;
    e.doc = R"({"case_id":")" + e.case_id + R"("})";
    return e;
}

}  // namespace casehub::test
