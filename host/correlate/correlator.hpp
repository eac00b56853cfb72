// Correlation: does an arriving record report an incident the hub already has a case for?
//
// Candidates come from the store's spatial-temporal index (an SQLite R*Tree over every
// correlated record's position, widened by its precision, and report time), never from a scan.
// Each candidate record is compared with the new one on five kinds of evidence — distance
// against the two precisions, time between the reports, category compatibility, description
// text and address text — into one weighted score; the best case at or above the threshold is
// joined. An explicit link (`links[]` naming a record, or a record naming this one) joins without
// a score. Case-model §3.2 vetoes apply first: incompatible categories, a case closed, rejected
// or cancelled more than 72 hours before this report (then the new case links it `related`),
// and pairs an operator split apart.
//
// Everything a decision rests on is returned, so the pipeline can write it on the case.
// Pure with respect to the hub: all state is in the store, inside the caller's transaction.
#pragma once

#include "common/json_dump.hpp"
#include "common/result.hpp"
#include "correlate/place.hpp"
#include "correlate/settings.hpp"
#include "correlate/text.hpp"
#include "pipeline/categories.hpp"
#include "store/store.hpp"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace casehub::host::correlate {

Settings default_settings();

// What the correlator keeps of one record (its first version).
struct Profile {
    std::string system, record_id;
    bool located = false;
    double lon = 0, lat = 0;
    int precision_m = 0;
    double offset_m = 0;  // the system's report offset (Settings::report_offset_m)
    // How far the incident may be from this location: precision and report offset together.
    double spread_m() const { return std::sqrt(double(precision_m) * precision_m + offset_m * offset_m); }
    std::int64_t reported_ms = 0;
    bool date_only = false;  // reported_at is 00:00:00.000 local: only the day is known
    std::string category, family;
    Signature text, address;
    Place place;
};

// `location`: the record's located `location` object (Locator / simple_location).
Profile make_profile(const nlohmann::json& record, const nlohmann::json& location, const Category& cat,
                     const Settings& s);

// The index row of a record in `case_id` (its R*Tree box: position ± 3 precisions, capped at
// max_distance_m, and the report minute).
CorrRecordRow index_row(const Profile& p, const std::string& case_id, const Settings& s);

// The evidence between two records.
// The evidence between two records; the l_* are its log-likelihood ratios, score their sum
// with the prior (log-odds that the two are one incident).
struct Evidence {
    double distance_m = -1, sigma_m = 0, l_distance = 0;  // distance_m < 0: one is unlocated
    double minutes = 0, l_time = 0;
    std::string category;  // same | family | compatible | unknown | incompatible
    double l_category = 0, text = 0, l_text = 0, address = 0, l_address = 0;
    std::string place;  // same_number | other_number | other_road | same_landmark | other_landmark | mixed | "" (unparsed)
    double score = 0;
    JsonObjectText to_object() const;  // for the event detail
    std::string summary() const;  // "38 m, 11 min, same category, text 0.71, address 0.60"
};

Evidence compare(const Profile& a, const Profile& b, const Settings& s);
// The first part of compare(): distance_m, sigma_m and minutes, from the profiles' position,
// precision, offset and time alone (no text). Enough to rule a candidate out.
void measure_gap(const Profile& a, const Profile& b, Evidence& e);
// The place term alone (nullopt when either address did not parse), and its name.
std::optional<double> place_llr(const Place& a, const Place& b, const Settings& s, std::string* name = nullptr);
bool compatible(const std::string& fam_a, const std::string& fam_b, const Settings& s);

struct Decision {
    std::optional<std::string> join;     // the case to join; nullopt: open a new case
    std::optional<std::pair<std::string, std::string>> related;  // {system, record_id} to link `related`
    JsonObjectText detail;               // the evidence, for the case's history (the event's detail)
    std::string summary;                 // one line: "joined C…: 38 m, 11 min, same category, text 0.71"
    int candidates = 0;                  // indexed records examined
};

class Correlator {
public:
    explicit Correlator(Settings s) : s_(std::move(s)) {}
    const Settings& settings() const { return s_; }

    // Decides for a record the hub has not seen before. `record` is the valid casehub.record/1.
    Result<Decision> decide(Store& store, const nlohmann::json& record, const Profile& p) const;

private:
    Settings s_;
};

}  // namespace casehub::host::correlate
