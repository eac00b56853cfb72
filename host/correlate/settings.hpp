// The correlator's thresholds and weights: [correlation] in config/casehub.toml (which
// documents each key and its default) and compatible_families from categories.json.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace casehub::host::correlate {

// [correlation] of the hub configuration (config/casehub.toml documents each key).
// The score is a log-likelihood ratio ("how much likelier is this evidence if the two reports
// are one incident"), summed over independent kinds of evidence, plus the prior odds: a naive
// Bayes model whose default values were estimated on the simulated district (docs/correlation.md).
struct Settings {
    bool enabled = true;
    double threshold = 1.0;             // join when the best log-odds reach this (1.0 ≈ p 0.73)
    double max_distance_m = 1500;       // no candidate beyond this, whatever the precisions
    double min_radius_m = 300;          // search radius floor; else 3 × the record's precision
    double max_gap_hours = 48;          // no candidate reported further apart in time
    double closed_grace_hours = 72;     // case-model §3.2: never join a case ended longer ago
    int max_candidates = 400;           // index hits examined per record (densest places)
    int max_case_records = 50;          // a case this big takes no more records automatically
    double prior = -4.4;                // log-odds that a candidate pair is one incident
    // distance d against σ = √(p₁² + p₂²) (the two precision_m): near − slope·(d/σ)², or far
    // beyond 4σ
    double distance_near = 3.1, distance_slope = 0.35, distance_far = -2.7;
    // time between reports (a report time of exactly 00:00 is a date: the whole day counts):
    // near up to full_time_minutes, then linear to at_3h, to at_24h, and far beyond a day
    double full_time_minutes = 60;
    double time_near = 3.25, time_at_3h = 0.35, time_at_24h = -0.8, time_far = -7.0;
    double same_category = 1.45, same_family = -7.0, compatible_family = -8.0;
    double text_high = 1.5;             // added in full at text similarity 1.0, from 0 at 0.6
    double address_none = -1.65, address_full = 5.05;  // none + (full − none)·address²
    std::vector<std::string> stop_phrases;  // removed before the text comparison
    std::vector<std::pair<std::string, std::string>> compatible_families;  // from categories.json
};

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
