// The correlator's thresholds and weights: [correlation] in config/casehub.toml (which
// documents each key and its default) and compatible_families from categories.json.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace casehub::host::correlate {

// [correlation] of the hub configuration (config/casehub.toml documents each key).
// The score is a log-likelihood ratio ("how much likelier is this evidence if the two reports
// are one incident"), summed over independent kinds of evidence, plus the prior odds: a naive
// Bayes model whose default values were estimated on the simulated district (docs/correlation.md).
struct Settings {
    bool enabled = true;
    double threshold = 0.5;           // join when the best log-odds reach this
    double max_distance_m = 1500;       // no candidate beyond this, whatever the precisions
    double min_radius_m = 300;          // search radius floor; else 3 × the record's precision
    double max_gap_hours = 48;          // no candidate reported further apart in time
    double closed_grace_hours = 72;     // case-model §3.2: never join a case ended longer ago
    int max_candidates = 400;           // index hits examined per record (densest places)
    int max_case_records = 50;          // a case this big takes no more records automatically
    double prior = -4.7;                // log-odds that a candidate pair is one incident
    // distance d against σ = √(p₁² + p₂² + o₁² + o₂²) (the two precision_m and report offsets):
    // near − slope·(d/σ)², or far beyond 4σ
    double distance_near = 2.705, distance_slope = 0.55, distance_far = -2.6;
    // Who reports matters: an inspector or a grid worker stands at the incident, a caller gives
    // where they are or the nearest door. Per source system, metres added (in quadrature) to its
    // records' precision_m in σ: the spread between a report's location and the incident's.
    std::vector<std::pair<std::string, double>> report_offset_m = {
        {"hotline12345", 80.0}, {"police", 80.0}, {"enforcement", 100.0}};
    // time between reports: near up to full_time_minutes, then linear to at_3h, to at_24h, and
    // far beyond a day. A report time of exactly 00:00 is a date (the whole day counts): a
    // report within that day scores time_same_day.
    double full_time_minutes = 45;
    double time_near = 3.237, time_at_3h = -6.0, time_at_24h = -6.5, time_far = -7.0, time_same_day = 2.493;
    double same_category = 1.585, same_family = -10.0, compatible_family = -11.0;
    // One of the two is other.unclassified (the source's code did not map): nothing is known.
    double unknown_category = -5.0;
    // Two records of one system that do not name each other: each system de-duplicates its own
    // reports (12345 merges calls, 网格通 marks duplicateOf, 数字城管 voids repeats), so it
    // judged them different. Applied when the case holds any record of the new one's system.
    double same_system = -6.7;
    double text_high = 0.875;            // added in full at text similarity 1.0, from 0 at 0.6
    // Parsed places (correlate/place.hpp): same road and number; same road, other number (next
    // door); other roads; same landmark; other landmarks; a road against a landmark.
    double place_same_number = 6.5, place_other_number = -4.4, place_other_road = -6.5;
    double place_same_landmark = 1.6, place_other_landmark = -2.0, place_mixed = -0.325;
    // Unparsed addresses: bigram similarity a: none + (full − none)·a²
    double address_none = -1.65, address_full = 5.05;
    std::vector<std::string> stop_phrases;  // removed before the text comparison
    std::vector<std::pair<std::string, std::string>> compatible_families;  // from categories.json
};

// The report offset of a system's records (0 when not configured).
inline double report_offset(const Settings& s, std::string_view system) {
    for (const auto& [sys, m] : s.report_offset_m)
        if (sys == system) return m;
    return 0.0;
}

// The defaults above plus the default stop phrases: set phrases of complaint texts that say
// nothing about the incident.
inline Settings default_settings() {
    Settings s;
    s.stop_phrases = {"请尽快处理", "希望相关部门尽快解决", "希望尽快解决", "希望尽快处理", "麻烦派人来看一下",
                      "请相关部门", "尽快处理", "谢谢", "市民来电反映", "来电人反映", "来电反映", "市民反映",
                      "群众反映", "现场核实", "已经反映过一次了", "还是没人管", "要求处理", "诉求"};
    return s;
}


}  // namespace casehub::host::correlate
